"""Answer-balanced pair sets (unireward.construct.balance)."""

from collections import Counter

import pytest

from unireward.construct.balance import answer_text, balance_answers


def pair(i: int, chosen: str, rejected: str) -> dict:
    msg = lambda t: [{"role": "assistant", "content": [{"type": "text", "text": t}]}]  # noqa: E731
    return {"id": f"q{i}", "chosen": msg(chosen), "rejected": msg(rejected)}


def directions(rows: list[dict]) -> Counter:
    return Counter((answer_text(r["chosen"]), answer_text(r["rejected"])) for r in rows)


def test_both_ways_are_cut_to_the_smaller_direction_and_one_way_pairs_stay():
    rows = ([pair(i, "Quickly.", "slowly") for i in range(5)] + [pair(10 + i, "slowly", "quickly") for i in range(2)]
            + [pair(20 + i, "none", "slowly") for i in range(3)] + [pair(30, "a red ball", "a blue cube")])
    kept, dropped = balance_answers(rows, seed=0)
    assert directions(kept) == Counter({("quickly", "slowly"): 2, ("slowly", "quickly"): 2, ("none", "slowly"): 3,
                                        ("a red ball", "a blue cube"): 1})
    assert len(dropped) == 3 and {answer_text(r["chosen"]) for r in dropped} == {"quickly"}
    assert [r["id"] for r in kept] == sorted((r["id"] for r in kept), key=lambda s: int(s[1:]))  # order kept
    assert sorted(r["id"] for r in kept + dropped) == sorted(r["id"] for r in rows)  # nothing lost


def test_seeded_and_a_balanced_set_is_left_alone():
    rows = [pair(i, "yes", "no") for i in range(6)] + [pair(10 + i, "no", "yes") for i in range(2)]
    assert balance_answers(rows, seed=3) == balance_answers(rows, seed=3)
    kept, _ = balance_answers(rows, seed=3)
    assert balance_answers(kept, seed=9) == (kept, [])
    assert answer_text("  It moves LEFT. ") == "it moves left"


def test_a_row_without_answers_is_named():
    with pytest.raises(ValueError, match=r"row q7 has no readable chosen/rejected answer"):
        balance_answers([pair(1, "yes", "no"), {"id": "q7", "chosen": []}])
