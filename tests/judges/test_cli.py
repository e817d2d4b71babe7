"""`unireward judge compare|score|run` and `unireward models`, through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from tests.conftest import random_image
from unireward.cli import app
from unireward.records import Record, write_records


runner = CliRunner()


def _json(result) -> dict:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return json.loads(result.stdout)


def test_compare_and_score_print_json(tiny_qwen, media_dir):
    a, b = str(media_dir / "img0.png"), str(media_dir / "img1.png")
    r = runner.invoke(app, ["judge", "compare", "--task", "image_generation", "--prompt", "a fox", "--a", a,
                            "--b", b, "--model", tiny_qwen, "--mode", "logprob", "--swap"])
    out = _json(r)
    assert r.exit_code == 0 and out["winner"] in ("A", "B", "tie") and out["swapped"]["probs"]
    assert out["mode"] == "logprob" and out["family"] == "v1"
    r = runner.invoke(app, ["judge", "score", "--task", "video_understanding", "--prompt", "What moves?",
                            "--candidate", "A ball.", "--media", str(media_dir / "a.mp4"), "--model", tiny_qwen,
                            "--mode", "logprob"])
    out = _json(r)
    assert r.exit_code == 0 and 1 <= out["value"] <= 5 and out["scale"] == [1, 5]


def test_failure_exits_nonzero_with_the_reason(tiny_qwen, media_dir):
    r = runner.invoke(app, ["judge", "compare", "--task", "image_generation", "--prompt", "a fox", "--a",
                            str(media_dir / "nope.png"), "--b", str(media_dir / "img1.png"), "--model", tiny_qwen,
                            "--mode", "logprob"])
    assert r.exit_code == 1 and "nope.png: file not found" in _json(r)["error"]


def test_models_lists_presets():
    r = runner.invoke(app, ["models"])
    assert r.exit_code == 0 and "UnifiedReward-qwen-7b" in r.stdout and "CodeGoat24/UnifiedReward-7b" in r.stdout


def test_unknown_model_is_one_clear_line():
    r = subprocess.run([sys.executable, "-m", "unireward.cli", "judge", "score", "--task", "image_generation",
                        "--prompt", "x", "--candidate", "y.png", "--model", "nosuch"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("error: unknown judge 'nosuch'") and "Traceback" not in r.stderr


def _records(tmp_path, n_pairs=6):
    (tmp_path / "media").mkdir()
    for i in range(4):
        random_image(i).save(tmp_path / "media" / f"{i}.png")
    recs = [Record(id=f"p{i}", source="test", task="image_generation", form="pair", prompt=f"shape {i}",
                   candidates=[{"media": [{"image": f"media/{i % 4}.png"}]},
                               {"media": [{"image": f"media/{(i + 1) % 4}.png"}]}],
                   label={"winner": "AB"[i % 2]}, meta={"category": "c"}) for i in range(n_pairs)]
    recs.append(Record(id="s0", source="test", task="image_understanding", form="point", prompt="What?",
                       media=[{"image": "media/0.png"}], candidates=[{"text": "A square."}],
                       label={"score": 80, "scale": [0, 100]}))
    recs.append(Record(id="bad-media", source="test", task="image_generation", form="point", prompt="x",
                       candidates=[{"media": [{"image": "media/missing.png"}]}]))
    from unireward.tasks import Form, Task

    for r in recs:
        r.task, r.form = Task(r.task), Form(r.form)
    path = tmp_path / "records.jsonl"
    write_records(path, recs)
    with open(path, "a") as f:
        f.write('{"id": "broken", "task": "image_generation"}\n')
    return path


def _ids(path):
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


def test_run_writes_predictions_and_resumes_exactly(tiny_qwen, tmp_path):
    records = _records(tmp_path)
    out = tmp_path / "preds.jsonl"
    args = ["judge", "run", "--input", str(records), "--output", str(out), "--model", tiny_qwen, "--mode", "logprob",
            "--batch-size", "3"]
    first = _json(runner.invoke(app, args + ["--limit", "4"]))
    assert first["judged"] == 4 and _ids(out) == ["p0", "p1", "p2", "p3"]
    # a killed job leaves a half-written line behind
    with open(out, "a") as f:
        f.write('{"id": "p4", "task": "image_gen')
    second = _json(runner.invoke(app, args))
    assert second["already_done"] == 4 and second["judged"] == 4
    assert second["invalid_records"] == 1 and "records.jsonl:9: missing field 'form'" in second["invalid_examples"][0]
    ids = _ids(out)
    assert ids == ["p0", "p1", "p2", "p3", "p4", "p5", "s0", "bad-media"] and len(set(ids)) == len(ids)
    rows = {json.loads(line)["id"]: json.loads(line) for line in out.read_text().splitlines()}
    assert rows["p1"]["label"] == "B" and rows["p1"]["pred"] in ("A", "B", "tie") and rows["p1"]["category"] == "c"
    assert rows["p1"]["margin"] == 2 * rows["p1"]["prob_a"] - 1
    assert rows["s0"]["label_score"] == 80 and 0 <= rows["s0"]["score"] <= 100
    assert rows["bad-media"]["score"] is None and "missing.png: file not found" in rows["bad-media"]["error"]
    third = _json(runner.invoke(app, args))  # only the item that produced no answer is judged again
    assert third["judged"] == 1 and third["failed"] == 1 and _ids(out) == ids  # and its old row replaced
