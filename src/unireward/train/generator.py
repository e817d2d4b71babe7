"""Small text-to-image and text-to-video diffusion generators of the synthetic world: the models that stage 3
(Diffusion-DPO, `unireward align diffusion`) aligns at CPU scale.

    from unireward.train.generator import GeneratorSettings, train_generator
    train_generator("assets/small-t2i", GeneratorSettings(kind="image"))   # StableDiffusionPipeline folder
    train_generator("runs/small-t2v", GeneratorSettings(kind="video"))     # TextToVideoSDPipeline folder
    train_generator("runs/small-t2i-sd3", GeneratorSettings(denoiser="sd3"))  # StableDiffusion3Pipeline folder

The output is an ordinary diffusers pipeline folder (`DiffusionPipeline.from_pretrained` loads it), so it is
`unireward construct`'s ``diffusers:`` / ``t2v:`` generator and `unireward align diffusion`'s model as it is.

Design choices a user will notice:
- **The real architectures, small**: a CLIP text encoder, an `AutoencoderKL` (4 latent channels, 4x down), a
  `UNet2DConditionModel` (image) or `UNet3DConditionModel` (video, ModelScope T2V), DDIM sampling with
  classifier-free guidance. Images are 48 px (the oracle reads blurry 48-px shapes reliably; 32 px is too
  small for a slightly blurry generator), videos 32 px x 8 frames (8 frames as the judge samples them).
- **Two image denoisers.** ``denoiser="unet"`` (the default, SD 1.x's layout, ε-prediction) and ``"sd3"``: an
  `SD3Transformer2DModel` (MM-DiT, 2x2 patches with 2-D sin-cos position embeddings, flow matching with
  logit-normal σ, Euler sampling) in a `StableDiffusion3Pipeline` with two small CLIP encoders and no T5. The
  UNet has no absolute position signal (its convolutions and cross-attention are translation-equivariant), and
  at 12,000 steps it still places objects at chance on the 3x3 grid; the transformer's patches know where they
  are. With no T5 the pipeline pads the prompt with ``max_sequence_length`` zero tokens (256 by default, most of
  the compute for a 16-token caption); the folder records 1 in ``unireward_align.json`` and construct's
  sampler and `align diffusion` read it.
- **Layout first** (``layout_first``): a generator trained on the world's caption mix from the start learns
  objects and ignores position words for good (neither architecture, noise schedule, more steps nor later
  position-only fine-tuning changed that; `experiments/generator_text_use.py` measures it), while one that
  first sees only captions placing one object learns placement in under 1,000 steps. So the first
  ``layout_first`` steps draw only such captions, then the usual mix.
- **A word-level tokenizer** (CLIP BPE trained on the world's captions, so each word is one token). The text
  encoder is trained from scratch with the denoiser: there is no pretrained CLIP to start from offline.
- **Two stages in one call**: the VAE learns to reconstruct rendered scenes (MSE, no KL term: a tight
  posterior, so a posterior sample is the image and not noise), then it is frozen and the text encoder +
  denoiser learn ε-prediction (SD's noise schedule), with 10% of captions dropped for guidance. The VAE's
  latent scale is measured and stored as ``scaling_factor``.
- **Fresh data every step, train-split captions only**: step s draws its captions and renders their correct
  scenes from a generator seeded by (seed, s), so a resumed run sees the same batches; captions of the val and
  test splits (disjoint compositions, `synth.generate.split_of`) are never trained on.
- **Stopped while mediocre, on purpose**: stage 3 needs room to improve. The probe samples one output per
  held-out val caption and prints the oracle's share of fully right samples (``acc``) and mean score; the
  default budgets land in the 30-60% band the alignment proof needs. Resumable (``WORK/state.pt``).
- **A video generator can reuse an image generator's VAE** (``vae_from``): the VAE is 2-D and encodes a clip
  frame by frame, so a 48-px image VAE (97% of reconstructions right) serves 48-px clips as it is, where a VAE
  trained on clips alone got 69% at 32 px. The latent scale is measured again on the new kind's data.
- ``unireward_align.json`` records the sampling settings (steps, guidance, frames), which construct's
  diffusion generators read, so the folder samples the way it was probed without options.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unireward.synth.generate import (
    _caption_in_split,
    image_scene,
    sample_image_caption,
    sample_video_caption,
    video_clip,
)
from unireward.synth.render import render_clip, render_scene


@dataclass
class GeneratorSettings:
    kind: str = "image"  # "image" (StableDiffusionPipeline) or "video" (TextToVideoSDPipeline)
    denoiser: str = "unet"  # images: "unet" (SD 1.x layout, ε) or "sd3" (MM-DiT with positions, flow matching)
    size: int = 0  # pixels; 0: 48 for images, 32 for videos
    frames: int = 8
    vae_steps: int = 800
    vae_lr: float = 2e-3
    steps: int = 0  # 0: 6000 for images (at 3000 colours still drift), 2000 for videos
    batch: int = 0  # 0: 32 images or 16 clips
    lr: float = 1e-3
    warmup: int = 100
    cond_dropout: float = 0.1
    width: int = 32  # the UNet's first block; blocks are (w, 2w, 2w). The MM-DiT's width is 4w
    layers: int = 6  # MM-DiT blocks (sd3)
    flow_shift: float = 1.0  # sd3: σ shift of training and sampling (SD3 uses 3 at 1024 px; 12x12 latents need none)
    t5: bool = False  # sd3: add a small bidirectional T5 encoder (word-level) as text_encoder_3, as SD3 has
    layout_first: int = 0  # images: the first steps draw only captions that place one object ("... at the top")
    text_width: int = 64
    sample_steps: int = 20
    guidance: float = 3.0
    probe_every: int = 500
    probe_n: int = 48  # held-out val captions, one sample each
    save_every: int = 250
    seed: int = 0
    vae_from: str = ""  # a pipeline (or VAE) folder whose trained AutoencoderKL is reused, frozen: no VAE stage

    def __post_init__(self) -> None:
        if self.kind not in ("image", "video"):
            raise ValueError(f"kind must be 'image' or 'video', got {self.kind!r}")
        if self.denoiser not in ("unet", "sd3"):
            raise ValueError(f"denoiser must be 'unet' or 'sd3', got {self.denoiser!r}")
        if self.denoiser == "sd3" and self.kind != "image":
            raise ValueError("denoiser 'sd3' is an image model; videos use the UNet3D")
        if self.t5 and self.denoiser != "sd3":
            raise ValueError("t5 is a text encoder of the 'sd3' denoiser")
        if self.layout_first and self.kind != "image":
            raise ValueError("layout_first applies to image captions")
        image = self.kind == "image"
        self.size = self.size or (48 if image else 32)
        self.steps = self.steps or (6000 if image else 2000)
        self.batch = self.batch or (32 if image else 16)
        if self.size % 16:
            raise ValueError(f"size must be a multiple of 16 (4x VAE, then 4x in the denoiser), got {self.size}")


MAX_TOKENS = 16
SD3_T5_TOKENS = 1  # the zero tokens an SD3 pipeline without T5 appends to the prompt (its default is 256)


def t5_tokens(s: GeneratorSettings) -> int:
    """`max_sequence_length` of an SD3 generator: its T5 tokens (captions are at most 16 words), else one."""
    return MAX_TOKENS if s.t5 else SD3_T5_TOKENS


# ------------------------------------------------------------------------------------------ data
def placed_caption(rng: np.random.Generator) -> Any:
    """An image caption that places one object at a named position ("a red circle at the top left")."""
    while True:
        cap = sample_image_caption(rng)
        if getattr(cap, "position", None):
            return cap


def caption_and_media(kind: str, rng: np.random.Generator, split: str, size: int, frames: int,
                      placed: bool = False) -> tuple[str, Any]:
    """A caption of `split` and a correct rendering of it (a PIL image, or a list of frames); `placed`: a caption
    that places one object."""
    if kind == "image":
        cap = _caption_in_split(rng, split, placed_caption if placed else sample_image_caption)
        return cap.text(), render_scene(image_scene(cap, rng, set(), 0.0), size)
    cap = _caption_in_split(rng, split, sample_video_caption)
    return cap.text(), render_clip(video_clip(cap, rng, set(), 0.0, frames), size)


def pixels(media: list[Any]) -> torch.Tensor:
    """Images (B, 3, H, W) or videos (B, 3, F, H, W) in [-1, 1]."""
    def one(img: Any) -> torch.Tensor:
        return torch.from_numpy(np.asarray(img, dtype=np.float32) / 127.5 - 1.0).permute(2, 0, 1)

    if isinstance(media[0], list):
        return torch.stack([torch.stack([one(f) for f in m], dim=1) for m in media])
    return torch.stack([one(m) for m in media])


def batch_at(s: GeneratorSettings, step: int, split: str = "train") -> tuple[list[str], torch.Tensor]:
    rng = np.random.default_rng([s.seed, step, 0 if split == "train" else 1])
    placed = split == "train" and step < s.layout_first
    caps, media = zip(*(caption_and_media(s.kind, rng, split, s.size, s.frames, placed) for _ in range(s.batch)))
    return list(caps), pixels(list(media))


def probe_captions(s: GeneratorSettings) -> list[str]:
    rng = np.random.default_rng([s.seed, 10**6])
    return [caption_and_media(s.kind, rng, "val", s.size, s.frames)[0] for _ in range(s.probe_n)]


def world_corpus() -> list[str]:
    """Every word of the world's captions (all splits), for the tokenizer."""
    rng = np.random.default_rng(0)
    return [sample_image_caption(rng).text() for _ in range(3000)] + \
           [sample_video_caption(rng).text() for _ in range(2000)]


