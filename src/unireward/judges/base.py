"""The `Judge` interface shared by every backend, and the work every backend shares.

A backend implements two primitives over prepared `Request`s (media already loaded, prompt rendered):
`_generate(requests) -> texts` (greedy free text) and `_choice_probs(requests, choices) -> distributions`
(the probability of each answer option after an assistant prefix, from next-token distributions).
Everything else lives here: building requests from items, batching, swapping, parsing, combining, and
per-item error capture, so the hf and openai backends behave identically.

Design choices a user will notice:
- `compare`/`score` wrap `compare_batch`/`score_batch`; batches are the fast path.
- A bad item (missing or corrupt media, unparseable answer) gives a `Verdict`/`Score` with `error` set and
  no winner/value; the rest of the batch goes on.
- ``swap=True`` judges (a, b) and (b, a). In logprob mode the two distributions are averaged; in generate
  mode agreeing verdicts stand, a disagreement (pure position bias) becomes "tie", and if either order is
  unparseable the verdict is None. ``verdict.swapped`` keeps the reversed-order verdict.
- Logprob mode reads the verdict, or the expected score over the integer values of the scale, from the
  next-token distributions after the template's assistant prefix ("Final Score: " ...), skipping any
  rationale. Multi-dimension templates read each dimension after its own prefix. The think family and the
  2.0 pairwise scores have no one-step answer: logprob mode raises for them.
- Videos are sampled to `num_frames` frames (default 8) and fed as images (frames of video A, then video B),
  as the released checkpoints were trained; ``video_as="video"`` feeds native video inputs instead.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from unireward.media import DEFAULT_FRAMES, MediaError, load_image, load_video
from unireward.tasks import Form, Score, Task, Verdict
from unireward.templates import Template, get_template, parse_answer


DEFAULT_MAX_PIXELS = 512 * 512  # the released checkpoints were trained at <= 512x512 per image/frame
MODES = ("generate", "logprob")


@dataclass
class Request:
    """One prompt, ready for a backend: loaded media in order, then the instruction text."""

    text: str
    images: list[Image.Image] = field(default_factory=list)
    videos: list[list[Image.Image]] = field(default_factory=list)
    system: str | None = None


@dataclass(frozen=True)
class Choices:
    """Answer options read in logprob mode: text after `prefix`, by label; numeric options are integers."""

    prefix: str
    options: dict[str, str]
    numeric: bool = False


def _item(x: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    d = dict(x) if isinstance(x, dict) else {k: getattr(x, k) for k in keys if hasattr(x, k)}
    d["task"] = Task.parse(d["task"])
    return d


class Judge(ABC):
    """A VLM judge for the four tasks, pairwise (`compare`) and pointwise (`score`)."""

    name: str = "judge"

    def __init__(self, family: str = "v1", mode: str = "generate", swap: bool = False, batch_size: int = 8,
                 num_frames: int = DEFAULT_FRAMES, max_pixels: int | None = DEFAULT_MAX_PIXELS,
                 max_new_tokens: int | None = None, video_as: str = "frames", point_scale: tuple | None = None):
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; valid modes: {', '.join(MODES)}")
        if video_as not in ("frames", "video"):
            raise ValueError(f"video_as must be 'frames' or 'video', got {video_as!r}")
        get_template(Task.IMAGE_GENERATION, Form.PAIR, family)  # validates the family name
        self.family, self.mode, self.swap, self.batch_size = family, mode, swap, batch_size
        self.num_frames, self.max_pixels, self.max_new_tokens = num_frames, max_pixels, max_new_tokens
        self.video_as, self.point_scale = video_as, point_scale

    # ------------------------------------------------------------------ public API
    def compare(self, task: Task | str, prompt: str, a: Any, b: Any, media: Any = None) -> Verdict:
        """Which of `a` and `b` is better for `prompt` ("A", "B", "tie", or None with `error`)."""
        return self.compare_batch([{"task": task, "prompt": prompt, "a": a, "b": b, "media": media}])[0]

    def score(self, task: Task | str, prompt: str, candidate: Any, media: Any = None) -> Score:
        """A score for one candidate on the template's native scale (`value`) and in [0, 1] (`normalized`)."""
        return self.score_batch([{"task": task, "prompt": prompt, "candidate": candidate, "media": media}])[0]

    def compare_batch(self, items: Iterable[Any]) -> list[Verdict]:
        """Judge many pairs; items are dicts (or objects) with task, prompt, a, b and optional media."""
        items = [_item(x, ("task", "prompt", "a", "b", "media")) for x in items]
        orders = [False, True] if self.swap else [False]
        jobs = [(i, rev) for rev in orders for i in range(len(items))]
        raw = self._run(Form.PAIR, [(items[i], rev) for i, rev in jobs])
        by_order = {job: v for job, v in zip(jobs, raw)}
        if not self.swap:
            return [by_order[(i, False)] for i in range(len(items))]
        return [_combine(by_order[(i, False)], _flip(by_order[(i, True)]), self.mode) for i in range(len(items))]

    def score_batch(self, items: Iterable[Any]) -> list[Score]:
        """Score many candidates; items are dicts (or objects) with task, prompt, candidate and optional media."""
        items = [_item(x, ("task", "prompt", "candidate", "media")) for x in items]
        return self._run(Form.POINT, [(x, False) for x in items])

    def template(self, task: Task | str, form: Form | str) -> Template:
        t = get_template(task, form, self.family)
        if Form.parse(form) == Form.POINT and self.point_scale is not None:
            t = t.with_scale(self.point_scale)
        return t

    # ------------------------------------------------------------------ backend primitives
    @abstractmethod
    def _generate(self, requests: list[Request], max_new_tokens: int) -> list[str]:
        """Greedy free-text answers, one per request."""

    @abstractmethod
    def _choice_probs(self, requests: list[Request], choices: Choices) -> list[dict[str, float]]:
        """For each request, the probability of each option label (normalised over the options)."""

    # ------------------------------------------------------------------ shared machinery
    def _run(self, form: Form, jobs: list[tuple[dict, bool]]) -> list[Any]:
        """Prepare, run in batches grouped by template, parse; failures stay per item."""
        out: list[Any] = [None] * len(jobs)
        groups: dict[Task, list[tuple[int, Request]]] = {}
        for k, (item, rev) in enumerate(jobs):
            try:
                groups.setdefault(item["task"], []).append((k, self._request(item, form, rev)))
            except (MediaError, ValueError, TypeError, KeyError) as e:
                out[k] = _failed(form, f"{type(e).__name__}: {e}")
        for task, entries in groups.items():
            t = self.template(task, form)
            for start in range(0, len(entries), self.batch_size):
                chunk = entries[start:start + self.batch_size]
                for (k, _), result in zip(chunk, self._run_chunk(t, [r for _, r in chunk])):
                    out[k] = result
        return out

    def _run_chunk(self, t: Template, requests: list[Request]) -> list[Any]:
        try:
            return self._decide(t, requests)
        except Exception as e:  # a failing batch is retried item by item, so one bad item cannot sink the rest
            if len(requests) == 1:
                return [_failed(t.form, f"{type(e).__name__}: {e}")]
            return [r for req in requests for r in self._run_chunk(t, [req])]

    def _decide(self, t: Template, requests: list[Request]) -> list[Any]:
        if self.mode == "generate":
            texts = self._generate(requests, self.max_new_tokens or t.max_new_tokens)
            return [parse_answer(t, text) for text in texts]
        if t.logprob_prefixes is None:
            raise ValueError(f"logprob mode cannot read the {t.family} {t.form} format for {t.task} "
                             "(it reasons or scores before the verdict); use mode='generate'")
        if t.form == Form.PAIR:
            probs = self._choice_probs(requests, Choices(t.logprob_prefixes[""], dict(t.phrases)))
            return [_verdict_from_probs(p) for p in probs]
        per_dim = {}
        for dim, prefix in t.logprob_prefixes.items():
            lo, hi = t.dim_scale if dim else t.scale
            options = {str(v): str(v) for v in range(math.ceil(lo), math.floor(hi) + 1)}
            per_dim[dim] = self._choice_probs(requests, Choices(prefix, options, numeric=True))
        return [_score_from_probs(t, {d: per_dim[d][i] for d in per_dim}) for i in range(len(requests))]

    def _request(self, item: dict, form: Form, reverse: bool) -> Request:
        """Load media and render the prompt for one item (candidates reversed when `reverse`)."""
        task: Task = item["task"]
        t = self.template(task, form)
        prompt = item.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            raise ValueError("missing prompt")
        cands = [item["a"], item["b"]] if form == Form.PAIR else [item["candidate"]]
        if reverse:
            cands = cands[::-1]
        req = Request(text="")
        if task.is_generation:
            for c in cands:
                self._add_media(req, task, c)
            req.text = t.render(prompt)
        else:
            shared = item.get("media")
            if shared is None:
                raise ValueError(f"{task} needs the shared {task.modality} in 'media'")
            for m in shared if isinstance(shared, list) and task.modality == "image" else [shared]:
                self._add_media(req, task, m)
            for c in cands:
                if not isinstance(c, str):
                    raise TypeError(f"{task} candidates are answer texts, got {type(c).__name__}")
            req.text = (t.render(prompt, answer_a=cands[0], answer_b=cands[1]) if form == Form.PAIR
                        else t.render(prompt, answer=cands[0]))
        return req

    def _add_media(self, req: Request, task: Task, src: Any) -> None:
        if task.modality == "image":
            req.images.append(load_image(src, self.max_pixels))
            return
        frames = load_video(src, self.num_frames, self.max_pixels)
        if self.video_as == "video":
            req.videos.append(frames)
        else:
            req.images.extend(frames)


