"""Reward-benchmark metrics over prediction rows, with their definitions.

A prediction row (``predictions.jsonl``, one per judged presentation) holds at least
``id``, ``label`` ("A" / "B" / "tie": the human verdict in the order shown to the judge) and ``pred``
("A" / "B" / "tie", or null when the judge's answer could not be read or the item failed). Optional keys:
``margin`` (score of A minus score of B, e.g. ``2 * prob_a - 1``), ``category``, ``subset``, ``dims``
(per-dimension labels), and for ranking benchmarks ``group`` / ``members`` / ``ranks``.

Definitions (N = number of rows):
- **tau**: mean(pred == label) over all rows. Human ties (GenAI-Bench ``tievote`` *and* ``bothbad_vote``,
  VideoGen-RewardBench ``same``, Pick-a-Pic 0.5/0.5) are in it; a tie is right only when the judge says tie.
  Unparsed answers are wrong: on VL-RewardBench (no ties, every row categorised) tau = ``overall_strict``.
- **diff**: mean(pred == label) over rows whose label is not a tie; a predicted tie there is wrong.
- **tie_calibrated** (margins only): Deutsch et al. 2023 accuracy with tie calibration, computed as
  VideoAlign's ``calc_accuracy.py``: the judge predicts a tie when ``|margin| <= eps``; eps runs over the
  candidate thresholds {|margin_i|} in ascending |margin| order, pairs are turned into model ties one at a
  time, and the best ``(concordant + both-tie) / N`` is kept (the "no model tie" setting is not a candidate).
  ``tie_threshold`` is the eps reached.
- **no_tie** (margins only): concordant / (human non-tie rows), at eps < 0: a margin of exactly 0 is wrong.
- **categories** (rows with ``category``; VL-RewardBench: general / hallucination / reasoning, MJ-Bench: the
  perspectives), each accuracy in two versions, named for their treatment of unparsed answers:
  **strict** = right / all rows (an unparsed answer is wrong, as everywhere in this module) and
  **official** = right / rows with a parsed answer, which is how VL-RewardBench's ``cal.py`` counts (an
  answer its regex cannot read is left out of the denominator; so is an item that produced no answer).
  Per category both, then ``overall_strict`` / ``overall_official`` (Σ right / Σ denominator over the
  categories, cal.py's "Overall Accuracy") and ``macro_strict`` / ``macro_official`` (the unweighted mean of
  the category accuracies, cal.py's "Macro Average Acc"; ``macro_official`` is null when a category has no
  parsed answer). UnifiedReward's own VL-RewardBench scripts divide by all 1,250 items: strict. A "tie"
  answer is a parsed (wrong) answer in both; cal.py's regex would leave it out, but the v1 understanding
  prompt offers no tie, so a judge says it rarely. **subsets**: the same per-group numbers per ``subset``.
- **dims**: tau, diff (and the margin metrics) of the same predictions against each dimension's labels
  (VideoGen-RewardBench VQ / MQ / TA).
- **inversion_score** (rows with ``group``): each group's (prompt's) predicted ranking is rebuilt from its
  pairwise verdicts (Copeland: a win is 1 point, a tie ½ to each, an unreadable verdict nothing). Per group,
  ``1 - (discordant + ½·predicted ties on strictly ranked pairs) / (n(n-1)/2)`` over its n images, where a
  pair is discordant when the predicted and human orders are strictly opposite (HPSv2's ``inversion_score``;
  the ½ is the expected value of HPSv2's arbitrary tie-break in its sort). Averaged over groups.
- **n_unparsed**: rows with ``pred`` null; always reported, and counted as wrong in every accuracy but the
  ``official`` ones (and as missing margins, i.e. never right, in the margin metrics). **n_failed**: the part
  of them for which no answer was produced at all (``failed: true``: unreadable media, a crash).
- **ci95**: percentile bootstrap 95% interval of every accuracy (1,000 resamples, fixed seed). For a mean of
  right/wrong the bootstrap draw is exactly Binomial(n, p)/n and is sampled that way (an ``official``
  accuracy resamples its parsed rows); macro resamples within each category; tie_calibrated resamples rows
  and re-runs the threshold search; inversion resamples groups.
- **confusion**: counts by (label, pred), pred "none" for unparsed rows; **pred_counts** the judge's answers.
- **order_consistency** (rows shown in both orders): the share of items whose two verdicts agree once the
  swapped one is mapped back (unparsed counts as disagreement).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np


LABELS = ("A", "B", "tie")
N_BOOT = 1000
_H = {"A": 1, "B": -1, "tie": 0}


class PredictionError(ValueError):
    """A prediction row is malformed; the message names the row."""


# ----- pairwise accuracies -----

def correct(labels: Sequence[str], preds: Sequence[str | None]) -> np.ndarray:
    """Per row: the judge's answer equals the human label (an unparsed answer, None, is never right)."""
    return np.array([p is not None and p == lab for lab, p in zip(labels, preds, strict=True)], dtype=bool)


