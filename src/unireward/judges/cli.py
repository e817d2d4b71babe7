"""`unireward judge compare|score|run` and `unireward models`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer


app = typer.Typer(no_args_is_help=True)

Model = Annotated[str, typer.Option("--model", "-m", help="Preset name, hub id, local folder or openai://HOST:PORT/MODEL.")]
Mode = Annotated[str, typer.Option(help="generate (free text, then parse) or logprob (one forward pass).")]
Family = Annotated[Optional[str], typer.Option(help="Prompt family: v1, v1-llava, 2.0, think (default: the model's).")]
Media = Annotated[Optional[str], typer.Option(help="The shared image/video for understanding tasks.")]


def _load(model: str, mode: str, swap: bool, family: str | None, max_new_tokens: int | None,
          device: str | None, dtype: str, batch_size: int = 8):
    import unireward as ur

    kw = dict(mode=mode, swap=swap, batch_size=batch_size, max_new_tokens=max_new_tokens)
    if family:
        kw["family"] = family
    if not model.startswith("openai"):
        kw.update(device=device, dtype=dtype)
    return ur.load_judge(model, **kw)


def _print(obj: dict) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, indent=2))


@app.command()
def compare(task: Annotated[str, typer.Option(help="image_generation, image_understanding, video_generation, "
                                                   "video_understanding")],
            prompt: Annotated[str, typer.Option(help="Caption (generation) or question (understanding).")],
            a: Annotated[str, typer.Option("--a", help="Candidate A: a media path, or an answer text.")],
            b: Annotated[str, typer.Option("--b", help="Candidate B: a media path, or an answer text.")],
            model: Model, media: Media = None, mode: Mode = "generate",
            swap: Annotated[bool, typer.Option(help="Judge both orders and combine them.")] = False,
            family: Family = None, max_new_tokens: Optional[int] = None, device: Optional[str] = None,
            dtype: str = "auto") -> None:
    """Which of two candidates is better: prints the verdict as JSON."""
    judge = _load(model, mode, swap, family, max_new_tokens, device, dtype)
    v = judge.compare(task, prompt, a, b, media=media)
    _print({"model": judge.name, "family": judge.family, "mode": mode, **v.to_dict()})
    if v.winner is None:
        raise typer.Exit(1)


@app.command()
def score(task: Annotated[str, typer.Option(help="The task (see compare).")],
          prompt: Annotated[str, typer.Option(help="Caption (generation) or question (understanding).")],
          candidate: Annotated[str, typer.Option(help="A media path, or an answer text.")],
          model: Model, media: Media = None, mode: Mode = "generate", family: Family = None,
          max_new_tokens: Optional[int] = None, device: Optional[str] = None, dtype: str = "auto") -> None:
    """A score for one candidate: prints it as JSON."""
    judge = _load(model, mode, False, family, max_new_tokens, device, dtype)
    s = judge.score(task, prompt, candidate, media=media)
    _print({"model": judge.name, "family": judge.family, "mode": mode, **s.to_dict()})
    if s.value is None:
        raise typer.Exit(1)


@app.command()
def run(input: Annotated[Path, typer.Option("--input", "-i", help="Unified records (JSONL).")],
        output: Annotated[Path, typer.Option("--output", "-o", help="Predictions (JSONL); resumed if present.")],
        model: Model, mode: Mode = "generate", swap: bool = False, family: Family = None,
        batch_size: int = 8, limit: Optional[int] = None, max_new_tokens: Optional[int] = None,
        device: Optional[str] = None, dtype: str = "auto") -> None:
    """Judge unified records in batches, writing each prediction as it finishes (resumable)."""
    from unireward.judges.run import judge_records

    judge = _load(model, mode, swap, family, max_new_tokens, device, dtype, batch_size)
    _print(judge_records(judge, input, output, batch_size=batch_size, limit=limit))


def models() -> None:
    """List the preset judges (the released UnifiedReward checkpoints)."""
    from unireward.judges.registry import list_presets

    for p in list_presets():
        typer.echo(f"{p.name:32s} {p.hub_id:44s} {p.arch:16s} {p.family}")
        if p.note:
            typer.echo(f"{'':32s} note: {p.note}")
