"""Tiny random models of the real judge architectures, built locally (no hub), for tests and benchmarks.

Public pieces (`qwen_tokenizer`, `text_config`, `qwen_ids`, `save_model`, the `build_*` functions, `teach`)
are also what `unireward.train.small` builds the CPU-scale judge from; nothing imports private names here.

Each builder writes a folder that loads through exactly the path a released 7B checkpoint takes:
`AutoProcessor.from_pretrained` + `AutoModelForImageTextToText.from_pretrained`, with the official chat
template (Qwen2-VL and Qwen2.5-VL share TRL's verbatim copy; LLaVA-OneVision uses the template of the
llava-hf conversions). Tokenizers are byte-level BPE: with no merges (270 tokens) by default, or trained
on a corpus (`corpus=`) for models that must learn a vocabulary, such as the synthetic-world judge.

Sizes: "tiny" (~0.2 M parameters, 56-112 px images) for unit tests; "small" (~4 M, up to 224 px) for the
throughput benchmark.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from unireward.judges.arch import LLAVA_ONEVISION_CHAT_TEMPLATE


QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
                 "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
                 "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]

SIZES = {
    #         text hidden, layers, heads, kv, ffn | vision hidden, depth, heads | max pixels
    "tiny": dict(hidden=64, layers=2, heads=4, kv=2, ffn=128, v_hidden=32, v_depth=2, v_heads=2,
                 min_pixels=56 * 56, max_pixels=112 * 112),
    "mini": dict(hidden=128, layers=2, heads=4, kv=2, ffn=256, v_hidden=32, v_depth=2, v_heads=2,
                 min_pixels=56 * 56, max_pixels=112 * 112),
    "small": dict(hidden=256, layers=4, heads=4, kv=2, ffn=512, v_hidden=128, v_depth=4, v_heads=4,
                  min_pixels=56 * 56, max_pixels=224 * 224),
}


def qwen_tokenizer(corpus: Iterable[str] | None = None, vocab_size: int = 1024, chat_template: str | None = None):
    """A Qwen2 byte-level BPE tokenizer with the Qwen special tokens; BPE merges trained on `corpus` if given."""
    from tokenizers import pre_tokenizers
    from transformers import Qwen2Tokenizer
    from trl.chat_template_utils import qwen2_5_vl_chat_template

    vocab = {ch: i for i, ch in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    merges: list = []
    if corpus is not None:
        vocab, merges = _train_bpe(corpus, vocab_size)
    tok = Qwen2Tokenizer(vocab=vocab, merges=merges, unk_token=None, eos_token="<|im_end|>",
                         pad_token="<|endoftext|>")
    tok.add_special_tokens({"additional_special_tokens": [t for t in QWEN_SPECIALS
                                                          if t not in ("<|endoftext|>", "<|im_end|>")]})
    tok.chat_template = chat_template or qwen2_5_vl_chat_template
    return tok


def judge_corpus() -> list[str]:
    """Texts covering the judge prompts and answers: a BPE tokenizer trained on them makes the answer
    phrases a few tokens long, so a tiny model learns them in seconds."""
    from unireward.templates import list_templates

    texts = [t.text for t in list_templates()]
    texts += [p + "." for t in list_templates() for p in t.phrases.values()]
    texts += [f"Final Score: {i}" for i in range(101)] + ["Overall Judgment: ", "<think></think><answer></answer>"]
    return texts * 3


def _train_bpe(corpus: Iterable[str], vocab_size: int):
    """Train byte-level BPE merges with Qwen2's normalizer and pre-tokenizer; returns (vocab, merges)."""
    import json

    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer

    template = Qwen2Tokenizer(vocab={"a": 0}, merges=[])._tokenizer  # borrow Qwen2's pre-tokenizer and normalizer
    tok = Tokenizer(models.BPE())
    tok.normalizer = template.normalizer
    tok.pre_tokenizer = template.pre_tokenizer
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    model = json.loads(tok.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return model["vocab"], merges


def _mrope_section(head_dim: int) -> list[int]:
    # Qwen's multimodal rotary embedding splits head_dim/2 into (time, height, width) sections.
    half = head_dim // 2
    t = half // 4
    h = (half - t) // 2
    return [t, h, half - t - h]


def text_config(tok, s: dict) -> dict:
    """Qwen2 text-model config fields for size `s` (a `SIZES` entry or the same keys) and tokenizer `tok`."""
    ids = {t: tok.convert_tokens_to_ids(t) for t in QWEN_SPECIALS}
    return dict(vocab_size=((len(tok) + 63) // 64) * 64, hidden_size=s["hidden"], intermediate_size=s["ffn"],
                num_hidden_layers=s["layers"], num_attention_heads=s["heads"], num_key_value_heads=s["kv"],
                max_position_embeddings=4096,
                rope_parameters={"rope_type": "default", "rope_theta": 1e6,
                                 "mrope_section": _mrope_section(s["hidden"] // s["heads"])},
                bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"])


def qwen_ids(tok) -> dict:
    """The vision special-token ids a Qwen-VL config needs, read from `tok`."""
    ids = {t: tok.convert_tokens_to_ids(t) for t in QWEN_SPECIALS}
    return dict(image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])


def _qwen_processor(cls, s: dict, tok):
    from transformers import Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    pixels = dict(min_pixels=s["min_pixels"], max_pixels=s["max_pixels"])
    return cls(image_processor=Qwen2VLImageProcessor(**pixels), video_processor=Qwen2VLVideoProcessor(**pixels),
               tokenizer=tok, chat_template=tok.chat_template)


def save_model(model, proc, tok, path: Path, seed_note: str) -> Path:
    """Save model and processor to `path` the way a hub checkpoint is laid out (generation config with the
    chat end tokens, a README saying what it is), so `from_pretrained` loads it like a released one."""
    model.generation_config.eos_token_id = [tok.convert_tokens_to_ids("<|im_end|>"),
                                            tok.convert_tokens_to_ids("<|endoftext|>")]
    model.generation_config.pad_token_id = tok.convert_tokens_to_ids("<|endoftext|>")
    model.generation_config.do_sample = False
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    proc.save_pretrained(path)
    (path / "README.md").write_text(f"Tiny random {seed_note} built by unireward.tiny_models; for tests only.\n")
    return path


def build_qwen2_5_vl(path: str | Path, size: str = "tiny", tokenizer=None, seed: int = 0) -> Path:
    """A random Qwen2.5-VL (`Qwen2_5_VLForConditionalGeneration`) saved with its processor at `path`."""
    import torch
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
    )

    s, tok = SIZES[size], tokenizer or qwen_tokenizer()
    torch.manual_seed(seed)
    cfg = Qwen2_5_VLConfig(
        text_config=text_config(tok, s),
        vision_config=dict(depth=s["v_depth"], hidden_size=s["v_hidden"], intermediate_size=2 * s["v_hidden"],
                           num_heads=s["v_heads"], patch_size=14, spatial_merge_size=2, temporal_patch_size=2,
                           out_hidden_size=s["hidden"], window_size=56, fullatt_block_indexes=[s["v_depth"] - 1],
                           tokens_per_second=2),
        **qwen_ids(tok))
    model = Qwen2_5_VLForConditionalGeneration(cfg)
    return save_model(model, _qwen_processor(Qwen2_5_VLProcessor, s, tok), tok, Path(path), f"Qwen2.5-VL ({size})")


def build_qwen2_vl(path: str | Path, size: str = "tiny", tokenizer=None, seed: int = 0) -> Path:
    """A random Qwen2-VL (`Qwen2VLForConditionalGeneration`) saved with its processor at `path`."""
    import torch
    from transformers import (
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLProcessor,
    )

    s, tok = SIZES[size], tokenizer or qwen_tokenizer()
    torch.manual_seed(seed)
    cfg = Qwen2VLConfig(
        text_config=text_config(tok, s),
        vision_config=dict(depth=s["v_depth"], embed_dim=s["v_hidden"], hidden_size=s["hidden"], mlp_ratio=2,
                           num_heads=s["v_heads"], patch_size=14, spatial_merge_size=2, temporal_patch_size=2),
        **qwen_ids(tok))
    model = Qwen2VLForConditionalGeneration(cfg)
    return save_model(model, _qwen_processor(Qwen2VLProcessor, s, tok), tok, Path(path), f"Qwen2-VL ({size})")


def build_llava_onevision(path: str | Path, size: str = "tiny", tokenizer=None, seed: int = 0) -> Path:
    """A random LLaVA-OneVision (SigLIP tower + Qwen2 LM, anyres) saved with its processor at `path`."""
    import torch
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessor,
        LlavaOnevisionProcessor,
        LlavaOnevisionVideoProcessor,
        Qwen2Config,
        SiglipVisionConfig,
    )

    s = SIZES[size]
    tok = tokenizer or qwen_tokenizer()
    tok.add_special_tokens({"additional_special_tokens": ["<image>", "<video>"]}, replace_extra_special_tokens=False)
    tok.chat_template = LLAVA_ONEVISION_CHAT_TEMPLATE
    side, patch = (32, 8) if size == "tiny" else (64, 8)
    pinpoints = [[side, side], [side, 2 * side], [2 * side, side], [2 * side, 2 * side]]
    text = text_config(tok, s)
    text.pop("rope_parameters")
    torch.manual_seed(seed)
    cfg = LlavaOnevisionConfig(
        vision_config=SiglipVisionConfig(hidden_size=s["v_hidden"], intermediate_size=2 * s["v_hidden"],
                                         num_hidden_layers=s["v_depth"], num_attention_heads=s["v_heads"],
                                         image_size=side, patch_size=patch),
        text_config=Qwen2Config(**text),
        image_token_index=tok.convert_tokens_to_ids("<image>"), video_token_index=tok.convert_tokens_to_ids("<video>"),
        vision_feature_select_strategy="full", vision_feature_layer=-1, image_grid_pinpoints=pinpoints,
        vision_aspect_ratio="anyres_max_9")
    model = LlavaOnevisionForConditionalGeneration(cfg)
    proc = LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(size={"height": side, "width": side},
                                                     image_grid_pinpoints=pinpoints),
        video_processor=LlavaOnevisionVideoProcessor(size={"height": side, "width": side}),
        tokenizer=tok, num_image_tokens=(side // patch) ** 2, vision_feature_select_strategy="full",
        chat_template=LLAVA_ONEVISION_CHAT_TEMPLATE)
    return save_model(model, proc, tok, Path(path), f"LLaVA-OneVision ({size})")


def build_qwen3_vl(path: str | Path, size: str = "tiny", tokenizer=None, seed: int = 0) -> Path:
    """A random Qwen3-VL (`Qwen3VLForConditionalGeneration`, DeepStack vision) saved with its processor."""
    import torch
    from transformers import (
        Qwen2VLImageProcessor,
        Qwen3VLConfig,
        Qwen3VLForConditionalGeneration,
        Qwen3VLProcessor,
        Qwen3VLVideoProcessor,
    )
    from trl.chat_template_utils import qwen3_vl_chat_template

    s, tok = SIZES[size], tokenizer or qwen_tokenizer(chat_template=qwen3_vl_chat_template)
    tok.chat_template = qwen3_vl_chat_template
    text = text_config(tok, s)
    head_dim = s["hidden"] // s["heads"]
    rope = {"rope_type": "default", "rope_theta": 5e6, "mrope_section": _mrope_section(head_dim),
            "mrope_interleaved": True}
    text.update(head_dim=head_dim, rope_parameters=rope)
    torch.manual_seed(seed)
    cfg = Qwen3VLConfig(
        text_config=text,
        vision_config=dict(depth=s["v_depth"], hidden_size=s["v_hidden"], intermediate_size=2 * s["v_hidden"],
                           num_heads=s["v_heads"], patch_size=16, spatial_merge_size=2, temporal_patch_size=2,
                           out_hidden_size=s["hidden"], num_position_embeddings=64, deepstack_visual_indexes=[0]),
        **qwen_ids(tok))
    model = Qwen3VLForConditionalGeneration(cfg)
    pixels = dict(min_pixels=64 * 64, max_pixels=128 * 128)  # Qwen3-VL patches are 16 px, merged 2x2: 32 px cells
    proc = Qwen3VLProcessor(image_processor=Qwen2VLImageProcessor(patch_size=16, **pixels),
                            video_processor=Qwen3VLVideoProcessor(patch_size=16, **pixels),
                            tokenizer=tok, chat_template=qwen3_vl_chat_template)
    return save_model(model, proc, tok, Path(path), f"Qwen3-VL ({size})")


BUILDERS = {"qwen2_5_vl": build_qwen2_5_vl, "qwen3_vl": build_qwen3_vl, "qwen2_vl": build_qwen2_vl,
            "llava_onevision": build_llava_onevision}


def build_tiny(arch: str, path: str | Path, size: str = "tiny", **kwargs) -> Path:
    """Build a tiny random model of `arch` (one of `BUILDERS`) at `path`."""
    if arch not in BUILDERS:
        raise ValueError(f"unknown architecture {arch!r}; valid: {', '.join(BUILDERS)}")
    return BUILDERS[arch](path, size=size, **kwargs)


def teach(model_dir: str | Path, out_dir: str | Path, lessons: list[tuple[dict, str, str]], steps: int = 60,
          lr: float = 3e-3, seed: int = 0) -> Path:
    """Fine-tune a tiny judge until it gives fixed answers, and save it: a judge whose output is known.

    lessons: (item, form, answer) triples; the item is what `Judge.compare`/`Judge.score` take. The prompt
    is built by the real judge code path, so the taught model answers in exactly the judge's format.
    """
    import torch

    from unireward.judges.hf import HFJudge
    from unireward.tasks import Form, Task

    torch.manual_seed(seed)
    judge = HFJudge(model_dir, device="cpu", dtype="float32")
    eos = judge.tokenizer.eos_token
    reqs = [judge._request({**item, "task": Task.parse(item["task"])}, Form.parse(form), False)
            for item, form, _ in lessons]
    suffixes = [answer + eos for _, _, answer in lessons]
    inputs = judge.encode(reqs, suffixes)  # one left-padded batch: each row ends with its answer
    labels = torch.full_like(inputs["input_ids"], -100)
    for i, suffix in enumerate(suffixes):
        k = len(judge.tokenizer.encode(suffix, add_special_tokens=False))
        labels[i, -k:] = inputs["input_ids"][i, -k:]  # loss on the answer only
    model = judge.model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    for _ in range(steps):
        loss = model(**inputs, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    out_dir = Path(out_dir)
    model.eval().save_pretrained(out_dir)
    judge.processor.save_pretrained(out_dir)
    return out_dir
