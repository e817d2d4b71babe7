"""VideoReward (VideoAlign) as released -> the layout of `unireward.judges.zoo.qwen_head`.

The release (hub ``KwaiVGI/VideoReward``, now ``KlingTeam/VideoReward``) is the output folder of VideoAlign's
trainer, read by its ``inference.py`` through ``utils.load_model_from_checkpoint``:

- ``model_config.json``: ``data_config``, ``model_config`` (``model_name_or_path`` = the Qwen2-VL base,
  ``output_dim``, ``use_special_tokens``, ``reward_token``), ``peft_lora_config`` (``lora_enable``, ``lora_r``,
  ``lora_alpha``, ``use_rslora``, ``lora_namespan_exclude``) and ``inference_config`` (``VQ_mean``, ``VQ_std``,
  ``MQ_mean`` ... used to z-normalise each dimension).
- ``checkpoint-<step>/`` (the highest step is used, as ``load_model_from_checkpoint`` does with step -1) holding
  either ``model.pth`` (the whole state dict of the PEFT-wrapped reward model; what the hub repository holds:
  ``checkpoint-11352/model.pth``) or ``adapter_model.safetensors`` (LoRA weights as PEFT saves them, without
  the adapter name) + ``non_lora_state_dict.pth`` (the trainable non-LoRA parameters: ``rm_head``, the
  special-token embeddings ...). ``checkpoint-<step>/tokenizer/`` may hold the tokenizer with the reward tokens.

Keys are those of ``PeftModel(Qwen2VLRewardModelBT)`` under transformers 4.45 (the authors' pin):
``base_model.model.model.layers.N.self_attn.q_proj.base_layer.weight``, ``....q_proj.lora_A.default.weight``,
``base_model.model.visual.*``, ``base_model.model.lm_head.weight``, ``base_model.model.rm_head.weight``.

The model is rebuilt as the authors' ``create_model_and_processor`` does (base processor + the three reward
tokens, base Qwen2-VL, embeddings resized to the tokenizer), the state is renamed to transformers 5 names,
loaded into a PEFT LoRA wrapper of the modules the checkpoint has LoRA weights for (``r``, ``lora_alpha``,
``use_rslora`` from ``model_config.json``), merged with ``merge_and_unload`` and saved with the reward head.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch


REWARD_TOKENS = ["<|VQ_reward|>", "<|MQ_reward|>", "<|TA_reward|>"]
DIMS = ["VQ", "MQ", "TA"]
PEFT_PREFIX = "base_model.model."


def latest_checkpoint(root: Path) -> Path:
    """``checkpoint-<step>`` with the highest step (VideoAlign's rule when no step is given)."""
    steps = [(int(p.name.rsplit("-", 1)[-1]), p) for p in root.glob("checkpoint-*")
             if p.is_dir() and p.name.rsplit("-", 1)[-1].isdigit()]
    if not steps:
        raise FileNotFoundError(f"{root}: no checkpoint-<step> folder (the VideoAlign release layout)")
    return max(steps)[1]


def insert_adapter_name(key: str, adapter: str = "default") -> str:
    """``x.lora_A.weight`` -> ``x.lora_A.default.weight`` (PEFT saves adapters without their name)."""
    head, sep, tail = key.partition(".lora_")
    if not sep:
        return key
    kind, _, rest = tail.partition(".")  # "A", "weight"
    return key if rest.startswith(adapter + ".") else f"{head}.lora_{kind}.{adapter}.{rest}"


def release_state(ckpt: Path) -> tuple[dict[str, torch.Tensor], bool]:
    """(the PEFT model's state in the release's key names, whether it is complete) from one checkpoint folder."""
    full = ckpt / "model.pth"
    if full.is_file():
        return dict(torch.load(full, map_location="cpu", weights_only=True, mmap=True)), True
    lora, non_lora = ckpt / "adapter_model.safetensors", ckpt / "non_lora_state_dict.pth"
    if not (lora.is_file() and non_lora.is_file()):
        raise FileNotFoundError(f"{ckpt}: neither model.pth nor adapter_model.safetensors + non_lora_state_dict.pth")
    from safetensors.torch import load_file

    state = dict(torch.load(non_lora, map_location="cpu", weights_only=True))
    state.update({insert_adapter_name(k): v for k, v in load_file(lora).items()})
    return state, False


def release_dtype(state: dict[str, torch.Tensor]) -> torch.dtype:
    """The floating dtype most of the release's parameters are stored in."""
    counts: dict[torch.dtype, int] = {}
    for v in state.values():
        if v.is_floating_point():
            counts[v.dtype] = counts.get(v.dtype, 0) + v.numel()
    return max(counts, key=counts.get) if counts else torch.float32


def to_current_names(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(PEFT state in transformers 5 names, the ``rm_head`` parameters) from the release's state."""
    from unireward.judges.zoo.qwen_head import rename_qwen2vl

    bare = {}
    for key, value in state.items():
        if not key.startswith(PEFT_PREFIX):
            raise ValueError(f"unexpected key {key!r} in the VideoAlign checkpoint (expected {PEFT_PREFIX}...)")
        bare[key[len(PEFT_PREFIX):]] = value
    backbone, head = rename_qwen2vl(bare)
    return {PEFT_PREFIX + k: v for k, v in backbone.items()}, head


def convert_videoalign(repo: str, out: Path) -> None:
    """The VideoAlign release `repo` (hub id or folder) merged into a Qwen2-VL folder + reward head, in our layout."""
    from transformers import AutoProcessor, AutoTokenizer, Qwen2VLForConditionalGeneration

    from unireward.judges.zoo.hub import fetch_folder

    root = fetch_folder(repo)
    cfg = json.loads((root / "model_config.json").read_text())
    model_cfg, lora_cfg = cfg["model_config"], cfg.get("peft_lora_config") or {}
    output_dim = int(model_cfg.get("output_dim", 1))
    if not model_cfg.get("use_special_tokens") or output_dim not in (1, 3):
        raise ValueError(f"{repo}: only the reward-token VideoAlign models (use_special_tokens, output_dim 1 or 3) "
                         f"are supported; this one has {model_cfg}")
    ckpt = latest_checkpoint(root)
    state, complete = release_state(ckpt)
    peft_state, head = to_current_names(state)
    if set(head) != {"weight"}:
        raise ValueError(f"{ckpt}: expected rm_head.weight (a bias-free Linear), found rm_head.{sorted(head)}")

    base = model_cfg["model_name_or_path"]
    processor = AutoProcessor.from_pretrained(base)
    processor.tokenizer.add_special_tokens({"additional_special_tokens": REWARD_TOKENS},
                                           replace_extra_special_tokens=False)
    ids = processor.tokenizer.convert_tokens_to_ids(REWARD_TOKENS)
    if (ckpt / "tokenizer").is_dir():  # the tokenizer saved with the checkpoint must give the same ids
        saved = AutoTokenizer.from_pretrained(ckpt / "tokenizer").convert_tokens_to_ids(REWARD_TOKENS)
        if saved != ids:
            raise ValueError(f"{ckpt}/tokenizer gives the reward tokens ids {saved}, the base + tokens gives {ids}")
    model = Qwen2VLForConditionalGeneration.from_pretrained(base, dtype=torch.float32)
    model.resize_token_embeddings(len(processor.tokenizer))
    if not complete and not any(k.endswith("embed_tokens.weight") for k in peft_state):
        warnings.warn(f"{ckpt}: the non-LoRA state has no embed_tokens; the reward tokens keep their fresh "
                      "initialisation (the scores will not match the authors')", stacklevel=2)

    targets = sorted({k[len(PEFT_PREFIX):].split(".lora_")[0] for k in peft_state if ".lora_" in k})
    if targets:
        if not lora_cfg.get("lora_enable", True) or "lora_r" not in lora_cfg or "lora_alpha" not in lora_cfg:
            raise ValueError(f"{repo}: the checkpoint has LoRA weights but model_config.json gives no lora_r/alpha")
        try:
            from peft import LoraConfig, get_peft_model
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("merging VideoReward's LoRA needs peft: pip install 'unireward[train]'") from e
        wrapped = get_peft_model(model, LoraConfig(
            target_modules=targets, r=int(lora_cfg["lora_r"]), lora_alpha=lora_cfg["lora_alpha"],
            use_rslora=bool(lora_cfg.get("use_rslora", False)), lora_dropout=0.0, bias="none"))
    else:
        wrapped = None
        peft_state = {k[len(PEFT_PREFIX):]: v for k, v in peft_state.items()}
    target = wrapped if wrapped is not None else model
    expected = target.state_dict()
    if not complete:  # adapter + non-LoRA: the rest comes from the base, as load_model_from_checkpoint does
        peft_state = {**expected, **peft_state}
    missing, unexpected = sorted(set(expected) - set(peft_state)), sorted(set(peft_state) - set(expected))
    if missing or unexpected:
        raise ValueError(f"{ckpt}: the checkpoint does not fit Qwen2-VL {base}: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
    target.load_state_dict(peft_state, strict=True)
    merged = wrapped.merge_and_unload() if wrapped is not None else model

    merged.to(release_dtype(state)).save_pretrained(out)  # merged in float32, stored as the release was
    processor.save_pretrained(out)
    from safetensors.torch import save_file

    save_file({"weight": head["weight"].float().contiguous()}, out / "reward_head.safetensors")
    meta = {"special_tokens": REWARD_TOKENS, "head": "linear", "output_dim": output_dim, "dims": DIMS,
            "read": "diagonal" if output_dim == 3 else "tokens", "source": str(repo), "checkpoint": ckpt.name}
    norm = cfg.get("inference_config")
    if norm:
        meta["norm"] = {d: [norm[f"{d}_mean"], norm[f"{d}_std"]] for d in DIMS}
    (out / "unireward_scorer.json").write_text(json.dumps(meta))
