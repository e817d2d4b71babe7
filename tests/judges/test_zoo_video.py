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


# ---------------------------------------------------------------------------------------------- VideoScore2
@pytest.fixture(scope="module")
def videoscore2_dir(tmp_path_factory):
    from unireward.tiny_models import build_qwen2_5_vl

    return str(build_qwen2_5_vl(tmp_path_factory.mktemp("vs2") / "m"))


def test_videoscore2_reads_the_authors_answer_format_by_hand(videoscore2_dir):
    from transformers import AutoTokenizer

    from unireward.judges.zoo.generative import parse_videoscore2, read_videoscore2, soft_score

    tok = AutoTokenizer.from_pretrained(videoscore2_dir)
    answer = ("The clip is sharp. visual quality: 4; \ntext-to-video alignment: 3,\n"
              "physical/common-sense consistency: 2")
    assert parse_videoscore2(answer) == (4, 3, 2)
    assert parse_videoscore2("visual quality: 4; text-to-video alignment: 3") is None
    ids = tok.encode(answer, add_special_tokens=False)
    torch.manual_seed(0)
    steps = [torch.randn(len(tok)) for _ in ids]
    digit = {s: tok.encode(str(s), add_special_tokens=False)[0] for s in range(1, 6)}
    got = read_videoscore2(tok, answer, ids, steps)
    for dim, written in zip(("visual_quality", "text_alignment", "physical_consistency"), (4, 3, 2)):
        k = [i for i, t in enumerate(ids) if t == digit[written]][-1 if dim != "visual_quality" else 0]
        p = torch.softmax(steps[k], -1)
        probs = {s: p[t].item() for s, t in digit.items()}
        best = max(probs, key=probs.get)
        assert got[dim] == pytest.approx(best * probs[best] / sum(probs.values()), rel=1e-5)
        assert soft_score(tok, steps[k]) == pytest.approx(got[dim])
    assert got.text == answer
    hard = read_videoscore2(tok, answer, ids, steps, reading="hard")
    assert dict(hard) == {"visual_quality": 4.0, "text_alignment": 3.0, "physical_consistency": 2.0}
    assert "unparseable" in read_videoscore2(tok, "no scores here", [], [])


def test_videoscore2_loads_prompts_and_generates_batched(videoscore2_dir, clips):
    frames, mp4 = clips
    j = ur.load_judge("VideoScore2", source=videoscore2_dir, device="cpu", batch_size=2, num_frames=4,
                      max_new_tokens=6)
    be = j.backend
    x = ScorerInput(PROMPTS[0], Task.VIDEO_GENERATION, frames[0])
    text = be.processor.apply_chat_template(be.messages(x), add_generation_prompt=True, tokenize=False)
    assert "<|video_pad|>" in text and "text prompt: \na red fox." in text and text.endswith("<|im_start|>assistant\n")
    batch = be.encode([x, ScorerInput(PROMPTS[1], Task.VIDEO_GENERATION, frames[1])])
    assert batch["input_ids"].shape[0] == 2 and "pixel_values_videos" in batch
    scores = j.score_batch([{"task": "video_generation", "prompt": p, "candidate": v}
                            for p, v in zip(PROMPTS, [frames[0], frames[1], mp4])])
    # a random tiny model does not write the three scores: each item fails alone, with the answer, never a default
    assert all(s.value is None and "unparseable VideoScore2 answer" in s.error for s in scores)
    v = j.compare("video_generation", PROMPTS[0], frames[0], mp4)
    assert v.winner is None and v.error.startswith("A:")


# ---------------------------------------------------------------------------------------------- LiFT, VisionReward
def test_lift_reading_by_hand_and_the_missing_package_error():
    from unireward.judges.zoo.generative import lift_label_score, read_lift

    # the authors' demo answers (LiFT demo/critic_output_13b.json, video 1)
    answers = ["Bad. The video does not show the panda wearing a futuristic spacesuit as mentioned in the caption.",
               "Bad. The panda's limbs are missing in the video, and there are issues with the facial generation.",
               "Normal. The panda's movements in the video are basically normal, with slight coordination issues."]
    n = read_lift(answers)
    assert dict(n) == {"semantic_consistency": 0.05, "fidelity": 0.05, "motion": 0.2}
    assert ur.judges.zoo.scorer.ScoreRule(scale=(0.05, 0.9), aggregate="mean").value(n) == pytest.approx(0.1)
    assert lift_label_score("Good. No obvious problems.") == 0.9
    assert lift_label_score("Normal, though Bad lighting") == 0.2  # the reference checks Normal first
    with pytest.raises(ValueError, match="llava"):
        ur.load_judge("LiFT-Critic", device="cpu")


