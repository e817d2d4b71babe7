"""Reward heads that sit on a backbone's features, with the parameter names of their released checkpoints."""

from __future__ import annotations

import torch
from torch import nn


class MLPHead(nn.Module):
    """The 5-layer MLP of the LAION improved aesthetic predictor and of ImageReward: dim-1024-128-64-16-1 with
    dropout and no activations (both release it that way); parameters ``layers.{0,2,4,6,7}.*``."""

    def __init__(self, dim: int = 768):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(dim, 1024), nn.Dropout(0.2), nn.Linear(1024, 128), nn.Dropout(0.2),
                                    nn.Linear(128, 64), nn.Dropout(0.1), nn.Linear(64, 16), nn.Linear(16, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def ranknet_head(hidden: int, out: int = 2) -> nn.Sequential:
    """HPSv3's ``ranknet`` head: hidden-1024-16-out with ReLU (dropout 0.05); parameters ``{0,3,5}.*`` as in its
    checkpoint (``rm_head.0.weight`` ...). HPSv3 runs it in float32."""
    return nn.Sequential(nn.Linear(hidden, 1024), nn.ReLU(), nn.Dropout(0.05), nn.Linear(1024, 16), nn.ReLU(),
                         nn.Linear(16, out))


def reward_head(kind: str, hidden: int, out: int) -> nn.Module:
    """``linear`` (VideoAlign: one bias-free Linear) or ``ranknet`` (HPSv3)."""
    if kind == "linear":
        return nn.Linear(hidden, out, bias=False)
    if kind == "ranknet":
        return ranknet_head(hidden, out)
    raise ValueError(f"unknown reward head {kind!r}; valid: linear, ranknet")
