"""The public sources of the unified preference dataset, one adapter module each.

The registry is data: a name maps to ``"module:Class"`` and the module is imported only when that source is
converted, so listing sources is instant and a broken optional dependency affects only its own source.
"""

from __future__ import annotations

import importlib

from unireward.data.sources.common import Adapter


SOURCES: dict[str, str] = {
    # image generation
    "hpd": "unireward.data.sources.hpd:HPD",
    "hpdv2": "unireward.data.sources.hpdv2:HPDv2",
    "evalmuse": "unireward.data.sources.evalmuse:EvalMuse",
    "oip": "unireward.data.sources.oip:OIP",
    "pickapic": "unireward.data.sources.pickapic:PickAPic",
    # image understanding
    "llava_critic": "unireward.data.sources.llava_critic:LLaVACritic",
    # video generation
    "videodpo": "unireward.data.sources.videodpo:VideoDPO",
    "lift_hra": "unireward.data.sources.lift_hra:LiFTHRA",
    "videofeedback": "unireward.data.sources.videofeedback:VideoFeedback",
    # video understanding
    "sharegptvideo": "unireward.data.sources.sharegptvideo:ShareGPTVideo",
}


def list_sources() -> list[str]:
    return list(SOURCES)


def get_adapter(name: str) -> Adapter:
    """A fresh adapter for source `name`; an unknown name lists the valid ones."""
    if name not in SOURCES:
        raise ValueError(f"unknown source {name!r}; valid sources: {', '.join(SOURCES)}")
    module, cls = SOURCES[name].split(":")
    return getattr(importlib.import_module(module), cls)()
