"""Reward functions with TRL's signature, in-process and over HTTP against a real reward server (tiny
Qwen2.5-VL, logprob mode): same values both ways, Pref-GRPO groups, weighted mixes, dotted paths, and the
client's retries and errors against scripted servers."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from tests.rewards.conftest import image, vlm_batch
from unireward.rewards import PointwiseReward, RewardClient, RewardServerError, WeightedReward, WinRateReward
from unireward.rewards.inputs import image_url


def test_pointwise_vlm_reward_in_process_equals_http(reward_judge, reward_url):
    prompts, completions, kw = vlm_batch()
    local = PointwiseReward(reward_judge, task="image_understanding")(prompts, completions, **kw)
    remote = PointwiseReward(url=reward_url, task="image_understanding")(prompts, completions, **kw)
    assert remote == pytest.approx(local, abs=1e-6)
    want = reward_judge.score_batch([{"task": "image_understanding", "prompt": f"What is in image {p}?",
                                      "candidate": c[0]["content"], "media": kw["image"][k]}
                                     for k, (p, c) in enumerate(zip([0, 0, 1, 1], completions))])
    assert local == pytest.approx([s.normalized for s in want])
    assert all(0 < r < 1 for r in local)


def test_generation_policy_reward_takes_images_arrays_and_tensors(reward_judge, reward_url):
    import torch

    pil = image(3)
    arr = np.array(pil)
    ten = torch.from_numpy(arr).permute(2, 0, 1).float() / 255
    prompts = ["a red fox"] * 3
    local = PointwiseReward(reward_judge)(prompts, [pil, arr, ten])  # task inferred: image_generation
    assert local[0] == pytest.approx(local[1]) and local[1] == pytest.approx(local[2], abs=1e-3)
    remote = PointwiseReward(url=reward_url, normalize=False)(prompts, [pil, arr, ten])
    assert remote[0] == pytest.approx(reward_judge.score("image_generation", "a red fox", pil).value, abs=1e-4)


def test_win_rate_reward_groups_completions_by_prompt(reward_judge, reward_url):
    prompts, completions, kw = vlm_batch(n_prompts=2, g=3)
    local = WinRateReward(reward_judge, both_orders=True)(prompts, completions, **kw)
    remote = WinRateReward(url=reward_url, both_orders=True)(prompts, completions, **kw)
    assert remote == pytest.approx(local)
    assert sum(local[:3]) == pytest.approx(1.5) and sum(local[3:]) == pytest.approx(1.5)  # 3 pairs, 1 point each
    single = WinRateReward(reward_judge)(["only one"], [image(1)])
    assert single == [None]  # a group of one has no win rate


def test_async_twin_and_failures_are_none(reward_judge, reward_url):
    prompts, completions, kw = vlm_batch(1, 2)
    r = PointwiseReward(url=reward_url, task="image_understanding")
    assert asyncio.run(r.as_async()(prompts, completions, **kw)) == pytest.approx(r(prompts, completions, **kw))
    # the video-generation point template cannot be read in logprob mode: None (no reward), not a silent 0
    frames = [image(k) for k in range(4)]
    assert PointwiseReward(reward_judge, task="video_generation")(["a fox"], [frames]) == [None]
    with pytest.raises(ValueError, match="completion 0: image_understanding needs the sample's image"):
        PointwiseReward(reward_judge, task="image_understanding")(prompts, completions)


def test_weighted_mix_of_judge_rewards_and_plain_callables(reward_judge, reward_url):
    prompts, completions, kw = vlm_batch(1, 2)

    def length(prompts, completions, **kwargs):
        return [float(len(c[0]["content"])) for c in completions]

    async def maybe(prompts, completions, **kwargs):
        return [None, 1.0]

    judge = PointwiseReward(url=reward_url, task="image_understanding")
    mix = WeightedReward([(judge, 2.0), (length, 0.5), (maybe, 10.0)])
    got = mix(prompts, completions, **kw)
    base = judge(prompts, completions, **kw)
    assert got[0] == pytest.approx(2 * base[0] + 0.5 * 6)  # "A cat." has 6 characters; maybe gave None
    assert got[1] == pytest.approx(2 * base[1] + 0.5 * 6 + 10)
    assert mix.__name__ == "weighted(unireward_score,length,maybe)"
    assert asyncio.run(mix.as_async()(prompts, completions, **kw)) == pytest.approx(got)
    assert WeightedReward([(maybe, 1.0)])(prompts, completions) == [None, 1.0]
    with pytest.raises(TypeError, match=r"rewards\[0\]"):
        WeightedReward([(length, "heavy")])


def test_dotted_path_functions_read_the_environment(reward_url, monkeypatch):
    import importlib

    monkeypatch.setenv("UNIREWARD_REWARD_URL", reward_url)
    rewards = importlib.import_module("unireward.rewards")
    fn = rewards.image_understanding_score
    assert fn.__name__ == "image_understanding_score"
    prompts, completions, kw = vlm_batch(1, 2)
    assert fn(prompts, completions, **kw) == pytest.approx(
        PointwiseReward(url=reward_url, task="image_understanding")(prompts, completions, **kw))
    monkeypatch.delenv("UNIREWARD_REWARD_URL")
    with pytest.raises(RuntimeError, match="set UNIREWARD_REWARD_URL"):
        rewards.image_generation_win_rate(["x"], [image(0)])


# ---------------------------------------------------------------- the client against scripted servers
def test_client_retries_429_and_5xx_honouring_retry_after_and_not_400():
    from tests.judges.test_openai import Scripted

    with Scripted([("status", 429), ("status", 503)]) as srv:  # then the default answer (a chat completion)
        c = RewardClient(f"http://127.0.0.1:{srv.port}", backoff=0.01)
        out = c.call("post", "/v1/chat/completions", {"x": 1})
        assert out["choices"][0]["message"]["content"] == "Image 1 is better." and c.calls == 3
    with Scripted([("status", 400)]) as srv:
        c = RewardClient(f"http://127.0.0.1:{srv.port}", backoff=0.01)
        with pytest.raises(RewardServerError, match="answered 400: scripted 400") as e:
            c.call("post", "/v1/chat/completions", {})
        assert e.value.status == 400 and c.calls == 1
    with Scripted([("sleep", 2.0)] * 2) as srv:
        c = RewardClient(f"http://127.0.0.1:{srv.port}", timeout=0.3, max_retries=1, backoff=0.01)
        with pytest.raises(RewardServerError, match="after 2 tries"):
            c.call("post", "/v1/chat/completions", {})


def test_client_surfaces_the_servers_field_message(reward_url):
    c = RewardClient(reward_url)
    with pytest.raises(RewardServerError, match=r"400: items\[0\]\.candidate: file:// URLs are never fetched"):
        c.call("score", [{"task": "image_generation", "prompt": "x", "candidate": "file:///etc/passwd"}])
    ok = c.call("score", [{"task": "image_generation", "prompt": "x", "candidate": image_url(image(0))}])
    assert not math.isnan(ok[0]["value"])
