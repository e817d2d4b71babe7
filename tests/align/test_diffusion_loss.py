"""The Diffusion-DPO loss against hand computations on fixed tensors, for ε, v and flow (velocity) targets.

One pair, two latent elements. x0_w = [1, 2], x0_l = [-1, 0.5], the shared noise ε = [0.5, -1].
"""

from __future__ import annotations

import math

import pytest
import torch

from unireward.align.losses import (
    ddpm_noisy_and_target,
    diffusion_dpo_loss,
    dpo_loss_from_errors,
    flow_noisy_and_target,
)


X0 = torch.tensor([[1.0, 2.0], [-1.0, 0.5]]).view(2, 1, 1, 2)  # rows: chosen, rejected
EPS = torch.tensor([[0.5, -1.0], [0.5, -1.0]]).view(2, 1, 1, 2)  # the same noise for both


def _t(*rows: list[float]) -> torch.Tensor:
    return torch.tensor(rows).view(len(rows), 1, 1, 2)


def test_epsilon_loss_by_hand():
    _, target = ddpm_noisy_and_target(X0, EPS, torch.tensor([10, 10]), torch.linspace(0.99, 0.01, 1000), "epsilon")
    assert torch.equal(target, EPS)
    model = _t([0.4, -1.2], [0.7, -1.0])  # errors: w (0.01 + 0.04)/2 = 0.025, l (0.04 + 0)/2 = 0.02
    ref = _t([0.5, -0.8], [0.6, -1.1])  # errors: w (0 + 0.04)/2 = 0.02, l (0.01 + 0.01)/2 = 0.01
    # inside = -β/2 · ((0.025 - 0.02) - (0.02 - 0.01)) = 0.0025 β = 1 for β = 400
    out = diffusion_dpo_loss(model, ref, target, beta=400.0)
    assert out.inside.item() == pytest.approx(1.0, rel=1e-5)
    assert out.loss.item() == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-5)  # 0.3132617
    assert out.implicit_acc.item() == 1.0
    assert out.model_err_w.item() == pytest.approx(0.025) and out.ref_err_l.item() == pytest.approx(0.01)


def test_sft_weight_adds_the_chosen_denoising_loss():
    model_w, model_l = torch.tensor([0.025], requires_grad=True), torch.tensor([0.02])
    ref_w, ref_l = torch.tensor([0.02]), torch.tensor([0.01])
    out = dpo_loss_from_errors(model_w, model_l, ref_w, ref_l, beta=400.0, sft_weight=2.0)
    assert out.loss.item() == pytest.approx(math.log(1 + math.exp(-1)) + 2.0 * 0.025, rel=1e-5)
    out.loss.backward()  # d/d e_w: β/2 · σ(-inside) + sft_weight = 200 · 0.2689 + 2
    assert model_w.grad.item() == pytest.approx(200 / (1 + math.e) + 2.0, rel=1e-4)


def test_v_prediction_loss_by_hand():
    abar = torch.full((1000,), 0.64)  # √ᾱ = 0.8, √(1-ᾱ) = 0.6
    noisy, target = ddpm_noisy_and_target(X0, EPS, torch.tensor([3, 3]), abar, "v_prediction")
    # x_t = 0.8 x0 + 0.6 ε;  v = 0.8 ε - 0.6 x0
    assert torch.allclose(noisy, _t([1.1, 1.0], [-0.5, -0.2]))
    assert torch.allclose(target, _t([-0.2, -2.0], [1.0, -1.1]))
    model = _t([-0.2, -1.8], [1.0, -1.1])  # errors: w 0.02, l 0
    ref = _t([0.0, -2.0], [1.2, -1.1])  # errors: w 0.02, l 0.02
    # inside = -β/2 · ((0.02 - 0.02) - (0 - 0.02)) = -0.01 β = -1 for β = 100
    out = diffusion_dpo_loss(model, ref, target, beta=100.0)
    assert out.inside.item() == pytest.approx(-1.0, rel=1e-5)
    assert out.loss.item() == pytest.approx(math.log(1 + math.e), rel=1e-5)  # 1.3132617
    assert out.implicit_acc.item() == 0.0


def test_flow_loss_by_hand():
    noisy, target = flow_noisy_and_target(X0, EPS, torch.tensor([0.25, 0.25]))
    # x_σ = 0.75 x0 + 0.25 ε;  velocity target ε - x0
    assert torch.allclose(noisy, _t([0.875, 1.25], [-0.625, 0.125]))
    assert torch.allclose(target, _t([-0.5, -3.0], [1.5, -1.5]))
    model = _t([-0.5, -2.8], [1.3, -1.3])  # errors: w 0.02, l 0.04
    ref = _t([-0.3, -3.0], [1.5, -1.5])  # errors: w 0.02, l 0
    # inside = -β/2 · ((0.02 - 0.02) - (0.04 - 0)) = 0.02 β = 1 for β = 50
    out = diffusion_dpo_loss(model, ref, target, beta=50.0)
    assert out.inside.item() == pytest.approx(1.0, rel=1e-5)
    assert out.loss.item() == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-5)


def test_targets_match_diffusers_schedulers():
    from diffusers import DDPMScheduler, FlowMatchEulerDiscreteScheduler

    sched = DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    x0, eps, t = torch.randn(4, 4, 8, 8), torch.randn(4, 4, 8, 8), torch.tensor([0, 249, 749, 999])
    noisy, v = ddpm_noisy_and_target(x0, eps, t, sched.alphas_cumprod, "v_prediction")
    assert torch.allclose(noisy, sched.add_noise(x0, eps, t), atol=1e-5)
    assert torch.allclose(v, sched.get_velocity(x0, eps, t), atol=1e-5)
    flow = FlowMatchEulerDiscreteScheduler(shift=3.0)
    flow.set_timesteps(10)
    noisy, _ = flow_noisy_and_target(x0[:1], eps[:1], flow.sigmas[3:4])
    assert torch.allclose(noisy, flow.scale_noise(x0[:1], flow.timesteps[3:4], eps[:1]), atol=1e-5)


def test_policy_equal_to_reference_gives_log2_and_a_gradient():
    pred = torch.randn(4, 3, requires_grad=True)
    out = diffusion_dpo_loss(pred, pred.detach(), torch.randn(4, 3), beta=5000.0)
    assert out.loss.item() == pytest.approx(math.log(2))
    out.loss.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0


def test_the_loss_rejects_unpaired_batches():
    with pytest.raises(ValueError, match="chosen \\+ rejected"):
        diffusion_dpo_loss(torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(3, 2), beta=1.0)
    assert dpo_loss_from_errors(*(torch.zeros(1),) * 4, beta=1.0).implicit_acc.item() == 0.5  # a tie is half
