"""`unireward templates list|show|export` through the real command (typer's CliRunner), with a tiny model."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from unireward.cli import app
from unireward.tasks import Form, Task
from unireward.templates import get_template, render_item


runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, ["templates", *args])


def test_show_prints_the_exact_instruction():
    r = invoke("show", "video_generation", "pair", "--family", "v1")
    assert r.exit_code == 0, r.output
    t = get_template(Task.VIDEO_GENERATION, Form.PAIR, "v1")
    assert r.stdout == t.text  # placeholders shown as {prompt}; the trailing newline is the template's own
    assert r.stdout.endswith("Text Caption: [{prompt}]\n")
    r = invoke("show", "image_understanding", "pair", "--family", "v1-llava", "--prompt", "Q?", "--a", "x", "--b", "y")
    assert r.stdout == render_item(get_template("image_understanding", "pair", "v1-llava"), "Q?", ["x", "y"])
    assert r.stdout.endswith("Question: [Q?]\nThe first response: [x]\nThe second response: [y]\n")


def test_show_with_a_model_prints_the_chat_prompt(qwen_dir):
    r = invoke("show", "video_generation", "pair", "--family", "v1", "--model", qwen_dir, "--prompt", "a fox")
    assert r.exit_code == 0, r.output
    chat = r.stdout
    text = render_item(get_template("video_generation", "pair", "v1"), "a fox", [])
    assert chat.startswith("<|im_start|>system\n") and chat.endswith(text + "<|im_end|>\n<|im_start|>assistant\n")
    assert chat.count("<|vision_start|><|image_pad|><|vision_end|>") == 16  # 8 frames per video, frames as images
    r = invoke("show", "video_generation", "point", "--family", "2.0", "--model", qwen_dir, "--json")
    out = json.loads(r.stdout)
    assert out["num_frames"] == 16 and out["chat_prompt"].count("<|image_pad|>") == 16  # the APS prompt's 16 frames
    assert out["text"] in out["chat_prompt"] and out["logprob_prefixes"] is None


def test_list_shows_every_template_and_where_logprob_reads():
    r = invoke("list")
    assert r.exit_code == 0, r.output
    rows = [line.split() for line in r.stdout.splitlines()[1:]]
    assert len(rows) == 40
    by_key = {(row[0], row[1], row[2]): row for row in rows}
    assert by_key[("v1", "video_generation", "point")][-1] == "no"
    assert by_key[("v1", "image_generation", "point")][-1] == "yes"
    assert by_key[("2.0", "video_generation", "point")][-2] == "16"


def test_export_then_show_from_the_file(tmp_path):
    out = tmp_path / "think.yaml"
    r = invoke("export", "--family", "think", "-o", str(out))
    assert r.exit_code == 0 and out.is_file(), r.output
    from_file = invoke("show", "image_generation", "pair", "--family", str(out), "--prompt", "a fox")
    builtin = invoke("show", "image_generation", "pair", "--family", "think", "--prompt", "a fox")
    assert from_file.stdout == builtin.stdout and "<answer>Image 1 is better</answer>" in builtin.stdout
    listed = invoke("list", "--family", str(out))
    assert len(listed.stdout.splitlines()) == 1 + 8


def test_unknown_family_is_a_clear_error():
    r = invoke("show", "image_generation", "pair", "--family", "v3")
    assert isinstance(r.exception, ValueError) and "valid families" in str(r.exception)
