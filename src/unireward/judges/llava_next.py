"""Convert checkpoints stored in the original LLaVA-NeXT layout (``LlavaQwenForCausalLM``: UnifiedReward-7b,
-7b-v1.5, UnifiedReward-Think-7b, LLaVA-Critic) to transformers' LLaVA-OneVision layout, so they load
in-process on the `hf` backend.

What is mapped (the facts of transformers' ``convert_llava_onevision_weights_to_hf.py``, written for
transformers 5 names):
- weights: ``model.vision_tower.vision_tower.vision_model.*`` -> ``model.vision_tower.*`` (transformers 5
  names); ``model.mm_projector.{0,2}`` ->
  ``model.multi_modal_projector.linear_{1,2}`` (``mlp2x_gelu``); ``model.image_newline`` stays; the rest of
  ``model.*`` (embeddings, layers, norm) -> ``model.language_model.*``; ``lm_head`` stays (cloned from the
  embeddings when tied and absent); rotary ``inv_freq`` buffers and the tower's pooling head are dropped.
- config: the Qwen2 fields of the checkpoint's ``config.json`` become the text config; the vision config is the
  tower's (``mm_vision_tower``, SigLIP) minus its last layer (LLaVA-NeXT deletes it and reads the last
  remaining hidden state: ``vision_feature_layer=-1``, strategy ``full``, no pooling head); ``anyres_max_9``,
  the grid pinpoints (``"(1x1),...,(6x6)"`` or pixel pairs) and ``image_newline`` are kept.
- processor: the checkpoint's tokenizer with ``<image>`` and ``<video>`` added (the embedding matrix grows only
  if they do not fit), the tower's image settings in `LlavaOnevisionImageProcessor` / ``VideoProcessor``,
  ``num_image_tokens = (image_size / patch)^2``, and the llava-hf chat template with the system turn the models
  were trained with (``qwen_1_5``: "You are a helpful assistant.") added when a conversation has none.

`converted_checkpoint` runs the conversion once per checkpoint and caches the result
(``$UNIREWARD_CACHE/converted/llava_next/``); `load_judge` calls it for presets with ``layout = "llava_next"``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch

from unireward.judges.arch import LLAVA_ONEVISION_CHAT_TEMPLATE


SYSTEM_PROMPT = "You are a helpful assistant."
# The llava-hf template, with the trained system turn added when the conversation does not start with one.
CHAT_TEMPLATE = ("{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n" + SYSTEM_PROMPT
                 + "<|im_end|>\n' }}{% endif %}" + LLAVA_ONEVISION_CHAT_TEMPLATE)

_RENAMES = (
    ("model.vision_tower.vision_tower.vision_model.", "model.vision_tower."),
    ("model.mm_projector.0.", "model.multi_modal_projector.linear_1."),
    ("model.mm_projector.2.", "model.multi_modal_projector.linear_2."),
    ("model.image_newline", "model.image_newline"),
    ("model.", "model.language_model."),
    ("lm_head.", "lm_head."),
)


def rename_key(key: str) -> str:
    """The transformers 5 LLaVA-OneVision name of a LLaVA-NeXT weight (the first matching rule applies)."""
    for old, new in _RENAMES:
        if key.startswith(old):
            return new + key[len(old):]
    raise ValueError(f"unexpected weight {key!r} in a LLaVA-NeXT checkpoint")


def convert_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {rename_key(k): v for k, v in state.items()
           if not k.endswith(".inv_freq") and ".vision_model.head." not in k}  # the tower's pooling head is unused
    if "lm_head.weight" not in out:  # tied embeddings are not saved twice
        out["lm_head.weight"] = out["model.language_model.embed_tokens.weight"].clone()
    return out


def pinpoints(value: Any, size: int) -> list[list[int]]:
    """Grid pinpoints in pixels, from LLaVA-NeXT's ``"(1x1),...,(6x6)"`` form or a list of pixel pairs."""
    if isinstance(value, str):
        grids = [tuple(map(int, m)) for m in re.findall(r"\((\d+)x(\d+)\)", value)]
        if len(grids) == 2:  # "(1x1),...,(6x6)": every grid between the two
            (a, b), (c, d) = grids
            grids = [(i, j) for i in range(a, c + 1) for j in range(b, d + 1)]
        return [[i * size, j * size] for i, j in grids]
    return [list(map(int, p)) for p in value]


