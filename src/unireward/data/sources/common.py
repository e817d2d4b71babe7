"""What every source adapter shares: the adapter contract, streaming readers, the media writer, field checks.

Design choices a user will notice:
- Readers stream. Parquet is read one record batch at a time with pyarrow (memory is bounded by a row group,
  never by the file); JSONL line by line; JSON lists item by item with an incremental decoder, so a 600k-item
  `train.json` is never loaded whole.
- Row positions in messages are those of the file: parquet ``row 17`` and JSON list ``item 17`` are 0-based
  (as ``datasets``' ``ds[17]``), JSONL ``line 18`` is 1-based (as an editor shows it).
- Media are written under ``media/<source>/<ab>/<sha256>.<ext>``, named by the sha256 of their bytes
  (`unireward.media.content_hash`), so the same image met twice is stored once and a re-run writes nothing
  new. Embedded image bytes are checked by decoding them before they are written; files on disk are
  hard-linked when possible (same filesystem), copied otherwise. Writes go through a temporary name, so a
  killed job never leaves a half-written file under a final name.
- Pairs whose source order carries the label (chosen/rejected, winner/loser) are placed as A or B by a hash
  of the record id: winners come out balanced between positions without a seed, and the same input always
  gives the same records. Sources whose order is neutral (HPD, Pick-a-Pic) keep their order.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unireward.records import Record

# The media writer is shared with the benchmark loaders and the exports; re-exported for the adapters.
from unireward.media_store import MediaStore


IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif")


class SourceError(ValueError):
    """The input as a whole cannot be read (missing file, wrong layout); the conversion stops."""


class RowError(ValueError):
    """One row cannot be converted; it is reported (with its position) and skipped, the rest converts.

    kind: a short category used to count skipped rows in the summary ("missing field", "invalid value" ...).
    """

    def __init__(self, message: str, kind: str = "invalid value"):
        super().__init__(message)
        self.kind = kind


@dataclass
class Row:
    """One item of a source file. `where` names it in messages; `pos` is its position in `file`."""

    file: Path
    where: str
    pos: int
    data: Any
    error: str | None = None  # set by a reader when the item itself is unreadable (invalid JSON line)
    index: int = -1  # 0-based position over the whole input, set by the runner (what --limit counts)


class Adapter:
    """A public source. Subclasses read rows (`rows`) and turn one row into records (`convert`).

    `finish` yields records built from several rows once all rows are read (EvalMuse pairs, LiFT videos
    with a missing dimension); each item is ``(where, records)``.
    """

    name: str = ""

    def rows(self, src: Path) -> Iterator[Row]:
        raise NotImplementedError

    def convert(self, row: Row, media: MediaStore) -> list[Record]:
        raise NotImplementedError

    def finish(self, media: MediaStore) -> Iterator[tuple[str, list[Record]]]:
        return iter(())


# ----------------------------------------------------------------------------------------------------------
# readers


def require_module(module: str, extra: str):
    """Import an optional dependency, or fail with the pip extra that provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{module} is needed here: pip install 'unireward[{extra}]'") from None


def find_files(src: Path, pattern: str) -> list[Path]:
    """`src` itself if it is a file, else the files matching `pattern` under it (sorted); never empty."""
    if src.is_file():
        return [src]
    if not src.is_dir():
        raise SourceError(f"{src}: no such file or folder")
    files = sorted(p for p in src.rglob(pattern) if p.is_file())
    if not files:
        raise SourceError(f"{src}: no {pattern} files found")
    return files


def _existing(files: Sequence[Path]) -> Sequence[Path]:
    for path in files:
        if not path.is_file():
            raise SourceError(f"{path}: file not found")
    return files


def _rel(path: Path, src: Path) -> str:
    return str(path.relative_to(src)) if src.is_dir() and path.is_relative_to(src) else path.name


def parquet_rows(src: Path, required: Sequence[str], optional: Sequence[str] = (), batch_size: int = 64,
                 files: Sequence[Path] | None = None) -> Iterator[Row]:
    """Rows of every parquet file under `src`, one record batch in memory at a time.

    A file lacking a required column is a `SourceError` (the layout is wrong, not one row); optional columns
    that a file lacks read as missing values.
    """
    pq = require_module("pyarrow.parquet", "data")
    for path in _existing(files) if files else find_files(src, "*.parquet"):
        pf = pq.ParquetFile(path)
        names = set(pf.schema_arrow.names)
        missing = [c for c in required if c not in names]
        if missing:
            raise SourceError(f"{path}: missing column(s) {missing}; found {sorted(names)}")
        columns = list(required) + [c for c in optional if c in names]
        where, pos = _rel(path, src), 0
        for batch in pf.iter_batches(batch_size=batch_size, columns=columns):
            for item in batch.to_pylist():
                yield Row(path, f"{where} row {pos}", pos, item)
                pos += 1


