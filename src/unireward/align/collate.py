"""`PreferenceCollator`: TRL's vision preference collator, extended to videos — the video DPO path TRL lacks.

TRL's `DataCollatorForVisionPreference` tokenises prompts (left-padded, with their images), chosen and rejected
completions (right-padded), concatenates them and builds the ``completion_mask``; it knows images only, so a
video prompt reaches the model with ``<|video_pad|>`` tokens and no pixels. This collator is the smallest
change that fixes that, and everything else stays TRL's code:

1. Each row is prepared: its video files are decoded to ``num_frames`` uniformly sampled frames and every
   image or frame is shrunk to ``max_pixels`` (exactly what `unireward construct`'s ``vlm:`` generator feeds
   the model when it samples answers); plain-text prompts get their media placeholders; the architecture's
   system turn is added when the prompt has none (as the generator does).
2. ``video_as="frames"``: each video placeholder becomes K image placeholders and the frames join the row's
   images, so TRL's collator runs unchanged (upstream fed LLaVA-Video its frames as images).
   ``video_as="video"`` (default): TRL's collator runs with a processor wrapper that adds ``videos=`` (the
   batch's videos, repeated for the chosen and the rejected half, with ``do_sample_frames=False`` since the
   frames are already sampled) to the one processor call that carries the images — the prompt call. The
   processor's video outputs (``pixel_values_videos``, ``video_grid_thw``, ``second_per_grid_ts``,
   ``mm_token_type_ids``) then flow to the model as TRL forwards every batch key.

A video that cannot be decoded raises `MediaError` naming the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trl.trainer.dpo_trainer import DataCollatorForVisionPreference

from unireward.media import MediaError, load_image, load_video


@dataclass
class PreferenceCollator(DataCollatorForVisionPreference):
    """Vision preference batches with images and videos (native, or as frames)."""

    num_frames: int = 8
    max_pixels: int | None = None
    video_as: str = "video"
    system_prompt: str | None = None

    def torch_call(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        examples = [self.prepare(dict(e)) for e in examples]
        videos = [v for e in examples for v in e.pop("videos")]
        if not videos:
            return super().torch_call(examples)
        base = DataCollatorForVisionPreference(processor=_WithVideos(self.processor, videos * 2),
                                               max_length=self.max_length, pad_to_multiple_of=self.pad_to_multiple_of,
                                               return_tensors=self.return_tensors)
        return base.torch_call(examples)

    def prepare(self, example: dict[str, Any]) -> dict[str, Any]:
        """One row with its media loaded, placeholders in its prompt, and (frames mode) videos as images."""
        row = example.pop("row_id", "row ?")
        try:
            images = [load_image(im, self.max_pixels, name=f"{row}: image") for im in example.get("images") or []]
            videos = [load_video(v, self.num_frames, self.max_pixels, name=f"{row}: video")
                      for v in example.get("videos") or []]
        except MediaError as e:
            raise MediaError(str(e) if str(e).startswith(row) else f"{row}: {e}") from None
        prompt = _structured(example["prompt"], len(images), len(videos))
        if self.system_prompt and isinstance(prompt, list) and prompt and prompt[0].get("role") != "system":
            prompt = [{"role": "system", "content": [{"type": "text", "text": self.system_prompt}]}, *prompt]
        if self.video_as == "frames" and videos:
            prompt, images = _videos_as_frames(prompt, images, videos)
            videos = []
        return {**example, "prompt": prompt, "images": images, "videos": videos}


class _WithVideos:
    """A processor that adds the batch's videos to the call that carries ``images`` (TRL's prompt call)."""

    def __init__(self, processor: Any, videos: list[list[Any]]):
        self._processor, self._videos = processor, videos

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if "images" in kwargs:
            kwargs = {**kwargs, "videos": self._videos, "do_sample_frames": False}
        return self._processor(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._processor, name)


def _structured(prompt: Any, n_images: int, n_videos: int) -> Any:
    """Plain-text prompts as TRL would structure them: media placeholders before the first user text."""
    if isinstance(prompt, str):
        prompt = [{"role": "user", "content": prompt}]
    if not isinstance(prompt, list):
        return prompt
    out, placed = [], False
    for message in prompt:
        if isinstance(message.get("content"), str):
            media = []
            if message["role"] == "user" and not placed:
                media, placed = [{"type": "image"}] * n_images + [{"type": "video"}] * n_videos, True
            message = {**message, "content": [*media, {"type": "text", "text": message["content"]}]}
        out.append(message)
    return out


def _videos_as_frames(prompt: list[dict[str, Any]], images: list[Any], videos: list[list[Any]]):
    """Each video placeholder becomes one image placeholder per frame; images are reordered to match."""
    images_left, videos_left, ordered = iter(images), iter(videos), []
    out = []
    for message in prompt:
        content = message.get("content")
        if not isinstance(content, list):
            out.append(message)
            continue
        blocks = []
        for block in content:
            if block.get("type") == "video":
                frames = next(videos_left)
                blocks += [{"type": "image"}] * len(frames)
                ordered += frames
            else:
                if block.get("type") == "image":
                    ordered.append(next(images_left))
                blocks.append(block)
        out.append({**message, "content": blocks})
    return out, ordered
