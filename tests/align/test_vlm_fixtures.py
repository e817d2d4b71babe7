"""Fixtures and helpers (no tests) for the VLM DPO tests: pair folders in `unireward construct`'s TRL format.

Imported by name into the test modules (it lives here, not in a conftest.py, because tests/align is shared).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import random_image


ANSWERS = [("A red cube on the left.", "Nothing."), ("Two blue balls.", "A dog."), ("A green cone.", "It is red."),
           ("One yellow star.", "Three.")]


def pair_rows(kind: str, n: int = 4) -> list[dict]:
    """Rows exactly as construct writes them (structured prompt, media path relative to the folder, evidence)."""
    rows = []
    for i in range(n):
        good, bad = ANSWERS[i % len(ANSWERS)]
        rows.append({
            "prompt": [{"role": "user",
                        "content": [{"type": kind}, {"type": "text", "text": f"What is shown? ({i})"}]}],
            "chosen": [{"role": "assistant", "content": [{"type": "text", "text": good}]}],
            "rejected": [{"role": "assistant", "content": [{"type": "text", "text": bad}]}],
            f"{kind}s": [f"media/shared/{i}.{'png' if kind == 'image' else 'mp4'}"],
            "id": f"{kind}-q{i}", "judge": "tiny", "judge_family": "v1", "strategy": "pair-point",
            "chosen_score": 4.0, "rejected_score": 2.0, "chosen_index": 0, "rejected_index": 1, "n_candidates": 2,
            "verdicts": [{"a": 0, "b": 1, "winner": "A", "swapped": None, "decided": 0}], "scores": [4.0, 2.0]})
    return rows


def write_pairs(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def write_media(folder: Path, kind: str, n: int = 4) -> None:
    from unireward.media import write_video

    shared = folder / "media" / "shared"
    shared.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        if kind == "image":
            random_image(i).save(shared / f"{i}.png")
        else:
            write_video(shared / f"{i}.mp4", [np.full((32, 32, 3), (40 * i + 15 * k) % 255, np.uint8)
                                              for k in range(12)])


@pytest.fixture(scope="session")
def image_pairs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("image-pairs")
    write_media(folder, "image")
    return write_pairs(folder, pair_rows("image"))


@pytest.fixture(scope="session")
def video_pairs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("video-pairs")
    write_media(folder, "video")
    return write_pairs(folder, pair_rows("video"))
