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
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: Any, where: str = "record") -> Record:
        if not isinstance(d, dict):
            raise RecordError(f"{where}: expected a JSON object, got {type(d).__name__}")
        for key in ("id", "task", "form", "candidates"):
            if key not in d:
                raise RecordError(f"{where}: missing field '{key}'")
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
        if score is not None and (not isinstance(score, (int, float)) or math.isnan(score)):
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
        line = obj.to_json() if isinstance(obj, Record) else json.dumps(obj, ensure_ascii=False)
        self._f.write(line + "\n")
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


def completed_ids(path: str | Path, key: str = "id") -> set[str]:
    """Ids already written to a JSONL output, after cutting a partial last line left by a killed job.

    This is what makes `--resume` exact: finished rows are skipped, the half-written one is redone.
    """
    path = Path(path)
    if not path.exists():
        return set()
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with open(path, "r+b") as f:
            f.truncate(cut)
            f.flush()
            os.fsync(f.fileno())
        data = data[:cut]
    ids = set()
    for line in data.decode("utf-8").splitlines():
        if line.strip():
            ids.add(str(json.loads(line)[key]))
    return ids
