"""Writing synthetic samples as unified records, and `build_dataset`, the one entry point.

Layout written (media paths in the records are relative to the split folder, as the record format asks):

    OUT/manifest.json                  the parameters and counts of the build
    OUT/<split>/records.jsonl          one unified record per line
    OUT/<split>/media/<ig|iu|vg|vu>/<pair|point>/<index>-<a|b|m>.png|.mp4

Record ids are "synth/<split>/<task>/<form>/<index>"; `meta` holds the split key, what was corrupted
("broken"), the exact scores of both pair candidates, and the question kind and true answer for the
understanding tasks. With `rationale=True` each record also gets a rationale written from the true scene or
clip: what each candidate image or video shows (generation tasks), or what the media shows and the correct answer
(understanding tasks). Exports put it before the verdict, so a
judge trained on it describes first and decides second — the decomposition that lets a small judge trained
from scratch ground its verdicts (docs/synth.md). Images are PNG (lossless); videos are H.264 mp4 at `fps`
(or PNG frame lists with `video_format="frames"`). A split folder's `media/` is rebuilt from scratch on every build.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from unireward.media import write_video
from unireward.records import Record, write_records
from unireward.synth.generate import SPLIT_FRACTIONS, TASK_SHORT, Sample, make_sample
from unireward.synth.grammar import parse_question
from unireward.synth.render import render_clip, render_scene
from unireward.synth.semantics import describe_clip
from unireward.synth.world import Clip, Scene, clip_facts
from unireward.tasks import Form, Task


ALL_TASKS = tuple(Task)
ALL_FORMS = (Form.PAIR, Form.POINT)


def describe(x: Scene | Clip) -> str:
    """What an image (a scene) or a video (a clip) shows, in the world's words."""
    return x.key() if isinstance(x, Scene) else describe_clip(clip_facts(x))


def rationale(sample: Sample, checks: bool = False, lookup: bool = False) -> str:
    """The describe-then-decide rationale of a sample, from its true scenes and clips. With `checks`, each
    candidate is also checked before the verdict or score (see `check_lines`); with `lookup`, every image
    question that names an object gets the existence question's per-object lines (see `lookup_lines`)."""
    kind = sample.task.modality
    if sample.task.is_generation:
        if sample.form == Form.POINT:
            return f"The {kind} shows: {describe(sample.candidates[0])}."
        shows = [f"{kind.capitalize()} {i + 1} shows: {describe(c)}." for i, c in enumerate(sample.candidates)]
        if checks:  # each candidate's check right under its description: it reads the line just above
            return "\n".join(line for pair in zip(shows, check_lines(sample)) for line in pair)
        return "\n".join(shows)
    shows = f"The {kind} shows: {describe(sample.media[0])}."
    answer = f"The correct answer is: {sample.meta['truth']}."
    if not checks:
        return f"{shows}\n{answer}"
    return "\n".join([shows, *lookup_lines(sample, every=lookup), answer, *check_lines(sample)])


def lookup_lines(sample: Sample, every: bool = False) -> list[str]:
    """For an existence question ("is there a red diamond?"), one line per object of the description, in its
    order, checked against the asked colour and shape as a generation check is (``large red triangle at top: red
    (color): 1, diamond (shape): 0.``): every check reads the object phrase on its own line, and the answer is
    "yes" iff a line has both. Asked in one step, the conjunction (that colour AND that shape on one object) was
    never learned by the small judge: it said "yes" to 41 of 42 held-out existence questions while answering
    every single-attribute question right. A lookup line listing the objects of the asked shape did not fix it
    either: the model copied every object and rewrote its shape to the asked one (docs/demo.md).

    With `every` (rationale "lookup"), every image question that names an object by colour, shape or position
    (colour, shape, size, where, count, what is at) gets the same lines for the attributes it names, so the
    correct answer is read off the line whose checks are all 1 instead of guessed from the description. On the
    small answerer's samples the shipped judge, without them, mostly copied the response into its "correct
    answer" line when the response named another object of the scene (docs/align.md)."""
    kind = sample.meta.get("kind")
    if kind != "exists" and not (every and kind in ("color", "shape", "size", "where", "count", "what_at")):
        return []
    q = parse_question(sample.prompt)
    if kind in ("exists", "count"):
        asked = [(q.color, "color"), (q.shape, "shape")]
    elif kind == "what_at":
        asked = [(q.position, "position")]
    else:
        asked = [(q.ref.color, "color"), (q.ref.shape, "shape"), (q.ref.position, "position")]
    asked = [(v, a) for v, a in asked if v is not None]
    return [f"{o.phrase()}: " + ", ".join(f"{v} ({a}): {int(getattr(o, a) == v)}" for v, a in asked) + "."
            for o in sample.media[0].in_reading_order()]


