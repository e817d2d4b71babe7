"""Benchmark loaders: each reads a benchmark's real download layout and yields unified pair records.

`BENCHMARKS` is a lazy `Registry` (the shape `unireward.data.sources.SOURCES` shares, from the loader toolkit
`unireward.data.sources.common`): a loader module (and pyarrow) is imported only when its benchmark is used, and
an unknown name raises an error listing the valid ones. Each loader is ``load(data, ctx) -> Iterator[Record]``;
it streams rows with the toolkit's readers and hands each to `LoadContext.each` with a function turning one row
into records, so every loader treats bad rows alike: a malformed row, a missing media file (`MissingMediaError`)
or an unreadable image is reported with the benchmark, the file and the row, and the next row is read; rows
the benchmark's protocol leaves out are counted by kind in ``filtered``. Pick-a-Pic and HPDv2 are loaded by
their training-source modules (`unireward.data.sources.pickapic` / ``.hpdv2``), so each is parsed in one place.

Design choices a user will notice:
- Images embedded in the data are written once under ``<output>/media/<benchmark>/<ab>/<sha256>.<ext>``
  (content-hash names: a re-run rewrites nothing and identical images are stored once), referred to by paths
  relative to ``<output>``. Media that live next to the benchmark (VideoGen-RewardBench videos, HPDv2 images,
  GenAI-Bench videos downloaded under ``--media-root``) are referred to by absolute paths and never copied.
- `convert` checks the split against the benchmark's list before reading anything, keeps the records in memory
  and writes ``records.jsonl`` once they are all read (through a temporary name), so a conversion that stops
  on an unreadable input leaves an earlier ``records.jsonl`` as it was.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from unireward.data.sources.common import (
    Entry,
    Filtered,
    MediaStore,
    MissingMediaError,
    Registry,
    Row,
    RowError,
    as_row_error,
)
from unireward.records import Record, RecordError, write_records


__all__ = ["BENCHMARKS", "ConversionResult", "LoadContext", "MissingMediaError", "RowError", "convert",
           "get_benchmark", "list_benchmarks"]

_B, _D = "unireward.bench.sources.", "unireward.data.sources."
BENCHMARKS = Registry("benchmark", [
    Entry("vl-rewardbench", _B + "vl_rewardbench:load",
          "VL-RewardBench: image understanding pairs (parquet); general / hallucination / reasoning",
          ("test",), "test"),
    Entry("genai-bench-image", _B + "genai_bench:load_image",
          "GenAI-Bench image generation votes (parquet, images embedded)", ("test", "test_v1"), "test"),
    Entry("genai-bench-video", _B + "genai_bench:load_video",
          "GenAI-Bench video generation votes (parquet; video URLs mapped under --media-root)", ("test", "test_v1"),
          "test"),
    Entry("videogen-rewardbench", _B + "videogen_rewardbench:load",
          "VideoGen-RewardBench: CSV + videos/; Overall label, VQ/MQ/TA dimensions", ("eval",), "eval"),
    Entry("mj-bench", _B + "mj_bench:load",
          "MJ-Bench text-to-image judge pairs (parquet); one category per perspective (default: all)",
          ("alignment", "safety", "quality", "bias")),
    Entry("pickapic", _D + "pickapic:load_benchmark", "Pick-a-Pic v2 pairs (parquet, jpg bytes)",
          ("test", "validation", "test_unique", "validation_unique"), "test"),
    Entry("hpdv2", _D + "hpdv2:load_benchmark",
          "HPDv2 test rankings (test.json + images) as all pairs per prompt; inversion score", ("test",), "test"),
])


def list_benchmarks() -> list[str]:
    return list(BENCHMARKS)


def get_benchmark(name: str) -> Entry:
    """The registry entry of benchmark `name` (an unknown name raises an error listing the valid ones)."""
    return BENCHMARKS[name]


def _raise(e: Exception) -> None:
    raise e


@dataclass
class LoadContext:
    """Where a loader writes media and how it reports bad rows.

    out_dir: the folder the records file will live in; extracted media go to ``out_dir/media/<bench>``.
    split: the benchmark split/config to read (the benchmark's default when the user names none).
    media_root: where the user put media that the data only names by URL (GenAI-Bench videos).
    on_error: called with each bad row's `RowError` (or a `SourceError` for a file a loader skips); the default
    raises it. filtered: rows left out by the benchmark's own protocol, by kind.
    """

    out_dir: Path
    bench: str
    split: str | None = None
    media_root: Path | None = None
    on_error: Callable[[Exception], None] = _raise
    filtered: dict[str, int] = field(default_factory=dict)
    _store: MediaStore | None = None

    @property
    def media(self) -> MediaStore:
        if self._store is None:
            self._store = MediaStore(self.out_dir, f"media/{self.bench}")
        return self._store

    def each(self, rows: Iterable[Row], convert: Callable[[Row], list[Record]]) -> Iterator[Record]:
        """The records of each row (`Row.index` counts the rows); a bad row goes to `on_error`, and on to the next."""
        for n, row in enumerate(rows):
            row.index = n
            try:
                if row.error:
                    raise RowError(row.error, "unreadable row")
                records = convert(row)
            except Filtered as e:
                self.filtered[e.kind] = self.filtered.get(e.kind, 0) + 1
                continue
            except Exception as e:
                error = as_row_error(e, f"{self.bench}: {row.where}")
                if error is None:
                    raise
                self.on_error(error)
                continue
            yield from records


@dataclass
class ConversionResult:
    records: list[Record]
    errors: list[Exception] = field(default_factory=list)
    filtered: dict[str, int] = field(default_factory=dict)

    @property
    def missing(self) -> list[MissingMediaError]:
        return [e for e in self.errors if isinstance(e, MissingMediaError)]


def convert(name: str, data: str | Path, out_dir: str | Path, *, split: str | None = None,
            media_root: str | Path | None = None, limit: int | None = None,
            write: bool = True) -> ConversionResult:
    """Load benchmark `name` from `data` into records (media written under `out_dir`), keeping every bad row.

    `limit` stops after that many records. With `write`, the records go to ``out_dir/records.jsonl``.
    Row errors are collected, not raised; the caller decides whether missing media stop the run. An input that
    cannot be read as a whole (no such file, a missing column, not a parquet file) raises `SourceError`.
    """
    bench, out_dir = get_benchmark(name), Path(out_dir)
    if limit is not None and limit <= 0:
        raise ValueError(f"--limit must be positive, got {limit}")
    split = split or bench.default_split
    unknown = [s for s in (split or "").split(",") if s and s.strip() not in bench.splits]
    if unknown:
        raise ValueError(f"{name}: unknown split {split!r}; valid splits: {', '.join(bench.splits)}")
    result = ConversionResult(records=[])
    ctx = LoadContext(out_dir=out_dir, bench=name, split=split, media_root=Path(media_root) if media_root else None,
                      on_error=result.errors.append)
    for rec in bench.load()(Path(data), ctx):
        try:
            rec.validate()
        except RecordError as e:
            result.errors.append(RowError(str(e), "invalid record", f"{name}: record {rec.id}"))
            continue
        result.records.append(rec)
        if limit is not None and len(result.records) >= limit:
            break
    result.filtered = dict(ctx.filtered)
    if write:  # through a temporary name: an interrupted write never leaves a cut records.jsonl
        tmp = out_dir / f".records.jsonl.{os.getpid()}.tmp"
        write_records(tmp, result.records)
        os.replace(tmp, out_dir / "records.jsonl")
    return result
