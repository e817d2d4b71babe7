"""The hf backend on tiny real architectures: every task x form, both modes, images and video."""

from __future__ import annotations

import math

import pytest

from tests.conftest import ARCHS
from tests.judges.conftest import item, lessons, swapped
from unireward.judges.base import logprob_refusal, numeral_options
from unireward.judges.hf import HFJudge
from unireward.tasks import Form, Task
from unireward.templates import parse_answer


TASK_FORMS = [(t.value, f.value) for t in Task for f in Form]
_cache: dict = {}


def judge(path: str, **kw) -> HFJudge:
    key = (path, tuple(sorted(kw.items())))
    if key not in _cache:
        _cache[key] = HFJudge(path, **kw)
    return _cache[key]


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("task,form", TASK_FORMS)
def test_logprob_every_task_and_form(tiny_models, arch, task, form):
    j = judge(tiny_models[arch], mode="logprob", num_frames=4, family="v1")  # qwen3_vl defaults to 2.0
    x = item(task, form)
    t = j.template(task, form)
    if t.logprob_prefixes is None:  # the answer writes other lines first: refused per item, with the reason
        r = (j.compare_batch if form == "pair" else j.score_batch)([x])[0]
        assert r.error == logprob_refusal(t) and "'generate'" in r.error and "mode='reason-logprob'" in r.error
        return
    if form == "pair":
        v = j.compare_batch([x])[0]
        assert v.error is None, v.error
        assert set(v.probs) == {"A", "B", "tie"} and math.isclose(sum(v.probs.values()), 1.0, abs_tol=1e-6)
        assert v.winner == max(v.probs, key=v.probs.get)
        assert v.prob_a == pytest.approx(v.probs["A"] + v.probs["tie"] / 2)
        if task.endswith("understanding"):
            assert v.probs["tie"] == 0.0  # the understanding prompts offer no tie
    else:
        s = j.score_batch([x])[0]
        lo, hi = s.scale
        assert s.error is None and lo <= s.value <= hi and 0 <= s.normalized <= 1
        assert math.isclose(sum(s.probs.values()), 1.0, abs_tol=1e-6)
        assert s.value == pytest.approx(sum(float(k) * p for k, p in s.probs.items()))
        assert set(s.probs) == set(numeral_options(lo, hi, t.decimals))


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("task,form", TASK_FORMS)
def test_generate_every_task_and_form(tiny_models, arch, task, form):
    j = judge(tiny_models[arch], mode="generate", max_new_tokens=3, num_frames=4, family="v1")
    x = item(task, form)
    r = (j.compare_batch if form == "pair" else j.score_batch)([x])[0]
    assert r.text  # the random model's free text came back decoded ...
    expected = parse_answer(j.template(task, form), r.text)
    assert r == expected  # ... and went through the template's parser (garbage: no verdict, with the reason)
    assert (r.winner if form == "pair" else r.value) is None and r.error


def _brute_force(j: HFJudge, x: dict, form: Form, labels: list[str] | None = None) -> dict[str, float]:
    """Unnormalised option log-scores by teacher-forcing each option separately (the definition in `_Trie`)."""
    import torch

    from unireward.judges.base import Choices

    t = j.template(x["task"], form)
    req = j._request({**x, "task": Task.parse(x["task"])}, form, False)
    if form == Form.PAIR:
        choices = Choices(t.logprob_prefixes[""], dict(t.phrases))
    else:
        choices = Choices(t.logprob_prefixes[""], numeral_options(*t.scale, t.decimals), True)
    trie = j._build_trie(choices)
    scores = {}
    for label, path in trie.paths.items():
        if labels is not None and label not in labels:
            continue
        text = j.tokenizer.decode(path)
        inputs = j.encode([req], [text])
        with torch.no_grad():
            logp = torch.log_softmax(j.model(**inputs).logits[0].float(), -1)
        n = inputs["input_ids"].shape[1]
        total = sum(float(logp[n - len(path) - 1 + k, tok]) for k, tok in enumerate(path))
        if label in trie.ends:  # the number stops here: no digit (nor "." where a decimal could follow)
            total += math.log(1 - float(logp[n - 1, j._continuation_ids(trie.ends[label])].exp().sum()))
        scores[label] = total
    return scores


