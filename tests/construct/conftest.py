"""Tiny real models for the construct tests, built once per session.

- `judge_dir`: a random Qwen2.5-VL with a BPE tokenizer over the judge prompts, used in logprob mode
  (always parseable, deterministic, input-dependent scores). Its pairwise verdicts on understanding tasks
  are decisive; on generation tasks it always answers "tie" (a random model puts its mass on the tie
  phrase's short first token), which the pipeline tests use to check tie handling.
- `vlm_dir`: a random Qwen2.5-VL used as the sampler of understanding answers.
- `sd_dir`, `t2v_dir`: random tiny StableDiffusionPipeline and TextToVideoSDPipeline.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def image(seed: int, size: int = 32) -> Image.Image:
    return Image.fromarray(np.random.RandomState(seed).randint(0, 255, (size, size, 3), dtype=np.uint8))


@pytest.fixture(scope="session")
def judge_dir(tmp_path_factory) -> str:
    from unireward.tiny_models import build_qwen2_5_vl, judge_corpus, qwen_tokenizer

    root = tmp_path_factory.mktemp("construct-judge")
    return str(build_qwen2_5_vl(root / "judge", tokenizer=qwen_tokenizer(corpus=judge_corpus(), vocab_size=600)))


@pytest.fixture(scope="session")
def judge(judge_dir):
    import unireward as ur

    return ur.load_judge(judge_dir, mode="logprob", device="cpu", dtype="float32")


@pytest.fixture(scope="session")
def vlm_dir(tmp_path_factory) -> str:
    from unireward.tiny_models import build_qwen2_5_vl

    return str(build_qwen2_5_vl(tmp_path_factory.mktemp("construct-vlm") / "vlm", seed=1))


@pytest.fixture(scope="session")
def sd_dir(tmp_path_factory) -> str:
    from unireward.construct.testing_models import build_tiny_sd

    return str(build_tiny_sd(tmp_path_factory.mktemp("construct-sd") / "sd"))


@pytest.fixture(scope="session")
def t2v_dir(tmp_path_factory) -> str:
    from unireward.construct.testing_models import build_tiny_t2v

    return str(build_tiny_t2v(tmp_path_factory.mktemp("construct-t2v") / "t2v"))


def close(a, b) -> bool:
    """Equal, floats to a relative 1e-6, recursively. Across processes the CPU kernels round the last bits
    of a float differently (two uninterrupted runs in two processes differ by ~1e-9)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-6)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    return a == b


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def understanding_prompts(tmp_path) -> Path:
    """Six image questions (each with its own image) in a JSONL prompts file."""
    (tmp_path / "img").mkdir()
    rows = []
    for i in range(6):
        image(100 + i).save(tmp_path / "img" / f"{i}.png")
        rows.append({"id": f"q{i}", "question": f"What is in picture {i}?", "image": f"img/{i}.png"})
    return write_jsonl(tmp_path / "questions.jsonl", rows)


@pytest.fixture(autouse=True, scope="package")
def one_thread():
    """Tiny models run faster on one thread (thread hand-offs cost more than the work), and much faster
    on a busy machine; restored afterwards for the other test folders."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
