"""Metrics against hand-computed vectors, VideoAlign's own test vector, and a literal port of its search."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unireward.bench.metrics import (
    PredictionError,
    compute_metrics,
    confusion,
    diff,
    group_inversion_scores,
    inversion_score,
    no_tie,
    order_consistency,
    proportion_ci,
    tau,
    tie_calibrated,
    validate_rows,
)


# datasets.md §13.1: the __main__ vector of VideoAlign's calc_accuracy.py
H = [1, -1, 0, 1, -1, 0, 1, -1, 0]
SA = [.9, -.7, .1, .8, -.6, .2, .7, -.5, .3]
SB = [.1, -.8, .5, .5, -.3, .3, .4, -.4, .4]
LAB = {1: "A", -1: "B", 0: "tie"}


def stepwise_reference(h, m):
    """The threshold search exactly as datasets.md §13.1 describes it: cells, one pair moved at a time."""
    def cell(hi, mi, eps, strict):
        tie_m = abs(mi) < eps if strict else abs(mi) <= eps
        if hi == 0:
            return "Thm" if tie_m else "Th"
        if tie_m:
            return "Tm"
        return "C" if hi * mi > 0 else "D"

    stats = {"C": 0, "D": 0, "Th": 0, "Tm": 0, "Thm": 0}
    for hi, mi in zip(h, m, strict=True):
        stats[cell(hi, mi, -1, False)] += 1
    best, eps = -math.inf, -1
    for i in sorted(range(len(h)), key=lambda i: abs(m[i])):
        stats[cell(h[i], m[i], eps, True)] -= 1
        eps = abs(m[i])
        stats[cell(h[i], m[i], eps, False)] += 1
        best = max(best, (stats["C"] + stats["Thm"]) / len(h))
    return best


def test_videoalign_test_vector():
    labels = [LAB[x] for x in H]
    margins = [a - b for a, b in zip(SA, SB, strict=True)]
    acc, eps = tie_calibrated(labels, margins)
    assert round(acc, 4) == 0.6667 and acc == pytest.approx(6 / 9)
    assert eps == pytest.approx(0.1)
    assert round(no_tie(labels, margins), 4) == 0.8333
    assert stepwise_reference(H, margins) == pytest.approx(acc)


@pytest.mark.parametrize("seed", range(20))
def test_tie_calibrated_matches_stepwise_search(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    h = rng.integers(-1, 2, n).tolist()
    m = (rng.integers(-4, 5, n) / 4).tolist()  # many equal |m| and exact zeros
    acc, _ = tie_calibrated([LAB[x] for x in h], m)
    assert acc == pytest.approx(stepwise_reference(h, m))


def test_tie_calibrated_missing_margins_stay_in_n():
    acc, eps = tie_calibrated(["A", "tie", "B", "tie"], [0.5, None, -0.9, 0.1])
    assert acc == pytest.approx(3 / 4) and eps == pytest.approx(0.1)  # 3 right of 4, the margin-less tie wrong
    assert tie_calibrated(["A"], [None]) == (None, None)


def test_no_model_tie_setting_is_not_a_candidate():
    # VideoAlign's search starts by turning the smallest |m| into a model tie: 2/2 without ties is never seen
    assert tie_calibrated(["A", "B"], [0.5, -0.5])[0] == pytest.approx(1 / 2)


def test_no_tie_zero_margin_is_wrong():
    assert no_tie(["A", "B", "tie"], [0.0, -0.1, 0.3]) == pytest.approx(1 / 2)
    assert no_tie(["tie"], [0.3]) is None


def test_tau_and_diff_hand_vector():
    labels = ["A", "B", "tie", "tie", "A", "B"]
    preds = ["A", "A", "tie", "A", None, "tie"]
    assert tau(labels, preds) == pytest.approx(2 / 6)  # rows 0 and 2
    assert diff(labels, preds) == pytest.approx(1 / 4)  # row 0 of the 4 non-tie rows; a tie on B is wrong
    assert diff(["tie"], ["tie"]) is None and tau([], []) is None


def test_bothbad_and_tie_votes_are_both_human_ties(tmp_path):
    from bench_fixtures import write_genai_image

    from unireward.bench.sources import convert

    write_genai_image(tmp_path / "g", votes=["tievote", "bothbad_vote", "leftvote"])
    labels = [r.winner for r in convert("genai-bench-image", tmp_path / "g", tmp_path / "o").records]
    assert labels == ["tie", "tie", "A"]
    assert tau(labels, ["tie", "tie", "B"]) == pytest.approx(2 / 3) and diff(labels, ["tie", "tie", "B"]) == 0


def test_compute_metrics_report_keys_and_unparsed():
    rows = [{"id": "1", "label": "A", "pred": "A"}, {"id": "2", "label": "B", "pred": None},
            {"id": "3", "label": "tie", "pred": "tie"}, {"id": "4", "label": "B", "pred": "B"}]
    m = compute_metrics(rows)
    assert m["n"] == 4 and m["n_unparsed"] == 1
    assert m["tau"] == pytest.approx(3 / 4) and m["diff"] == pytest.approx(2 / 3)
    assert "tie_calibrated" not in m and "categories" not in m
    assert m["confusion"]["B"] == {"A": 0, "B": 1, "tie": 0, "none": 1}
    assert m["pred_counts"] == {"A": 1, "B": 1, "tie": 1, "none": 1}
    lo, hi = m["ci95"]["tau"]
    assert 0 <= lo <= m["tau"] <= hi <= 1


def test_margins_unparsed_counts_wrong():
    rows = [{"id": "1", "label": "A", "pred": "A", "margin": 0.8}, {"id": "2", "label": "B", "pred": None},
            {"id": "3", "label": "B", "pred": "B", "margin": -0.2}, {"id": "4", "label": "tie", "pred": "A",
                                                                     "margin": 0.1}]
    m = compute_metrics(rows)
    assert m["no_tie"] == pytest.approx(2 / 3) and m["n_without_margin"] == 1
    assert m["tie_calibrated"] == pytest.approx(3 / 4)  # eps = 0.1: rows 1, 3 concordant, row 4 both tie


def test_vlrb_overall_and_macro_hand_vector():
    cats = ["general"] * 2 + ["hallucination"] * 4 + ["reasoning"] * 4
    right = [1, 0, 1, 1, 1, 0, 1, 0, 0, 0]
    rows = [{"id": str(i), "label": "A", "pred": "A" if r else "B", "category": c}
            for i, (c, r) in enumerate(zip(cats, right, strict=True))]
    m = compute_metrics(rows)
    assert m["tau"] == m["overall_strict"] == m["overall_official"] == pytest.approx(5 / 10)  # nothing unparsed
    general = m["categories"]["general"]
    assert general == {"n": 2, "n_unparsed": 0, "strict": 0.5, "official": 0.5, "ci95": general["ci95"]}
    assert m["categories"]["hallucination"]["strict"] == 0.75
    assert m["macro_strict"] == m["macro_official"] == pytest.approx((0.5 + 0.75 + 0.25) / 3)
    assert m["ci95"]["macro_strict"][0] <= m["macro_strict"] <= m["ci95"]["macro_strict"][1]
    assert "macro" not in m


# 10 rows: 6 right, 2 wrong, 2 unparsed (one of them failed: no answer at all)
#   general:       right, right, wrong, unparsed   strict 2/4 = 0.5    official 2/3
#   hallucination: right, right, right, unparsed   strict 3/4 = 0.75   official 3/3 = 1
#   reasoning:     right, wrong                    strict 1/2 = 0.5    official 1/2 = 0.5
# overall: strict 6/10 = 0.6, official 6/8 = 0.75 (VL-RewardBench's cal.py leaves unparsed answers out)
# macro:   strict (0.5 + 0.75 + 0.5) / 3 = 0.58333, official (2/3 + 1 + 0.5) / 3 = 0.72222
UNPARSED_VECTOR = [("general", "A"), ("general", "A"), ("general", "B"), ("general", None),
                   ("hallucination", "A"), ("hallucination", "A"), ("hallucination", "A"), ("hallucination", None),
                   ("reasoning", "A"), ("reasoning", "B")]


def test_vlrb_official_leaves_unparsed_out_strict_counts_them_wrong():
    rows = [{"id": str(i), "label": "A", "pred": p, "category": c} for i, (c, p) in enumerate(UNPARSED_VECTOR)]
    rows[7]["failed"] = True
    m = compute_metrics(rows)
    assert m["n"] == 10 and m["n_unparsed"] == 2 and m["n_failed"] == 1
    assert m["overall_strict"] == pytest.approx(0.6) and m["overall_official"] == pytest.approx(0.75)
    assert m["tau"] == pytest.approx(0.6)
    assert m["macro_strict"] == pytest.approx((0.5 + 0.75 + 0.5) / 3)
    assert m["macro_official"] == pytest.approx((2 / 3 + 1 + 0.5) / 3)
    g, h = m["categories"]["general"], m["categories"]["hallucination"]
    assert (g["n"], g["n_unparsed"], g["strict"], g["official"]) == (4, 1, 0.5, pytest.approx(2 / 3))
    assert (h["strict"], h["official"]) == (0.75, 1.0)
    # intervals kept for both: official resamples the parsed rows only
    assert m["ci95"]["overall_official"] == proportion_ci(6, 8) and m["ci95"]["overall_strict"] == proportion_ci(6, 10)
    assert h["ci95"] == {"strict": proportion_ci(3, 4), "official": [1.0, 1.0]}
    for key in ("macro_strict", "macro_official"):
        assert m["ci95"][key][0] <= m[key] <= m["ci95"][key][1]


def test_official_is_undefined_for_a_category_without_a_parsed_answer():
    rows = [{"id": "1", "label": "A", "pred": "A", "category": "general"},
            {"id": "2", "label": "A", "pred": None, "category": "reasoning"}]
    m = compute_metrics(rows)
    assert m["categories"]["reasoning"]["official"] is None and m["categories"]["reasoning"]["strict"] == 0.0
    assert m["overall_official"] == 1.0 and m["macro_official"] is None and m["ci95"]["macro_official"] is None
    assert m["macro_strict"] == 0.5


def test_dims_scored_against_the_same_verdicts():
    rows = [{"id": "1", "label": "A", "pred": "A", "dims": {"VQ": "A", "TA": "B"}},
            {"id": "2", "label": "tie", "pred": "tie", "dims": {"VQ": "tie", "TA": "tie"}}]
    m = compute_metrics(rows)
    assert m["dims"]["VQ"]["tau"] == 1.0 and m["dims"]["TA"]["tau"] == 0.5 and m["dims"]["TA"]["diff"] == 0.0


def test_inversion_score_hpsv2_cases():
    assert inversion_score([3, 2, 1], [0, 1, 2]) == 1.0
    assert inversion_score([1, 2, 3], [0, 1, 2]) == 0.0
    assert inversion_score([3, 1, 2], [0, 1, 2]) == pytest.approx(1 - 1 / 3)
    assert inversion_score([1, 1, 1], [0, 1, 2]) == pytest.approx(0.5)  # all predicted ties: half credit
    assert inversion_score([1, 2], [0, 0]) == 1.0  # gold ties never count


def test_inversion_from_pairwise_verdicts():
    # gold ranks of images 0,1,2: [2, 0, 1] (image 1 best); the judge gets 0-vs-2 wrong
    rows = [{"group": 0, "members": [0, 1], "ranks": [2, 0], "pred": "B"},
            {"group": 0, "members": [2, 0], "ranks": [1, 2], "pred": "B"},  # shown swapped
            {"group": 0, "members": [1, 2], "ranks": [0, 1], "pred": "A"}]
    # Copeland points: 0 -> 1, 1 -> 2, 2 -> 0: ranking 1 > 0 > 2 vs gold 1 > 2 > 0: one discordant pair
    assert group_inversion_scores(rows) == [pytest.approx(1 - 1 / 3)]
    full = compute_metrics([r | {"id": str(i), "label": "A"} for i, r in enumerate(rows)])
    assert full["inversion_score"] == pytest.approx(2 / 3) and full["n_groups"] == 1


def test_bootstrap_interval_deterministic_and_sane():
    assert proportion_ci(50, 100) == proportion_ci(50, 100)
    lo, hi = proportion_ci(50, 100)
    assert 0.38 < lo < 0.45 and 0.55 < hi < 0.62
    assert proportion_ci(0, 0) is None and proportion_ci(10, 10) == [1.0, 1.0]


def test_order_consistency():
    rows = [{"id": "a", "record_id": "a", "swapped": False, "label": "A", "pred": "A"},
            {"id": "a~swapped", "record_id": "a", "swapped": True, "label": "B", "pred": "B"},
            {"id": "b", "record_id": "b", "swapped": False, "label": "A", "pred": "A"},
            {"id": "b~swapped", "record_id": "b", "swapped": True, "label": "B", "pred": "A"}]
    assert order_consistency(rows) == 0.5
    assert compute_metrics(rows)["order_consistency"] == 0.5


def test_rows_validated_with_names_and_last_row_wins():
    with pytest.raises(PredictionError, match=r"row 2 \(id 'x'\): 'pred' must be"):
        validate_rows([{"id": "ok", "label": "A", "pred": "A"}, {"id": "x", "label": "A", "pred": "left"}])
    with pytest.raises(PredictionError, match="'label' must be"):
        validate_rows([{"id": "x", "label": "leftvote", "pred": "A"}])
    with pytest.raises(PredictionError, match="'margin' must be"):
        validate_rows([{"id": "x", "label": "A", "pred": "A", "margin": "0.3"}])
    rows = validate_rows([{"id": "x", "label": "A", "pred": None, "failed": True}, {"id": "x", "label": "A",
                                                                                     "pred": "A"}])
    assert rows == [{"id": "x", "label": "A", "pred": "A"}]


def test_confusion_counts():
    assert confusion(["A", "tie"], [None, "B"]) == {"A": {"A": 0, "B": 0, "tie": 0, "none": 1},
                                                    "B": {"A": 0, "B": 0, "tie": 0, "none": 0},
                                                    "tie": {"A": 0, "B": 1, "tie": 0, "none": 0}}


@pytest.mark.parametrize("seed", range(5))
def test_bootstrap_search_on_weights_matches_the_search_on_resampled_rows(seed):
    from unireward.bench.metrics import _tie_calibrated, _weighted_search

    rng = np.random.default_rng(seed)
    n = 30
    h, m = rng.integers(-1, 2, n), rng.normal(size=n)  # distinct |m|: the two searches agree exactly
    order = np.argsort(np.abs(m), kind="stable")
    conc = ((h != 0) & (h * m > 0))[order]
    step = (h == 0)[order].astype(np.int32) - conc
    w = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(20)])
    got = _weighted_search(w[:, order].astype(np.int32), conc, step, n)
    want = [_tie_calibrated(np.repeat(h, row), np.repeat(m, row))[0] for row in w]
    assert got == pytest.approx(want)


def test_tie_calibrated_ci_contains_estimate():
    labels = [LAB[x] for x in H] * 5
    margins = [a - b for a, b in zip(SA, SB, strict=True)] * 5
    from unireward.bench.metrics import tie_calibrated_ci

    lo, hi = tie_calibrated_ci(labels, margins)
    assert lo <= tie_calibrated(labels, margins)[0] <= hi
    assert tie_calibrated_ci(labels, margins) == [lo, hi]


def test_report_shows_strict_and_official_side_by_side(tmp_path):
    from unireward.bench.report import write_report

    rows = [{"id": str(i), "label": "A", "pred": p, "category": c} for i, (c, p) in enumerate(UNPARSED_VECTOR)]
    report = write_report(tmp_path, compute_metrics(rows), {"bench": "vl-rewardbench"}).read_text()
    for line in ("| overall, strict | 60.0 |", "| overall, official | 75.0 |", "| macro, strict | 58.3 |",
                 "| macro, official | 72.2 |", "| general | 4 | 1 | 50.0 |", "| **overall** | 10 | 2 | 60.0 |",
                 "**Unparsed answers: 2 of 10** (counted as wrong; the official accuracies leave them out)"):
        assert line in report
    assert "| 66.7 |" in report.split("| general |")[1].splitlines()[0]
    assert "| macro |" not in report and (tmp_path / "plots" / "categories.png").stat().st_size > 1000
