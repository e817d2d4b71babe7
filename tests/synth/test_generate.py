"""The generators: deterministic for a seed, disjoint splits, labels that follow from the symbolic truth,
and a difficulty knob that does what it says."""

import numpy as np
import pytest

from unireward.synth import make_sample, split_of
from unireward.synth.generate import image_slots
from unireward.synth.grammar import parse_caption
from unireward.synth.semantics import image_elements, image_generation_score, video_score, winner
from unireward.synth.world import clip_facts
from unireward.tasks import Form, Task


TASK_FORMS = [(t, f) for t in Task for f in Form]


@pytest.mark.parametrize("task, form", TASK_FORMS)
def test_same_seed_same_sample_other_seed_other_sample(task, form):
    a = [make_sample(task, form, "train", i, seed=3) for i in range(15)]
    b = [make_sample(task, form, "train", i, seed=3) for i in range(15)]
    c = [make_sample(task, form, "train", i, seed=4) for i in range(15)]
    assert a == b
    assert sum(x != y for x, y in zip(a, c)) >= 12


@pytest.mark.parametrize("task", list(Task))
def test_splits_are_disjoint_by_key(task):
    keys = {}
    for split in ("train", "val", "test"):
        samples = [make_sample(task, f, split, i) for f in Form for i in range(100)]
        keys[split] = {s.key for s in samples}
        assert all(split_of(k) == split for k in keys[split])
        if task.is_generation:
            assert {s.prompt for s in samples} == keys[split]  # the key is the caption
    assert not keys["train"] & keys["test"] and not keys["train"] & keys["val"] and not keys["val"] & keys["test"]
    assert len(keys["test"]) >= 20  # enough distinct held-out keys to measure generalisation


def test_split_of_is_stable_and_near_80_10_10():
    caps = [f"caption {i}" for i in range(5000)]
    shares = {s: np.mean([split_of(c) == s for c in caps]) for s in ("train", "val", "test")}
    assert abs(shares["train"] - 0.8) < 0.03 and abs(shares["test"] - 0.1) < 0.02
    assert split_of("a red circle") == split_of("a red circle")


@pytest.mark.parametrize("task", [Task.IMAGE_GENERATION, Task.VIDEO_GENERATION])
def test_generation_labels_follow_from_the_truth(task):
    for i in range(60):
        cap = None
        pair = make_sample(task, Form.PAIR, "train", i)
        cap = parse_caption(pair.prompt)
        if task == Task.IMAGE_GENERATION:
            scores = [image_generation_score(image_elements(cap, s)) for s in pair.candidates]
        else:
            scores = [video_score(cap, clip_facts(c)).score for c in pair.candidates]
        assert scores == pair.meta["scores"]
        assert pair.label == {"winner": winner(*scores)}
        point = make_sample(task, Form.POINT, "train", i)
        cap = parse_caption(point.prompt)
        if task == Task.IMAGE_GENERATION:
            el = image_elements(cap, point.candidates[0])
            assert point.label == {"score": round(1 + 4 * sum(el.values()) / len(el), 2), "scale": [1, 5],
                                   "elements": el}
        else:
            assert point.label == video_score(cap, clip_facts(point.candidates[0])).label()


@pytest.mark.parametrize("task", list(Task))
def test_pair_winners_are_balanced_and_ties_only_for_generation(task):
    winners = [make_sample(task, Form.PAIR, "train", i).label["winner"] for i in range(200)]
    assert 60 <= winners.count("A") <= 120 and 60 <= winners.count("B") <= 120
    if task.is_generation:
        assert 5 <= winners.count("tie") <= 40
    else:
        assert winners.count("tie") == 0


def test_tie_rate_knob():
    for tie_rate, expect in ((0.0, 0), (1.0, 40)):
        winners = [make_sample(Task.IMAGE_GENERATION, Form.PAIR, "val", i, tie_rate=tie_rate).label["winner"]
                   for i in range(40)]
        assert winners.count("tie") == expect


