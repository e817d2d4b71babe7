"""The strategies on hand-made judgments: fixed pairs, point sifting, ties, unparseable answers, ablations."""

from __future__ import annotations

import pytest

from unireward.construct.sift import STRATEGIES, SiftConfig, prompt_seed, sift
from unireward.tasks import Score, Verdict


class Table:
    """A hand-made judge: verdicts by ordered pair (i shown first), scores by index; records every request."""

    def __init__(self, verdicts: dict | None = None, scores: dict | None = None):
        self.verdicts, self.scores = verdicts or {}, scores or {}
        self.compared: list[tuple[int, int]] = []
        self.scored: list[int] = []

    def compare(self, pairs):
        self.compared += list(pairs)
        return [self.verdicts.get(p) for p in pairs]

    def score(self, indices):
        self.scored += list(indices)
        return [self.scores.get(i) for i in indices]


def run(t: Table, n: int, strategy: str = "pair-point", seed: int = 0, **policy):
    return sift(n, t.compare, t.score, SiftConfig(strategy, **policy), seed)


def test_pair_point_takes_the_best_chosen_against_the_worst_rejected():
    t = Table({(0, 1): "A", (2, 3): "B", (4, 5): "A"}, {0: 6, 1: 2, 2: 9, 3: 7, 4: 8, 5: 3})
    d = run(t, 6)
    assert t.compared == [(0, 1), (2, 3), (4, 5)]  # fixed pairs (2j, 2j+1), asked once
    # chosen list {0, 3, 4} -> best is 4 (8); rejected list {1, 2, 5} -> worst is 1 (2)
    assert (d.chosen, d.rejected, d.chosen_score, d.rejected_score, d.kept) == (4, 1, 8.0, 2.0, True)
    # candidate 2 scores 9, the highest, but lost its pair: pair ranking keeps it out of the chosen list
    assert d.chosen != 2


def test_scores_compare_as_numbers_not_strings():
    t = Table({(0, 1): "A", (2, 3): "A"}, {0: "9", 1: "1", 2: "10", 3: "2"})
    d = run(t, 4)
    assert d.chosen == 2 and d.chosen_score == 10.0  # as strings, "9" > "10"
    d = run(Table({(0, 1): "A"}, {0: Score(9.0), 1: Score(10.0)}), 2)
    assert not d.kept and d.reason == "chosen score 9 is not above rejected score 10"


def test_drop_when_chosen_is_not_strictly_above_rejected():
    d = run(Table({(0, 1): "A", (2, 3): "B"}, {0: 5, 1: 5, 2: 5, 3: 5}), 4)
    assert not d.kept and d.chosen is not None and "not above" in d.reason


def test_tie_is_rejudged_in_swapped_order():
    # (0, 1) is a tie; shown as (1, 0) the judge prefers the first shown: candidate 1
    t = Table({(0, 1): "tie", (1, 0): "A", (2, 3): "A"}, {0: 1, 1: 9, 2: 5, 3: 2})
    d = run(t, 4)
    assert t.compared == [(0, 1), (2, 3), (1, 0)]
    p = d.pairs[0]
    assert (p.winner, p.swapped, p.decided) == ("tie", "B", 1) and "swapped order" in p.note
    assert (d.chosen, d.rejected) == (1, 0)  # rejected list {0, 3}: 0 scores lowest


def test_tie_dropped_by_policy_is_never_asked_again():
    t = Table({(0, 1): "tie", (2, 3): "A"}, {0: 1, 1: 9, 2: 5, 3: 2})
    d = run(t, 4, on_tie="drop")
    assert (1, 0) not in t.compared
    assert d.pairs[0].decided is None and "dropped by policy" in d.pairs[0].note
    assert (d.chosen, d.rejected) == (2, 3)


def test_a_pure_position_bias_never_picks_item_one():
    """A judge that says "tie" for every pair in both orders: no pair is decided, the prompt is dropped."""
    t = Table({(a, b): "tie" for a in range(4) for b in range(4)}, {i: i for i in range(4)})
    d = run(t, 4)
    assert not d.kept and d.reason == "no pair was decided" and d.chosen is None
    assert t.scored == []  # nothing to sift
    # a judge that always prefers the first shown: each order contradicts the other only if asked;
    # the first order is decisive here, so it stands (the judge's own swap=True would catch it)
    always_first = Table({(a, b): "A" for a in range(4) for b in range(4)}, {0: 3, 1: 1, 2: 2, 3: 4})
    assert run(always_first, 4).chosen == 0


