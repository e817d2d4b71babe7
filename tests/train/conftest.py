"""Fixtures for the training tests: a small synthetic export (all four tasks, both forms) and a tiny judge base."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def synth_world(tmp_path_factory) -> Path:
    """A tiny synthetic world: 2 records per task and form in train, 1 in test (images 56 px, 4-frame clips)."""
    from unireward.synth import build_dataset

    root = tmp_path_factory.mktemp("synth")
    build_dataset(root, {"train": 2, "test": 1}, seed=0, image_size=56, splits=("train", "test"), n_frames=4)
    return root


@pytest.fixture(scope="session")
def sft_export(synth_world, tmp_path_factory) -> Path:
    """The train split exported as TRL conversations (v1 family), 4 frames per video."""
    from unireward.data.export import build
    from unireward.data.mix import Entry, Recipe

    out = tmp_path_factory.mktemp("sft")
    build(Recipe([Entry(synth_world / "train")], seed=0), out, fmt="trl", family="v1", num_frames=4, progress=False)
    return out


@pytest.fixture(scope="session")
def base_model(tmp_path_factory) -> str:
    """A tiny random Qwen2.5-VL whose BPE tokenizer knows the judge prompts and the synthetic words."""
    from unireward.synth import vocabulary_corpus
    from unireward.tiny_models import build_qwen2_5_vl, judge_corpus, qwen_tokenizer

    tok = qwen_tokenizer(corpus=vocabulary_corpus() + judge_corpus(), vocab_size=600)
    return str(build_qwen2_5_vl(tmp_path_factory.mktemp("base") / "tiny", tokenizer=tok))


def cpu_config(**fields):
    """A fast CPU config for tests (no checkpoints unless asked, no progress bars)."""
    from unireward.train import load_config

    base = dict(use_cpu=True, bf16=False, gradient_checkpointing=False, learning_rate=3e-3, warmup_steps=0,
                lr_scheduler_type="constant", per_device_train_batch_size=4, gradient_accumulation_steps=1,
                save_strategy="no", logging_steps=1, max_steps=4, disable_tqdm=True, report_to="none",
                dataloader_num_workers=0, seed=0)
    base.update(fields)
    return load_config(None, base)
