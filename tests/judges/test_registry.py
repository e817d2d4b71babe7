"""Presets as data, `load_judge` resolution, and errors that list valid names."""

from __future__ import annotations

import json
import shutil

import pytest

import unireward as ur
from unireward.judges.registry import _parse_openai, get_preset, list_presets


def test_presets_cover_the_released_checkpoints():
    names = {p.name for p in list_presets()}
    for expected in ("UnifiedReward-7b", "UnifiedReward-7b-v1.5", "UnifiedReward-qwen-3b", "UnifiedReward-qwen-7b",
                     "UnifiedReward-qwen-32b", "UnifiedReward-2.0-qwen-7b", "UnifiedReward-2.0-qwen3vl-8b",
                     "UnifiedReward-Think-qwen-7b"):
        assert expected in names
    p = get_preset("unifiedreward-qwen-7b")
    assert (p.hub_id, p.arch, p.family) == ("CodeGoat24/UnifiedReward-qwen-7b", "qwen2_5_vl", "v1")
    assert get_preset("CodeGoat24/UnifiedReward-7b").family == "v1-llava"
    assert get_preset("CodeGoat24/UnifiedReward-2.0-qwen3vl-8b").arch == "qwen3_vl"
    assert ur.list_models() == [p.name for p in list_presets()]


def test_unknown_name_lists_presets():
    with pytest.raises(ValueError, match=r"unknown judge 'best-judge'.*Presets: UnifiedReward-7b, "):
        ur.load_judge("best-judge")


def test_openai_specs():
    assert _parse_openai("openai://127.0.0.1:8080/UnifiedReward") == ("http://127.0.0.1:8080/v1", "UnifiedReward")
    assert _parse_openai("openai+https://api.example.org/m")[0] == "https://api.example.org/v1"
    with pytest.raises(ValueError, match="expected openai://HOST:PORT/MODEL"):
        _parse_openai("openai://host-only")
    j = ur.load_judge("openai://localhost:1/UnifiedReward-2.0-qwen-7b")
    assert j.family == "2.0"  # a served preset name brings its prompt family


def test_local_folder_with_family_metadata(tiny_models, tmp_path):
    folder = tmp_path / "judge"
    shutil.copytree(tiny_models["qwen2_5_vl"], folder)
    (folder / "unireward.json").write_text(json.dumps({"family": "2.0"}))
    assert ur.load_judge(str(folder)).family == "2.0"
    assert ur.load_judge(tiny_models["llava_onevision"]).family == "v1-llava"  # the architecture's default
    assert ur.load_judge(tiny_models["qwen3_vl"]).family == "2.0"
    with pytest.raises(ValueError, match="unknown mode 'fast'; valid: generate, logprob"):
        ur.load_judge(str(folder), mode="fast")
    (folder / "templates.yaml").write_text("base: v1\nimage_generation:\n  pair:\n    text: 'Judge: [{prompt}]'\n")
    (folder / "unireward.json").write_text(json.dumps({"family": "templates.yaml"}))  # shipped with the judge
    judge = ur.load_judge(str(folder))
    assert judge.family == str(folder / "templates.yaml")
    assert judge.template("image_generation", "pair").render("a fox") == "Judge: [a fox]"


def test_import_is_cheap():
    import subprocess
    import sys

    code = "import sys, unireward, unireward.judges, unireward.tasks; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
