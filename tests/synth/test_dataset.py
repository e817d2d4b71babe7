"""build_dataset: valid unified records on disk, byte-identical for a seed, labels that the oracle
confirms from the written pixels, and held-out captions."""

import hashlib
import json
from pathlib import Path

import pytest

from unireward.records import read_records
from unireward.synth import Oracle, build_dataset
from unireward.tasks import Form, Task


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    counts = build_dataset(out, {"train": 10, "test": 10}, seed=7, splits=("train", "test"))
    return out, counts


def test_layout_counts_and_valid_records(built):
    out, counts = built
    assert counts == {s: {f"{t.value}/{f.value}": 10 for t in Task for f in Form} for s in ("train", "test")}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 7 and manifest["image_size"] == 84
    for split in ("train", "test"):
        recs = list(read_records(out / split / "records.jsonl"))  # validates every line
        assert len(recs) == 80 and len({r.id for r in recs}) == 80
        for r in recs:
            items = r.media + [m for c in r.candidates for m in c.get("media", [])]
            for item in items:
                path = next(iter(item.values()))
                assert not Path(path).is_absolute() and (out / split / path).is_file()
            if r.task.modality == "video":
                assert all("video" in m for m in items)


def test_labels_agree_with_the_oracle_on_written_pixels(built):
    out, _ = built
    oracle = Oracle()
    wrong = []
    for split in ("train", "test"):
        for r in read_records(out / split / "records.jsonl"):
            got = oracle.label(r, out / split)
            if got != r.label:
                wrong.append((r.id, r.prompt, r.label, got))
    assert not wrong, wrong[:3]


def test_test_captions_never_appear_in_train(built):
    out, _ = built
    prompts = {s: {r.prompt for r in read_records(out / s / "records.jsonl") if r.task.is_generation}
               for s in ("train", "test")}
    keys = {s: {r.meta["key"] for r in read_records(out / s / "records.jsonl")} for s in ("train", "test")}
    assert prompts["test"] and not prompts["train"] & prompts["test"]
    assert not keys["train"] & keys["test"]


def test_same_seed_gives_identical_bytes_whatever_the_workers(tmp_path):
    kw = dict(n_per_task_form=2, seed=11, splits=("val",), image_size=64)
    build_dataset(tmp_path / "a", **kw)
    build_dataset(tmp_path / "b", **kw, workers=2)
    build_dataset(tmp_path / "c", **(kw | {"seed": 12}))
    a, b, c = digest(tmp_path / "a"), digest(tmp_path / "b"), digest(tmp_path / "c")
    assert len(a) > 20 and a == b
    assert a["val/records.jsonl"] != c["val/records.jsonl"]


def test_frames_format_and_small_images(tmp_path):
    build_dataset(tmp_path, 3, seed=1, splits=("val",), image_size=64, video_format="frames",
                  tasks=[Task.VIDEO_GENERATION, Task.VIDEO_UNDERSTANDING])
    oracle = Oracle()
    recs = list(read_records(tmp_path / "val" / "records.jsonl"))
    assert len(recs) == 12
    for r in recs:
        items = r.media + [m for c in r.candidates for m in c.get("media", [])]
        assert all(len(m["frames"]) == 8 for m in items)
        assert oracle.label(r, tmp_path / "val") == r.label


def test_rebuild_replaces_media(tmp_path):
    build_dataset(tmp_path, 4, splits=("val",), tasks=[Task.IMAGE_GENERATION])
    build_dataset(tmp_path, 1, splits=("val",), tasks=[Task.IMAGE_GENERATION])
    assert len(list((tmp_path / "val" / "media").rglob("*.png"))) == 3  # pair: 2 images, point: 1


