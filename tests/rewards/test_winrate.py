"""Pref-GRPO win rates equal a hand computation on fixed verdicts."""

from __future__ import annotations

import pytest

from unireward.rewards.winrate import pairs, win_rates
from unireward.tasks import Verdict


def test_win_rates_by_hand():
    # G = 4. Pairs (0,1): A, (0,2): B, (0,3): tie, (1,2): B, (1,3): unparseable (None), (2,3): A
    verdicts = {(0, 1): "A", (0, 2): "B", (0, 3): "tie", (1, 2): "B", (1, 3): None, (2, 3): "A"}
    # points: 0 -> 1 + 0 + 0.5 = 1.5; 1 -> 0 + 0 + 0.5 = 0.5; 2 -> 1 + 1 + 1 = 3; 3 -> 0.5 + 0.5 + 0 = 1
    expected = [1.5 / 3, 0.5 / 3, 3 / 3, 1 / 3]
    got = win_rates(4, [(a, b, verdicts[(a, b)]) for a, b in pairs(4)])
    assert got == pytest.approx(expected)
    assert sum(got) * 3 == pytest.approx(6)  # C(4, 2) points handed out in all


def test_both_orders_count_half_each_and_verdict_objects_work():
    # (0,1) judged A in one order; in the reversed order (1,0) the judge says A again (position bias): 0.5 each
    judged = [(0, 1, Verdict("A")), (1, 0, Verdict("A")), (0, 2, Verdict("A")), (2, 0, Verdict("B")),
              (1, 2, Verdict("tie")), (2, 1, Verdict(None, error="unparseable"))]
    # 0: (0.5*1 + 0.5*0) + (0.5*1 + 0.5*1) = 1.5; 1: 0.5 + 0.5 = 1; 2: 0 + 0.5 = 0.5
    assert win_rates(3, judged) == pytest.approx([1.5 / 2, 1.0 / 2, 0.5 / 2])


def test_soft_win_rates_use_the_probability():
    judged = [(0, 1, Verdict("A", prob_a=0.8)), (0, 2, Verdict("B", prob_a=0.3)), (1, 2, Verdict("A", prob_a=0.6))]
    assert win_rates(3, judged, soft=True) == pytest.approx([(0.8 + 0.3) / 2, (0.2 + 0.6) / 2, (0.7 + 0.4) / 2])
    assert win_rates(3, judged) == pytest.approx([0.5, 0.5, 0.5])


def test_pairs_and_bad_input():
    assert pairs(3) == [(0, 1), (0, 2), (1, 2)]
    assert pairs(3, both_orders=True)[3:] == [(1, 0), (2, 0), (2, 1)]
    with pytest.raises(ValueError, match="at least 2"):
        pairs(1)
    with pytest.raises(ValueError, match=r"pair \(0, 3\)"):
        win_rates(3, [(0, 3, "A")])
