"""Template families as user files: every built-in family round-trips (export -> load -> identical render),
`base` inheritance, judges accepting a file as their family, and errors that name the file and the entry."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from unireward.tasks import Form, Task
from unireward.templates import (
    FAMILIES,
    TemplateFileError,
    dump_family,
    get_template,
    list_templates,
    load_family,
    render_item,
)


IG, IU, VG, VU = Task.IMAGE_GENERATION, Task.IMAGE_UNDERSTANDING, Task.VIDEO_GENERATION, Task.VIDEO_UNDERSTANDING


def _answers(t) -> list[str]:
    if t.task.is_generation:
        return []
    return ["an <|im_end|> answer", "the other one"] if t.form == Form.PAIR else ["one answer"]


@pytest.mark.parametrize("suffix", ["yaml", "toml"])
@pytest.mark.parametrize("family", FAMILIES)
def test_builtin_families_round_trip(tmp_path, family, suffix):
    path = str(dump_family(family, tmp_path / f"{family}.{suffix}"))
    loaded = list_templates(path)
    assert len(loaded) == 8
    for t, u in zip(list_templates(family), loaded, strict=True):
        assert u.family == path and replace(u, family=family) == t  # every field, the text byte for byte
        assert render_item(u, "a red fox", _answers(u)) == render_item(t, "a red fox", _answers(t))


def test_yaml_export_is_readable_and_toml_is_valid(tmp_path):
    text = dump_family("v1", tmp_path / "v1.yaml").read_text()
    assert "text: |-\n      You are given a text caption and two images" in text  # block scalars, no escapes
    toml = dump_family("think-qwen3vl", tmp_path / "t.toml").read_text()
    assert "text = '''\nYou are an objective" in toml
    with pytest.raises(ValueError, match="end in .yaml, .yml, .toml"):
        dump_family("v1", tmp_path / "v1.json")


def test_awkward_texts_survive_both_formats(tmp_path):
    odd = "Say '''x''' and \"y\" \\ {{braces}} \t tab\nText Caption: [{prompt}]\n\n\n"
    src = tmp_path / "odd.yaml"
    src.write_text(f"base: v1\nimage_generation:\n  pair:\n    text: {_yaml_quote(odd)}\n")
    assert get_template(IG, Form.PAIR, str(src)).text == odd
    for suffix in ("yaml", "toml"):
        out = str(dump_family(str(src), tmp_path / f"again.{suffix}"))
        assert get_template(IG, Form.PAIR, out).text == odd
        assert get_template(IG, Form.PAIR, out).render("fox").endswith("[fox]\n\n\n")


def _yaml_quote(s: str) -> str:
    import json

    return json.dumps(s)  # a JSON string is a valid YAML double-quoted scalar


def test_base_inherits_templates_and_fields(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("base: v1\ndescription: exact upstream wording for one prompt\n"
                    "image_understanding:\n  point:\n    text: |\n      Rate it from {lo} to {hi}.\n"
                    "      Question: [{prompt}]\n      Response: [{answer}]\n")
    t = get_template(IU, Form.POINT, str(path))
    v1 = get_template(IU, Form.POINT, "v1")
    assert t.text == "Rate it from {lo} to {hi}.\nQuestion: [{prompt}]\nResponse: [{answer}]\n"
    assert (t.parser, t.scale, t.logprob_prefixes, t.family) == (v1.parser, v1.scale, v1.logprob_prefixes, str(path))
    assert t.render("q", answer="a") == "Rate it from 0 to 100.\nQuestion: [q]\nResponse: [a]\n"
    other = get_template(IG, Form.PAIR, str(path))  # not in the file: the base's, under the file's name
    assert replace(other, family="v1") == get_template(IG, Form.PAIR, "v1") and other.family == str(path)
    assert load_family(str(path)).description == "exact upstream wording for one prompt"


def test_without_base_a_missing_template_is_an_error(tmp_path):
    path = tmp_path / "only.toml"
    path.write_text('[image_understanding.point]\ntext = "Q: [{prompt}] R: [{answer}]"\nparser = "final_score"\n'
                    "scale = [1, 10]\n")
    assert get_template(IU, Form.POINT, str(path)).scale == (1, 10)
    assert [(t.task, t.form) for t in list_templates(str(path))] == [(IU, Form.POINT)]
    with pytest.raises(ValueError, match=r"only.toml has no pair template for image_generation and no 'base'"):
        get_template(IG, Form.PAIR, str(path))


def test_a_changed_file_is_read_again(tmp_path):
    path = tmp_path / "live.yaml"
    path.write_text("base: v1\nimage_generation:\n  point:\n    text: 'A {prompt}'\n")
    assert get_template(IG, Form.POINT, str(path)).render("fox") == "A fox"
    path.write_text("base: v1\nimage_generation:\n  point:\n    text: 'Another {prompt}'\n")
    os.utime(path, ns=(1, 1))  # a different modification time even on a coarse clock
    assert get_template(IG, Form.POINT, str(path)).render("fox") == "Another fox"


@pytest.mark.parametrize("content,match", [
    ("base: v1\nimage_generation:\n  pair:\n    txt: 'x {prompt}'\n",
     r"image_generation.pair: unknown fields \['txt'\]"),
    ("base: v1\nimage_generation:\n  pair:\n    text: 'x {caption}'\n", r"unknown placeholders \['caption'\]"),
    ("base: v1\nimage_generation:\n  pair:\n    text: 'x {prompt'\n", "not a valid format string"),
    ("base: v1\nimage_generation:\n  pair:\n    text: 'no placeholder'\n", r"has no \{prompt\} placeholder"),
    ("base: v1\nimage_generation:\n  pair:\n    parser: regex\n", "unknown parser 'regex'"),
    ("image_generation:\n  pair:\n    text: 'x {prompt}'\n", "'text' and 'parser' are required"),
    ("base: v9\n", "base must be a built-in family"),
    ("base: v1\naudio_generation: {}\n", r"unknown top-level keys \['audio_generation'\]"),
    ("base: v1\nimage_generation:\n  triple: {}\n", "image_generation.triple: unknown form"),
    ("base: v1\nimage_generation:\n  point:\n    scale: 5\n", r"scale must be \[lo, hi\]"),
    ("base: v1\nvideo_generation:\n  point:\n    num_frames: 0\n", "num_frames must be a positive integer"),
    ("base: v1\nimage_generation:\n  pair:\n    marker: [1]\n", "marker must be a string or null"),
    ("- just\n- a list\n", "expected a mapping"),
    ("base: [v1\n", "not valid YAML"),
])
def test_bad_files_name_the_file_and_entry(tmp_path, content, match):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(TemplateFileError, match=match) as e:
        get_template(VG if "video" in content else IG, Form.POINT if "point" in content else Form.PAIR, str(path))
    assert str(path) in str(e.value)


def test_missing_file_and_unknown_family():
    with pytest.raises(FileNotFoundError, match="template file /no/such/prompts.yaml not found"):
        get_template(IG, Form.PAIR, "/no/such/prompts.yaml")
    with pytest.raises(ValueError, match="or a path to a .yaml/.toml template file"):
        get_template(IG, Form.PAIR, "prompts.json")


def test_a_judge_takes_a_template_file_as_its_family(tmp_path, qwen_dir):
    import unireward as ur
    from tests.conftest import random_image

    path = tmp_path / "mine.yaml"
    path.write_text("base: v1\nimage_understanding:\n  point:\n    text: 'Rate [{answer}] for [{prompt}], "
                    "{lo}-{hi}, after Final Score:'\n")
    judge = ur.load_judge(qwen_dir, family=str(path), device="cpu", dtype="float32", mode="logprob")
    assert judge.family == str(path)  # validated through the image_generation pair template, from the base
    s = judge.score(IU, "What is shown?", "A fox.", media=random_image(0))
    assert s.error is None and 0 <= s.value <= 100
    req_text = judge.template(IU, Form.POINT).render("What is shown?", answer="A fox.")
    assert req_text == "Rate [A fox.] for [What is shown?], 0-100, after Final Score:"
    bare = tmp_path / "bare.yaml"  # the same template, complete, but no base for the rest
    bare.write_text(path.read_text().replace("base: v1\n", "") + "    parser: final_score\n    scale: [0, 100]\n")
    assert get_template(IU, Form.POINT, str(bare)).scale == (0, 100)
    with pytest.raises(ValueError, match="bare.yaml has no pair template for image_generation and no 'base'"):
        ur.load_judge(qwen_dir, family=str(bare), device="cpu")
