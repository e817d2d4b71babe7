"""Tiny random diffusers pipelines of the real architectures, for tests of the construct generators.

`build_tiny_sd` writes a `StableDiffusionPipeline` (UNet2DConditionModel + AutoencoderKL + CLIP text
encoder, ~1 M parameters, 32x32 images) and `build_tiny_t2v` a `TextToVideoSDPipeline` (UNet3DConditionModel,
the ModelScope text-to-video architecture). Both are saved with `save_pretrained` and load back through
`DiffusionPipeline.from_pretrained`, the path a hub checkpoint takes. The tokenizer is a CLIP BPE with no
merges (one token per character), so nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path


def _clip_text(max_len: int = 16):
    from tokenizers import pre_tokenizers
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    vocab.update({c: 2 + i for i, c in enumerate(alphabet)})
    vocab.update({c + "</w>": 2 + len(alphabet) + i for i, c in enumerate(alphabet)})
    tok = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=max_len)
    te = CLIPTextModel(CLIPTextConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=4, max_position_embeddings=max_len, bos_token_id=0,
                                      eos_token_id=1, pad_token_id=1))
    return tok, te


def _vae():
    from diffusers import AutoencoderKL

    # vae_scale_factor 2: a 32 px image is a 16 px latent
    return AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(16, 32),
                         down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                         layers_per_block=1, norm_num_groups=8, sample_size=32)


def _scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                         set_alpha_to_one=False, steps_offset=1)


def build_tiny_sd(path: str | Path, seed: int = 0) -> Path:
    """A random tiny `StableDiffusionPipeline` saved at `path` (generate at height=width=32)."""
    import torch
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel

    torch.manual_seed(seed)
    tok, te = _clip_text()
    unet = UNet2DConditionModel(sample_size=16, in_channels=4, out_channels=4, layers_per_block=1,
                                block_out_channels=(32, 64), down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32,
                                attention_head_dim=8, norm_num_groups=8)
    pipe = StableDiffusionPipeline(vae=_vae(), text_encoder=te, tokenizer=tok, unet=unet, scheduler=_scheduler(),
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(path)
    return Path(path)


def build_tiny_t2v(path: str | Path, seed: int = 0) -> Path:
    """A random tiny `TextToVideoSDPipeline` saved at `path` (generate at height=width=32, a few frames)."""
    import torch
    from diffusers import TextToVideoSDPipeline, UNet3DConditionModel

    torch.manual_seed(seed)
    tok, te = _clip_text()
    unet = UNet3DConditionModel(block_out_channels=(32, 64), down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
                                up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"), cross_attention_dim=32,
                                attention_head_dim=4, norm_num_groups=8, sample_size=16, layers_per_block=1)
    pipe = TextToVideoSDPipeline(vae=_vae(), text_encoder=te, tokenizer=tok, unet=unet, scheduler=_scheduler())
    pipe.save_pretrained(path)
    return Path(path)
