"""`unireward data ...` commands: convert a public source, build a training export, count records.

Each command is a thin wrapper over a library call and prints its summary as JSON on stdout (progress
bars go to stderr). Heavy imports happen inside the commands, so `unireward --help` stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import typer


app = typer.Typer(no_args_is_help=True)


def _print(call: Callable[[], Any], errors: tuple[type[Exception], ...]) -> None:
    """Print what `call` returns (a summary as JSON); a user error among `errors` prints and exits with 2."""
    try:
        result = call()
    except errors as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(result if isinstance(result, str) else json.dumps(result, indent=2, ensure_ascii=False))


@app.command("sources")
def sources() -> None:
    """List the source names `convert` accepts."""
    from unireward.data.sources import list_sources

    typer.echo("\n".join(list_sources()))


@app.command("convert")
def convert(
    source: str = typer.Argument(..., help="Source name (see `unireward data sources`), e.g. oip, llava_critic."),
    input: Path = typer.Option(..., "--input", "-i", help="The source as downloaded: a file or a folder."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for records.jsonl and media/."),
    limit: Optional[int] = typer.Option(None, help="Read at most N source rows."),
    progress: bool = typer.Option(True, help="Show a progress bar on stderr."),
) -> None:
    """Convert a public preference source into unified records (records.jsonl + media/)."""
    from unireward.data.convert import convert as run

    # SourceError (unreadable input) and UnknownNameError (unknown source) are ValueErrors
    _print(lambda: run(source, input, output, limit=limit, progress=progress), (ValueError,))


@app.command("build")
def build(
    recipe: Path = typer.Argument(..., help="Recipe YAML (see recipes/unifiedreward.yaml)."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for the training files and media."),
    fmt: str = typer.Option("trl", "--format", "-f", help="trl, llamafactory or llava."),
    family: str = typer.Option("v1", help="Template family: v1, v1-llava, 2.0 or think."),
    root: Optional[Path] = typer.Option(None, help="Folder the recipe's source paths are relative to."),
    frames: int = typer.Option(8, help="Frames sampled per video."),
    progress: bool = typer.Option(True, help="Show a progress bar on stderr."),
) -> None:
    """Mix converted sources by a recipe and write SFT conversations in the chosen format."""
    from unireward.data.export import build as run
    from unireward.data.mix import RecipeError

    _print(lambda: run(recipe, output, fmt=fmt, family=family, root=root, num_frames=frames, progress=progress),
           (RecipeError, ValueError, FileNotFoundError))


@app.command("stats")
def stats(
    path: Path = typer.Argument(..., help="A folder with records.jsonl (converted source or build), or the file."),
    plot: Optional[Path] = typer.Option(None, help="Where to write the PNG (default: stats.png beside the records)."),
) -> None:
    """Counts per task, form, source and label (winner balance, score histograms), and a plot."""
    from unireward.data.stats import main_json
    from unireward.records import RecordError

    _print(lambda: main_json(path, plot), (RecordError, FileNotFoundError))
