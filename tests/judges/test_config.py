"""`JudgeConfig`: one validated value for every judge option, taken by `load_judge` and built by the CLIs."""

from __future__ import annotations

import pytest

import unireward as ur
from unireward.judges.config import JudgeConfig


def test_validation_names_the_field_and_the_valid_values():
    with pytest.raises(ValueError, match="unknown mode 'fast'; valid: generate, logprob"):
        JudgeConfig(mode="fast")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        JudgeConfig(batch_size=0)
    with pytest.raises(ValueError, match="unknown dtype 'int4'"):
        JudgeConfig(dtype="int4")
    with pytest.raises(ValueError, match="point_scale"):
        JudgeConfig(point_scale=(10, 1))
    with pytest.raises(TypeError, match=r"unknown judge option\(s\) \['modee'\]; valid: batch_size"):
        JudgeConfig().merged(modee="logprob")
    assert JudgeConfig(point_scale=(1, 10)).point_scale == (1.0, 10.0)


def test_merged_keeps_values_that_cannot_be_none():
    cfg = JudgeConfig(mode="logprob", family="2.0").merged(mode=None, dtype=None, family=None, batch_size=4)
    assert (cfg.mode, cfg.dtype, cfg.family, cfg.batch_size) == ("logprob", "auto", None, 4)


def test_load_judge_takes_a_config_or_keywords_alike(tiny_models):
    path = tiny_models["qwen2_5_vl"]
    a = ur.load_judge(path, ur.JudgeConfig(mode="logprob", swap=True, batch_size=3, num_frames=4))
    b = ur.load_judge(path, mode="logprob", swap=True, batch_size=3, num_frames=4)
    assert a.config == b.config and (a.mode, a.swap, a.batch_size, a.num_frames) == ("logprob", True, 3, 4)
    assert a.family == "v1" and a.config.family == "v1"  # None -> the architecture's default family
    c = ur.load_judge(path, ur.JudgeConfig(mode="logprob"), family="2.0")  # keywords override the config
    assert (c.mode, c.family) == ("logprob", "2.0")


def test_served_models_keep_their_preset_family_and_batch_default():
    j = ur.load_judge("openai://127.0.0.1:1/UnifiedReward-2.0-qwen-7b", ur.JudgeConfig(mode="logprob"))
    assert (j.family, j.batch_size, j.mode) == ("2.0", 64, "logprob")
    j = ur.load_judge("openai://127.0.0.1:1/UnifiedReward-2.0-qwen-7b", ur.JudgeConfig(batch_size=5, family="v1"))
    assert (j.family, j.batch_size) == ("v1", 5)


def test_an_uncached_preset_offline_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match="HF_HUB_OFFLINE is set and 'CodeGoat24/UnifiedReward-qwen-7b' is not in "
                                         "the local cache"):
        ur.load_judge("UnifiedReward-qwen-7b")