def _num(x: float) -> str:
    return f"{round(float(x), 2):g}"


def check_lines(sample: Sample) -> list[str]:
    """One line per candidate that says how it fares, so the verdict or score is read off adjacent lines:
    a generation pair lists each candidate's caption elements (``Image 1: red (color): 1, ... , which scores
    3.67.``, right under that image's description; a pointwise generation answer already lists them); an
    understanding answer is copied and graded (``Answer 1 says: two, which scores 50.``)."""
    scores = sample.meta.get("scores") or [sample.label["score"]]
    if sample.task.is_generation:
        if sample.form == Form.POINT:
            return []
        noun = sample.task.modality.capitalize()
        return [f"{noun} {i + 1}: " + ", ".join(f"{k}: {v}" for k, v in el.items()) + f", which scores {_num(s)}."
                for i, (el, s) in enumerate(zip(sample.meta["elements"], scores))]
    if sample.form == Form.POINT:
        return [f"The response says: {sample.candidates[0]}, which scores {_num(scores[0])}."]
    return [f"Answer {i + 1} says: {c}, which scores {_num(s)}."
            for i, (c, s) in enumerate(zip(sample.candidates, scores))]


def write_sample(sample: Sample, folder: str | Path, rec_id: str, stem: str, image_size: int = 84,
                 video_format: str = "mp4", fps: int = 8, with_rationale: bool | str = False) -> Record:
    """Render a sample's media under `folder` and return its record (paths relative to `folder`)."""
    folder = Path(folder)

    def put(x: Any, name: str) -> dict[str, Any]:
        rel = f"{stem}-{name}"
        if isinstance(x, Scene):
            render_scene(x, image_size).save(folder / f"{rel}.png")
            return {"image": f"{rel}.png"}
        if not isinstance(x, Clip):
            raise TypeError(f"{rec_id}: cannot write media of type {type(x).__name__}")
        frames = render_clip(x, image_size)
        if video_format == "frames":
            for t, f in enumerate(frames):
                f.save(folder / f"{rel}-{t}.png")
            return {"frames": [f"{rel}-{t}.png" for t in range(len(frames))]}
        write_video(folder / f"{rel}.mp4", frames, fps=fps)
        return {"video": f"{rel}.mp4"}

    (folder / stem).parent.mkdir(parents=True, exist_ok=True)
    return sample_record(sample, rec_id, put, with_rationale)


def rationale_mode(x: bool | str) -> str:
    """`rationale` options: False/"none", True/"describe" (what each image or video shows, then the
    decision), "checks" (describe, check each candidate on its own line, then decide), "lookup" (checks, and
    per-object lookup lines for every image question naming an object, `lookup_lines`)."""
    mode = {False: "none", True: "describe"}.get(x, x) if isinstance(x, bool) else x
    if mode not in ("none", "describe", "checks", "lookup"):
        raise ValueError(f"rationale must be one of none, describe, checks, lookup (or a bool), got {x!r}")
    return mode


def sample_record(sample: Sample, rec_id: str, put: Any = None, with_rationale: bool | str = True) -> Record:
    """A sample's unified record; `put(x, name)` writes a scene or clip and returns its media entry. Without
    `put` nothing is rendered and media entries name no file (``{"image": "unrendered"}``): the record of a
    text-only step (the judge's prompt and answer without its pixels)."""
    if put is None:
        def put(x: Any, name: str) -> dict[str, Any]:
            return {"image" if isinstance(x, Scene) else "video": "unrendered"}

    mode = rationale_mode(with_rationale)
    media = [put(m, "m") for m in sample.media]
    if sample.task.is_generation:
        cands = [{"media": [put(c, "ab"[i])]} for i, c in enumerate(sample.candidates)]
    else:
        cands = [{"text": c} for c in sample.candidates]
    rec = Record(id=rec_id, source="synth", task=sample.task, form=sample.form, prompt=sample.prompt,
                 candidates=cands, media=media, label=sample.label, meta={"key": sample.key, **sample.meta},
                 rationale=None if mode == "none" else rationale(sample, checks=mode in ("checks", "lookup"),
                                                                    lookup=mode == "lookup"))
    rec.validate()
    return rec


