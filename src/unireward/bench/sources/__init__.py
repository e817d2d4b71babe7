"""Benchmark loaders: each reads a benchmark's real download layout and yields unified pair records.

The registry is lazy: a loader module (and pyarrow) is imported only when its benchmark is used.
`get_benchmark` raises an error listing the valid names. Each loader is ``load(data, ctx) -> Iterator[Record]``
(see `LoadContext`); `convert` runs one, writes ``records.jsonl`` and collects every bad row.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from unireward.bench.sources._common import BenchDataError, LoadContext, MissingMediaError
from unireward.records import Record, RecordError, write_records


__all__ = ["BENCHMARKS", "Benchmark", "BenchDataError", "ConversionResult", "LoadContext", "MissingMediaError",
           "convert", "get_benchmark", "list_benchmarks"]


@dataclass(frozen=True)
class Benchmark:
    name: str
    target: str  # "module:function"
    splits: tuple[str, ...]
    description: str
    default_split: str | None = None  # None: every split (MJ-Bench perspectives)

    @property
    def loader(self) -> Callable[[Path, LoadContext], Iterator[Record]]:
        module, func = self.target.split(":")
        return getattr(importlib.import_module(f"unireward.bench.sources.{module}"), func)


BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in [
    Benchmark("vl-rewardbench", "vl_rewardbench:load", ("test",),
              "VL-RewardBench: image understanding pairs (parquet); general / hallucination / reasoning", "test"),
    Benchmark("genai-bench-image", "genai_bench:load_image", ("test", "test_v1"),
              "GenAI-Bench image generation votes (parquet, images embedded)", "test"),
    Benchmark("genai-bench-video", "genai_bench:load_video", ("test", "test_v1"),
              "GenAI-Bench video generation votes (parquet; video URLs mapped under --media-root)", "test"),
    Benchmark("videogen-rewardbench", "videogen_rewardbench:load", ("eval",),
              "VideoGen-RewardBench: CSV + videos/; Overall label, VQ/MQ/TA dimensions", "eval"),
    Benchmark("mj-bench", "mj_bench:load", ("alignment", "safety", "quality", "bias"),
              "MJ-Bench text-to-image judge pairs (parquet); one category per perspective (default: all)"),
    Benchmark("pickapic", "pickapic:load", ("test", "validation", "test_unique", "validation_unique"),
              "Pick-a-Pic v2 pairs (parquet, jpg bytes)", "test"),
    Benchmark("hpdv2", "hpdv2:load", ("test",),
              "HPDv2 test rankings (test.json + images) as all pairs per prompt; inversion score", "test"),
]}


def list_benchmarks() -> list[str]:
    return list(BENCHMARKS)


def get_benchmark(name: str) -> Benchmark:
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; valid: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]


@dataclass
class ConversionResult:
    records: list[Record]
    errors: list[BenchDataError] = field(default_factory=list)
    filtered: dict[str, int] = field(default_factory=dict)

    @property
    def missing(self) -> list[MissingMediaError]:
        return [e for e in self.errors if isinstance(e, MissingMediaError)]


def convert(name: str, data: str | Path, out_dir: str | Path, *, split: str | None = None,
            media_root: str | Path | None = None, limit: int | None = None,
            write: bool = True) -> ConversionResult:
    """Load benchmark `name` from `data` into records (media written under `out_dir`), keeping every bad row.

    `limit` stops after that many records. With `write`, the records go to ``out_dir/records.jsonl``.
    Errors are collected, not raised; the caller decides whether missing media stop the run.
    """
    bench, out_dir = get_benchmark(name), Path(out_dir)
    result = ConversionResult(records=[])
    ctx = LoadContext(out_dir=out_dir, bench=name, split=split, media_root=Path(media_root) if media_root else None,
                      on_error=result.errors.append)
    if limit is not None and limit <= 0:
        raise ValueError(f"--limit must be positive, got {limit}")
    for rec in bench.loader(Path(data), ctx):
        try:
            rec.validate()
        except RecordError as e:
            result.errors.append(BenchDataError(f"{name}: {e}", rec.id))
            continue
        result.records.append(rec)
        if limit is not None and len(result.records) >= limit:
            break
    result.filtered = dict(ctx.filtered)
    if write:
        write_records(out_dir / "records.jsonl", result.records)
    return result