def tau(labels: Sequence[str], preds: Sequence[str | None]) -> float | None:
    """Accuracy over all pairs, human ties included; a tie is right only when the judge says tie."""
    c = correct(labels, preds)
    return float(c.mean()) if len(c) else None


def diff(labels: Sequence[str], preds: Sequence[str | None]) -> float | None:
    """Accuracy over the pairs where humans preferred one side; a predicted tie there is wrong."""
    keep = np.array([lab != "tie" for lab in labels], dtype=bool)
    c = correct(labels, preds)[keep] if len(labels) else np.zeros(0, bool)
    return float(c.mean()) if len(c) else None


def _arrays(labels: Sequence[str], margins: Sequence[float | None]) -> tuple[np.ndarray, np.ndarray]:
    h = np.array([_H[lab] for lab in labels], dtype=np.int64)
    m = np.array([np.nan if v is None else float(v) for v in margins], dtype=np.float64)
    return h, m


def _tie_calibrated(h: np.ndarray, m: np.ndarray) -> tuple[float, float]:
    n = len(h)
    ok = ~np.isnan(m)
    h, m = h[ok], m[ok]
    if len(h) == 0:
        return 0.0, float("nan")
    order = np.argsort(np.abs(m), kind="stable")
    concordant = (h != 0) & (h * m > 0)
    # after the first k pairs (in |m| order) became model ties: C loses its concordant ones, T_hm gains ties
    acc = (concordant.sum() - np.cumsum(concordant[order]) + np.cumsum(h[order] == 0)) / n
    k = int(np.argmax(acc))
    return float(acc[k]), float(abs(m[order[k]]))


def tie_calibrated(labels: Sequence[str], margins: Sequence[float | None]) -> tuple[float | None, float | None]:
    """Tie-calibrated accuracy (Deutsch et al. 2023) as VideoAlign computes it, and the threshold reached.

    With human h in {+1, -1, 0} and margin m = s(A) - s(B), the judge predicts a tie when |m| <= eps;
    acc(eps) = (concordant + both-tie) / N. eps takes the values |m_i| in ascending order, the pairs being
    turned into model ties one at a time (pairs with equal |m| too); the maximum is returned. Rows without
    a margin stay in N and are never right.
    """
    if not len(labels) or all(v is None for v in margins):
        return None, None
    acc, eps = _tie_calibrated(*_arrays(labels, margins))
    return acc, (None if math.isnan(eps) else eps)


def no_tie(labels: Sequence[str], margins: Sequence[float | None]) -> float | None:
    """Accuracy without ties: over human non-tie pairs, right when sign(margin) agrees (a margin of 0 or
    a missing margin is wrong)."""
    h, m = _arrays(labels, margins)
    keep = h != 0
    if not keep.any():
        return None
    return float(np.mean(np.nan_to_num(h[keep] * m[keep], nan=0.0) > 0))


# ----- bootstrap -----

def _interval(draws: np.ndarray) -> list[float]:
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return [float(lo), float(hi)]


def proportion_ci(k: int, n: int, n_boot: int = N_BOOT, seed: int = 0) -> list[float] | None:
    """Percentile bootstrap 95% interval of k/n (the bootstrap of a 0/1 mean is Binomial(n, k/n)/n)."""
    if n == 0:
        return None
    rng = np.random.default_rng(seed)
    return _interval(rng.binomial(n, k / n, size=n_boot) / n)


