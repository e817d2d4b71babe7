"""The vocabulary every other module speaks: tasks, forms, verdicts and scores.

Design choices a user will notice:
- `Task` and `Form` are `str` enums, so `Task("image_generation")` and plain strings both work and
  JSON files hold the plain values.
- A `Verdict` whose answer could not be parsed has `winner=None` and says why in `error`; nothing is ever
  defaulted to "A" (the upstream sift code silently lets item 1 win, which biases toward position 1).
- A `Score` keeps the template's native scale in `value` (1-5, 0-100, 1-10 ...) and a [0, 1] `normalized`
  value so scores from different templates can be compared.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Literal


class Task(StrEnum):
    IMAGE_GENERATION = "image_generation"
    IMAGE_UNDERSTANDING = "image_understanding"
    VIDEO_GENERATION = "video_generation"
    VIDEO_UNDERSTANDING = "video_understanding"

    @property
    def is_generation(self) -> bool:
        """Generation tasks judge media candidates against a caption; understanding tasks judge texts."""
        return self in (Task.IMAGE_GENERATION, Task.VIDEO_GENERATION)

    @property
    def modality(self) -> Literal["image", "video"]:
        return "image" if self in (Task.IMAGE_GENERATION, Task.IMAGE_UNDERSTANDING) else "video"

    @classmethod
    def parse(cls, value: str | Task) -> Task:
        try:
            return cls(value)
        except ValueError:
            valid = ", ".join(t.value for t in cls)
            raise ValueError(f"unknown task {value!r}; valid tasks: {valid}") from None


class Form(StrEnum):
    PAIR = "pair"
    POINT = "point"

    @classmethod
    def parse(cls, value: str | Form) -> Form:
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"unknown form {value!r}; valid forms: pair, point") from None


Winner = Literal["A", "B", "tie"]
WINNERS: tuple[str, ...] = ("A", "B", "tie")


@dataclass(frozen=True)
class Verdict:
    """The outcome of a pairwise judgment.

    winner: "A", "B", "tie", or None when the answer states no verdict (or the item failed: see `error`).
    prob_a: probability that A is better, when the backend can give one (logprob mode, or the 2.0
        family's relative scores); ties split evenly.
    probs: the full distribution over "A", "B", "tie" in logprob mode.
    dims: per-dimension share of A for families that score dimensions (2.0: Alignment/Coherence/Style).
    text: the raw answer.
    swapped: with swap=True, the verdict from the reversed order, mapped back to the original A/B.
    error: why there is no winner (unparseable answer, unreadable media ...); for the 2.0 family, a note
        on dimensions that could not be read while the others still decide.
    reasoning_prob: reason-logprob mode: the lowest probability the judge gave any token of its own
        reasoning (what it wrote before the verdict), where the backend reports token probabilities; with
        swap=True the lower of the two orders. A verdict read after a reasoning step it was unsure of.
    """

    winner: Winner | None
    prob_a: float | None = None
    text: str = ""
    probs: dict[str, float] | None = None
    dims: dict[str, float] | None = None
    swapped: Verdict | None = None
    error: str | None = None
    reasoning_prob: float | None = None

    @property
    def ok(self) -> bool:
        return self.winner is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Score:
    """The outcome of a pointwise judgment.

    value: the score on the template's native scale (for multi-dimension templates, the mean of the
        dimensions unless the answer states an overall score), None when unparseable.
    scale: (low, high) of the native scale.
    dims: per-dimension scores, e.g. the five VideoFeedback dimensions.
    normalized: (value - low) / (high - low), in [0, 1].
    elements: EvalMuse-style element labels, e.g. {"puffin (animal)": 1}.
    probs: in logprob mode, the probability of each integer score value.
    reasoning_prob: reason-logprob mode: the lowest probability the judge gave any token of its reasoning
        before the score (as `Verdict.reasoning_prob`).
    """

    value: float | None
    scale: tuple[float, float] = (0.0, 1.0)
    dims: dict[str, float] = field(default_factory=dict)
    normalized: float | None = None
    text: str = ""
    elements: dict[str, int] = field(default_factory=dict)
    probs: dict[str, float] | None = None
    error: str | None = None
    reasoning_prob: float | None = None

    @property
    def ok(self) -> bool:
        return self.value is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def normalize(value: float | None, scale: tuple[float, float]) -> float | None:
    """Map a score from its native scale to [0, 1]; None and nan stay None."""
    if value is None or math.isnan(value):
        return None
    lo, hi = scale
    return (value - lo) / (hi - lo)
