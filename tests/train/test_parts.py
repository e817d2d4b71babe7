"""The training parts that need no model: config defaults and files, the balanced sampler, the metrics."""

from __future__ import annotations

from collections import Counter

import pytest

from unireward.train.data import TaskBalancedSampler
from unireward.train.evaluate import rankdata, spearman


def test_config_defaults_follow_upstream_and_files_override(tmp_path):
    from unireward.train import JudgeSFTConfig, load_config

    cfg = load_config()
    assert isinstance(cfg, JudgeSFTConfig)
    assert (cfg.learning_rate, cfg.lr_scheduler_type, cfg.warmup_steps) == (2.5e-6, "cosine", 0.03)
    assert (cfg.num_train_epochs, cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps) == (3, 2, 16)
    assert cfg.completion_only_loss and cfg.max_length is None and cfg.balance_tasks
    path = tmp_path / "c.yaml"
    path.write_text("learning_rate: 1.0e-3\nmax_steps: 7\n")
    cfg = load_config(path, {"max_steps": 9})
    assert cfg.learning_rate == 1e-3 and cfg.max_steps == 9
    path.write_text("learning_rat: 1.0\n")
    with pytest.raises(ValueError, match="learning_rat"):
        load_config(path)
    # YAML reads 1e-3 as a string: numeric fields take it as a number
    assert load_config(None, {"learning_rate": "1e-3", "max_steps": "5"}).learning_rate == 1e-3
    with pytest.raises(ValueError, match="expects a number"):
        load_config(None, {"learning_rate": "fast"})
    with pytest.raises(ValueError, match="eval_judge_mode"):
        load_config(None, {"eval_judge_mode": "sample"})


def test_shipped_launch_configs_parse():
    import json
    from pathlib import Path

    import yaml

    import unireward.train

    folder = Path(unireward.train.__file__).parent / "configs"
    assert yaml.safe_load((folder / "zero2.yaml").read_text())["deepspeed_config"]["zero_stage"] == 2
    assert yaml.safe_load((folder / "zero3.yaml").read_text())["deepspeed_config"]["zero_stage"] == 3
    assert json.loads((folder / "ds_zero3.json").read_text())["zero_optimization"]["stage"] == 3
    from unireward.train import load_config

    for name in ("qwen2_5_vl_7b.yaml", "llava_ov_7b.yaml", "small-judge.yaml"):
        load_config(folder / name, {"bf16": False, "use_cpu": True})  # every field is a real config field


def test_balanced_sampler_equal_shares_deterministic_per_epoch():
    groups = ["a"] * 10 + ["b"] * 2 + ["c"] * 4
    s = TaskBalancedSampler(groups, seed=3)
    order = list(s)
    assert len(order) == len(s) == 18
    counts = Counter(groups[i] for i in order)
    assert counts == {"a": 6, "b": 6, "c": 6}
    assert Counter(i for i in order if groups[i] == "b") == {10: 3, 11: 3}  # whole passes over a small task
    assert list(s) == order
    s.set_epoch(1)
    assert list(s) != order
    plain = TaskBalancedSampler(groups, balance=False, seed=0)
    assert sorted(plain) == list(range(16))


def test_grouped_sampler_gives_one_task_per_batch():
    groups = ["a"] * 8 + ["b"] * 8
    order = list(TaskBalancedSampler(groups, balance=False, group_size=4, seed=0))
    batches = [order[i:i + 4] for i in range(0, 16, 4)]
    assert all(len({groups[i] for i in b}) == 1 for b in batches)
    assert sorted(order) == list(range(16))


def test_rank_metrics():
    assert rankdata([3, 1, 3, 2]).tolist() == [3.5, 1.0, 3.5, 2.0]
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2], [1, 2]) is None and spearman([1, 1, 1], [1, 2, 3]) is None
    scipy = pytest.importorskip("scipy.stats")
    x, y = [1, 5, 2, 2, 9, 4], [3, 3, 1, 7, 8, 2]
    assert spearman(x, y) == pytest.approx(scipy.spearmanr(x, y).statistic)
