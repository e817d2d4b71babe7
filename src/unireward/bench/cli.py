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


_MODELS = typer.Option(..., "--model", "-m", help="Judge: preset name (the zoo included), hub id, local folder or "
                      "openai://HOST:PORT/MODEL. Repeat it to compare several judges side by side.")


@app.command()
def run(bench: str = typer.Argument(..., help="Benchmark name (see `unireward bench list`)."),
        data: Path = _DATA, model: list[str] = _MODELS, output: Path = _OUT, limit: Optional[int] = _LIMIT,
        mode: Mode = "generate",
        swap: str = typer.Option("seeded", "--swap", help="seeded: one seeded random order per pair; both: both."),
        seed: int = typer.Option(0, "--seed", help="Seed of the presentation order."),
        split: Optional[str] = _SPLIT, media_root: Optional[Path] = _MEDIA, allow_missing: bool = _MISSING,
        batch_size: BatchSize = None, family: Family = None, max_new_tokens: MaxNewTokens = None,
        num_frames: NumFrames = None, max_prompt_tokens: MaxPromptTokens = None, device: Device = None,
        dtype: Dtype = None) -> None:
    """Judge a benchmark: OUTPUT/predictions.jsonl (resumable), metrics.json and report.md. With several
    --model, each judge runs into OUTPUT/<judge>/ and OUTPUT/comparison.md (+ plots/comparison.png) puts them
    side by side."""
    from unireward.bench.sources import get_benchmark
    from unireward.predict import ORDERS

    if swap not in ORDERS[1:]:
        _fail(ValueError(f"--swap must be one of {', '.join(ORDERS[1:])}, got {swap!r}"))
    # the presentation order is ours (--swap), so the judge itself never swaps
    config = judge_config(mode=mode, swap=False, family=family, batch_size=batch_size, max_new_tokens=max_new_tokens,
                          num_frames=num_frames, max_prompt_tokens=max_prompt_tokens, device=device, dtype=dtype)
    try:
        split = split or get_benchmark(bench).default_split
    except ValueError as e:
        _fail(e)
    if len(set(model)) != len(model):
        _fail(ValueError(f"a judge is given twice: {model}"))
    common = dict(bench=bench, data=data, limit=limit, mode=mode, swap=swap, seed=seed, split=split,
                  media_root=media_root, allow_missing=allow_missing, family=family, config=config)
    if len(model) == 1:
        metrics = _run_one(model[0], output, **common)
        typer.echo(json.dumps(_summary(metrics), indent=2))
        typer.echo(f"report: {output / 'report.md'}")
        return
    from unireward.bench.pipeline import judge_folder
    from unireward.bench.report import write_comparison

    runs, folders = {}, {}
    for m in model:
        folders[m] = judge_folder(output, m)
        runs[m] = _run_one(m, output / folders[m], **common)
    path = write_comparison(output, bench, runs, folders)
    (output / "comparison.json").write_text(json.dumps({m: _summary(x) for m, x in runs.items()}, indent=2) + "\n")
    typer.echo(json.dumps({m: _summary(x) for m, x in runs.items()}, indent=2))
    typer.echo(f"comparison: {path}")


def _run_one(model: str, output: Path, *, bench: str, data: Path, limit: Optional[int], mode: str, swap: str,
             seed: int, split: Optional[str], media_root: Optional[Path], allow_missing: bool, family: Optional[str],
             config) -> dict:
    """One judge on the benchmark into `output` (prepare, check, judge, score, report); exits on errors."""
    from tqdm import tqdm

    from unireward.bench import pipeline
    from unireward.predict import check_modes

    settings = {"bench": bench, "split": split, "model": model, "mode": mode, "swap": swap, "seed": seed,
                "family": family}
    try:
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
            return pipeline.run_benchmark(judge, bench, data, output, split=split, limit=limit, swap=swap,
                                          seed=seed, batch_size=judge.batch_size, settings=settings,
                                          converted=conv, progress=bar.update)
        except ValueError as e:  # PredictionError: a predictions file made by another judge, or not ours
            _fail(e)


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