def test_unparseable_verdicts_swap_or_drop():
    bad = Verdict(None, text="I cannot decide", error="no verdict phrase")
    t = Table({(0, 1): bad, (1, 0): "B", (2, 3): None, (3, 2): None}, {0: 7, 1: 1, 2: 5, 3: 5})
    d = run(t, 4)
    assert d.pairs[0].decided == 0 and d.pairs[0].swapped == "A"  # "B" on (1, 0) means 0 is better
    assert d.pairs[1].decided is None  # unparseable in both orders
    assert any("'I cannot decide'" in e for e in d.errors)
    assert any("pair (3, 2) [swapped order]" in e for e in d.errors)
    assert (d.chosen, d.rejected) == (0, 1)
    t2 = Table({(0, 1): bad, (2, 3): "A"}, {0: 7, 1: 1, 2: 5, 3: 2})
    d2 = run(t2, 4, on_unparseable="drop")
    assert (1, 0) not in t2.compared and (d2.chosen, d2.rejected) == (2, 3)


def test_unscorable_candidates_are_left_out_and_reported():
    t = Table({(0, 1): "A", (2, 3): "A"}, {0: None, 1: 3, 2: Score(None, text="Final Score: high"), 3: 1})
    d = run(t, 4)
    assert not d.kept and d.reason == "no chosen candidate could be scored"
    assert any("candidate 2" in e and "'Final Score: high'" in e for e in d.errors)
    t = Table({(0, 1): "A", (2, 3): "A"}, {0: None, 1: 3, 2: 8, 3: 1})
    assert (run(t, 4).chosen, run(t, 4).rejected) == (2, 3)


def test_odd_n_leaves_the_last_candidate_unpaired():
    t = Table({(0, 1): "A", (2, 3): "B"}, {0: 5, 1: 1, 2: 0, 3: 4, 4: 100})
    d = run(t, 5)
    assert t.compared == [(0, 1), (2, 3)] and 4 not in t.scored and d.chosen == 0


def test_point_only_uses_all_scores_and_no_pairs():
    t = Table(scores={0: 3, 1: 8.5, 2: 8.5, 3: 1, 4: None})
    d = run(t, 5, "point-only")
    assert t.compared == [] and t.scored == [0, 1, 2, 3, 4]
    assert (d.chosen, d.rejected, d.chosen_score, d.rejected_score) == (1, 3, 8.5, 1.0)  # lowest index among equals
    assert not run(Table(scores={0: 2, 1: 2}), 2, "point-only").kept
    assert run(Table(scores={0: 2, 1: None}), 2, "point-only").reason == "only 1 candidate(s) could be scored"


def test_pair_only_picks_a_decided_pair_without_scores():
    t = Table({(0, 1): "B", (2, 3): "tie", (3, 2): "tie", (4, 5): "A"})
    picks = {(d.chosen, d.rejected) for d in (run(t, 6, "pair-only", seed=s) for s in range(20))}
    assert picks == {(1, 0), (4, 5)} and t.scored == []
    assert run(t, 6, "pair-only", seed=3) == run(t, 6, "pair-only", seed=3)  # deterministic for a seed


def test_random_uses_no_judge_and_is_seeded():
    def never(_):
        raise AssertionError("random must not call the judge")

    picks = [sift(10, never, never, SiftConfig("random"), seed=s) for s in range(30)]
    assert all(d.kept and d.chosen != d.rejected for d in picks)
    assert len({(d.chosen, d.rejected) for d in picks}) > 10
    assert sift(10, never, never, SiftConfig("random"), seed=7) == picks[7]


def test_config_and_small_n_errors():
    with pytest.raises(ValueError, match="valid strategies: " + ", ".join(STRATEGIES)):
        SiftConfig("best-of-n")
    with pytest.raises(ValueError, match="on_tie must be one of swap, drop"):
        SiftConfig(on_tie="first")
    assert sift(1, None, None).reason == "need at least 2 candidates, got 1"
    assert prompt_seed(0, "a") == prompt_seed(0, "a") != prompt_seed(1, "a")


