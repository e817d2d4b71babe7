"""`unireward train judge`: fine-tune a VLM judge on a ``trl`` export (see docs/train.md). `unireward train vision`,
`unireward train align` and `unireward train reason`: stages 0, 1 and 1b of the staged small-VLM recipe
(`unireward.train.stages`); stage 2 is `train judge` on their output. `unireward train answer`: the small
answerer that DPO experiments start from, built on the stage 1 model. `unireward train generator`: a small
text-to-image or text-to-video diffusion model of the synthetic world (`unireward.train.generator`).

Prints the training summary as JSON on stdout. Heavy imports happen inside the command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer


app = typer.Typer(no_args_is_help=True)


def parse_overrides(items: list[str], config_cls: type | None = None) -> dict[str, Any]:
    """``KEY=VALUE`` strings as config fields; values are read as YAML (numbers, true/false, lists). A YAML
    boolean given to a field of `config_cls` that is not a boolean keeps its text, so ``save_strategy=no``
    stays "no" (YAML would read it as False). Shared by ``train judge`` and ``align``."""
    import yaml

    fields = getattr(config_cls, "__dataclass_fields__", {})
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--set")
        parsed = yaml.safe_load(value)
        if isinstance(parsed, bool) and key in fields and "bool" not in str(fields[key].type):
            parsed = value
        out[key] = parsed
    return out


@app.command()
def judge(
    data: Annotated[Path, typer.Option(help="A `unireward data build --format trl` folder (train.jsonl, media/).")],
    model: Annotated[str, typer.Option(help="Backbone: hub id or folder (Qwen2/2.5/3-VL, LLaVA-OneVision).")],
    output: Annotated[Path, typer.Option(help="Folder for checkpoints and the trained judge.")],
    config: Annotated[Optional[Path], typer.Option(help="YAML/JSON file of JudgeSFTConfig fields.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint in --output.")] = False,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a field: --set max_steps=100.")] = None,
) -> None:
    """Fine-tune a VLM judge (TRL SFT, answer-only loss); the output folder loads with unireward.load_judge."""
    from unireward.train import load_config, train_judge
    from unireward.train.config import JudgeSFTConfig

    cfg = load_config(config, parse_overrides(set_ or [], JudgeSFTConfig), output_dir=str(output))
    summary = train_judge(data, model, output, cfg, resume=resume)
    typer.echo(json.dumps(summary, indent=2, default=str))


def _settings(cls: type, items: list[str] | None) -> Any:
    values = parse_overrides(items or [], cls)
    unknown = set(values) - set(cls.__dataclass_fields__)
    if unknown:
        raise typer.BadParameter(f"unknown settings {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}",
                                 param_hint="--set")
    return cls(**values)


def _run_stage(train: str, settings: str, model: str, output: Path, work: Path | None,
               items: list[str] | None) -> None:
    """Run `unireward.train.stages.<train>` with `<settings>` from ``--set`` items and print its summary."""
    from unireward.train import stages

    summary = getattr(stages, train)(output, model, work, _settings(getattr(stages, settings), items), log=typer.echo)
    typer.echo(json.dumps({k: summary[k] for k in ("output", "steps", "seconds", "probe")}, indent=2))


@app.command()
def vision(
    model: Annotated[str, typer.Option(help="A Qwen2.5-VL folder (e.g. unireward.train.small.build_small_base).")],
    output: Annotated[Path, typer.Option(help="Folder for the model with its pretrained vision tower.")],
    work: Annotated[Optional[Path], typer.Option(help="Resumable state (default: OUTPUT-work).")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="VisionSettings: --set steps=600.")] = None,
) -> None:
    """Stage 0: pretrain the vision tower on the synthetic world's per-token scene labels (resumes from WORK)."""
    _run_stage("train_vision", "VisionSettings", model, output, work, set_)


@app.command()
def align(
    model: Annotated[str, typer.Option(help="The stage 0 output (a Qwen2.5-VL with a pretrained tower).")],
    output: Annotated[Path, typer.Option(help="Folder for the aligned small VLM.")],
    work: Annotated[Optional[Path], typer.Option(help="Resumable state (default: OUTPUT-work).")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="AlignSettings: --set steps=800.")] = None,
) -> None:
    """Stage 1: tower frozen, merger + language model learn to describe images and clips (resumes from WORK)."""
    _run_stage("train_align", "AlignSettings", model, output, work, set_)


@app.command()
def reason(
    model: Annotated[str, typer.Option(help="The stage 1 output (or any Qwen2.5-VL of the small recipe).")],
    output: Annotated[Path, typer.Option(help="Folder for the model whose language model learned the reasoning.")],
    work: Annotated[Optional[Path], typer.Option(help="Resumable state (default: OUTPUT-work).")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="ReasonSettings: --set steps=6000.")] = None,
) -> None:
    """Stage 1b: from text alone (the judge's prompt and the true descriptions), the language model learns what
    follows them: the correct answer, each candidate's check, the verdict or score (resumes from WORK)."""
    _run_stage("train_reason", "ReasonSettings", model, output, work, set_)


@app.command()
def answer(
    model: Annotated[str, typer.Option(help="The stage 1 output (the small VLM base).")],
    output: Annotated[Path, typer.Option(help="Folder for the small answerer (a `vlm:` generator).")],
    work: Annotated[Optional[Path], typer.Option(help="Resumable state (default: OUTPUT-work).")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="AnswerSettings: --set steps=300.")] = None,
) -> None:
    """The small answerer: answer SFT on the world's image and video questions from the small VLM base, stopped
    while it is mediocre (the probe prints the oracle-graded accuracy; resumes from WORK)."""
    _run_stage("train_answer", "AnswerSettings", model, output, work, set_)


@app.command()
def generator(
    output: Annotated[Path, typer.Option(help="Folder for the diffusers pipeline (a `diffusers:`/`t2v:` generator).")],
    kind: Annotated[str, typer.Option(help="image (StableDiffusionPipeline) or video (TextToVideoSDPipeline).")] = (
        "image"),
    work: Annotated[Optional[Path], typer.Option(help="Resumable state (default: OUTPUT-work).")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="GeneratorSettings: --set steps=2000.")] = None,
) -> None:
    """A small text-to-image or text-to-video diffusion model of the synthetic world, stopped while mediocre
    (the probe prints the oracle's share of fully right samples; resumes from WORK)."""
    from unireward.train.generator import GeneratorSettings, train_generator

    s = _settings(GeneratorSettings, [f"kind={kind}", *(set_ or [])])
    summary = train_generator(output, s, work, log=typer.echo)
    typer.echo(json.dumps({k: summary[k] for k in ("output", "steps", "seconds", "vae", "probe")}, indent=2))
