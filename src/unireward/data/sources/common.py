"""The loader toolkit shared by the training-source adapters (`unireward.data.sources`) and the benchmark loaders
(`unireward.bench.sources`): one registry shape, one set of errors, streaming readers, field checks.

Why here: `data/sources` is where public datasets are read. Benchmarks are public datasets too, and two of them
(Pick-a-Pic, HPDv2) are also training sources whose row parsing lives in their `data/sources` module, so the
benchmark loaders already build on this package; a second toolkit under `bench/` is what this module replaced.

Design choices a user will notice:
- Registries are lazy (as lm-eval's task registry): a name maps to ``"module:attribute"`` and the module is
  imported only when that dataset is used, so listing is instant and a broken optional dependency affects only
  its own dataset. An unknown name raises `UnknownNameError` listing the valid names.
- Errors: `SourceError` when the input as a whole cannot be read (missing file, wrong layout, a parquet file
  that is not one); it names the file and stops the job. `RowError` when one item cannot be converted: it
  carries `where` (file and row), `kind` (a short category counted in summaries) and `reason`; the job reports
  it and goes on. `MissingMediaError` is the `RowError` for a media file that is not on disk (`path` says where
  it was looked for); it is also a `unireward.media.MissingMediaError`. `Filtered` is a row the dataset's own
  protocol leaves out (Pick-a-Pic rows without a label): counted by kind, never dropped silently.
- Readers stream. Parquet is read one row group at a time and one record batch in memory (memory is bounded
  by a batch, never by the file); a row group whose pages cannot be decoded becomes one unreadable row per row
  it holds, named by file, row group and row, and the next row groups are still read. JSONL is read line by
  line; JSON lists item by item with an incremental decoder, so a 600k-item ``train.json`` is never loaded
  whole; CSV row by row.
- Row positions in messages are those of the file: parquet ``row 17``, JSON list ``item 17`` and CSV
  ``row 17`` (header excluded) are 0-based (as ``datasets``' ``ds[17]``), JSONL ``line 18`` is 1-based (as an
  editor shows it).
- Pairs whose source order carries the label (chosen/rejected, winner/loser) are placed as A or B by a hash
  of the record id (`pair_order`): winners come out balanced between positions without a seed, and the same
  input always gives the same records. Sources whose order is neutral (HPD, Pick-a-Pic) keep their order.
- Media are written by `unireward.media_store.MediaStore` (content-hash names, checked before writing).
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unireward import media as _media
from unireward.media_store import MediaStore  # re-exported for the adapters and the exports
from unireward.records import Record, RecordError


__all__ = ["Adapter", "Entry", "Filtered", "MediaStore", "MissingMediaError", "Registry", "Row",
           "RowError", "SourceError", "UnknownNameError", "as_row_error", "csv_rows", "find_files", "find_media",
           "frame_files", "image_bytes", "iter_json_list", "json_list_rows", "jsonl_rows", "need", "need_text",
           "pair_order", "parquet_rows", "require_module"]

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif")


# ----------------------------------------------------------------------------------------------------------
# errors


class SourceError(ValueError):
    """The input as a whole cannot be read (missing file, wrong layout, not a parquet file); the job stops."""


class RowError(ValueError):
    """One item cannot be converted; it is reported (with `where` it is) and skipped, the rest converts.

    reason: the problem; kind: a short category counted in summaries ("missing field", "invalid value" ...);
    where: the file and row ("data/train-00000.parquet row 17"), set by whoever knows it. ``str()`` is
    ``"<where>: <reason>"``.
    """

    def __init__(self, reason: str, kind: str = "invalid value", where: str = ""):
        super().__init__(reason)
        self.reason, self.kind, self.where = reason, kind, where

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}" if self.where else self.reason


class Filtered(RowError):
    """A row the dataset's own protocol leaves out (e.g. Pick-a-Pic ``has_label`` false): counted by `kind`."""


class MissingMediaError(RowError, _media.MissingMediaError):
    """Media files an item refers to are not on disk: `paths` (one or more; `path` is the first), where each was
    looked for first."""

    def __init__(self, reason: str, path: str | Path | Sequence[str | Path] = "", where: str = ""):
        RowError.__init__(self, reason, "missing media", where)
        self.paths = [str(p) for p in ([path] if isinstance(path, (str, Path)) else path)]
        self.path = self.paths[0] if self.paths else ""