def world_tokenizer(folder: Path):
    """A CLIP tokenizer whose BPE merges make every word of the world one token (a word outside the world's
    vocabulary becomes characters, or the unknown token where BPE leaves a piece that is not in the vocabulary)."""
    from transformers import CLIPTokenizer

    if not (folder / "vocab.json").is_file():  # made once per work folder: a resumed run keeps its token ids
        _write_world_bpe(folder)
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), pad_token="<|endoftext|>",
                         model_max_length=MAX_TOKENS)


def _write_world_bpe(folder: Path) -> None:
    """BPE merges learned from the world's captions until every word is one token, ties broken by the pair
    itself (the `tokenizers` trainer breaks them differently from run to run, which would change token ids)."""
    from collections import Counter

    alphabet = list("abcdefghijklmnopqrstuvwxyz0123456789,.'-")
    counts = Counter(w for text in world_corpus() for w in text.split())
    seqs = {w: [*w[:-1], w[-1] + "</w>"] for w in counts}
    merges: list[tuple[str, str]] = []
    while True:
        pairs: Counter = Counter()
        for w, seq in seqs.items():
            for pair in zip(seq, seq[1:]):
                pairs[pair] += counts[w]
        if not pairs:
            break
        a, b = max(pairs, key=lambda p: (pairs[p], p))
        merges.append((a, b))
        for w, seq in seqs.items():
            i, out = 0, []
            while i < len(seq):
                if seq[i:i + 2] == [a, b]:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(seq[i])
                    i += 1
            seqs[w] = out
    tokens = ["<|startoftext|>", "<|endoftext|>", *alphabet, *(c + "</w>" for c in alphabet)]
    tokens += [a + b for a, b in merges]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(dict.fromkeys(tokens))}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))