@pytest.mark.parametrize("kwargs, match", [
    (dict(splits=("dev",)), "unknown split"), (dict(video_format="gif"), "video_format"),
    (dict(n_per_task_form={"tset": 3}), "not in splits"), (dict(difficulty=-0.1), "difficulty"),
])
def test_bad_arguments_are_refused_before_writing(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_dataset(tmp_path / "out", **({"n_per_task_form": 1} | kwargs))
    assert not (tmp_path / "out").exists()


def test_rationales_describe_the_written_pixels(tmp_path):
    """Describe-then-decide rationales: what each candidate shows, as the oracle reads it from pixels."""
    from unireward.synth.dataset import describe
    from unireward.synth.world import Clip

    build_dataset(tmp_path, 6, seed=3, splits=("train",), rationale=True, difficulty=0.3)
    oracle = Oracle()
    recs = list(read_records(tmp_path / "train" / "records.jsonl"))
    assert len(recs) == 48
    for r in recs:
        lines = r.rationale.split("\n")
        kind = r.task.modality
        media = [m for c in r.candidates for m in c.get("media", [])] if r.task.is_generation else r.media
        seen = []
        for m in media:
            path = tmp_path / "train" / next(iter(m.values()))
            x = oracle.parse_image(path) if kind == "image" else oracle.parse_video(path)
            assert isinstance(x, Clip) == (kind == "video")
            seen.append(describe(x))
        if r.task.is_generation and r.form == Form.PAIR:
            assert lines == [f"{kind.capitalize()} {i + 1} shows: {d}." for i, d in enumerate(seen)], r.id
        else:
            assert lines[0] == f"The {kind} shows: {seen[0]}.", r.id
        if not r.task.is_generation:
            assert lines[1] == f"The correct answer is: {r.meta['truth']}.", r.id
    assert all(r.rationale is None for r in read_records(_plain(tmp_path)))


def _plain(tmp_path: Path) -> Path:
    build_dataset(tmp_path / "plain", 2, seed=3, splits=("train",))
    return tmp_path / "plain" / "train" / "records.jsonl"


def test_check_rationales_grade_each_candidate_before_the_decision(tmp_path):
    """rationale="checks": one line per candidate whose score is the exact label's, so the verdict is the
    larger of two adjacent numbers; generation pairs list each candidate's caption elements right under its
    description."""
    import re

    build_dataset(tmp_path, 8, seed=5, splits=("train",), rationale="checks", difficulty=0.3, video_format="frames")
    for r in read_records(tmp_path / "train" / "records.jsonl"):
        checks = [line for line in r.rationale.split("\n") if "which scores" in line]
        scored = [float(re.search(r"which scores ([\d.]+)\.$", line).group(1)) for line in checks]
        if r.form == Form.POINT:
            assert scored == ([] if r.task.is_generation else [r.label["score"]]), r.id
            continue
        assert scored == pytest.approx(r.meta["scores"], abs=0.005), r.id
        want = "tie" if scored[0] == scored[1] else "A" if scored[0] > scored[1] else "B"
        assert r.label["winner"] == want, r.id
        if r.task.is_generation:
            lines = r.rationale.split("\n")
            assert [line.split(" ")[1].rstrip(":") for line in lines] == ["1", "1", "2", "2"], r.id
            for line, el in zip(checks, r.meta["elements"]):
                assert all(f"{k}: {v}" in line for k, v in el.items()), r.id
        else:
            assert [line.split(" says: ")[1].rsplit(", which", 1)[0] for line in checks] == \
                [c["text"] for c in r.candidates], r.id
    with pytest.raises(ValueError, match="none, describe, checks, lookup"):
        build_dataset(tmp_path / "bad", 1, splits=("train",), rationale="explain")


def test_existence_checks_test_each_object_read_from_the_pixels(tmp_path):
    """An existence question's checks rationale checks every object of the description on its own line against
    the asked colour and shape (a local check, like a generation check), then answers; the objects are what
    the oracle reads off the rendered image, and the answer is "yes" iff one line has both."""
    from unireward.synth.grammar import parse_question

    build_dataset(tmp_path, 40, seed=2, splits=("train",), rationale="checks", tasks=["image_understanding"])
    oracle, seen = Oracle(), {"yes": 0, "no": 0}
    for r in read_records(tmp_path / "train" / "records.jsonl"):
        lines = r.rationale.split("\n")
        if r.meta["kind"] != "exists":
            assert lines[1].startswith("The correct answer is: "), r.id
            continue
        q = parse_question(r.prompt)
        objs = sorted(oracle.parse_image(tmp_path / "train" / r.media[0]["image"]).objects,
                      key=lambda o: (o.cell, o.color, o.shape))
        want = [f"{o.size} {o.color} {o.shape} at {o.position}: {q.color} (color): {int(o.color == q.color)}, "
                f"{q.shape} (shape): {int(o.shape == q.shape)}." for o in objs]
        assert lines[1:1 + len(objs)] == want, r.id
        both = any(line.endswith("(color): 1, " + f"{q.shape} (shape): 1.") for line in want)
        assert r.meta["truth"] == ("yes" if both else "no"), r.id
        assert lines[1 + len(objs)] == f"The correct answer is: {r.meta['truth']}.", r.id
        seen[r.meta["truth"]] += 1
    assert seen["yes"] and seen["no"], seen


def test_lookup_rationale_checks_the_named_object_on_every_line(tmp_path):
    """rationale="lookup": every image question that names an object (not only existence) lists each object of
    the description with the named attributes checked; the true answer is read off the lines whose checks are
    all 1 (the first such object's attribute, their number for a count, "nothing"/"none" when there is none)."""
    import re

    from unireward.synth.world import NUMBERS

    build_dataset(tmp_path, 60, seed=4, splits=("train",), rationale="lookup", tasks=["image_understanding"],
                  hard_negatives=0.5, difficulty=0.5)
    kinds = set()
    for r in read_records(tmp_path / "train" / "records.jsonl"):
        lines = r.rationale.split("\n")
        kind, truth = r.meta["kind"], r.meta["truth"]
        answer_at = next(i for i, line in enumerate(lines) if line.startswith("The correct answer is: "))
        looked = lines[1:answer_at]
        if kind == "relation":
            assert looked == [], r.id
            continue
        kinds.add(kind)
        objs = lines[0].removeprefix("The image shows: ").rstrip(".").split("; ")
        assert [line.split(": ")[0] for line in looked] == objs, r.id
        hits = [line.split(": ")[0] for line in looked if not re.search(r"\): 0", line)]
        if kind == "count":
            assert truth == NUMBERS[len(hits)], r.id
        elif kind == "what_at":
            assert truth == ("a " + hits[0].split(" at ")[0] if hits else "nothing"), r.id
        elif kind == "exists":
            assert truth == ("yes" if hits else "no"), r.id
        else:  # the asked attribute of the one named object
            assert hits, r.id
            size, color, shape, where = re.match(r"(\S+) (\S+) (\S+) at (.+)", hits[0]).groups()
            assert truth == {"color": color, "shape": shape, "size": size, "where": where}[kind], r.id
    assert kinds >= {"color", "shape", "size", "where", "count", "what_at", "exists"}, kinds