def macro_ci(counts: Sequence[tuple[int, int]], n_boot: int = N_BOOT, seed: int = 0) -> list[float] | None:
    """Bootstrap interval of the mean of per-category accuracies, resampling within each category."""
    counts = [(k, n) for k, n in counts if n]
    if not counts:
        return None
    rng = np.random.default_rng(seed)
    draws = np.mean([rng.binomial(n, k / n, size=n_boot) / n for k, n in counts], axis=0)
    return _interval(draws)


def tie_calibrated_ci(labels: Sequence[str], margins: Sequence[float | None], n_boot: int = N_BOOT,
                      seed: int = 0) -> list[float] | None:
    """Bootstrap interval of `tie_calibrated`: rows resampled, the threshold search rerun on each resample.

    A resample is a vector of row multiplicities; the rows are sorted by |margin| once and the search runs on
    weighted cumulative sums (copies of one row move between cells together, which changes the search only in
    the order among equal margins)."""
    h, m = _arrays(labels, margins)
    n = len(h)
    if not n:
        return None
    rng = np.random.default_rng(seed)
    ok = np.flatnonzero(~np.isnan(m))
    order = ok[np.argsort(np.abs(m[ok]), kind="stable")]
    conc = ((h != 0) & (h * np.nan_to_num(m) > 0))[order]
    step = (h == 0)[order].astype(np.int32) - conc  # +1: a human tie becomes right; -1: a concordant pair lost
    k, draws = len(order), []
    for size in [min(32, n_boot - j) for j in range(0, n_boot, 32)]:
        idx = rng.integers(0, n, (size, n))  # positions in |m| order; k.. are the rows without a margin
        picks = (np.arange(size)[:, None] * k + idx)[idx < k]
        w = np.bincount(picks, minlength=size * k).reshape(size, k).astype(np.int32)
        draws.append(_weighted_search(w, conc, step, n))
    return _interval(np.concatenate(draws))


def _weighted_search(w: np.ndarray, conc: np.ndarray, step: np.ndarray, n: int) -> np.ndarray:
    """Best acc_eq for each row of multiplicities `w` (columns sorted by |m|); see `_tie_calibrated`."""
    if w.shape[1] == 0:
        return np.zeros(len(w))
    c0 = w[:, conc].sum(axis=1)
    acc = np.cumsum(w * step, axis=1, dtype=np.int32)  # acc_eq * n - c0 after each column's copies became model ties
    first = np.argmax(w > 0, axis=1)  # columns before the first drawn row repeat the start: not a candidate
    acc = np.where(np.arange(w.shape[1]) >= first[:, None], acc, np.iinfo(np.int32).min)
    after_one = step[first]  # the first single conversion is a candidate too
    best = np.maximum(acc.max(axis=1), after_one)
    return np.where(w.any(axis=1), (c0 + best) / n, 0.0)


def mean_ci(values: Sequence[float], n_boot: int = N_BOOT, seed: int = 0) -> list[float] | None:
    """Percentile bootstrap interval of a mean, resampling the values."""
    v = np.asarray(values, dtype=float)
    if not len(v):
        return None
    rng = np.random.default_rng(seed)
    return _interval(v[rng.integers(0, len(v), (n_boot, len(v)))].mean(axis=1))


# ----- rankings (HPDv2) -----

def inversion_score(pred_scores: Sequence[float], gold_ranks: Sequence[float]) -> float:
    """HPSv2's inversion score with predicted ties split: 1 - (discordant + ½·pred ties on strict gold pairs)
    / (n(n-1)/2). Higher predicted score = better; lower gold rank = better; gold ties never count."""
    n = len(pred_scores)
    if n < 2:
        raise ValueError("an inversion score needs at least two items")
    bad = 0.0
    for i in range(n - 1):
        for j in range(i + 1, n):
            g = np.sign(gold_ranks[j] - gold_ranks[i])  # +1: i ranked better by humans
            p = np.sign(pred_scores[i] - pred_scores[j])  # +1: i scored higher by the judge
            if g != 0:
                bad += 1.0 if p == -g else 0.5 if p == 0 else 0.0
    return 1.0 - bad / (n * (n - 1) / 2)


