"""Seeded generators of symbolic samples for the four tasks in both forms, with exact labels.

Design choices a user will notice:
- Every sample has its own random stream, seeded by (seed, split, task, form, index): sample i is the same
  whatever the number of samples asked for, and samples can be made in any order or in parallel.
- Splits are disjoint by a key hashed with a fixed salt (not the seed): the caption for the generation
  tasks, the whole scene for image understanding, and the caption of what happens in the clip for video
  understanding (so a test motion such as "a cyan diamond moves up slowly" is never seen in training).
  80% of keys are train, 10% val, 10% test; a sample is drawn again until its key falls in its split.
- Labels are computed by `semantics` from the true scene or clip: the oracle reads the same things back
  from pixels and applies the same functions, so the two agree (tests check this on rendered media).
- Wrong candidates are made by corrupting slots of the caption (colour, shape, size, position, count,
  relation objects, direction, speed, colour change, event) or adding defects (flicker, jump). The label
  comes from the scorer, never from the intent; a pair is redrawn until its scores order as intended.
- `difficulty` in [0, 1]: more distractor objects, more small shapes, fewer corrupted slots in wrong
  candidates (at 1, exactly one), and near-miss wrong answers (counts off by one, a right row, 2 of 3
  attributes) instead of random ones.
- `tie_rate`: share of generation pairs that are ties (both right, or equally wrong). Understanding pairs
  are never ties: the upstream understanding prompts offer no tie.
- `hard_negatives` in [0, 1] (default 0, which leaves every sample exactly as before): the share of wrong
  understanding answers that look like a small answerer's mistakes instead of a random wrong answer. Half are
  *confusable*: a wrong answer made only of words the media's description contains (the colour of another
  object, the shape of the distractor, "nothing" for what is at a position), which a judge cannot reject by
  noticing that the answer names something absent. Half are *slips*: a word of the answer vocabulary with
  its first letters dropped or swapped for another word's ("yan", "slarge", "dottom right"), or a word of
  another question kind's vocabulary ("red" for a shape). Both are what the small answerer's sampled answers
  contain and what a judge trained on random wrong answers scored as right (docs/align.md). The label is the
  oracle's grade of the answer actually given, as for every other candidate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from unireward.synth.grammar import (
    COUNTS,
    EVENTS,
    ChangeCaption,
    CountCaption,
    EventCaption,
    ImageCaption,
    MotionCaption,
    ObjectCaption,
    Question,
    Ref,
    RelationCaption,
    VideoCaption,
)
from unireward.synth.semantics import (
    UNDERSTANDING_SCALES,
    answer_image,
    answer_video,
    describe_clip,
    grade,
    image_elements,
    image_generation_score,
    resolve,
    understanding_score,
    video_elements,
    video_score,
    winner,
)
from unireward.synth.world import (
    COLORS,
    DIRECTIONS,
    NUMBERS,
    POSITION_NAMES,
    RELATIONS,
    SHAPES,
    SIZES,
    SPEEDS,
    Clip,
    Obj,
    Scene,
    Track,
    cell_center,
    clip_facts,
    holds,
    position_cell,
)
from unireward.tasks import Form, Task


SPLIT_FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}
SPLIT_SALT = "unireward-synth-v1"
JITTER = 0.02  # image widths an object may sit off its cell centre
JUMP = 0.15  # image widths a teleporting object skips
DARK = 0.55  # brightness of a flickering frame
TASK_SHORT = {Task.IMAGE_GENERATION: "ig", Task.IMAGE_UNDERSTANDING: "iu", Task.VIDEO_GENERATION: "vg",
              Task.VIDEO_UNDERSTANDING: "vu"}
Rng = np.random.Generator
COLOR_LIST, CELLS = list(COLORS), [(r, c) for r in range(3) for c in range(3)]


@dataclass
class Sample:
    """A symbolic record: media are `Scene` (an image) or `Clip` (a video), rendered when written."""

    task: Task
    form: Form
    prompt: str
    candidates: list[Any]  # Scene | Clip for generation tasks, answer texts for understanding tasks
    label: dict[str, Any]
    media: list[Any] = field(default_factory=list)
    key: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


def split_of(key: str) -> str:
    """The split a key belongs to (stable across seeds and versions of the generator)."""
    u = int.from_bytes(hashlib.sha256(f"{SPLIT_SALT}:{key}".encode()).digest()[:8], "big") / 2**64
    acc = 0.0
    for name, frac in SPLIT_FRACTIONS.items():
        acc += frac
        if u < acc:
            return name
    return "test"


def rng_for(seed: int, split: str, task: Task, form: Form, index: int) -> Rng:
    tag = int.from_bytes(hashlib.sha256(f"{split}/{task.value}/{form.value}".encode()).digest()[:4], "big")
    return np.random.default_rng([seed, tag, index])


# ----- small random helpers -----

def _pick(rng: Rng, seq: list | tuple) -> Any:
    return seq[int(rng.integers(len(seq)))]


def _subset(rng: Rng, seq: list, k: int) -> set:
    return {seq[i] for i in rng.permutation(len(seq))[:k]}


def _other(rng: Rng, seq: list | tuple, *avoid: Any) -> Any:
    return _pick(rng, [x for x in seq if x not in avoid])


def _size(rng: Rng, d: float) -> str:
    return "small" if rng.random() < 0.25 + 0.5 * d else "large"


def _n_wrong(rng: Rng, d: float, n_slots: int) -> int:
    """How many slots a wrong candidate corrupts: one at difficulty 1, up to all at difficulty 0."""
    return int(rng.integers(1, max(1, round(n_slots * (1 - d))) + 1))


def _n_distractors(rng: Rng, d: float, most: int) -> int:
    return int(rng.integers(0, round(most * d) + 1))


def _place(rng: Rng, cell: tuple[int, int], shape: str, color: str, size: str) -> Obj:
    cx, cy = cell_center(*cell)
    return Obj(shape, color, size, cx + rng.uniform(-JITTER, JITTER), cy + rng.uniform(-JITTER, JITTER))


def _distractors(rng: Rng, n: int, free: list, colors: set, shapes: set, d: float) -> list[Obj]:
    """Up to n objects in free cells whose colour is none of `colors` (so they never match a described
    object) and whose shape avoids `shapes` when possible."""
    cols = [c for c in COLOR_LIST if c not in colors] or COLOR_LIST
    shps = [s for s in SHAPES if s not in shapes] or list(SHAPES)
    cells = [free[i] for i in rng.permutation(len(free))[:n]]
    return [_place(rng, cell, _pick(rng, shps), _pick(rng, cols), _size(rng, d)) for cell in cells]


# ----- image generation -----

def sample_image_caption(rng: Rng) -> ImageCaption:
    u, color, shape = rng.random(), _pick(rng, COLOR_LIST), _pick(rng, SHAPES)
    if u < 0.5:
        size = _pick(rng, list(SIZES)) if rng.random() < 0.5 else None
        pos = _pick(rng, POSITION_NAMES) if rng.random() < 0.6 else None
        return ObjectCaption(color, shape, size, pos)
    if u < 0.7:
        return CountCaption(_pick(rng, COUNTS), color, shape)
    b = (_pick(rng, COLOR_LIST), _pick(rng, SHAPES))
    while b == (color, shape):
        b = (_pick(rng, COLOR_LIST), _pick(rng, SHAPES))
    return RelationCaption((color, shape), _pick(rng, RELATIONS), b)


def image_slots(cap: ImageCaption) -> list[str]:
    """The parts of a caption a wrong image can get wrong."""
    if isinstance(cap, ObjectCaption):
        return [e.rsplit(" (", 1)[1][:-1] for e in cap.elements()]
    if isinstance(cap, CountCaption):
        return ["count", "color", "shape"]
    return ["a", "b", "relation"]


def image_scene(cap: ImageCaption, rng: Rng, broken: set[str], d: float) -> Scene:
    """A scene for the caption with the slots in `broken` made wrong (and distractors added).

    Each `_*_subject` returns the described objects, the cells distractors must avoid, and the colours
    they must not take (so that a distractor never matches a described object)."""
    if isinstance(cap, ObjectCaption):
        objs, avoid, colors = _object_subject(cap, rng, broken, d)
    elif isinstance(cap, CountCaption):
        objs, avoid, colors = _count_subject(cap, rng, broken, d)
    else:
        objs, avoid, colors = _relation_subject(cap, rng, broken, d)
    free = [c for c in CELLS if c not in avoid]
    shapes = {o.shape for o in objs}
    objs += _distractors(rng, _n_distractors(rng, d, 3), free, colors | {o.color for o in objs}, shapes, d)
    return Scene(tuple(objs))


def _object_subject(cap: ObjectCaption, rng: Rng, broken: set[str], d: float) -> tuple[list[Obj], set, set]:
    size = cap.size or _size(rng, d)
    size = _other(rng, list(SIZES), size) if "size" in broken else size
    color = _other(rng, COLOR_LIST, cap.color) if "color" in broken else cap.color
    shape = _other(rng, SHAPES, cap.shape) if "shape" in broken else cap.shape
    target = position_cell(cap.position) if cap.position else _pick(rng, CELLS)
    cell = _other(rng, CELLS, target) if "position" in broken else target
    return [_place(rng, cell, shape, color, size)], {cell, target}, {cap.color}


def _count_subject(cap: CountCaption, rng: Rng, broken: set[str], d: float) -> tuple[list[Obj], set, set]:
    n = _other(rng, [1, 2, 3, 4, 5], cap.count) if "count" in broken else cap.count
    color = _other(rng, COLOR_LIST, cap.color) if "color" in broken else cap.color
    shape = _other(rng, SHAPES, cap.shape) if "shape" in broken else cap.shape
    cells = [CELLS[i] for i in rng.permutation(9)[:n]]
    return [_place(rng, c, shape, color, _size(rng, d)) for c in cells], set(cells), {cap.color}


def _relation_subject(cap: RelationCaption, rng: Rng, broken: set[str], d: float) -> tuple[list[Obj], set, set]:
    specs = []
    for slot, (color, shape) in (("a", cap.a), ("b", cap.b)):
        while slot in broken and (color, shape) in (cap.a, cap.b):
            color, shape = (_pick(rng, COLOR_LIST), shape) if rng.random() < 0.5 else (color, _pick(rng, SHAPES))
        specs.append((color, shape))
    ca, cb = _relation_cells(rng, cap.relation)
    if "relation" in broken:
        ca, cb = cb, ca
    objs = [_place(rng, ca, specs[0][1], specs[0][0], _size(rng, d)),
            _place(rng, cb, specs[1][1], specs[1][0], _size(rng, d))]
    return objs, {ca, cb}, {cap.a[0], cap.b[0], specs[0][0], specs[1][0]}


def _relation_cells(rng: Rng, relation: str) -> tuple:
    """Two cells whose centres stand in the relation; in one row or column 70% of the time."""
    def at(cell: tuple[int, int]) -> Obj:
        return Obj("square", "red", "small", *cell_center(*cell))

    pairs = [(p, q) for p in CELLS for q in CELLS if holds(relation, at(p), at(q))]
    aligned = [(p, q) for p, q in pairs if p[0] == q[0] or p[1] == q[1]]
    return _pick(rng, aligned if rng.random() < 0.7 else pairs)


def _image_generation_score(cap: ImageCaption, scene: Scene) -> float:
    return image_generation_score(image_elements(cap, scene))


def image_generation_pair(rng: Rng, cap: ImageCaption, d: float, tie_rate: float) -> Sample:
    slots = image_slots(cap)
    tie = rng.random() < tie_rate
    for _ in range(100):
        sa, sb = _pair_slots(rng, slots, d, tie)
        a, b = image_scene(cap, rng, sa, d), image_scene(cap, rng, sb, d)
        fa, fb = _image_generation_score(cap, a), _image_generation_score(cap, b)
        if (fa == fb) == tie and fa >= fb:
            break
    return _pair_sample(rng, Task.IMAGE_GENERATION, cap.text(), a, b, fa, fb,
                        {"broken": [sorted(sa), sorted(sb)],
                         "elements": [image_elements(cap, a), image_elements(cap, b)]})


def _pair_slots(rng: Rng, slots: list[str], d: float, tie: bool) -> tuple[set, set]:
    """Slots to corrupt in the better and the worse candidate."""
    if tie:
        k = 0 if rng.random() < 0.5 else _n_wrong(rng, d, len(slots))
        return _subset(rng, slots, k), _subset(rng, slots, k)
    k = _n_wrong(rng, d, len(slots))
    k1 = 1 if rng.random() < 0.25 and k + 1 <= len(slots) else 0
    better = _subset(rng, slots, k1)
    rest = [s for s in slots if s not in better]
    return better, better | _subset(rng, rest, k)


def _pair_sample(rng: Rng, task: Task, prompt: str, better: Any, worse: Any, s_better: float, s_worse: float,
                 meta: dict, media: list | None = None) -> Sample:
    """A pair with the better candidate put first or second at random; the label is the exact winner."""
    cands, scores = [better, worse], [s_better, s_worse]
    if rng.random() < 0.5:
        cands, scores = cands[::-1], scores[::-1]
        meta = meta | {k: meta[k][::-1] for k in ("broken", "elements") if k in meta}
    return Sample(task, Form.PAIR, prompt, cands, {"winner": winner(*scores)}, media or [],
                  meta=meta | {"scores": scores})


def image_generation_point(rng: Rng, cap: ImageCaption, d: float) -> Sample:
    slots = image_slots(cap)
    broken = _subset(rng, slots, int(rng.integers(0, len(slots) + 1)))
    scene = image_scene(cap, rng, broken, d)
    el = image_elements(cap, scene)
    label = {"score": image_generation_score(el), "scale": [1, 5], "elements": el}
    return Sample(Task.IMAGE_GENERATION, Form.POINT, cap.text(), [scene], label, meta={"broken": sorted(broken)})


# ----- video clips -----

def sample_video_caption(rng: Rng, with_speed: float = 0.7) -> VideoCaption:
    u, color, shape = rng.random(), _pick(rng, COLOR_LIST), _pick(rng, SHAPES)
    if u < 0.6:
        speed = _pick(rng, list(SPEEDS)) if rng.random() < with_speed else None
        return MotionCaption(color, shape, _pick(rng, list(DIRECTIONS)), speed)
    if u < 0.8:
        return ChangeCaption(color, shape, _other(rng, COLOR_LIST, color))
    return EventCaption(color, shape, _pick(rng, EVENTS))


def video_slots(cap: VideoCaption) -> list[str]:
    if isinstance(cap, MotionCaption):
        return ["color", "shape", "direction"] + (["speed"] if cap.speed else []) + ["flicker", "jump"]
    return ["color", "shape", "change" if isinstance(cap, ChangeCaption) else "event", "flicker"]


def video_clip(cap: VideoCaption, rng: Rng, broken: set[str], d: float, n: int = 8) -> Clip:
    """A clip of the caption's actor with the slots in `broken` made wrong, plus static distractors."""
    color = _other(rng, COLOR_LIST, cap.color) if "color" in broken else cap.color
    shape = _other(rng, SHAPES, cap.shape) if "shape" in broken else cap.shape
    size = _size(rng, d)
    if isinstance(cap, MotionCaption):
        states = _motion_states(rng, cap, broken, color, shape, size, n)
    elif isinstance(cap, ChangeCaption):
        states = _change_states(rng, cap, broken, color, shape, size, n)
    else:
        states = _event_states(rng, cap, broken, color, shape, size, n)
    actor = Track(tuple(states))
    colors = {cap.color, getattr(cap, "new_color", cap.color)} | {s.color for s in states if s}
    free = [c for c in CELLS if not _collides(c, states)]
    statics = _distractors(rng, _n_distractors(rng, d, 2), free, colors, {shape, cap.shape}, d)
    tracks = (actor,) + tuple(Track((o,) * n) for o in statics)
    return Clip(tracks, _brightness(rng, n, "flicker" in broken))


