"""The symbolic synthetic world: objects, scenes, clips, and the facts read off them.

Design choices a user will notice:
- Six colours chosen 60 degrees apart in hue (red, yellow, green, cyan, blue, purple) on a light grey
  background. Colour is a property of hue alone, so it survives darkening (flicker), blending with the
  background at shape edges, and H.264's chroma subsampling.
- Four shapes (circle, square, triangle pointing up, diamond), each inscribed in a square box. Two sizes:
  the box is 14% ("small") or 24% ("large") of the image width.
- Positions are the cells of a 3x3 grid ("top left", "top", ..., "center", ..., "bottom right"); an object's
  position is the cell holding the centre of its box. Coordinates are fractions of the image size, so a
  scene renders at any resolution.
- Relations are strict and need a margin: A is "left of" B when A's centre is more than 0.15 image widths
  left of B's ("above" likewise, vertically). A pair can be both left of and above.
- A clip is a list of tracks (one object's state per frame, None while absent) plus one brightness factor
  per frame. Motion is read from the median per-frame step (so one glitch does not change the direction):
  below 0.012 image widths per frame the object is static, below 0.05 it moves "slowly", else "quickly".
  A step more than 0.09 away from the median step is a jump (teleport); frame brightness varying by a
  ratio above 1.25 is flicker.
"""

from __future__ import annotations

import colorsys
from collections import Counter
from dataclasses import dataclass, field, replace


