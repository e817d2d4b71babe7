"""Rendering scenes and clips to pixels with PIL.

Design choices a user will notice:
- Flat colours, no anti-aliasing: a pixel is either background or an object's colour, so the same scene
  always gives the same bytes, and the oracle reads it back exactly.
- Every shape is drawn inside a square box of side round(size * image width) centred on (cx, cy); the
  triangle points up, the diamond touches the middle of each side.
- A frame's brightness factor multiplies every pixel (flicker darkens whole frames; hue is unchanged).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from unireward.synth.world import BACKGROUND, COLORS, SIZES, Clip, Obj, Scene


def box(obj: Obj, size: int) -> tuple[int, int, int, int]:
    """The pixel box (x0, y0, x1, y1), inclusive, of an object drawn on a size x size image."""
    side = max(3, round(SIZES[obj.size] * size))
    x0 = round(obj.cx * size - side / 2)
    y0 = round(obj.cy * size - side / 2)
    return x0, y0, x0 + side - 1, y0 + side - 1


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, xy: tuple[int, int, int, int], fill: object) -> None:
    x0, y0, x1, y1 = xy
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    if shape == "square":
        draw.rectangle(xy, fill=fill)
    elif shape == "circle":
        draw.ellipse(xy, fill=fill)
    elif shape == "triangle":
        draw.polygon([(x0, y1), (x1, y1), (mx, y0)], fill=fill)
    elif shape == "diamond":
        draw.polygon([(mx, y0), (x1, my), (mx, y1), (x0, my)], fill=fill)
    else:
        raise ValueError(f"unknown shape {shape!r}")


def render_scene(scene: Scene, size: int = 84, brightness: float = 1.0) -> Image.Image:
    """The scene as a size x size RGB image."""
    img = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(img)
    for obj in scene.objects:
        draw_shape(draw, obj.shape, box(obj, size), COLORS[obj.color])
    if brightness != 1.0:
        arr = np.asarray(img, dtype=np.float32) * brightness
        img = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8))
    return img


def render_clip(clip: Clip, size: int = 84) -> list[Image.Image]:
    """The clip as one image per frame."""
    return [render_scene(clip.frame(t), size, clip.brightness[t]) for t in range(clip.n_frames)]


def shape_mask(shape: str, w: int, h: int) -> np.ndarray:
    """A boolean w x h mask of `shape` filling its box, drawn exactly as the renderer draws it."""
    img = Image.new("L", (w, h), 0)
    draw_shape(ImageDraw.Draw(img), shape, (0, 0, w - 1, h - 1), 255)
    return np.asarray(img) > 0


def frames_array(frames: Sequence[Image.Image]) -> np.ndarray:
    return np.stack([np.asarray(f.convert("RGB")) for f in frames])
