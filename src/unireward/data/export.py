"""Training exports: a recipe's mixture written as SFT conversations for TRL, LLaMA-Factory or LLaVA.

`build("recipes/unifiedreward.yaml", "sft/", fmt="trl", family="v1", root="unified/")` writes:

- ``train.jsonl`` (``trl``): TRL's conversational language-modeling format, ``{"id", "messages": [user,
  assistant], "images": [relative paths]}``; the user content is the template text, and TRL puts one
  image placeholder per image before it. `load_trl_dataset` loads it with the images decoded.
- ``train.json`` (``llamafactory``): LLaMA-Factory's multimodal sharegpt format, the user content starting
  with one ``<image>`` per image, and ``dataset_info.json`` declaring it (dataset name ``unireward``).
- ``train.json`` (``llava``): LLaVA's ``conversations`` (``human``/``gpt``, ``"<image>\\n"`` per image)
  with ``image`` (one) or ``images`` (several), paths relative to the output folder (the image_folder).
- ``media/``: the images, and 8 frames per video (`unireward.media.load_video` for video files, uniform
  picks for frame folders) saved as images, as the released checkpoints were trained on frames (the
  template's own count where it fixes one).
- ``records.jsonl``: the mixture as unified records (media paths relative to this folder), for
  ``unireward data stats`` and for tracing a training row back to its source (same ``id``).
- ``summary.json``: the mixture report, counts, and every record that could not be exported, with why.

Design choices a user will notice:
- The prompt is the task's template (``get_template(task, form, family)``; ``family`` may be a template
  file) rendered by `unireward.templates.render_item`, the same function that renders the judge's
  requests, so the training prompt equals the inference prompt by construction (chat-control sequences
  in captions, questions and answers neutralised the same way). The answer is `target_answer`, the one
  place the target text is defined, in the family's exact phrases.
- Videos are exported as the template's ``num_frames`` frames where it fixes a count (16 for the 2.0 APS
  prompt), else ``num_frames`` (8), the count the judge feeds at inference.
  ``parse_answer(template, target_answer(record, template))`` gives back the record's label.
- Pointwise scores keep their source scale: when a record's scale differs from the template's, the prompt
  asks for the record's scale (`Template.with_scale`), as upstream adjusted its prompts per source.
- A record the family cannot express is skipped and listed, never bent: a tie where the template offers
  no tie phrase, a think-family pair without a rationale, a 2.0 target without its per-dimension scores.
- Rationales (LLaVA-Critic critiques, LiFT reasons) come before the final verdict or score line.
- Images and frames are stored once per content (sha256 names); the same input gives the same files.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from unireward.data.mix import Recipe, iter_mixture, select
from unireward.data.sources.common import MediaStore
from unireward.media import MediaError, load_video, uniform_indices
from unireward.records import JsonlWriter, Record, RecordError
from unireward.tasks import Form
from unireward.templates import Template, get_template, render_item


FORMATS = ("trl", "llamafactory", "llava")
SHOWN_SKIPS = 20


class ExportError(ValueError):
    """A record cannot be written in the requested family or format; the message names it and why."""


# ----------------------------------------------------------------------------------------------------------
# prompts and targets


def _num(x: float) -> str:
    """A score as the checkpoints print it: 4, 3.67, 0.5 (at most two decimals)."""
    x = round(float(x), 2)
    return str(int(x)) if x.is_integer() else f"{x:.2f}".rstrip("0")


def template_for(record: Record, family: str = "v1") -> Template:
    """The record's template in `family`, asking for the record's own score scale when it has one."""
    t = get_template(record.task, record.form, family)
    scale = (record.label or {}).get("scale")
    if record.form == Form.POINT and t.parser == "final_score" and scale and tuple(map(float, scale)) != t.scale:
        try:
            t = t.with_scale(tuple(scale))
        except ValueError as e:
            raise ExportError(f"{record.id}: score scale {scale} differs from the template's ({e})") from None
    return t


def render_prompt(record: Record, template: Template) -> str:
    """The user text for `record`: `render_item`, exactly as the judge renders the same item."""
    answers = [] if record.task.is_generation else [c.get("text") for c in record.candidates]
    try:
        return render_item(template, record.prompt, answers)
    except (TypeError, ValueError) as e:
        raise ExportError(f"{record.id}: {e}") from None


def _join(rationale: str | None, final: str) -> str:
    rationale = (rationale or "").strip()
    if not rationale or rationale.endswith(final):  # a critique may already end with the same line
        return rationale or final
    return f"{rationale}\n{final}"


def target_answer(record: Record, template: Template) -> str:
    """The answer the judge must learn for `record` under `template`, in the family's exact phrases.

    Pairwise: the verdict phrase ("Image 1 is better.", "Overall Judgment: Answer 1 is better than Answer
    2."), the think family's ``<think>`` + ``<answer>``, or the 2.0 family's relative scores (from
    ``label.dims``, the share of A per dimension). Pointwise: element lines ``element (type): 0|1``, the
    template's dimension lines (``visual quality: 3``), then ``Final Score: 3.67``; or the 2.0 family's
    ``Alignment Score (1-5): X`` lines. A rationale comes first. Raises `ExportError` when the template
    cannot express the label.
    """
    if not record.label:
        raise ExportError(f"{record.id}: no label to train on")
    if template.task != record.task or template.form != record.form:
        raise ExportError(f"{record.id}: a {record.task}/{record.form} record with a "
                          f"{template.task}/{template.form} template")
    builders = {"phrase": _phrase, "think": _think, "pair_scores": _pair_scores, "final_score": _final_score,
                "dim_scores": _dim_scores}
    return builders[template.parser](record, template)


def _phrase_for(record: Record, t: Template) -> str:
    winner = record.label.get("winner")
    if winner not in t.phrases:
        raise ExportError(f"{record.id}: the {t.family} {t.task} pairwise template has no answer for "
                          f"winner {winner!r} (it offers {sorted(t.phrases)})")
    return t.phrases[winner]


def _phrase(record: Record, t: Template) -> str:
    line = (f"{t.marker}: " if t.marker else "") + _phrase_for(record, t) + "."
    return _join(record.rationale, line)


def _think(record: Record, t: Template) -> str:
    phrase = _phrase_for(record, t)
    if not (record.rationale or "").strip():
        raise ExportError(f"{record.id}: the think family needs a rationale to put inside <think>")
    return f"<think>\n{record.rationale.strip()}\n</think>\n<answer>{phrase}</answer>"


def _dims(record: Record, t: Template) -> dict[str, float]:
    dims = record.label.get("dims") or {}
    missing = [d for d in t.dims if d not in dims]
    if missing:
        raise ExportError(f"{record.id}: the {t.family} template needs label.dims {list(t.dims)}; missing {missing}")
    lo, hi = t.dim_scale or (float("-inf"), float("inf"))
    bad = {d: dims[d] for d in t.dims if not isinstance(dims[d], (int, float)) or not lo <= dims[d] <= hi}
    if bad:
        raise ExportError(f"{record.id}: label.dims {bad} outside the template's range {t.dim_scale}")
    return {d: dims[d] for d in t.dims}


def _pair_scores(record: Record, t: Template) -> str:
    noun = "Video" if t.task.modality == "video" else "Image"
    shares = {d: round(float(v), 2) for d, v in _dims(record, t).items()}
    mean = sum(shares.values()) / len(shares)
    implied = "tie" if abs(mean - 0.5) < 1e-9 else "A" if mean > 0.5 else "B"
    if implied != record.label.get("winner"):
        raise ExportError(f"{record.id}: label.dims shares (mean {mean:.2f} for A) disagree with winner "
                          f"{record.label.get('winner')!r}")
    blocks = [f"{d} Score:\n {noun} 1: {_num(a)}\n {noun} 2: {_num(1 - a)}" for d, a in shares.items()]
    return _join(record.rationale, "\n\n".join(blocks))  # a blank line between dimensions, as upstream


def _final_score(record: Record, t: Template) -> str:
    label = record.label
    score = label.get("score")
    if not isinstance(score, (int, float)):
        raise ExportError(f"{record.id}: no label.score for the 'Final Score:' answer")
    if t.scale and not t.scale[0] <= score <= t.scale[1]:
        raise ExportError(f"{record.id}: score {score} outside the template's scale {t.scale}")
    lines = [f"{k}: {int(v)}" for k, v in (label.get("elements") or {}).items()]
    dims = label.get("dims") or {}
    if t.dims and all(d in dims for d in t.dims):
        lines += [f"{d}: {_num(dims[d])}" for d in t.dims]
    lines.append(f"Final Score: {_num(score)}")
    return _join(record.rationale, "\n".join(lines))


def _dim_scores(record: Record, t: Template) -> str:
    lo, hi = t.dim_scale
    lines = [f"{d} Score ({_num(lo)}-{_num(hi)}): {_num(v)}" for d, v in _dims(record, t).items()]
    return _join(record.rationale, "\n".join(lines))


# ----------------------------------------------------------------------------------------------------------
# media


class _MediaExport:
    """Puts a record's images and video frames under ``<out>/media/`` and returns their relative paths."""

    def __init__(self, out: Path, num_frames: int):
        self.store, self.num_frames = MediaStore(out, "media"), num_frames
        self._done: dict[str, list[str]] = {}  # media item -> exported paths, so shared videos decode once

    def item(self, m: dict[str, Any], base: Path, num_frames: int | None = None) -> list[str]:
        """Export one media item; a video becomes `num_frames` frames (default: this export's count)."""
        kind, value = next(iter(m.items()))
        n = num_frames or self.num_frames
        key = json.dumps([kind, str(base), value, n])
        if key not in self._done:
            if kind == "image":
                paths = [base / value]
            elif kind == "frames":
                paths = [base / value[i] for i in uniform_indices(len(value), n)]
            else:
                paths = [_jpeg(f) for f in load_video(base / value, n)]
            self._done[key] = [self.store.image(p, str(p) if isinstance(p, Path) else f"{value} frame")["image"]
                               for p in paths]
        return self._done[key]


