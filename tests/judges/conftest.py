"""A judge taught to give known answers (its position bias included) on the real code path."""

from __future__ import annotations

import pytest

from tests.conftest import random_image


# What the taught judge says; pairs answer the same in both orders (a pure position bias).
ANSWERS = {
    ("image_generation", "pair"): "Image 2 is better.",
    ("image_generation", "point"): "Final Score: 4",
    ("video_understanding", "pair"): "Overall Judgment: Answer 1 is better than Answer 2.",
}


def item(task: str, form: str, seed: int = 0, prompt: str = "a red fox") -> dict:
    imgs = [random_image(seed + k) for k in range(8)]
    video_a, video_b = imgs[:4], imgs[4:]
    if task == "image_generation":
        return {"task": task, "prompt": prompt, "a": imgs[0], "b": imgs[1]} if form == "pair" else \
            {"task": task, "prompt": prompt, "candidate": imgs[0]}
    if task == "video_generation":
        return {"task": task, "prompt": prompt, "a": video_a, "b": video_b} if form == "pair" else \
            {"task": task, "prompt": prompt, "candidate": video_a}
    media = imgs[0] if task == "image_understanding" else video_a
    return {"task": task, "prompt": "What is shown?", "media": media, "a": "A fox.", "b": "A car."} \
        if form == "pair" else {"task": task, "prompt": "What is shown?", "media": media, "candidate": "A fox."}


def swapped(x: dict) -> dict:
    return {**x, "a": x["b"], "b": x["a"]}


def lessons() -> list[tuple[dict, str, str]]:
    """The taught items: one per task and form, pairs in both orders with the same answer (position bias)."""
    out = []
    for i, ((task, form), answer) in enumerate(ANSWERS.items()):
        x = item(task, form, seed=10 * i)
        out.append((x, form, answer))
        if form == "pair":
            out.append((swapped(x), form, answer))
    return out


@pytest.fixture(scope="session")
def taught_judge_dir(tmp_path_factory) -> str:
    """A small Qwen2.5-VL (BPE tokenizer over the judge prompts) taught the ANSWERS on `lessons()`."""
    from unireward.tiny_models import build_qwen2_5_vl, judge_corpus, qwen_tokenizer, teach

    root = tmp_path_factory.mktemp("taught")
    base = build_qwen2_5_vl(root / "base",
                            tokenizer=qwen_tokenizer(corpus=judge_corpus(), vocab_size=600))
    return str(teach(base, root / "judge", lessons(), steps=100, lr=1e-2))
