"""`unireward bench run` with several judges: three zoo scorers (tiny real-layout CLIP, open_clip and a VLM-free
PickScore, loaded from self-describing local folders) on a GenAI-Bench fixture, one comparison table and plot."""

from __future__ import annotations

import json

import pytest
from bench_fixtures import write_genai_image, write_vlrb
from typer.testing import CliRunner

from unireward.bench.report import category_comparison, comparison_table
from unireward.cli import app
from unireward.judges.zoo import tiny


runner = CliRunner()


@pytest.fixture(scope="module")
def judges(tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("zoo-bench")
    return [str(tiny.mark(tiny.build_clip(root / "pick", seed=1), "PickScore")),
            str(tiny.mark(tiny.build_clip(root / "clip", seed=2), "CLIPScore")),
            str(tiny.mark(tiny.build_open_clip(root / "hps"), "HPSv2"))]


def test_three_judges_side_by_side(tmp_path, judges):
    write_genai_image(tmp_path / "g")
    out = tmp_path / "o"
    args = ["bench", "run", "genai-bench-image", "--data", tmp_path / "g", "--output", out, "--device", "cpu"]
    for j in judges:
        args += ["--model", j]
    res = runner.invoke(app, list(map(str, args)))
    assert res.exit_code == 0, res.output
    table = (out / "comparison.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| judge")]
    assert len(rows) == 3 and all("[" in r for r in rows)  # every judge, with intervals
    assert (out / "plots" / "comparison.png").stat().st_size > 0
    summary = json.loads((out / "comparison.json").read_text())
    assert set(summary) == set(judges) and all(s["n"] == 6 for s in summary.values())
    for j in judges:  # each judge's own run folder, resumable on its own
        folder = out / next(line.split("`")[1] for line in table.splitlines() if line.startswith(f"- {j}:"))
        preds = [json.loads(x) for x in (folder / "predictions.jsonl").read_text().splitlines()]
        assert len(preds) == 6 and all(p["pred"] in ("A", "B", "tie") and p["margin"] is not None for p in preds)
    again = runner.invoke(app, list(map(str, args)))  # resumed: nothing judged twice
    assert again.exit_code == 0 and (out / "comparison.md").read_text() == table


def test_a_scorer_on_a_task_it_cannot_judge_fails_before_judging(tmp_path, judges):
    write_vlrb(tmp_path / "v")
    res = runner.invoke(app, ["bench", "run", "vl-rewardbench", "--data", str(tmp_path / "v"), "--output",
                              str(tmp_path / "o"), "--model", judges[0], "--device", "cpu"])
    assert res.exit_code == 2 and "cannot judge image_understanding" in res.output
    assert "image_generation" in res.output


def test_comparison_tables_by_hand():
    ci = {"tau": [0.4, 0.6], "diff": [0.5, 0.7], "overall_strict": [0.3, 0.5], "overall_official": [0.3, 0.6]}
    cat = {"general": {"n": 2, "n_unparsed": 0, "strict": 0.5, "official": 0.5,
                       "ci95": {"strict": [0.0, 1.0], "official": [0.0, 1.0]}}}
    m = {"n": 10, "n_unparsed": 1, "tau": 0.5, "diff": 0.6, "ci95": ci, "categories": cat, "overall_strict": 0.4,
         "overall_official": 0.45}
    rows = comparison_table({"J1": m, "J2": m | {"categories": {}}})
    assert rows[2] == "| J1 | 10 | 50.0 [40.0, 60.0] | 60.0 [50.0, 70.0] | 40.0 [30.0, 50.0] | 45.0 [30.0, 60.0] | 1 |"
    assert category_comparison({"J1": m, "J2": m | {"categories": {}}})[2:] == ["| J1 | 50.0 [0.0, 100.0] |",
                                                                                "| J2 | – |"]
