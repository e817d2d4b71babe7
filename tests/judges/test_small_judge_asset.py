"""The shipped small judge sees every image on the grid it was trained on (84 px: 3x3 merged tokens), so a 48-px
generator sample is not read as a 2x2 grid (which left it at chance on generator samples, docs/align.md)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image


ASSET = Path(__file__).resolve().parents[2] / "assets" / "small-judge"


def test_images_of_any_size_reach_the_trained_grid():
    from transformers import AutoProcessor

    proc = AutoProcessor.from_pretrained(ASSET)
    grids = {size: proc.image_processor(Image.new("RGB", (size, size), "grey"), return_tensors="pt")
             ["image_grid_thw"].tolist() for size in (48, 84, 128)}
    assert grids == {48: [[1, 6, 6]], 84: [[1, 6, 6]], 128: [[1, 6, 6]]}