def test_min_margin_treats_unsure_verdicts_as_ties():
    sure, unsure = Verdict("A", prob_a=0.9), Verdict("B", prob_a=0.4)  # margins 0.8 and 0.2
    verdicts = {(0, 1): sure, (2, 3): unsure, (3, 2): Verdict("A", prob_a=0.8)}
    scores = {0: 9, 1: 1, 2: 5, 3: 6}
    t = Table(verdicts, scores)
    d = run(t, 4)
    assert t.compared == [(0, 1), (2, 3)] and d.pairs[1].decided == 3  # no filter: the paper's algorithm
    t = Table(verdicts, scores)
    d = run(t, 4, min_margin=0.5)
    assert t.compared == [(0, 1), (2, 3), (3, 2)]  # the unsure pair is judged again in swapped order
    assert (d.pairs[0].decided, d.pairs[1].winner, d.pairs[1].decided) == (0, "tie", 3)
    assert d.pairs[1].note == "tie; decided in swapped order"
    t = Table({**verdicts, (3, 2): Verdict("A", prob_a=0.7)}, scores)  # margin 0.4: unsure again
    d = run(t, 4, min_margin=0.5)
    assert d.pairs[1].decided is None and (d.chosen, d.rejected) == (0, 1)
    d = run(Table(verdicts, scores), 4, min_margin=0.5, on_tie="drop")
    assert d.pairs[1].note == "tie; dropped by policy"


def test_min_margin_needs_probabilities_and_says_so():
    d = run(Table({(0, 1): "A", (1, 0): "B"}, {0: 2, 1: 1}), 2, min_margin=0.2)
    assert not d.kept and d.reason == "no pair was decided"
    assert d.errors == ("pair (0, 1): verdict has no probability (min_margin needs a logprob or reason-logprob "
                        "judge)", "pair (1, 0) [swapped order]: verdict has no probability (min_margin needs a "
                        "logprob or reason-logprob judge)")


def test_min_gap_keeps_only_pairs_whose_scores_are_far_apart():
    t = Table({(0, 1): "A", (2, 3): "A"}, {0: 6, 1: 5, 2: 7, 3: 4.5})
    assert run(t, 4).kept  # 7 against 4.5
    d = run(t, 4, min_gap=2.5)
    assert not d.kept and d.reason == "chosen score 7 is not 2.5 above rejected 4.5"
    assert run(t, 4, min_gap=2.0).kept
    d = run(Table(scores={0: 3, 1: 8, 2: 6}), 3, "point-only", min_gap=5)
    assert not d.kept and (d.chosen, d.rejected) == (1, 0)
    assert run(Table(scores={0: 3, 1: 8, 2: 6}), 3, "point-only", min_gap=4.9).kept


def test_min_chosen_score_drops_pairs_whose_best_winner_is_still_bad():
    # every sample bad on a 1-5 scale: the pairs still have winners and a best winner (2 against 1)
    bad = {0: Score(2.0, (1.0, 5.0), normalized=0.25), 1: Score(1.0, (1.0, 5.0), normalized=0.0),
           2: Score(1.5, (1.0, 5.0)), 3: Score(1.0, (1.0, 5.0))}  # 2 has no normalized: from its scale, 0.125
    t = Table({(0, 1): "A", (2, 3): "A"}, bad)
    assert run(t, 4).kept  # off: the paper's algorithm keeps it
    d = run(t, 4, min_chosen_score=0.5)
    assert not d.kept and (d.chosen, d.rejected) == (0, 1)
    assert d.reason == "chosen score 2 is below min_chosen_score 0.5 of its scale (at 0.25)"
    assert run(t, 4, min_chosen_score=0.25).kept  # at the floor is enough
    good = {**bad, 2: Score(4.5, (1.0, 5.0))}  # 0.875 of its scale
    d = run(Table({(0, 1): "A", (2, 3): "A"}, good), 4, min_chosen_score=0.5)
    assert d.kept and (d.chosen, d.rejected) == (2, 1)
    # point-only too; a plain number is read as a share already, and one outside [0, 1] cannot be floored
    assert not run(Table(scores={0: 0.3, 1: 0.1}), 2, "point-only", min_chosen_score=0.5).kept
    assert run(Table(scores={0: 0.7, 1: 0.1}), 2, "point-only", min_chosen_score=0.5).kept
    d = run(Table(scores={0: 7, 1: 2}), 2, "point-only", min_chosen_score=0.5)
    assert not d.kept and d.reason == "chosen score 7 has no scale for min_chosen_score (a plain number outside " \
                                      "[0, 1])"


