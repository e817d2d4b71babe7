"""Prompts and candidates: the two values that flow through construction.

Prompt files (``--prompts``):
- ``.jsonl``: one object per line with ``prompt`` (or ``caption`` / ``question``), an optional ``id``, and
  for understanding tasks the shared ``image`` or ``video`` path (or ``media``: a path or a unified-record
  list such as ``[{"image": "img.png"}]``). Paths are relative to the file's folder.
- anything else (``.txt``): one prompt per line, blank lines skipped; generation tasks only.

Design choices a user will notice:
- A prompt without an ``id`` gets one from its content (a hash of the prompt text and media path), not from
  its line number, so inserting lines into the file does not shift which outputs belong to which prompt
  when a job is resumed. Repeated prompts get ``#2``, ``#3`` ... suffixes; repeated explicit ids are an error.
- A bad line (invalid JSON, no prompt, a missing media file, no media for an understanding task) is
  reported with its line number and skipped; the rest of the file is used.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unireward.tasks import Task


PROMPT_KEYS = ("prompt", "caption", "question")


@dataclass
class PromptItem:
    """One prompt: its id, position in the prompts file, text, and the shared media of understanding tasks."""

    id: str
    prompt: str
    position: int
    media: str | None = None  # an absolute path

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "prompt": self.prompt, "position": self.position, "media": self.media}


@dataclass
class Candidate:
    """One sample of the generator: an answer text (understanding) or a media file (generation)."""

    index: int
    text: str | None = None
    path: str | None = None  # absolute while in memory; stored relative to the store's folder
    hash: str = ""
    seed: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def value(self) -> str:
        """What the judge is given: the answer text or the media path."""
        return self.text if self.text is not None else self.path  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "text": self.text, "path": self.path, "hash": self.hash, "seed": self.seed,
                "meta": self.meta}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Candidate:
        return cls(**d)


def text_hash(text: str) -> str:
    return hashlib.sha256(b"text:" + text.encode()).hexdigest()


def safe_name(prompt_id: str) -> str:
    """A folder name for a prompt's media: readable, filesystem-safe, and unique (a hash of the id)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", prompt_id)[:40].strip("._") or "p"
    return f"{stem}-{hashlib.sha256(prompt_id.encode()).hexdigest()[:8]}"


def read_prompts(path: str | Path, task: Task | str) -> tuple[list[PromptItem], list[str]]:
    """The prompts of a file, and an error message for each line that could not be used."""
    path, task = Path(path), Task.parse(task)
    if not path.is_file():
        raise FileNotFoundError(f"prompts file not found: {path}")
    items: list[PromptItem] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    explicit: set[str] = set()
    lines = path.read_text(encoding="utf-8").splitlines()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = _parse_line(line, path)
            item = _item(raw, task, path.parent, len(items))
        except ValueError as e:
            errors.append(f"{path.name} line {lineno}: {e}")
            continue
        if "id" in raw:
            if item.id in explicit:
                errors.append(f"{path.name} line {lineno}: duplicate id {item.id!r}")
                continue
            explicit.add(item.id)
        else:
            seen[item.id] = seen.get(item.id, 0) + 1
            if seen[item.id] > 1:
                item.id = f"{item.id}#{seen[item.id]}"
        items.append(item)
    return items, errors


def _parse_line(line: str, path: Path) -> dict[str, Any]:
    if path.suffix != ".jsonl":
        return {"prompt": line.strip()}
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"invalid JSON ({e.msg})") from None
    if not isinstance(raw, dict):
        raise ValueError("expected a JSON object")
    return raw


def _item(raw: dict[str, Any], task: Task, base: Path, position: int) -> PromptItem:
    prompt = next((raw[k] for k in PROMPT_KEYS if k in raw), None)
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError(f"no prompt (expected a non-empty string under one of {', '.join(PROMPT_KEYS)})")
    media = None
    if not task.is_generation:
        media = _media_path(raw, task, base)
    ident = raw.get("id")
    if ident is None:
        ident = hashlib.sha256(f"{prompt}\x00{media or ''}".encode()).hexdigest()[:16]
    return PromptItem(id=str(ident), prompt=prompt, position=position, media=media)


def _media_path(raw: dict[str, Any], task: Task, base: Path) -> str:
    kind = task.modality
    value = raw.get(kind, raw.get("media"))
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        value = value[0].get(kind)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{task} needs the shared {kind}: give '{kind}' (a path) or 'media'")
    p = Path(value) if Path(value).is_absolute() else base / value
    if not p.is_file():
        raise ValueError(f"{kind} not found: {p}")
    return str(p.resolve())