# ------------------------------------------------------------------------------------------ models
def build_pipeline(s: GeneratorSettings, work: Path):
    """A fresh (random) pipeline of the settings' kind."""
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        TextToVideoSDPipeline,
        UNet2DConditionModel,
        UNet3DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(s.seed)
    tok = world_tokenizer(work / "tokenizer-src")
    tw = s.text_width
    text_config = CLIPTextConfig(vocab_size=len(tok), hidden_size=tw, intermediate_size=2 * tw, projection_dim=tw,
                                 num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=MAX_TOKENS,
                                 bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                 pad_token_id=tok.pad_token_id)
    te = CLIPTextModel(text_config) if s.denoiser == "unet" else None
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(32, 64, 64),
                        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
                        layers_per_block=1, norm_num_groups=16, sample_size=s.size)
    # a tight posterior (std ~1e-3) from the start, kept by training without a KL term: with an untrained
    # log-variance near 0 every posterior sample (what Diffusion-DPO encodes) would be mostly noise, and even a
    # 1e-6 KL weight lets Adam raise it to std ~0.5 within a few hundred steps
    with torch.no_grad():
        vae.quant_conv.weight[4:].zero_()
        vae.quant_conv.bias[4:].fill_(-14.0)
    if s.denoiser == "sd3":
        return _sd3_pipeline(s, tok, text_config, vae)
    sched = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                          set_alpha_to_one=False, steps_offset=1, prediction_type="epsilon")
    w = s.width
    common = dict(sample_size=s.size // 4, in_channels=4, out_channels=4, layers_per_block=1,
                  block_out_channels=(w, 2 * w, 2 * w), cross_attention_dim=s.text_width, attention_head_dim=8,
                  norm_num_groups=8)
    if s.kind == "image":
        unet = UNet2DConditionModel(down_block_types=("CrossAttnDownBlock2D",) * 2 + ("DownBlock2D",),
                                    up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 2, **common)
        return StableDiffusionPipeline(vae=vae, text_encoder=te, tokenizer=tok, unet=unet, scheduler=sched,
                                       safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    unet = UNet3DConditionModel(down_block_types=("CrossAttnDownBlock3D",) * 2 + ("DownBlock3D",),
                                up_block_types=("UpBlock3D",) + ("CrossAttnUpBlock3D",) * 2, **common)
    return TextToVideoSDPipeline(vae=vae, text_encoder=te, tokenizer=tok, unet=unet, scheduler=sched)


def _sd3_pipeline(s: GeneratorSettings, tok, text_config, vae):
    """SD3's layout, small: two CLIP encoders with projections (SD3 reads the penultimate hidden states of both,
    concatenated, and their pooled projections), no T5, an MM-DiT over 2x2 latent patches."""
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline
    from transformers import CLIPTextModelWithProjection

    te, te2 = CLIPTextModelWithProjection(text_config), CLIPTextModelWithProjection(text_config)
    inner, grid = 4 * s.width, s.size // 8
    transformer = SD3Transformer2DModel(sample_size=s.size // 4, patch_size=2, in_channels=4, out_channels=4,
                                        num_layers=s.layers, attention_head_dim=32, num_attention_heads=inner // 32,
                                        joint_attention_dim=2 * s.text_width, caption_projection_dim=inner,
                                        pooled_projection_dim=2 * s.text_width, pos_embed_max_size=grid)
    te3, tok3 = world_t5(s) if s.t5 else (None, None)
    return StableDiffusion3Pipeline(transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(
        shift=s.flow_shift), vae=vae, text_encoder=te, tokenizer=tok, text_encoder_2=te2, tokenizer_2=tok,
        text_encoder_3=te3, tokenizer_3=tok3)


def world_t5(s: GeneratorSettings):
    """A small T5 encoder (bidirectional, unlike CLIP's causal one) over a word-level unigram vocabulary of the
    world's captions; its width is the MM-DiT's joint attention width, as SD3's T5 is."""
    from transformers import T5Config, T5EncoderModel, T5Tokenizer

    words = sorted({w for text in world_corpus() for w in text.split()})
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -1.0)] + [(f"▁{w}", -1.0) for w in words]
    vocab += [(c, -5.0) for c in "abcdefghijklmnopqrstuvwxyz0123456789,.'-"]
    tok = T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=MAX_TOKENS)
    width = 2 * s.text_width
    model = T5EncoderModel(T5Config(vocab_size=len(tok), d_model=width, d_kv=width // 4, d_ff=2 * width,
                                    num_layers=2, num_heads=4, pad_token_id=0, eos_token_id=1))
    return model, tok


