"""The baseline zoo: every reward model of the paper's comparison behind the `Judge` interface.

The zoo is data: each model is an entry of ``judges/presets.toml`` (kind, tasks, forms, licence, size, the
backend that loads it and that backend's options, the score rule, published numbers). One factory,
`load_scorer`, turns an entry into a `ScorerJudge`; backends are named in `BACKENDS` as ``module:Class`` and
imported only when an entry that needs them is loaded (lm-eval's lazy registry), so importing unireward never
imports open_clip or a model family's code.

Design choices a user will notice:
- ``source=`` (a local folder) replaces the hub for an entry's weights; the folder layout is the backend's
  (see each backend module). Without it, files come from the hub through `unireward.judges.zoo.hub`.
- Entries that run their authors' code from the hub (``remote_code = true``) load only with
  ``trust_remote_code=True`` (or ``UNIREWARD_TRUST_REMOTE_CODE=1`` for the commands); without it the error
  names the flag.
- Generative entries (VideoScore2, LiFT) take the judge's ``max_new_tokens`` when it is set (else the
  entry's own budget).
- Entries whose in-process loading is not implemented yet (``backend = "planned"``) are listed by
  ``unireward models`` with their published numbers, and loading them says so and what to use instead.
"""

from __future__ import annotations

import importlib
import inspect
import os
from typing import Any

from unireward.judges.config import JudgeConfig


BACKENDS = {
    "clip_hf": "unireward.judges.zoo.clip:ClipHF",
    "open_clip": "unireward.judges.zoo.clip:OpenClipHPS",
    "aesthetic": "unireward.judges.zoo.clip:Aesthetic",
    "blip_reward": "unireward.judges.zoo.blip:BlipReward",
    "qwen2vl_head": "unireward.judges.zoo.qwen_head:QwenRewardHead",
    "ixc_reward": "unireward.judges.zoo.remote:IXCReward",
    "videoscore": "unireward.judges.zoo.videoscore:VideoScore",
    "videoscore2": "unireward.judges.zoo.generative:VideoScore2",
    "lift_vila": "unireward.judges.zoo.generative:LiFTCritic",
    "visionreward_video": "unireward.judges.zoo.generative:VisionRewardVideo",
}

REMOTE_CODE_FLAG = "trust_remote_code=True (commands: UNIREWARD_TRUST_REMOTE_CODE=1)"


def backend_class(name: str) -> type:
    if name not in BACKENDS:
        raise ValueError(f"unknown scorer backend {name!r}; valid: {', '.join(sorted(BACKENDS))}")
    module, _, cls = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def trusts_remote_code(flag: bool | None) -> bool:
    return bool(flag) or os.environ.get("UNIREWARD_TRUST_REMOTE_CODE", "") not in ("", "0", "false", "False")


def load_scorer(preset: Any, config: JudgeConfig, source: str | None = None,
                trust_remote_code: bool | None = None) -> Any:
    """A `ScorerJudge` for a zoo entry (a `Preset` of kind "scorer")."""
    import torch

    from unireward.judges.zoo.scorer import ScorerJudge, ScoreRule

    if preset.backend == "planned":
        raise ValueError(f"{preset.name}: in-process loading is not implemented yet ({preset.note})")
    if preset.remote_code and not trusts_remote_code(trust_remote_code):
        raise ValueError(f"{preset.name} runs its authors' code from the hub ({preset.hub_id}); load it only if you "
                         f"trust that code, with {REMOTE_CODE_FLAG}")
    device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = "auto" if config.dtype == "auto" else getattr(torch, config.dtype)
    if dtype == "auto":
        dtype = torch.float32 if device == "cpu" else torch.bfloat16
    cls = backend_class(preset.backend)
    options = dict(preset.options)
    if config.max_new_tokens is not None and "max_new_tokens" in inspect.signature(cls).parameters:
        options["max_new_tokens"] = config.max_new_tokens  # generative entries: the judge's budget wins
    backend = cls(source or preset.hub_id, device, dtype, local=source is not None, **options)
    rule = ScoreRule(scale=tuple(preset.scale), normalize=preset.normalize, aggregate=preset.aggregate,
                     temperature=preset.temperature, tie_margin=preset.tie_margin)
    return ScorerJudge(preset.name, backend, rule, preset.tasks, preset.forms, config=config)
