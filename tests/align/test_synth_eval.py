"""The measurements of the generation proof and the demo's stage 3 (`unireward.align.synth_eval`)."""

from __future__ import annotations

import pytest

from unireward.align.synth_eval import bootstrap_change, captions, summarize


def test_captions_are_distinct_and_from_the_split():
    from unireward.synth.generate import split_of

    caps = captions("image", "test", 30)
    assert len(caps) == len(set(caps)) == 30 and all(split_of(c) == "test" for c in caps)
    assert captions("image", "test", 30) == caps  # deterministic
    assert all(split_of(c) == "train" for c in captions("video", "train", 10))


def test_summary_and_paired_bootstrap_by_hand():
    before = [[(False, 0.5), (True, 1.0)], [(False, 0.0), (False, 0.5)]]
    after = [[(True, 1.0), (True, 1.0)], [(False, 0.5), (False, 0.5)]]
    assert summarize(before) == {"accuracy": 0.25, "fraction": 0.5}
    assert summarize(after) == {"accuracy": 0.5, "fraction": 0.75}
    ci = bootstrap_change(before, after)
    # per-caption changes: accuracy +0.5 and 0, fraction +0.25 and +0.25: the resampled means lie in [0, 0.5]
    assert ci["accuracy"] == [0.0, 0.5] and ci["fraction"] == pytest.approx([0.25, 0.25])
    same = bootstrap_change(before, before)
    assert same["accuracy"] == [0.0, 0.0]
