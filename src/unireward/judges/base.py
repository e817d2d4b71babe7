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
- Logprob mode reads the verdict, or the expected score, from the next-token distributions after the
  template's assistant prefix ("Final Score: " ...). The expected score is taken over every numeral the
  trained answers can hold: the integers of the scale, or, where the template's answers carry decimals
  (`Template.decimals`), the decimal grid too ("3", "3.0" .. "3.9" for one decimal): value = sum of
  value x P(numeral), normalised over the numerals. A numeral that starts a longer one ("3" of "3.7")
  counts only where the answer stops there. Templates whose trained answer writes something else first
  (reasoning, dimension lines, relative scores: ``logprob_prefixes is None``) are refused with a message
  naming the template and the alternative: per item as its `error` (the batch goes on), or up front with
  `Judge.check_mode`.
- A backend may fail single items of a batch without touching the others (`ItemErrors`): the hf backend
  does so for a prompt longer than the model's context.
- Videos are sampled to `num_frames` frames (default 8) and fed as images (frames of video A, then video B),
  as the released checkpoints were trained; ``video_as="video"`` feeds native video inputs instead.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from PIL import Image

from unireward.judges.config import DEFAULT_MAX_PIXELS, MODES, JudgeConfig
from unireward.media import MediaError, load_image, load_video
from unireward.tasks import Form, Score, Task, Verdict
from unireward.templates import Template, answer_points, get_template, parse_answer, render_item


__all__ = ["DEFAULT_MAX_PIXELS", "MODES", "Choices", "Generated", "Judge", "JudgeConfig", "Request"]


class Generated(str):
    """A generated answer that also carries its tokens' probabilities: ``tokens`` holds, per generated token,
    (the character offset where it ends in the text, the probability the model gave it). Backends return it
    from `_generate` in reason-logprob mode where they can; everything else treats it as the plain text."""

    tokens: tuple[tuple[int, float], ...] = ()

    @classmethod
    def of(cls, text: str, tokens: Iterable[tuple[int, float]]) -> Generated:
        out = cls(text)
        out.tokens = tuple(tokens)
        return out


def reasoning_prob(text: str, end: int) -> float | None:
    """The lowest probability among the tokens that end at or before character `end` (the reasoning before
    the first value read), or None when the backend gave no token probabilities (or nothing was reasoned)."""
    probs = [p for stop, p in getattr(text, "tokens", ()) if stop <= end]
    return min(probs) if probs else None


@dataclass
class Request:
    """One prompt, ready for a backend: loaded media in order, then the instruction text."""

    text: str
    images: list[Image.Image] = field(default_factory=list)
    videos: list[list[Image.Image]] = field(default_factory=list)
    system: str | None = None
    answer_start: str = ""  # what the assistant has already written (reason-logprob: the reasoning)


@dataclass(frozen=True)
class Choices:
    """Answer options read in logprob mode: the text after `prefix`, by label.

    numeric: the options are numerals ("3", "3.7", "10"; see `numeral_options`). A numeral that is the
    start of another option ("3" of "3.7", "1" of "10") counts only where the answer stops there: where the
    next token does not go on with one of its `continuation` characters.
    """

    prefix: str
    options: dict[str, str]
    numeric: bool = False

    def continuation(self, label: str) -> str:
        """The characters that, written right after numeral `label`, make it a longer number: the digits,
        and the decimal point where an option continues `label` with one ("3" -> "3.7")."""
        text = self.options[label]
        dot = any(o.startswith(text + ".") for o in self.options.values())
        return "0123456789" + ("." if dot else "")

    def ends(self) -> list[str]:
        """Numeric labels that another option extends ("1" and "10", "3" and "3.7")."""
        if not self.numeric:
            return []
        texts = list(self.options.values())
        return [k for k, s in self.options.items() if any(o != s and o.startswith(s) for o in texts)]


class ItemErrors(Exception):
    """Raised by a backend when some requests of a batch cannot run (e.g. a prompt longer than the model's
    context): ``errors`` maps request indices to messages; the others are run again without them."""

    def __init__(self, errors: dict[int, str]):
        super().__init__("; ".join(f"request {i}: {m}" for i, m in sorted(errors.items())))
        self.errors = errors