def test_visionreward_needs_the_flag_and_sums_its_checklist(monkeypatch):
    from unireward.judges.zoo.generative import checklist_score, second_frames

    monkeypatch.delenv("UNIREWARD_TRUST_REMOTE_CODE", raising=False)
    with pytest.raises(ValueError, match="trust_remote_code=True"):
        ur.load_judge("VisionReward")
    w = [0.5, 0.25, 0.125, 0.125]
    assert checklist_score(["yes", "no", "yes", "Yes"], w) == pytest.approx((0.5 - 0.25 + 0.125 - 0.125) / 4)
    a, b = ["yes", "yes", "no", "no"], ["no", "yes", "yes", "no"]
    diff = sum(((x == "yes") - (y == "yes")) * 2 * wi for x, y, wi in zip(a, b, w))
    assert (checklist_score(a, w) > checklist_score(b, w)) == (diff > 0)  # the reference's compare
    with pytest.raises(ValueError, match="weights"):
        checklist_score(["yes"], w)
    ts = [i / 8 for i in range(30)]  # 8 fps, 3.6 s: seconds 0..4 -> closest frames 0, 8, 16, 24, 29
    assert second_frames(ts) == [0, 8, 16, 24, 29]
    assert second_frames(ts, max_frames=2) == [0, 8]


# ---------------------------------------------------------------------------------------------- VideoReward release
@pytest.mark.parametrize("layout", ["full", "lora"])
def test_videoreward_loads_the_released_layout(tmp_path, monkeypatch, clips, layout):
    """A tiny VideoReward written as VideoAlign's trainer writes it (model.pth, or adapter + non-LoRA state, keys
    in transformers 4.45 names, LoRA over a Qwen2-VL with the reward tokens) loads through `source=`: converted
    (LoRA merged with peft, head and norms from the release), its scores equal the authors' unmerged PEFT model."""
    from unireward.judges.zoo.videoalign import REWARD_TOKENS

    monkeypatch.setenv("UNIREWARD_CACHE", str(tmp_path / "cache"))
    root, ref, proc = tiny.build_videoalign_release(tmp_path / "va", layout=layout)
    j = ur.load_judge("VideoReward", source=str(root), device="cpu", batch_size=2)
    be = j.backend
    special = proc.tokenizer.convert_tokens_to_ids(REWARD_TOKENS)
    assert be.read == "tokens" and be.special_ids == special
    frames, mp4 = clips
    vids = [frames[0], frames[1], mp4]
    scores = j.score_batch([{"task": "video_generation", "prompt": p, "candidate": v} for p, v in zip(PROMPTS, vids)])
    assert all(s.ok for s in scores), [s.error for s in scores]
    norm = tiny.VIDEOALIGN_NORM
    inner, head = ref.base_model.model.model, ref.base_model.model.rm_head
    for p, v, s in zip(PROMPTS, vids, scores):  # by hand, one video at a time, on the unmerged reference
        x = ScorerInput(p, Task.VIDEO_GENERATION, j._media(Task.VIDEO_GENERATION, v))  # the judge's frames
        batch = be.encode([x])
        text = be.processor.apply_chat_template(be.messages(x), add_generation_prompt=True, tokenize=False)
        assert proc.tokenizer(text)["input_ids"] == be.processor.tokenizer(text)["input_ids"]
        with torch.no_grad():
            logits = head(inner(**batch).last_hidden_state[0])[:, 0]
        ids = batch["input_ids"][0]
        raw = [logits[(ids == t).nonzero().item()].item() for t in special]  # one value per reward token
        expected = {d: (r - norm[f"{d}_mean"]) / norm[f"{d}_std"] for d, r in zip(("VQ", "MQ", "TA"), raw)}
        assert s.dims == pytest.approx(expected, abs=1e-4)
        assert s.value == pytest.approx(sum(expected.values()), abs=1e-4)  # Overall = VQ + MQ + TA
    # the merged weights are W + (alpha / r) B A, computed here from the reference's LoRA modules
    name = "model.language_model.layers.0.mlp.down_proj"
    lora = ref.base_model.model.get_submodule(name)
    merged = lora.base_layer.weight + 8 / 4 * lora.lora_B["default"].weight @ lora.lora_A["default"].weight
    assert torch.allclose(be.model.get_submodule(name).weight, merged, atol=1e-6)
    assert not torch.allclose(lora.base_layer.weight, merged, atol=1e-3)  # the LoRA is not a no-op
    assert (tmp_path / "cache" / "converted" / "videoalign").is_dir()  # converted once, cached