def as_row_error(e: Exception, where: str) -> RowError | None:
    """`e` as the `RowError` of the item at `where` (its kind: "unreadable media", "invalid record" ...); None when
    `e` is not about one item (a `SourceError`, an interrupt). A `TypeError`, `KeyError`, `AttributeError` or
    `IndexError` is taken as a value of a shape the adapter did not expect: the item is reported ("invalid row",
    with the exception), not the job stopped."""
    if isinstance(e, RowError):
        e.where = e.where or where
        return e
    if isinstance(e, _media.MissingMediaError):
        return MissingMediaError(str(e), where=where)
    if isinstance(e, _media.MediaError):
        return RowError(str(e), "unreadable media", where)
    if isinstance(e, RecordError):
        return RowError(str(e), "invalid record", where)
    if isinstance(e, (TypeError, KeyError, AttributeError, IndexError)):
        return RowError(f"unexpected value ({type(e).__name__}: {e})", "invalid row", where)
    return None


class UnknownNameError(KeyError, ValueError):
    """A name that is not in a registry; the message lists the valid names."""

    def __str__(self) -> str:
        return str(self.args[0])


# ----------------------------------------------------------------------------------------------------------
# registry


@dataclass(frozen=True)
class Entry:
    """One registered dataset. target: ``"module:attribute"``, imported by `load` on first use."""

    name: str
    target: str
    description: str = ""
    splits: tuple[str, ...] = ()
    default_split: str | None = None  # None: every split (or the dataset has none)

    def load(self) -> Any:
        module, attr = self.target.split(":")
        return getattr(importlib.import_module(module), attr)


class Registry(dict[str, Entry]):
    """Entries by name; ``registry[name]`` of an unknown name raises `UnknownNameError` listing the valid ones."""

    def __init__(self, kind: str, entries: Iterable[Entry]):
        super().__init__((e.name, e) for e in entries)
        self.kind = kind

    def __missing__(self, name: str) -> Entry:
        raise UnknownNameError(f"unknown {self.kind} {name!r}; valid: {', '.join(self)}")


# ----------------------------------------------------------------------------------------------------------
# the training-source adapter contract


@dataclass
class Row:
    """One item of a source file. `where` names it in messages; `pos` is its position in `file`."""

    file: Path
    where: str
    pos: int
    data: Any
    error: str | None = None  # set by a reader when the item itself is unreadable (invalid JSON line, bad page)
    index: int = -1  # 0-based position over the whole input, set by the runner (what --limit counts)


