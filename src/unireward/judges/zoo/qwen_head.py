"""Qwen2-VL with a reward head: VideoReward (VideoAlign) and HPSv3.

Both are ``Qwen2VLRewardModelBT`` (VideoAlign's ``trainer.py``): the Qwen2-VL language model's last hidden
states go through ``rm_head`` and are read at special reward tokens written in the prompt.
- VideoReward: three tokens ``<|VQ_reward|>``, ``<|MQ_reward|>``, ``<|TA_reward|>`` in the "detailed_special"
  prompt, a bias-free ``rm_head``: the released model has ``Linear(hidden, 1)`` read once per token
  (``read = "tokens"``); VideoAlign also supports ``Linear(hidden, 3)`` with output i read at token i
  (``read = "diagonal"``). Each dimension is z-normalised with the checkpoint's ``inference_config`` means and
  stds; Overall = VQ + MQ + TA. The release (LoRA over Qwen2-VL-2B-Instruct) is converted by
  `unireward.judges.zoo.videoalign`.
- HPSv3: one ``<|Reward|>`` token, the ``ranknet`` head (hidden-1024-16-2, float32), outputs (mu, sigma);
  the score is mu.

The prompt texts are the authors' (``prompts/*.txt``, ``{text_prompt}`` filled in). Messages are one user turn
holding the image (or the video) then the text, with the chat template's generation prompt, as the reference
inference code does. Videos are given as a video of the judge's ``num_frames`` frames (VideoAlign samples at
2 fps by default: a documented difference); frame and image sizes follow the entry's ``min_pixels`` /
``max_pixels`` through the Qwen2-VL processor's smart resize (the same rule as qwen-vl-utils).

On-disk layout read here (``source=`` takes it, and conversions write it): a transformers Qwen2-VL folder
(model and processor, the special tokens already in the tokenizer), ``reward_head.safetensors`` (the head's
parameters, without the ``rm_head.`` prefix) and ``unireward_scorer.json`` (``special_tokens``, ``head``,
``dims``, ``read``, optional ``norm``). ``source=`` may also be a local copy of a release in its own layout
(HPSv3: a folder with ``HPSv3.safetensors``; VideoReward: ``model_config.json`` + ``checkpoint-<step>/``): it is
converted on first use and cached like a hub download.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from unireward.judges.zoo.heads import reward_head
from unireward.judges.zoo.scorer import ScorerInput


PROMPTS = Path(__file__).parent / "prompts"


def prompt_text(name: str) -> str:
    """A prompt file of this package (its last newline is the file's, not the prompt's)."""
    text = (PROMPTS / f"{name}.txt").read_text(encoding="utf-8")
    return text[:-1] if text.endswith("\n") else text


class QwenRewardHead:
    """A Qwen2-VL backbone + reward head, read at the special reward tokens."""

    def __init__(self, source: str, device: str, dtype: Any, prompt: str, local: bool = False,
                 min_pixels: int | None = None, max_pixels: int | None = None, convert: str | None = None):
        from safetensors.torch import load_file
        from transformers import AutoProcessor, Qwen2VLForConditionalGeneration

        if local and (Path(source) / "unireward_scorer.json").is_file():
            folder = Path(source)  # already in our layout
        else:  # a hub id, or a local copy of the release in its own layout: converted once, cached
            folder = _converted(source, convert)
        meta = json.loads((folder / "unireward_scorer.json").read_text())
        self.dims = tuple(meta["dims"])
        self.read, self.norm = meta.get("read", "diagonal"), meta.get("norm")
        self.processor = AutoProcessor.from_pretrained(folder)
        self.model = Qwen2VLForConditionalGeneration.from_pretrained(folder, dtype=dtype).eval().to(device)
        hidden = self.model.config.get_text_config().hidden_size
        self.head = reward_head(meta["head"], hidden, meta.get("output_dim", len(self.dims)))
        self.head.load_state_dict(load_file(folder / "reward_head.safetensors"))
        self.head.float().eval().to(device)
        self.special_ids = self.processor.tokenizer.convert_tokens_to_ids(meta["special_tokens"])
        self.template, self.device = prompt_text(prompt), device
        self.pixels = {k: v for k, v in (("min_pixels", min_pixels), ("max_pixels", max_pixels)) if v}

    def messages(self, x: ScorerInput) -> list[dict]:
        media = {"type": "video"} if x.is_video else {"type": "image"}
        text = self.template.replace("{text_prompt}", x.prompt)
        return [{"role": "user", "content": [media, {"type": "text", "text": text}]}]

    def encode(self, inputs: Sequence[ScorerInput]):
        texts = [self.processor.apply_chat_template(self.messages(x), add_generation_prompt=True, tokenize=False)
                 for x in inputs]
        kw: dict[str, Any] = {}
        if any(x.is_video for x in inputs):
            kw["videos"] = [x.images for x in inputs]
            kw["videos_kwargs"] = {"do_sample_frames": False, **({"size": _size(self.pixels)} if self.pixels else {})}
        else:
            kw["images"] = [x.images[0] for x in inputs]
            kw["images_kwargs"] = {"size": _size(self.pixels)} if self.pixels else {}
        return self.processor(text=texts, padding=True, return_tensors="pt", **kw).to(self.device)

    def score(self, inputs: Sequence[ScorerInput]) -> list[dict[str, float]]:
        if len({x.is_video for x in inputs}) > 1:
            raise ValueError("a batch mixes images and videos")
        batch = self.encode(inputs)
        with torch.inference_mode():
            hidden = self.model.model(**batch).last_hidden_state
            mask = torch.isin(batch["input_ids"], torch.tensor(self.special_ids, device=hidden.device))
            counts = mask.sum(1).tolist()
            if any(c != len(self.special_ids) for c in counts):
                raise ValueError(f"expected {len(self.special_ids)} reward token(s) per prompt, found {counts}")
            logits = self.head(hidden[mask].float()).view(len(inputs), len(self.special_ids), -1)
        return [self._dims(row) for row in logits]

    def _dims(self, row: torch.Tensor) -> dict[str, float]:
        if self.read == "diagonal":  # head output i read at reward token i (VideoAlign, output_dim 3)
            values = row.diagonal()
        elif self.read == "tokens":  # one output per reward token (VideoAlign, output_dim 1)
            values = row[:, 0]
        else:  # "first": all outputs at the first (only) reward token (HPSv3)
            values = row[0]
        out = {d: float(v) for d, v in zip(self.dims, values)}
        for d, (mean, std) in (self.norm or {}).items():
            out[d] = (out[d] - mean) / std
        return out


def _size(pixels: dict[str, int]) -> dict[str, int]:
    """Qwen2-VL processors take the pixel budget as size={"shortest_edge": min, "longest_edge": max}."""
    return {"shortest_edge": pixels.get("min_pixels", 56 * 56),
            "longest_edge": pixels.get("max_pixels", 28 * 28 * 1280)}


# ---------------------------------------------------------------------- released checkpoints -> our layout
def _converted(source: str, convert: str | None) -> Path:
    from unireward.judges.zoo.cache import converted_folder

    if convert == "hpsv3":
        return converted_folder(source, "hpsv3", lambda out: convert_hpsv3(source, out))
    if convert == "videoalign":
        from unireward.judges.zoo.videoalign import convert_videoalign

        return converted_folder(source, "videoalign", lambda out: convert_videoalign(source, out))
    raise ValueError(f"{source}: no conversion {convert!r} for Qwen2-VL reward heads; pass source= a folder in the "
                     "layout described in unireward.judges.zoo.qwen_head")


# Old (transformers 4.4x) Qwen2-VL names, as the HPSv3 checkpoint holds them -> transformers 5 names.
_QWEN2VL_RENAMES = (("model.", "model.language_model."), ("visual.", "model.visual."), ("lm_head.", "lm_head."))


def rename_qwen2vl(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(backbone weights in transformers 5 names, reward head weights) from a ``Qwen2VLRewardModelBT`` state."""
    backbone, head = {}, {}
    for key, value in state.items():
        if key.startswith("rm_head."):
            head[key[len("rm_head."):]] = value
            continue
        if key.startswith(("model.language_model.", "model.visual.")):  # already transformers 5 names
            backbone[key] = value
            continue
        for old, new in _QWEN2VL_RENAMES:
            if key.startswith(old) and not key.startswith(new):
                key = new + key[len(old):]
                break
        backbone[key] = value
    return backbone, head


