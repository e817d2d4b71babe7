"""`unireward bench ...` end to end: a tiny real Qwen2.5-VL judge, fixture benchmarks, `score` round trip."""

from __future__ import annotations

import json

import pytest
from bench_fixtures import write_genai_image, write_videogen, write_vlrb
from typer.testing import CliRunner

from unireward.cli import app


runner = CliRunner()


def invoke(*args: str):
    result = runner.invoke(app, ["bench", *map(str, args)])
    return result


@pytest.fixture
def tiny_model(tiny_qwen):
    """The session's tiny random Qwen2.5-VL folder (tests/conftest.py, `unireward.tiny_models.build_qwen2_5_vl`)."""
    return tiny_qwen


def write_rows(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_score_prints_required_keys(tmp_path):
    rows = [{"id": "1", "label": "A", "pred": "A", "margin": 0.5, "category": "general"},
            {"id": "2", "label": "tie", "pred": "tie", "margin": 0.05, "category": "general"},
            {"id": "3", "label": "B", "pred": None, "margin": None, "category": "reasoning"},
            {"id": "4", "label": "B", "pred": "B", "margin": -0.4, "category": "reasoning"}]
    res = invoke("score", write_rows(tmp_path / "p.jsonl", rows))
    assert res.exit_code == 0, res.output
    m = json.loads(res.output)
    assert {"n", "n_unparsed", "tau", "diff", "tie_calibrated", "no_tie", "categories", "overall_strict",
            "overall_official", "macro_strict", "macro_official"} <= set(m)
    assert m["n"] == 4 and m["n_unparsed"] == 1
    assert m["tau"] == pytest.approx(3 / 4) and m["diff"] == pytest.approx(2 / 3)
    assert m["tie_calibrated"] == pytest.approx(3 / 4) and m["no_tie"] == pytest.approx(2 / 3)
    assert m["categories"]["reasoning"]["strict"] == 0.5 and m["macro_strict"] == pytest.approx(0.75)
    assert m["categories"]["reasoning"]["official"] == 1.0 and m["macro_official"] == 1.0
    assert m["overall_official"] == 1.0


def test_score_without_margins_or_categories(tmp_path):
    res = invoke("score", write_rows(tmp_path / "p.jsonl", [{"id": "1", "label": "A", "pred": "B"}]))
    m = json.loads(res.output)
    assert m["tau"] == 0.0 and "tie_calibrated" not in m and "categories" not in m


def test_score_bad_row_names_it(tmp_path):
    res = invoke("score", write_rows(tmp_path / "p.jsonl", [{"id": "x7", "label": "left", "pred": "A"}]))
    assert res.exit_code == 2 and "x7" in res.output and "'label'" in res.output


def test_list_and_prepare(tmp_path):
    assert "videogen-rewardbench" in invoke("list").output
    write_genai_image(tmp_path / "g")
    res = invoke("prepare", "genai-bench-image", "--data", tmp_path / "g", "--output", tmp_path / "o", "--limit", 4)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["records"] == 4 and (tmp_path / "o/records.jsonl").is_file()
    bad = invoke("prepare", "genai-bench", "--data", tmp_path / "g", "--output", tmp_path / "o")
    assert bad.exit_code == 2 and "valid: vl-rewardbench" in bad.output


def test_run_refuses_missing_media_before_loading_the_judge(tmp_path):
    write_videogen(tmp_path / "vg", overall=["A", "B"])
    (tmp_path / "vg/videos/minimax/minimax_00001.mp4").unlink()
    res = invoke("run", "videogen-rewardbench", "--data", tmp_path / "vg", "--model", "no/such-model",
                 "--output", tmp_path / "o")
    assert res.exit_code == 2 and "minimax_00001.mp4" in res.output and "--allow-missing" in res.output


def test_run_end_to_end_logprob_and_score_round_trip(tmp_path, tiny_model):
    write_vlrb(tmp_path / "vlrb")
    out = tmp_path / "run"
    args = ["run", "vl-rewardbench", "--data", tmp_path / "vlrb", "--model", tiny_model, "--output", out,
            "--mode", "logprob", "--swap", "both", "--batch-size", 4]
    res = invoke(*args)
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 14 and {r["swapped"] for r in rows} == {False, True}
    assert all(r["pred"] in ("A", "B", "tie") and r["margin"] is not None and r["category"] for r in rows)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["run"]["mode"] == "logprob" and metrics["n"] == 14 and "order_consistency" in metrics
    report = (out / "report.md").read_text()
    assert "Unparsed answers" in report and "| macro, strict |" in report and "| macro, official |" in report
    assert (out / "plots/confusion.png").is_file() and (out / "plots/categories.png").is_file()

    scored = invoke("score", out / "predictions.jsonl")
    assert scored.exit_code == 0, scored.output
    again = json.loads(scored.output)
    assert again == {k: v for k, v in metrics.items() if k != "run"}
    for key in ("n", "n_unparsed", "tau", "diff", "tie_calibrated", "no_tie", "categories", "macro_strict",
                "macro_official"):
        assert key in again

    resumed = invoke(*args)  # everything done: nothing judged again, no duplicate rows
    assert resumed.exit_code == 0, resumed.output
    assert len((out / "predictions.jsonl").read_text().splitlines()) == 14
    other = invoke(*[a if a != "both" else "seeded" for a in args])
    assert other.exit_code == 2 and "swap" in other.output


def test_run_end_to_end_generate_video(tmp_path, tiny_model):
    write_videogen(tmp_path / "vg", overall=["A", "same"])
    out = tmp_path / "run"
    res = invoke("run", "videogen-rewardbench", "--data", tmp_path / "vg", "--model", tiny_model, "--output", out,
                 "--mode", "generate", "--max-new-tokens", 3, "--limit", 2)
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["row-0", "row-1"] and all("dims" in r for r in rows)
    assert all(r["swap"] is False and r["mode"] == "generate" for r in rows)  # the order is ours, never the judge's
    m = json.loads((out / "metrics.json").read_text())
    assert m["n"] == 2 and m["n_unparsed"] == sum(r["pred"] is None for r in rows)  # random weights: garbage
    assert set(m["dims"]) == {"VQ", "MQ", "TA"} and "tie_calibrated" not in m
    assert f"Unparsed answers: {m['n_unparsed']} of 2" in (out / "report.md").read_text()


def test_run_unknown_benchmark_lists_names(tmp_path):
    res = invoke("run", "vlrb", "--data", tmp_path, "--model", "x/y", "--output", tmp_path / "o")
    assert res.exit_code == 2 and "valid: vl-rewardbench" in res.output