def numeral_options(lo: float, hi: float, decimals: int = 0) -> dict[str, str]:
    """The numerals a score on [lo, hi] can be written as, with up to `decimals` digits after the point.

    Every spelling is an option: "3", "3.0" .. "3.9" (and "3.00" .. "3.99" for two decimals); an option's
    label is its text and its value ``float(label)``. decimals=0 gives the integers only.
    """
    out: dict[str, str] = {}
    for whole in range(math.floor(lo), math.floor(hi) + 1):
        if lo <= whole <= hi:
            out[str(whole)] = str(whole)
        for k in range(1, decimals + 1):
            for frac in range(10 ** k):
                text = f"{whole}.{frac:0{k}d}"
                if lo <= float(text) <= hi:
                    out[text] = text
    return out


def _item(x: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    d = dict(x) if isinstance(x, dict) else {k: getattr(x, k) for k in keys if hasattr(x, k)}
    d["task"] = Task.parse(d["task"])
    return d


class Judge(ABC):
    """A VLM judge for the four tasks, pairwise (`compare`) and pointwise (`score`)."""

    name: str = "judge"

    default_batch_size = 8

    def __init__(self, config: JudgeConfig | None = None, **options: Any):
        """`config` holds every option; keyword `options` (mode=..., family=...) override its fields."""
        cfg = (config or JudgeConfig()).merged(**options)
        if cfg.family is None:
            cfg = cfg.merged(family="v1")
        get_template(Task.IMAGE_GENERATION, Form.PAIR, cfg.family)  # validates the family name
        self.config = cfg
        self.family, self.mode, self.swap = cfg.family, cfg.mode, cfg.swap
        self.batch_size = cfg.batch_size or self.default_batch_size
        self.num_frames, self.max_pixels, self.max_new_tokens = cfg.num_frames, cfg.max_pixels, cfg.max_new_tokens
        self.video_as, self.point_scale = cfg.video_as, cfg.point_scale

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
        return [_combine(by_order[(i, False)], _flip(by_order[(i, True)])) for i in range(len(items))]

    def score_batch(self, items: Iterable[Any]) -> list[Score]:
        """Score many candidates; items are dicts (or objects) with task, prompt, candidate and optional media."""
        items = [_item(x, ("task", "prompt", "candidate", "media")) for x in items]
        return self._run(Form.POINT, [(x, False) for x in items])

    def template(self, task: Task | str, form: Form | str) -> Template:
        t = get_template(task, form, self.family)
        if Form.parse(form) == Form.POINT and self.point_scale is not None:
            t = t.with_scale(self.point_scale)
        return t

    def check_mode(self, task: Task | str, form: Form | str) -> None:
        """Raise ValueError, naming the template and what to use instead, when this judge's mode cannot
        judge `task` in `form` (logprob on a template whose answer writes reasoning or dimension lines
        first). Judging such items does not raise: each gets this message as its `error`; call this before
        a long run to fail at once instead."""
        if self.mode == "logprob":
            refusal = logprob_refusal(self.template(task, form))
            if refusal:
                raise ValueError(refusal)

    # ------------------------------------------------------------------ backend primitives
    @abstractmethod
    def _generate(self, requests: list[Request], max_new_tokens: int) -> list[str]:
        """Greedy free-text answers, one per request (in reason-logprob mode a `Generated` where the backend
        can report its tokens' probabilities)."""

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
        if self.mode == "logprob" and (refusal := logprob_refusal(t)):
            return [_failed(t.form, refusal) for _ in requests]  # every item says why; the batch goes on
        try:
            return self._decide(t, requests)
        except ItemErrors as e:  # the backend named the items that cannot run: fail them, run the others
            out: list[Any] = [None] * len(requests)
            rest = [i for i in range(len(requests)) if i not in e.errors]
            for i, message in e.errors.items():
                out[i] = _failed(t.form, message)
            if rest:
                for i, result in zip(rest, self._run_chunk(t, [requests[i] for i in rest])):
                    out[i] = result
            return out
        except Exception as e:  # a failing batch is retried item by item, so one bad item cannot sink the rest
            if len(requests) == 1:
                return [_failed(t.form, f"{type(e).__name__}: {e}")]
            return [r for req in requests for r in self._run_chunk(t, [req])]

    def _decide(self, t: Template, requests: list[Request]) -> list[Any]:
        """Run the backend on one batch and read the answers. A backend may return an exception in place of
        one request's result (e.g. a 400 from a server): that item fails with it, the others stand."""
        if self.mode == "generate":
            texts = self._generate(requests, self.max_new_tokens or t.max_new_tokens)
            return [_failed(t.form, _describe(x)) if isinstance(x, Exception) else parse_answer(t, x) for x in texts]
        if self.mode == "reason-logprob":
            return self._reason_then_read(t, requests)
        refusal = logprob_refusal(t)
        if refusal:
            raise ValueError(refusal)
        if t.form == Form.PAIR:
            probs = self._choice_probs(requests, Choices(t.logprob_prefixes[""], dict(t.phrases)))
            return [_failed(t.form, _describe(p)) if isinstance(p, Exception) else _verdict_from_probs(p)
                    for p in probs]
        per_dim = {}
        for dim, prefix in t.logprob_prefixes.items():
            lo, hi = t.dim_scale if dim else t.scale
            options = numeral_options(lo, hi, t.decimals)
            per_dim[dim] = self._choice_probs(requests, Choices(prefix, options, numeric=True))
        out = []
        for i in range(len(requests)):
            dists = {d: per_dim[d][i] for d in per_dim}
            bad = [x for x in dists.values() if isinstance(x, Exception)]
            out.append(_failed(t.form, _describe(bad[0])) if bad else _score_from_probs(t, dists))
        return out

    def _reason_then_read(self, t: Template, requests: list[Request]) -> list[Any]:
        """reason-logprob: generate the answer greedily, cut it where each value the parser reads begins
        (`answer_points`), and read the options' probabilities there in one forward pass per group of
        items, as logprob mode does right after the prompt. An answer with no such point keeps its parsed
        (generate) result, with the reason added to its error. Where the backend reports its tokens'
        probabilities, the lowest one before the first point is the result's `reasoning_prob`."""
        texts = self._generate(requests, self.max_new_tokens or t.max_new_tokens)
        out: list[Any] = [None] * len(requests)
        groups: dict[tuple[str, str], list[tuple[int, Request]]] = {}
        first_cut: dict[int, int] = {}  # where the first value read begins: the reasoning ends there
        for i, (req, text) in enumerate(zip(requests, texts)):
            if isinstance(text, Exception):
                out[i] = _failed(t.form, _describe(text))
                continue
            points = answer_points(t, text)
            if not points:
                out[i] = replace(_unread(parse_answer(t, str(text))), reasoning_prob=reasoning_prob(text, len(text)))
                continue
            first_cut[i] = min(points.values())
            for dim, cut in points.items():
                written = text[:cut]
                # trailing spaces go with the options (" Answer", " 7" are tokenised with them); a newline
                # stays with the text before it (".\n" is one token in Qwen's vocabulary)
                said = written.rstrip(" \t")
                groups.setdefault((dim, written[len(said):]), []).append((i, replace(req, answer_start=said)))
        dists: dict[int, dict[str, Any]] = {}
        for (dim, space), entries in groups.items():
            options, numeric = _read_options(t, dim)
            probs = self._choice_probs([r for _, r in entries], Choices(space, options, numeric=numeric))
            for (i, _), p in zip(entries, probs):
                dists.setdefault(i, {})[dim] = p
        for i, d in dists.items():
            bad = [x for x in d.values() if isinstance(x, Exception)]
            out[i] = _failed(t.form, _describe(bad[0])) if bad else replace(
                _read_result(t, d, str(texts[i])), reasoning_prob=reasoning_prob(texts[i], first_cut[i]))
        return out

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
                self._add_media(req, task, c, t.num_frames)
            req.text = render_item(t, prompt)
        else:
            shared = item.get("media")
            if shared is None:
                raise ValueError(f"{task} needs the shared {task.modality} in 'media'")
            for m in shared if isinstance(shared, list) and task.modality == "image" else [shared]:
                self._add_media(req, task, m, t.num_frames)
            req.text = render_item(t, prompt, cands)
        return req

    def _add_media(self, req: Request, task: Task, src: Any, num_frames: int | None = None) -> None:
        """Load one image or video into `req`; a video is sampled to `num_frames` frames (the template's
        ``num_frames`` where it fixes one, e.g. 16 for the 2.0 APS video prompt; else the judge's)."""
        if task.modality == "image":
            req.images.append(load_image(src, self.max_pixels))
            return
        frames = load_video(src, num_frames or self.num_frames, self.max_pixels)
        if self.video_as == "video":
            req.videos.append(frames)
        else:
            req.images.extend(frames)


# ---------------------------------------------------------------------- combining and converting
def _describe(e: Exception) -> str:
    return f"{type(e).__name__}: {e}"


def _failed(form: Form, error: str) -> Verdict | Score:
    return Verdict(None, error=error) if form == Form.PAIR else Score(None, error=error)


def _flip(v: Verdict) -> Verdict:
    """A verdict on (b, a) expressed in terms of the original (a, b)."""
    swap = {"A": "B", "B": "A", "tie": "tie", None: None}
    probs = {swap[k]: p for k, p in v.probs.items()} if v.probs else None
    dims = {k: 1 - x for k, x in v.dims.items()} if v.dims else None
    return replace(v, winner=swap[v.winner], prob_a=None if v.prob_a is None else 1 - v.prob_a, probs=probs,
                   dims=dims, swapped=None)


def _combine(v: Verdict, w: Verdict) -> Verdict:
    """Merge the verdicts of both orders (w already flipped back to the original orientation)."""
    return replace(_merge(v, w), reasoning_prob=None if v.reasoning_prob is None or w.reasoning_prob is None
                   else min(v.reasoning_prob, w.reasoning_prob))


def _merge(v: Verdict, w: Verdict) -> Verdict:
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


def _read_options(t: Template, dim: str) -> tuple[dict[str, str], bool]:
    """The options read at one answer point: the verdict phrases, or the numerals of the value's scale."""
    if t.parser in ("phrase", "think"):
        return dict(t.phrases), False
    lo, hi = t.dim_scale if dim else t.scale
    return numeral_options(lo, hi, t.decimals), True


def _read_result(t: Template, dists: dict[str, dict[str, float]], text: str) -> Verdict | Score:
    """A Verdict or Score from the distributions read after the reasoning (which stays in `text`)."""
    if t.parser in ("phrase", "think"):
        return replace(_verdict_from_probs(dists[""]), text=text)
    if t.parser == "pair_scores":  # the expected share of candidate 1, per dimension, is P(A better)
        shares = {d: sum(float(v) * p for v, p in dist.items()) for d, dist in dists.items()}
        prob_a = sum(shares.values()) / len(shares)
        winner = "tie" if abs(prob_a - 0.5) < 1e-9 else ("A" if prob_a > 0.5 else "B")
        return Verdict(winner, prob_a=prob_a, text=text, dims=shares)
    return replace(_score_from_probs(t, dists), text=text)


def _unread(result: Verdict | Score) -> Verdict | Score:
    note = "the answer has no point to read probabilities at; its parsed value stands"
    return replace(result, error=f"{result.error}; {note}" if result.error else None)


def _verdict_from_probs(probs: dict[str, float]) -> Verdict:
    full = {k: float(probs.get(k, 0.0)) for k in ("A", "B", "tie")}
    winner = max(full, key=full.get)
    return Verdict(winner, prob_a=full["A"] + full["tie"] / 2, probs=full, text="")


def _score_from_probs(t: Template, dists: dict[str, dict[str, float]]) -> Score:
    expected = {d: sum(float(v) * p for v, p in dist.items()) for d, dist in dists.items()}
    scale = t.scale or (0.0, 1.0)
    if "" in expected:
        value, dims = expected[""], {}
    else:
        dims = expected
        value = sum(dims.values()) / len(dims)
    from unireward.tasks import normalize

    return Score(value, scale=scale, dims=dims, normalized=normalize(value, scale), probs=dists.get(""),
                 text="")


# What the trained answer writes before the value logprob mode would read, by parser.
_WRITES_FIRST = {
    "think": "its reasoning inside <think> ... </think> (per-criterion scores and totals)",
    "pair_scores": "relative scores for each dimension, one line per image or video",
    "dim_scores": "one score line per dimension, each after the lines before it",
}


def logprob_refusal(t: Template) -> str | None:
    """Why logprob mode cannot read template `t` (None when it can).

    Logprob mode reads the value right after an assistant prefix that follows the prompt directly. A
    template whose trained answer writes other lines first (``logprob_prefixes is None``) would be read
    out of the context the checkpoint learned, so it is refused, never silently read.
    """
    if t.logprob_prefixes is not None:
        return None
    if t.parser in _WRITES_FIRST:
        what = _WRITES_FIRST[t.parser]
    elif t.dims:
        what = f"the dimension lines ({', '.join(t.dims)})"
    elif t.parser == "phrase":
        what = "a reasoned comparison" + (f" before '{t.marker}'" if t.marker else "")
    else:
        what = "other lines (e.g. the element checks)"
    value = "verdict" if t.form == Form.PAIR else "score"
    return (f"logprob mode cannot read the {t.family}/{t.task}/{t.form} template: its trained answer writes "
            f"{what} before the {value}, so the {value} cannot be read right after the prompt. "
            "Use mode='reason-logprob' (the reasoning first, then the options' probabilities) or 'generate'.")
