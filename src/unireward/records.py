"""The unified record: one JSON object per line, shared by data, bench, construct and judge run.

```json
{"id": "oip/3368", "source": "oip", "task": "image_generation", "form": "pair",
 "prompt": "a bustling manga street", "media": [],
 "candidates": [{"media": [{"image": "media/oip/ab12.jpg"}]}, {"media": [{"image": "media/oip/cd34.jpg"}]}],
 "label": {"winner": "A"}, "rationale": null, "meta": {}}
```

- Generation tasks: each candidate holds its media; understanding tasks: the shared image/video is in
  `media` and candidates are `{"text": ...}`.
- A media item is `{"image": path}`, `{"video": path}` or `{"frames": [paths]}`; paths are relative to the
  folder of the JSONL file (absolute paths are kept as they are).
- Pairwise label `{"winner": "A" | "B" | "tie"}`; pointwise label
  `{"score": 3.67, "scale": [1, 5], "dims": {...}, "elements": {"puffin (animal)": 1}}`. A record may carry
  no label (`null`) when it is only to be judged.
- `meta` holds source-specific extras (vote counts, benchmark category, ...), never needed to judge.

Validation errors name the file, the line and the field (`RecordError`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unireward.tasks import WINNERS, Form, Task


class RecordError(ValueError):
    """A record is malformed; the message names where (file:line or id) and which field."""


@dataclass
class Record:
    id: str
    source: str
    task: Task
    form: Form
    prompt: str
    candidates: list[dict[str, Any]]
    media: list[dict[str, Any]] = field(default_factory=list)
    label: dict[str, Any] | None = None
    rationale: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    # ----- conversion -----
    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "task": self.task.value, "form": self.form.value,
                "prompt": self.prompt, "media": self.media, "candidates": self.candidates, "label": self.label,
                "rationale": self.rationale, "meta": self.meta}

    def to_json(self) -> str:
        return json_line(self.to_dict())

    @classmethod
    def from_dict(cls, d: Any, where: str = "record") -> Record:
        if not isinstance(d, dict):
            raise RecordError(f"{where}: expected a JSON object, got {type(d).__name__}")
        for key in ("id", "task", "form", "candidates"):
            if key not in d:
                raise RecordError(f"{where}: missing field '{key}'")
        if isinstance(d["id"], bool) or not isinstance(d["id"], (str, int)) or str(d["id"]).strip() == "":
            raise RecordError(f"{where}: field 'id' must be a non-empty string (or an integer), got {d['id']!r}")
        where = f"{where} (id {d['id']!r})"
        try:
            task, form = Task.parse(d["task"]), Form.parse(d["form"])
        except ValueError as e:
            raise RecordError(f"{where}: {e}") from None
        rec = cls(id=str(d["id"]), source=str(d.get("source", "")), task=task, form=form,
                  prompt=d.get("prompt", ""), candidates=d["candidates"], media=d.get("media") or [],
                  label=d.get("label"), rationale=d.get("rationale"), meta=d.get("meta") or {})
        rec.validate(where)
        return rec

    # ----- validation -----
    def validate(self, where: str | None = None) -> None:
        where = where or f"record {self.id!r}"
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise RecordError(f"{where}: field 'prompt' must be a non-empty string")
        n = 2 if self.form == Form.PAIR else 1
        if not isinstance(self.candidates, list) or len(self.candidates) != n:
            raise RecordError(f"{where}: field 'candidates' must hold {n} item(s) for a {self.form} record")
        for i, c in enumerate(self.candidates):
            ctx = f"{where}: candidates[{i}]"
            if not isinstance(c, dict):
                raise RecordError(f"{ctx} must be an object")
            if self.task.is_generation:
                if not c.get("media"):
                    raise RecordError(f"{ctx} needs 'media' for {self.task}")
                _check_media(c["media"], ctx + ".media")
            elif not isinstance(c.get("text"), str):
                raise RecordError(f"{ctx} needs a 'text' string for {self.task}")
        if not self.task.is_generation and not self.media:
            raise RecordError(f"{where}: field 'media' must hold the shared {self.task.modality} for {self.task}")
        _check_media(self.media, f"{where}: media")
        if self.label is not None:
            self._check_label(where)

    def _check_label(self, where: str) -> None:
        lab = self.label
        if not isinstance(lab, dict):
            raise RecordError(f"{where}: field 'label' must be an object or null")
        if self.form == Form.PAIR:
            if lab.get("winner") not in WINNERS:
                raise RecordError(f"{where}: label.winner must be one of {list(WINNERS)}, got {lab.get('winner')!r}")
            return
        score, scale = lab.get("score"), lab.get("scale")
        if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))
                                  or not math.isfinite(score)):
            raise RecordError(f"{where}: label.score must be a number, got {score!r}")
        if scale is not None:
            if not (isinstance(scale, list) and len(scale) == 2 and scale[0] < scale[1]):
                raise RecordError(f"{where}: label.scale must be [low, high], got {scale!r}")
            if score is not None and not scale[0] <= score <= scale[1]:
                raise RecordError(f"{where}: label.score {score} outside label.scale {scale}")
        if score is None and not lab.get("dims"):
            raise RecordError(f"{where}: a pointwise label needs 'score' or 'dims'")

    # ----- judge inputs -----
    @property
    def winner(self) -> str | None:
        return (self.label or {}).get("winner")

    def judge_inputs(self, base: str | Path = ".") -> dict[str, Any]:
        """Keyword arguments for `Judge.compare` / `Judge.score`, with media resolved against `base`."""
        base = Path(base)
        shared = [media_source(m, base) for m in self.media]
        if self.task.is_generation:
            values = [media_source(c["media"][0], base) for c in self.candidates]
        else:
            values = [c["text"] for c in self.candidates]
        kw: dict[str, Any] = {"task": self.task, "prompt": self.prompt}
        if shared:
            kw["media"] = shared[0] if len(shared) == 1 else shared
        if self.form == Form.PAIR:
            kw["a"], kw["b"] = values
        else:
            kw["candidate"] = values[0]
        return kw


def _check_media(items: Any, where: str) -> None:
    if not isinstance(items, list):
        raise RecordError(f"{where} must be a list")
    for j, m in enumerate(items):
        if not isinstance(m, dict) or len(m) != 1 or next(iter(m)) not in ("image", "video", "frames"):
            raise RecordError(f"{where}[{j}] must be {{'image': path}}, {{'video': path}} or {{'frames': [paths]}}")
        kind, value = next(iter(m.items()))
        ok = isinstance(value, list) and value and all(isinstance(p, str) for p in value) if kind == "frames" \
            else isinstance(value, str) and value
        if not ok:
            raise RecordError(f"{where}[{j}].{kind} has an invalid path value {value!r}")


def media_source(item: dict[str, Any], base: Path) -> str | list[str]:
    """A media item as something `unireward.media` loads: a path, or a list of frame paths."""
    kind, value = next(iter(item.items()))
    if kind == "frames":
        return [str(base / p) for p in value]
    return str(base / value)


def read_records(path: str | Path, on_error: Callable[[RecordError], None] | None = None) -> Iterator[Record]:
    """Stream records from a JSONL file. A bad line raises `RecordError` (file:line, field), or is passed to
    `on_error` and skipped when a handler is given."""
    path = Path(path)
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                try:
                    d = json.loads(line)
                except json.JSONDecodeError as e:
                    raise RecordError(f"{where}: invalid JSON ({e.msg})") from None
                yield Record.from_dict(d, where)
            except RecordError as e:
                if on_error is None:
                    raise
                on_error(e)


class JsonlWriter:
    """Append JSON lines and flush each one, so a killed job loses at most the line being written."""

    def __init__(self, path: str | Path, mode: str = "a"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, mode, encoding="utf-8")

    def write(self, obj: dict[str, Any] | Record) -> None:
        self._f.write(json_line(obj.to_dict() if isinstance(obj, Record) else obj) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_records(path: str | Path, records: Iterable[Record]) -> int:
    n = 0
    with JsonlWriter(path, "w") as w:
        for r in records:
            w.write(r)
            n += 1
    return n


def json_line(obj: Any) -> str:
    """One line of standard JSON. NaN and infinities are not JSON: they raise, naming the field, instead of
    being written as ``NaN``/``Infinity`` that other readers reject."""
    try:
        return json.dumps(obj, ensure_ascii=False, allow_nan=False)
    except ValueError:
        raise ValueError(f"cannot write a non-finite number as JSON (field {_non_finite(obj) or '?'})") from None


def _non_finite(obj: Any, path: str = "") -> str | None:
    if isinstance(obj, float) and not math.isfinite(obj):
        return path or "value"
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, (list, tuple)) else ()
    for k, v in items:
        found = _non_finite(v, f"{path}.{k}" if path else str(k))
        if found:
            return found
    return None


def repair_jsonl(path: str | Path) -> bool:
    """Cut a partial last line (no newline) left by a killed job; True if something was cut."""
    path = Path(path)
    data = path.read_bytes() if path.exists() else b""
    if not data or data.endswith(b"\n"):
        return False
    with open(path, "r+b") as f:
        f.truncate(data.rfind(b"\n") + 1)
        f.flush()
        os.fsync(f.fileno())
    return True


def completed_ids(path: str | Path, key: str = "id") -> set[str]:
    """Ids already written to a JSONL output, after cutting a partial last line left by a killed job.

    This is what makes `--resume` exact: finished rows are skipped, the half-written one is redone.
    """
    path = Path(path)
    if not path.exists():
        return set()
    repair_jsonl(path)
    ids = set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                ids.add(str(json.loads(line)[key]))
            except (json.JSONDecodeError, KeyError, TypeError):
                raise RecordError(f"{path}:{lineno}: not a JSON row with {key!r}") from None
    return ids


# ---------------------------------------------------------------------- prediction rows
FLIP = {"A": "B", "B": "A", "tie": "tie"}
_META_FIELDS = ("category", "subset", "vote_type", "group")


def prediction_row(record: Record, result: Any, row_id: str | None = None, swapped: bool = False) -> dict[str, Any]:
    """One line of a predictions file, the schema `judge run`, `bench run` and `bench score` share.

    Ids and order: ``id`` (the record id, ``~swapped`` for the second order of ``--swap both``),
    ``record_id``, ``task``, ``form``, ``source``, ``swapped``. The label as shown: pairs ``label`` (the
    winner, flipped when shown swapped), human per-dimension winners ``dims``; points ``label_score``,
    ``label_scale``. Benchmark fields from ``meta``: category, subset, vote_type, group, members, ranks.
    The judge: pairs ``pred``, ``prob_a``, ``margin`` (2·prob_a − 1), ``probs``, ``pred_dims`` (2.0 shares),
    ``swapped_pred`` (a swap judge's other order); points ``score``, ``scale``, ``normalized``,
    ``pred_dims`` (per-dimension scores). Always ``text`` and ``error``; ``failed: true`` when no answer
    was produced (judged again on resume). The run adds ``judge``, ``mode``, ``family`` and ``swap``.
    """
    row = shown_row(record, row_id, swapped)
    if record.form == Form.PAIR:
        prob_a = getattr(result, "prob_a", None)
        winner = getattr(result, "winner", None)
        row.update(pred=winner if winner in FLIP else None, prob_a=prob_a,
                   margin=None if prob_a is None else 2.0 * float(prob_a) - 1.0, probs=getattr(result, "probs", None),
                   pred_dims=getattr(result, "dims", None) or None)
        other = getattr(result, "swapped", None)
        if other is not None:
            row["swapped_pred"] = other.winner
        produced = row["pred"] is not None
    else:
        value = getattr(result, "value", None)
        row.update(score=value, scale=list(result.scale) if getattr(result, "scale", None) else None,
                   normalized=getattr(result, "normalized", None), pred_dims=getattr(result, "dims", None) or None)
        produced = value is not None
    text, error = getattr(result, "text", "") or "", getattr(result, "error", None)
    row.update(text=text, error=error)
    if not produced and error and not text:
        row["failed"] = True  # no answer was produced (unreadable media, a crash): judged again on resume
    return row


def failed_row(record: Record, row_id: str, swapped: bool, error: str) -> dict[str, Any]:
    """The row of an item for which no answer was produced."""
    empty = {"pred": None, "prob_a": None, "margin": None, "probs": None} if record.form == Form.PAIR \
        else {"score": None, "scale": None, "normalized": None}
    return shown_row(record, row_id, swapped) | empty | {"text": "", "error": error, "failed": True}


def shown_row(record: Record, row_id: str | None, swapped: bool) -> dict[str, Any]:
    """The judge-independent part of a row: ids, order, and the label as shown."""
    row: dict[str, Any] = {"id": row_id or record.id, "record_id": record.id, "task": record.task.value,
                           "form": record.form.value, "source": record.source, "swapped": swapped}
    meta, label = record.meta, record.label or {}
    if record.form == Form.PAIR:
        winner = label.get("winner")
        row["label"] = FLIP[winner] if swapped and winner else winner
    else:
        row.update(label_score=label.get("score"), label_scale=label.get("scale"))
    for key in _META_FIELDS:
        if meta.get(key) is not None:
            row[key] = meta[key]
    if meta.get("dims"):
        row["dims"] = {d: FLIP.get(v, v) if swapped else v for d, v in meta["dims"].items()}
    for key in ("members", "ranks"):
        if meta.get(key) is not None:
            row[key] = list(reversed(meta[key])) if swapped else meta[key]
    return row
