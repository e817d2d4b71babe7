"""Shared fixtures: tiny real-architecture judges (built once per session) and media files."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image


os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ARCHS = ("qwen2_5_vl", "qwen2_vl", "qwen3_vl", "llava_onevision")


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, str]:
    """Folders of tiny random Qwen2.5-VL, Qwen2-VL and LLaVA-OneVision, loadable like hub checkpoints."""
    from unireward.tiny_models import build_tiny

    root = tmp_path_factory.mktemp("models")
    return {arch: str(build_tiny(arch, root / arch)) for arch in ARCHS}


@pytest.fixture(scope="session")
def tiny_qwen(tiny_models) -> str:
    return tiny_models["qwen2_5_vl"]


def load_experiment(name: str):
    """The module experiments/NAME.py (experiments are scripts, not a package; their siblings import too)."""
    import importlib
    import sys
    from pathlib import Path

    folder = str(Path(__file__).resolve().parents[1] / "experiments")
    sys.path.insert(0, folder)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(folder)


def random_image(seed: int, size: int = 64) -> Image.Image:
    return Image.fromarray(np.random.RandomState(seed).randint(0, 255, (size, size, 3), dtype=np.uint8))


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory):
    """Two PNGs, a JPEG, two mp4 videos (12 frames), a frame folder, and broken files."""
    from unireward.media import write_video

    d = tmp_path_factory.mktemp("media")
    for i in range(3):
        random_image(i).save(d / f"img{i}.png")
    random_image(7).convert("RGB").save(d / "img.jpg", quality=90)
    for name, seed in (("a.mp4", 10), ("b.mp4", 20)):
        frames = [np.full((32, 32, 3), (seed + 15 * k) % 255, np.uint8) for k in range(12)]
        write_video(d / name, frames)
    (d / "frames").mkdir()
    for k in range(5):
        random_image(30 + k, 32).save(d / "frames" / f"{k:03d}.png")
    data = (d / "img0.png").read_bytes()
    (d / "truncated.png").write_bytes(data[: len(data) // 2])
    (d / "garbage.png").write_bytes(b"not an image at all" * 10)
    mp4 = (d / "a.mp4").read_bytes()
    (d / "truncated.mp4").write_bytes(mp4[:600])
    (d / "empty.mp4").write_bytes(b"")
    return d