def _motion_states(rng: Rng, cap: MotionCaption, broken: set[str], color: str, shape: str, size: str,
                   n: int) -> list[Obj]:
    direction, speed = cap.direction, cap.speed or _pick(rng, list(SPEEDS))
    if "speed" in broken:
        speed = _other(rng, list(SPEEDS), speed)
    v = SPEEDS[speed]
    if "direction" in broken:
        if rng.random() < 0.3:
            v = 0.0  # static: neither direction nor speed is right
        else:
            direction = _other(rng, list(DIRECTIONS), direction)
    jump = JUMP if "jump" in broken else 0.0
    k = int(rng.integers(2, n - 1))  # the frame the object teleports at
    half = SIZES[size] / 2 + 0.03
    travel = v * (n - 1) + jump
    start = rng.uniform(half, max(half, 1 - half - travel))
    along = [start + v * t + (jump if t >= k else 0.0) for t in range(n)]
    dx, dy = DIRECTIONS[direction]
    if dx + dy < 0:
        along = [1 - a for a in along]
    lane = (int(rng.integers(3)) + 0.5) / 3 + rng.uniform(-JITTER, JITTER)
    return [Obj(shape, color, size, a, lane) if dx else Obj(shape, color, size, lane, a) for a in along]


def _static(rng: Rng, shape: str, color: str, size: str) -> Obj:
    return _place(rng, _pick(rng, CELLS), shape, color, size)


