"""Choosing one preference pair per prompt from N candidates: pair ranking, then point sifting.

The strategies are pure functions of the number of candidates and two judgment callables, so they can be
tested on hand-made judgments and run unchanged on a live judge, a cache, or a Ray actor:

- ``compare(pairs)`` takes ``[(i, j), ...]`` and returns one verdict per pair, candidate i shown first
  (as "A"). A verdict is a `Verdict` or a plain ``"A"``/``"B"``/``"tie"``/``None``.
- ``score(indices)`` returns one pointwise score per candidate: a `Score` or a plain number or ``None``.

Design choices a user will notice:
- ``pair-point`` (the paper's): fixed pairs (0, 1), (2, 3), ...; winners form the chosen list, losers the
  rejected list; the best-scored chosen is paired with the worst-scored rejected, and the prompt is dropped
  when that chosen score is not strictly above that rejected score. With an odd N the last candidate is
  left out of the pairs.
- A tie or an unparseable verdict never lets the first candidate win (the upstream default). By policy
  (``on_tie``, ``on_unparseable``) the pair is either judged again in swapped order (``"swap"``; the pair
  is kept only if that order gives a clear winner) or dropped (``"drop"``).
- Scores are compared as numbers (the upstream sift compared strings, so "9" beat "10"). A candidate
  whose score could not be read is left out of the sifting and reported; among equal scores the lowest
  index wins (candidates are exchangeable samples, so this is no position bias on the judge's side).
- Confidence filters (off by default, so the paper's algorithm is the default): ``min_margin`` counts a
  verdict only when the judge is that sure, |2 P(A) - 1| >= min_margin (below it the verdict is a tie and
  follows ``on_tie``), which needs a judge that gives probabilities (logprob or reason-logprob mode; a verdict
  without one is undecided and reported); ``min_gap`` keeps a pair only when the chosen score is more than
  ``min_gap`` above the rejected one (native scale; 0 is the paper's "strictly above");
  ``min_reasoning_prob`` counts a verdict or a score only when the judge was sure of every token of the
  reasoning it wrote first (`Verdict.reasoning_prob`, reason-logprob mode): an unsure verdict is a tie
  (follows ``on_tie``), an unsure score is left out of the sifting and reported. The margin read after the
  reasoning cannot see a wrong description the judge then reasons from confidently; the reasoning's own
  probabilities can (docs/align.md). ``min_chosen_score`` keeps a pair only when the chosen candidate's own
  score is at least this share of its scale (``Score.normalized``, 0 = the scale's low end, 1 = its top; a
  plain number is read as already on [0, 1]): point sifting picks the best of the winners, and this asks that
  the best is good, not only less bad. Among samples that are all wrong a noisy judge still finds a winner and
  a best winner; the floor drops those wrong-over-wrong pairs, which DPO (and RPO's term on the chosen answer
  above all) would learn from. They trade pairs for precision: with a noisy judge, what DPO gains follows how
  often the chosen answer is really right (docs/align.md).
- Ablations (the paper's Table XII): ``point-only`` (highest vs lowest score over all N), ``pair-only``
  (one decided fixed pair, picked at random), ``random`` (two candidates at random, no judge).
  The random picks use a seed the caller derives from the run seed and the prompt id (`prompt_seed`).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from unireward.tasks import Score, Verdict, normalize


STRATEGIES: tuple[str, ...] = ("pair-point", "point-only", "pair-only", "random")
POLICIES: tuple[str, ...] = ("swap", "drop")

CompareFn = Callable[[Sequence[tuple[int, int]]], Sequence[Any]]
ScoreFn = Callable[[Sequence[int]], Sequence[Any]]


@dataclass(frozen=True)
class SiftConfig:
    """How undecided pairs are handled, and which strategy picks the pair."""

    strategy: str = "pair-point"
    on_tie: str = "swap"
    on_unparseable: str = "swap"
    min_margin: float = 0.0
    min_gap: float = 0.0
    min_reasoning_prob: float = 0.0
    min_chosen_score: float = 0.0

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; valid strategies: {', '.join(STRATEGIES)}")
        for name in ("on_tie", "on_unparseable"):
            if getattr(self, name) not in POLICIES:
                raise ValueError(f"{name} must be one of {', '.join(POLICIES)}, got {getattr(self, name)!r}")
        if not 0.0 <= self.min_margin <= 1.0:
            raise ValueError(f"min_margin must be in [0, 1] (|2 P(A) - 1|), got {self.min_margin}")
        if self.min_gap < 0:
            raise ValueError(f"min_gap must be >= 0, got {self.min_gap}")
        if not 0.0 <= self.min_reasoning_prob <= 1.0:
            raise ValueError(f"min_reasoning_prob must be in [0, 1] (a token probability), got "
                             f"{self.min_reasoning_prob}")
        if not 0.0 <= self.min_chosen_score <= 1.0:
            raise ValueError(f"min_chosen_score must be in [0, 1] (a share of the score's scale), got "
                             f"{self.min_chosen_score}")

    def filters(self) -> dict[str, float]:
        """The confidence filters that are on (recorded in a run's configuration only when used)."""
        names = ("min_margin", "min_gap", "min_reasoning_prob", "min_chosen_score")
        return {k: getattr(self, k) for k in names if getattr(self, k)}


@dataclass(frozen=True)
class PairResult:
    """One fixed pair: the verdict in the shown order, the swapped-order verdict if it was asked (mapped
    back to the original A/B), and the winning candidate (None when the pair was dropped)."""

    a: int
    b: int
    winner: str | None
    swapped: str | None = None
    decided: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class Decision:
    """The outcome for one prompt; `reason` is None when a pair is kept, else why the prompt was dropped."""

    strategy: str
    chosen: int | None = None
    rejected: int | None = None
    chosen_score: float | None = None
    rejected_score: float | None = None
    reason: str | None = None
    pairs: tuple[PairResult, ...] = ()
    scores: dict[int, float | None] = field(default_factory=dict)
    errors: tuple[str, ...] = ()

    @property
    def kept(self) -> bool:
        return self.reason is None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["scores"] = {str(k): v for k, v in self.scores.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Decision:
        return cls(**{**d, "pairs": tuple(PairResult(**p) for p in d["pairs"]),
                      "scores": {int(k): v for k, v in d["scores"].items()}, "errors": tuple(d["errors"])})


def prompt_seed(seed: int, prompt_id: str) -> int:
    """A per-prompt seed: the same prompt gets the same random picks whatever else is in the run."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{prompt_id}".encode()).digest()[:6], "big")


def fixed_pairs(n: int) -> list[tuple[int, int]]:
    return [(2 * j, 2 * j + 1) for j in range(n // 2)]


# ---------------------------------------------------------------------- reading judgments
NO_REASONING_PROB = ("has no reasoning probability (min_reasoning_prob needs a reason-logprob judge whose backend "
                     "reports token probabilities)")


def _unsure(x: Any, min_reasoning_prob: float) -> bool | None:
    """Whether the judge wrote a token of its reasoning with less than `min_reasoning_prob` (False when the
    filter is off; None when it is on and the judgment carries no reasoning probability)."""
    if not min_reasoning_prob:
        return False
    p = getattr(x, "reasoning_prob", None)
    return None if p is None else p < min_reasoning_prob


def _winner(v: Any, min_margin: float = 0.0, min_reasoning_prob: float = 0.0) -> tuple[str | None, str | None]:
    """(winner, why there is none) from a Verdict or a plain label; an A/B verdict less sure than
    `min_margin`, or reasoned with a token less likely than `min_reasoning_prob`, is a tie."""
    if isinstance(v, Verdict):
        if v.winner is None:
            return None, _why("verdict", v.text, v.error)
        w, prob_a = v.winner, v.prob_a
    elif v in ("A", "B", "tie"):
        w, prob_a = v, None
    else:
        return None, f"unparseable verdict: {v!r}"
    if min_margin and w in ("A", "B"):
        if prob_a is None:
            return None, "verdict has no probability (min_margin needs a logprob or reason-logprob judge)"
        if abs(2 * prob_a - 1) < min_margin:
            return "tie", None
    if w in ("A", "B") and (unsure := _unsure(v, min_reasoning_prob)) is not False:
        return (None, f"verdict {NO_REASONING_PROB}") if unsure is None else ("tie", None)
    return w, None


def _value(s: Any, min_reasoning_prob: float = 0.0) -> tuple[float | None, str | None]:
    """(score as a float, why there is none) from a Score or a plain number (a numeric string is parsed); a
    score reasoned with a token less likely than `min_reasoning_prob` has none."""
    if isinstance(s, Score):
        if s.value is None:
            return None, _why("score", s.text, s.error)
        if (unsure := _unsure(s, min_reasoning_prob)) is not False:
            return None, f"score {NO_REASONING_PROB}" if unsure is None else (
                f"unsure reasoning (a token at {s.reasoning_prob:.3g} < min_reasoning_prob {min_reasoning_prob:g})")
        s = s.value
    elif min_reasoning_prob:
        return None, f"score {NO_REASONING_PROB}"
    if s is None:
        return None, "no score"
    try:
        return float(s), None
    except (TypeError, ValueError):
        return None, f"unparseable score: {s!r}"


def _why(what: str, text: str, error: str | None) -> str:
    """An answer that could not be read says so and quotes it; a failure before any answer gives its error."""
    if text:
        return f"unparseable {what}: {text[:120]!r}" + (f" ({error})" if error else "")
    return error or f"no {what}"


_FLIP = {"A": "B", "B": "A", "tie": "tie", None: None}


# ---------------------------------------------------------------------- the two stages
def pair_rank(n: int, compare: CompareFn, on_tie: str = "swap", on_unparseable: str = "swap",
              min_margin: float = 0.0, min_reasoning_prob: float = 0.0) -> tuple[list[PairResult], list[str]]:
    """Judge the fixed pairs; undecided ones (and, with `min_margin` or `min_reasoning_prob`, unsure ones) are
    re-judged in swapped order or dropped, by policy."""
    pairs = fixed_pairs(n)
    first = [_winner(v, min_margin, min_reasoning_prob) for v in compare(pairs)]
    errors = [f"pair ({a}, {b}): {why}" for (a, b), (w, why) in zip(pairs, first) if w is None]
    redo = [k for k, (w, _) in enumerate(first)
            if w not in ("A", "B") and (on_tie if w == "tie" else on_unparseable) == "swap"]
    second: dict[int, tuple[str | None, str | None]] = {}
    if redo:
        again = compare([(pairs[k][1], pairs[k][0]) for k in redo])
        second = {k: _winner(v, min_margin, min_reasoning_prob) for k, v in zip(redo, again)}
    for k, (w, why) in second.items():
        if w is None:
            a, b = pairs[k]
            errors.append(f"pair ({b}, {a}) [swapped order]: {why}")
    return [_settle(pairs[k], first[k][0], second.get(k)) for k in range(len(pairs))], errors


def _settle(pair: tuple[int, int], first: str | None, second: tuple | None) -> PairResult:
    a, b = pair
    if first in ("A", "B"):
        return PairResult(a, b, first, decided=a if first == "A" else b)
    what = "tie" if first == "tie" else "unparseable"
    if second is None:
        return PairResult(a, b, first, note=f"{what}; dropped by policy")
    swapped = _FLIP[second[0]]  # the verdict on (b, a), expressed for (a, b)
    if swapped in ("A", "B"):
        return PairResult(a, b, first, swapped, decided=a if swapped == "A" else b,
                          note=f"{what}; decided in swapped order")
    return PairResult(a, b, first, swapped, note=f"{what}; swapped order gave {second[0] or 'no verdict'}")


def score_all(indices: Sequence[int], score: ScoreFn, min_reasoning_prob: float = 0.0
              ) -> tuple[dict[int, float | None], list[str], dict[int, float | None]]:
    """Per candidate: the score (None when unread), the reasons for the unread ones, and the share of its
    scale the score reaches (`_share`)."""
    raw = list(score(list(indices))) if indices else []
    values = [_value(s, min_reasoning_prob) for s in raw]
    scores = {i: v for i, (v, _) in zip(indices, values)}
    errors = [f"score of candidate {i}: {why}" for i, (v, why) in zip(indices, values) if v is None]
    shares = {i: _share(s, v) for i, s, (v, _) in zip(indices, raw, values)}
    return scores, errors, shares


def _share(s: Any, value: float | None) -> float | None:
    """Where a read score lies on its scale, 0 (low end) to 1 (top): a `Score`'s own normalisation; a plain
    number has no scale and is taken as it is."""
    if value is None or not isinstance(s, Score):
        return value
    return s.normalized if s.normalized is not None else normalize(value, s.scale)


def _best(indices: Sequence[int], scores: dict[int, float | None], sign: int) -> int | None:
    """The index with the highest (sign=1) or lowest (sign=-1) score; the lowest index among equals."""
    valid = [i for i in indices if scores.get(i) is not None]
    return min(valid, key=lambda i: (-sign * scores[i], i)) if valid else None


# ---------------------------------------------------------------------- strategies
def sift(n: int, compare: CompareFn, score: ScoreFn, config: SiftConfig = SiftConfig(),
         seed: int = 0) -> Decision:
    """Run `config.strategy` over N candidates; returns the kept pair or the reason for dropping."""
    if n < 2:
        return Decision(config.strategy, reason=f"need at least 2 candidates, got {n}")
    fn = {"pair-point": _pair_point, "point-only": _point_only, "pair-only": _pair_only, "random": _random}
    return fn[config.strategy](n, compare, score, config, seed)


def _pair_point(n, compare, score, config, seed) -> Decision:
    pairs, errors = pair_rank(n, compare, config.on_tie, config.on_unparseable, config.min_margin,
                              config.min_reasoning_prob)
    decided = [p for p in pairs if p.decided is not None]
    if not decided:
        return Decision("pair-point", reason="no pair was decided", pairs=tuple(pairs), errors=tuple(errors))
    chosen_list = [p.decided for p in decided]
    rejected_list = [p.b if p.decided == p.a else p.a for p in decided]
    scores, score_errors, shares = score_all(sorted(chosen_list + rejected_list), score,
                                             config.min_reasoning_prob)
    out = dict(strategy="pair-point", pairs=tuple(pairs), scores=scores, errors=tuple(errors + score_errors))
    c, r = _best(chosen_list, scores, 1), _best(rejected_list, scores, -1)
    if c is None or r is None:
        which = "chosen" if c is None else "rejected"
        return Decision(**out, reason=f"no {which} candidate could be scored")
    return _finish(out, c, r, scores, shares, config)


def _finish(out: dict, c: int, r: int, scores: dict[int, float | None], shares: dict[int, float | None],
            config: SiftConfig) -> Decision:
    cs, rs, gap, floor = scores[c], scores[r], config.min_gap, config.min_chosen_score
    reason = None if cs - rs > gap else (f"chosen score {cs:g} is not above rejected score {rs:g}" if cs <= rs
                                         else f"chosen score {cs:g} is not {gap:g} above rejected {rs:g}")
    if reason is None and floor and (shares[c] is None or not 0.0 <= shares[c] <= 1.0):  # None: a nan score
        reason = f"chosen score {cs:g} has no scale for min_chosen_score (a plain number outside [0, 1])"
    elif reason is None and shares[c] < floor:
        reason = f"chosen score {cs:g} is below min_chosen_score {floor:g} of its scale (at {shares[c]:.3g})"
    return Decision(**out, chosen=c, rejected=r, chosen_score=cs, rejected_score=rs, reason=reason)


def _point_only(n, compare, score, config, seed) -> Decision:
    scores, errors, shares = score_all(list(range(n)), score, config.min_reasoning_prob)
    out = dict(strategy="point-only", scores=scores, errors=tuple(errors))
    valid = [i for i in range(n) if scores[i] is not None]
    if len(valid) < 2:
        return Decision(**out, reason=f"only {len(valid)} candidate(s) could be scored")
    c, r = _best(valid, scores, 1), _best(valid, scores, -1)
    return _finish(out, c, r, scores, shares, config)


def _pair_only(n, compare, score, config, seed) -> Decision:
    pairs, errors = pair_rank(n, compare, config.on_tie, config.on_unparseable, config.min_margin,
                              config.min_reasoning_prob)
    decided = [p for p in pairs if p.decided is not None]
    out = dict(strategy="pair-only", pairs=tuple(pairs), errors=tuple(errors))
    if not decided:
        return Decision(**out, reason="no pair was decided")
    p = random.Random(seed).choice(decided)
    return Decision(**out, chosen=p.decided, rejected=p.b if p.decided == p.a else p.a)


def _random(n, compare, score, config, seed) -> Decision:
    c, r = random.Random(seed).sample(range(n), 2)
    return Decision("random", chosen=c, rejected=r)
