"""`unireward synth build` writes the world through the real CLI."""

import json

from typer.testing import CliRunner

from unireward.cli import app
from unireward.records import read_records


def test_synth_build_cli(tmp_path):
    r = CliRunner().invoke(app, ["synth", "build", str(tmp_path), "--n", "2", "--splits", "val,test",
                                 "--image-size", "64"])
    assert r.exit_code == 0, r.output
    counts = json.loads(r.stdout)["counts"]
    assert set(counts) == {"val", "test"} and all(v == 2 for v in counts["test"].values())
    records = list(read_records(tmp_path / "test" / "records.jsonl"))
    assert len(records) == 16 and {r.task.value for r in records} == {
        "image_generation", "image_understanding", "video_generation", "video_understanding"}


def test_synth_build_cli_hard_negatives_and_lookup(tmp_path):
    r = CliRunner().invoke(app, ["synth", "build", str(tmp_path), "--n", "20", "--splits", "train",
                                 "--hard-negatives", "1", "--rationale", "lookup"])
    assert r.exit_code == 0, r.output
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["hard_negatives"] == 1.0 and manifest["rationale"] == "lookup"
    iu = [x for x in read_records(tmp_path / "train" / "records.jsonl") if x.task.value == "image_understanding"]
    # a lookup line per object for some question other than existence
    assert any(x.meta["kind"] not in ("exists", "relation")
               and any(f"({a}): " in x.rationale for a in ("color", "shape", "position")) for x in iu)
