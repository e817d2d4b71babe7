"""`unireward construct` through Typer's test runner (the command function, as the lead registers it)."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from tests.construct.conftest import image, write_jsonl
from unireward.construct.cli import _scale, construct
from unireward.tasks import Task


def app() -> typer.Typer:
    a = typer.Typer()
    a.command()(construct)
    a.command("noop")(lambda: None)  # two commands, so the sub-command name is required as in the real CLI
    return a


def test_cli_runs_and_prints_a_summary(tmp_path, judge_dir):
    for i in range(4):
        image(i).save(tmp_path / f"{i}.png")
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "prompt": "a red square"},
                                                 {"id": "b", "prompt": "a blue circle"}])
    cands = write_jsonl(tmp_path / "c.jsonl", [{"id": "a", "candidates": ["0.png", "1.png", "2.png", "3.png"]},
                                               {"id": "b", "candidates": ["3.png", "2.png"]}])
    out = tmp_path / "out"
    args = ["construct", "--task", "image_generation", "--prompts", str(prompts), "--generator", f"jsonl:{cands}",
            "--judge", judge_dir, "--output", str(out), "--n", "4", "--strategy", "point-only", "--mode", "logprob",
            "--device", "cpu"]
    result = CliRunner().invoke(app(), args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["kept"] == 2 and summary["judge_calls"] == {"pair": 0, "point": 6}
    rows = [json.loads(x) for x in (out / "pairs.jsonl").read_text().splitlines()]
    assert {r["jpg_0"] for r in rows} <= {"../0.png", "../1.png", "../2.png", "../3.png"}
    assert json.loads((out / "run.json").read_text())["judge"]["point_scale"] == [1.0, 10.0]  # auto: 1-10
    again = CliRunner().invoke(app(), args + ["--resume"])
    assert json.loads(again.stdout)["already_done"] == 2
    # the confidence filter re-reads the stored scores: no judge call, every pair too close on a 1-10 scale
    gap = CliRunner().invoke(app(), args + ["--min-gap", "9"])
    assert gap.exit_code == 0, gap.output
    assert json.loads(gap.stdout)["kept"] == 0 and json.loads(gap.stdout)["judge_calls"] == {"pair": 0, "point": 0}
    assert json.loads((out / "run.json").read_text())["min_gap"] == 9.0
    # the floor on the chosen score reads the same stored scores: none of the tiny judge's is at the top
    floor = CliRunner().invoke(app(), args + ["--min-chosen-score", "1.0"])
    assert json.loads(floor.stdout)["kept"] == 0 and json.loads(floor.stdout)["judge_calls"] == {"pair": 0, "point": 0}
    assert json.loads((out / "run.json").read_text())["min_chosen_score"] == 1.0
    bad = CliRunner().invoke(app(), args[:6] + ["gan:x"] + args[7:])
    assert bad.exit_code != 0 and "KIND one of vlm:, diffusers:, t2v:, jsonl:" in str(bad.exception)


def test_point_scale_option():
    assert _scale("auto", Task.IMAGE_GENERATION) == (1, 10) and _scale("auto", Task.VIDEO_UNDERSTANDING) is None
    assert _scale("native", Task.IMAGE_GENERATION) is None and _scale("0,100", Task.IMAGE_GENERATION) == (0, 100)
    try:
        _scale("ten", Task.IMAGE_GENERATION)
    except ValueError as e:
        assert "auto, native or LO,HI" in str(e)
    else:
        raise AssertionError("expected an error")
