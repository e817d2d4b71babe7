"""`unireward judge compare|score|run` and `unireward models`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

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
    Swap,
    judge_config,
    load,
)


app = typer.Typer(no_args_is_help=True)

Task = Annotated[str, typer.Option(help="image_generation, image_understanding, video_generation or "
                                        "video_understanding")]
Prompt = Annotated[str, typer.Option(help="Caption (generation) or question (understanding).")]
Media = Annotated[Optional[str], typer.Option(help="The shared image/video for understanding tasks.")]


def _print(obj: dict) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, indent=2))


@app.command()
def compare(task: Task, prompt: Prompt,
            a: Annotated[str, typer.Option("--a", help="Candidate A: a media path, or an answer text.")],
            b: Annotated[str, typer.Option("--b", help="Candidate B: a media path, or an answer text.")],
            model: Model, media: Media = None, mode: Mode = "generate", swap: Swap = False,
            family: Family = None, max_new_tokens: MaxNewTokens = None, num_frames: NumFrames = None,
            device: Device = None, dtype: Dtype = None) -> None:
    """Which of two candidates is better: prints the verdict as JSON."""
    config = judge_config(mode=mode, swap=swap, family=family, max_new_tokens=max_new_tokens,
                          num_frames=num_frames, device=device, dtype=dtype)
    judge = load(model, config)
    v = judge.compare(task, prompt, a, b, media=media)
    _print({"model": judge.name, "family": judge.family, "mode": mode, **v.to_dict()})
    if v.winner is None:
        raise typer.Exit(1)


@app.command()
def score(task: Task, prompt: Prompt,
          candidate: Annotated[str, typer.Option(help="A media path, or an answer text.")],
          model: Model, media: Media = None, mode: Mode = "generate", family: Family = None,
          max_new_tokens: MaxNewTokens = None, num_frames: NumFrames = None, device: Device = None,
          dtype: Dtype = None) -> None:
    """A score for one candidate: prints it as JSON."""
    config = judge_config(mode=mode, family=family, max_new_tokens=max_new_tokens, num_frames=num_frames,
                          device=device, dtype=dtype)
    judge = load(model, config)
    s = judge.score(task, prompt, candidate, media=media)
    _print({"model": judge.name, "family": judge.family, "mode": mode, **s.to_dict()})
    if s.value is None:
        raise typer.Exit(1)


@app.command()
def run(input: Annotated[Path, typer.Option("--input", "-i", help="Unified records (JSONL).")],
        output: Annotated[Path, typer.Option("--output", "-o", help="Predictions (JSONL); resumed if present.")],
        model: Model, mode: Mode = "generate", swap: Swap = False, family: Family = None,
        batch_size: BatchSize = None, limit: Annotated[Optional[int], typer.Option(min=1)] = None,
        max_new_tokens: MaxNewTokens = None, num_frames: NumFrames = None,
        max_prompt_tokens: MaxPromptTokens = None, device: Device = None, dtype: Dtype = None) -> None:
    """Judge unified records in batches, writing each prediction as it finishes (resumable)."""
    from unireward.predict import PredictionError, predict_file

    config = judge_config(mode=mode, swap=swap, family=family, batch_size=batch_size,
                          max_new_tokens=max_new_tokens, num_frames=num_frames,
                          max_prompt_tokens=max_prompt_tokens, device=device, dtype=dtype)
    judge = load(model, config)
    try:
        _print(predict_file(judge, input, output, limit=limit))
    except (PredictionError, FileNotFoundError, IsADirectoryError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None


def models() -> None:
    """List the preset judges (the released UnifiedReward checkpoints)."""
    from unireward.judges.registry import list_presets

    for p in list_presets():
        typer.echo(f"{p.name:32s} {p.hub_id:44s} {p.arch:16s} {p.family}")
        if p.note:
            typer.echo(f"{'':32s} note: {p.note}")
