"""`unireward bench ...` commands: `list`, `prepare`, `run` and `score`.

Each is a thin wrapper over `unireward.bench.pipeline` / `unireward.bench.metrics`; heavy libraries (the
judge, pyarrow, matplotlib) load inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer


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
        data: Path = _DATA,
        model: str = typer.Option(..., "--model", "-m", help="Preset, hub id, local folder or openai://HOST:PORT/M."),
        output: Path = _OUT, limit: Optional[int] = _LIMIT,
        mode: str = typer.Option("generate", "--mode", help="generate (free text, as upstream) or logprob."),
        swap: str = typer.Option("seeded", "--swap", help="seeded: one seeded random order per pair; both: both."),
        seed: int = typer.Option(0, "--seed", help="Seed of the presentation order."),
        split: Optional[str] = _SPLIT, media_root: Optional[Path] = _MEDIA, allow_missing: bool = _MISSING,
        batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1,
                                     help="Pairs per judge call (default: the backend's, hf 8, openai 64)."),
        family: Optional[str] = typer.Option(None, "--family", help="Prompt family (default: the model's)."),
        max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens"),
        device: Optional[str] = typer.Option(None, "--device"),
        dtype: Optional[str] = typer.Option(None, "--dtype", help="auto (default), float32, bfloat16, float16."),
        ) -> None:
    """Judge a benchmark: OUTPUT/predictions.jsonl (resumable), metrics.json and report.md."""
    from tqdm import tqdm

    import unireward as ur
    from unireward.bench import pipeline
    from unireward.bench.run import SWAP_MODES
    from unireward.bench.sources import get_benchmark

    if swap not in SWAP_MODES:
        _fail(ValueError(f"--swap must be one of {', '.join(SWAP_MODES)}, got {swap!r}"))
    if mode not in ("generate", "logprob"):
        _fail(ValueError(f"--mode must be generate or logprob, got {mode!r}"))
    try:
        split = split or get_benchmark(bench).default_split
        settings = {"bench": bench, "split": split, "model": model, "mode": mode, "swap": swap, "seed": seed,
                    "family": family}
        pipeline.check_settings(output, settings)
        conv = pipeline.prepare(bench, data, output, split=split, media_root=media_root, limit=limit,
                                allow_missing=allow_missing)
    except (ValueError, FileNotFoundError, ImportError) as e:
        _fail(e)
    try:
        judge = ur.load_judge(model, **_judge_kwargs(model, mode, batch_size, family, max_new_tokens, device, dtype))
    except (ValueError, OSError, ImportError) as e:
        _fail(e)
    total = len(conv.records) * (2 if swap == "both" else 1)
    with tqdm(total=total, desc=f"{bench} ({model})", unit="pair") as bar:
        metrics = pipeline.run_benchmark(judge, bench, data, output, split=split, limit=limit, swap=swap, seed=seed,
                                         batch_size=batch_size or getattr(judge, "batch_size", 8),
                                         settings=settings, converted=conv, progress=bar.update)
    typer.echo(json.dumps(_summary(metrics), indent=2))
    typer.echo(f"report: {output / 'report.md'}")


def _judge_kwargs(model: str, mode: str, batch_size: int | None, family: str | None, max_new_tokens: int | None,
                  device: str | None, dtype: str | None) -> dict:
    """`load_judge` options; the order randomisation is ours, so the judge itself never swaps."""
    kw = {"mode": mode, "swap": False, "max_new_tokens": max_new_tokens}
    extra = {"family": family, "batch_size": batch_size}
    if not model.startswith("openai"):
        extra |= {"device": device, "dtype": dtype}
    return kw | {k: v for k, v in extra.items() if v is not None}


def _summary(m: dict) -> dict:
    keys = ("n", "n_unparsed", "tau", "diff", "tie_calibrated", "no_tie", "macro", "inversion_score")
    return {k: m[k] for k in keys if k in m}


@app.command()
def score(predictions: Path = typer.Argument(..., help="A predictions.jsonl (id, label, pred[, margin, category])."),
          seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap intervals."),
          n_boot: int = typer.Option(1000, "--n-boot", min=10, help="Bootstrap resamples.")) -> None:
    """Recompute the metrics from a predictions file and print them as JSON."""
    from unireward.bench.metrics import compute_metrics
    from unireward.bench.run import read_predictions

    try:
        metrics = compute_metrics(read_predictions(predictions), n_boot=n_boot, seed=seed)
    except (ValueError, FileNotFoundError) as e:
        _fail(e)
    typer.echo(json.dumps(metrics, indent=2))
