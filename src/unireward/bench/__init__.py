"""Reward benchmarks: loaders to unified records, a resumable judge loop, metrics with definitions, reports.

    benchmark files --sources--> records --unireward.predict--> predictions.jsonl --metrics--> metrics.json, report.md

- `unireward.bench.sources`: one loader per benchmark, reading its real download layout (`list_benchmarks`).
- the judge loop is `unireward.predict` (shared with ``unireward judge run``): seeded or both orders,
  batched, resumable; it takes any object with ``compare_batch``.
- `unireward.bench.metrics`: tau, diff, tie-calibrated accuracy, macro accuracy, inversion score, bootstrap
  intervals; the definitions are in its docstring and in ``docs/bench.md``.
- `unireward.bench.pipeline`: `prepare` and `run_benchmark`, what ``unireward bench prepare|run`` call.
"""

from unireward.bench.metrics import compute_metrics
from unireward.bench.pipeline import prepare, run_benchmark
from unireward.bench.sources import list_benchmarks


__all__ = ["compute_metrics", "list_benchmarks", "prepare", "run_benchmark"]