def test_min_reasoning_prob_makes_unsure_reasoning_a_tie_and_leaves_unsure_scores_out():
    # (0, 1) reasoned surely; (2, 3) written with one token at 0.3: a tie, judged again in swapped order
    verdicts = {(0, 1): Verdict("A", prob_a=0.9, reasoning_prob=0.95), (2, 3): Verdict("B", prob_a=0.2,
                                                                                      reasoning_prob=0.3),
                (3, 2): Verdict("A", prob_a=0.9, reasoning_prob=0.4)}
    scores = {0: Score(9.0, reasoning_prob=0.9), 1: Score(1.0, reasoning_prob=0.2), 2: Score(5.0, reasoning_prob=0.9),
              3: Score(6.0, reasoning_prob=0.9)}
    t = Table(verdicts, scores)
    d = run(t, 4)
    assert (d.chosen, d.rejected) == (0, 1) and d.pairs[1].decided == 3  # off: the paper's algorithm
    t = Table(verdicts, scores)
    d = run(t, 4, min_reasoning_prob=0.5)
    assert t.compared == [(0, 1), (2, 3), (3, 2)] and d.pairs[1].winner == "tie" and d.pairs[1].decided is None
    # candidate 1's score was reasoned unsurely: left out (reported), so nothing is left to reject
    assert d.scores[1] is None and not d.kept and d.reason == "no rejected candidate could be scored"
    assert d.errors == ("score of candidate 1: unsure reasoning (a token at 0.2 < min_reasoning_prob 0.5)",)
    assert run(Table(verdicts, scores), 4, min_reasoning_prob=0.35).pairs[1].decided == 3  # 0.4 passes 0.35
    d = run(Table(scores=scores), 4, "point-only", min_reasoning_prob=0.5)
    assert (d.chosen, d.rejected, d.kept) == (0, 2, True)


def test_min_reasoning_prob_needs_the_reasoning_probability_and_says_so():
    d = run(Table({(0, 1): Verdict("A", prob_a=0.9), (1, 0): "B"}, {0: 2, 1: 1}), 2, min_reasoning_prob=0.5)
    assert not d.kept and d.errors[0] == (
        "pair (0, 1): verdict has no reasoning probability (min_reasoning_prob needs a reason-logprob judge whose "
        "backend reports token probabilities)")
    d = run(Table(scores={0: 3, 1: Score(8.0)}), 2, "point-only", min_reasoning_prob=0.5)
    assert d.errors == tuple(f"score of candidate {i}: score has no reasoning probability (min_reasoning_prob "
                             "needs a reason-logprob judge whose backend reports token probabilities)" for i in (0, 1))


def test_filter_settings_are_checked():
    with pytest.raises(ValueError, match=r"min_margin must be in \[0, 1\]"):
        SiftConfig(min_margin=1.5)
    with pytest.raises(ValueError, match="min_gap must be >= 0"):
        SiftConfig(min_gap=-1)
    with pytest.raises(ValueError, match=r"min_reasoning_prob must be in \[0, 1\]"):
        SiftConfig(min_reasoning_prob=-0.1)
    assert SiftConfig().filters() == {} and SiftConfig(min_gap=2).filters() == {"min_gap": 2}
    assert SiftConfig(min_reasoning_prob=0.5).filters() == {"min_reasoning_prob": 0.5}
    with pytest.raises(ValueError, match=r"min_chosen_score must be in \[0, 1\]"):
        SiftConfig(min_chosen_score=3)
    assert SiftConfig(min_chosen_score=0.5).filters() == {"min_chosen_score": 0.5}


def test_decision_round_trips_through_json():
    import json

    from unireward.construct.sift import Decision

    d = run(Table({(0, 1): "tie", (1, 0): "A", (2, 3): "A"}, {0: 1, 1: 9, 2: 5, 3: 2}), 4)
    assert Decision.from_dict(json.loads(json.dumps(d.to_dict()))) == d
