"""The Diffusion-DPO loss (Wallace et al. 2023, https://huggingface.co/papers/2311.12908) and its targets.

For a pair (x_w chosen, x_l rejected) noised with the same timestep and the same noise, with e(m, x) the
mean squared error of model m's prediction against the training target:

    loss = -log σ( -β/2 · [ (e(θ, x_w) - e(ref, x_w)) - (e(θ, x_l) - e(ref, x_l)) ] )

the form of UnifiedReward's and Salesforce's ``train.py`` (upstream.md §4: β = 5000). diffusers'
``train_diffusion_dpo.py`` writes the same loss as ``-logsigmoid(beta_dpo * (ref_diff - model_diff))``
without the 1/2, so its β is half of this one for the same loss (its 2500 = our 5000).

Targets (the only thing that differs between the three parametrisations):

- ``epsilon`` (SD 1.5, SDXL, SDXL-Turbo, ModelScope/T2V-Turbo UNets): x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε, target ε.
- ``v_prediction`` (SD 2.x 768): target v = √ᾱ_t ε - √(1-ᾱ_t) x_0 (diffusers' ``get_velocity``).
- ``flow`` (rectified flow: SD3, FLUX, Wan, CogVideoX 1.5-style flow models): x_t = (1-σ) x_0 + σ ε, the model
  predicts the velocity, target ε - x_0 (diffusers' ``FlowMatchEulerDiscreteScheduler`` convention).
  The same loss on velocity errors is what VideoAlign calls Flow-DPO.

The error is averaged over every element but the batch dimension, so it does not grow with the resolution or
the number of frames (as upstream). Design choices a user will notice: no per-timestep weighting (the paper
folds T·ω(λ_t) into β); ``implicit_acc`` counts a tie as half right, as diffusers logs it. ``sft_weight`` adds
the chosen samples' ordinary denoising loss (off by default; docs/align.md says when it was needed).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


PREDICTION_TYPES = ("epsilon", "v_prediction", "sample", "flow")


@dataclass
class DPOLossOutput:
    """The loss and what is worth logging about it (all scalars are detached except `loss`)."""

    loss: torch.Tensor
    implicit_acc: torch.Tensor
    model_err_w: torch.Tensor
    model_err_l: torch.Tensor
    ref_err_w: torch.Tensor
    ref_err_l: torch.Tensor
    inside: torch.Tensor  # the argument of the sigmoid, one per pair

    def logs(self) -> dict[str, float]:
        return {"loss": float(self.loss.detach()), "implicit_acc": float(self.implicit_acc),
                "mse_w": float(self.model_err_w.mean()), "mse_l": float(self.model_err_l.mean()),
                "ref_mse_w": float(self.ref_err_w.mean()), "ref_mse_l": float(self.ref_err_l.mean()),
                "reward_margin": float(self.inside.mean())}


def per_sample_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all dimensions but the first, in float32."""
    return (pred.float() - target.float()).pow(2).reshape(pred.shape[0], -1).mean(dim=1)


def diffusion_dpo_loss(model_pred: torch.Tensor, ref_pred: torch.Tensor, target: torch.Tensor,
                       beta: float, sft_weight: float = 0.0) -> DPOLossOutput:
    """The Diffusion-DPO loss from predictions on a batch laid out as [chosen..., rejected...].

    `model_pred`, `ref_pred` and `target` have batch 2B: rows 0..B-1 are the chosen samples, rows B..2B-1
    the rejected ones, noised with the same timesteps and noise row for row.
    """
    if model_pred.shape != target.shape or ref_pred.shape != target.shape:
        raise ValueError(f"prediction shapes {tuple(model_pred.shape)} / {tuple(ref_pred.shape)} differ from the "
                         f"target's {tuple(target.shape)}")
    if target.shape[0] % 2:
        raise ValueError(f"batch of {target.shape[0]} is not chosen + rejected halves")
    model_w, model_l = per_sample_mse(model_pred, target).chunk(2)
    with torch.no_grad():
        ref_w, ref_l = per_sample_mse(ref_pred, target).chunk(2)
    return dpo_loss_from_errors(model_w, model_l, ref_w, ref_l, beta, sft_weight)


def dpo_loss_from_errors(model_w: torch.Tensor, model_l: torch.Tensor, ref_w: torch.Tensor, ref_l: torch.Tensor,
                         beta: float, sft_weight: float = 0.0) -> DPOLossOutput:
    """−log σ(−β/2 · ((e_θ,w − e_ref,w) − (e_θ,l − e_ref,l))), averaged over pairs, plus `sft_weight` × e_θ,w
    (the chosen samples' own denoising loss: RPO, TRL's ``rpo_alpha`` for diffusion; 0 = plain Diffusion-DPO)."""
    inside = -0.5 * beta * ((model_w - ref_w) - (model_l - ref_l))
    loss = -F.logsigmoid(inside).mean()
    if sft_weight:
        loss = loss + sft_weight * model_w.mean()
    acc = (inside > 0).float().mean() + 0.5 * (inside == 0).float().mean()
    return DPOLossOutput(loss, acc.detach(), model_w.detach(), model_l.detach(), ref_w.detach(), ref_l.detach(),
                         inside.detach())


def _expand(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return values.to(like.device, torch.float32).reshape(-1, *([1] * (like.ndim - 1)))


def ddpm_noisy_and_target(latents: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor,
                          alphas_cumprod: torch.Tensor, prediction_type: str) -> tuple[torch.Tensor, torch.Tensor]:
    """x_t and the training target of a DDPM-family model (ε, v or x_0 prediction)."""
    abar = _expand(alphas_cumprod.to(timesteps.device)[timesteps], latents)
    a, s = abar.sqrt(), (1 - abar).sqrt()
    x0, eps = latents.float(), noise.float()
    noisy = a * x0 + s * eps
    if prediction_type == "epsilon":
        target = eps
    elif prediction_type == "v_prediction":
        target = a * eps - s * x0
    elif prediction_type == "sample":
        target = x0
    else:
        raise ValueError(f"unknown prediction type {prediction_type!r} for a DDPM-family model; "
                         f"expected epsilon, v_prediction or sample")
    return noisy.to(latents.dtype), target


def flow_noisy_and_target(latents: torch.Tensor, noise: torch.Tensor,
                          sigmas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x_σ = (1-σ) x_0 + σ ε and the velocity target ε - x_0 of a rectified-flow model."""
    s = _expand(sigmas, latents)
    x0, eps = latents.float(), noise.float()
    return ((1 - s) * x0 + s * eps).to(latents.dtype), eps - x0
