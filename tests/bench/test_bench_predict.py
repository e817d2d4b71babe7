"""The judge loop (`unireward.predict`) with a scripted judge on benchmark records: presentation order, rows,
resume, failures, pipeline outputs."""

from __future__ import annotations

import json

import pytest
from bench_fixtures import write_genai_image, write_videogen, write_vlrb

from unireward.bench.pipeline import check_settings, run_benchmark
from unireward.bench.sources import convert
from unireward.predict import open_predictions, predict, presentations, read_predictions, seeded_swap
from unireward.records import prediction_row, shown_row
from unireward.tasks import Verdict


class ScriptedJudge:
    """Answers by looking at the texts/paths it is shown; records every batch."""

    name = "scripted"

    def __init__(self, answer=None, raise_on=None):
        self.batches: list[list[dict]] = []
        self.answer = answer or (lambda item: Verdict("A", prob_a=0.9))
        self.raise_on = raise_on

    def compare_batch(self, items):
        self.batches.append(items)
        if self.raise_on and any(self.raise_on(it) for it in items):
            raise RuntimeError("boom")
        return [self.answer(it) for it in items]


def good_first(item):
    """Picks whichever side shows the fixture's 'good answer i' text (response[0] of the VLRB fixture)."""
    return Verdict("A" if item["a"].startswith("good") else "B", prob_a=0.8 if item["a"].startswith("good") else 0.2)


def test_seeded_order_is_stable_and_label_follows(tmp_path):
    write_vlrb(tmp_path / "v")
    recs = convert("vl-rewardbench", tmp_path / "v", tmp_path / "o").records
    a = [p.swapped for p in presentations(recs, "seeded", seed=0)]
    assert a == [p.swapped for p in presentations(recs[::-1], "seeded", 0)][::-1]  # per id, not a stream
    assert a == [seeded_swap(r.id, 0) for r in recs] and any(a) and not all(a)
    assert a != [p.swapped for p in presentations(recs, "seeded", seed=1)]
    for p in presentations(recs, "seeded", 0):
        row = shown_row(p.record, p.id, p.swapped)
        assert row["id"] == p.record.id and row["swapped"] == p.swapped
        assert row["label"] == ({"A": "B", "B": "A"}[p.record.winner] if p.swapped else p.record.winner)
        assert row["category"] == p.record.meta["category"]
    with pytest.raises(ValueError, match="valid: given, seeded, both"):
        list(presentations(recs, "random"))


def test_both_orders_and_swapped_fields(tmp_path):
    write_videogen(tmp_path / "vg", overall=["A"])
    (rec,) = convert("videogen-rewardbench", tmp_path / "vg", tmp_path / "o").records
    p0, p1 = presentations([rec], "both")
    assert (p0.id, p1.id) == ("row-0", "row-0~swapped")
    shown = shown_row(p1.record, p1.id, p1.swapped)
    assert shown["dims"] == {"VQ": "B", "MQ": "A", "TA": "tie"} and shown["label"] == "B"


def test_run_judge_rows_and_swapped_inputs(tmp_path):
    write_vlrb(tmp_path / "v")
    recs = convert("vl-rewardbench", tmp_path / "v", tmp_path / "o").records
    judge = ScriptedJudge(good_first)
    stats = predict(judge, recs, tmp_path / "o/predictions.jsonl", base=tmp_path / "o", order="seeded", batch_size=3)
    assert stats.judged == 7 and [len(b) for b in judge.batches] == [3, 3, 1]
    rows = read_predictions(tmp_path / "o/predictions.jsonl")
    for r, rec in zip(rows, recs, strict=True):
        assert r["pred"] == ("B" if r["swapped"] else "A")  # the judge saw "good answer" where it was shown
        assert (r["label"] == r["pred"]) == (rec.winner == "A")  # right exactly when gold is the first response
        assert r["margin"] == pytest.approx(0.6 if r["pred"] == "A" else -0.6)
        assert r["judge"] == "scripted"


