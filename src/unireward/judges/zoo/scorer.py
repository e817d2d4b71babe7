"""The scorer kind of judge: a model that gives a number per candidate (PickScore, HPS, ImageReward,
VideoReward, VideoScore ...), behind the same `compare` / `score` / `*_batch` calls as the VLM judges.

A `ScorerJudge` wraps a *backend* (one per model family, in this package) that turns prepared inputs into
per-dimension numbers; everything else lives here, so every family behaves the same way.

Design choices a user will notice:
- ``score`` returns the model's own number in `Score.value` (PickScore ~20-23, HPSv2 ~0.25-0.30,
  ImageReward z-scores, VideoScore 1-4 ...) on the entry's ``scale`` (the typical range, from the model's
  paper or card), and ``normalized`` in [0, 1]: ``(value - lo) / (hi - lo)`` clipped, for bounded scales
  (``normalize = "linear"``), or a logistic around the scale's middle for unbounded ones
  (``normalize = "logistic"``: ``sigmoid(4 (value - mid) / (hi - lo))``). Multi-dimension models give
  ``dims`` and the entry's aggregate (sum for VideoReward's Overall, mean for VideoScore) as ``value``.
- ``compare`` scores both candidates (one batch) and derives the verdict: ``d = score_a - score_b``;
  ``prob_a = sigmoid(d / temperature)`` with the entry's ``temperature`` (1 for models whose scores are
  already logits, e.g. PickScore; 0.01 for HPSv2's cosine, the CLIP logit scale); ``winner`` is "tie" when
  ``|d| <= tie_margin`` (the entry's; 0 by default, so only equal scores tie), else the higher score.
  ``Verdict.dims`` holds the per-dimension share of A, ``text`` both scores. Scores do not depend on the
  order, so ``swap`` changes nothing and each candidate is scored once.
- A task or form the model cannot judge raises ``ValueError`` listing the ones it can (before any work);
  `check_mode` raises the same message, so the commands fail up front.
- Bad input (missing or corrupt media, no prompt) fails only its item (``error`` set, no value); a batch
  the model raises on is retried item by item, so one bad item never takes its neighbours down.
- Generative backends (VideoScore2, LiFT, VisionReward) return `Numbers` (a dict that also carries the
  model's raw answer, shown in `Score.text` / `Verdict.text`), or a string for an item whose answer could not
  be parsed: that item gets ``value = None`` and the string as its ``error`` (never a default score).
- Videos are sampled to ``num_frames`` frames (the judge's config) unless the backend reads the video
  itself (a backend with ``read_video(src)``, e.g. VideoScore's own frame rule); images are loaded at full
  resolution (``max_pixels`` is ignored): each backend resizes exactly
  as its reference implementation does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from PIL import Image

from unireward.judges.base import Choices, Judge, Request
from unireward.judges.config import JudgeConfig
from unireward.media import MediaError, load_image, load_video
from unireward.tasks import Form, Score, Task, Verdict


class Numbers(dict):
    """Per-dimension numbers of one candidate, plus the model's raw answer (generative backends)."""

    def __init__(self, values: dict[str, float], text: str = ""):
        super().__init__(values)
        self.text = text


@dataclass
class ScorerInput:
    """One candidate, ready for a backend: the caption or question, the media (one image, or a video's
    frames), and for understanding tasks the answer text."""

    prompt: str
    task: Task
    images: list[Image.Image] = field(default_factory=list)
    text: str | None = None

    @property
    def is_video(self) -> bool:
        return self.task.modality == "video"


class Backend(Protocol):
    """What a model family implements: per-dimension numbers for a batch of inputs."""

    dims: tuple[str, ...]  # names of the numbers it returns, in order (one name for single-score models)

    def score(self, inputs: Sequence[ScorerInput]) -> list[dict[str, float] | str]:
        """One dict (dimension -> number) per input, or an error message for an input whose answer could not
        be read; raising fails the whole batch (it is retried singly)."""
        ...


