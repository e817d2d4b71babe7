"""`unireward.predict`, the one records -> predictions loop, and the prediction row schema in `records`:
pairs and points in one file, refusals (foreign output file, other settings, duplicate ids), strict JSON,
finished-file reading."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from unireward.cli import app
from unireward.predict import PredictionError, latest_rows, predict, predict_file, read_predictions
from unireward.records import JsonlWriter, Record, RecordError, read_records, write_records
from unireward.tasks import Score, Verdict


class ScriptedJudge:
    """Stands in for the model, not for the loop under test: answers from the texts it is shown."""

    name, mode, family, swap, batch_size = "scripted", "generate", "v1", False, 2

    def __init__(self, **settings):
        self.__dict__.update(settings)
        self.calls: list[tuple[str, int]] = []

    def compare_batch(self, items):
        self.calls.append(("pair", len(items)))
        return [Verdict("A" if it["a"].startswith("good") else "B", prob_a=0.75, text="Answer 1 is better")
                for it in items]

    def score_batch(self, items):
        self.calls.append(("point", len(items)))
        return [Score(4.0 if it["candidate"].startswith("good") else 2.0, scale=(1, 5), normalized=0.5,
                      dims={"Accuracy": 3.0}, text="Final Score: 4") for it in items]


def _pair(i, winner="A", rid=None) -> dict:
    return {"id": rid if rid is not None else f"p{i}", "source": "t", "task": "image_understanding",
            "form": "pair", "prompt": f"q{i}", "media": [{"image": "x.png"}],
            "candidates": [{"text": "good"}, {"text": "bad"}], "label": {"winner": winner}}


def _point(i) -> dict:
    return {"id": f"s{i}", "source": "t", "task": "image_understanding", "form": "point", "prompt": f"q{i}",
            "media": [{"image": "x.png"}], "candidates": [{"text": "good" if i % 2 else "bad"}],
            "label": {"score": 3.0, "scale": [1, 5]}}


def _records(tmp_path, recs: list[dict]):
    path = tmp_path / "records.jsonl"
    write_records(path, [Record.from_dict(r) for r in recs])
    return path


def test_pairs_and_points_share_one_file_and_schema(tmp_path):
    path = _records(tmp_path, [_pair(0), _point(1), _pair(2, "B"), _point(2)])
    out = tmp_path / "pred.jsonl"
    summary = predict_file(ScriptedJudge(), path, out, progress=False)
    assert summary["judged"] == 4 and summary["failed"] == 0 and summary["unparsed"] == 0
    rows = {r["id"]: r for r in read_predictions(out)}
    assert rows["p0"]["pred"] == "A" and rows["p0"]["label"] == "A" and rows["p0"]["margin"] == pytest.approx(0.5)
    assert rows["p2"]["label"] == "B" and rows["p2"]["record_id"] == "p2" and rows["p2"]["swapped"] is False
    assert rows["s1"]["score"] == 4.0 and rows["s1"]["label_score"] == 3.0 and rows["s1"]["scale"] == [1, 5]
    assert rows["s1"]["pred_dims"] == {"Accuracy": 3.0} and "dims" not in rows["s1"]  # dims = human labels only
    for r in rows.values():
        assert (r["judge"], r["mode"], r["family"], r["swap"]) == ("scripted", "generate", "v1", False)


def test_resume_with_other_settings_is_refused_and_same_settings_skip(tmp_path):
    path = _records(tmp_path, [_pair(0), _pair(1)])
    out = tmp_path / "pred.jsonl"
    predict_file(ScriptedJudge(), path, out, limit=1, progress=False)
    with pytest.raises(PredictionError, match="mode: 'generate' there, 'logprob' now"):
        predict_file(ScriptedJudge(mode="logprob"), path, out, progress=False)
    with pytest.raises(PredictionError, match="family: 'v1' there, '2.0' now"):
        predict_file(ScriptedJudge(family="2.0"), path, out, progress=False)
    again = ScriptedJudge()
    assert predict_file(again, path, out, progress=False)["already_done"] == 1
    assert again.calls == [("pair", 1)] and len(read_predictions(out)) == 2


def test_a_foreign_output_file_is_refused_and_left_untouched(tmp_path):
    path = _records(tmp_path, [_pair(0)])
    for content in ('{"id": "x", "prompt": "a record, not a prediction"}\n{"id": "y"', "notes\nmore notes"):
        out = tmp_path / "notes.jsonl"
        out.write_text(content)
        with pytest.raises(PredictionError, match="not a predictions file"):
            predict_file(ScriptedJudge(), path, out, progress=False)
        assert out.read_text() == content  # not a byte cut


def test_duplicate_and_null_ids(tmp_path):
    path = _records(tmp_path, [_pair(0, rid=7), _pair(1, rid="7")])
    with pytest.raises(PredictionError, match=r"duplicate record id\(s\) \['7'\]"):
        predict_file(ScriptedJudge(), path, tmp_path / "o.jsonl", progress=False)
    assert not (tmp_path / "o.jsonl").exists()
    bad = tmp_path / "null.jsonl"
    bad.write_text(json.dumps(_pair(0) | {"id": None}) + "\n")
    with pytest.raises(RecordError, match="field 'id' must be a non-empty string"):
        list(read_records(bad))
    summary = predict_file(ScriptedJudge(), bad, tmp_path / "o2.jsonl", progress=False)
    assert summary["judged"] == 0 and summary["invalid_records"] == 1 and "'id'" in summary["invalid_examples"][0]


def test_reading_finished_files(tmp_path):
    out = tmp_path / "pred.jsonl"
    row = {"id": "a", "form": "pair", "label": "A", "pred": "A"}
    out.write_text(json.dumps(row) + "\n" + json.dumps(row | {"id": "b"}))  # no final newline: still a row
    assert [r["id"] for r in read_predictions(out)] == ["a", "b"]
    out.write_text(json.dumps(row) + "\n" + json.dumps(row)[:15])
    with pytest.raises(PredictionError, match="pred.jsonl:2: the last line is cut"):
        read_predictions(out)
    with pytest.raises(PredictionError, match="two final predictions"):
        latest_rows([row, row | {"pred": "B"}])
    assert latest_rows([row | {"failed": True, "pred": None}, row])[0]["pred"] == "A"  # a retry replaces a failure


def test_bench_score_reads_a_folder_and_refuses_duplicates(tmp_path):
    runner = CliRunner()
    rows = [{"id": f"r{i}", "form": "pair", "label": "A", "pred": "A" if i else "B"} for i in range(4)]
    (tmp_path / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = runner.invoke(app, ["bench", "score", str(tmp_path), "--n-boot", "10"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["n"] == 4
    (tmp_path / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows + rows[:1]))
    r = runner.invoke(app, ["bench", "score", str(tmp_path)])
    assert r.exit_code == 2 and "id 'r0' has two final predictions" in r.output
    r = runner.invoke(app, ["bench", "score", str(tmp_path / "nowhere")])
    assert r.exit_code == 2 and "no such predictions file" in r.output


def test_non_finite_numbers_are_never_written(tmp_path):
    with JsonlWriter(tmp_path / "x.jsonl") as w:
        with pytest.raises(ValueError, match="field score.value"):
            w.write({"id": "a", "score": {"value": math.inf}})
        w.write({"id": "b", "score": 1.0})
    assert (tmp_path / "x.jsonl").read_text() == '{"id": "b", "score": 1.0}\n'
    rec = _point(0) | {"label": {"score": float("inf")}}
    with pytest.raises(RecordError, match="label.score must be a number"):
        Record.from_dict(rec)


def test_batch_size_zero_is_an_error_not_an_empty_run(tmp_path):
    path = _records(tmp_path, [_pair(0)])
    r = CliRunner().invoke(app, ["judge", "run", "-i", str(path), "-o", str(tmp_path / "o.jsonl"), "-m", "x/y",
                                 "--batch-size", "0"])
    assert r.exit_code == 2 and "--batch-size" in r.output and not (tmp_path / "o.jsonl").exists()


def test_a_raising_batch_is_retried_item_by_item(tmp_path):
    class Flaky(ScriptedJudge):
        def compare_batch(self, items):
            if any(it["prompt"] == "q1" for it in items):
                raise RuntimeError("boom")
            return super().compare_batch(items)

    path = _records(tmp_path, [_pair(0), _pair(1), _pair(2)])
    stats = predict(Flaky(batch_size=3), list(read_records(path)), tmp_path / "o.jsonl", base=tmp_path)
    rows = {r["id"]: r for r in read_predictions(tmp_path / "o.jsonl")}
    assert stats.failed == 1 and rows["p1"]["failed"] is True and "p1: RuntimeError: boom" in rows["p1"]["error"]
    assert rows["p0"]["pred"] == rows["p2"]["pred"] == "A"


def test_a_mode_the_template_cannot_take_fails_before_judging(tiny_qwen, tmp_path):
    import unireward as ur

    rec = {"id": "v0", "source": "t", "task": "video_generation", "form": "point", "prompt": "a ball",
           "candidates": [{"media": [{"video": "v.mp4"}]}]}
    path = _records(tmp_path, [rec])
    judge = ur.load_judge(tiny_qwen, mode="logprob")
    with pytest.raises(PredictionError, match="logprob mode cannot read the v1/video_generation/point template"):
        predict_file(judge, path, tmp_path / "o.jsonl", progress=False)
    assert not (tmp_path / "o.jsonl").exists()