def test_resume_skips_done_and_retries_failed(tmp_path):
    write_genai_image(tmp_path / "g")
    recs = convert("genai-bench-image", tmp_path / "g", tmp_path / "o").records
    pred = tmp_path / "o/predictions.jsonl"
    flaky = ScriptedJudge(raise_on=lambda it: "number 2" in it["prompt"])
    stats = predict(flaky, recs, pred, order="seeded", batch_size=4)
    assert stats.failed == 1 and stats.judged == 6
    bad = [r for r in read_predictions(pred) if r.get("failed")]
    assert len(bad) == 1 and bad[0]["id"] == "test-2" and "boom" in bad[0]["error"] and bad[0]["pred"] is None
    lines = pred.read_text().splitlines(keepends=True)
    assert json.loads(lines[-1])["id"] == "test-5"
    pred.write_text("".join(lines[:-1]) + lines[-1][:20])  # killed while writing test-5
    assert open_predictions(pred) == {f"test-{i}" for i in (0, 1, 3, 4)}
    again = ScriptedJudge()
    stats = predict(again, recs, pred, order="seeded")
    assert stats.skipped_done == 4 and stats.judged == 2
    assert sorted(it["prompt"] for b in again.batches for it in b) == ["a cat number 2", "a cat number 5"]
    rows = read_predictions(pred)  # 4 final rows + 2 new: the half line cut, the failed row replaced
    assert len(rows) == 6 and len({r["id"] for r in rows}) == 6 and not any(r.get("failed") for r in rows)


def test_judge_error_verdict_without_text_is_failed(tmp_path):
    write_genai_image(tmp_path / "g", votes=["leftvote", "rightvote"])
    recs = convert("genai-bench-image", tmp_path / "g", tmp_path / "o").records
    answers = iter([Verdict(None, error="MediaError: x.png: file not found"), Verdict(None, text="no idea")])
    predict(ScriptedJudge(lambda it: next(answers)), recs, tmp_path / "p.jsonl", order="seeded", batch_size=2)
    r0, r1 = read_predictions(tmp_path / "p.jsonl")
    assert r0.get("failed") is True and "failed" not in r1 and r1["pred"] is None and r1["text"] == "no idea"


def test_pipeline_writes_outputs_and_refuses_other_settings(tmp_path):
    write_vlrb(tmp_path / "v")
    out = tmp_path / "run"
    settings = {"bench": "vl-rewardbench", "model": "scripted", "mode": "generate", "swap": "both", "seed": 0}
    check_settings(out, settings)
    m = run_benchmark(ScriptedJudge(good_first), "vl-rewardbench", tmp_path / "v", out, swap="both",
                      settings=settings, n_boot=200)
    # the fixture's gold is response[0] except ids 0, 3, 6 (human_ranking [1, 0]): right on 4 of 7 items
    assert m["n"] == 14 and m["tau"] == pytest.approx(8 / 14) and m["order_consistency"] == 1.0
    assert set(m["categories"]) == {"general", "hallucination", "reasoning"}
    assert m["run"]["judge"] == "scripted" and m["run"]["records"] == 7
    assert json.loads((out / "metrics.json").read_text())["tau"] == m["tau"]
    report = (out / "report.md").read_text()
    assert "Unparsed answers: 0 of 14" in report and "plots/categories.png" in report
    assert (out / "plots/confusion.png").stat().st_size > 0 and (out / "plots/categories.png").is_file()
    with pytest.raises(ValueError, match="mode: 'generate' there, 'logprob' now"):
        check_settings(out, settings | {"mode": "logprob"})
    m2 = run_benchmark(ScriptedJudge(), "vl-rewardbench", tmp_path / "v", out, swap="both", limit=2, n_boot=200)
    assert m2["n"] == 4 and m2["run"]["this_invocation"]["judged"] == 0  # all done; metrics on the subset


def test_prediction_row_margin_and_dims(tmp_path):
    write_genai_image(tmp_path / "g")
    rec = convert("genai-bench-image", tmp_path / "g", tmp_path / "o").records[0]
    f = prediction_row(rec, Verdict("B", prob_a=0.25, dims={"Alignment": 0.3}, text="Image 2 is better."))
    assert f["pred"] == "B" and f["margin"] == pytest.approx(-0.5) and f["pred_dims"] == {"Alignment": 0.3}
    assert "failed" not in f
    assert prediction_row(rec, Verdict(None, text="???"))["margin"] is None
