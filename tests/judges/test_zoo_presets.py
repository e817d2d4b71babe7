"""The zoo as data: every preset is well formed, `unireward models` shows tasks, forms, licence and size."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from unireward.cli import app
from unireward.judges.registry import list_presets
from unireward.judges.zoo import BACKENDS
from unireward.tasks import Form, Task


def test_every_preset_is_well_formed():
    for p in list_presets():
        assert all(Task.parse(t) for t in p.tasks) and all(Form.parse(f) for f in p.forms), p.name
        if p.kind == "scorer":
            assert p.backend in BACKENDS or p.backend == "planned", p.name
            assert p.scale[0] < p.scale[1] and p.temperature > 0, p.name
        assert p.layout in ("hf", "llava_next"), p.name


def test_the_papers_baselines_are_all_listed():
    names = {p.name for p in list_presets()}
    assert {"PickScore", "HPSv2", "HPSv2.1", "HPSv3", "ImageReward", "CLIPScore", "LAION-Aesthetic", "VideoReward",
            "VideoScore-v1.1", "VideoScore2", "LiFT-Critic", "VisionReward", "LLaVA-Critic-7b",
            "IXC-2.5-Reward"} <= names


def test_models_command_shows_tasks_forms_licence_size():
    res = CliRunner().invoke(app, ["models", "--kind", "scorer"])
    assert res.exit_code == 0
    line = next(x for x in res.output.splitlines() if x.startswith("PickScore "))
    assert "img-gen" in line and "pair,point" in line and "0.99B" in line and "none stated" in line  # no card licence
    rows = [json.loads(x) for x in CliRunner().invoke(app, ["models", "--json", "--task", "video_generation"])
            .output.splitlines()]
    assert {"VideoReward", "UnifiedReward-7b"} <= {r["name"] for r in rows}
    assert all("video_generation" in r["tasks"] for r in rows)
