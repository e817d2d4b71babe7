"""Reward benchmarks: loaders to unified records, a resumable judge loop, metrics with definitions, reports.

    benchmark files --sources--> records --run_judge--> predictions.jsonl --metrics--> metrics.json, report.md

- `unireward.bench.sources`: one loader per benchmark, reading its real download layout (`list_benchmarks`).
- `unireward.bench.run`: presentation order (seeded or both orders) and the batched, resumable judge loop;
  it takes any object with ``compare_batch``.
- `unireward.bench.metrics`: tau, diff, tie-calibrated accuracy, macro accuracy, inversion score, bootstrap
  intervals; the definitions are in its docstring and in ``docs/bench.md``.
- `unireward.bench.pipeline`: `prepare` and `run_benchmark`, what ``unireward bench prepare|run`` call.
"""

from unireward.bench.metrics import compute_metrics
from unireward.bench.pipeline import prepare, run_benchmark
from unireward.bench.sources import list_benchmarks


__all__ = ["compute_metrics", "list_benchmarks", "prepare", "run_benchmark"]
