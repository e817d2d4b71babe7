"""The `unireward` command. Each sub-command is a thin wrapper over a library call.

Sub-command groups live next to the code they drive (`unireward.judges.cli`, `unireward.data.cli`,
`unireward.bench.cli`, ...) and import heavy libraries inside the commands, so `unireward --help` is fast.
"""

from __future__ import annotations

import typer

from unireward.align.cli import app as align_app
from unireward.bench.cli import app as bench_app
from unireward.construct.cli import construct
from unireward.data.cli import app as data_app
from unireward.demo import demo
from unireward.judges.cli import app as judge_app
from unireward.judges.cli import convert, models
from unireward.serve.cli import serve
from unireward.synth.cli import app as synth_app
from unireward.templates.cli import app as templates_app
from unireward.train.cli import app as train_app


app = typer.Typer(help="UnifiedReward: one VLM judge for multimodal generation and understanding.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
app.add_typer(judge_app, name="judge", help="Judge pairs and single candidates with a VLM judge.")
app.add_typer(data_app, name="data", help="Convert public preference sources, mix them, export training data.")
app.add_typer(bench_app, name="bench", help="Run judges on reward benchmarks and score predictions.")
app.add_typer(synth_app, name="synth", help="The synthetic four-task world with exact labels.")
app.add_typer(train_app, name="train", help="Train a judge on exported conversations (TRL).")
app.add_typer(align_app, name="align", help="Align generators with DPO on constructed preference pairs.")
app.add_typer(templates_app, name="templates", help="Show the exact prompts; export and load template files.")
app.command("construct", help="Build DPO preference pairs from a generator's samples with a judge.")(construct)
app.command("models")(models)
app.command("convert", help="Convert a LLaVA-NeXT-layout checkpoint to transformers' LLaVA-OneVision layout.")(convert)
app.command("demo")(demo)
app.command("serve")(serve)


def main() -> None:
    import sys

    try:
        app()
    except (ValueError, FileNotFoundError, RuntimeError) as e:  # user errors: one clear line, no traceback
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
