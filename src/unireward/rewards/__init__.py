"""unireward.rewards: RL reward functions over any unireward judge, in-process or over HTTP.

Classes (configure in code): `PointwiseReward` (expected score), `WinRateReward` (Pref-GRPO group win
rate), `WeightedReward` (weighted mixes, plain callables included), `RewardClient` (async client for
`unireward serve`), `win_rates` (the Pref-GRPO arithmetic).

Ready-made functions for dotted paths (``trl grpo --reward_funcs unireward.rewards.image_understanding_score``):
they read the judge from the environment on first call: ``UNIREWARD_REWARD_URL`` (a `unireward serve`
address, with ``UNIREWARD_API_KEY`` if it needs one) or else ``UNIREWARD_JUDGE`` (a spec loaded
in-process, logprob mode). Names: ``{image,video}_{understanding,generation}_score`` and
``{image,video}_{understanding,generation}_win_rate``.

Importing this package imports no extra (httpx is a core dependency; torch loads only with a local judge).
"""

from __future__ import annotations

import os
from typing import Any

from unireward.rewards.client import RewardClient, RewardServerError
from unireward.rewards.functions import AsyncReward, JudgeReward, PointwiseReward, WeightedReward, WinRateReward
from unireward.rewards.winrate import win_rates


__all__ = ["AsyncReward", "JudgeReward", "PointwiseReward", "RewardClient", "RewardServerError", "WeightedReward",
           "WinRateReward", "from_env", "win_rates"]


def from_env(kind: str, task: str) -> JudgeReward:
    """A reward of `kind` ("score" or "win_rate") for `task`, on the judge the environment names."""
    url, spec = os.environ.get("UNIREWARD_REWARD_URL"), os.environ.get("UNIREWARD_JUDGE")
    if not url and not spec:
        raise RuntimeError(f"unireward.rewards.{task}_{kind}: set UNIREWARD_REWARD_URL (a `unireward serve` address) "
                           "or UNIREWARD_JUDGE (a judge spec to load in-process)")
    cls = PointwiseReward if kind == "score" else WinRateReward
    name = f"{task}_{kind}"
    if url:
        return cls(url=url, task=task, api_key=os.environ.get("UNIREWARD_API_KEY"), name=name)
    return cls(spec, task=task, name=name)


def _lazy(kind: str, task: str) -> Any:
    box: dict[str, JudgeReward] = {}

    def reward(prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        if "r" not in box:
            box["r"] = from_env(kind, task)
        return box["r"](prompts, completions, **kwargs)

    reward.__name__ = reward.__qualname__ = f"{task}_{kind}"
    reward.__doc__ = f"TRL GRPO reward: the judge's {kind.replace('_', ' ')} for {task} (judge from the environment)."
    return reward


image_understanding_score = _lazy("score", "image_understanding")
video_understanding_score = _lazy("score", "video_understanding")
image_generation_score = _lazy("score", "image_generation")
video_generation_score = _lazy("score", "video_generation")
image_understanding_win_rate = _lazy("win_rate", "image_understanding")
video_understanding_win_rate = _lazy("win_rate", "video_understanding")
image_generation_win_rate = _lazy("win_rate", "image_generation")
video_generation_win_rate = _lazy("win_rate", "video_generation")