def _change_states(rng: Rng, cap: ChangeCaption, broken: set[str], color: str, shape: str, size: str,
                   n: int) -> list[Obj | None]:
    new = cap.new_color if cap.new_color != color else _other(rng, COLOR_LIST, color)
    if "change" in broken:
        new = color if rng.random() < 0.5 else _other(rng, COLOR_LIST, color, cap.new_color)
    o, k = _static(rng, shape, color, size), int(rng.integers(2, n - 1))
    return [o if t < k else replace(o, color=new) for t in range(n)]


def _event_states(rng: Rng, cap: EventCaption, broken: set[str], color: str, shape: str, size: str,
                  n: int) -> list[Obj | None]:
    event = cap.event
    if "event" in broken:
        event = _other(rng, EVENTS, event) if rng.random() < 0.5 else None  # None: there all along
    o, k = _static(rng, shape, color, size), int(rng.integers(2, n - 1))
    if event == "appears":
        return [o if t >= k else None for t in range(n)]
    if event == "disappears":
        return [o if t < k else None for t in range(n)]
    return [o] * n


def _collides(cell: tuple[int, int], states: list[Obj | None], gap: float = 0.06) -> bool:
    """Whether a large object in this cell could touch the actor anywhere along its path."""
    cx, cy = cell_center(*cell)
    reach = SIZES["large"] / 2 + JITTER
    return any(abs(s.cx - cx) < reach + SIZES[s.size] / 2 + gap and abs(s.cy - cy) < reach + SIZES[s.size] / 2 + gap
               for s in states if s is not None)


