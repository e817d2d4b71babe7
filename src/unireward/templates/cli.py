"""`unireward templates list|show|export`: see the exact prompts, and start a template file from a family.

- ``show TASK FORM --family F`` prints the instruction exactly as the model gets it (placeholders shown
  as ``{prompt}``, ``{answer_a}``... unless ``--prompt``/``--a``/``--b``/``--answer`` fill them), with
  nothing added: the output ends where the text ends (a trailing newline only if the template has one).
  With ``--model`` it prints the chat-templated prompt instead: the processor's chat template applied to
  the same request the judge builds (one image entry per image or frame, then the text). ``--json``
  prints both, with the template's settings, as one JSON object.
- ``--family`` takes a built-in family or a template file everywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer


app = typer.Typer(no_args_is_help=True)

Family = Annotated[str, typer.Option(help="A built-in family (v1, v1-llava, 2.0, think, think-qwen3vl) or a "
                                          ".yaml/.toml template file.")]


@app.command("list")
def list_cmd(family: Annotated[Optional[str], typer.Option(help="Only this family (or template file).")] = None
             ) -> None:
    """List the templates: family, task, form, parser, scale, frames, and whether logprob mode reads it."""
    from unireward.templates import FAMILIES, list_templates

    families = [family] if family else list(FAMILIES)
    typer.echo(f"{'family':16s} {'task':20s} {'form':5s} {'parser':12s} {'scale':9s} {'frames':6s} logprob")
    for fam in families:
        for t in list_templates(fam):
            scale = "-" if t.scale is None else "-".join(f"{x:g}" for x in t.scale)
            frames = str(t.num_frames) if t.num_frames else "-"
            logprob = "yes" if t.logprob_prefixes is not None else "no"
            typer.echo(f"{fam:16s} {t.task.value:20s} {t.form.value:5s} {t.parser:12s} {scale:9s} {frames:6s} "
                       f"{logprob}")


@app.command()
def show(task: Annotated[str, typer.Argument(help="image_generation, image_understanding, video_generation, "
                                                  "video_understanding")],
         form: Annotated[str, typer.Argument(help="pair or point")],
         family: Family = "v1",
         model: Annotated[Optional[str], typer.Option(
             "--model", "-m", help="Also apply this model's chat template (preset, hub id or folder).")] = None,
         prompt: Annotated[str, typer.Option(help="Caption or question to fill in.")] = "{prompt}",
         a: Annotated[str, typer.Option("--a", help="Answer 1 (pairwise understanding).")] = "{answer_a}",
         b: Annotated[str, typer.Option("--b", help="Answer 2 (pairwise understanding).")] = "{answer_b}",
         answer: Annotated[str, typer.Option(help="The answer (pointwise understanding).")] = "{answer}",
         as_json: Annotated[bool, typer.Option("--json", help="Print text, chat prompt and settings as JSON.")]
         = False) -> None:
    """Print the exact instruction text, or with --model the chat-templated prompt the model receives."""
    from unireward.tasks import Form, Task
    from unireward.templates import get_template, render_item

    t = get_template(task, form, family)
    answers = [] if t.task.is_generation else ([a, b] if t.form == Form.PAIR else [answer])
    text = render_item(t, prompt, answers)
    chat = _chat_prompt(model, t, family, text) if model else None
    if as_json:
        typer.echo(json.dumps({"family": family, "task": Task.parse(task).value, "form": t.form.value,
                               "parser": t.parser, "scale": t.scale, "num_frames": t.num_frames,
                               "decimals": t.decimals, "logprob_prefixes": t.logprob_prefixes, "text": text,
                               "chat_prompt": chat}, ensure_ascii=False, indent=2))
        return
    typer.echo(chat if chat is not None else text, nl=False)


def _chat_prompt(model: str, t, family: str, text: str) -> str:
    """The chat-templated prompt `model`'s processor makes of the judge's request for `text`."""
    from PIL import Image

    import unireward as ur
    from unireward.judges.base import Request
    from unireward.tasks import Form

    judge = ur.load_judge(model, family=family, device="cpu")
    if not hasattr(judge, "prompt_text"):
        raise ValueError(f"--model {model}: only in-process models (a folder, hub id or preset) have a chat "
                         "template here")
    per_item = 1 if t.task.modality == "image" else (t.num_frames or judge.num_frames)
    count = 2 if (t.task.is_generation and t.form == Form.PAIR) else 1
    blank = Image.new("RGB", (28, 28))
    if t.task.modality == "video" and getattr(judge, "video_as", "frames") == "video":
        req = Request(text=text, videos=[[blank] * per_item for _ in range(count)])
    else:
        req = Request(text=text, images=[blank] * (per_item * count))
    return judge.prompt_text(req)


@app.command()
def export(family: Family,
           output: Annotated[Path, typer.Option("--output", "-o", help="The file to write (.yaml, .yml or .toml).")]
           ) -> None:
    """Write every template of a family to a YAML/TOML file, to edit and pass back as --family FILE."""
    from unireward.templates.files import dump_family

    path = dump_family(family, output)
    typer.echo(f"wrote the {family} templates to {path}")
