"""The LLaVA-NeXT -> LLaVA-OneVision converter on a tiny checkpoint written here in the original layout.

The same random weights are built directly as llava-hf (`tiny_models.build_llava_onevision`) and written in
the LLaVA-NeXT layout (``LlavaQwenForCausalLM`` names, a ``config.json`` with ``mm_vision_tower`` pointing at a
SigLIP tower config that still has the layer LLaVA-NeXT deletes); the converted model must give the same
logits, and ``load_judge("UnifiedReward-7b")`` must go through the converter with the hub replaced only at
the download boundary (``huggingface_hub.snapshot_download``).
"""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

import unireward as ur
from tests.conftest import random_image
from unireward.judges.llava_next import convert, pinpoints


TOWER_ID = "google/siglip-so400m-patch14-384"


def original_name(key: str) -> str:
    """The LLaVA-NeXT name of a llava-hf (transformers 5) weight, written out independently of the converter."""
    for hf, orig in (("model.vision_tower.", "model.vision_tower.vision_tower.vision_model."),
                     ("model.multi_modal_projector.linear_1.", "model.mm_projector.0."),
                     ("model.multi_modal_projector.linear_2.", "model.mm_projector.2."),
                     ("model.language_model.", "model."), ("model.image_newline", "model.image_newline"),
                     ("lm_head.", "lm_head.")):
        if key.startswith(hf):
            return orig + key[len(hf):]
    raise AssertionError(key)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    from transformers import (
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionProcessor,
        SiglipImageProcessor,
        SiglipVisionConfig,
    )

    from unireward.tiny_models import build_llava_onevision, qwen_tokenizer

    root = tmp_path_factory.mktemp("llava")
    hf_dir = build_llava_onevision(root / "hf", seed=3)
    model = LlavaOnevisionForConditionalGeneration.from_pretrained(hf_dir)
    proc = LlavaOnevisionProcessor.from_pretrained(hf_dir)
    cfg = model.config
    # the vision tower as its hub repo has it: one layer more than LLaVA-NeXT keeps
    tower = root / "tower"
    v = cfg.vision_config.to_dict() | {"num_hidden_layers": cfg.vision_config.num_hidden_layers + 1}
    SiglipVisionConfig(**v).save_pretrained(tower)
    ip = proc.image_processor
    SiglipImageProcessor(size={"height": 32, "width": 32}, image_mean=ip.image_mean,
                         image_std=ip.image_std).save_pretrained(tower)
    nxt = root / "next"
    nxt.mkdir()
    state = {original_name(k): v.contiguous() for k, v in model.state_dict().items()
             if not k.startswith("model.vision_tower.head.")}  # LLaVA-NeXT makes SigLIP's pooling head Identity
    save_file(state, nxt / "model.safetensors")
    text = cfg.text_config.to_dict()
    original = {k: text[k] for k in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                                     "num_key_value_heads", "vocab_size", "max_position_embeddings", "rms_norm_eps",
                                     "bos_token_id", "eos_token_id")}
    original |= {"model_type": "llava", "architectures": ["LlavaQwenForCausalLM"], "mm_vision_tower": TOWER_ID,
                 "mm_projector_type": "mlp2x_gelu", "mm_hidden_size": cfg.vision_config.hidden_size,
                 "mm_vision_select_layer": -2, "image_aspect_ratio": "anyres_max_9",
                 "image_grid_pinpoints": cfg.image_grid_pinpoints, "mm_patch_merge_type": "spatial_unpad",
                 "rope_theta": text.get("rope_parameters", {}).get("rope_theta", 1e6), "tie_word_embeddings": False,
                 "torch_dtype": "float32"}
    (nxt / "config.json").write_text(json.dumps(original))
    qwen_tokenizer().save_pretrained(nxt)  # the plain Qwen2 tokenizer: the converter adds <image>, <video>
    return {"hf": str(hf_dir), "next": nxt, "tower": tower, "root": root}


@pytest.fixture
def hub(monkeypatch, checkpoints, tmp_path):
    """The hub, replaced at the download boundary: repo ids -> the local folders; records the calls."""
    import huggingface_hub

    repos = {"CodeGoat24/UnifiedReward-7b": checkpoints["next"], TOWER_ID: checkpoints["tower"]}
    calls = []

    def snapshot_download(repo_id, *args, **kwargs):
        calls.append(repo_id)
        return str(repos[repo_id])

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    monkeypatch.setenv("UNIREWARD_CACHE", str(tmp_path / "cache"))
    return calls


def logits(folder, image, text: str):
    from transformers import AutoProcessor, LlavaOnevisionForConditionalGeneration

    proc = AutoProcessor.from_pretrained(folder)
    model = LlavaOnevisionForConditionalGeneration.from_pretrained(folder, dtype=torch.float32).eval()
    msgs = [{"role": "system", "content": [{"type": "text", "text": "You are a helpful assistant."}]},
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]
    prompt = proc.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    inputs = proc(text=[prompt], images=[[image]], return_tensors="pt")
    with torch.no_grad():
        return inputs, model(**inputs).logits


def test_converted_logits_equal_the_llava_hf_build(checkpoints, hub, tmp_path):
    out = convert("CodeGoat24/UnifiedReward-7b", tmp_path / "converted")
    image = random_image(5, size=70)
    ref_inputs, ref = logits(checkpoints["hf"], image, "Which image is better?")
    inputs, got = logits(out, image, "Which image is better?")
    assert torch.equal(inputs["input_ids"], ref_inputs["input_ids"])
    assert torch.allclose(inputs["pixel_values"], ref_inputs["pixel_values"])
    diff = (got - ref).abs().max().item()
    print(f"max logit difference: {diff:.3g}")
    assert diff < 1e-4


def test_the_chat_template_adds_the_trained_system_turn(checkpoints, hub, tmp_path):
    from transformers import AutoProcessor

    out = convert("CodeGoat24/UnifiedReward-7b", tmp_path / "converted")
    proc = AutoProcessor.from_pretrained(out)
    text = proc.apply_chat_template([{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                                    add_generation_prompt=True, tokenize=False)
    assert text == ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
                    "<|im_start|>assistant\n")


def test_load_judge_converts_once_and_caches(checkpoints, hub):
    judge = ur.load_judge("UnifiedReward-7b", device="cpu", dtype="float32", max_new_tokens=4)
    assert hub == ["CodeGoat24/UnifiedReward-7b", TOWER_ID]
    assert "converted/llava_next" in judge.model_path and judge.family == "v1-llava"
    v = judge.compare("image_generation", "a red fox", random_image(1), random_image(2))
    assert v.error is None or "parse" in v.error.lower() or v.winner is None  # a random model: it answers something
    again = ur.load_judge("UnifiedReward-7b", device="cpu", dtype="float32")
    assert again.model_path == judge.model_path and hub == ["CodeGoat24/UnifiedReward-7b", TOWER_ID]


def test_pinpoints_from_the_grid_string():
    assert pinpoints("(1x1),...,(2x2)", 384) == [[384, 384], [384, 768], [768, 384], [768, 768]]
    assert pinpoints([[32, 64]], 32) == [[32, 64]]


def test_a_folder_that_is_not_llava_next_is_refused(checkpoints, tmp_path):
    with pytest.raises(ValueError, match="not a LLaVA-NeXT checkpoint"):
        convert(checkpoints["hf"], tmp_path / "x")
