"""Exact meaning on hand-made scenes and clips: element matching, ties, video dimensions, answer grades."""

import pytest

from unireward.synth.grammar import ChangeCaption, CountCaption, MotionCaption, ObjectCaption, RelationCaption
from unireward.synth.semantics import (
    grade,
    image_elements,
    image_generation_score,
    video_score,
    winner,
)
from unireward.synth.world import Clip, Obj, Scene, Track, cell_center, clip_facts, track_facts


def obj(shape, color, cell, size="large"):
    return Obj(shape, color, size, *cell_center(*cell))


def test_object_caption_takes_the_best_matching_object():
    cap = ObjectCaption("red", "circle", "large", "top left")
    right = Scene((obj("circle", "red", (0, 0)),))
    assert image_elements(cap, right) == {"large (size)": 1, "red (color)": 1, "circle (shape)": 1,
                                          "top left (position)": 1}
    # a small blue circle at the top left matches 2 of 4; a large red square elsewhere matches 2 of 4 too,
    # a large red circle elsewhere 3 of 4: the best object counts
    scene = Scene((obj("circle", "blue", (0, 0), "small"), obj("circle", "red", (2, 2))))
    assert image_elements(cap, scene) == {"large (size)": 1, "red (color)": 1, "circle (shape)": 1,
                                          "top left (position)": 0}
    assert image_generation_score(image_elements(cap, scene)) == 4.0
    assert image_generation_score(image_elements(cap, Scene())) == 1.0


def test_count_caption_counts_groups_of_equal_colour_and_shape():
    cap = CountCaption(3, "blue", "square")
    three = Scene(tuple(obj("square", "blue", (0, c)) for c in range(3)))
    two = Scene(tuple(obj("square", "blue", (0, c)) for c in range(2)) + (obj("square", "red", (1, 1)),))
    assert image_elements(cap, three) == {"three (count)": 1, "blue (color)": 1, "square (shape)": 1}
    assert image_elements(cap, two) == {"three (count)": 0, "blue (color)": 1, "square (shape)": 1}


def test_relation_needs_both_objects_in_that_relation():
    cap = RelationCaption(("red", "circle"), "left of", ("blue", "square"))
    ok = Scene((obj("circle", "red", (1, 0)), obj("square", "blue", (1, 2))))
    swapped = Scene((obj("circle", "red", (1, 2)), obj("square", "blue", (1, 0))))
    wrong_obj = Scene((obj("circle", "green", (1, 0)), obj("square", "blue", (1, 2))))
    assert list(image_elements(cap, ok).values()) == [1, 1, 1]
    assert list(image_elements(cap, swapped).values()) == [1, 1, 0]
    assert list(image_elements(cap, wrong_obj).values()) == [0, 1, 0]
    # same column: not "left of" (the relation needs a clear horizontal gap)
    stacked = Scene((obj("circle", "red", (0, 1)), obj("square", "blue", (2, 1))))
    assert image_elements(cap, stacked)["left of (relation)"] == 0


def test_relation_between_two_look_alikes_needs_two_objects():
    cap = RelationCaption(("red", "circle"), "above", ("red", "circle"))
    assert len(cap.elements()) == 3
    one = Scene((obj("circle", "red", (0, 0)),))
    two = Scene((obj("circle", "red", (0, 0)), obj("circle", "red", (2, 0))))
    assert list(image_elements(cap, one).values()) == [1, 0, 0]
    assert list(image_elements(cap, two).values()) == [1, 1, 1]


def test_equally_wrong_images_tie():
    cap = ObjectCaption("red", "circle")
    a = Scene((obj("circle", "blue", (0, 0)),))
    b = Scene((obj("square", "red", (2, 2)),))
    sa, sb = (image_generation_score(image_elements(cap, s)) for s in (a, b))
    assert winner(sa, sb) == "tie"
    assert winner(5.0, sa) == "A" and winner(sa, 5.0) == "B"