@dataclass(frozen=True)
class ScoreRule:
    """How an entry's numbers become a `Score` and a `Verdict` (data from presets.toml)."""

    scale: tuple[float, float]
    normalize: str = "linear"  # or "logistic"
    aggregate: str = "first"  # "first", "sum", "mean", or a dimension name
    temperature: float = 1.0
    tie_margin: float = 0.0

    def __post_init__(self) -> None:
        if self.normalize not in ("linear", "logistic"):
            raise ValueError(f"normalize must be linear or logistic, got {self.normalize!r}")
        if not self.temperature > 0 or self.tie_margin < 0:
            raise ValueError("temperature must be > 0 and tie_margin >= 0")

    def value(self, dims: dict[str, float]) -> float:
        if self.aggregate == "first":
            return next(iter(dims.values()))
        if self.aggregate == "sum":
            return sum(dims.values())
        if self.aggregate == "mean":
            return sum(dims.values()) / len(dims)
        return dims[self.aggregate]

    def normalized(self, value: float) -> float:
        lo, hi = self.scale
        if self.normalize == "linear":
            return min(1.0, max(0.0, (value - lo) / (hi - lo)))
        return _sigmoid(4 * (value - (lo + hi) / 2) / (hi - lo))

    def to_score(self, dims: dict[str, float]) -> Score:
        value = self.value(dims)
        shown = dict(dims) if len(dims) > 1 else {}
        return Score(value, scale=self.scale, dims=shown, normalized=self.normalized(value),
                     text=_with_answer(dims))

    def to_verdict(self, a: dict[str, float], b: dict[str, float]) -> Verdict:
        """The pairwise verdict from the two candidates' numbers (see the module docstring)."""
        d = self.value(a) - self.value(b)
        winner = "tie" if abs(d) <= self.tie_margin else ("A" if d > 0 else "B")
        dims = {k: _sigmoid((a[k] - b[k]) / self.temperature) for k in a} if len(a) > 1 else None
        return Verdict(winner, prob_a=_sigmoid(d / self.temperature), dims=dims,
                       text=f"A: {_with_answer(a)}; B: {_with_answer(b)}")


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _describe_dims(dims: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in dims.items())


def _with_answer(dims: dict[str, float]) -> str:
    answer = getattr(dims, "text", "")
    return f"{_describe_dims(dims)} [{answer}]" if answer else _describe_dims(dims)


class TaskError(ValueError):
    """A task or form the model cannot judge; the message lists the ones it can."""


