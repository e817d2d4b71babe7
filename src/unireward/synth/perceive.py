"""Reading the symbolic world back from pixels: any RGB image or frame list, rendered here or not.

Design choices a user will notice:
- Where an object is comes from luma, what colour it is from hue. The background luma is the median over
  unsaturated pixels; a pixel whose luma differs from it by more than 6% belongs to some object. Luma keeps
  full resolution through 4:2:0 video (chroma is halved), and relative contrast does not change when a
  frame is darkened (flicker).
- Objects are 4-connected regions; a region's colour is the palette colour of nearest hue, by a vote
  of its saturated pixels weighted by chroma. Regions without enough saturated pixels (grey or black
  blobs) and regions smaller than a quarter of the smallest shape (compression fringes) are dropped.
- The outline is the half-contrast line, traced on a 4x bilinear upsampling of the region, so that small,
  blurred or anti-aliased shapes keep their form. The shape is the one whose mask, drawn in the outline's
  bounding box, overlaps it best (intersection over union); size and position come from that box.
- Across frames, objects are linked greedily by a cost (distance + 1 for another shape + 0.5 for another
  colour + 0.3 for another size); a link costing 1.2 or more is an exit plus an entry instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from PIL import Image

from unireward.synth.render import shape_mask
from unireward.synth.world import BACKGROUND, COLOR_HUES, SHAPES, SIZE_SPLIT, SIZES, Clip, Obj, Scene, Track


CONTRAST_MIN = 0.06  # |luma - background luma| / background luma above this is part of some object
HUE_SAT_MIN = 0.25  # pixels less saturated than this do not vote on an object's colour
LINK_MAX = 1.2
UP = 4  # upsampling factor for tracing outlines
_NAMES = tuple(COLOR_HUES)
_HUES = np.array([COLOR_HUES[n] for n in _NAMES], dtype=np.float32)
_BG_LUMA = float(np.dot(BACKGROUND, (0.299, 0.587, 0.114))) / 255


def _as_array(img: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(img, Image.Image):
        img = np.asarray(img.convert("RGB"))
    if img.ndim != 3 or img.shape[-1] != 3:
        raise ValueError(f"expected an HxWx3 RGB image, got shape {img.shape}")
    return img.astype(np.float32) / 255


def hue_classes(rgb: np.ndarray) -> np.ndarray:
    """The index of the palette colour of nearest hue, for an (N, 3) array of RGB pixels."""
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    mx, mn = np.maximum(np.maximum(r, g), b), np.minimum(np.minimum(r, g), b)
    safe = np.maximum(mx - mn, 1e-6)
    hue = np.where(mx == r, ((g - b) / safe) % 6, np.where(mx == g, (b - r) / safe + 2, (r - g) / safe + 4)) * 60
    dist = np.abs(hue[:, None] - _HUES)
    return np.minimum(dist, 360 - dist).argmin(-1)


def label_components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected components of a boolean mask: (labels with 0 for background and 1..n, n).

    Works on horizontal runs with union-find: objects are few and small, so there are a few dozen runs
    per image and this is much faster than pixel-wise propagation."""
    h, w = mask.shape
    edges = np.diff(np.pad(mask, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    ys, x0s = np.nonzero(edges == 1)
    _, x1s = np.nonzero(edges == -1)  # exclusive ends, in the same row-major order as the starts
    runs = list(zip(ys.tolist(), x0s.tolist(), x1s.tolist()))
    parent = list(range(len(runs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    prev: list[int] = []  # runs of the previous row
    cur: list[int] = []
    for i, (y, a, b) in enumerate(runs):
        if i and runs[i - 1][0] != y:
            prev, cur = (cur if runs[i - 1][0] == y - 1 else []), []
        for j in prev:
            _, pa, pb = runs[j]
            if pa < b and a < pb:  # the runs share a column
                parent[find(j)] = find(i)
        cur.append(i)
    roots: dict[int, int] = {}
    lab = np.zeros((h, w), dtype=np.int32)
    for i, (y, a, b) in enumerate(runs):
        lab[y, a:b] = roots.setdefault(find(i), len(roots) + 1)
    return lab, len(roots)


@lru_cache(maxsize=8192)
def _templates(w: int, h: int) -> tuple[np.ndarray, ...]:
    return tuple(shape_mask(s, w, h) for s in SHAPES)


def classify_shape(mask: np.ndarray) -> tuple[str, float]:
    """The best-fitting shape of a cropped boolean mask and its intersection over union."""
    h, w = mask.shape
    ious = [np.logical_and(mask, t).sum() / max(1, np.logical_or(mask, t).sum()) for t in _templates(w, h)]
    i = int(np.argmax(ious))
    return SHAPES[i], float(ious[i])


def min_area(width: int) -> float:
    side = SIZES["small"] * width
    return max(3.0, 0.25 * 0.5 * side * side)  # a quarter of the smallest (triangle/diamond) shape


def parse_array(arr: np.ndarray) -> tuple[Scene, float]:
    """The scene in one RGB float image, and the frame's brightness relative to the nominal background."""
    h, w, _ = arr.shape
    r, g, b = arr[..., 0], arr[..., 1], arr[..., 2]
    mx, mn = np.maximum(np.maximum(r, g), b), np.minimum(np.minimum(r, g), b)
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    chroma = mx - mn
    saturated = chroma >= HUE_SAT_MIN * np.maximum(mx, 1e-6)
    bg_luma = float(np.median(luma[~saturated] if not saturated.all() else luma))
    # Luma keeps full resolution through 4:2:0 video, and relative contrast is unchanged by darkening.
    contrast = np.abs(luma - bg_luma) / max(bg_luma, 1e-3)
    region = contrast > CONTRAST_MIN
    lab, n = label_components(region)
    classes = np.zeros((h, w), dtype=np.int64)
    classes[region] = hue_classes(arr[region])
    votes = np.where(saturated, chroma, 0.0)
    objs = [o for k in range(1, n + 1) if (o := _read_object(lab == k, contrast, classes, votes, w, h)) is not None]
    objs.sort(key=lambda o: (o.cy, o.cx))
    return Scene(tuple(objs)), bg_luma / _BG_LUMA


def _read_object(region: np.ndarray, contrast: np.ndarray, classes: np.ndarray, votes: np.ndarray,
                 w: int, h: int) -> Obj | None:
    """One object from one connected region: colour by chroma-weighted hue vote; extent and shape from the
    half-contrast outline, traced on a 4x bilinear upsampling so that small blurred shapes keep their form."""
    weights = np.bincount(classes[region], weights=votes[region], minlength=len(_NAMES))
    if weights.sum() < 0.05 * region.sum():
        return None  # a grey or black blob: no palette colour
    ys, xs = np.nonzero(region)
    y0, x0 = ys.min(), xs.min()
    top = np.percentile(contrast[region], 90)
    alpha = np.where(region, contrast / top, 0.0)[y0:ys.max() + 1, x0:xs.max() + 1]
    alpha = np.pad(alpha, 1).astype(np.float32)  # zeros around, so the outline closes inside the crop
    ah, aw = alpha.shape
    up = np.asarray(Image.fromarray(alpha).resize((aw * UP, ah * UP), Image.Resampling.BILINEAR))
    mask = up >= 0.5
    if mask.sum() < min_area(w) * UP * UP:
        return None
    my, mx = np.nonzero(mask)
    by0, by1, bx0, bx1 = my.min(), my.max(), mx.min(), mx.max()
    shape, _ = classify_shape(mask[by0:by1 + 1, bx0:bx1 + 1])
    side = max(bx1 - bx0 + 1, by1 - by0 + 1) / UP / w
    # up pixel i covers crop coordinates [i / UP, (i + 1) / UP); the crop starts one pixel before (x0, y0)
    cx = (x0 - 1 + (bx0 + bx1 + 1) / (2 * UP)) / w
    cy = (y0 - 1 + (by0 + by1 + 1) / (2 * UP)) / h
    return Obj(shape=shape, color=_NAMES[int(weights.argmax())], size="large" if side > SIZE_SPLIT else "small",
               cx=float(cx), cy=float(cy))


def parse_image(img: Image.Image | np.ndarray) -> Scene:
    return parse_array(_as_array(img))[0]


def _link_cost(a: Obj, b: Obj) -> float:
    d = ((a.cx - b.cx) ** 2 + (a.cy - b.cy) ** 2) ** 0.5
    return d + 1.0 * (a.shape != b.shape) + 0.5 * (a.color != b.color) + 0.3 * (a.size != b.size)


def link_tracks(frames: Sequence[Sequence[Obj]]) -> list[Track]:
    """Greedy frame-to-frame linking of the objects seen in each frame into tracks."""
    tracks: list[list[Obj | None]] = []
    for t, objs in enumerate(frames):
        active = [i for i, tr in enumerate(tracks) if t > 0 and tr[t - 1] is not None]
        pairs = sorted((_link_cost(tracks[i][t - 1], o), i, j) for i in active for j, o in enumerate(objs))
        used_t, used_o = set(), set()
        for cost, i, j in pairs:
            if cost < LINK_MAX and i not in used_t and j not in used_o:
                tracks[i].append(objs[j])
                used_t.add(i)
                used_o.add(j)
        for i, tr in enumerate(tracks):
            if i not in used_t:
                tr.append(None)
        for j, o in enumerate(objs):
            if j not in used_o:
                tracks.append([None] * t + [o])
    return [Track(tuple(tr)) for tr in tracks]


def parse_frames(frames: Sequence[Image.Image | np.ndarray]) -> Clip:
    parsed = [parse_array(_as_array(f)) for f in frames]
    tracks = link_tracks([list(s.objects) for s, _ in parsed])
    return Clip(tuple(tracks), tuple(b for _, b in parsed))
