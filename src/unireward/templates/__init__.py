"""Prompt templates (as data, one file per task), the one place prompts are rendered, and the answer parsers.

A template is a `Template` value: the instruction text with `{prompt}` (and `{answer}`, `{answer_a}`,
`{answer_b}` for understanding tasks), the answer phrases or score format it asks for, its native scale,
the frames per video and answer decimals its checkpoints were trained with, and the assistant prefix used
by logprob mode. Media never appear in the text: the judge puts images and frames before it, as the
released checkpoints were trained. `render_item` is the one rendering used by the judges and the training
exports; it neutralises chat-control sequences in the user's strings (`neutralize`).

Families (the structure of each follows its checkpoints' training prompt; see each task module):
- ``v1``: the Qwen-based UnifiedReward checkpoints ("Image 1 is better", "Final Score: 3.7").
- ``v1-llava``: the LLaVA-OneVision checkpoints ("Image 1 is better than Image 2."; the LLaVA-Critic
  layout "The first response: [...]" for understanding pairs).
- ``2.0``: float scores per dimension (Alignment/Coherence/Style for images, Alignment/Physics/Style on 16
  frames for video) and pairwise relative scores that sum to 1. Understanding tasks use the v1 templates.
- ``think``: an example ``<think>`` block of per-dimension scores and totals, then ``<answer>``; the
  UnifiedReward-Think-7b and Think-qwen-7b checkpoints. Pointwise uses the v1 templates (the Think
  checkpoints were trained on pairwise data only; upstream issue #43).
- ``think-qwen3vl``: the strict-format prompt of the Think-qwen3vl checkpoints (numbered procedure, the
  caption or question inline in 「...」, constraints, required 3-line blocks); pointwise as ``think``.
- any path to a ``.yaml``/``.toml`` file in the schema of `unireward.templates.files`.

Which templates logprob mode may read (``logprob_prefixes`` not None), and why: logprob mode places an
assistant prefix right after the prompt and reads the next-token distribution there, which is only sound
where the trained answer puts the value at that position, or after a fixed marker that follows free
reasoning.
- Allowed: v1/v1-llava pairwise image and video generation and the v1 image-understanding pair (the
  answer is the verdict); the v1 video-understanding pair (read after "Overall Judgment: ", the marker
  the answer writes after its reasons); v1 pointwise image generation, image and video understanding
  (read after "Final Score: ", which ends the element list or the critique).
- Not offered: v1 pointwise video generation (the answer writes five dimension lines before the final
  score, which the score depends on); 2.0 pointwise (only the first dimension line would follow the
  prompt); 2.0 pairwise (relative scores in blocks); the LLaVA-Critic understanding pairs of v1-llava (the
  verdict comes at an unmarked place inside the reasoning); think and think-qwen3vl (reasoning first).

Parsing rules (public: `parse_verdict`, `parse_score`): numbers are parsed as numbers, the last
``Final Score:`` wins, the last verdict phrase wins (after the last ``Overall Judgment`` when present),
markdown emphasis and a degree adverb ("is slightly better") are allowed, and an answer that states no
verdict or score (``nan`` included) gives ``None`` with an `error`; never a default winner.
"""

from __future__ import annotations

from unireward.templates.base import (
    FAMILIES,
    Template,
    get_template,
    list_templates,
    neutralize,
    render_item,
)
from unireward.templates.files import TemplateFileError, dump_family, load_family
from unireward.templates.parse import answer_points, parse_answer, parse_score, parse_verdict


__all__ = [
    "FAMILIES",
    "Template",
    "TemplateFileError",
    "dump_family",
    "get_template",
    "list_templates",
    "load_family",
    "neutralize",
    "answer_points",
    "parse_answer",
    "parse_score",
    "parse_verdict",
    "render_item",
]