def _jpeg(frame) -> bytes:
    buf = io.BytesIO()
    frame.save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def record_media(record: Record) -> list[dict[str, Any]]:
    """The media items in the order the judge sees them: shared media, then each candidate's."""
    return list(record.media) + [m for c in record.candidates for m in c.get("media", [])]


# ----------------------------------------------------------------------------------------------------------
# formats


def _row(fmt: str, rid: str, text: str, target: str, images: list[str]) -> dict[str, Any]:
    if fmt == "trl":
        return {"id": rid, "messages": [{"role": "user", "content": text}, {"role": "assistant", "content": target}],
                "images": images}
    if fmt == "llamafactory":
        return {"id": rid, "messages": [{"role": "user", "content": "<image>" * len(images) + text},
                                        {"role": "assistant", "content": target}], "images": images}
    media = {"image": images[0]} if len(images) == 1 else {"images": images}
    return {"id": rid, **media, "conversations": [{"from": "human", "value": "<image>\n" * len(images) + text},
                                                  {"from": "gpt", "value": target}]}


class _JsonListWriter:
    """Writes a JSON list one item at a time (LLaVA and LLaMA-Factory read whole lists)."""

    def __init__(self, path: Path):
        self._f, self._n = open(path, "w", encoding="utf-8"), 0
        self._f.write("[\n")

    def write(self, obj: dict[str, Any]) -> None:
        self._f.write((",\n" if self._n else "") + json.dumps(obj, ensure_ascii=False))
        self._n += 1

    def close(self) -> None:
        self._f.write("\n]\n")
        self._f.close()