def _brightness(rng: Rng, n: int, flicker: bool) -> tuple[float, ...]:
    if not flicker:
        return (1.0,) * n
    dark = sorted(int(i) for i in rng.permutation(n)[: int(rng.integers(2, n - 1))])
    return tuple(DARK if t in dark else 1.0 for t in range(n))


def _video_generation_score(cap: VideoCaption, clip: Clip) -> float:
    return video_score(cap, clip_facts(clip)).score


def video_generation_pair(rng: Rng, cap: VideoCaption, d: float, tie_rate: float, n: int) -> Sample:
    slots = video_slots(cap)
    tie = rng.random() < tie_rate
    for _ in range(100):
        sa, sb = _pair_slots(rng, slots, d, tie)
        a, b = video_clip(cap, rng, sa, d, n), video_clip(cap, rng, sb, d, n)
        fa, fb = _video_generation_score(cap, a), _video_generation_score(cap, b)
        if (fa == fb) == tie and fa >= fb:
            break
    return _pair_sample(rng, Task.VIDEO_GENERATION, cap.text(), a, b, fa, fb,
                        {"broken": [sorted(sa), sorted(sb)],
                         "elements": [video_elements(cap, clip_facts(a)), video_elements(cap, clip_facts(b))]})


def video_generation_point(rng: Rng, cap: VideoCaption, d: float, n: int) -> Sample:
    slots = video_slots(cap)
    broken = _subset(rng, slots, int(rng.integers(0, len(slots) + 1)))
    clip = video_clip(cap, rng, broken, d, n)
    label = video_score(cap, clip_facts(clip)).label()
    return Sample(Task.VIDEO_GENERATION, Form.POINT, cap.text(), [clip], label, meta={"broken": sorted(broken)})


