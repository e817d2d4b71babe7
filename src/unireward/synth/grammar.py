"""The fixed grammar of captions, questions and answers, their parsers, and the vocabulary corpus.

Image captions (the elements each names, EvalMuse style, in brackets):
    a [large] red circle [at the top left]     size?, color, shape, position?
    three blue squares                         count, color, shape          (two to four)
    a red circle to the left of a blue square  object, object, relation     (left of, right of, above, below)
Video captions:
    a red square moves left [quickly]          color, shape, direction, speed?  (left/right/up/down; slowly/quickly)
    a red square turns blue                    color, shape, color change
    a red square appears | disappears          color, shape, event
Questions (a reference is "the [color] shape-or-'shape' [at the position]", naming one object):
    image: what color/shape/size is REF? · where is REF? · how many [color] shapes are there? ·
           what is at the POSITION? · is REF to the left of/above ... REF? · is there a COLOR SHAPE?
    video: which direction does REF move? · what color is the moving shape? · what shape is moving? ·
           how fast does REF move? · what happens to REF? · what color does REF turn? · does REF move DIR?
Answers are short canonical phrases ("red", "top left", "three", "a small red circle", "it moves left
slowly", "yes", "none", "nothing"); answers from elsewhere are read leniently, word by word
(`read_answer`), so "The circle is RED." reads as "red".

Everything is lower case and uses "color"; parsers raise `GrammarError` for text outside the grammar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from unireward.synth.world import COLORS, DIRECTIONS, NUMBERS, POSITION_NAMES, RELATIONS, SHAPES, SIZES, SPEEDS


class GrammarError(ValueError):
    """A caption or question is not in the synthetic grammar."""


REL_PHRASES: dict[str, str] = {"left of": "to the left of", "right of": "to the right of", "above": "above",
                               "below": "below"}
EVENTS: tuple[str, ...] = ("appears", "disappears")
COUNTS: tuple[int, ...] = (2, 3, 4)  # count captions

_C = "|".join(COLORS)
_S = "|".join(SHAPES)
_SZ = "|".join(SIZES)
_P = "|".join(sorted(POSITION_NAMES, key=len, reverse=True))  # longest first: "top left" before "top"
_D = "|".join(DIRECTIONS)
_SP = "|".join(SPEEDS)
_N = "|".join(NUMBERS)
_R = "|".join(REL_PHRASES.values())
_REL_OF = {v: k for k, v in REL_PHRASES.items()}


# ----- captions -----

@dataclass(frozen=True)
class ObjectCaption:
    color: str
    shape: str
    size: str | None = None
    position: str | None = None

    def text(self) -> str:
        size = f"{self.size} " if self.size else ""
        pos = f" at the {self.position}" if self.position else ""
        return f"a {size}{self.color} {self.shape}{pos}"

    def elements(self) -> list[str]:
        out = [f"{self.size} (size)"] if self.size else []
        out += [f"{self.color} (color)", f"{self.shape} (shape)"]
        return out + ([f"{self.position} (position)"] if self.position else [])


@dataclass(frozen=True)
class CountCaption:
    count: int
    color: str
    shape: str

    def text(self) -> str:
        return f"{NUMBERS[self.count]} {self.color} {self.shape}s"

    def elements(self) -> list[str]:
        return [f"{NUMBERS[self.count]} (count)", f"{self.color} (color)", f"{self.shape} (shape)"]


@dataclass(frozen=True)
class RelationCaption:
    a: tuple[str, str]  # (color, shape)
    relation: str
    b: tuple[str, str]

    def text(self) -> str:
        return f"a {self.a[0]} {self.a[1]} {REL_PHRASES[self.relation]} a {self.b[0]} {self.b[1]}"

    def elements(self) -> list[str]:
        # keys stay distinct for "a red circle above a red circle"
        second = "other object" if self.a == self.b else "object"
        return [f"{' '.join(self.a)} (object)", f"{' '.join(self.b)} ({second})", f"{self.relation} (relation)"]


@dataclass(frozen=True)
class MotionCaption:
    color: str
    shape: str
    direction: str
    speed: str | None = None

    def text(self) -> str:
        return f"a {self.color} {self.shape} moves {self.direction}" + (f" {self.speed}" if self.speed else "")

    def elements(self) -> list[str]:
        out = [f"{self.color} (color)", f"{self.shape} (shape)", f"{self.direction} (direction)"]
        return out + ([f"{self.speed} (speed)"] if self.speed else [])


@dataclass(frozen=True)
class ChangeCaption:
    color: str
    shape: str
    new_color: str

    def text(self) -> str:
        return f"a {self.color} {self.shape} turns {self.new_color}"

    def elements(self) -> list[str]:
        return [f"{self.color} (color)", f"{self.shape} (shape)", f"turns {self.new_color} (color change)"]


@dataclass(frozen=True)
class EventCaption:
    color: str
    shape: str
    event: str  # "appears" | "disappears"

    def text(self) -> str:
        return f"a {self.color} {self.shape} {self.event}"

    def elements(self) -> list[str]:
        return [f"{self.color} (color)", f"{self.shape} (shape)", f"{self.event} (event)"]


ImageCaption = ObjectCaption | CountCaption | RelationCaption
VideoCaption = MotionCaption | ChangeCaption | EventCaption
Caption = ImageCaption | VideoCaption

_CAPTION_RES = [
    (re.compile(rf"a (?:({_SZ}) )?({_C}) ({_S})(?: at the ({_P}))?"),
     lambda m: ObjectCaption(m[2], m[3], m[1], m[4])),
    (re.compile(rf"({_N}) ({_C}) ({_S})s"), lambda m: CountCaption(NUMBERS.index(m[1]), m[2], m[3])),
    (re.compile(rf"a ({_C}) ({_S}) ({_R}) a ({_C}) ({_S})"),
     lambda m: RelationCaption((m[1], m[2]), _REL_OF[m[3]], (m[4], m[5]))),
    (re.compile(rf"a ({_C}) ({_S}) moves ({_D})(?: ({_SP}))?"), lambda m: MotionCaption(m[1], m[2], m[3], m[4])),
    (re.compile(rf"a ({_C}) ({_S}) turns ({_C})"), lambda m: ChangeCaption(m[1], m[2], m[3])),
    (re.compile(rf"a ({_C}) ({_S}) ({'|'.join(EVENTS)})"), lambda m: EventCaption(m[1], m[2], m[3])),
]


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[.?!,]", " ", text.lower()).split())


def parse_caption(text: str) -> Caption:
    """The structured caption of a text in the grammar (case and final punctuation are ignored)."""
    t = _norm(text)
    for rx, make in _CAPTION_RES:
        if m := rx.fullmatch(t):
            return make(m)
    raise GrammarError(f"caption {text!r} is not in the synthetic grammar (see unireward.synth.grammar)")


# ----- questions -----

@dataclass(frozen=True)
class Ref:
    """A reference to one object: "the red circle", "the shape at the top left", "the red shape"."""

    color: str | None = None
    shape: str | None = None
    position: str | None = None

    def text(self) -> str:
        color = f"{self.color} " if self.color else ""
        pos = f" at the {self.position}" if self.position else ""
        return f"the {color}{self.shape or 'shape'}{pos}"


_REF = rf"the (?:({_C}) )?({_S}|shape)(?: at the ({_P}))?"


def _ref(m: re.Match, i: int) -> Ref:
    shape = m[i + 1]
    return Ref(m[i], None if shape == "shape" else shape, m[i + 2])


IMAGE_KINDS = ("color", "shape", "size", "where", "count", "what_at", "relation", "exists")
VIDEO_KINDS = ("direction", "moving_color", "moving_shape", "speed", "happens", "turn_color", "moves_dir")


@dataclass(frozen=True)
class Question:
    """One question; `kind` says which, the other fields hold its slots (unused ones are None)."""

    kind: str
    ref: Ref | None = None
    ref2: Ref | None = None
    color: str | None = None
    shape: str | None = None
    position: str | None = None
    relation: str | None = None
    direction: str | None = None

    @property
    def modality(self) -> str:
        return "image" if self.kind in IMAGE_KINDS else "video"

    def text(self) -> str:
        r = self.ref.text() if self.ref else ""
        k = self.kind
        if k in ("color", "shape", "size"):
            return f"what {k} is {r}?"
        if k == "where":
            return f"where is {r}?"
        if k == "count":
            color = f"{self.color} " if self.color else ""
            return f"how many {color}{self.shape or 'shape'}s are there?"
        if k == "what_at":
            return f"what is at the {self.position}?"
        if k == "relation":
            return f"is {r} {REL_PHRASES[self.relation]} {self.ref2.text()}?"
        if k == "exists":
            return f"is there a {self.color} {self.shape}?"
        return {
            "direction": f"which direction does {r} move?",
            "moving_color": "what color is the moving shape?",
            "moving_shape": "what shape is moving?",
            "speed": f"how fast does {r} move?",
            "happens": f"what happens to {r}?",
            "turn_color": f"what color does {r} turn?",
            "moves_dir": f"does {r} move {self.direction}?",
        }[k]


_QUESTION_RES = [
    (re.compile(rf"what (color|shape|size) is {_REF}"), lambda m: Question(m[1], _ref(m, 2))),
    (re.compile(rf"where is {_REF}"), lambda m: Question("where", _ref(m, 1))),
    (re.compile(rf"how many (?:({_C}) )?({_S}|shape)s are there"),
     lambda m: Question("count", color=m[1], shape=None if m[2] == "shape" else m[2])),
    (re.compile(rf"what is at the ({_P})"), lambda m: Question("what_at", position=m[1])),
    (re.compile(rf"is {_REF} ({_R}) {_REF}"),
     lambda m: Question("relation", _ref(m, 1), _ref(m, 5), relation=_REL_OF[m[4]])),
    (re.compile(rf"is there a ({_C}) ({_S})"), lambda m: Question("exists", color=m[1], shape=m[2])),
    (re.compile(rf"which direction does {_REF} move"), lambda m: Question("direction", _ref(m, 1))),
    (re.compile(r"what color is the moving shape"), lambda m: Question("moving_color")),
    (re.compile(r"what shape is moving"), lambda m: Question("moving_shape")),
    (re.compile(rf"how fast does {_REF} move"), lambda m: Question("speed", _ref(m, 1))),
    (re.compile(rf"what happens to {_REF}"), lambda m: Question("happens", _ref(m, 1))),
    (re.compile(rf"what color does {_REF} turn"), lambda m: Question("turn_color", _ref(m, 1))),
    (re.compile(rf"does {_REF} move ({_D})"), lambda m: Question("moves_dir", _ref(m, 1), direction=m[4])),
]


def parse_question(text: str) -> Question:
    t = _norm(text)
    for rx, make in _QUESTION_RES:
        if m := rx.fullmatch(t):
            return make(m)
    raise GrammarError(f"question {text!r} is not in the synthetic grammar (see unireward.synth.grammar)")


# ----- answers -----

_WORD = re.compile(r"[a-z]+|\d+")
_POS_RX = re.compile(rf"\b({_P}|centre|middle)\b")
_EVENT_WORDS = {"moves": "moves", "move": "moves", "moving": "moves", "turns": "turns", "turn": "turns",
                "changes": "turns", "appears": "appears", "appear": "appears", "disappears": "disappears",
                "disappear": "disappears", "vanishes": "disappears"}
_SPEED_WORDS = {"slowly": "slowly", "slow": "slowly", "quickly": "quickly", "quick": "quickly", "fast": "quickly"}
_NONE_WORDS = ("none", "nothing", "nowhere")


def _first(tokens: list[str], vocab: object) -> str | None:
    return next((t for t in tokens if t in vocab), None)


def _shape(tokens: list[str]) -> str | None:
    return next((t if t in SHAPES else t[:-1] for t in tokens if t in SHAPES or t[:-1] in SHAPES), None)


def _count(tokens: list[str]) -> int | None:
    for t in tokens:
        if t in NUMBERS:
            return NUMBERS.index(t)
        if t.isdigit():
            return int(t)
        if t in ("no", "none"):
            return 0
    return None


def read_answer(kind: str, text: str) -> tuple | str | None:
    """The value an answer gives for a question kind; "none" when it says there is nothing; None when
    it gives no value at all. Values: a word, a count (int), or a tuple for composite answers."""
    low = " ".join(_WORD.findall(text.lower()))  # "Top-left." reads as "top left"
    tokens = low.split()
    value: object
    if kind in ("color", "moving_color", "turn_color"):
        value = _first(tokens, COLORS)
    elif kind in ("shape", "moving_shape"):
        value = _shape(tokens)
    elif kind == "size":
        value = _first(tokens, SIZES)
    elif kind == "where":
        m = _POS_RX.search(low)
        value = None if m is None else {"centre": "center", "middle": "center"}.get(m[1], m[1])
    elif kind == "count":
        value = _count(tokens)
    elif kind in ("relation", "exists", "moves_dir"):
        value = _first(tokens, ("yes", "no"))
    elif kind == "direction":
        value = _first(tokens, DIRECTIONS)
    elif kind == "speed":
        value = _SPEED_WORDS.get(_first(tokens, _SPEED_WORDS) or "")
    elif kind == "what_at":
        parts = (_first(tokens, SIZES), _first(tokens, COLORS), _shape(tokens))
        value = parts if any(parts) else None
    elif kind == "happens":
        value = _read_event(tokens)
    else:
        raise GrammarError(f"unknown question kind {kind!r}")
    if value is None and _first(tokens, _NONE_WORDS):
        return "none"
    return value


def _read_event(tokens: list[str]) -> tuple | None:
    word = _first(tokens, _EVENT_WORDS)
    if word is None:
        return None
    event = _EVENT_WORDS[word]
    if event == "moves":
        return (event, _first(tokens, DIRECTIONS), _SPEED_WORDS.get(_first(tokens, _SPEED_WORDS) or ""))
    if event == "turns":
        return (event, _first(tokens, COLORS))
    return (event,)


# ----- vocabulary -----

def vocabulary_corpus() -> list[str]:
    """Sample texts that use every word of the grammar (captions, questions, answers), for training a
    tokenizer; deterministic."""
    colors, shapes = list(COLORS), list(SHAPES)
    out: list[str] = []
    for i, c in enumerate(colors):
        s = shapes[i % len(shapes)]
        c2 = colors[(i + 1) % len(colors)]
        out.append(ObjectCaption(c, s).text())
        out.append(CountCaption(COUNTS[i % len(COUNTS)], c, s).text())
        out.append(ChangeCaption(c, s, c2).text())
    for i, s in enumerate(shapes):
        c = colors[i]
        for n in COUNTS:
            out.append(CountCaption(n, c, s).text())
        for ev in EVENTS:
            out.append(EventCaption(c, s, ev).text())
        out.append(f"how many {s}s are there?")
    for i, p in enumerate(POSITION_NAMES):
        sz = list(SIZES)[i % 2]
        c, s = colors[i % len(colors)], shapes[i % len(shapes)]
        out.append(ObjectCaption(c, s, sz, p).text())
        out.append(Question("what_at", position=p).text())
        out.append(Question("color", Ref(shape=s, position=p)).text())
        out.append(f"a {sz} {c} {s}")
    for i, r in enumerate(RELATIONS):
        a, b = (colors[i], shapes[i]), (colors[i + 1], shapes[(i + 1) % 4])
        out.append(RelationCaption(a, r, b).text())
        out.append(Question("relation", Ref(*a), Ref(*b), relation=r).text())
    for i, d in enumerate(DIRECTIONS):
        for sp in SPEEDS:
            out.append(MotionCaption(colors[i], shapes[i], d, sp).text())
            out.append(f"it moves {d} {sp}")
        out.append(Question("moves_dir", Ref(colors[i], shapes[i]), direction=d).text())
    ref = Ref("red", "circle")
    for k in ("shape", "size", "where", "direction", "speed", "happens", "turn_color"):
        out.append(Question(k, ref if k != "shape" else Ref("red")).text())
    out += [Question("count", color="blue", shape="square").text(), Question("count", color="red").text(),
            Question("exists", color="green", shape="triangle").text(), Question("moving_color").text(),
            Question("moving_shape").text(), " ".join(NUMBERS), "yes", "no", "none", "nothing",
            "it turns blue", "it appears", "it disappears"]
    # the element lines a pointwise image-generation answer lists, e.g. "large (size): 1"
    for cap in (ObjectCaption("red", "circle", "large", "top left"), CountCaption(3, "blue", "square"),
                RelationCaption(("red", "circle"), "above", ("blue", "square")), MotionCaption("red", "circle", "up",
                "slowly"), ChangeCaption("red", "circle", "blue"), EventCaption("red", "circle", "appears")):
        out += [f"{e}: {i % 2}" for i, e in enumerate(cap.elements())]
    return out
