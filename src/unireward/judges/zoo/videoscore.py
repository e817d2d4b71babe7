"""VideoScore v1.1 (TIGER-Lab/VideoScore-v1.1): Mantis-Idefics2 with a 5-way regression head.

The release is Mantis' ``Idefics2ForSequenceClassification``: transformers' ``Idefics2Model`` (SigLIP tower,
perceiver connector, Mistral text model) whose last hidden state goes through ``score`` (a ``Linear(hidden,
5)`` with bias) and is read at the last token of the prompt. transformers has no such class, so it is
defined here on transformers' own ``Idefics2Model``; the checkpoint's parameter names (``model.*``,
``score.*``) load into it unchanged, and the checkpoint's own processor (``AutoProcessor``) does the image
preprocessing, as the reference script does.

The five outputs are, in order: visual quality, temporal consistency, dynamic degree, text-to-video alignment,
factual consistency, each on the VideoFeedback scale (about 1.0-4.0). The entry's aggregate is their mean
(VideoScore's own GenAI-Bench pairwise script compares the averages).

Input, as ``examples/run_videoscore.py``: no chat template; the authors' regression prompt with the caption
filled in, then one ``"<image> "`` per frame; the frames as that many images. Frames: a video file with more
than ``max_frames`` (48 for v1.1) frames is read at indices ``arange(0, n, n / max_frames)`` (truncated to
integers), otherwise every frame; a list of frames gets the same rule. The judge's ``num_frames`` does not
apply (the checkpoint was trained on this rule).

Design choices that differ from the reference script, on purpose:
- Batched: prompts are padded together and each row is read at its last attended token (the reference runs
  one video at a time, where the last token is the last position; the numbers are the same).
- Outputs are kept at full precision (the script rounds to 3 digits for printing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from unireward.judges.zoo.qwen_head import prompt_text
from unireward.judges.zoo.scorer import ScorerInput
from unireward.media import load_video


DIMS = ("visual_quality", "temporal_consistency", "dynamic_degree", "text_to_video_alignment",
        "factual_consistency")


def frame_indices(n: int, max_frames: int) -> list[int]:
    """The reference's frame choice: every frame up to `max_frames`, else ``arange(0, n, n / max_frames)``."""
    if n <= 0:
        raise ValueError("no frames")
    if n <= max_frames:
        return list(range(n))
    return np.arange(0, n, n / max_frames).astype(int).tolist()


def read_frames(src: Any, max_frames: int) -> list[Image.Image]:
    """A video file (PyAV) or a list of frames, reduced to the reference's frames (`frame_indices`)."""
    return load_video(src, max_frames, indices=frame_indices)


def _classifier_class() -> type:
    """``Idefics2ForSequenceClassification`` (Mantis' layout) on transformers' Idefics2Model; built lazily so
    importing this module does not import the Idefics2 code."""
    from transformers.models.idefics2.modeling_idefics2 import Idefics2Model, Idefics2PreTrainedModel

    class Idefics2ForSequenceClassification(Idefics2PreTrainedModel):
        def __init__(self, config):
            super().__init__(config)
            self.num_labels = config.num_labels
            self.model = Idefics2Model(config)
            self.score = nn.Linear(config.text_config.hidden_size, self.num_labels)
            self.post_init()

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, pixel_values: torch.Tensor,
                    pixel_attention_mask: torch.Tensor | None = None) -> torch.Tensor:
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixel_values,
                                pixel_attention_mask=pixel_attention_mask).last_hidden_state
            positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
            last = (attention_mask.bool() * positions).argmax(1)  # last attended token, either padding side
            return self.score(hidden[torch.arange(hidden.shape[0], device=hidden.device), last])

    return Idefics2ForSequenceClassification


class VideoScore:
    """VideoScore v1.1 behind the scorer interface: five regression outputs per video."""

    dims = DIMS

    def __init__(self, source: str, device: str, dtype: Any, local: bool = False, max_frames: int = 48,
                 prompt: str = "videoscore"):
        from transformers import AutoProcessor

        self.processor = AutoProcessor.from_pretrained(source)
        self.model = _classifier_class().from_pretrained(source, dtype=dtype).eval().to(device)
        if self.model.config.num_labels != len(DIMS):
            raise ValueError(f"{source}: expected a {len(DIMS)}-output regression head, found "
                             f"{self.model.config.num_labels}")
        self.template, self.max_frames, self.device = prompt_text(prompt), max_frames, device

    def read_video(self, src: Any) -> list[Image.Image]:
        return read_frames(src, self.max_frames)

    def text(self, x: ScorerInput) -> str:
        return self.template.replace("{text_prompt}", x.prompt) + "<image> " * len(x.images)

    def encode(self, inputs: Sequence[ScorerInput]):
        return self.processor(text=[self.text(x) for x in inputs], images=[x.images for x in inputs],
                              padding=True, return_tensors="pt").to(self.device)

    def score(self, inputs: Sequence[ScorerInput]) -> list[dict[str, float]]:
        batch = self.encode(inputs)
        batch["pixel_values"] = batch["pixel_values"].to(self.model.dtype)
        with torch.inference_mode():
            logits = self.model(**batch).float()
        return [dict(zip(DIMS, row.tolist())) for row in logits]
