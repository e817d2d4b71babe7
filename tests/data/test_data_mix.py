"""Recipes: sampling rules, filters, per-task balancing, swapped pairs, determinism."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from unireward.data.mix import Entry, Recipe, RecipeError, iter_mixture, select, swapped
from unireward.records import Record, write_records
from unireward.tasks import Form, Task


def _record(i: int, task: Task, form: Form, winner: str = "A", rationale: str | None = None) -> Record:
    if task.is_generation:
        cands = [{"media": [{"image": f"media/{i}-{k}.jpg"}]} for k in range(2 if form == Form.PAIR else 1)]
        media = []
    else:
        cands = [{"text": f"answer {i}-{k}"} for k in range(2 if form == Form.PAIR else 1)]
        media = [{"image": f"media/{i}.jpg"}]
    label = {"winner": winner} if form == Form.PAIR else {"score": 3, "scale": [1, 5]}
    return Record(id=f"r{i}", source="synthetic", task=task, form=form, prompt=f"prompt {i}", candidates=cands,
                  media=media, label=label, rationale=rationale)


def _dir(root: Path, name: str, records: list[Record]) -> Path:
    write_records(root / name / "records.jsonl", records)
    return root / name


@pytest.fixture()
def root(tmp_path) -> Path:
    _dir(tmp_path, "gen", [_record(i, Task.IMAGE_GENERATION, Form.PAIR, "AB"[i % 2]) for i in range(100)]
         + [_record(100 + i, Task.IMAGE_GENERATION, Form.POINT) for i in range(20)])
    _dir(tmp_path, "und", [_record(200 + i, Task.IMAGE_UNDERSTANDING, Form.PAIR, ["A", "B", "tie"][i % 3])
                           for i in range(30)]
         + [_record(300, Task.IMAGE_UNDERSTANDING, Form.PAIR, "A", rationale="The first response is better.")])
    return tmp_path


def _recipe(root: Path, sources: list[dict], **kw) -> Recipe:
    path = root / "recipe.yaml"
    path.write_text(yaml.safe_dump({"sources": sources, **kw}))
    return Recipe.load(path)


def _ids(recipe: Recipe) -> list[str]:
    return [r.id for r, _ in iter_mixture(select(recipe))]


@pytest.mark.parametrize("rule,n", [("all", 120), ("first:10", 10), ("end:7", 7), ("random:25", 25),
                                    ("random:25%", 30), ("first:0", 0), ("random:500", 120)])
def test_sample_rules(root, rule, n):
    mix = select(_recipe(root, [{"path": "gen", "sample": rule}], shuffle=False))
    assert len(mix.picks) == n
    assert mix.report["entries"][0]["short"] == (380 if rule == "random:500" else 0)


def test_first_and_end_take_the_file_ends_in_order(root):
    assert _ids(_recipe(root, [{"path": "gen", "sample": "first:3"}], shuffle=False)) == ["r0", "r1", "r2"]
    assert _ids(_recipe(root, [{"path": "gen", "sample": "end:2"}], shuffle=False)) == ["r118", "r119"]
    ids = _ids(_recipe(root, [{"path": "gen", "sample": "random:10"}], shuffle=False))
    assert ids == sorted(ids, key=lambda s: int(s[1:]))  # random keeps file order among the chosen


def test_filters_select_task_and_form(root):
    ids = _ids(_recipe(root, [{"path": "gen", "form": "point"}]))
    assert sorted(ids) == sorted(f"r{100 + i}" for i in range(20))
    assert _ids(_recipe(root, [{"path": "gen", "task": "image_understanding"}])) == []


def test_same_seed_same_mixture_and_entries_are_independent(root):
    src = [{"path": "gen", "sample": "random:20"}]
    a, b = _ids(_recipe(root, src, seed=1)), _ids(_recipe(root, src, seed=1))
    assert a == b and a != _ids(_recipe(root, src, seed=2))
    alone = set(_ids(_recipe(root, src, seed=1)))
    with_other = set(_ids(_recipe(root, src + [{"path": "und", "sample": "random:5"}], seed=1)))
    assert alone <= with_other  # adding an entry does not change what the first one selects


def test_balance_min_and_cap(root):
    src = [{"path": "gen"}, {"path": "und"}]
    by_task = select(_recipe(root, src, balance="min")).report["by_task"]
    assert by_task == {"image_generation": 31, "image_understanding": 31}
    assert select(_recipe(root, src, balance=50)).report["by_task"] == {"image_generation": 50,
                                                                       "image_understanding": 31}


def test_swap_copies_flip_winners_and_keep_ties(root):
    mix = select(_recipe(root, [{"path": "und"}], swap="copies"))
    recs = [r for r, _ in iter_mixture(mix)]
    assert len(recs) == 61  # 30 pairs + 30 swapped copies + 1 pair with a rationale, not copied
    assert mix.report["not_swapped_pointwise_or_rationale"] == 1
    by_id = {r.id: r for r in recs}
    for rid, r in by_id.items():
        if rid.endswith("#swap"):
            orig = by_id[rid[:-5]]
            assert r.candidates == orig.candidates[::-1] and r.meta["swapped"] is True
            assert r.label["winner"] == {"A": "B", "B": "A", "tie": "tie"}[orig.label["winner"]]
    assert "r300#swap" not in by_id


def test_swap_random_swaps_about_half_and_only_pairs(root):
    mix = select(_recipe(root, [{"path": "gen"}], swap="random", seed=3))
    assert len(mix.picks) == 120 and 30 <= mix.report["swapped"] <= 70
    recs = [r for r, _ in iter_mixture(mix)]
    assert all(r.form == Form.PAIR for r in recs if r.id.endswith("#swap"))
    assert Counter(r.label["winner"] for r in recs if r.form == Form.PAIR) != Counter()


def test_swapped_helper():
    r = _record(1, Task.IMAGE_UNDERSTANDING, Form.PAIR, "B")
    s = swapped(r)
    assert s.label == {"winner": "A"} and [c["text"] for c in s.candidates] == ["answer 1-1", "answer 1-0"]
    assert r.label == {"winner": "B"}  # the original is untouched


@pytest.mark.parametrize("sources,kw,match", [
    ([{"path": "gen", "sample": "random"}], {}, "invalid sample rule 'random'"),
    ([{"path": "gen", "sample": "some:3"}], {}, "invalid sample rule"),
    ([{"path": "gen", "sample": "first:150%"}], {}, "invalid count"),
    ([{"path": "gen", "form": "triple"}], {}, "unknown form 'triple'"),
    ([{"path": "missing"}], {}, r"sources\[0\]: .*missing/records.jsonl not found"),
    ([{"path": "gen", "weight": 2}], {}, r"unknown key\(s\) \['weight'\]"),
    ([{"path": "gen"}], {"swap": "maybe"}, "'swap' must be one of"),
    ([{"path": "gen"}], {"balance": "max"}, "'balance' must be null, 'min' or a positive integer"),
    ([], {}, "non-empty 'sources'"),
    ([{"path": "gen"}], {"sedd": 1}, r"unknown key\(s\) \['sedd'\]"),
])
def test_recipe_errors_name_the_entry(root, sources, kw, match):
    with pytest.raises(RecipeError, match=match):
        _recipe(root, sources, **kw)


def test_root_overrides_the_recipe_folder(root, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("recipes") / "r.yaml"
    elsewhere.write_text(yaml.safe_dump({"sources": [{"path": "gen", "sample": "first:1"}]}))
    assert Recipe.load(elsewhere, root=root).entries[0] == Entry(root / "gen", "first:1")
    with pytest.raises(RecipeError, match="convert the source first"):
        Recipe.load(elsewhere)