# ----- understanding -----

ANSWERS: dict[str, list[str]] = {
    "color": COLOR_LIST, "shape": list(SHAPES), "size": list(SIZES), "where": list(POSITION_NAMES),
    "count": list(NUMBERS[:7]), "relation": ["yes", "no"], "exists": ["yes", "no"], "moves_dir": ["yes", "no"],
    "what_at": ["nothing"] + [f"a {z} {c} {s}" for z in SIZES for c in COLORS for s in SHAPES],
    "direction": list(DIRECTIONS) + ["none"], "moving_color": COLOR_LIST, "moving_shape": list(SHAPES),
    "speed": list(SPEEDS) + ["none"], "turn_color": COLOR_LIST + ["none"],
    "happens": [f"it moves {dr} {sp}" for dr in DIRECTIONS for sp in SPEEDS] + [f"it turns {c}" for c in COLORS]
    + ["it appears", "it disappears", "nothing"],
}


def graded_answers(kind: str, truth: str) -> dict[str, float]:
    """Every answer of the kind's answer space with its grade against the true answer."""
    out = {a: grade(kind, truth, a) for a in ANSWERS[kind]}
    if out.get(truth) != 1.0:
        raise AssertionError(f"true answer {truth!r} of a {kind!r} question is not in the answer space")
    return out