def group_inversion_scores(rows: Iterable[dict[str, Any]]) -> list[float]:
    """Per group (prompt): Copeland scores from the pairwise verdicts, then `inversion_score`."""
    points: dict[Any, dict[Any, float]] = defaultdict(dict)
    ranks: dict[Any, dict[Any, float]] = defaultdict(dict)
    for r in rows:
        g, (a, b), (ra, rb) = r["group"], r["members"], r["ranks"]
        pts, gold = points[g], ranks[g]
        gold[a], gold[b] = ra, rb
        pts.setdefault(a, 0.0)
        pts.setdefault(b, 0.0)
        if r["pred"] in ("A", "B"):
            pts[a if r["pred"] == "A" else b] += 1.0
        elif r["pred"] == "tie":
            pts[a] += 0.5
            pts[b] += 0.5
    out = []
    for g, pts in points.items():
        members = sorted(pts)
        if len(members) >= 2:
            out.append(inversion_score([pts[k] for k in members], [ranks[g][k] for k in members]))
    return out


# ----- the whole report -----

def validate_rows(rows: Iterable[dict[str, Any]], where: str = "predictions") -> list[dict[str, Any]]:
    """Check every row; keep the last row of each id (a resumed run may re-judge a failed item)."""
    latest: dict[str, dict[str, Any]] = {}
    for i, r in enumerate(rows, 1):
        if not isinstance(r, dict) or "id" not in r:
            raise PredictionError(f"{where} row {i}: expected an object with an 'id'")
        ctx = f"{where} row {i} (id {r['id']!r})"
        if r.get("label") not in LABELS:
            raise PredictionError(f"{ctx}: 'label' must be one of {list(LABELS)}, got {r.get('label')!r}")
        if r.get("pred") is not None and r["pred"] not in LABELS:
            raise PredictionError(f"{ctx}: 'pred' must be one of {list(LABELS)} or null, got {r['pred']!r}")
        m = r.get("margin")
        if m is not None and (isinstance(m, bool) or not isinstance(m, (int, float)) or math.isnan(m)):
            raise PredictionError(f"{ctx}: 'margin' must be a number or null, got {m!r}")
        latest[str(r["id"])] = r
    return list(latest.values())


def compute_metrics(rows: Iterable[dict[str, Any]], n_boot: int = N_BOOT, seed: int = 0) -> dict[str, Any]:
    """Every metric the rows allow (see the module docstring), as a JSON-ready dict."""
    rows = validate_rows(rows)
    labels, preds = [r["label"] for r in rows], [r.get("pred") for r in rows]
    out: dict[str, Any] = {"n": len(rows), "n_unparsed": sum(p is None for p in preds),
                           "n_failed": sum(bool(r.get("failed")) for r in rows)}
    out.update(_pair_metrics(labels, preds, [r.get("margin") for r in rows], n_boot, seed))
    if any(r.get("category") is not None for r in rows):
        out["categories"], summary, ci = _grouped(rows, "category", n_boot, seed)
        out |= summary
        out["ci95"] |= ci
    if any(r.get("subset") is not None for r in rows):
        out["subsets"] = _grouped(rows, "subset", n_boot, seed)[0]
    if any(r.get("dims") for r in rows):
        out["dims"] = _dims(rows, n_boot, seed)
    if any(r.get("group") is not None for r in rows):
        scores = group_inversion_scores(rows)
        out["inversion_score"] = float(np.mean(scores)) if scores else None
        out["n_groups"] = len(scores)
        out["ci95"]["inversion_score"] = mean_ci(scores, n_boot, seed)
    out["confusion"] = confusion(labels, preds)
    out["pred_counts"] = {k: sum(p == k for p in preds) for k in LABELS} | {"none": out["n_unparsed"]}
    consistency = order_consistency(rows)
    if consistency is not None:
        out["order_consistency"] = consistency
    return out