def denoiser_of(pipe) -> torch.nn.Module:
    return pipe.transformer if hasattr(pipe, "transformer") else pipe.unet


def text_encoders(pipe) -> dict[str, torch.nn.Module]:
    names = ("text_encoder", "text_encoder_2", "text_encoder_3")
    return {n: getattr(pipe, n) for n in names if getattr(pipe, n, None) is not None}


def inference_settings(s: GeneratorSettings) -> dict[str, Any]:
    """How the folder samples (recorded in ``unireward_align.json``, passed to the pipeline's call)."""
    kw: dict[str, Any] = {"num_inference_steps": s.sample_steps, "guidance_scale": s.guidance}
    if s.kind == "video":
        kw["num_frames"] = s.frames
    if s.denoiser == "sd3":
        kw["max_sequence_length"] = t5_tokens(s)
    return kw


def encode_text(pipe, captions: list[str]) -> torch.Tensor:
    """The text encoder's last hidden states, tokenized exactly as the pipelines do (padded to max length)."""
    ids = pipe.tokenizer(captions, padding="max_length", max_length=pipe.tokenizer.model_max_length,
                         truncation=True, return_tensors="pt").input_ids
    return pipe.text_encoder(ids)[0]


def encode_media(vae, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Scaled latents of images (B, 3, H, W) or videos (B, 3, F, H, W) (frames encoded one by one): posterior
    samples drawn with `generator`, or the posterior means without one."""
    video = x.ndim == 5
    if video:
        b, c, f, h, w = x.shape
        x = x.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)
    dist = vae.encode(x).latent_dist
    z = dist.sample(generator) if generator is not None else dist.mean
    z = (z - (vae.config.get("shift_factor") or 0.0)) * vae.config.scaling_factor
    if video:
        z = z.reshape(b, f, *z.shape[1:]).permute(0, 2, 1, 3, 4)
    return z


# ------------------------------------------------------------------------------------------ probes
def sample(pipe, captions: list[str], s: GeneratorSettings, seed: int = 0) -> list[Any]:
    """One output per caption (PIL images, or lists of frames), seeds fixed per position."""
    gens = [torch.Generator("cpu").manual_seed(seed + i) for i in range(len(captions))]
    kw = {**inference_settings(s), "generator": gens}
    with torch.no_grad():
        if s.kind == "image":
            return pipe(prompt=captions, **kw).images
        frames = pipe(prompt=captions, output_type="np", **kw).frames
    from PIL import Image

    return [[Image.fromarray((np.clip(f, 0, 1) * 255).round().astype(np.uint8)) for f in v] for v in frames]


def oracle_accuracy(kind: str, captions: list[str], media: list[Any]) -> dict[str, Any]:
    """The oracle's share of fully right outputs, their mean element fraction, and the share right per element
    kind (``kinds``: colour, shape, position, relation, motion, ...; a generator can be 50% fully right while
    ignoring every position word, and only this shows it)."""
    from unireward.align.synth_eval import by_element_kind, oracle_fraction
    from unireward.synth import Oracle

    oracle, right, fracs = Oracle(), [], []
    for cap, m in zip(captions, media):
        frac = oracle_fraction(oracle, kind, cap, m)
        right.append(frac == 1.0)
        fracs.append(frac)
    kinds = {k: round(v, 3) for k, v in by_element_kind(kind, captions, [[m] for m in media]).items()}
    return {"acc": round(float(np.mean(right)), 3), "fraction": round(float(np.mean(fracs)), 3), "kinds": kinds}


# ------------------------------------------------------------------------------------------ training
def _train_vae(pipe, s: GeneratorSettings, work: Path, log: Callable[[str], None]) -> dict[str, Any]:
    from unireward.train.stages import run_loop

    if s.vae_from:
        return _reuse_vae(pipe, s)
    vae = pipe.vae
    held_caps, held = batch_at(s, 0, "val")

    def frames_of(x: torch.Tensor) -> torch.Tensor:  # the VAE is 2-D: a video is a batch of frames
        return x.permute(0, 2, 1, 3, 4).flatten(0, 1) if x.ndim == 5 else x

    def loss_fn(step: int) -> torch.Tensor:
        x = frames_of(batch_at(s, step)[1])
        dist = vae.encode(x).latent_dist
        rec = vae.decode(dist.sample(torch.Generator().manual_seed(s.seed * 1_000_003 + step))).sample
        return torch.nn.functional.mse_loss(rec, x)

    def probe() -> dict[str, Any]:
        with torch.no_grad():
            rec = vae.decode(vae.encode(frames_of(held)).latent_dist.mean).sample
        mse = torch.nn.functional.mse_loss(rec, frames_of(held)).item()
        imgs = ((rec.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
        from PIL import Image

        media: list[Any] = [Image.fromarray(a) for a in imgs]
        if s.kind == "video":
            media = [media[i:i + s.frames] for i in range(0, len(media), s.frames)]
        return {"mse": round(mse, 5), **oracle_accuracy(s.kind, held_caps, media)}

    state = run_loop({"vae": vae}, list(vae.parameters()), loss_fn, probe, work / "vae", s.vae_steps, s.vae_lr,
                     min(s.warmup, s.vae_steps), max(1, s.vae_steps // 2), s.save_every, log)
    _set_latent_scale(vae, s)
    return {"steps": state.step, "probe": state.history[-1] if state.history else {}}


def _set_latent_scale(vae, s: GeneratorSettings) -> None:
    """Store the ``scaling_factor`` that gives latents of unit variance on this kind's data, as SD's does, and
    for SD3's pipeline (which decodes z / scale + shift) the ``shift_factor`` that centres them."""
    vae.register_to_config(scaling_factor=1.0, shift_factor=0.0 if s.denoiser == "sd3" else None)
    with torch.no_grad():
        z = encode_media(vae, batch_at(s, 10**7)[1])
    shift = float(z.mean()) if s.denoiser == "sd3" else None
    vae.register_to_config(scaling_factor=float(1.0 / z.std()), shift_factor=shift)


def _reuse_vae(pipe, s: GeneratorSettings) -> dict[str, Any]:
    """Load the trained VAE of `s.vae_from` into `pipe` and measure its latent scale on this kind's data."""
    from diffusers import AutoencoderKL

    src = Path(s.vae_from)
    src = src / "vae" if (src / "vae").is_dir() else src
    if not (src / "config.json").is_file():
        raise FileNotFoundError(f"vae_from: no VAE at {s.vae_from} (expected a pipeline folder with vae/, "
                                "or a VAE folder)")
    vae = AutoencoderKL.from_pretrained(src)
    if vae.config.sample_size != s.size:
        raise ValueError(f"vae_from: the VAE at {s.vae_from} was trained at {vae.config.sample_size} px, "
                         f"this generator is {s.size} px")
    _set_latent_scale(vae, s)
    pipe.register_modules(vae=vae)
    return {"steps": 0, "from": str(s.vae_from), "probe": {}}


def _sd3_condition(pipe, captions: list[str], s: GeneratorSettings) -> dict[str, torch.Tensor]:
    """The MM-DiT's text inputs, with gradients (the encoders train with it), exactly as the pipeline makes them."""
    emb, _, pooled, _ = pipe.encode_prompt(prompt=captions, prompt_2=None, prompt_3=None, device=torch.device("cpu"),
                                           do_classifier_free_guidance=False, max_sequence_length=t5_tokens(s))
    return {"encoder_hidden_states": emb, "pooled_projections": pooled}


def _train_denoiser(pipe, s: GeneratorSettings, work: Path, log: Callable[[str], None]) -> dict[str, Any]:
    from diffusers import DDPMScheduler

    from unireward.align.diffusion_models import Family, NoiseSettings
    from unireward.train.stages import run_loop

    pipe.vae.requires_grad_(False)
    pipe.vae.eval()
    caps_probe = probe_captions(s)
    modules = {"unet" if s.denoiser == "unet" else "transformer": denoiser_of(pipe), **text_encoders(pipe)}
    params = [p for m in modules.values() for p in m.parameters()]
    if s.denoiser == "unet":
        noise_sched = DDPMScheduler.from_config(pipe.scheduler.config)
    else:  # the same σ sampling (logit-normal, shifted) and velocity target as `align diffusion`'s flow families
        family = Family(pipe, NoiseSettings(), torch.device("cpu"))

    def loss_fn(step: int) -> torch.Tensor:
        caps, x = batch_at(s, step)
        # all randomness from (seed, step), the global RNG too (UNet3D's temporal convs have dropout): exact resume
        g = torch.Generator().manual_seed(s.seed * 1_000_003 + step)
        torch.manual_seed(s.seed * 1_000_003 + step)
        keep = torch.rand(len(caps), generator=g) >= s.cond_dropout
        caps = [c if k else "" for c, k in zip(caps, keep.tolist())]
        with torch.no_grad():
            z0 = encode_media(pipe.vae, x, g)
        noise = torch.randn(z0.shape, generator=g)
        if s.denoiser == "sd3":
            sigma = family.sample_timesteps(len(caps), g)
            zt, target = family.noisy_and_target(z0, noise, sigma)
            return torch.nn.functional.mse_loss(family.predict(pipe.transformer, zt, sigma,
                                                               _sd3_condition(pipe, caps, s)), target)
        t = torch.randint(0, noise_sched.config.num_train_timesteps, (len(caps),), generator=g)
        zt = noise_sched.add_noise(z0, noise, t)
        pred = pipe.unet(zt, t, encoder_hidden_states=encode_text(pipe, caps)).sample
        return torch.nn.functional.mse_loss(pred, noise)

    def train_mode(on: bool) -> None:
        for m in modules.values():
            m.train(on)

    def probe() -> dict[str, Any]:
        train_mode(False)
        out = oracle_accuracy(s.kind, caps_probe, sample(pipe, caps_probe, s))
        train_mode(True)
        return out

    train_mode(True)
    state = run_loop(modules, params, loss_fn, probe,
                     work / "denoiser", s.steps, s.lr, s.warmup, s.probe_every, s.save_every, log)
    return {"steps": state.step, "probe": state.history[-1] if state.history else {}, "history": state.history}


def train_generator(output: str | Path, settings: GeneratorSettings | None = None, work: str | Path | None = None,
                    log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train a small generator of the synthetic world and save it as a diffusers pipeline folder at `output`.
    Resumes from `work` (default ``OUTPUT-work``). Returns the summary, also written to
    ``OUTPUT/train_summary.json``."""
    s, output = settings or GeneratorSettings(), Path(output)
    work = Path(work) if work else output.with_name(output.name + "-work")
    start = time.time()
    pipe = build_pipeline(s, work)
    pipe.set_progress_bar_config(disable=True)
    vae = _train_vae(pipe, s, work, log)
    log(f"VAE done ({time.time() - start:.0f} s): {json.dumps(vae['probe'])}")
    den = _train_denoiser(pipe, s, work, log)
    for m in (denoiser_of(pipe), *text_encoders(pipe).values()):
        m.eval()
    tmp = output.with_name(output.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    pipe.save_pretrained(tmp)
    (tmp / "unireward_align.json").write_text(json.dumps({"inference": inference_settings(s)}, indent=2))
    summary = {"output": str(output), "kind": s.kind, "settings": asdict(s), "seconds": round(time.time() - start, 1),
               "vae": vae, "steps": den["steps"], "probe": den["probe"], "history": den["history"]}
    (tmp / "train_summary.json").write_text(json.dumps(summary, indent=2))
    shutil.rmtree(output, ignore_errors=True)
    tmp.rename(output)
    return summary
