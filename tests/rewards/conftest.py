"""A tiny Qwen2.5-VL judge in logprob mode and a reward server around it, shared by the reward tests."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="session")
def reward_judge(tiny_qwen):
    from unireward.judges.hf import HFJudge

    return HFJudge(tiny_qwen, mode="logprob")


@pytest.fixture(scope="module")
def reward_url(reward_judge):
    from unireward.serve.reward_app import BackgroundRewardServer

    with BackgroundRewardServer(reward_judge) as srv:
        yield srv.url


def image(seed: int, size: int = 56) -> Image.Image:
    return Image.fromarray(np.random.RandomState(seed).randint(0, 255, (size, size, 3), dtype=np.uint8))


def vlm_batch(n_prompts: int = 2, g: int = 2) -> tuple[list, list, dict]:
    """What TRL hands a reward function for a conversational VLM dataset with an `image` column: G
    completions per prompt, prompts and columns repeated per completion."""
    prompts, completions, images = [], [], []
    answers = ["A cat.", "A dog.", "A red car.", "Nothing."]
    for p in range(n_prompts):
        msg = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": f"What is in image {p}?"}]}]
        for k in range(g):
            prompts.append(msg)
            completions.append([{"role": "assistant", "content": answers[(p + k) % len(answers)]}])
            images.append(image(p))
    return prompts, completions, {"image": images}