@pytest.mark.parametrize("task,form", [("image_generation", "pair"), ("image_generation", "point"),
                                       ("image_understanding", "point"), ("video_understanding", "pair"),
                                       ("video_understanding", "point")])
def test_one_pass_logprob_equals_teacher_forcing_each_option(tiny_qwen, task, form):
    j = judge(tiny_qwen, mode="logprob", num_frames=4)
    x = item(task, form, seed=3)
    # 0-100 has 101 options: check a subset that covers every kind of path ("0", "1" vs "10" vs "100", "55");
    # 1-5 with one decimal has 46: integers that may go on with ".", decimals, the top of the scale
    labels = {"image_understanding": ["0", "1", "5", "10", "55", "99", "100"],
              "image_generation": ["1", "1.0", "3", "3.7", "4.9", "5", "5.0"]}.get(task) if form == "point" else None
    expected = _brute_force(j, x, Form(form), labels)
    got = (j.compare_batch if form == "pair" else j.score_batch)([x])[0].probs
    ref = next(iter(expected))
    for label, logp in expected.items():  # ratios of probabilities: the normalisation cancels
        assert math.log(got[label]) - math.log(got[ref]) == pytest.approx(logp - expected[ref], abs=1e-3), label
    assert math.isclose(sum(got.values()), 1.0, abs_tol=1e-6)


def test_batches_are_left_padded_correctly(tiny_qwen):
    j = judge(tiny_qwen, mode="logprob", num_frames=4, batch_size=8)
    items = [item("image_generation", "pair", seed=s, prompt="a fox " * (s + 1)) for s in range(4)]
    items.append(item("video_understanding", "pair", seed=9))
    batched = j.compare_batch(items)
    single = [j.compare_batch([x])[0] for x in items]
    for b, s in zip(batched, single):
        assert b.probs == pytest.approx(s.probs, abs=1e-5)
    points = [item("image_understanding", "point", seed=s) for s in range(3)]
    assert [s.value for s in j.score_batch(points)] == pytest.approx([j.score_batch([p])[0].value for p in points])


@pytest.mark.parametrize("arch", ARCHS)
def test_shared_prompt_pass_equals_one_sequence_per_row(tiny_models, arch, monkeypatch):
    """Multi-row answers (0-100: 9 rows; 1-5 with two decimals: 41) read after ONE prompt pass whose KV cache is
    repeated per row give the distributions of running each row as its own sequence, in a left-padded batch
    of different prompt lengths, with images and videos (frames, and native video where the model takes it).
    Three prompts x 41 rows go in two passes (`ROWS_PER_PASS` 64), so the grouping is covered too.
    The tolerance is tight on purpose: answer tokens placed one position off move these log-probabilities
    by ~1e-4 on the tiny Qwen2.5-VL."""
    from dataclasses import replace

    from unireward.judges.base import Choices

    kinds = ("frames", "video") if arch != "llava_onevision" else ("frames",)
    for video_as in kinds:
        j = judge(tiny_models[arch], mode="logprob", num_frames=4, batch_size=8, video_as=video_as, family="v1")
        items = [{**item("image_understanding", "point", seed=0), "prompt": "What is shown here, in words?"},
                 item("video_understanding", "point", seed=9), item("image_understanding", "point", seed=4)]
        reqs = [j._request({**x, "task": Task(x["task"])}, Form.POINT, False) for x in items]
        t = j.template("image_understanding", "point")
        grids = [(t, 9), (replace(j.template("image_generation", "point"), decimals=2), 41)]
        for tpl, n_rows in grids:
            choices = Choices(tpl.logprob_prefixes[""], numeral_options(*tpl.scale, tpl.decimals), True)
            assert len(j._build_trie(choices).rows) == n_rows
            shared = j._choice_probs(reqs, choices)
            monkeypatch.setattr(j, "share_prompt", False)
            joined = j._choice_probs(reqs, choices)
            monkeypatch.setattr(j, "share_prompt", True)
            for a, b in zip(shared, joined):
                assert a.keys() == b.keys()
                worst = max(abs(math.log(a[k]) - math.log(b[k])) for k in a)
                assert worst < 1e-5, (arch, video_as, n_rows, worst)


