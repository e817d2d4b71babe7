"""The `Template` value and the lookup over the per-task template files."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache

from unireward.tasks import Form, Task


FAMILIES: tuple[str, ...] = ("v1", "v1-llava", "2.0", "think")

# How an answer is read: a verdict phrase, a "Final Score:" line (+ optional dimension lines),
# per-dimension float scores (2.0 pointwise), relative pair scores (2.0 pairwise), or <answer> tags.
PARSERS = ("phrase", "final_score", "dim_scores", "pair_scores", "think")


@dataclass(frozen=True)
class Template:
    """One prompt and the answer format it asks for.

    text: the instruction; placeholders {prompt}, {answer} (pointwise understanding),
        {answer_a}/{answer_b} (pairwise understanding), {lo}/{hi} (the pointwise scale).
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
        lo, hi = self.scale or (0, 0)
        return self.text.format(
            prompt=prompt, answer=answer, answer_a=answer_a, answer_b=answer_b, lo=_num(lo), hi=_num(hi)
        )

    def with_scale(self, scale: tuple[float, float]) -> Template:
        """The same pointwise template asking for another overall scale (e.g. 1-10 for DPO sifting)."""
        if "{hi}" not in self.text:
            raise ValueError(f"template {self.family}/{self.task}/{self.form} has a fixed scale {self.scale}")
        return replace(self, scale=(float(scale[0]), float(scale[1])))

    @property
    def key(self) -> tuple[Task, Form, str]:
        return (self.task, self.form, self.family)


def alias(template: Template, family: str) -> Template:
    """The same template registered under another family (e.g. 2.0 reuses v1 for understanding)."""
    return replace(template, family=family)


def choices_text(phrases: dict[str, str]) -> str:
    """The allowed conclusions as the prompt lists them: 'Image 1 is better.', 'Image 2 is better.', ..."""
    return ", ".join(f"'{p}.'" for p in phrases.values())


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


def get_template(task: Task | str, form: Form | str, family: str = "v1") -> Template:
    """The template for a task, form and family; errors list the valid families."""
    task, form = Task.parse(task), Form.parse(form)
    if family not in FAMILIES:
        raise ValueError(f"unknown template family {family!r}; valid families: {', '.join(FAMILIES)}")
    try:
        return _registry()[(task, form, family)]
    except KeyError:
        have = sorted(fam for (t, fm, fam) in _registry() if t == task and fm == form)
        raise ValueError(f"no {form} template for {task} in family {family!r}; available: {have}") from None


def list_templates() -> list[Template]:
    return list(_registry().values())