def _pair_metrics(labels: list[str], preds: list[str | None], margins: list[float | None], n_boot: int,
                  seed: int) -> dict[str, Any]:
    c = correct(labels, preds)
    strict = np.array([lab != "tie" for lab in labels], dtype=bool)
    out: dict[str, Any] = {"n_ties": int((~strict).sum()), "tau": tau(labels, preds), "diff": diff(labels, preds)}
    ci = {"tau": proportion_ci(int(c.sum()), len(c), n_boot, seed),
          "diff": proportion_ci(int(c[strict].sum()), int(strict.sum()), n_boot, seed)}
    if any(m is not None for m in margins):
        out["tie_calibrated"], out["tie_threshold"] = tie_calibrated(labels, margins)
        out["no_tie"] = no_tie(labels, margins)
        out["n_without_margin"] = sum(m is None for m in margins)
        ci["tie_calibrated"] = tie_calibrated_ci(labels, margins, n_boot, seed)
        n_strict = int(strict.sum())
        ci["no_tie"] = proportion_ci(round((out["no_tie"] or 0.0) * n_strict), n_strict, n_boot, seed)
    out["ci95"] = ci
    return out


def _grouped(rows: list[dict[str, Any]], key: str, n_boot: int,
             seed: int) -> tuple[dict[str, Any], dict[str, float | None], dict[str, list[float] | None]]:
    """Per group of `key`: strict and official accuracy with intervals; then overall and macro of both."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"right": 0, "strict": 0, "official": 0})
    for r in rows:
        if r.get(key) is not None:
            c = counts[str(r[key])]
            c["right"] += r.get("pred") is not None and r["pred"] == r["label"]
            c["strict"] += 1  # the denominators: every row, or the rows with a parsed answer
            c["official"] += r.get("pred") is not None
    counts = dict(sorted(counts.items()))

    def acc(right: int, n: int) -> float | None:
        return right / n if n else None

    groups = {k: {"n": c["strict"], "n_unparsed": c["strict"] - c["official"],
                  "strict": acc(c["right"], c["strict"]), "official": acc(c["right"], c["official"]),
                  "ci95": {kind: proportion_ci(c["right"], c[kind], n_boot, seed) for kind in ("strict", "official")}}
              for k, c in counts.items()}
    summary: dict[str, float | None] = {}
    ci: dict[str, list[float] | None] = {}
    for kind in ("strict", "official"):
        right, total = sum(c["right"] for c in counts.values()), sum(c[kind] for c in counts.values())
        per_group = [g[kind] for g in groups.values()]
        summary[f"overall_{kind}"] = acc(right, total)
        ci[f"overall_{kind}"] = proportion_ci(right, total, n_boot, seed)
        defined = None not in per_group
        summary[f"macro_{kind}"] = float(np.mean(per_group)) if defined else None
        ci[f"macro_{kind}"] = macro_ci([(c["right"], c[kind]) for c in counts.values()], n_boot, seed) if defined \
            else None
    return groups, summary, ci


def _dims(rows: list[dict[str, Any]], n_boot: int, seed: int) -> dict[str, Any]:
    names = list(dict.fromkeys(d for r in rows for d in (r.get("dims") or {})))  # the benchmark's order
    out = {}
    for d in names:
        sub = [r for r in rows if (r.get("dims") or {}).get(d) in LABELS]
        preds = [r.get("pred") for r in sub]
        out[d] = {"n": len(sub), "n_unparsed": preds.count(None),
                  **_pair_metrics([r["dims"][d] for r in sub], preds, [r.get("margin") for r in sub], n_boot, seed)}
    return out


def confusion(labels: Sequence[str], preds: Sequence[str | None]) -> dict[str, dict[str, int]]:
    """Counts by human label (rows) and judge answer (columns; "none" = unparsed)."""
    table = {lab: {p: 0 for p in (*LABELS, "none")} for lab in LABELS}
    for lab, p in zip(labels, preds, strict=True):
        table[lab][p if p is not None else "none"] += 1
    return table


_FLIP = {"A": "B", "B": "A", "tie": "tie"}


def order_consistency(rows: Sequence[dict[str, Any]]) -> float | None:
    """Share of items judged in both orders whose verdicts agree once the swapped one is mapped back."""
    pairs: dict[str, dict[bool, str | None]] = defaultdict(dict)
    for r in rows:
        if "record_id" in r and "swapped" in r:
            pairs[str(r["record_id"])][bool(r["swapped"])] = r.get("pred")
    both = [p for p in pairs.values() if len(p) == 2]
    if not both:
        return None
    agree = [p[False] is not None and p[True] is not None and p[False] == _FLIP[p[True]] for p in both]
    return float(np.mean(agree))
