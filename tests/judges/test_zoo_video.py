"""The video entries of the zoo (VideoScore v1.1, VideoScore2, LiFT-Critic, VisionReward) on tiny models in the
real layouts where the architecture can be built locally; the reading rules (frame choice, answer parsing,
soft scores, checklist sums) checked by hand against the reference scripts' formulas."""

from __future__ import annotations

import math

import av
import numpy as np
import pytest
import torch

import unireward as ur
from tests.conftest import random_image
from unireward.judges.zoo import tiny
from unireward.judges.zoo.scorer import ScorerInput
from unireward.media import write_video
from unireward.tasks import Task


PROMPTS = ["a red fox", "a blue cat in the snow", "a green car"]


@pytest.fixture(scope="module")
def videoscore_dir(tmp_path_factory):
    return str(tiny.build_videoscore(tmp_path_factory.mktemp("vs") / "m"))


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    frames = [[random_image(20 * k + i, size=40 + 8 * k) for i in range(3 + k)] for k in range(3)]
    mp4 = write_video(tmp_path_factory.mktemp("clips") / "v.mp4", [random_image(90 + i, 48) for i in range(10)],
                      fps=5)
    return frames, str(mp4)


# ---------------------------------------------------------------------------------------------- VideoScore v1.1
def test_videoscore_frame_rule_is_the_reference_one(clips):
    from unireward.judges.zoo.videoscore import frame_indices, read_frames

    assert frame_indices(10, 48) == list(range(10))
    assert frame_indices(60, 48) == np.arange(0, 60, 60 / 48).astype(int).tolist()
    assert frame_indices(10, 4) == [0, 2, 5, 7]
    _, mp4 = clips
    with av.open(mp4) as c:
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    picked = read_frames(mp4, 4)
    assert len(picked) == 4
    for got, i in zip(picked, [0, 2, 5, 7]):
        assert np.array_equal(np.asarray(got), decoded[i])


def test_videoscore_by_hand_batched_and_on_an_mp4(videoscore_dir, clips):
    frames, mp4 = clips
    j = ur.load_judge("VideoScore-v1.1", source=videoscore_dir, device="cpu", batch_size=2)
    be = j.backend
    vids = [frames[0], frames[1], mp4]
    scores = j.score_batch([{"task": "video_generation", "prompt": p, "candidate": v} for p, v in zip(PROMPTS, vids)])
    assert all(s.ok for s in scores), [s.error for s in scores]
    # by hand, one video at a time as the reference script: the prompt, one "<image> " per frame, last token
    for p, v, s in zip(PROMPTS, vids, scores):
        x = ScorerInput(p, Task.VIDEO_GENERATION, be.read_video(v))
        text = be.text(x)
        assert text.startswith("\nSuppose you are an expert") and f'the text prompt is "{p}",' in text
        assert text.endswith("follows:\n" + "<image> " * len(x.images))
        batch = be.processor(text=text, images=x.images, return_tensors="pt")
        with torch.no_grad():
            hidden = be.model.model(**batch).last_hidden_state[0, -1]
            expected = be.model.score(hidden).tolist()
        assert list(s.dims.values()) == pytest.approx(expected, abs=1e-4)
        assert list(s.dims) == ["visual_quality", "temporal_consistency", "dynamic_degree",
                                "text_to_video_alignment", "factual_consistency"]
        assert s.value == pytest.approx(sum(expected) / 5, abs=1e-4) and s.scale == (1, 4)
    v = j.compare("video_generation", PROMPTS[0], frames[0], mp4)
    sa, sb = (s.value for s in j.score_batch([{"task": "video_generation", "prompt": PROMPTS[0], "candidate": c}
                                             for c in (frames[0], mp4)]))
    assert v.winner == ("A" if sa > sb else "B") and v.prob_a == pytest.approx(1 / (1 + math.exp(-(sa - sb))))
    bad = j.score_batch([{"task": "video_generation", "prompt": "x", "candidate": "/nonexistent.mp4"}])[0]
    assert bad.value is None and "nonexistent.mp4" in bad.error