def jsonl_rows(src: Path, files: Sequence[Path] | None = None) -> Iterator[Row]:
    """Rows of JSONL files, line by line; an invalid line becomes a row with `error` set."""
    for path in _existing(files) if files else find_files(src, "*.jsonl"):
        where = _rel(path, src)
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    yield Row(path, f"{where} line {lineno}", lineno, json.loads(line))
                except json.JSONDecodeError as e:
                    yield Row(path, f"{where} line {lineno}", lineno, None, error=f"invalid JSON ({e.msg})")


def json_list_rows(src: Path, files: Sequence[Path] | None = None) -> Iterator[Row]:
    """Rows of files holding one JSON list each, item by item."""
    for path in _existing(files) if files else find_files(src, "*.json"):
        where = _rel(path, src)
        for pos, item in enumerate(iter_json_list(path)):
            yield Row(path, f"{where} item {pos}", pos, item)


_CHUNK = 1 << 20


def iter_json_list(path: Path) -> Iterator[Any]:
    """Stream the items of a file holding one JSON list, without loading the file whole.

    The items are decoded one at a time from a sliding text buffer (`json.JSONDecoder.raw_decode`). A syntax
    error stops the file with a `SourceError` naming the item: what follows it cannot be trusted.
    """
    decoder = json.JSONDecoder()
    with open(path, encoding="utf-8") as f:
        buf, pos, eof = "", 0, False

        def fill(size: int = _CHUNK) -> None:
            nonlocal buf, pos, eof
            more = f.read(size)
            eof = not more
            buf, pos = buf[pos:] + more, 0

        def peek() -> str:
            nonlocal pos
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n":
                    pos += 1
                if pos < len(buf) or eof:
                    return buf[pos] if pos < len(buf) else ""
                fill()

        fill()
        if peek() != "[":
            raise SourceError(f"{path}: expected a JSON list, found {peek()[:1]!r} at the start")
        pos += 1
        n = 0
        while True:
            c = peek()
            if c == "]":
                return
            if n and c != ",":
                raise SourceError(f"{path}: expected ',' or ']' after item {n - 1}, found {c!r}")
            if n:
                pos += 1
                peek()
            size = _CHUNK
            while True:
                try:
                    item, end = decoder.raw_decode(buf, pos)
                    if end < len(buf) or eof:  # a number at the buffer's end may continue in the next chunk
                        break
                except json.JSONDecodeError as e:
                    if eof:
                        raise SourceError(f"{path}: invalid JSON in item {n} ({e.msg})") from None
                size *= 2  # an item larger than the buffer: read more, in growing steps
                fill(size)
            pos = end
            yield item
            n += 1


# ----------------------------------------------------------------------------------------------------------
# field checks


def need(d: dict, key: str) -> Any:
    """The value of a required field; a missing or null field is a `RowError` naming it."""
    if not isinstance(d, dict):
        raise RowError(f"expected an object, got {type(d).__name__}", kind="invalid row")
    if d.get(key) is None:
        raise RowError(f"missing field '{key}'", kind="missing field")
    return d[key]


def need_text(d: dict, key: str) -> str:
    value = need(d, key)
    if not isinstance(value, str) or not value.strip():
        raise RowError(f"field '{key}' must be a non-empty string, got {value!r:.60}", kind="invalid value")
    return value.strip()


def image_bytes(d: dict, key: str) -> bytes:
    """Embedded image bytes from an HF ``Image`` struct ``{"bytes", "path"}`` or a raw binary column."""
    value = need(d, key)
    if isinstance(value, dict):
        if value.get("bytes") is None:
            raise RowError(f"field '{key}' has no embedded image bytes (path {value.get('path')!r})",
                           kind="missing field")
        value = value["bytes"]
    if not isinstance(value, (bytes, bytearray)) or not value:
        raise RowError(f"field '{key}' is not image bytes ({type(value).__name__})", kind="invalid value")
    return bytes(value)


def pair_order(key: str, chosen: Any, rejected: Any) -> tuple[Any, Any, str]:
    """(A, B, winner) with the chosen item placed by a hash of `key` (balanced, deterministic, seedless)."""
    if hashlib.sha256(key.encode()).digest()[0] % 2 == 0:
        return chosen, rejected, "A"
    return rejected, chosen, "B"


def natural_key(path: Path) -> list:
    """Sort key that orders frame_2 before frame_10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def frame_files(folder: Path) -> list[Path]:
    """The image files of a frame folder, in natural order; a missing or empty folder is a `RowError`."""
    if not folder.is_dir():
        raise RowError(f"frame folder {folder} not found", kind="missing media")
    frames = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS), key=natural_key)
    if not frames:
        raise RowError(f"frame folder {folder} holds no images", kind="missing media")
    return frames