def test_difficulty_controls_wrongness_and_clutter():
    def stats(d):
        gaps, objs = [], []
        for i in range(120):
            s = make_sample(Task.IMAGE_GENERATION, Form.PAIR, "train", i, difficulty=d, tie_rate=0.0)
            better, worse = sorted(s.meta["broken"], key=len)
            gaps.append(len(worse) - len(better))
            objs.append(np.mean([len(c.objects) for c in s.candidates]))
        return gaps, np.mean(objs)

    hard_gaps, hard_objs = stats(1.0)
    easy_gaps, easy_objs = stats(0.0)
    assert set(hard_gaps) == {1}  # at difficulty 1 a wrong image gets exactly one thing wrong
    assert np.mean(easy_gaps) > 1.5
    assert hard_objs > easy_objs + 1


def test_near_miss_wrong_answers_at_high_difficulty():
    def mean_wrong_score(d):
        vals = [min(make_sample(Task.IMAGE_UNDERSTANDING, Form.PAIR, "train", i, difficulty=d).meta["scores"])
                for i in range(200)]
        return np.mean(vals)

    assert mean_wrong_score(1.0) > mean_wrong_score(0.0) + 5


def test_every_slot_kind_can_be_corrupted():
    seen = set()
    for i in range(200):
        s = make_sample(Task.IMAGE_GENERATION, Form.POINT, "train", i)
        seen |= set(s.meta["broken"])
        assert set(s.meta["broken"]) <= set(image_slots(parse_caption(s.prompt)))
    assert seen == {"size", "color", "shape", "position", "count", "a", "b", "relation"}


UNDERSTANDING = [Task.IMAGE_UNDERSTANDING, Task.VIDEO_UNDERSTANDING]


@pytest.mark.parametrize("task", UNDERSTANDING)
@pytest.mark.parametrize("form", list(Form))
def test_hard_negatives_off_leaves_samples_unchanged(task, form):
    for i in range(30):
        a, b = make_sample(task, form, "train", i), make_sample(task, form, "train", i, hard_negatives=0.0)
        assert (a.prompt, a.candidates, a.label, a.meta) == (b.prompt, b.candidates, b.label, b.meta)


@pytest.mark.parametrize("task", UNDERSTANDING)
def test_hard_negatives_are_confusable_or_slipped_and_graded_by_the_oracle(task):
    from unireward.synth.generate import ANSWERS, confusable
    from unireward.synth.semantics import grade, understanding_score

    n_confusable = slipped = 0
    for i in range(200):
        s = make_sample(task, Form.POINT, "train", i, hard_negatives=1.0)
        answer, kind, truth = s.candidates[0], s.meta["kind"], s.meta["truth"]
        # the label is the oracle's grade of the answer given, whatever made it
        assert s.label["score"] == understanding_score(task.modality, grade(kind, truth, answer))
        if grade(kind, truth, answer) == 1.0:
            continue
        if answer not in ANSWERS[kind]:
            slipped += 1
        elif confusable(answer, s.media[0]):
            n_confusable += 1
    # at hard_negatives=1 every wrong answer is drawn hard; a confusable draw on a one-object scene finds none
    assert slipped > 30 and n_confusable > 10


def test_hard_negatives_keep_the_share_of_right_answers():
    def right(h):
        return np.mean([make_sample(Task.IMAGE_UNDERSTANDING, Form.POINT, "train", i, hard_negatives=h)
                        .label["score"] == 100 for i in range(300)])

    assert abs(right(1.0) - right(0.0)) < 0.08


@pytest.mark.parametrize("kwargs, match", [
    (dict(difficulty=1.5), "difficulty"), (dict(hard_negatives=-0.1), "hard_negatives"),
    (dict(split="dev"), "unknown split"), (dict(n_frames=16), "n_frames"),
    (dict(task="image_gen"), "unknown task"),
])
def test_bad_arguments_are_refused(kwargs, match):
    args = dict(task=Task.IMAGE_GENERATION, form=Form.PAIR, split="train", index=0) | kwargs
    with pytest.raises(ValueError, match=match):
        make_sample(**args)
