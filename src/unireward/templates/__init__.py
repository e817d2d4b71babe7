"""Prompt templates (as data, one file per task) and the parsers of judge answers.

A template is a `Template` value: the instruction text with `{prompt}` (and `{answer}`, `{answer_a}`,
`{answer_b}` for understanding tasks), the answer phrases or score format it asks for, its native scale,
and the assistant prefix used by logprob mode. Media never appear in the text: the judge puts images and
frames before it, as the released checkpoints were trained.

Families:
- ``v1``: the Qwen-based UnifiedReward checkpoints ("Image 1 is better", "Final Score: 3.7").
- ``v1-llava``: the LLaVA-OneVision checkpoints ("Image 1 is better than Image 2.").
- ``2.0``: float scores per dimension (Alignment/Coherence/Style for images, Alignment/Physics/Style for
  video) and pairwise relative scores that sum to 1. Understanding tasks use the v1 templates.
- ``think``: reasoning inside ``<think>`` then the verdict inside ``<answer>``; pointwise uses the v1
  templates (the Think checkpoints were trained on pairwise data only; upstream issue #43).

Parsing rules (public: `parse_verdict`, `parse_score`): numbers are parsed as numbers, the last
``Final Score:`` wins, the last verdict phrase wins (after the last ``Overall Judgment`` when present),
and an answer that states no verdict or score (``nan`` included) gives ``None`` with an `error`; never a
default winner.
"""

from __future__ import annotations

from unireward.templates.base import FAMILIES, Template, get_template, list_templates
from unireward.templates.parse import parse_answer, parse_score, parse_verdict


__all__ = [
    "FAMILIES",
    "Template",
    "get_template",
    "list_templates",
    "parse_answer",
    "parse_score",
    "parse_verdict",
]