def test_a_bad_item_does_not_sink_the_batch(tiny_qwen, media_dir):
    j = judge(tiny_qwen, mode="logprob", num_frames=4)
    good = item("image_generation", "pair")
    items = [good, {**good, "a": str(media_dir / "missing.png")}, {**good, "b": str(media_dir / "truncated.png")},
             {"task": "video_generation", "prompt": "x", "a": str(media_dir / "empty.mp4"), "b": good["a"]},
             {**good, "prompt": ""}, good]
    out = j.compare_batch(items)
    assert out[0].ok and out[-1].ok and out[0].probs == pytest.approx(out[-1].probs)
    assert "missing.png: file not found" in out[1].error and out[1].winner is None
    assert "truncated.png: corrupt or truncated" in out[2].error
    assert "empty.mp4: corrupt or unreadable video" in out[3].error
    assert "missing prompt" in out[4].error


def test_understanding_needs_media_and_text_candidates(tiny_qwen):
    j = judge(tiny_qwen, mode="logprob", num_frames=4)
    x = item("image_understanding", "pair")
    assert "needs the shared image" in j.compare_batch([{**x, "media": None}])[0].error
    assert "answers are texts, got Image" in j.compare_batch([{**x, "a": x["media"]}])[0].error


def test_prompt_layout_media_first(tiny_models):
    from unireward.judges.base import Request

    q = judge(tiny_models["qwen2_5_vl"], num_frames=4)
    req = q._request({**item("video_generation", "pair"), "task": Task.VIDEO_GENERATION}, Form.PAIR, False)
    assert len(req.images) == 8 and not req.videos  # 4 frames of A, then 4 of B, as images
    text = q.prompt_text(req)
    assert text.count("<|image_pad|>") == 8 and text.index("<|vision_end|>") < text.index("Video 1")
    assert text.startswith("<|im_start|>system\nYou are a helpful assistant.")
    llava = judge(tiny_models["llava_onevision"])
    t = llava.prompt_text(Request(text="Q", images=[None, None]))
    assert t == "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<image>\n<image>\nQ" \
               "<|im_end|>\n<|im_start|>assistant\n"


def test_native_video_input(tiny_qwen):
    j = judge(tiny_qwen, mode="logprob", num_frames=4, video_as="video")
    x = item("video_understanding", "pair")
    req = j._request({**x, "task": Task.VIDEO_UNDERSTANDING}, Form.PAIR, False)
    assert len(req.videos) == 1 and not req.images
    assert "<|video_pad|>" in j.prompt_text(req)
    v = j.compare_batch([x])[0]
    assert v.ok and math.isclose(sum(v.probs.values()), 1.0, abs_tol=1e-6)


def test_bfloat16_and_family_override(tiny_qwen):
    j = judge(tiny_qwen, mode="logprob", dtype="bfloat16", family="v1-llava")
    assert j.model.dtype.is_floating_point and str(j.model.dtype) == "torch.bfloat16"
    v = j.compare_batch([item("image_generation", "pair")])[0]
    assert v.ok and "Image 1 is better than Image 2" in j.template("image_generation", "pair").text
    with pytest.raises(ValueError, match="valid: auto, float32, bfloat16, float16"):
        HFJudge(tiny_qwen, dtype="int4")


def test_logprob_refuses_formats_without_a_one_step_answer(tiny_qwen):
    j = judge(tiny_qwen, mode="logprob", family="think")
    think_pair, point = item("image_generation", "pair"), item("image_generation", "point")
    out = j.compare_batch([think_pair, item("image_generation", "pair", seed=5)])
    for v in out:  # every item says why, naming the template, what its answer writes first, and what to use
        assert v.winner is None and v.probs is None
        assert v.error.startswith("logprob mode cannot read the think/image_generation/pair template")
        assert "<think>" in v.error and "mode='reason-logprob'" in v.error
    assert j.score_batch([point])[0].ok  # the think family's pointwise template reads "Final Score:" directly
    with pytest.raises(ValueError, match=r"think/image_generation/pair template.*mode='reason-logprob'"):
        j.check_mode("image_generation", "pair")  # up front, before a long run
    j.check_mode("image_generation", "point")  # readable: no error
    judge(tiny_qwen, mode="generate", family="think").check_mode("image_generation", "pair")  # generate reads all


