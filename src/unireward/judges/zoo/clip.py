"""CLIP-family scorers: CLIPScore, PickScore (transformers), HPSv2 / HPSv2.1 (open_clip), LAION aesthetic.

Each reproduces its reference implementation's preprocessing and formula:
- ``clip_hf`` with ``formula = "clipscore"``: torchmetrics' CLIPScore, ``100 * max(cos(image, text), 0)``;
  the CLIP processor of the checkpoint (resize the short side, center crop, OpenAI mean/std); captions
  longer than the text model's 77 positions are truncated.
- ``clip_hf`` with ``formula = "pickscore"``: the PickScore model card, ``logit_scale.exp() * cos``, the
  processor of ``laion/CLIP-ViT-H-14-laion2B-s32B-b79K`` (the card loads it from there), text padded and
  truncated at 77 tokens.
- ``open_clip``: HPSv2's ``img_score.py``: open_clip ``ViT-H-14`` with the HPS checkpoint loaded over it,
  open_clip's eval transform and tokenizer, score = cosine of the normalised features (no logit scale).
  The ``hpsv2`` package itself pins pytest 7.2 and protobuf 3.20, so it is not a dependency: the same
  open_clip calls are made here.
- ``aesthetic``: LAION's improved-aesthetic-predictor: OpenAI CLIP ViT-L/14 image embedding, L2-normalised,
  then the 768-1024-128-64-16-1 MLP (``sac+logos+ava1-l14-linearMSE.pth``); CLIP's own torchvision
  transform (`clip_transform`), as ``clip.load(...)[1]``.

Weights come from the hub (``hub_id`` and the entry's ``options``) or, with ``source=``, from a local folder
holding the same files (a transformers CLIP folder; for open_clip an ``open_clip_config.json`` folder).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from unireward.judges.zoo.hub import fetch_file
from unireward.judges.zoo.scorer import ScorerInput


OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def clip_transform(n_px: int):
    """CLIP's eval transform, as ``clip._transform`` (and ImageReward's copy of it): resize the short side
    to `n_px` (bicubic), center crop, RGB, to tensor, OpenAI mean/std."""
    from torchvision.transforms import CenterCrop, Compose, InterpolationMode, Normalize, Resize, ToTensor

    return Compose([Resize(n_px, interpolation=InterpolationMode.BICUBIC), CenterCrop(n_px),
                    lambda im: im.convert("RGB"), ToTensor(), Normalize(OPENAI_MEAN, OPENAI_STD)])


def _features(out: Any):
    """transformers 5 returns a model output from ``get_*_features``; older versions a tensor."""
    return out.pooler_output if hasattr(out, "pooler_output") else out


def _normalize(x):
    return x / x.norm(p=2, dim=-1, keepdim=True)


def _only_images(inputs: Sequence[ScorerInput]) -> list:
    """The one image of each input (image-generation scorers judge single images)."""
    return [x.images[0] for x in inputs]


class ClipHF:
    """CLIPScore and PickScore on a transformers `CLIPModel`."""

    dims = ("score",)

    def __init__(self, source: str, device: str, dtype: Any, formula: str = "clipscore",
                 processor: str | None = None, local: bool = False):
        from transformers import AutoProcessor, CLIPModel

        if formula not in ("clipscore", "pickscore"):
            raise ValueError(f"unknown CLIP formula {formula!r}; valid: clipscore, pickscore")
        self.formula, self.device = formula, device
        self.processor = AutoProcessor.from_pretrained(source if local or processor is None else processor)
        self.model = CLIPModel.from_pretrained(source, dtype=dtype).eval().to(device)

    def score(self, inputs: Sequence[ScorerInput]) -> list[dict[str, float]]:
        import torch

        images = self.processor(images=_only_images(inputs), return_tensors="pt")["pixel_values"]
        texts = self.processor(text=[x.prompt for x in inputs], padding=True, truncation=True,
                               max_length=self.model.config.text_config.max_position_embeddings,
                               return_tensors="pt")
        with torch.inference_mode():
            img = _normalize(_features(self.model.get_image_features(
                pixel_values=images.to(self.device, self.model.dtype))))
            txt = _normalize(_features(self.model.get_text_features(
                input_ids=texts["input_ids"].to(self.device), attention_mask=texts["attention_mask"].to(self.device))))
            cos = (img * txt).sum(-1).float()
            values = (100 * cos).clamp(min=0) if self.formula == "clipscore" \
                else self.model.logit_scale.exp().float() * cos
        return [{"score": float(v)} for v in values]


class OpenClipHPS:
    """HPSv2 / HPSv2.1: open_clip ViT-H-14 with the HPS checkpoint; score = cosine of the normalised features."""

    dims = ("score",)

    def __init__(self, source: str, device: str, dtype: Any, arch: str = "ViT-H-14",
                 checkpoint: str = "HPS_v2.1_compressed.pt", local: bool = False):
        import torch

        try:
            import open_clip
        except ImportError:
            raise ImportError("HPSv2 runs on open_clip: pip install 'unireward[zoo]'") from None
        self.device = device
        if local:  # a folder written by open_clip (open_clip_config.json + weights): the HPS weights themselves
            name = f"local-dir:{source}"
            model, _, self.preprocess = open_clip.create_model_and_transforms(name, device=device)
        else:
            name = arch
            model, _, self.preprocess = open_clip.create_model_and_transforms(arch, pretrained=None, device=device)
            state = torch.load(fetch_file(source, checkpoint), map_location="cpu", weights_only=False)
            model.load_state_dict(state.get("state_dict", state))
        self.tokenizer = open_clip.get_tokenizer(name)
        self.model = model.to(device=device, dtype=dtype).eval()

    def pixel_values(self, inputs: Sequence[ScorerInput]):
        import torch

        return torch.stack([self.preprocess(im) for im in _only_images(inputs)])

    def score(self, inputs: Sequence[ScorerInput]) -> list[dict[str, float]]:
        import torch

        dtype = next(self.model.parameters()).dtype
        with torch.inference_mode():
            img = self.model.encode_image(self.pixel_values(inputs).to(self.device, dtype), normalize=True)
            txt = self.model.encode_text(self.tokenizer([x.prompt for x in inputs]).to(self.device), normalize=True)
            values = (img * txt).sum(-1).float()
        return [{"score": float(v)} for v in values]


class Aesthetic:
    """The LAION improved aesthetic predictor on OpenAI CLIP ViT-L/14 image embeddings (1-10 scale)."""

    dims = ("aesthetic",)
    mlp_file = "sac+logos+ava1-l14-linearMSE.pth"

    def __init__(self, source: str, device: str, dtype: Any, head_repo: str | None = None,
                 local: bool = False):
        import torch
        from transformers import CLIPModel

        self.device = device
        clip = CLIPModel.from_pretrained(source).eval()
        self.vision, self.projection = clip.vision_model.to(device), clip.visual_projection.to(device)
        self.transform = clip_transform(clip.config.vision_config.image_size)
        self.mlp = aesthetic_mlp(clip.config.projection_dim)
        path = Path(source) / self.mlp_file if local else fetch_file(head_repo or source, self.mlp_file)
        self.mlp.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        self.mlp.eval().to(device)

    def score(self, inputs: Sequence[ScorerInput]) -> list[dict[str, float]]:
        import torch

        pixels = torch.stack([self.transform(im) for im in _only_images(inputs)]).to(self.device)
        with torch.inference_mode():
            emb = _normalize(self.projection(self.vision(pixel_values=pixels).pooler_output)).float()
            values = self.mlp(emb).squeeze(-1)
        return [{"aesthetic": float(v)} for v in values]


def aesthetic_mlp(dim: int = 768):
    """The improved-aesthetic-predictor head, as released (linear layers, no activations; keys
    ``layers.{0,2,4,6,7}``). ImageReward's head is the same module over BLIP's 768-d text feature."""
    from unireward.judges.zoo.heads import MLPHead

    return MLPHead(dim)