def _job(args: tuple) -> list[dict[str, Any]]:
    """Make and write a run of samples of one (split, task, form); a separate process may run it."""
    split, task, form, indices, opts, folder = args
    out = []
    for i in indices:
        s = make_sample(task, form, split, i, seed=opts["seed"], difficulty=opts["difficulty"],
                        tie_rate=opts["tie_rate"], n_frames=opts["n_frames"],
                        hard_negatives=opts.get("hard_negatives", 0.0))
        stem = f"media/{TASK_SHORT[task]}/{form.value}/{i:06d}"
        rec = write_sample(s, folder, f"synth/{split}/{task.value}/{form.value}/{i:06d}", stem,
                           opts["image_size"], opts["video_format"], opts["fps"], opts["rationale"])
        out.append(rec.to_dict())
    return out


def _counts(n: int | Mapping[str, int], splits: Sequence[str]) -> dict[str, int]:
    if isinstance(n, Mapping):
        unknown = set(n) - set(splits)
        if unknown:
            raise ValueError(f"n_per_task_form names splits {sorted(unknown)} not in splits={list(splits)}")
        return {s: int(n.get(s, 0)) for s in splits}
    return {s: int(n) for s in splits}


def build_dataset(out_dir: str | Path, n_per_task_form: int | Mapping[str, int] = 100, seed: int = 0,
                  difficulty: float = 0.5, image_size: int = 84, splits: Sequence[str] = ("train", "val", "test"),
                  *, tasks: Sequence[Task | str] = ALL_TASKS, forms: Sequence[Form | str] = ALL_FORMS,
                  n_frames: int = 8, tie_rate: float = 0.1, video_format: str = "mp4", fps: int = 8,
                  rationale: bool | str = False, hard_negatives: float = 0.0,
                  workers: int = 1) -> dict[str, dict[str, int]]:
    """Write `out_dir/<split>/records.jsonl` and media for every (task, form) and split.

    n_per_task_form: records per (task, form) in every split, or a mapping split -> that number
        (e.g. {"train": 500, "val": 50, "test": 100}).
    rationale: give every record a describe-then-decide rationale (see the module docstring): True or
        "describe", or "checks" (each candidate also checked on its own line, `check_lines`).
    hard_negatives: the share of wrong understanding answers made confusable or slipped (`synth.generate`);
        recorded in the manifest only when set, so manifests of older builds stay the same.
    Returns {split: {"<task>/<form>": count}}. Deterministic in all arguments except `workers`, which
    changes nothing but speed.
    """
    for s in splits:
        if s not in SPLIT_FRACTIONS:
            raise ValueError(f"unknown split {s!r}; valid splits: {', '.join(SPLIT_FRACTIONS)}")
    if video_format not in ("mp4", "frames"):
        raise ValueError(f"video_format must be 'mp4' or 'frames', got {video_format!r}")
    rationale = rationale_mode(rationale)
    if image_size < 32:
        raise ValueError(f"image_size must be at least 32 pixels, got {image_size}")
    make_sample(Task.IMAGE_GENERATION, Form.POINT, splits[0] if splits else "train", 0, seed, difficulty,
                tie_rate, n_frames, hard_negatives)  # checks the generator's arguments before anything is written
    tasks, forms = [Task.parse(t) for t in tasks], [Form.parse(f) for f in forms]
    out_dir, counts = Path(out_dir), _counts(n_per_task_form, splits)
    opts = dict(seed=seed, difficulty=difficulty, tie_rate=tie_rate, n_frames=n_frames, image_size=image_size,
                video_format=video_format, fps=fps, rationale=rationale,
                **({"hard_negatives": hard_negatives} if hard_negatives else {}))
    result: dict[str, dict[str, int]] = {}
    for split in splits:
        folder = out_dir / split
        shutil.rmtree(folder / "media", ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        jobs = [(split, t, f, chunk, opts, folder) for t in tasks for f in forms
                for chunk in _chunks(range(counts[split]), 25)]
        rows = _run(jobs, workers)
        write_records(folder / "records.jsonl", (Record.from_dict(r) for r in rows))
        result[split] = {f"{t.value}/{f.value}": counts[split] for t in tasks for f in forms}
    manifest = {"generator": "unireward.synth", "version": 1, "counts": result,
                "splits": list(splits), "tasks": [t.value for t in tasks], "forms": [f.value for f in forms], **opts}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return result


def _chunks(r: range, size: int) -> list[list[int]]:
    items = list(r)
    return [items[i:i + size] for i in range(0, len(items), size)]


def _run(jobs: list[tuple], workers: int) -> list[dict[str, Any]]:
    if workers <= 1 or len(jobs) <= 1:
        return [row for job in jobs for row in _job(job)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [row for rows in pool.map(_job, jobs) for row in rows]
