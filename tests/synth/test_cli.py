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
