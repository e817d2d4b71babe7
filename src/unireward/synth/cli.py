"""`unireward synth build`: write the synthetic four-task world as unified records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


app = typer.Typer(no_args_is_help=True)


@app.command()
def build(output: Annotated[Path, typer.Argument(help="Folder for <split>/records.jsonl, media and manifest.json.")],
          n: Annotated[int, typer.Option(help="Records per task and form in every split.")] = 100,
          seed: int = 0,
          difficulty: Annotated[float, typer.Option(help="0 (easy: many errors, big shapes) to 1 (hard).")] = 0.5,
          image_size: Annotated[int, typer.Option(help="Pixels per side (84 = 3x3 Qwen cells of 28 px).")] = 84,
          splits: Annotated[str, typer.Option(help="Comma-separated: train, val, test.")] = "train,val,test",
          video_format: Annotated[str, typer.Option(help="mp4 or frames.")] = "mp4",
          rationale: Annotated[str, typer.Option(help="Rationales: none, describe (what each image or video "
                                                       "shows, then the decision) or checks (describe, check "
                                                       "each candidate on its own line, then decide) or lookup "
                                                       "(checks, plus per-object lookup lines).")] = "none",
          hard_negatives: Annotated[float, typer.Option(help="Share of wrong understanding answers made "
                                                             "confusable or slipped (0 to 1).")] = 0.0,
          workers: int = 1) -> None:
    """Build the synthetic world (exact labels; see docs/synth.md) and print the counts."""
    from unireward.synth import build_dataset

    counts = build_dataset(output, n, seed=seed, difficulty=difficulty, image_size=image_size,
                           splits=tuple(s.strip() for s in splits.split(",") if s.strip()),
                           video_format=video_format, rationale=rationale, hard_negatives=hard_negatives,
                           workers=workers)
    typer.echo(json.dumps({"output": str(output), "counts": counts}, indent=2))
