"""Tiny random models in the real layouts of the zoo's entries, written where ``load_judge(name, source=...)``
reads them: the tests load them through exactly the code a released checkpoint takes.

- `build_clip`: a transformers `CLIPModel` + `CLIPProcessor` (CLIPScore, PickScore); with ``aesthetic=True``
  also the aesthetic MLP file.
- `build_open_clip`: an open_clip model folder (``open_clip_config.json`` + weights; HPSv2, HPSv2.1).
- `build_blip_reward`: transformers BLIP + the ImageReward head (ImageReward).
- `build_qwen_reward`: Qwen2-VL + a reward head on special tokens (HPSv3 ``hpsv3``, VideoReward ``videoalign``).
- `build_videoalign_release`: VideoReward in the layout VideoAlign's trainer writes and its hub release holds
  (``model_config.json`` + ``checkpoint-<step>/model.pth``, or the adapter + non-LoRA files), made the way the
  authors' code makes it (LoRA over a Qwen2-VL with the reward tokens), with the reference model returned.
`mark` writes ``unireward.json`` = ``{"zoo": NAME}`` into a folder, so ``load_judge(folder)`` loads it as
that entry. Tokenizers are minimal (byte-level CLIP BPE with no merges; a small BERT word-piece vocabulary).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from unireward.judges.zoo.clip import OPENAI_MEAN, OPENAI_STD


def clip_tokenizer(folder: Path):
    """A CLIP BPE tokenizer with the byte alphabet and no merges (each character is a token)."""
    from tokenizers import pre_tokenizers
    from transformers import CLIPTokenizer

    chars = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {t: i for i, t in enumerate(chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"])}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), pad_token="<|endoftext|>")


def build_clip(path: str | Path, seed: int = 0, image_size: int = 32, aesthetic: bool = False) -> Path:
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    path = Path(path)
    tok = clip_tokenizer(path / "_tok")
    torch.manual_seed(seed)
    cfg = CLIPConfig(
        text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                         vocab_size=len(tok), max_position_embeddings=77, bos_token_id=len(tok) - 2,
                         eos_token_id=len(tok) - 1, pad_token_id=len(tok) - 1),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=image_size, patch_size=8),
        projection_dim=16)
    model = CLIPModel(cfg).eval()
    images = CLIPImageProcessor(size={"shortest_edge": image_size}, crop_size={"height": image_size,
                                "width": image_size}, image_mean=list(OPENAI_MEAN), image_std=list(OPENAI_STD))
    model.save_pretrained(path)
    CLIPProcessor(image_processor=images, tokenizer=tok).save_pretrained(path)
    if aesthetic:
        from unireward.judges.zoo.clip import Aesthetic, aesthetic_mlp

        torch.save(_randomized(aesthetic_mlp(16), seed).state_dict(), path / Aesthetic.mlp_file)
    return path


def mark(path: str | Path, entry: str) -> Path:
    """Write ``unireward.json`` naming the zoo entry whose weights `path` holds."""
    (Path(path) / "unireward.json").write_text(json.dumps({"zoo": entry}) + "\n")
    return Path(path)


def _randomized(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed + 1)
    for p in module.parameters():
        torch.nn.init.normal_(p, std=0.5)
    return module


def build_open_clip(path: str | Path, seed: int = 0) -> Path:
    import open_clip

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model_cfg = {"embed_dim": 16, "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "patch_size": 8,
                                                 "head_width": 16},
                 "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2}}
    preprocess = {"mean": list(OPENAI_MEAN), "std": list(OPENAI_STD), "interpolation": "bicubic",
                  "resize_mode": "shortest"}
    (path / "open_clip_config.json").write_text(json.dumps({"model_cfg": model_cfg, "preprocess_cfg": preprocess}))
    torch.manual_seed(seed)
    model = open_clip.CLIP(**model_cfg)
    torch.save(model.state_dict(), path / "open_clip_pytorch_model.bin")
    return path


BERT_WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "red", "fox", "blue", "cat", "dog", "in", "the",
              "snow", "on", "table", "photo", "of", "car", "green"] + list("bcdefghijklmnopqrstuvwxyz")


def build_blip_reward(path: str | Path, seed: int = 0) -> Path:
    from safetensors.torch import save_file
    from transformers import BertTokenizer, BlipConfig, BlipForImageTextRetrieval

    from unireward.judges.zoo.heads import MLPHead

    path = Path(path)
    (path / "model").mkdir(parents=True, exist_ok=True)
    (path / "vocab.txt").write_text("\n".join(BERT_WORDS) + "\n")
    tok = BertTokenizer(str(path / "vocab.txt"))
    tok.add_special_tokens({"bos_token": "[DEC]", "additional_special_tokens": ["[ENC]"]})
    torch.manual_seed(seed)
    cfg = BlipConfig(vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=2, image_size=32, patch_size=8),
                     text_config=dict(vocab_size=len(tok), hidden_size=32, encoder_hidden_size=32,
                                      num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                                      max_position_embeddings=64),
                     projection_dim=16)
    BlipForImageTextRetrieval(cfg).eval().save_pretrained(path / "model")
    tok.save_pretrained(path / "model")
    save_file(_randomized(MLPHead(32), seed).state_dict(), path / "head.safetensors")
    (path / "unireward_scorer.json").write_text(json.dumps({"mean": 0.16717362830052426,
                                                            "std": 1.0333394966054072, "image_size": 32}))
    return path


QWEN_HEADS = {
    "hpsv3": dict(special_tokens=["<|Reward|>"], head="ranknet", output_dim=2, dims=["mu", "sigma"], read="first"),
    "videoalign": dict(special_tokens=["<|VQ_reward|>", "<|MQ_reward|>", "<|TA_reward|>"], head="linear",
                       output_dim=1, dims=["VQ", "MQ", "TA"], read="tokens",
                       norm={"VQ": [0.5, 2.0], "MQ": [-0.25, 1.5], "TA": [0.0, 1.0]}),
}


def build_qwen_reward(path: str | Path, kind: str = "hpsv3", seed: int = 0) -> Path:
    """A tiny Qwen2-VL with the reward tokens in its tokenizer and a random reward head, in our layout."""
    from safetensors.torch import save_file
    from transformers import AutoProcessor, Qwen2VLForConditionalGeneration

    from unireward.judges.zoo.heads import reward_head
    from unireward.tiny_models import build_qwen2_vl, qwen_tokenizer

    meta = QWEN_HEADS[kind]
    tok = qwen_tokenizer()
    tok.add_special_tokens({"additional_special_tokens": meta["special_tokens"]}, replace_extra_special_tokens=False)
    path = build_qwen2_vl(Path(path), tokenizer=tok, seed=seed)
    model = Qwen2VLForConditionalGeneration.from_pretrained(path)
    assert len(AutoProcessor.from_pretrained(path).tokenizer) <= model.config.get_text_config().vocab_size
    head = _randomized(reward_head(meta["head"], model.config.get_text_config().hidden_size, meta["output_dim"]), seed)
    save_file({k: v.contiguous() for k, v in head.state_dict().items()}, path / "reward_head.safetensors")
    (path / "unireward_scorer.json").write_text(json.dumps(meta))
    return path


def build_videoscore(path: str | Path, seed: int = 0) -> Path:
    """A tiny Idefics2 with a 5-way regression head in Mantis' layout (VideoScore v1.1), with an Idefics2
    processor (no image splitting, 4 tokens per frame) over the Qwen byte-level tokenizer plus Idefics2's
    image tokens."""
    from transformers import Idefics2Config, Idefics2ImageProcessor, Idefics2Processor

    from unireward.judges.zoo.videoscore import _classifier_class
    from unireward.tiny_models import qwen_tokenizer

    path = Path(path)
    tok = qwen_tokenizer()
    tok.add_special_tokens({"additional_special_tokens": ["<fake_token_around_image>", "<image>",
                                                         "<end_of_utterance>"]}, replace_extra_special_tokens=False)
    images = Idefics2ImageProcessor(do_image_splitting=False, size={"shortest_edge": 28, "longest_edge": 56})
    cfg = Idefics2Config(
        text_config=dict(model_type="mistral", hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, vocab_size=len(tok),
                         pad_token_id=tok.pad_token_id),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=56, patch_size=14),
        perceiver_config=dict(hidden_size=32, resampler_n_latents=4, resampler_depth=1, resampler_n_heads=2,
                              resampler_head_dim=8, num_key_value_heads=1),
        image_token_id=tok.convert_tokens_to_ids("<image>"), num_labels=5)
    torch.manual_seed(seed)
    model = _classifier_class()(cfg).eval()
    _randomized(model.score, seed)
    model.save_pretrained(path)
    Idefics2Processor(image_processor=images, tokenizer=tok, image_seq_len=4).save_pretrained(path)
    return path


VIDEOALIGN_NORM = {"VQ_mean": 0.5, "VQ_std": 2.0, "MQ_mean": -0.25, "MQ_std": 1.5, "TA_mean": 0.1, "TA_std": 0.8}
# VideoAlign's exclusions for LoRA targets (train_reward.py adds "visual" when vision_lora is off)
VIDEOALIGN_LORA_EXCLUDE = ["lm_head", "rm_head", "embed_tokens", "visual"]


def build_qwen2_vl_base(path: str | Path, seed: int = 0, tie: bool = True) -> Path:
    """A tiny Qwen2-VL in the shape of Qwen2-VL-2B-Instruct (tied input/output embeddings), no reward tokens."""
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor

    from unireward.tiny_models import SIZES, _qwen_processor, qwen_ids, qwen_tokenizer, save_model, text_config

    s, tok = SIZES["tiny"], qwen_tokenizer()
    torch.manual_seed(seed)
    cfg = Qwen2VLConfig(
        text_config=text_config(tok, s),
        vision_config=dict(depth=s["v_depth"], embed_dim=s["v_hidden"], hidden_size=s["hidden"], mlp_ratio=2,
                           num_heads=s["v_heads"], patch_size=14, spatial_merge_size=2, temporal_patch_size=2),
        tie_word_embeddings=tie, **qwen_ids(tok))
    model = Qwen2VLForConditionalGeneration(cfg)
    return save_model(model, _qwen_processor(Qwen2VLProcessor, s, tok), tok, Path(path), "Qwen2-VL (tiny, tied)")


def _videoalign_names(state: dict) -> dict:
    """transformers 5 names -> the transformers 4.45 names VideoAlign's checkpoints carry."""
    out = {}
    for key, value in state.items():
        for new, old in (("base_model.model.model.language_model.", "base_model.model.model."),
                         ("base_model.model.model.visual.", "base_model.model.visual.")):
            if key.startswith(new):
                key = old + key[len(new):]
                break
        out[key] = value.detach().clone().contiguous()
    return out


