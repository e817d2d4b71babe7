"""`unireward judge compare|score|run`, `unireward models` (every preset: the UnifiedReward checkpoints and the
baseline zoo, with tasks, forms, licence and size) and `unireward convert` (LLaVA-NeXT -> LLaVA-OneVision)."""

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


def models(kind: Annotated[Optional[str], typer.Option(help="Only this kind: vlm or scorer.")] = None,
           task: Annotated[Optional[str], typer.Option(help="Only judges of this task.")] = None,
           as_json: Annotated[bool, typer.Option("--json", help="One JSON object per preset.")] = False) -> None:
    """List the preset judges: the UnifiedReward checkpoints and the baseline zoo, with tasks, forms, licence
    and size (a table; --json for everything, published numbers included)."""
    from dataclasses import asdict

    from unireward.judges.registry import list_presets

    rows = [p for p in list_presets() if (kind is None or p.kind == kind) and (task is None or task in p.tasks)]
    if as_json:
        for p in rows:
            typer.echo(json.dumps(asdict(p), ensure_ascii=False))
        return
    abbrev = {"image_generation": "img-gen", "image_understanding": "img-und", "video_generation": "vid-gen",
              "video_understanding": "vid-und"}
    typer.echo(f"{'name':30s} {'kind':6s} {'tasks':32s} {'forms':10s} {'size':6s} {'license':14s} hub id")
    for p in rows:
        tasks = ",".join(abbrev[t] for t in p.tasks)
        kind_ = p.kind + ("*" if p.remote_code else "")
        typer.echo(f"{p.name:30s} {kind_:6s} {tasks:32s} {','.join(p.forms):10s} {p.size or '?':6s} "
                   f"{(p.license or '?')[:14]:14s} {p.hub_id}")
        if p.note:
            typer.echo(f"{'':30s} note: {p.note}")
    typer.echo("* runs its authors' remote code: load with trust_remote_code=True (UNIREWARD_TRUST_REMOTE_CODE=1)")


def convert(source: Annotated[str, typer.Argument(help="A LLaVA-NeXT-layout checkpoint: hub id, preset or folder.")],
            output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Where to write the converted "
                                                           "folder (default: the cache load_judge uses).")] = None
            ) -> None:
    """Convert a LLaVA-NeXT-layout checkpoint (UnifiedReward-7b, -7b-v1.5, LLaVA-Critic) to transformers'
    LLaVA-OneVision layout; `load_judge` does this by itself on first use of those presets."""
    from unireward.judges.llava_next import convert as _convert
    from unireward.judges.llava_next import converted_checkpoint
    from unireward.judges.registry import get_preset

    preset = get_preset(source)
    repo = preset.hub_id if preset else source
    try:
        out = _convert(repo, output) if output else converted_checkpoint(repo)
    except (ValueError, OSError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps({"source": repo, "output": str(out)}))
