"""The judge options of every command (`judge`, `bench run`, `construct`), declared once.

Each command lists these annotated parameters and hands them to `judge_config`, which builds the
`JudgeConfig` (validation, valid values in the error) — so `--mode`, `--family`, `--batch-size` ... are
spelled, documented and checked the same way everywhere.
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from unireward.judges.config import JudgeConfig


Model = Annotated[str, typer.Option("--model", "-m", help="Preset name, hub id, local folder or openai://HOST:PORT/MODEL.")]
Mode = Annotated[str, typer.Option("--mode", help="generate (free text, then parse, as upstream), logprob (one "
                                                  "forward pass: probabilities, expected scores) or reason-logprob "
                                                  "(the reasoning, then the same probabilities where the answer "
                                                  "starts).")]
Family = Annotated[Optional[str], typer.Option("--family", help="Prompt family (v1, v1-llava, 2.0, think, ...) or a "
                                                                "template file (default: the model's).")]
Swap = Annotated[bool, typer.Option("--swap/--no-swap", help="Judge both orders of every pair and combine them.")]
BatchSize = Annotated[Optional[int], typer.Option("--batch-size", min=1,
                                                  help="Items per model call (default: hf 8, openai 64).")]
MaxNewTokens = Annotated[Optional[int], typer.Option("--max-new-tokens", min=1,
                                                     help="Generation budget (default: the template's).")]
NumFrames = Annotated[Optional[int], typer.Option("--num-frames", min=1, help="Frames sampled per video (default 8).")]
MaxPromptTokens = Annotated[Optional[int], typer.Option(
    "--max-prompt-tokens", min=1, help="Longest prompt accepted (default: the model's context minus the answer).")]
Device = Annotated[Optional[str], typer.Option("--device", help="cuda, cpu or auto (device_map); in-process models.")]
Dtype = Annotated[Optional[str], typer.Option("--dtype", help="auto (default), float32, bfloat16, float16.")]


def judge_config(**options: Any) -> JudgeConfig:
    """A `JudgeConfig` from command-line options; options left unset (None) keep their defaults."""
    try:
        return JudgeConfig().merged(**{k: v for k, v in options.items() if v is not None})
    except (TypeError, ValueError) as e:
        raise typer.BadParameter(str(e)) from None


def load(model: str, config: JudgeConfig):
    """Load the judge, turning loading errors into one clear line (exit code 2) instead of a traceback."""
    import unireward as ur

    try:
        return ur.load_judge(model, config)
    except (ValueError, OSError, ImportError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