BACKGROUND = (232, 232, 232)
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "yellow": (225, 200, 25),
    "green": (40, 170, 60),
    "cyan": (25, 180, 195),
    "blue": (45, 80, 225),
    "purple": (165, 50, 205),
}
COLOR_HUES: dict[str, float] = {
    name: 360.0 * colorsys.rgb_to_hsv(*(c / 255 for c in rgb))[0] for name, rgb in COLORS.items()
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond")
SIZES: dict[str, float] = {"small": 0.14, "large": 0.24}  # box side, as a fraction of the image width
SIZE_SPLIT = (SIZES["small"] * SIZES["large"]) ** 0.5  # a measured box above this is "large"
POSITIONS: tuple[tuple[str, ...], ...] = (
    ("top left", "top", "top right"),
    ("left", "center", "right"),
    ("bottom left", "bottom", "bottom right"),
)
POSITION_NAMES: tuple[str, ...] = tuple(p for row in POSITIONS for p in row)
RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below")
RELATION_MARGIN = 0.15
DIRECTIONS: dict[str, tuple[int, int]] = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
SPEEDS: dict[str, float] = {"slowly": 0.03, "quickly": 0.07}  # image widths per frame
STATIC_STEP, FAST_STEP, JUMP_STEP = 0.012, 0.05, 0.09
FLICKER_RATIO = 1.25
NUMBERS: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclass(frozen=True)
class Obj:
    """One shape: its box centre (cx, cy) in image fractions, its size class, colour and shape."""

    shape: str
    color: str
    size: str
    cx: float
    cy: float

    @property
    def cell(self) -> tuple[int, int]:
        """(row, column) of the 3x3 grid cell holding the centre."""
        return _third(self.cy), _third(self.cx)

    @property
    def position(self) -> str:
        r, c = self.cell
        return POSITIONS[r][c]

    def phrase(self) -> str:
        """How a description names it: "large red triangle at top"."""
        return f"{self.size} {self.color} {self.shape} at {self.position}"

    def moved(self, cx: float, cy: float) -> Obj:
        return replace(self, cx=cx, cy=cy)


def _third(x: float) -> int:
    return min(2, max(0, int(x * 3)))


def cell_center(row: int, col: int) -> tuple[float, float]:
    return (col + 0.5) / 3, (row + 0.5) / 3


def position_cell(name: str) -> tuple[int, int]:
    i = POSITION_NAMES.index(name)
    return divmod(i, 3)


def holds(relation: str, a: Obj, b: Obj) -> bool:
    """Whether `a <relation> b`, e.g. holds("left of", a, b): a's centre is clearly left of b's."""
    dx, dy = b.cx - a.cx, b.cy - a.cy
    return {"left of": dx, "right of": -dx, "above": dy, "below": -dy}[relation] > RELATION_MARGIN


@dataclass(frozen=True)
class Scene:
    objects: tuple[Obj, ...] = ()

    def key(self) -> str:
        """A canonical text of the whole scene (objects in reading order): equal scenes, equal keys."""
        return "; ".join(o.phrase() for o in self.in_reading_order()) or "empty"

    def in_reading_order(self) -> list[Obj]:
        """The objects in the order `key` (and so every description) lists them."""
        return sorted(self.objects, key=lambda o: (o.cell, o.color, o.shape))


@dataclass(frozen=True)
class Track:
    """One object over time: its state in each frame, None while it is not visible."""

    states: tuple[Obj | None, ...]


@dataclass(frozen=True)
class Clip:
    tracks: tuple[Track, ...]
    brightness: tuple[float, ...]  # one factor per frame; 1.0 is normal

    @property
    def n_frames(self) -> int:
        return len(self.brightness)

    def frame(self, t: int) -> Scene:
        return Scene(tuple(s for tr in self.tracks if (s := tr.states[t]) is not None))


@dataclass(frozen=True)
class TrackFacts:
    """What one track does, as captions and questions speak of it."""

    shape: str
    color: str  # the majority colour
    color_start: str
    color_end: str
    size: str
    appears: bool  # absent in the first frame, present in the last
    disappears: bool  # present in the first frame, absent in the last
    direction: str | None  # None when static
    speed: str | None  # "slowly" | "quickly" | None when static
    jump: bool
    steps: list[tuple[float, float]] = field(default_factory=list, repr=False)

    @property
    def changes_color(self) -> bool:
        return self.color_start != self.color_end

    @property
    def event(self) -> str | None:
        """The single thing that happens, in the order a caption would name it (None: nothing happens)."""
        if self.direction:
            return "moves"
        if self.changes_color:
            return "turns"
        if self.appears:
            return "appears"
        if self.disappears:
            return "disappears"
        return None


def _majority(values: list[str]) -> str:
    counts = Counter(values)
    best = max(counts.values())
    return next(v for v in values if counts[v] == best)  # first of the most common: deterministic


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def track_facts(track: Track) -> TrackFacts:
    present = [(t, s) for t, s in enumerate(track.states) if s is not None]
    if not present:
        raise ValueError("a track must be visible in at least one frame")
    objs = [s for _, s in present]
    n = len(track.states)
    steps = [(b.cx - a.cx, b.cy - a.cy) for (t0, a), (t1, b) in zip(present, present[1:]) if t1 == t0 + 1]
    direction = speed = None
    jump = False
    if steps:
        mx, my = _median([s[0] for s in steps]), _median([s[1] for s in steps])
        mag = (mx * mx + my * my) ** 0.5
        jump = any(((sx - mx) ** 2 + (sy - my) ** 2) ** 0.5 > JUMP_STEP for sx, sy in steps)
        if mag >= STATIC_STEP:
            if abs(mx) >= abs(my):
                direction = "right" if mx > 0 else "left"
            else:
                direction = "down" if my > 0 else "up"
            speed = "quickly" if mag >= FAST_STEP else "slowly"
    first, last = present[0][0], present[-1][0]
    return TrackFacts(
        shape=_majority([o.shape for o in objs]), color=_majority([o.color for o in objs]),
        color_start=objs[0].color, color_end=objs[-1].color, size=_majority([o.size for o in objs]),
        appears=first > 0 and last == n - 1, disappears=first == 0 and last < n - 1,
        direction=direction, speed=speed, jump=jump, steps=steps,
    )


@dataclass(frozen=True)
class ClipFacts:
    tracks: tuple[TrackFacts, ...]
    flicker: bool
    jump: bool
    dynamic: int  # VideoFeedback "dynamic degree" 1-4: nothing / events only / slow motion / fast motion


def clip_facts(clip: Clip) -> ClipFacts:
    tracks = tuple(track_facts(t) for t in clip.tracks)
    b = clip.brightness
    flicker = bool(b) and min(b) > 0 and max(b) / min(b) > FLICKER_RATIO
    if any(t.speed == "quickly" for t in tracks):
        dynamic = 4
    elif any(t.speed == "slowly" for t in tracks):
        dynamic = 3
    elif any(t.event for t in tracks):
        dynamic = 2
    else:
        dynamic = 1
    return ClipFacts(tracks, flicker, any(t.jump for t in tracks), dynamic)