def convert_hpsv3(repo: str, out: Path, base: str = "Qwen/Qwen2-VL-7B-Instruct") -> None:
    """HPSv3.safetensors (MizzenAI/HPSv3) over Qwen2-VL-7B-Instruct, with ``<|Reward|>`` added, in our layout."""
    from safetensors.torch import load_file, save_file
    from transformers import AutoProcessor, Qwen2VLForConditionalGeneration

    from unireward.judges.zoo.hub import fetch_file

    processor = AutoProcessor.from_pretrained(base)
    processor.tokenizer.add_special_tokens({"additional_special_tokens": ["<|Reward|>"]})
    model = Qwen2VLForConditionalGeneration.from_pretrained(base, dtype=torch.bfloat16)
    model.resize_token_embeddings(len(processor.tokenizer))
    backbone, head = rename_qwen2vl(load_file(fetch_file(repo, "HPSv3.safetensors")))
    missing, unexpected = model.load_state_dict(backbone, strict=False)
    if unexpected:
        raise ValueError(f"HPSv3.safetensors holds weights Qwen2-VL does not have, e.g. {unexpected[:5]}")
    model.save_pretrained(out)
    processor.save_pretrained(out)
    save_file({k: v.float().contiguous() for k, v in head.items()}, out / "reward_head.safetensors")
    (out / "unireward_scorer.json").write_text(json.dumps(
        {"special_tokens": ["<|Reward|>"], "head": "ranknet", "output_dim": 2, "dims": ["mu", "sigma"],
         "read": "first"}))
