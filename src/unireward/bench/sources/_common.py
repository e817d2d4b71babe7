"""What every benchmark loader shares: the load context, errors, parquet reading and media extraction.

Design choices a user will notice:
- Images embedded in parquet files are written once under ``<output>/media/<benchmark>/<ab>/<sha256>.<ext>``
  (content-hash names, so re-running a conversion rewrites nothing and identical images are stored once);
  the records refer to them by paths relative to ``<output>``.
- Media that live next to the benchmark (VideoGen-RewardBench videos, HPDv2 images, GenAI-Bench videos
  downloaded under ``--media-root``) are referred to by absolute paths and are never copied.
- A malformed row raises `BenchDataError` naming the benchmark, the file, the row and the field; a media
  file that is not there raises `MissingMediaError`. Loaders hand both to ``ctx.on_error`` and go on, so a
  conversion reports every bad row at once instead of stopping at the first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unireward.media import MediaError
from unireward.media_store import MediaStore


class BenchDataError(ValueError):
    """A benchmark row (or file) cannot be converted; the message names the item and the problem."""

    def __init__(self, message: str, item: str = ""):
        super().__init__(message)
        self.item = item


class MissingMediaError(BenchDataError):
    """A media file a row refers to is not on disk; `path` is where it was looked for."""

    def __init__(self, message: str, item: str = "", path: str = ""):
        super().__init__(message, item)
        self.path = path


def _raise(e: BenchDataError) -> None:
    raise e


@dataclass
class LoadContext:
    """Where a loader writes media and how it reports bad rows.

    out_dir: the folder the records file will live in; extracted media go to ``out_dir/media/<bench>``.
    split: the benchmark split/config to read (None: the loader's default).
    media_root: where the user put media that the data only names by URL (GenAI-Bench videos).
    on_error: called with each `BenchDataError`; the default raises it.
    filtered: rows left out by the benchmark's own protocol (e.g. Pick-a-Pic rows without a label), by reason.
    """

    out_dir: Path
    bench: str
    split: str | None = None
    media_root: Path | None = None
    on_error: Callable[[BenchDataError], None] = _raise
    filtered: dict[str, int] = field(default_factory=dict)
    _store: MediaStore | None = None

    def skip(self, reason: str) -> None:
        """Count a row left out on purpose by the benchmark's protocol (reported, never silent)."""
        self.filtered[reason] = self.filtered.get(reason, 0) + 1

    def save_image(self, data: Any, where: str) -> str:
        """Write encoded image bytes under the media folder; return the path relative to `out_dir`."""
        if self._store is None:
            self._store = MediaStore(self.out_dir, f"media/{self.bench}")
        try:
            return self._store.image(image_bytes(data, where), where)["image"]
        except MediaError as e:
            raise BenchDataError(f"{where}: embedded bytes are not a readable image ({e})", where) from None


def image_bytes(value: Any, where: str) -> bytes:
    """The encoded bytes of an HF `Image` cell ({"bytes", "path"}) or of a raw binary cell."""
    if isinstance(value, dict):
        value = value.get("bytes")
    if isinstance(value, (bytes, bytearray, memoryview)) and len(value) > 0:
        return bytes(value)
    raise BenchDataError(f"{where}: expected embedded image bytes, got {_describe(value)}", where)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, (bytes, bytearray)):
        return f"{len(value)} bytes"
    return f"{type(value).__name__} {str(value)[:60]!r}"


def require_pyarrow():
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("reading parquet benchmarks needs pyarrow: pip install 'unireward[data]'") from None
    return pq


def parquet_rows(path: Path, columns: list[str] | None = None, batch_size: int = 64) -> Iterator[dict[str, Any]]:
    """Stream the rows of a parquet file as dicts, a few at a time (image columns can be large)."""
    pq = require_pyarrow()
    pf = pq.ParquetFile(path)
    for batch in pf.iter_batches(batch_size=batch_size, columns=columns):
        yield from batch.to_pylist()


def parquet_columns(path: Path) -> list[str]:
    pq = require_pyarrow()
    return list(pq.ParquetFile(path).schema_arrow.names)


def check_columns(path: Path, needed: tuple[str, ...], bench: str) -> None:
    """Raise a `BenchDataError` naming the file and the missing columns, listing what the file has."""
    have = parquet_columns(path)
    missing = [c for c in needed if c not in have]
    if missing:
        raise BenchDataError(f"{bench}: {path}: missing column(s) {missing}; the file has {have}", str(path))


def find_files(data: Path, patterns: list[str], bench: str, what: str) -> list[Path]:
    """`data` itself when it is a file, else the files under it matching the first pattern that matches."""
    if data.is_file():
        return [data]
    if not data.is_dir():
        raise FileNotFoundError(f"{bench}: --data {data} does not exist")
    for pat in patterns:
        found = sorted(data.glob(pat))
        if found:
            return found
    raise FileNotFoundError(f"{bench}: no {what} under {data} (looked for {', '.join(patterns)})")


def existing_file(path: Path, item: str, bench: str, hint: str = "") -> str:
    """The absolute path of a media file, or a `MissingMediaError` naming the item and the path."""
    if path.is_file():
        return str(path.resolve())
    msg = f"{bench}: {item}: media file not found: {path}" + (f" ({hint})" if hint else "")
    raise MissingMediaError(msg, item, str(path))
