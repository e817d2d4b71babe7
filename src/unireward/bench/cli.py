"""`unireward bench ...` commands: `list`, `prepare`, `run` and `score`.

Each is a thin wrapper over `unireward.bench.pipeline` / `unireward.bench.metrics`; heavy libraries (the
judge, pyarrow, matplotlib) load inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from unireward.judges.options import (
    BatchSize,
    Device,
    Dtype,
    Family,
    MaxNewTokens,
    MaxPromptTokens,
    Mode,
    Model,
    NumFrames,
    judge_config,
    load,
)


app = typer.Typer(no_args_is_help=True)

_DATA = typer.Option(..., "--data", help="The benchmark as downloaded: its folder, or its parquet/CSV/JSON file.")
_OUT = typer.Option(..., "--output", "-o", help="Output folder (records, media, predictions, metrics, report).")
_SPLIT = typer.Option(None, "--split", help="Split or config (default: the one the paper reports).")
_MEDIA = typer.Option(None, "--media-root", help="Where downloaded media live (GenAI-Bench video URLs map here).")
_LIMIT = typer.Option(None, "--limit", min=1, help="Only the first N records.")
_MISSING = typer.Option(False, "--allow-missing", help="Judge the items whose media exist; report the others.")


def _fail(e: Exception) -> None:
    typer.echo(f"error: {e}", err=True)
    raise typer.Exit(2)


@app.command("list")
def list_cmd() -> None:
    """The benchmarks this command knows, with their splits."""
    from unireward.bench.sources import BENCHMARKS

    for b in BENCHMARKS.values():
        typer.echo(f"{b.name:22} default split: {b.default_split or 'all':6} splits: {', '.join(b.splits):40} "
                   f"{b.description}")


@app.command()
def prepare(bench: str = typer.Argument(..., help="Benchmark name (see `unireward bench list`)."),
            data: Path = _DATA, output: Path = _OUT, split: Optional[str] = _SPLIT,
            media_root: Optional[Path] = _MEDIA, limit: Optional[int] = _LIMIT,
            allow_missing: bool = _MISSING) -> None:
    """Convert a benchmark to unified records (OUTPUT/records.jsonl + OUTPUT/media), without judging."""
    from unireward.bench.pipeline import prepare as _prepare

    try:
        res = _prepare(bench, data, output, split=split, media_root=media_root, limit=limit,
                       allow_missing=allow_missing)
    except (ValueError, FileNotFoundError, ImportError) as e:
        _fail(e)
    typer.echo(json.dumps({"records": len(res.records), "skipped": len(res.errors), "filtered": res.filtered,
                           "output": str(output / "records.jsonl")}))


@app.command()
def run(bench: str = typer.Argument(..., help="Benchmark name (see `unireward bench list`)."),
        data: Path = _DATA, model: Model = ..., output: Path = _OUT, limit: Optional[int] = _LIMIT,
        mode: Mode = "generate",
        swap: str = typer.Option("seeded", "--swap", help="seeded: one seeded random order per pair; both: both."),
        seed: int = typer.Option(0, "--seed", help="Seed of the presentation order."),
        split: Optional[str] = _SPLIT, media_root: Optional[Path] = _MEDIA, allow_missing: bool = _MISSING,
        batch_size: BatchSize = None, family: Family = None, max_new_tokens: MaxNewTokens = None,
        num_frames: NumFrames = None, max_prompt_tokens: MaxPromptTokens = None, device: Device = None,
        dtype: Dtype = None) -> None:
    """Judge a benchmark: OUTPUT/predictions.jsonl (resumable), metrics.json and report.md."""
    from tqdm import tqdm

    from unireward.bench import pipeline
    from unireward.bench.sources import get_benchmark
    from unireward.predict import ORDERS, check_modes

    if swap not in ORDERS[1:]:
        _fail(ValueError(f"--swap must be one of {', '.join(ORDERS[1:])}, got {swap!r}"))
    # the presentation order is ours (--swap), so the judge itself never swaps
    config = judge_config(mode=mode, swap=False, family=family, batch_size=batch_size, max_new_tokens=max_new_tokens,
                          num_frames=num_frames, max_prompt_tokens=max_prompt_tokens, device=device, dtype=dtype)
    try:
        split = split or get_benchmark(bench).default_split
        settings = {"bench": bench, "split": split, "model": model, "mode": mode, "swap": swap, "seed": seed,
                    "family": family}
        pipeline.check_settings(output, settings)
        conv = pipeline.prepare(bench, data, output, split=split, media_root=media_root, limit=limit,
                                allow_missing=allow_missing)
    except (ValueError, FileNotFoundError, ImportError) as e:
        _fail(e)
    judge = load(model, config)
    try:
        check_modes(judge, conv.records)
    except ValueError as e:
        _fail(e)
    total = len(conv.records) * (2 if swap == "both" else 1)
    with tqdm(total=total, desc=f"{bench} ({model})", unit="pair") as bar:
        try:
            metrics = pipeline.run_benchmark(judge, bench, data, output, split=split, limit=limit, swap=swap,
                                             seed=seed, batch_size=judge.batch_size, settings=settings,
                                             converted=conv, progress=bar.update)
        except ValueError as e:  # PredictionError: a predictions file made by another judge, or not ours
            _fail(e)
    typer.echo(json.dumps(_summary(metrics), indent=2))
    typer.echo(f"report: {output / 'report.md'}")


def _summary(m: dict) -> dict:
    keys = ("n", "n_unparsed", "tau", "diff", "tie_calibrated", "no_tie", "overall_strict", "overall_official",
            "macro_strict", "macro_official", "inversion_score")
    return {k: m[k] for k in keys if k in m}


@app.command()
def score(predictions: Path = typer.Argument(..., help="A predictions.jsonl (id, label, pred[, margin, category]), or "
                                                           "the output folder that holds it."),
          seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap intervals."),
          n_boot: int = typer.Option(1000, "--n-boot", min=10, help="Bootstrap resamples.")) -> None:
    """Recompute the metrics from a predictions file and print them as JSON."""
    from unireward.bench.metrics import compute_metrics
    from unireward.predict import latest_rows, read_predictions

    try:
        metrics = compute_metrics(latest_rows(read_predictions(predictions), str(predictions)), n_boot=n_boot,
                                  seed=seed)
    except (ValueError, FileNotFoundError) as e:
        _fail(e)
    typer.echo(json.dumps(metrics, indent=2))