LLAMAFACTORY_INFO = {"unireward": {
    "file_name": "train.json", "formatting": "sharegpt", "columns": {"messages": "messages", "images": "images"},
    "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}}}


def _relpath(path: Path, start: Path) -> str:
    return os.path.relpath(path.resolve(), start.resolve())


def _rebased(record: Record, base: Path, out: Path) -> Record:
    """The record with media paths relative to `out` instead of `base`."""
    def fix(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out_items = []
        for m in items:
            kind, value = next(iter(m.items()))
            out_items.append({kind: [_relpath(base / p, out) for p in value] if kind == "frames"
                              else _relpath(base / value, out)})
        return out_items

    candidates = [{**c, "media": fix(c["media"])} if c.get("media") else c for c in record.candidates]
    return replace(record, media=fix(record.media), candidates=candidates)


# ----------------------------------------------------------------------------------------------------------
# build


def build(recipe: str | Path | Recipe, out: str | Path, fmt: str = "trl", family: str = "v1",
          root: str | Path | None = None, num_frames: int = 8, progress: bool = True) -> dict[str, Any]:
    """Write the recipe's mixture as training conversations under `out`; returns the summary."""
    from tqdm import tqdm

    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    get_template("image_generation", "pair", family)  # an unknown family fails before any work
    if not isinstance(recipe, Recipe):
        recipe = Recipe.load(recipe, root)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start, mixture = time.time(), select(recipe)
    media, written, skipped, shown = _MediaExport(out, num_frames), Counter(), Counter(), []
    writer = JsonlWriter(out / "train.jsonl", "w") if fmt == "trl" else _JsonListWriter(out / "train.json")
    bar = tqdm(total=len(mixture.picks), desc=f"build {fmt}", unit="rec", disable=not progress or None)
    try:
        with JsonlWriter(out / "records.jsonl", "w") as records:
            for record, base in iter_mixture(mixture):
                bar.update()
                try:
                    row = _export(record, base, fmt, family, media)
                except (ExportError, MediaError, RecordError) as e:
                    skipped[type(e).__name__] += 1
                    if len(shown) < SHOWN_SKIPS:
                        shown.append({"id": record.id, "reason": str(e)})
                    continue
                writer.write(row)
                records.write(_rebased(record, base, out))
                written[f"{record.task}/{record.form}"] += 1
    finally:
        bar.close()
        writer.close()
    if fmt == "llamafactory":
        (out / "dataset_info.json").write_text(json.dumps(LLAMAFACTORY_INFO, indent=2) + "\n")
    summary = {"format": fmt, "family": family, "output": str(out), "mixture": mixture.report,
               "written": sum(written.values()), "by_task_form": dict(sorted(written.items())),
               "skipped": sum(skipped.values()), "skipped_examples": shown, "seconds": round(time.time() - start, 3)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    return summary


def _export(record: Record, base: Path, fmt: str, family: str, media: _MediaExport) -> dict[str, Any]:
    template = template_for(record, family)
    target = target_answer(record, template)
    images = [p for m in record_media(record) for p in media.item(m, base, template.num_frames)]
    return _row(fmt, record.id, render_prompt(record, template), target, images)


def load_trl_dataset(folder: str | Path):
    """The ``trl`` export as a `datasets.Dataset` with ``messages`` and decoded PIL ``images``, ready for
    `trl.SFTTrainer` (pass the VLM's processor as ``processing_class``)."""
    from unireward.data.sources.common import require_module

    datasets = require_module("datasets", "train")
    folder = Path(folder).resolve()
    path = folder / "train.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: build with --format trl first")
    ds = datasets.load_dataset("json", data_files=str(path), split="train")
    ds = ds.map(lambda r: {"images": [str(folder / p) for p in r["images"]]})
    return ds.cast_column("images", datasets.List(datasets.Image()))