class Adapter:
    """A public training source. Subclasses read rows (`rows`) and turn one row into records (`convert`).

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
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{module} is needed here: pip install 'unireward[{extra}]'") from None


def find_files(src: Path, patterns: str | Sequence[str], what: str = "") -> list[Path]:
    """`src` itself if it is a file, else the files under it matching the first pattern that matches any (sorted,
    ``**/`` recurses); never empty."""
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    if src.is_file():
        return [src]
    if not src.is_dir():
        raise SourceError(f"{src}: no such file or folder")
    for pattern in patterns:
        files = sorted(p for p in src.glob(pattern) if p.is_file())
        if files:
            return files
    raise SourceError(f"{src}: no {what or 'input'} files found (looked for {', '.join(patterns)})")


def _existing(files: Sequence[Path]) -> Sequence[Path]:
    for path in files:
        if not path.is_file():
            raise SourceError(f"{path}: file not found")
    return files


def _rel(path: Path, src: Path) -> str:
    return str(path.relative_to(src)) if src.is_dir() and path.is_relative_to(src) else path.name


def parquet_file(path: Path):
    """A `pyarrow.parquet.ParquetFile`, or a `SourceError` naming the file when it is not a readable one."""
    pq = require_module("pyarrow.parquet", "data")
    try:
        return pq.ParquetFile(path)
    except Exception as e:  # ArrowInvalid (truncated, not parquet), OSError (corrupt footer)
        raise SourceError(f"{path}: not a readable parquet file ({e})") from None


def parquet_rows(src: Path, required: Sequence[str], optional: Sequence[str] = (), batch_size: int = 64,
                 files: Sequence[Path] | None = None) -> Iterator[Row]:
    """Rows of every parquet file under `src` (or of `files`), one record batch in memory at a time.

    A file lacking a required column is a `SourceError` (the layout is wrong, not one row); optional columns
    that a file lacks read as missing values. A row group whose data cannot be decoded (a corrupt page) gives
    an unreadable `Row` for each of its rows not yet read, and the next row group is read.
    """
    for path in _existing(files) if files else find_files(src, "**/*.parquet", "parquet"):
        pf = parquet_file(path)
        names = set(pf.schema_arrow.names)
        missing = [c for c in required if c not in names]
        if missing:
            raise SourceError(f"{path}: missing column(s) {missing}; found {sorted(names)}")
        columns = list(required) + [c for c in optional if c in names]
        where, start = _rel(path, src), 0
        for group in range(pf.metadata.num_row_groups):
            pos, end = start, start + pf.metadata.row_group(group).num_rows
            try:
                for batch in pf.iter_batches(batch_size=batch_size, columns=columns, row_groups=[group]):
                    for item in batch.to_pylist():
                        yield Row(path, f"{where} row {pos}", pos, item)
                        pos += 1
            except Exception as e:  # pyarrow raises OSError / ArrowInvalid for corrupt pages, without the file
                error = f"unreadable parquet data in row group {group} (rows {start}-{end - 1}): {e}".strip()
                for p in range(pos, end):
                    yield Row(path, f"{where} row {p}", p, None, error=error)
            start = end


def parquet_columns(path: Path) -> list[str]:
    return list(parquet_file(path).schema_arrow.names)


def jsonl_rows(src: Path, files: Sequence[Path] | None = None) -> Iterator[Row]:
    """Rows of JSONL files, line by line; an invalid line becomes a row with `error` set."""
    for path in _existing(files) if files else find_files(src, "**/*.jsonl", "JSONL"):
        where = _rel(path, src)
        with open(path, "rb") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    yield Row(path, f"{where} line {lineno}", lineno, json.loads(line.decode("utf-8")))
                except UnicodeDecodeError as e:
                    yield Row(path, f"{where} line {lineno}", lineno, None, error=f"not UTF-8 text ({e.reason})")
                except json.JSONDecodeError as e:
                    yield Row(path, f"{where} line {lineno}", lineno, None, error=f"invalid JSON ({e.msg})")


def json_list_rows(src: Path, files: Sequence[Path] | None = None) -> Iterator[Row]:
    """Rows of files holding one JSON list each, item by item."""
    for path in _existing(files) if files else find_files(src, "**/*.json", "JSON"):
        where = _rel(path, src)
        for pos, item in enumerate(iter_json_list(path)):
            yield Row(path, f"{where} item {pos}", pos, item)


def csv_rows(src: Path, required: Sequence[str], files: Sequence[Path] | None = None) -> Iterator[Row]:
    """Rows of CSV files (header first) as dicts; a file lacking a required column is a `SourceError`."""
    for path in _existing(files) if files else find_files(src, "**/*.csv", "CSV"):
        where = _rel(path, src)
        with open(path, newline="", encoding="utf-8") as f:
            try:
                reader = csv.DictReader(f)
                missing = [c for c in required if c not in (reader.fieldnames or [])]
                if missing:
                    raise SourceError(f"{path}: missing column(s) {missing}; found {reader.fieldnames}")
                for pos, item in enumerate(reader):
                    yield Row(path, f"{where} row {pos}", pos, item)
            except (csv.Error, UnicodeDecodeError) as e:
                raise SourceError(f"{path}: unreadable CSV near line {reader.line_num} ({e})") from None


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
            try:
                more = f.read(size)
            except UnicodeDecodeError as e:
                raise SourceError(f"{path}: not UTF-8 text ({e})") from None
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
# field checks and media lookups


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
    if not isinstance(value, (bytes, bytearray, memoryview)) or not len(value):
        raise RowError(f"field '{key}' is not image bytes ({type(value).__name__})", kind="invalid value")
    return bytes(value)


def find_media(rel: str, roots: Sequence[Path], what: str = "file", hint: str = "") -> Path:
    """The first ``root / rel`` that is a file, or a `MissingMediaError` listing every place tried."""
    tried = [root / rel for root in roots]
    found = next((p for p in tried if p.is_file()), None)
    if found is None:
        raise MissingMediaError(f"{what} {rel} not found (tried {', '.join(map(str, tried))})"
                                + (f"; {hint}" if hint else ""), tried[0])
    return found


def pair_order(key: str, chosen: Any, rejected: Any) -> tuple[Any, Any, str]:
    """(A, B, winner) with the chosen item placed by a hash of `key` (balanced, deterministic, seedless)."""
    if hashlib.sha256(key.encode()).digest()[0] % 2 == 0:
        return chosen, rejected, "A"
    return rejected, chosen, "B"


def natural_key(path: Path) -> list:
    """Sort key that orders frame_2 before frame_10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def frame_files(folder: Path) -> list[Path]:
    """The image files of a frame folder, in natural order; a missing or empty folder is a `MissingMediaError`."""
    if not folder.is_dir():
        raise MissingMediaError(f"frame folder {folder} not found", folder)
    frames = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS), key=natural_key)
    if not frames:
        raise MissingMediaError(f"frame folder {folder} holds no images", folder)
    return frames
