"""The grammar: captions and questions round-trip through their parsers, answers are read leniently, and
the vocabulary corpus covers every word the generators emit."""

import re

import pytest

from unireward.synth import GrammarError, make_sample, parse_caption, parse_question, vocabulary_corpus
from unireward.synth.grammar import CountCaption, MotionCaption, ObjectCaption, Question, Ref, read_answer
from unireward.tasks import Form, Task


def _samples(task, n=120):
    return [make_sample(task, form, "train", i) for form in Form for i in range(n)]


@pytest.mark.parametrize("task", [Task.IMAGE_GENERATION, Task.VIDEO_GENERATION])
def test_captions_round_trip(task):
    for s in _samples(task):
        assert parse_caption(s.prompt).text() == s.prompt


@pytest.mark.parametrize("task", [Task.IMAGE_UNDERSTANDING, Task.VIDEO_UNDERSTANDING])
def test_questions_round_trip(task):
    for s in _samples(task):
        assert parse_question(s.prompt).text() == s.prompt


def test_parsers_read_structure_and_ignore_case():
    assert parse_caption("A large red circle at the top left.") == ObjectCaption("red", "circle", "large", "top left")
    assert parse_caption("three blue squares") == CountCaption(3, "blue", "square")
    assert parse_caption("a red square moves left") == MotionCaption("red", "square", "left", None)
    q = parse_question("Is the red circle to the left of the shape at the center?")
    assert q == Question("relation", Ref("red", "circle"), Ref(position="center"), relation="left of")


@pytest.mark.parametrize("text", ["a fox jumps over the dog", "a red circle at the far left", "two red foxes", ""])
def test_out_of_grammar_caption_raises(text):
    with pytest.raises(GrammarError, match="not in the synthetic grammar"):
        parse_caption(text)


def test_out_of_grammar_question_raises():
    with pytest.raises(GrammarError):
        parse_question("why is the sky blue?")


@pytest.mark.parametrize("kind, text, value", [
    ("color", "The circle is RED.", "red"),
    ("count", "There are 3 of them", 3),
    ("count", "three", 3),
    ("count", "There are none.", 0),
    ("where", "It is at the Top-Left.", "top left"),
    ("where", "in the middle", "center"),
    ("shape", "two squares", "square"),
    ("what_at", "a small red circle", ("small", "red", "circle")),
    ("what_at", "nothing", "none"),
    ("happens", "It moves left, quite slowly", ("moves", "left", "slowly")),
    ("happens", "it turns blue", ("turns", "blue")),
    ("speed", "fast", "quickly"),
    ("color", "I cannot tell", None),
])
def test_read_answer(kind, text, value):
    assert read_answer(kind, text) == value


def _words(texts):
    return {w for t in texts for w in re.findall(r"[a-z]+", t.lower())}


def test_vocabulary_corpus_covers_everything_generated():
    corpus = _words(vocabulary_corpus())
    emitted = []
    for task in Task:
        for s in _samples(task, 60):
            emitted.append(s.prompt)
            emitted += [c for c in s.candidates if isinstance(c, str)]
            emitted += list(s.label.get("elements") or {})
    missing = _words(emitted) - corpus
    assert not missing, f"words generated but not in vocabulary_corpus(): {sorted(missing)}"
    assert vocabulary_corpus() == vocabulary_corpus()