def build_config(original: dict[str, Any], tower: Any, image_token: int, video_token: int):
    """The `LlavaOnevisionConfig` of a LLaVA-NeXT ``config.json`` and its vision tower's config."""
    from transformers import LlavaOnevisionConfig, Qwen2Config, SiglipVisionConfig

    text_keys = set(Qwen2Config().to_dict()) - {"model_type", "architectures", "transformers_version"}
    text = Qwen2Config(**{k: v for k, v in original.items() if k in text_keys})
    vision = tower.vision_config if hasattr(tower, "vision_config") else tower
    vision = SiglipVisionConfig(**{**vision.to_dict(), "num_hidden_layers": vision.num_hidden_layers - 1,
                                   "vision_use_head": False})
    return LlavaOnevisionConfig(
        text_config=text, vision_config=vision, image_token_index=image_token, video_token_index=video_token,
        vision_feature_select_strategy="full", vision_feature_layer=-1,
        vision_aspect_ratio=original.get("image_aspect_ratio", "anyres_max_9"),
        image_grid_pinpoints=pinpoints(original["image_grid_pinpoints"], vision.image_size),
        use_image_newline_parameter=True, tie_word_embeddings=original.get("tie_word_embeddings", False))


def _load_state(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{folder}: no *.safetensors weights (a LLaVA-NeXT checkpoint has them)")
    state: dict[str, torch.Tensor] = {}
    for f in files:
        state.update(load_file(f))
    return state


def is_llava_next(folder: str | Path) -> bool:
    """Whether `folder` holds a checkpoint in the LLaVA-NeXT layout (``LlavaQwenForCausalLM``)."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        return False
    config = json.loads(path.read_text())
    return "mm_vision_tower" in config and config.get("model_type") in ("llava", "llava_qwen")


def convert(source: str | Path, out: str | Path) -> Path:
    """Convert the LLaVA-NeXT checkpoint `source` (a hub id or folder) into a LLaVA-OneVision folder `out`."""
    from transformers import AutoConfig, AutoTokenizer, LlavaOnevisionForConditionalGeneration

    from unireward.judges.zoo.hub import fetch_folder

    folder, out = fetch_folder(str(source)), Path(out)
    if not is_llava_next(folder):
        raise ValueError(f"{source}: not a LLaVA-NeXT checkpoint (its config.json has no mm_vision_tower)")
    original = json.loads((folder / "config.json").read_text())
    tower_folder = fetch_folder(original["mm_vision_tower"])
    tower = AutoConfig.from_pretrained(tower_folder)
    tok = AutoTokenizer.from_pretrained(folder)
    tok.add_special_tokens({"additional_special_tokens": ["<image>", "<video>"]}, replace_extra_special_tokens=False)
    ids = tok.convert_tokens_to_ids(["<image>", "<video>"])
    config = build_config(original, tower, *ids)
    model = LlavaOnevisionForConditionalGeneration(config)
    missing, unexpected = model.load_state_dict(convert_state_dict(_load_state(folder)), strict=False)
    if missing or unexpected:
        raise ValueError(f"{source}: weights do not map onto LLaVA-OneVision (missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]})")
    if len(tok) > config.text_config.vocab_size:
        model.resize_token_embeddings(len(tok), pad_to_multiple_of=64)
    model.to(getattr(torch, str(original.get("torch_dtype", "float32")).replace("torch.", ""), torch.float32))
    processor = _processor(tower_folder, config, tok)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    (out / "unireward.json").write_text(json.dumps({"converted_from": str(source), "layout": "llava_next"}) + "\n")
    return out


def _processor(tower_folder: Path, config: Any, tok: Any):
    from transformers import (
        AutoImageProcessor,
        LlavaOnevisionImageProcessor,
        LlavaOnevisionProcessor,
        LlavaOnevisionVideoProcessor,
    )

    ref = AutoImageProcessor.from_pretrained(tower_folder)
    side = config.vision_config.image_size
    common = dict(size={"height": side, "width": side}, image_mean=list(ref.image_mean), image_std=list(ref.image_std))
    return LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(image_grid_pinpoints=config.image_grid_pinpoints, **common),
        video_processor=LlavaOnevisionVideoProcessor(**common), tokenizer=tok,
        num_image_tokens=(side // config.vision_config.patch_size) ** 2, vision_feature_select_strategy="full",
        chat_template=CHAT_TEMPLATE)


def converted_checkpoint(source: str | Path) -> Path:
    """The converted folder of `source` (a hub id or folder), converting on first use; later calls hit the cache.
    A folder already in the transformers layout is returned as is."""
    from unireward.judges.zoo.cache import converted_folder

    if Path(source).is_dir() and not is_llava_next(source):
        return Path(source)
    return converted_folder(str(source), "llava_next", lambda out: convert(source, out))
