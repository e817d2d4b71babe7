"""Pref-GRPO's group reward: each candidate's win rate over every other candidate of its group.

For G candidates of one prompt, every unordered pair (i, j), i < j, is judged; a win gives the winner 1
point, a tie 0.5 to each side, and an unparseable or failed verdict also 0.5 to each side (as Pref-GRPO
does: it carries no preference), and the reward of i is its points divided by the G - 1 pairs it is in.
With both orders judged, each order counts half of the pair. ``soft=True`` uses P(A better) from the
judge (logprob mode, `Verdict.prob_a`) instead of the hard verdict, where the verdict has one.

Pure python and import-light: the server and the reward functions call the same code.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations
from typing import Any


def pairs(g: int, both_orders: bool = False) -> list[tuple[int, int]]:
    """The judged (A, B) candidate pairs of a group of `g`: (i, j) for i < j, then (j, i) with both orders."""
    if g < 2:
        raise ValueError(f"a group needs at least 2 candidates, got {g}")
    forward = list(combinations(range(g), 2))
    return forward + [(j, i) for i, j in forward] if both_orders else forward


def outcome(verdict: Any, soft: bool = False) -> tuple[float, bool]:
    """(A's share of the point in [0, 1], whether the verdict counted): 1 A wins, 0 B wins, 0.5 tie or none."""
    winner = getattr(verdict, "winner", verdict if isinstance(verdict, str) or verdict is None else None)
    prob_a = getattr(verdict, "prob_a", None)
    if soft and prob_a is not None:
        return float(prob_a), True
    if winner == "A":
        return 1.0, True
    if winner == "B":
        return 0.0, True
    return 0.5, winner == "tie"


def win_rates(g: int, judged: Iterable[tuple[int, int, Any]], soft: bool = False) -> list[float]:
    """Win rate of each of `g` candidates from ``(a, b, verdict)`` triples (a verdict, or "A"/"B"/"tie"/None).

    Each unordered pair weighs 1 in total, split evenly over the orders it was judged in.
    """
    judged = list(judged)
    orders: dict[tuple[int, int], int] = {}
    for a, b, _ in judged:
        key = (min(a, b), max(a, b))
        orders[key] = orders.get(key, 0) + 1
    points, games = [0.0] * g, [0.0] * g
    for a, b, verdict in judged:
        if a == b or not (0 <= a < g and 0 <= b < g):
            raise ValueError(f"pair ({a}, {b}) is not a pair of distinct candidates of a group of {g}")
        share, _ = outcome(verdict, soft)
        w = 1.0 / orders[(min(a, b), max(a, b))]
        points[a] += w * share
        points[b] += w * (1.0 - share)
        games[a] += w
        games[b] += w
    return [p / n if n else 0.0 for p, n in zip(points, games)]
