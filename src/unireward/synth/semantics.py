"""Exact meaning: which caption elements a scene or clip satisfies, the true answer to a question, how
right an answer is, and the scores derived from these. Everything here works on symbolic scenes and clips,
so the dataset generators (from the true scene) and the oracle (from pixels) share one definition.

How elements are matched (the best match counts, as an annotator would look for the described object):
- "a [size] color shape [at the position]": the object satisfying the most elements.
- "N color shapes": the group of equal colour and shape satisfying the most of count, colour, shape.
- "a c1 s1 REL a c2 s2": each object element holds if such an object exists; the relation holds if a
  c1 s1 and a different c2 s2 stand in that relation.
- video captions: the track satisfying the most elements; colour is the track's majority colour (its
  first colour for "turns"), direction and speed come from its median step (see `world`).

Scores:
- image generation: 1 + 4 * fraction of elements satisfied, 2 decimals (1-5), with the 0/1 elements.
- video generation, VideoFeedback dimensions on 1-4: visual quality 4 (2 with flicker); temporal
  consistency 4 - 2*jump - flicker (at least 1); dynamic degree 1 nothing happens / 2 colour change or
  appearance only / 3 slow motion / 4 fast motion; text-to-video alignment round(1 + 3 * fraction), half up;
  factual consistency 4 (2 with a jump). Overall on 1-10: 1 + 9 * (0.6 * fraction + 0.4 * quality), 2
  decimals, where quality = (visual - 1 + temporal - 1 + factual - 1) / 9. Dynamic degree describes the
  video and does not enter the overall score.
- answers: the fraction right (`grade`): 1 or 0 for single-word answers; counts 0.5 when off by one;
  positions 0.5 when the row or the column is right; "what is at" answers 1/3 per right attribute of
  size, colour, shape; "what happens" answers need the right event, then share credit with its details
  (direction, speed; new colour). Image understanding: 100 * fraction (0-100); video: 1 + 4 * fraction
  (1-5), 2 decimals.
- pairs: the higher score wins; equal scores are a tie.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from unireward.synth.grammar import (
    ChangeCaption,
    CountCaption,
    EventCaption,
    GrammarError,
    ImageCaption,
    MotionCaption,
    ObjectCaption,
    Question,
    Ref,
    RelationCaption,
    VideoCaption,
    read_answer,
)
from unireward.synth.world import NUMBERS, ClipFacts, Obj, Scene, TrackFacts, holds, position_cell


FEEDBACK_DIMS = ("visual quality", "temporal consistency", "dynamic degree", "text-to-video alignment",
                 "factual consistency")


def _best(keys: list[str], vectors: list[list[bool]]) -> dict[str, int]:
    """The element labels of the candidate satisfying the most (ties: the first in element order)."""
    best = max(vectors, key=lambda v: (sum(v), v), default=[False] * len(keys))
    return {k: int(v) for k, v in zip(keys, best)}


def image_elements(caption: ImageCaption, scene: Scene) -> dict[str, int]:
    """EvalMuse-style labels {"red (color)": 1, ...} of a caption against a scene."""
    keys, objs = caption.elements(), scene.objects
    if isinstance(caption, ObjectCaption):
        c = caption
        vecs = [([o.size == c.size] if c.size else []) + [o.color == c.color, o.shape == c.shape]
                + ([o.position == c.position] if c.position else []) for o in objs]
        return _best(keys, vecs)
    if isinstance(caption, CountCaption):
        groups = Counter((o.color, o.shape) for o in objs)
        vecs = [[n == caption.count, col == caption.color, sh == caption.shape] for (col, sh), n in groups.items()]
        return _best(keys, vecs)
    if isinstance(caption, RelationCaption):
        a = [o for o in objs if (o.color, o.shape) == caption.a]
        b = [o for o in objs if (o.color, o.shape) == caption.b]
        rel = any(holds(caption.relation, x, y) for x in a for y in b if x is not y)
        enough_b = len(b) >= (2 if caption.a == caption.b else 1)  # "a red circle above a red circle" needs two
        return dict(zip(keys, (int(bool(a)), int(enough_b), int(rel))))
    raise TypeError(f"not an image caption: {caption!r}")


def _track_vector(caption: VideoCaption, t: TrackFacts) -> list[bool]:
    if isinstance(caption, MotionCaption):
        v = [t.color == caption.color, t.shape == caption.shape, t.direction == caption.direction]
        return v + ([t.speed == caption.speed] if caption.speed else [])
    if isinstance(caption, ChangeCaption):
        return [t.color_start == caption.color, t.shape == caption.shape,
                t.color_end == caption.new_color and t.changes_color]
    if isinstance(caption, EventCaption):
        happened = t.appears if caption.event == "appears" else t.disappears
        return [t.color == caption.color, t.shape == caption.shape, happened]
    raise TypeError(f"not a video caption: {caption!r}")


def video_elements(caption: VideoCaption, facts: ClipFacts) -> dict[str, int]:
    return _best(caption.elements(), [_track_vector(caption, t) for t in facts.tracks])


def fraction(elements: dict[str, int]) -> float:
    return sum(elements.values()) / len(elements) if elements else 0.0


def image_generation_score(elements: dict[str, int]) -> float:
    return round(1 + 4 * fraction(elements), 2)


def _half_up(x: float) -> int:
    return math.floor(x + 0.5 + 1e-9)


@dataclass(frozen=True)
class VideoScore:
    """The exact pointwise judgement of a video: five VideoFeedback dims (1-4), overall (1-10), elements."""

    dims: dict[str, int]
    score: float
    elements: dict[str, int]

    @property
    def fraction(self) -> float:
        return fraction(self.elements)

    def label(self) -> dict:
        return {"score": self.score, "scale": [1, 10], "dims": dict(self.dims), "elements": dict(self.elements)}


def video_score(caption: VideoCaption, facts: ClipFacts) -> VideoScore:
    elements = video_elements(caption, facts)
    f = fraction(elements)
    visual = 2 if facts.flicker else 4
    temporal = max(1, 4 - 2 * facts.jump - facts.flicker)
    factual = 2 if facts.jump else 4
    dims = dict(zip(FEEDBACK_DIMS, (visual, temporal, facts.dynamic, _half_up(1 + 3 * f), factual)))
    quality = (visual - 1 + temporal - 1 + factual - 1) / 9
    return VideoScore(dims, round(1 + 9 * (0.6 * f + 0.4 * quality), 2), elements)


def winner(score_a: float, score_b: float) -> str:
    return "A" if score_a > score_b else "B" if score_b > score_a else "tie"


# ----- answers -----

def resolve(ref: Ref, objs: tuple[Obj, ...] | list[Obj]) -> list[Obj]:
    """The objects a reference can mean, in reading order."""
    return [o for o in objs if (ref.color is None or o.color == ref.color)
            and (ref.shape is None or o.shape == ref.shape) and (ref.position is None or o.position == ref.position)]


def describe(o: Obj) -> str:
    return f"a {o.size} {o.color} {o.shape}"


def answer_image(q: Question, scene: Scene) -> str:
    """The canonical true answer to an image question ("none" when the reference names no object; the
    first object in reading order when it names several)."""
    objs = sorted(scene.objects, key=lambda o: (o.cell, o.cx))
    k = q.kind
    if k == "count":
        n = sum(1 for o in objs if (q.color is None or o.color == q.color) and (q.shape is None or o.shape == q.shape))
        return NUMBERS[n] if n < len(NUMBERS) else str(n)
    if k == "what_at":
        here = [o for o in objs if o.position == q.position]
        return describe(here[0]) if here else "nothing"
    if k == "exists":
        return "yes" if any(o.color == q.color and o.shape == q.shape for o in objs) else "no"
    if k == "relation":
        ok = any(holds(q.relation, x, y) for x in resolve(q.ref, objs) for y in resolve(q.ref2, objs) if x is not y)
        return "yes" if ok else "no"
    found = resolve(q.ref, objs)
    if not found:
        return "none"
    o = found[0]
    return {"color": o.color, "shape": o.shape, "size": o.size, "where": o.position}[k]


def _resolve_tracks(ref: Ref, tracks: tuple[TrackFacts, ...]) -> list[TrackFacts]:
    return [t for t in tracks if (ref.color is None or t.color_start == ref.color)
            and (ref.shape is None or t.shape == ref.shape)]


def happening(t: TrackFacts) -> str:
    """What a track does, as the canonical answer to "what happens to ...?"."""
    ev = t.event
    if ev == "moves":
        return f"it moves {t.direction} {t.speed}"
    if ev == "turns":
        return f"it turns {t.color_end}"
    return f"it {ev}" if ev else "nothing"


def describe_clip(facts: ClipFacts) -> str:
    """What a clip shows, track by track ("a large red square moves left slowly; ..."), then its defects.
    Tracks that do something come first, then still ones; within each, by colour, shape and size."""
    tracks = sorted(facts.tracks, key=lambda t: (t.event is None, t.color_start, t.shape, t.size))
    parts = [f"a {t.size} {t.color_start} {t.shape} " + (happening(t)[3:] if t.event else "stays still")
             for t in tracks]
    defects = [name for name, on in (("flicker", facts.flicker), ("jump", facts.jump)) if on]
    return "; ".join(parts) + (f"; defects: {', '.join(defects)}" if defects else "")


def answer_video(q: Question, facts: ClipFacts) -> str:
    """The canonical true answer to a video question about the clip's tracks."""
    k = q.kind
    if k in ("moving_color", "moving_shape"):
        moving = [t for t in facts.tracks if t.direction]
        if not moving:
            return "none"
        t = max(moving, key=lambda t: sum(s[0] ** 2 + s[1] ** 2 for s in t.steps))
        return t.color if k == "moving_color" else t.shape
    found = _resolve_tracks(q.ref, facts.tracks)
    if k == "moves_dir":
        return "yes" if found and found[0].direction == q.direction else "no"
    if not found:
        return "nothing" if k == "happens" else "none"
    t = found[0]
    if k == "direction":
        return t.direction or "none"
    if k == "speed":
        return t.speed or "none"
    if k == "turn_color":
        return t.color_end if t.changes_color else "none"
    if k == "happens":
        return happening(t)
    raise GrammarError(f"{k!r} is not a video question kind")


def grade(kind: str, truth: str, answer: str) -> float:
    """How right `answer` is, in [0, 1], given the canonical true answer."""
    t, a = read_answer(kind, truth), read_answer(kind, answer)
    if a is None or t is None:
        return 0.0
    if t == "none" or a == "none":
        return float(t == a)
    if kind == "where":
        (r1, c1), (r2, c2) = position_cell(t), position_cell(a)
        return 1.0 if (r1, c1) == (r2, c2) else 0.5 if r1 == r2 or c1 == c2 else 0.0
    if kind == "count":
        d = abs(t - a)
        return 1.0 if d == 0 else 0.5 if d == 1 else 0.0
    if kind == "what_at":
        return sum(x == y for x, y in zip(t, a)) / 3
    if kind == "happens":
        if a[0] != t[0]:
            return 0.0
        return (1 + sum(x == y for x, y in zip(t[1:], a[1:]))) / len(t)
    return float(t == a)


def understanding_score(modality: str, g: float) -> float:
    """A grade on the native pointwise scale: 0-100 for images, 1-5 for videos."""
    return round(100 * g, 2) if modality == "image" else round(1 + 4 * g, 2)


UNDERSTANDING_SCALES = {"image": [0, 100], "video": [1, 5]}