def build_videoalign_release(path: str | Path, layout: str = "full", seed: int = 0, output_dim: int = 1,
                             step: int = 20, r: int = 4, alpha: int = 8):
    """A tiny VideoReward release at `path`/release; returns (release folder, reference model, processor).

    Made as VideoAlign's ``create_model_and_processor`` + trainer do: the base processor gets the three reward
    tokens, the Qwen2-VL gets ``rm_head`` (bias-free Linear(hidden, output_dim)) and embeddings resized to the
    tokenizer, LoRA goes on every Linear/Embedding outside ``VIDEOALIGN_LORA_EXCLUDE``; LoRA, ``rm_head`` and the
    reward-token embeddings are random (as after training). `layout`: ``full`` writes ``model.pth`` (the PEFT
    model's whole state, as the hub release), ``lora`` writes ``adapter_model.safetensors`` (PEFT's adapter
    state) + ``non_lora_state_dict.pth`` (rm_head and embeddings). Keys use transformers 4.45 names. An empty
    ``checkpoint-3`` is written too (the highest step must be the one read). The reference model is the
    unmerged PEFT model in eval mode, i.e. what VideoAlign's inference runs."""
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict
    from safetensors.torch import save_file
    from transformers import AutoProcessor, Qwen2VLForConditionalGeneration

    from unireward.judges.zoo.videoalign import REWARD_TOKENS

    path = Path(path)
    base = build_qwen2_vl_base(path / "base", seed=seed)
    processor = AutoProcessor.from_pretrained(base)
    processor.tokenizer.add_special_tokens({"additional_special_tokens": REWARD_TOKENS},
                                           replace_extra_special_tokens=False)
    model = Qwen2VLForConditionalGeneration.from_pretrained(base)
    hidden = model.config.get_text_config().hidden_size
    model.rm_head = torch.nn.Linear(hidden, output_dim, bias=False)
    model.resize_token_embeddings(len(processor.tokenizer))
    torch.manual_seed(seed + 1)
    with torch.no_grad():
        torch.nn.init.normal_(model.rm_head.weight, std=0.5)
        emb = model.get_input_embeddings().weight
        emb[-len(REWARD_TOKENS):] = torch.randn(len(REWARD_TOKENS), hidden)
    targets = [n for n, m in model.named_modules() if isinstance(m, (torch.nn.Linear, torch.nn.Embedding))
               and not any(x in n for x in VIDEOALIGN_LORA_EXCLUDE)]
    peft_model = get_peft_model(model, LoraConfig(target_modules=targets, r=r, lora_alpha=alpha, lora_dropout=0.05,
                                                  task_type="CAUSAL_LM", bias="none"))
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if ".lora_" in name:
                torch.nn.init.normal_(p, std=0.2)
    peft_model.eval()

    root = path / "release"
    ckpt = root / f"checkpoint-{step}"
    ckpt.mkdir(parents=True)
    (root / "checkpoint-3").mkdir()
    config = {
        "data_config": {"meta_data": "train.csv", "data_dir": "videos", "eval_dim": ["VQ", "MQ", "TA"],
                        "max_frame_pixels": 200704, "fps": 2.0, "num_frames": None,
                        "prompt_template_type": "detailed_special", "sample_type": "uniform"},
        "training_args": {"output_dir": str(root), "bf16": False},
        "model_config": {"model_name_or_path": str(base), "output_dim": output_dim, "use_special_tokens": True,
                         "reward_token": "special", "loss_type": "btt"},
        "peft_lora_config": {"lora_enable": True, "vision_lora": False, "lora_r": r, "lora_alpha": alpha,
                             "lora_dropout": 0.05, "lora_target_modules": None,
                             "lora_namespan_exclude": VIDEOALIGN_LORA_EXCLUDE, "lora_modules_to_save": None,
                             "lora_task_type": "CAUSAL_LM", "use_rslora": False, "num_lora_modules": -1},
        "inference_config": VIDEOALIGN_NORM}
    (root / "model_config.json").write_text(json.dumps(config, indent=4))
    processor.tokenizer.save_pretrained(ckpt / "tokenizer")
    if layout == "full":
        torch.save(_videoalign_names(peft_model.state_dict()), ckpt / "model.pth")
    elif layout == "lora":
        save_file(_videoalign_names(get_peft_model_state_dict(peft_model)), ckpt / "adapter_model.safetensors")
        trainable = {k: v for k, v in peft_model.state_dict().items()
                     if k.endswith(("rm_head.weight", "embed_tokens.weight"))}
        torch.save(_videoalign_names(trainable), ckpt / "non_lora_state_dict.pth")
    else:
        raise ValueError(f"unknown layout {layout!r}; valid: full, lora")
    return root, peft_model, processor