def _wrong_answer(rng: Rng, graded: dict[str, float], d: float) -> str:
    wrong = {a: g for a, g in graded.items() if g < 1.0}
    top = max(wrong.values())
    pool = [a for a, g in wrong.items() if g == top] if rng.random() < d else list(wrong)
    return _pick(rng, pool)


_FILLER = {"a", "it", "the"}
_VOCABULARY = sorted({w for answers in ANSWERS.values() for a in answers for w in a.split()} - _FILLER)


def confusable(answer: str, media: Scene | Clip) -> bool:
    """Does `answer` use only words of the media's description (so no word of it names something absent)?"""
    text = media.key() if isinstance(media, Scene) else describe_clip(clip_facts(media))
    return set(answer.split()) - _FILLER <= set(text.replace(";", " ").replace(",", " ").split())


def _slip(rng: Rng, kind: str) -> str:
    """A malformed answer of the kinds a tiny answerer samples at temperature 0.7."""
    word = _pick(rng, sorted({w for a in ANSWERS[kind] for w in a.split()} - _FILLER))
    how = int(rng.integers(3))
    if how == 0 and len(word) > 3:  # first letters lost: "yan", "ircle"
        return word[int(rng.integers(1, 3)):]
    if how == 1:  # another word's first letter glued on: "slarge", "cyellow", "dottom"
        other = _pick(rng, _VOCABULARY)
        return other[0] + (word[1:] if rng.random() < 0.5 else word)
    return _pick(rng, [w for w in _VOCABULARY if w not in word])  # a word of the wrong kind: "red" for a shape


def _hard_wrong_answer(rng: Rng, kind: str, truth: str, graded: dict[str, float], media: Any) -> str | None:
    """A confusable or a slipped wrong answer (module docstring), or None when the draw gives none."""
    if rng.random() < 0.5:
        pool = [a for a, g in graded.items() if g < 1.0 and confusable(a, media)]
        return _pick(rng, pool) if pool else None
    answer = _slip(rng, kind)
    return answer if grade(kind, truth, answer) < 1.0 else None


