"""Tiny random diffusers pipelines of the real architectures (tests, CPU demos of Diffusion-DPO).

Each builder writes a complete pipeline folder with ``save_pretrained``; it loads back through
``DiffusionPipeline.from_pretrained`` like a hub checkpoint. Nothing is downloaded: tokenizers are built
locally (CLIP BPE with no merges = one token per character; T5 unigram over single characters).

=========  ==============================================================  ======================
family     pipeline (denoiser)                                             generate at
=========  ==============================================================  ======================
sd         StableDiffusionPipeline (UNet2DConditionModel, ε-prediction)     32×32
sdxl       StableDiffusionXLPipeline (UNet2D + text_time added conditioning, two CLIP encoders)  32×32
sd3        StableDiffusion3Pipeline (SD3Transformer2DModel, flow matching, 2 CLIP + T5)  32×32
flux       FluxPipeline (FluxTransformer2DModel, flow matching, packed latents)  32×32
t2v        TextToVideoSDPipeline (UNet3DConditionModel, ModelScope T2V)     32×32, a few frames
wan        WanPipeline (WanTransformer3DModel, flow matching, Wan2.1 T2V)   16×16, 4k+1 frames
=========  ==============================================================  ======================

``prediction_type`` ("epsilon" or "v_prediction") sets the scheduler of the UNet families (SD 2.x style when v).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


FAMILIES = ("sd", "sdxl", "sd3", "flux", "t2v", "wan")


def clip_tokenizer(max_len: int = 16):
    from tokenizers import pre_tokenizers
    from transformers import CLIPTokenizer

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    vocab.update({c: 2 + i for i, c in enumerate(alphabet)})
    vocab.update({c + "</w>": 2 + len(alphabet) + i for i, c in enumerate(alphabet)})
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=max_len)


def clip_text(max_len: int = 16, hidden: int = 32, projection: bool = False):
    """(tokenizer, CLIP text encoder); `projection` gives `CLIPTextModelWithProjection` (SDXL/SD3's second)."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    tok = clip_tokenizer(max_len)
    cfg = CLIPTextConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=max_len, bos_token_id=0, eos_token_id=1,
                         pad_token_id=1, projection_dim=hidden)
    return tok, (CLIPTextModelWithProjection(cfg) if projection else CLIPTextModel(cfg))


def t5_tokenizer():
    from transformers import T5Tokenizer

    chars = "abcdefghijklmnopqrstuvwxyz0123456789 ,.-'"
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -1.0)]
    vocab += [(f"▁{c}", -2.0) for c in chars] + [(c, -3.0) for c in chars]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def vae(latent_channels: int = 4, **extra: Any):
    from diffusers import AutoencoderKL

    # vae_scale_factor 2: a 32 px image is a 16 px latent
    return AutoencoderKL(in_channels=3, out_channels=3, latent_channels=latent_channels, block_out_channels=(16, 32),
                         down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                         layers_per_block=1, norm_num_groups=8, sample_size=32, **extra)


def ddim(prediction_type: str = "epsilon"):
    from diffusers import DDIMScheduler

    return DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                         set_alpha_to_one=False, steps_offset=1, prediction_type=prediction_type)


def _unet2d(**extra: Any):
    from diffusers import UNet2DConditionModel

    kw = dict(sample_size=16, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
              down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
              up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
              cross_attention_dim=32, attention_head_dim=8, norm_num_groups=8)
    return UNet2DConditionModel(**{**kw, **extra})


def _sd(prediction_type: str):
    from diffusers import StableDiffusionPipeline

    tok, te = clip_text()
    return StableDiffusionPipeline(vae=vae(), text_encoder=te, tokenizer=tok, unet=_unet2d(), scheduler=ddim(
        prediction_type), safety_checker=None, feature_extractor=None, requires_safety_checker=False)


def _sdxl(prediction_type: str):
    from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionXLPipeline

    tok, te = clip_text()
    tok2, te2 = clip_text(projection=True)
    # cross-attention sees both encoders' hidden states (32 + 32); the added embedding reads the pooled
    # projection of the second (32) and the six size/crop ids, each embedded in 8 dims
    unet = _unet2d(cross_attention_dim=64, addition_embed_type="text_time", addition_time_embed_dim=8,
                   projection_class_embeddings_input_dim=32 + 6 * 8)
    sched = EulerAncestralDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                            timestep_spacing="trailing", prediction_type=prediction_type)
    return StableDiffusionXLPipeline(vae=vae(), text_encoder=te, text_encoder_2=te2, tokenizer=tok, tokenizer_2=tok2,
                                     unet=unet, scheduler=sched)


