"""experiments/align_understanding.py end to end at toy scale: questions, sampling, both signals, the four
strategies, DPO with one budget, held-out oracle accuracy with intervals, a second round."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.construct import conftest as construct_fixtures


judge_dir = construct_fixtures.judge_dir
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_toy_run(tiny_qwen, judge_dir, tmp_path):
    sys.path.insert(0, str(ROOT / "experiments"))
    try:
        import align_understanding as exp
    finally:
        sys.path.remove(str(ROOT / "experiments"))
    cfg = tmp_path / "dpo.yaml"
    cfg.write_text("max_steps: 1\nper_device_train_batch_size: 2\ngradient_accumulation_steps: 1\n"
                   "gradient_checkpointing: false\nsave_strategy: 'no'\ndisable_tqdm: true\nlearning_rate: 1.0e-4\n"
                   "warmup_steps: 0\nmax_pixels: 7056\n")
    rows = exp.main(["--answerer", tiny_qwen, "--judge", judge_dir, "--judge-mode", "logprob", "--out",
                     str(tmp_path / "run"), "--config", str(cfg), "--tasks", "image_understanding",
                     "--train-questions", "3", "--test-questions", "4", "--n", "2", "--max-new-tokens", "4"])
    cells = {r["cell"]: r for r in rows}
    assert "answerer (no DPO)" in cells and len([c for c in cells if c.startswith("judge / ")]) >= 4
    trained = [r for r in rows if r.get("steps")]
    assert trained and all(r["steps"] == 1 and 0 <= r["accuracy"] <= 1 for r in trained)
    assert all(lo <= r["accuracy"] <= hi for r in trained for lo, hi in [r["ci"]])
    assert json.loads((tmp_path / "run" / "results.json").read_text()) == rows
    assert (tmp_path / "run" / "results.md").read_text().startswith("| task |")