def understanding_sample(rng: Rng, task: Task, form: Form, q: Question, truth: str, media: Any, d: float,
                         key: str, hard: float = 0.0) -> Sample:
    graded = graded_answers(q.kind, truth)
    modality = task.modality
    meta = {"kind": q.kind, "truth": truth}
    # the rng is drawn only when hard negatives are asked for, so hard=0 gives the samples of older versions
    hard_wrong = _hard_wrong_answer(rng, q.kind, truth, graded, media) if hard and rng.random() < hard else None
    if form == Form.PAIR:
        wrong = hard_wrong or _wrong_answer(rng, graded, d)
        s = _pair_sample(rng, task, q.text(), truth, wrong, understanding_score(modality, 1.0),
                         understanding_score(modality, grade(q.kind, truth, wrong)), meta, [media])
        s.key = key
        return s
    levels = sorted(set(graded.values()))
    level = _pick(rng, levels)
    answer = _pick(rng, [a for a, g in graded.items() if g == level])
    if hard_wrong is not None and level < 1.0:  # the right answer keeps its share; a wrong one is made hard
        answer, level = hard_wrong, grade(q.kind, truth, hard_wrong)
    label = {"score": understanding_score(modality, level), "scale": UNDERSTANDING_SCALES[modality]}
    return Sample(task, form, q.text(), [answer], label, [media], key, meta)


def sample_image_understanding_scene(rng: Rng, d: float) -> Scene:
    n = int(rng.integers(1, 3 + round(3 * d)))
    objs: list[Obj] = []
    for cell in [CELLS[i] for i in rng.permutation(9)[:n]]:
        if objs and rng.random() < 0.3:  # a look-alike, so counts above one and ambiguity occur
            src = _pick(rng, objs)
            objs.append(_place(rng, cell, src.shape, src.color, _size(rng, d)))
        else:
            objs.append(_place(rng, cell, _pick(rng, SHAPES), _pick(rng, COLOR_LIST), _size(rng, d)))
    return Scene(tuple(objs))


_REF_FORMS = (("shape",), ("color",), ("color", "shape"), ("position",), ("shape", "position"),
              ("color", "position"))


def unique_refs(o: Obj, objs: tuple[Obj, ...], without: str | None = None) -> list[Ref]:
    """References that name `o` and nothing else, not using the attribute `without`."""
    out = []
    for form in _REF_FORMS:
        if without in form:
            continue
        ref = Ref(**{a: getattr(o, a) for a in form})
        if resolve(ref, objs) == [o]:
            out.append(ref)
    return out


def sample_image_question(rng: Rng, scene: Scene) -> Question | None:
    objs = scene.objects
    kind = _pick(rng, ("color", "shape", "size", "where", "count", "what_at", "relation", "exists"))
    o = _pick(rng, objs)
    if kind in ("color", "shape", "size", "where"):
        refs = unique_refs(o, objs, "position" if kind == "where" else kind)
        return Question(kind, _pick(rng, refs)) if refs else None
    if kind == "count":
        color, shape = _pick(rng, [(o.color, o.shape), (None, o.shape), (o.color, None)])
        return Question("count", color=color, shape=shape)
    if kind == "what_at":
        pos = o.position if rng.random() < 0.75 else _pick(rng, POSITION_NAMES)
        return Question("what_at", position=pos)
    if kind == "exists":
        color, shape = (o.color, o.shape) if rng.random() < 0.5 else (_pick(rng, COLOR_LIST), _pick(rng, SHAPES))
        return Question("exists", color=color, shape=shape)
    return _relation_question(rng, o, objs)


def _relation_question(rng: Rng, o: Obj, objs: tuple[Obj, ...]) -> Question | None:
    others = [p for p in objs if p is not o]
    if not others:
        return None
    p = _pick(rng, others)
    ra, rb = unique_refs(o, objs, "position"), unique_refs(p, objs, "position")
    if not ra or not rb:
        return None
    true_rels = [r for r in RELATIONS if holds(r, o, p)]
    rel = _pick(rng, true_rels) if true_rels and rng.random() < 0.5 else _pick(rng, RELATIONS)
    return Question("relation", _pick(rng, ra), _pick(rng, rb), relation=rel)