def moving(color="red", shape="square", step=(0.03, 0.0), n=8, start=(0.2, 0.5), jump_at=None):
    states = []
    for t in range(n):
        x, y = start[0] + step[0] * t, start[1] + step[1] * t
        if jump_at is not None and t >= jump_at:
            x += 0.15
        states.append(Obj(shape, color, "small", x, y))
    return Track(tuple(states))


@pytest.mark.parametrize("step, direction, speed", [
    ((0.03, 0), "right", "slowly"), ((-0.07, 0), "left", "quickly"), ((0, -0.03), "up", "slowly"),
    ((0, 0.07), "down", "quickly"), ((0.005, 0), None, None),
])
def test_track_direction_and_speed(step, direction, speed):
    f = track_facts(moving(step=step, start=(0.5, 0.5)))
    assert (f.direction, f.speed, f.jump) == (direction, speed, False)


def test_a_jump_does_not_change_direction_or_speed_but_is_detected():
    f = track_facts(moving(jump_at=4))
    assert (f.direction, f.speed, f.jump) == ("right", "slowly", True)


def test_video_dims_follow_the_documented_rules():
    cap = MotionCaption("red", "square", "right", "slowly")
    n = 8
    clean = Clip((moving(),), (1.0,) * n)
    vs = video_score(cap, clip_facts(clean))
    assert vs.dims == {"visual quality": 4, "temporal consistency": 4, "dynamic degree": 3,
                       "text-to-video alignment": 4, "factual consistency": 4}
    assert vs.score == 10.0
    flicker = Clip((moving(),), (1.0, 0.55) * 4)
    vs = video_score(cap, clip_facts(flicker))
    assert (vs.dims["visual quality"], vs.dims["temporal consistency"], vs.score) == (2, 3, 8.8)
    jump = Clip((moving(jump_at=3),), (1.0,) * n)
    vs = video_score(cap, clip_facts(jump))
    assert (vs.dims["temporal consistency"], vs.dims["factual consistency"], vs.score) == (2, 2, 8.4)
    wrong_way = Clip((moving(step=(-0.03, 0), start=(0.8, 0.5)),), (1.0,) * n)
    vs = video_score(cap, clip_facts(wrong_way))
    assert vs.elements == {"red (color)": 1, "square (shape)": 1, "right (direction)": 0, "slowly (speed)": 1}
    assert vs.dims["text-to-video alignment"] == 3 and vs.score == 8.65  # round(1 + 3 * 0.75) = 3 (half up)


def test_colour_change_and_static_dynamic_degree():
    o = Obj("circle", "red", "large", 0.5, 0.5)
    turns = Clip((Track((o,) * 4 + (Obj("circle", "blue", "large", 0.5, 0.5),) * 4),), (1.0,) * 8)
    facts = clip_facts(turns)
    assert facts.dynamic == 2 and facts.tracks[0].event == "turns"
    assert video_score(ChangeCaption("red", "circle", "blue"), facts).elements["turns blue (color change)"] == 1
    assert video_score(ChangeCaption("red", "circle", "green"), facts).elements["turns green (color change)"] == 0
    assert clip_facts(Clip((Track((o,) * 8),), (1.0,) * 8)).dynamic == 1


@pytest.mark.parametrize("kind, truth, answer, g", [
    ("count", "three", "three", 1.0), ("count", "three", "two", 0.5), ("count", "three", "one", 0.0),
    ("where", "top left", "top", 0.5), ("where", "top left", "left", 0.5), ("where", "top left", "center", 0.0),
    ("what_at", "a small red circle", "a large red circle", 2 / 3), ("what_at", "nothing", "a small red circle", 0),
    ("happens", "it moves left slowly", "it moves right slowly", 2 / 3),
    ("happens", "it moves left slowly", "it turns red", 0.0), ("happens", "it turns blue", "it turns red", 0.5),
    ("direction", "none", "left", 0.0), ("direction", "left", "LEFT!", 1.0), ("color", "red", "no idea", 0.0),
])
def test_grades(kind, truth, answer, g):
    assert grade(kind, truth, answer) == pytest.approx(g)
