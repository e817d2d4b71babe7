"""The `Template` value, the one place prompts are rendered, and the lookup over families.

Design choices:
- Rendering happens in ONE function, `render_item` (and `Template.render` under it): the judge's request
  text and the training exports' user text are the same call on the same values, so the training prompt
  equals the inference prompt by construction.
- User-supplied strings (the caption/question and the answers) are *neutralised* before they go into the
  text: a chat-control sequence typed into them could otherwise forge a turn (an answer holding
  ``<|im_end|>\\n<|im_start|>assistant``) or add an image placeholder the processor would try to fill
  (``<image>``, ``<|image_pad|>``). The rule, `neutralize`: a zero-width space (U+200B) is inserted right
  after every ``<`` that starts ``<|`` (any ``<|...|>`` token of the Qwen/ChatML family) or a LLaVA media
  tag ``<image>``, ``<video>``, ``</image>``, ``</video>`` (any case). The text reads the same to a person;
  the tokenizer no longer sees the special token. The rule is idempotent and never touches the template's
  own text, whose author controls it.
- A family is either a built-in name (`FAMILIES`) or a path to a YAML/TOML file of templates
  (`unireward.templates.files`): ``get_template(task, form, "my_prompts.yaml")`` works wherever a family
  name does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache

from unireward.tasks import Form, Task


FAMILIES: tuple[str, ...] = ("v1", "v1-llava", "2.0", "think", "think-qwen3vl")

# How an answer is read: a verdict phrase, a "Final Score:" line (+ optional dimension lines),
# per-dimension float scores (2.0 pointwise), relative pair scores (2.0 pairwise), or <answer> tags.
PARSERS = ("phrase", "final_score", "dim_scores", "pair_scores", "think")

ZWSP = "\u200b"
_CONTROL = re.compile(r"<(?=\||/?(?:image|video)>)", re.IGNORECASE)


def neutralize(text: str) -> str:
    """`text` with chat-control sequences broken by a zero-width space after their ``<`` (see the module doc)."""
    return _CONTROL.sub("<" + ZWSP, text)


@dataclass(frozen=True)
class Template:
    """One prompt and the answer format it asks for.

    text: the instruction; placeholders {prompt}, {answer} (pointwise understanding),
        {answer_a}/{answer_b} (pairwise understanding), {lo}/{hi} (the pointwise scale); literal braces
        are doubled ({{ }}), as in `str.format`.
    phrases: pairwise verdict phrases by label ("A", "B", "tie"); the labels offered by the prompt.
    marker: the verdict is read after the last occurrence of this text (e.g. "Overall Judgment").
    scale: the native scale of the overall score; dims/dim_scale: per-dimension scores.
    logprob_prefixes: assistant prefixes for logprob mode, one per value read ({"": ...} for one overall
        value). None when the format cannot be read in one step (the trained answer writes other lines
        first: reasoning, dimension lines, or relative scores).
    decimals: digits after the decimal point that the trained answers carry (EvalMuse means, 2.0 floats);
        logprob mode reads the expected value over that grid, not over the integers only.
    num_frames: frames per video the checkpoint family was trained with (None: the judge's default).
    """

    task: Task
    form: Form
    family: str
    text: str
    parser: str
    phrases: dict[str, str] = field(default_factory=dict)
    marker: str | None = None
    scale: tuple[float, float] | None = None
    dims: tuple[str, ...] = ()
    dim_scale: tuple[float, float] | None = None
    logprob_prefixes: dict[str, str] | None = None
    max_new_tokens: int = 512
    decimals: int = 0
    num_frames: int | None = None

    def render(
        self,
        prompt: str,
        answer: str | None = None,
        answer_a: str | None = None,
        answer_b: str | None = None,
    ) -> str:
        """The instruction filled with the (neutralised) caption/question and answers."""
        lo, hi = self.scale or (0, 0)
        safe = {k: None if v is None else neutralize(str(v))
                for k, v in (("prompt", prompt), ("answer", answer), ("answer_a", answer_a), ("answer_b", answer_b))}
        return self.text.format(**safe, lo=_num(lo), hi=_num(hi))

    def with_scale(self, scale: tuple[float, float]) -> Template:
        """The same pointwise template asking for another overall scale (e.g. 1-10 for DPO sifting)."""
        if "{hi}" not in self.text:
            raise ValueError(f"template {self.family}/{self.task}/{self.form} has a fixed scale {self.scale}")
        return replace(self, scale=(float(scale[0]), float(scale[1])))

    @property
    def key(self) -> tuple[Task, Form, str]:
        return (self.task, self.form, self.family)


def render_item(template: Template, prompt: str, answers: Sequence[str] = ()) -> str:
    """The user text for one item: the one rendering used by the judges and the training exports.

    Generation tasks take no answers (the candidates are media); understanding tasks take two answers
    (pairwise) or one (pointwise). A wrong count raises ValueError naming the task and form.
    """
    answers = list(answers)
    need = 0 if template.task.is_generation else (2 if template.form == Form.PAIR else 1)
    if len(answers) != need:
        raise ValueError(f"{template.task} {template.form} takes {need} answer text(s), got {len(answers)}")
    for a in answers:
        if not isinstance(a, str):
            raise TypeError(f"{template.task} answers are texts, got {type(a).__name__}")
    if need == 2:
        return template.render(prompt, answer_a=answers[0], answer_b=answers[1])
    return template.render(prompt, answer=answers[0] if answers else None)


# The think-qwen3vl checkpoints' strict-format instruction block, shared by the understanding and video
# tasks; only the names of the two candidates differ ("Answer", "Video").
STRICT_THINK_INSTRUCTIONS = (
    "Instructions (follow them strictly):\n"
    "1. Write all reasoning, analysis, explanations and scores strictly inside <think> and </think> tags.\n"
    "2. Start the <think> block directly with the first evaluation dimension: no introduction, notes or "
    "explanations before the first numbered dimension.\n"
    "3. After </think>, give the final judgment strictly inside <answer> and </answer> tags, containing only "
    "one of:\n"
    "- {item} 1 is better\n"
    "- {item} 2 is better\n"
    "4. Write nothing outside <think> and <answer>: no extra explanations, notes or prefaces.\n\n"
)


def alias(template: Template, family: str) -> Template:
    """The same template registered under another family (e.g. 2.0 reuses v1 for understanding)."""
    return replace(template, family=family)


def choices_text(phrases: dict[str, str], quote: str = '"', sep: str = ", ") -> str:
    """The allowed conclusions as a prompt lists them: '"Image 1 is better.", "Image 2 is better."'."""
    return sep.join(f"{quote}{p}.{quote}" for p in phrases.values())


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


@cache
def _registry() -> dict[tuple[Task, Form, str], Template]:
    from unireward.templates import (
        image_generation,
        image_understanding,
        video_generation,
        video_understanding,
    )

    out: dict[tuple[Task, Form, str], Template] = {}
    for module in (image_generation, image_understanding, video_generation, video_understanding):
        for t in module.TEMPLATES:
            assert t.key not in out, f"duplicate template {t.key}"
            assert t.parser in PARSERS, t.parser
            out[t.key] = t
    return out


def builtin_template(task: Task, form: Form, family: str) -> Template:
    """A built-in template; errors list the valid families."""
    if family not in FAMILIES:
        raise ValueError(f"unknown template family {family!r}; valid families: {', '.join(FAMILIES)}, "
                         "or a path to a .yaml/.toml template file")
    return _registry()[(task, form, family)]


def get_template(task: Task | str, form: Form | str, family: str = "v1") -> Template:
    """The template for a task, form and family (a built-in name or a YAML/TOML template file)."""
    from unireward.templates.files import is_template_file, load_family

    task, form = Task.parse(task), Form.parse(form)
    if family in FAMILIES or not is_template_file(family):
        return builtin_template(task, form, family)
    return load_family(family).get(task, form)


def list_templates(family: str | None = None) -> list[Template]:
    """Every built-in template, or the templates of one family (built-in: eight; a file: the ones it defines,
    and with a ``base`` the rest from it)."""
    from unireward.templates.files import is_template_file, load_family

    if family is None:
        return list(_registry().values())
    if family not in FAMILIES and is_template_file(family):
        loaded = load_family(family)
        return [loaded.get(task, form) for task in Task for form in Form
                if loaded.base is not None or (task, form) in loaded.templates]
    return [get_template(task, form, family) for task in Task for form in Form]