# ---------------------------------------------------------------------- combining and converting
def _failed(form: Form, error: str) -> Verdict | Score:
    return Verdict(None, error=error) if form == Form.PAIR else Score(None, error=error)


def _flip(v: Verdict) -> Verdict:
    """A verdict on (b, a) expressed in terms of the original (a, b)."""
    swap = {"A": "B", "B": "A", "tie": "tie", None: None}
    probs = {swap[k]: p for k, p in v.probs.items()} if v.probs else None
    dims = {k: 1 - x for k, x in v.dims.items()} if v.dims else None
    return Verdict(swap[v.winner], prob_a=None if v.prob_a is None else 1 - v.prob_a, text=v.text,
                   probs=probs, dims=dims, error=v.error)


def _combine(v: Verdict, w: Verdict, mode: str) -> Verdict:
    """Merge the verdicts of both orders (w already flipped back to the original orientation)."""
    if v.probs is not None and w.probs is not None:
        probs = {k: (v.probs.get(k, 0.0) + w.probs.get(k, 0.0)) / 2 for k in ("A", "B", "tie")}
        out = _verdict_from_probs(probs)
        return Verdict(out.winner, out.prob_a, v.text, probs, swapped=w)
    if v.winner is None or w.winner is None:
        bad = "original" if v.winner is None else "swapped"
        return Verdict(None, text=v.text, swapped=w, error=f"{bad} order unparseable: {(v.error or w.error)}")
    prob_a = None if v.prob_a is None or w.prob_a is None else (v.prob_a + w.prob_a) / 2
    winner = v.winner if v.winner == w.winner else "tie"
    if prob_a is not None and v.dims is not None:  # relative scores (2.0): decide on the averaged share
        winner = "tie" if abs(prob_a - 0.5) < 1e-9 else ("A" if prob_a > 0.5 else "B")
    return Verdict(winner, prob_a, v.text, dims=v.dims, swapped=w)


def _verdict_from_probs(probs: dict[str, float]) -> Verdict:
    full = {k: float(probs.get(k, 0.0)) for k in ("A", "B", "tie")}
    winner = max(full, key=full.get)
    return Verdict(winner, prob_a=full["A"] + full["tie"] / 2, probs=full, text="")


def _score_from_probs(t: Template, dists: dict[str, dict[str, float]]) -> Score:
    expected = {d: sum(int(v) * p for v, p in dist.items()) for d, dist in dists.items()}
    scale = t.scale or (0.0, 1.0)
    if "" in expected:
        value, dims = expected[""], {}
    else:
        dims = expected
        value = sum(dims.values()) / len(dims)
    from unireward.tasks import normalize

    return Score(value, scale=scale, dims=dims, normalized=normalize(value, scale), probs=dists.get(""),
                 text="")


def as_items(records: Sequence[Any], base: str = ".") -> list[dict[str, Any]]:
    """Unified records as judge items (see `Record.judge_inputs`)."""
    return [r.judge_inputs(base) for r in records]
