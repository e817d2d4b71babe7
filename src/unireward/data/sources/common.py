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
import io
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from unireward.data.records import Record
from unireward.media import MAX_DECODE_PIXELS, MediaError, content_hash


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


def existing_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise RowError(f"{what}: file {path} not found", kind="missing media")
    return path


# ----------------------------------------------------------------------------------------------------------
# media


_MAGIC = ((b"\xff\xd8\xff", ".jpg"), (b"\x89PNG", ".png"), (b"GIF8", ".gif"), (b"BM", ".bmp"))
_FORMAT_EXT = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp", "TIFF": ".tif"}


def _sniff(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ".webp"
    return next((ext for magic, ext in _MAGIC if head.startswith(magic)), None)


def check_image(data: bytes, name: str) -> str:
    """Decode `data` fully (truncated or corrupt bytes fail here) and return its file extension."""
    try:
        img = Image.open(io.BytesIO(data))
        w, h = img.size
        if w * h > MAX_DECODE_PIXELS:
            raise MediaError(f"{name}: image is {w}x{h} pixels, over the limit of {MAX_DECODE_PIXELS:,}")
        img.load()
    except MediaError:
        raise
    except UnidentifiedImageError:
        raise MediaError(f"{name}: unreadable image (not a recognised image format)") from None
    except Exception as e:  # OSError for truncated data, DecompressionBombError ...
        raise MediaError(f"{name}: unreadable image ({e})") from None
    return _FORMAT_EXT.get(img.format or "", f".{(img.format or 'img').lower()}")


def check_video(path: Path, name: str) -> None:
    """Open the container and check it has a video stream (no decoding: that happens at export)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{name}: {path} has no video stream")
    except MediaError:
        raise
    except Exception as e:
        raise MediaError(f"{name}: unreadable video {path} ({e})") from None


def write_atomic(target: Path, content: bytes | Path) -> None:
    """Write bytes, or hard-link (else copy) a file, to `target` through a temporary name."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    if isinstance(content, Path):
        try:
            os.link(content, tmp)  # same filesystem: no copy at all
        except OSError:
            shutil.copyfile(content, tmp)
    else:
        tmp.write_bytes(content)
    os.replace(tmp, target)


class MediaStore:
    """Writes media under ``<out>/<prefix>/`` with content-hash names; returns record media items.

    Paths in the returned items are relative to `out` (the folder of records.jsonl). Conversions use the
    prefix ``media/<source>``, exports ``media``.
    """

    def __init__(self, out: Path, prefix: str):
        self.out, self.prefix = Path(out), prefix
        self.written = 0  # new files, for the summary
        self._dirs: set[Path] = set()  # shard folders already created

    def _target(self, digest: str, ext: str) -> tuple[str, Path]:
        rel = f"{self.prefix}/{digest[:2]}/{digest}{ext}"
        return rel, self.out / rel

    def image(self, data: bytes | Path, name: str) -> dict[str, str]:
        """An image from embedded bytes or a file; decoded once to check it (skipped when already stored)."""
        if isinstance(data, Path):
            existing_file(data, name)
            with open(data, "rb") as f:
                head = f.read(16)
            digest = content_hash(data)
        else:
            head, digest = data[:16], content_hash(data)
        ext = _sniff(head)
        if ext:
            rel, path = self._target(digest, ext)
            if path.exists():
                return {"image": rel}
        ext = check_image(data.read_bytes() if isinstance(data, Path) else data, name)
        rel, path = self._target(digest, ext)
        if not path.exists():
            self._write(path, data)
        return {"image": rel}

    def video(self, path: Path, name: str) -> dict[str, str]:
        existing_file(path, name)
        rel, target = self._target(content_hash(path), path.suffix.lower() or ".mp4")
        if not target.exists():
            check_video(path, name)
            self._write(target, path)
        return {"video": rel}

    def frames(self, paths: Iterable[Path], name: str) -> dict[str, list[str]]:
        return {"frames": [self.image(p, f"{name} frame {i}")["image"] for i, p in enumerate(paths)]}

    def _write(self, target: Path, content: bytes | Path) -> None:
        if target.parent not in self._dirs:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(target.parent)
        write_atomic(target, content)
        self.written += 1