def image_understanding_sample(rng: Rng, form: Form, split: str, d: float, hard: float = 0.0) -> Sample:
    while True:
        scene = sample_image_understanding_scene(rng, d)
        if split_of(scene.key()) != split:
            continue
        for _ in range(4):  # some questions cannot be asked of some scenes (no unique reference)
            q = sample_image_question(rng, scene)
            if q is not None:
                return understanding_sample(rng, Task.IMAGE_UNDERSTANDING, form, q, answer_image(q, scene), scene,
                                            d, scene.key(), hard)


def _video_understanding_questions(cap: VideoCaption) -> tuple[str, ...]:
    if isinstance(cap, MotionCaption):
        return ("direction", "moving_color", "moving_shape", "speed", "happens", "moves_dir")
    if isinstance(cap, ChangeCaption):
        return ("turn_color", "happens", "moves_dir", "direction")
    return ("happens", "turn_color", "moves_dir", "speed")


def sample_video_question(rng: Rng, cap: VideoCaption) -> Question:
    kind = _pick(rng, _video_understanding_questions(cap))
    ref = _pick(rng, [Ref(cap.color, cap.shape), Ref(shape=cap.shape), Ref(color=cap.color)])
    if kind == "moves_dir":
        return Question(kind, ref, direction=_pick(rng, list(DIRECTIONS)))
    return Question(kind, None if kind in ("moving_color", "moving_shape") else ref)


def video_understanding_sample(rng: Rng, form: Form, split: str, d: float, n: int, hard: float = 0.0) -> Sample:
    while True:
        cap = sample_video_caption(rng, with_speed=1.0)
        if split_of(cap.text()) == split:
            break
    clip = video_clip(cap, rng, {"flicker"} if rng.random() < 0.15 else set(), d, n)
    q = sample_video_question(rng, cap)
    s = understanding_sample(rng, Task.VIDEO_UNDERSTANDING, form, q, answer_video(q, clip_facts(clip)), clip, d,
                             cap.text(), hard)
    s.meta["event"] = cap.text()
    return s


# ----- one entry point per record -----

def make_sample(task: Task, form: Form, split: str, index: int, seed: int = 0, difficulty: float = 0.5,
                tie_rate: float = 0.1, n_frames: int = 8, hard_negatives: float = 0.0) -> Sample:
    """The symbolic sample number `index` of (task, form) in a split: deterministic in all arguments."""
    task, form = Task.parse(task), Form.parse(form)
    if split not in SPLIT_FRACTIONS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLIT_FRACTIONS)}")
    if not 0 <= difficulty <= 1:
        raise ValueError(f"difficulty must be in [0, 1], got {difficulty}")
    if not 0 <= hard_negatives <= 1:
        raise ValueError(f"hard_negatives must be in [0, 1], got {hard_negatives}")
    if not 4 <= n_frames <= 8:
        raise ValueError(f"n_frames must be in 4..8 (motion speeds are set for at most 8 frames), got {n_frames}")
    rng, d = rng_for(seed, split, task, form, index), difficulty
    if task == Task.IMAGE_UNDERSTANDING:
        s = image_understanding_sample(rng, form, split, d, hard_negatives)
    elif task == Task.VIDEO_UNDERSTANDING:
        s = video_understanding_sample(rng, form, split, d, n_frames, hard_negatives)
    elif task == Task.IMAGE_GENERATION:
        cap = _caption_in_split(rng, split, sample_image_caption)
        s = image_generation_pair(rng, cap, d, tie_rate) if form == Form.PAIR else image_generation_point(rng, cap, d)
        s.key = cap.text()
    else:
        cap = _caption_in_split(rng, split, sample_video_caption)
        s = (video_generation_pair(rng, cap, d, tie_rate, n_frames) if form == Form.PAIR
             else video_generation_point(rng, cap, d, n_frames))
        s.key = cap.text()
    return s


def _caption_in_split(rng: Rng, split: str, sample: Callable[[Rng], Any]) -> Any:
    while True:
        cap = sample(rng)
        if split_of(cap.text()) == split:
            return cap

