"""ImageReward on transformers' BLIP (`BlipForImageTextRetrieval`'s vision tower and text encoder).

ImageReward (THUDM) is BLIP's ViT-L/16 image encoder and BERT text encoder with cross-attention, a
768-1024-128-64-16-1 MLP on the [CLS] feature of the text encoder, and a z-normalisation
``(mlp - 0.16717362830052426) / 1.0333394966054072``. Its reference preprocessing is CLIP's transform at
224 px (`clip_transform`) and ``bert-base-uncased`` tokens padded to 35 (``padding="max_length",
truncation=True, max_length=35``), [CLS] first (ImageReward does not swap in BLIP's [ENC] token).

Why not the ``image-reward`` package: it pins ``timm==0.6.13`` (open_clip needs timm 1.x) and pulls
fairscale, diffusers and datasets for scoring. The architecture is transformers' BLIP, so the original
``ImageReward.pt`` is renamed into it once (`convert_imagereward_state`) and cached as a transformers folder
(``model/`` + ``head.safetensors`` + ``unireward_scorer.json``), which is also the layout ``source=`` takes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from unireward.judges.zoo.clip import clip_transform
from unireward.judges.zoo.heads import MLPHead
from unireward.judges.zoo.scorer import ScorerInput


IMAGEREWARD_MEAN = 0.16717362830052426
IMAGEREWARD_STD = 1.0333394966054072
MAX_TEXT_LENGTH = 35


class BlipReward:
    """ImageReward: BLIP cross-attention [CLS] feature -> MLP -> z-normalised reward."""

    dims = ("reward",)

    def __init__(self, source: str, device: str, dtype: Any, local: bool = False):
        from safetensors.torch import load_file
        from transformers import AutoTokenizer, BlipForImageTextRetrieval

        folder = Path(source) if local else imagereward_folder(source)
        meta = json.loads((folder / "unireward_scorer.json").read_text())
        blip = BlipForImageTextRetrieval.from_pretrained(folder / "model").eval()
        self.vision, self.text = blip.vision_model.to(device), blip.text_encoder.to(device)
        self.tokenizer = AutoTokenizer.from_pretrained(folder / "model")
        self.transform = clip_transform(meta.get("image_size", 224))
        self.mlp = MLPHead(blip.config.text_config.hidden_size)
        self.mlp.load_state_dict(load_file(folder / "head.safetensors"))
        self.mlp.eval().to(device)
        self.mean, self.std = meta.get("mean", IMAGEREWARD_MEAN), meta.get("std", IMAGEREWARD_STD)
        self.device = device

    def pixel_values(self, inputs: Sequence[ScorerInput]) -> torch.Tensor:
        return torch.stack([self.transform(x.images[0]) for x in inputs])

    def score(self, inputs: Sequence[ScorerInput]) -> list[dict[str, float]]:
        text = self.tokenizer([x.prompt for x in inputs], padding="max_length", truncation=True,
                              max_length=MAX_TEXT_LENGTH, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            image_embeds = self.vision(pixel_values=self.pixel_values(inputs).to(self.device)).last_hidden_state
            atts = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=self.device)
            out = self.text(input_ids=text["input_ids"], attention_mask=text["attention_mask"],
                            encoder_hidden_states=image_embeds, encoder_attention_mask=atts)
            rewards = (self.mlp(out.last_hidden_state[:, 0, :].float()).squeeze(-1) - self.mean) / self.std
        return [{"reward": float(r)} for r in rewards]


# ---------------------------------------------------------------------- the original checkpoint
_VISION_RENAMES = [  # BLIP's VisionTransformer names -> transformers' BlipVisionModel (as transformers' converter)
    (r"^visual_encoder\.blocks\.", "vision_model.encoder.layers."),
    (r"\.attn\.qkv\.", ".self_attn.qkv."), (r"\.attn\.proj\.", ".self_attn.projection."),
    (r"\.norm1\.", ".layer_norm1."), (r"\.norm2\.", ".layer_norm2."),
    (r"^visual_encoder\.norm\.", "vision_model.post_layernorm."),
    (r"^visual_encoder\.patch_embed\.proj\.", "vision_model.embeddings.patch_embedding."),
    (r"^visual_encoder\.pos_embed$", "vision_model.embeddings.position_embedding"),
    (r"^visual_encoder\.cls_token$", "vision_model.embeddings.class_embedding"),
]


def convert_imagereward_state(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict]:
    """Split ImageReward.pt's state into (BLIP weights in transformers' names, MLP head weights).

    ``blip.visual_encoder.*`` -> ``vision_model.*`` (renames above); ``blip.text_encoder.*`` keeps BERT's names
    under ``text_encoder.``; ``mlp.layers.*`` -> the head. Other BLIP pretraining parts (projections, momentum
    encoders, the decoder) are not used for the reward and are dropped.
    """
    blip, head = {}, {}
    for key, value in state.items():
        if key.startswith("mlp."):
            head[key[len("mlp."):]] = value
        elif key.startswith("blip.visual_encoder."):
            name = key[len("blip."):]
            for pattern, repl in _VISION_RENAMES:
                name = re.sub(pattern, repl, name)
            blip[name] = value
        elif key.startswith("blip.text_encoder."):
            blip[key[len("blip."):]] = value
    return blip, head


def imagereward_folder(repo: str) -> Path:
    """The cached transformers layout of ImageReward, converted from ``ImageReward.pt`` on first use."""
    from unireward.judges.zoo.cache import converted_folder

    return converted_folder(repo, "imagereward", lambda out: _convert_imagereward(repo, out))


def _convert_imagereward(repo: str, out: Path) -> None:
    from safetensors.torch import save_file
    from transformers import BertTokenizer, BlipConfig, BlipForImageTextRetrieval

    from unireward.judges.zoo.hub import fetch_file

    med = json.loads(fetch_file(repo, "med_config.json").read_text())
    config = BlipConfig(
        vision_config=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                           image_size=224, patch_size=16, layer_norm_eps=1e-6),
        text_config=dict(vocab_size=med["vocab_size"], hidden_size=med["hidden_size"],
                         encoder_hidden_size=med["encoder_width"], num_hidden_layers=med["num_hidden_layers"],
                         num_attention_heads=med["num_attention_heads"], intermediate_size=med["intermediate_size"],
                         max_position_embeddings=med["max_position_embeddings"], layer_norm_eps=1e-12))
    state = torch.load(fetch_file(repo, "ImageReward.pt"), map_location="cpu", weights_only=False)
    blip_state, head = convert_imagereward_state(state)
    model = BlipForImageTextRetrieval(config)
    missing, _ = model.load_state_dict(blip_state, strict=False)
    used = [k for k in missing if k.startswith(("vision_model.", "text_encoder."))]
    if used:
        raise ValueError(f"ImageReward.pt lacks {len(used)} weights the reward needs, e.g. {used[:5]}")
    tok = BertTokenizer.from_pretrained("google-bert/bert-base-uncased")
    tok.add_special_tokens({"bos_token": "[DEC]", "additional_special_tokens": ["[ENC]"]})
    model.save_pretrained(out / "model")
    tok.save_pretrained(out / "model")
    save_file({k: v.contiguous() for k, v in head.items()}, out / "head.safetensors")
    (out / "unireward_scorer.json").write_text(json.dumps({"mean": IMAGEREWARD_MEAN, "std": IMAGEREWARD_STD,
                                                           "image_size": 224}))