class ScorerJudge(Judge):
    """A judge over a scoring model: pointwise scores on its own scale, pairwise verdicts derived from them."""

    default_batch_size = 16

    def __init__(self, name: str, backend: Backend, rule: ScoreRule, tasks: Iterable[Task | str],
                 forms: Iterable[Form | str] = (Form.PAIR, Form.POINT), config: JudgeConfig | None = None,
                 **options: Any):
        super().__init__(config, **options)
        self.name, self.backend, self.rule = name, backend, rule
        self.tasks = tuple(Task.parse(t) for t in tasks)
        self.forms = tuple(Form.parse(f) for f in forms)

    # ------------------------------------------------------------------ public API
    def check_mode(self, task: Task | str, form: Form | str) -> None:
        """Raise `TaskError` (a ValueError) when this model cannot judge `task` in `form`."""
        task, form = Task.parse(task), Form.parse(form)
        if task not in self.tasks or form not in self.forms:
            can = ", ".join(t.value for t in self.tasks)
            forms = ", ".join(f.value for f in self.forms)
            raise TaskError(f"{self.name} cannot judge {task.value} ({form.value}); it judges: {can} "
                            f"(forms: {forms})")

    def score_batch(self, items: Iterable[Any]) -> list[Score]:
        items = [self._item(x, ("task", "prompt", "candidate", "media"), Form.POINT) for x in items]
        results = self._numbers([(x, x["candidate"]) for x in items])
        return [Score(None, error=r) if isinstance(r, str) else self.rule.to_score(r) for r in results]

    def compare_batch(self, items: Iterable[Any]) -> list[Verdict]:
        items = [self._item(x, ("task", "prompt", "a", "b", "media"), Form.PAIR) for x in items]
        results = self._numbers([(x, c) for x in items for c in (x["a"], x["b"])])
        out = []
        for a, b in zip(results[0::2], results[1::2]):
            bad = [f"{k}: {r}" for k, r in (("A", a), ("B", b)) if isinstance(r, str)]
            out.append(Verdict(None, error="; ".join(bad)) if bad else self.rule.to_verdict(a, b))
        return out

    # ------------------------------------------------------------------ machinery
    def _item(self, x: Any, keys: tuple[str, ...], form: Form) -> dict[str, Any]:
        d = dict(x) if isinstance(x, dict) else {k: getattr(x, k) for k in keys if hasattr(x, k)}
        d["task"] = Task.parse(d["task"])
        self.check_mode(d["task"], form)
        return d

    def _numbers(self, jobs: list[tuple[dict, Any]]) -> list[dict[str, float] | str]:
        """Numbers per (item, candidate) job, or the error message of a job that failed."""
        out: list[dict[str, float] | str] = [""] * len(jobs)
        ready: list[tuple[int, ScorerInput]] = []
        for k, (item, candidate) in enumerate(jobs):
            try:
                ready.append((k, self._input(item, candidate)))
            except (MediaError, ValueError, TypeError, KeyError) as e:
                out[k] = f"{type(e).__name__}: {e}"
        for start in range(0, len(ready), self.batch_size):
            chunk = ready[start:start + self.batch_size]
            for (k, _), r in zip(chunk, self._run([x for _, x in chunk])):
                out[k] = r
        return out

    def _run(self, inputs: list[ScorerInput]) -> list[dict[str, float] | str]:
        try:
            results = self.backend.score(inputs)
            if len(results) != len(inputs):
                raise RuntimeError(f"the backend returned {len(results)} results for {len(inputs)} inputs")
            bad = [i for i, r in enumerate(results)
                   if not isinstance(r, str) and any(not math.isfinite(v) for v in r.values())]
            return [f"the model gave a non-finite score {results[i]}" if i in bad else results[i]
                    for i in range(len(results))]
        except Exception as e:  # one bad item must not sink its neighbours: retry singly
            if len(inputs) == 1:
                return [f"{type(e).__name__}: {e}"]
            return [r for x in inputs for r in self._run([x])]

    def _input(self, item: dict, candidate: Any) -> ScorerInput:
        task: Task = item["task"]
        prompt = item.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            raise ValueError("missing prompt")
        if task.is_generation:
            return ScorerInput(prompt, task, self._media(task, candidate))
        if not isinstance(candidate, str):
            raise TypeError(f"{task.value} candidates are answer texts, got {type(candidate).__name__}")
        if item.get("media") is None:
            raise ValueError(f"{task.value} needs the shared {task.modality} in 'media'")
        return ScorerInput(prompt, task, self._media(task, item["media"]), text=candidate)

    def _media(self, task: Task, src: Any) -> list[Image.Image]:
        if src is None:
            raise ValueError(f"missing {task.modality}")
        if task.modality == "image":
            return [load_image(src)]
        read_video = getattr(self.backend, "read_video", None)
        return read_video(src) if read_video is not None else load_video(src, self.num_frames)

    # ------------------------------------------------------------------ not used by scorers
    def _generate(self, requests: list[Request], max_new_tokens: int) -> list[str]:
        raise NotImplementedError(f"{self.name} is a scoring model: it writes no text")

    def _choice_probs(self, requests: list[Request], choices: Choices) -> list[dict[str, float]]:
        raise NotImplementedError(f"{self.name} is a scoring model: it has no answer options")
