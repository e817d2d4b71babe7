"""Model families for Diffusion-DPO: how each diffusers pipeline encodes captions and media, noises latents,
and calls its denoiser.

=========  ===========================================  ====================  ==============================
family     denoiser (pipeline)                           target                model timestep
=========  ===========================================  ====================  ==============================
sd         UNet2DConditionModel (SD 1.x/2.x)            ε or v (scheduler)    t ∈ {0..999}
sdxl       UNet2DConditionModel with ``text_time``       ε or v (scheduler)    t; turbo: {249, 499, 749, 999}
           added conditioning (SDXL, SDXL-Turbo)
t2v        UNet3DConditionModel (ModelScope T2V,         ε or v (scheduler)    t
           TextToVideoSDPipeline)
sd3        SD3Transformer2DModel (SD3, SD3.5)            velocity ε − x₀       1000·σ
flux       FluxTransformer2DModel (FLUX.1)               velocity ε − x₀       σ (packed 2×2 latents)
wan        WanTransformer3DModel (Wan2.1, Wan2.2 5B)     velocity ε − x₀       1000·σ
=========  ===========================================  ====================  ==============================

Design choices a user will notice:
- The family is read from the pipeline's denoiser class, so any checkpoint of these architectures works
  (hub id or folder); anything else is refused with the list of families.
- Captions go through the pipeline's own ``encode_prompt`` (no classifier-free-guidance branch), so training
  sees exactly the embeddings inference uses. SDXL's size/crop ids are (H, W, 0, 0, H, W) of the training
  crop, as upstream.
- Latents are normalised the way each pipeline decodes them: × ``scaling_factor`` (SD, SDXL, T2V);
  (z − ``shift_factor``) × ``scaling_factor`` (SD3, FLUX); (z − ``latents_mean``) / ``latents_std`` (Wan).
  A 2D VAE (T2V) encodes each frame; Wan's causal 3D VAE encodes the clip (frames must be 4k+1).
- DDPM-family noise follows the checkpoint's training schedule (``DDPMScheduler`` from its scheduler config);
  turbo models get zero-terminal-SNR betas and the four turbo timesteps (upstream's SDXL-Turbo recipe).
- Flow models: σ is drawn logit-normal (mean 0, std 1; or uniform) and shifted by the scheduler's shift
  (``shift``/``flow_shift``; none when it uses dynamic shifting, as diffusers' FLUX training scripts).
  Guidance-distilled FLUX (dev) gets a constant guidance embedding (``flux_guidance``, 3.5).
- Wan2.2 A14B (two experts, ``transformer_2``) is refused: each expert would need its own timestep range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from unireward.align.losses import ddpm_noisy_and_target, flow_noisy_and_target


TURBO_TIMESTEPS = (249, 499, 749, 999)
FAMILIES = ("sd", "sdxl", "t2v", "sd3", "flux", "wan")
VIDEO_FAMILIES = ("t2v", "wan")
FLOW_FAMILIES = ("sd3", "flux", "wan")
LORA_MODULES = ("to_k", "to_q", "to_v", "to_out.0")


@dataclass
class NoiseSettings:
    """How timesteps are drawn (see the module docstring)."""

    prediction_type: str | None = None  # None: the scheduler's (DDPM families) / "flow"
    turbo: bool = False
    turbo_timesteps: tuple[int, ...] = TURBO_TIMESTEPS
    zero_terminal_snr: bool | None = None  # None: = turbo
    timestep_sampling: str = "logit_normal"  # flow families: logit_normal | uniform
    logit_mean: float = 0.0
    logit_std: float = 1.0
    flow_shift: float | None = None  # None: the scheduler's
    flux_guidance: float = 3.5
    timestep_range: tuple[float, float] = (0.0, 1.0)  # the share of the noise range drawn from (not turbo)


def family_of(pipe: Any) -> str:
    """The family name of a loaded pipeline, from its denoiser class."""
    unet, transformer = getattr(pipe, "unet", None), getattr(pipe, "transformer", None)
    name = type(unet if unet is not None else transformer).__name__
    if name == "UNet2DConditionModel":
        return "sdxl" if unet.config.get("addition_embed_type") == "text_time" else "sd"
    table = {"UNet3DConditionModel": "t2v", "SD3Transformer2DModel": "sd3", "FluxTransformer2DModel": "flux",
             "WanTransformer3DModel": "wan"}
    if name not in table:
        raise ValueError(f"{type(pipe).__name__} with a {name} denoiser is not supported by Diffusion-DPO; "
                         f"supported: SD 1.x/2.x, SDXL(-Turbo), SD3, FLUX.1, ModelScope T2V (UNet3D), Wan")
    if table[name] == "wan" and getattr(pipe, "transformer_2", None) is not None:
        raise ValueError("Wan2.2 A14B (two experts, transformer_2) is not supported; use Wan2.1 or Wan2.2 TI2V-5B")
    return table[name]


class Family:
    """One pipeline's encoders, denoiser and noise process, on one device."""

    def __init__(self, pipe: Any, noise: NoiseSettings, device: torch.device, max_sequence_length: int = 256):
        self.pipe, self.name, self.device = pipe, family_of(pipe), device
        self.max_sequence_length = max_sequence_length  # SD3's T5 tokens (zeros without T5; a small generator: 1)
        self.attr = "unet" if self.name in ("sd", "sdxl", "t2v") else "transformer"
        self.video, self.flow = self.name in VIDEO_FAMILIES, self.name in FLOW_FAMILIES
        self.settings = noise
        self.vae = pipe.vae
        self.prediction_type = "flow" if self.flow else (noise.prediction_type
                                                         or pipe.scheduler.config.get("prediction_type", "epsilon"))
        if self.flow and noise.prediction_type not in (None, "flow"):
            raise ValueError(f"{self.name} is a flow-matching model: prediction_type must be 'flow', "
                             f"got {noise.prediction_type!r}")
        if noise.turbo and tuple(noise.timestep_range) != (0.0, 1.0):
            raise ValueError("timestep_range does not apply to turbo models (they train on turbo_timesteps)")
        self._ddpm_setup() if not self.flow else self._flow_setup()

    @property
    def denoiser(self) -> torch.nn.Module:
        return getattr(self.pipe, self.attr)

    # ------------------------------------------------------------------ noise
    def _ddpm_setup(self) -> None:
        from diffusers import DDPMScheduler

        zsnr = self.settings.turbo if self.settings.zero_terminal_snr is None else self.settings.zero_terminal_snr
        sched = DDPMScheduler.from_config(self.pipe.scheduler.config, rescale_betas_zero_snr=zsnr)
        self.num_train_timesteps = sched.config.num_train_timesteps
        self.alphas_cumprod = sched.alphas_cumprod.float()

    def _flow_setup(self) -> None:
        cfg = self.pipe.scheduler.config
        if self.settings.flow_shift is not None:
            self.shift = float(self.settings.flow_shift)
        elif cfg.get("use_dynamic_shifting", False):
            self.shift = 1.0
        else:
            self.shift = float(cfg.get("shift", cfg.get("flow_shift", 1.0)) or 1.0)
        self.num_train_timesteps = cfg.get("num_train_timesteps", 1000)

    def sample_timesteps(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """Timesteps (DDPM: ints) or σ in [0, 1] (flow), one per pair."""
        s = self.settings
        if not self.flow:
            if s.turbo:
                choice = torch.randint(0, len(s.turbo_timesteps), (n,), generator=gen)
                return torch.tensor(s.turbo_timesteps)[choice]
            lo, hi = (round(f * self.num_train_timesteps) for f in s.timestep_range)
            return torch.randint(lo, max(hi, lo + 1), (n,), generator=gen)
        if s.timestep_sampling == "uniform":
            u = torch.rand(n, generator=gen)
        elif s.timestep_sampling == "logit_normal":
            u = torch.sigmoid(s.logit_mean + s.logit_std * torch.randn(n, generator=gen))
        else:
            raise ValueError(f"timestep_sampling must be 'logit_normal' or 'uniform', got {s.timestep_sampling!r}")
        lo, hi = s.timestep_range
        u = lo + (hi - lo) * u
        return self.shift * u / (1 + (self.shift - 1) * u)

    def noisy_and_target(self, latents: torch.Tensor, noise: torch.Tensor,
                         t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.flow:
            return flow_noisy_and_target(latents, noise, t)
        return ddpm_noisy_and_target(latents, noise, t, self.alphas_cumprod, self.prediction_type)

    # ------------------------------------------------------------------ media -> latents
    def default_size(self) -> int | None:
        """The checkpoint's native square resolution in pixels (None when the config does not say)."""
        size = self.denoiser.config.get("sample_size")
        factor = getattr(self.pipe, "vae_scale_factor", None) or getattr(self.pipe, "vae_scale_factor_spatial", 8)
        if self.name == "flux":
            return getattr(self.pipe, "default_sample_size", 128) * factor
        return int(size) * factor if isinstance(size, int) else None

    def size_multiple(self) -> int:
        factor = getattr(self.pipe, "vae_scale_factor", None) or getattr(self.pipe, "vae_scale_factor_spatial", 8)
        patch = self.denoiser.config.get("patch_size") or 1
        patch = patch[-1] if isinstance(patch, (list, tuple)) else patch
        return factor * max(patch, 2 if self.name == "flux" else 1)

    def check_frames(self, n: int) -> None:
        if self.name == "wan" and (n - 1) % 4:
            raise ValueError(f"Wan's VAE needs 4k+1 frames (e.g. 17, 33, 81), got num_frames={n}")

    @torch.no_grad()
    def encode_media(self, pixels: torch.Tensor) -> torch.Tensor:
        """Posterior parameters (mean ‖ logvar on the channel axis) of images (B,3,H,W) or videos (B,F,3,H,W)."""
        vae_dtype = next(self.vae.parameters()).dtype
        x = pixels.to(self.device, vae_dtype)
        if self.name == "t2v":
            b, f = x.shape[:2]
            params = self.vae.encode(x.flatten(0, 1)).latent_dist.parameters
            return params.unflatten(0, (b, f)).transpose(1, 2).float()  # (B, 2C, F, h, w)
        if self.name == "wan":
            x = x.transpose(1, 2)  # (B, 3, F, H, W)
        return self.vae.encode(x).latent_dist.parameters.float()

    def sample_latents(self, params: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """A posterior sample, normalised the way the pipeline decodes."""
        mean, logvar = params.chunk(2, dim=1)
        std = torch.exp(0.5 * logvar.clamp(-30.0, 20.0))
        z = mean + std * torch.randn(mean.shape, generator=gen).to(mean.device)
        cfg = self.vae.config
        if self.name == "wan":
            view = (1, cfg.z_dim, 1, 1, 1)
            m = torch.tensor(cfg.latents_mean).view(view).to(z)
            s = torch.tensor(cfg.latents_std).view(view).to(z)
            return (z - m) / s
        shift = cfg.get("shift_factor") if self.name in ("sd3", "flux") else None
        return ((z - shift) if shift is not None else z) * cfg.scaling_factor

    # ------------------------------------------------------------------ captions
    @torch.no_grad()
    def encode_text(self, captions: list[str], size: tuple[int, int]) -> dict[str, Any]:
        """Keyword arguments of the denoiser for these captions (batch = len(captions))."""
        p, dev = self.pipe, self.device
        if self.name in ("sd", "t2v"):
            emb = p.encode_prompt(captions, dev, 1, False)[0]
            return {"encoder_hidden_states": emb}
        if self.name == "sdxl":
            emb, _, pooled, _ = p.encode_prompt(prompt=captions, device=dev, num_images_per_prompt=1,
                                                do_classifier_free_guidance=False)
            h, w = size
            ids = torch.tensor([[h, w, 0, 0, h, w]], device=dev, dtype=emb.dtype).repeat(len(captions), 1)
            return {"encoder_hidden_states": emb, "added_cond_kwargs": {"text_embeds": pooled, "time_ids": ids}}
        if self.name == "sd3":
            emb, _, pooled, _ = p.encode_prompt(prompt=captions, prompt_2=None, prompt_3=None, device=dev,
                                                do_classifier_free_guidance=False,
                                                max_sequence_length=self.max_sequence_length)
            return {"encoder_hidden_states": emb, "pooled_projections": pooled}
        if self.name == "flux":
            emb, pooled, text_ids = p.encode_prompt(prompt=captions, prompt_2=None, device=dev)
            return {"encoder_hidden_states": emb, "pooled_projections": pooled, "txt_ids": text_ids}
        emb, _ = p.encode_prompt(prompt=captions, do_classifier_free_guidance=False, device=dev)
        return {"encoder_hidden_states": emb}

    # ------------------------------------------------------------------ the denoiser
    def predict(self, model: torch.nn.Module, noisy: torch.Tensor, t: torch.Tensor,
                cond: dict[str, Any]) -> torch.Tensor:
        """The denoiser's prediction for `noisy` at `t` (timesteps or σ), in the target's layout."""
        dtype = next(p for p in model.parameters()).dtype
        cond = {k: (v.to(dtype) if torch.is_tensor(v) and v.is_floating_point() else v) for k, v in cond.items()}
        if "added_cond_kwargs" in cond:
            cond["added_cond_kwargs"] = {k: v.to(dtype) for k, v in cond["added_cond_kwargs"].items()}
        x, t = noisy.to(self.device, dtype), t.to(self.device)
        if not self.flow:
            return model(x, t, return_dict=False, **cond)[0]
        if self.name == "flux":
            return self._predict_flux(model, x, t, cond)
        return model(hidden_states=x, timestep=t.float() * 1000, return_dict=False, **cond)[0]

    def _predict_flux(self, model: torch.nn.Module, x: torch.Tensor, sigma: torch.Tensor,
                      cond: dict[str, Any]) -> torch.Tensor:
        b, c, h, w = x.shape
        packed = self.pipe._pack_latents(x, b, c, h, w)
        img_ids = self.pipe._prepare_latent_image_ids(b, h // 2, w // 2, x.device, x.dtype)
        guidance = None
        if self.denoiser.config.get("guidance_embeds", False):  # `model` may be wrapped (DDP): no config
            guidance = torch.full((b,), self.settings.flux_guidance, device=x.device, dtype=torch.float32)
        out = model(hidden_states=packed, timestep=sigma.to(x.dtype), guidance=guidance, img_ids=img_ids,
                    return_dict=False, **cond)[0]
        factor = self.pipe.vae_scale_factor
        return self.pipe._unpack_latents(out, h * factor, w * factor, factor)


def lora_kwarg(family: Family) -> str:
    """The keyword of the pipeline's ``save_lora_weights`` for the denoiser's layers."""
    return f"{family.attr}_lora_layers"


def round_down(x: int, multiple: int) -> int:
    return max(multiple, int(math.floor(x / multiple)) * multiple)
