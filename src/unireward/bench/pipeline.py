"""`prepare` (benchmark -> records) and `run_benchmark` (records -> predictions -> metrics -> report).

Output folder layout: ``records.jsonl`` and ``media/`` (the converted benchmark), ``predictions.jsonl``,
``metrics.json`` (the `bench score` keys plus ``run``), ``report.md`` and ``plots/``, ``run.json`` (the
settings, checked on resume), and ``skipped.txt`` / ``missing_media.txt`` when there are such items.

Design choices a user will notice:
- Missing media files stop the run before any judging, with an error listing them (all of them go to
  ``missing_media.txt``): a benchmark judged on a silently smaller set is not comparable. Pass
  ``allow_missing=True`` (``--allow-missing``) to judge the rest; the skipped items are then reported.
- Malformed rows never stop a run: each is skipped and listed, with the reason, in the report.
- Resuming into a folder made with other settings (benchmark, split, model, mode, swap, seed, family) is
  refused.
- Metrics cover the records of this invocation: resuming with a smaller ``--limit`` reports on that subset.
- Several judges (``bench run -m A -m B ...``): each runs into its own folder ``OUTPUT/<judge>/`` (named by
  `judge_folder`: the preset name, or the spec with path separators replaced), resumable on its own, and
  ``OUTPUT/comparison.md`` + ``comparison.json`` + ``plots/comparison.png`` put them side by side.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from unireward.bench.metrics import N_BOOT, compute_metrics
from unireward.bench.report import write_report
from unireward.bench.sources import ConversionResult, MissingMediaError, convert
from unireward.predict import latest_rows, predict, read_predictions


SETTINGS_CHECKED = ("bench", "split", "model", "mode", "swap", "seed", "family")


def prepare(bench: str, data: str | Path, out_dir: str | Path, *, split: str | None = None,
            media_root: str | Path | None = None, limit: int | None = None,
            allow_missing: bool = False) -> ConversionResult:
    """Convert a benchmark to ``out_dir/records.jsonl``; raise `MissingMediaError` listing missing files."""
    out_dir = Path(out_dir)
    result = convert(bench, data, out_dir, split=split, media_root=media_root, limit=limit)
    _write_list(out_dir / "skipped.txt", [str(e) for e in result.errors])
    missing = result.missing
    _write_list(out_dir / "missing_media.txt", [p for e in missing for p in e.paths])
    if missing and not allow_missing:
        shown = "\n  ".join(str(e) for e in missing[:20])
        more = f"\n  ... and {len(missing) - 20} more" if len(missing) > 20 else ""
        raise MissingMediaError(f"{bench}: {len(missing)} item(s) refer to media files that are not on disk "
                                f"(all listed in {out_dir / 'missing_media.txt'}):\n  {shown}{more}\n"
                                "Download them (see docs/bench.md), or pass --allow-missing to judge the rest.")
    return result


def _write_list(path: Path, lines: list[str]) -> None:
    if lines:
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    elif path.exists():
        path.unlink()


def judge_folder(out_dir: str | Path, spec: str) -> str:
    """The sub-folder name of judge `spec` in a several-judge run: readable and unique per spec."""
    import re

    name = Path(spec).name if Path(spec).is_dir() else spec
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "judge"
    if Path(spec).is_dir() or name != spec:
        slug += "-" + hashlib.sha1(spec.encode()).hexdigest()[:6]
    return slug


def check_settings(out_dir: str | Path, settings: dict[str, Any]) -> None:
    """Refuse to resume into a folder whose ``run.json`` was written with other settings; else write it."""
    path = Path(out_dir) / "run.json"
    if path.exists() and (Path(out_dir) / "predictions.jsonl").exists():
        old = json.loads(path.read_text(encoding="utf-8"))
        diffs = [f"{k}: {old.get(k)!r} there, {settings.get(k)!r} now" for k in SETTINGS_CHECKED
                 if old.get(k) != settings.get(k)]
        if diffs:
            raise ValueError(f"{out_dir} holds predictions made with other settings ({'; '.join(diffs)}); "
                             "use another --output folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")


def run_benchmark(judge: Any, bench: str, data: str | Path, out_dir: str | Path, *,
                  split: str | None = None, media_root: str | Path | None = None, limit: int | None = None,
                  swap: str = "seeded", seed: int = 0, batch_size: int = 8, allow_missing: bool = False,
                  settings: dict[str, Any] | None = None, n_boot: int = N_BOOT,
                  progress: Callable[[int], None] | None = None,
                  converted: ConversionResult | None = None) -> dict[str, Any]:
    """Convert, judge (resumable), score and report; return the content of ``metrics.json``."""
    out_dir = Path(out_dir)
    conv = converted or prepare(bench, data, out_dir, split=split, media_root=media_root, limit=limit,
                                allow_missing=allow_missing)
    stats = predict(judge, conv.records, out_dir / "predictions.jsonl", base=out_dir, order=swap, seed=seed,
                    batch_size=batch_size, progress=progress)
    wanted = {r.id for r in conv.records}
    rows = [r for r in read_predictions(out_dir / "predictions.jsonl") if r.get("record_id", r["id"]) in wanted]
    metrics = compute_metrics(rows, n_boot=n_boot)  # bootstrap seed 0, as `bench score`
    failed = sum(bool(r.get("failed")) for r in latest_rows(rows))
    run = {**(settings or {}), "bench": bench, "data": str(data), "split": split, "swap": swap, "seed": seed,
           "limit": limit, "records": len(conv.records), "judge": getattr(judge, "name", type(judge).__name__),
           "skipped": [str(e) for e in conv.errors], "filtered": conv.filtered, "failed": failed,
           "this_invocation": asdict(stats)}
    metrics["run"] = run
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    write_report(out_dir, metrics, run)
    return metrics
