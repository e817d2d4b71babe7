"""The shipped small answerer (assets/small-answerer) through `construct`'s `vlm:` generator: it answers held-out
world questions, pictures and frames laid out as it was trained, and is mediocre, as the alignment experiments
need (right often enough to sample good answers, wrong often enough to improve)."""

from __future__ import annotations

from pathlib import Path

import pytest

from unireward.construct.generators import load_generator
from unireward.construct.items import PromptItem
from unireward.synth import make_sample, write_sample
from unireward.synth.semantics import grade
from unireward.tasks import Form


ANSWERER = Path(__file__).resolve().parents[2] / "assets" / "small-answerer"


@pytest.mark.parametrize("task", ["image_understanding", "video_understanding"])
def test_small_answerer_is_mediocre_on_held_out_questions(task, tmp_path):
    gen = load_generator(f"vlm:{ANSWERER}?max_new_tokens=12&batch_size=8&video_as=frames&num_frames=8", task)
    right = []
    for i in range(40):
        s = make_sample(task, Form.POINT, "test", i)
        rec = write_sample(s, tmp_path, f"q{i}", f"m/{i}")
        media = str(tmp_path / next(iter(rec.media[0].values())))
        (answer,) = gen.generate(PromptItem(f"q{i}", rec.prompt, i, media=media), 1, seed=i, media_dir=tmp_path)
        right.append(grade(s.meta["kind"], s.meta["truth"], answer.text.strip()) == 1)
    accuracy = sum(right) / len(right)
    assert 0.2 <= accuracy <= 0.85, accuracy  # chance is below 0.2 for most question kinds; 0.85+ is not mediocre