def test_refusal_names_what_the_answer_writes_first(tiny_qwen):
    from dataclasses import replace

    j = judge(tiny_qwen, mode="logprob", num_frames=4)
    t = replace(j.template("video_generation", "point"), logprob_prefixes=None)  # VideoFeedback: 5 dims first
    message = logprob_refusal(t)
    assert f"{t.family}/video_generation/point template" in message
    assert "the dimension lines (visual quality, temporal consistency" in message and "before the score" in message
    x = item("video_generation", "point")
    req = j._request({**x, "task": Task.VIDEO_GENERATION}, Form.POINT, False)
    assert [s.error for s in j._run_chunk(t, [req, req])] == [message, message]
    pair_scores = replace(j.template("image_generation", "pair"), parser="pair_scores", logprob_prefixes=None)
    assert "relative scores for each dimension" in logprob_refusal(pair_scores)
    assert logprob_refusal(j.template("image_generation", "pair")) is None


def test_template_frame_count_is_honoured(tiny_qwen):
    from dataclasses import replace

    from tests.conftest import random_image
    from unireward.judges.base import Request

    video = [random_image(k, 32) for k in range(40)]
    for video_as in ("frames", "video"):
        j = judge(tiny_qwen, mode="logprob", num_frames=4, video_as=video_as)
        t = replace(j.template("video_generation", "point"), num_frames=16)  # as the 2.0 APS video prompt
        fixed, default = Request(text=""), Request(text="")
        j._add_media(fixed, Task.VIDEO_GENERATION, video, t.num_frames)
        j._add_media(default, Task.VIDEO_GENERATION, video, replace(t, num_frames=None).num_frames)
        frames = (lambda r: r.videos[0]) if video_as == "video" else (lambda r: r.images)
        assert len(frames(fixed)) == 16 and len(frames(default)) == 4  # None: the judge's num_frames
        assert frames(fixed)[0].size == video[0].size
    # end to end: the 2.0 APS video pointwise template fixes 16 frames, whatever the judge's default
    aps = judge(tiny_qwen, family="2.0", num_frames=4)
    assert aps.template("video_generation", "point").num_frames == 16
    x = {"task": Task.VIDEO_GENERATION, "prompt": "a fox", "candidate": video}
    assert len(aps._request(x, Form.POINT, False).images) == 16
    pair = {"task": Task.VIDEO_GENERATION, "prompt": "a fox", "a": video, "b": video}
    assert len(aps._request(pair, Form.PAIR, False).images) == 2 * 4  # its pair template keeps the default


# ---------------------------------------------------------------- a judge whose answers are known
def test_taught_judge_generate(taught_judge_dir):
    j = judge(taught_judge_dir, mode="generate", max_new_tokens=24)
    (pair, _, a1), (pair_rev, _, _), (point, _, a2), (vu, _, a3), *_ = lessons()
    v = j.compare_batch([pair])[0]
    assert v.text == a1 and v.winner == "B"
    s = j.score_batch([point])[0]
    assert s.text == a2 and s.value == 4 and s.normalized == pytest.approx(0.75)
    assert j.compare_batch([vu])[0].winner == "A"


def test_taught_judge_logprob(taught_judge_dir):
    j = judge(taught_judge_dir, mode="logprob")
    (pair, *_), _, (point, *_), (vu, *_), *_ = lessons()
    v = j.compare_batch([pair])[0]
    assert v.winner == "B" and v.probs["B"] > 0.9
    assert j.score_batch([point])[0].value == pytest.approx(4.0, abs=0.3)
    assert j.compare_batch([vu])[0].probs["A"] > 0.9


def test_swap_cancels_a_pure_position_bias(taught_judge_dir):
    # The taught judge says "Image 2 is better." whatever the order: a pure position bias.
    pair = lessons()[0][0]
    gen = judge(taught_judge_dir, mode="generate", max_new_tokens=24, swap=True)
    v = gen.compare_batch([pair])[0]
    assert v.swapped.winner == "A"  # "Image 2" of the reversed order is the original A
    assert v.winner == "tie"
    lp = judge(taught_judge_dir, mode="logprob", swap=True).compare_batch([pair, swapped(pair)])
    for verdict in lp:
        assert verdict.prob_a == pytest.approx(0.5, abs=0.05)
        assert verdict.probs["A"] == pytest.approx(verdict.probs["B"], abs=0.05)
    no_swap = judge(taught_judge_dir, mode="logprob").compare_batch([pair])[0]
    assert no_swap.prob_a < 0.1