def _sd3(prediction_type: str):
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline
    from transformers import T5Config, T5EncoderModel

    tok, te = clip_text(projection=True)
    tok2, te2 = clip_text(projection=True)
    # the T5 width is the joint attention width; the two CLIPs' hidden states (32 + 32) are padded to it
    tok3 = t5_tokenizer()
    te3 = T5EncoderModel(T5Config(vocab_size=len(tok3), d_model=64, d_kv=8, d_ff=32, num_layers=1, num_heads=4))
    transformer = SD3Transformer2DModel(sample_size=16, patch_size=2, in_channels=4, out_channels=4, num_layers=2,
                                        attention_head_dim=8, num_attention_heads=4, joint_attention_dim=64,
                                        caption_projection_dim=32, pooled_projection_dim=64, pos_embed_max_size=32)
    return StableDiffusion3Pipeline(transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
                                    vae=vae(shift_factor=0.1, scaling_factor=1.5), text_encoder=te, tokenizer=tok,
                                    text_encoder_2=te2, tokenizer_2=tok2, text_encoder_3=te3, tokenizer_3=tok3)


def _flux(prediction_type: str):
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import T5Config, T5EncoderModel

    tok, te = clip_text(max_len=77)
    tok2 = t5_tokenizer()
    te2 = T5EncoderModel(T5Config(vocab_size=len(tok2), d_model=32, d_kv=8, d_ff=32, num_layers=2, num_heads=4))
    transformer = FluxTransformer2DModel(patch_size=1, in_channels=16, num_layers=1, num_single_layers=1,
                                         attention_head_dim=8, num_attention_heads=2, joint_attention_dim=32,
                                         pooled_projection_dim=32, axes_dims_rope=(2, 2, 4), guidance_embeds=False)
    return FluxPipeline(scheduler=FlowMatchEulerDiscreteScheduler(shift=1.0), vae=vae(shift_factor=0.1),
                        text_encoder=te, tokenizer=tok, text_encoder_2=te2, tokenizer_2=tok2, transformer=transformer)


def _t2v(prediction_type: str):
    from diffusers import TextToVideoSDPipeline, UNet3DConditionModel

    tok, te = clip_text()
    unet = UNet3DConditionModel(block_out_channels=(32, 64), down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
                                up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"), cross_attention_dim=32,
                                attention_head_dim=4, norm_num_groups=8, sample_size=16, layers_per_block=1)
    return TextToVideoSDPipeline(vae=vae(), text_encoder=te, tokenizer=tok, unet=unet, scheduler=ddim(prediction_type))


def _wan(prediction_type: str):
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    tok = t5_tokenizer()
    te = UMT5EncoderModel(UMT5Config(vocab_size=len(tok), d_model=32, d_kv=8, d_ff=32, num_layers=2, num_heads=4))
    transformer = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12,
                                        in_channels=16, out_channels=16, text_dim=32, freq_dim=256, ffn_dim=32,
                                        num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
                                        rope_max_seq_len=32)
    vae_ = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                            temperal_downsample=[False, True, True])
    return WanPipeline(tokenizer=tok, text_encoder=te, vae=vae_, transformer=transformer,
                       scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0))


_BUILDERS = {"sd": _sd, "sdxl": _sdxl, "sd3": _sd3, "flux": _flux, "t2v": _t2v, "wan": _wan}


def build_tiny_pipeline(family: str, path: str | Path, seed: int = 0, prediction_type: str = "epsilon") -> Path:
    """A random tiny pipeline of `family` (one of `FAMILIES`) saved at `path`."""
    import torch

    if family not in _BUILDERS:
        raise ValueError(f"unknown tiny pipeline family {family!r}; choose one of {', '.join(FAMILIES)}")
    torch.manual_seed(seed)
    pipe = _BUILDERS[family](prediction_type)
    pipe.save_pretrained(path)
    return Path(path)
