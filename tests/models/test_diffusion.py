"""Latent diffusion (fwilab.models.diffusion): the LDM and cosine schedules, q_sample, the closed-form
posterior, ε- and v-prediction, the losses, ancestral and DDIM sampling, the model and its presets."""

import math

import numpy as np
import pytest
import torch

from fwilab.models.diffusion import (LatentDiffusion, LatentDiffusionConfig, NoiseSchedule, cosine_betas,
                                     ldm_linear_betas)
from fwilab.models.vqae import VQAEConfig

SHAPE = (3, 2, 4, 4)


def affine_eps(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A fixed, step-dependent stand-in for a trained ε_θ."""
    return 0.3 * x + 1e-3 * t.to(x.dtype).view(-1, 1, 1, 1)


def point_mass_eps(schedule: NoiseSchedule, target: torch.Tensor):
    """The exact ε of data concentrated on ``target``: ``(x_t − √ᾱ_t·x_0)/√(1 − ᾱ_t)``; or, when the
    schedule predicts v, the exact ``v = √ᾱ_t·ε − √(1 − ᾱ_t)·x_0``."""
    def eps(x, t):
        abar = schedule.alphas_cumprod[t].to(x.dtype).view(-1, *([1] * (x.dim() - 1)))
        noise = (x - abar.sqrt() * target) / (1 - abar).sqrt()
        if schedule.parameterization == "v":
            return abar.sqrt() * noise - (1 - abar).sqrt() * target
        return noise
    return eps


def cosine_abar(timesteps: int, s: float = 0.008) -> np.ndarray:
    """Nichol & Dhariwal eq. 17, written out: ᾱ_t = f(t)/f(0), f(t) = cos²(((t/T) + s)/(1 + s)·π/2), t = 0 … T."""
    t = np.arange(timesteps + 1, dtype=np.float64)
    f = np.cos((t / timesteps + s) / (1 + s) * np.pi / 2) ** 2
    return f / f[0]


def schedules():
    """One schedule of each kind and parameterisation, T = 100."""
    return [NoiseSchedule(timesteps=100), NoiseSchedule(timesteps=100, parameterization="v"),
            NoiseSchedule.cosine(100), NoiseSchedule.cosine(100, parameterization="v")]


# ----------------------------------------------------------------------------- the schedule


def test_schedule_is_the_ldm_linear_schedule():
    schedule = NoiseSchedule()
    expected = np.linspace(np.sqrt(0.0015), np.sqrt(0.0155), 1000, dtype=np.float64) ** 2   # LDM make_beta_schedule
    assert schedule.betas.shape == (1001,) and float(schedule.betas[0]) == 0.0
    np.testing.assert_allclose(schedule.betas[1:].numpy(), expected, rtol=1e-12, atol=0)
    np.testing.assert_allclose(schedule.alphas_cumprod[1:].numpy(), np.cumprod(1 - expected), rtol=1e-12)
    assert float(schedule.alphas_cumprod[0]) == 1.0
    assert math.isclose(float(schedule.alphas_cumprod[-1]), 6.7e-4, rel_tol=0.01)   # ᾱ_T ≈ 6.687e-4
    assert math.isclose(float(schedule.betas[1]), 0.0015, rel_tol=1e-12)
    assert math.isclose(float(schedule.betas[-1]), 0.0155, rel_tol=1e-12)


def test_schedule_is_not_saved_in_the_state_dict():
    assert LatentDiffusion(LatentDiffusionConfig.preset("smoke")).schedule.state_dict() == {}


@pytest.mark.parametrize("kwargs,match", [(dict(timesteps=1), "timesteps"), (dict(start=0.02, end=0.01), "start")])
def test_bad_schedules_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ldm_linear_betas(**kwargs)


def test_the_default_schedule_is_still_linear_with_eps_prediction():
    schedule = NoiseSchedule()
    assert schedule.beta_schedule == "linear" and schedule.parameterization == "eps" and schedule.timesteps == 1000
    assert "linear" in repr(schedule) and "parameterization=eps" in repr(schedule)


def test_cosine_schedule_is_nichol_and_dhariwals_closed_form():
    T = 256
    abar = cosine_abar(T)
    betas = np.minimum(1 - abar[1:] / abar[:-1], 0.999)         # β_t = 1 − ᾱ_t/ᾱ_{t−1}, clipped at 0.999
    schedule = NoiseSchedule.cosine(T)
    assert schedule.beta_schedule == "cosine" and schedule.betas.shape == (T + 1,)
    assert float(schedule.betas[0]) == 0.0 and float(schedule.alphas_cumprod[0]) == 1.0
    np.testing.assert_allclose(schedule.betas[1:].numpy(), betas, rtol=1e-12, atol=1e-15)
    # only β_T is clipped (f(T) = 0); everywhere before it ᾱ_t is f(t)/f(0) itself
    assert np.flatnonzero(1 - abar[1:] / abar[:-1] > 0.999).tolist() == [T - 1]
    np.testing.assert_allclose(schedule.alphas_cumprod[:T].numpy(), abar[:T], rtol=1e-10, atol=1e-15)
    assert math.isclose(float(schedule.alphas_cumprod[T]), 0.001 * abar[T - 1], rel_tol=1e-9)
    assert math.isclose(float(schedule.betas[1]), 1 - abar[1], rel_tol=1e-12)             # ≈ 4e-5 at T = 256
    assert bool((schedule.betas[1:].diff() > 0).all())                                      # increasing
    torch.testing.assert_close(NoiseSchedule(T, beta_schedule="cosine").alphas_cumprod, schedule.alphas_cumprod,
                               rtol=0, atol=0)
    torch.testing.assert_close(cosine_betas(T), schedule.betas[1:], rtol=0, atol=0)


def test_the_cosine_posterior_still_ends_without_noise():
    schedule = NoiseSchedule.cosine(256)
    x0, xt = torch.randn(SHAPE, dtype=torch.float64), torch.randn(SHAPE, dtype=torch.float64)
    mean, variance = schedule.q_posterior(x0, xt, 1)
    torch.testing.assert_close(mean, x0)
    assert float(variance.abs().max()) == 0.0


@pytest.mark.parametrize("kwargs,match", [(dict(beta_schedule="sigmoid"), "beta_schedule"),
                                          (dict(parameterization="x0"), "parameterization"),
                                          (dict(beta_schedule="cosine", cosine_offset=0.0), "offset")])
def test_bad_schedule_options_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NoiseSchedule(64, **kwargs)


# ----------------------------------------------------------------------------- v-prediction


def test_v_is_sqrt_abar_eps_minus_sqrt_one_minus_abar_x0_and_inverts_exactly():
    T = 256
    abar = torch.from_numpy(cosine_abar(T))
    abar[T] = 0.001 * abar[T - 1]                                  # the clipped last step
    schedule = NoiseSchedule.cosine(T, parameterization="v")
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(SHAPE, generator=g, dtype=torch.float64)
    eps = torch.randn(SHAPE, generator=g, dtype=torch.float64)
    for steps in (torch.tensor([0, 1, 2]), torch.tensor([50, 128, 255]), torch.tensor([256, 256, 7])):
        a = abar[steps].view(-1, 1, 1, 1)
        v = schedule.v_target(x0, steps, eps)
        torch.testing.assert_close(v, a.sqrt() * eps - (1 - a).sqrt() * x0, rtol=1e-12, atol=1e-12)
        x_t = schedule.q_sample(x0, steps, eps)
        torch.testing.assert_close(x_t, a.sqrt() * x0 + (1 - a).sqrt() * eps, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(schedule.x0_from_v(x_t, steps, v), x0, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(schedule.eps_from_v(x_t, steps, v), eps, rtol=1e-12, atol=1e-12)


def test_predictions_turn_the_output_into_eps_and_x0_for_either_parameterization():
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(SHAPE, generator=g, dtype=torch.float64)
    eps = torch.randn(SHAPE, generator=g, dtype=torch.float64)
    t = torch.tensor([3, 40, 99])
    for schedule in schedules():
        x_t = schedule.q_sample(x0, t, eps)
        oracle = point_mass_eps(schedule, x0)
        eps_hat, x0_hat = schedule.predictions(oracle, x_t, t)
        torch.testing.assert_close(eps_hat, eps, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(x0_hat, x0, rtol=1e-9, atol=1e-9)
        # clipping x̂_0 re-derives ε̂ from the clipped x̂_0, so the pair still reaches x_t
        eps_c, x0_c = schedule.predictions(oracle, x_t, t, clip_x0=0.5)
        assert float(x0_c.abs().max()) <= 0.5
        torch.testing.assert_close(schedule.q_sample(x0_c, t, eps_c), x_t, rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="clip_x0"):
        schedules()[0].predictions(oracle, x_t, t, clip_x0=0.0)


# ----------------------------------------------------------------------------- the forward process


def test_q_sample_at_the_no_noise_step_returns_x0_exactly():
    schedule = NoiseSchedule()
    x0 = torch.randn(SHAPE)
    noise = 1e3 * torch.randn(SHAPE)
    assert torch.equal(schedule.q_sample(x0, torch.zeros(3, dtype=torch.long), noise), x0)
    assert torch.equal(schedule.q_sample(x0, 0, noise), x0)


def test_q_sample_is_the_closed_form_marginal():
    schedule = NoiseSchedule()
    x0, noise = torch.randn(SHAPE, dtype=torch.float64), torch.randn(SHAPE, dtype=torch.float64)
    t = torch.tensor([1, 400, 1000])
    abar = torch.from_numpy(np.cumprod(1 - np.linspace(np.sqrt(0.0015), np.sqrt(0.0155), 1000) ** 2))[t - 1]
    expected = abar.sqrt().view(-1, 1, 1, 1) * x0 + (1 - abar).sqrt().view(-1, 1, 1, 1) * noise
    torch.testing.assert_close(schedule.q_sample(x0, t, noise), expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(schedule.q_sample(x0, t, torch.zeros_like(x0)), abar.sqrt().view(-1, 1, 1, 1) * x0)
    torch.testing.assert_close(schedule.predict_x0(expected, t, noise), x0)          # its inverse


def test_q_sample_statistics_at_the_last_step_are_nearly_standard_normal():
    schedule = NoiseSchedule()
    torch.manual_seed(0)
    x = schedule.q_sample(torch.full((20_000, 1), 3.0), 1000)
    assert abs(float(x.mean()) - 3.0 * math.sqrt(6.687e-4)) < 0.03 and abs(float(x.std()) - 1.0) < 0.02


def test_posterior_matches_bayes_on_a_scalar():
    schedule = NoiseSchedule()
    abar = np.cumprod(1 - np.linspace(np.sqrt(0.0015), np.sqrt(0.0155), 1000) ** 2)
    x0, xt = 0.7, -1.3
    for t in (2, 10, 500, 1000):
        a_prev, a_t = abar[t - 2], abar[t - 1]
        alpha = a_t / a_prev
        beta = 1 - alpha
        # p(x_{t−1} | x0) = N(√ā_{t−1}·x0, 1 − ā_{t−1}); p(x_t | x_{t−1}) = N(√α_t·x_{t−1}, β_t): the product in x_{t−1}
        precision = 1 / (1 - a_prev) + alpha / beta
        mean = (math.sqrt(a_prev) * x0 / (1 - a_prev) + math.sqrt(alpha) * xt / beta) / precision
        scalar = dict(dtype=torch.float64)
        m, v = schedule.q_posterior(torch.tensor([[x0]], **scalar), torch.tensor([[xt]], **scalar), torch.tensor([t]))
        assert math.isclose(float(m), mean, rel_tol=1e-10) and math.isclose(float(v), 1 / precision, rel_tol=1e-10)


def test_the_first_posterior_step_is_x0_without_noise():
    schedule = NoiseSchedule()
    x0, xt = torch.randn(SHAPE, dtype=torch.float64), torch.randn(SHAPE, dtype=torch.float64)
    mean, variance = schedule.q_posterior(x0, xt, 1)
    torch.testing.assert_close(mean, x0)
    assert float(variance.abs().max()) == 0.0
    with pytest.raises(ValueError, match="1 … 1000"):
        schedule.q_posterior(x0, xt, 0)


# ----------------------------------------------------------------------------- training loss


def test_training_loss_is_the_l1_noise_error():
    schedule = NoiseSchedule()
    x0, noise = torch.randn(SHAPE), torch.randn(SHAPE)
    t = torch.tensor([5, 50, 500])
    zero = schedule.training_loss(lambda x, s: torch.zeros_like(x), x0, t, noise)
    torch.testing.assert_close(zero, noise.abs().mean())
    oracle = schedule.training_loss(lambda x, s: (x - schedule.sqrt_alphas_cumprod[s].float().view(-1, 1, 1, 1) * x0)
                                    / schedule.sqrt_one_minus_alphas_cumprod[s].float().view(-1, 1, 1, 1), x0, t, noise)
    assert float(oracle) < 1e-4
    with pytest.raises(ValueError, match="1 … 1000"):
        schedule.training_loss(affine_eps, x0, torch.tensor([0, 1, 2]), noise)


def test_training_loss_with_v_prediction_targets_v():
    schedule = NoiseSchedule.cosine(256, parameterization="v")
    g = torch.Generator().manual_seed(2)
    x0, noise = torch.randn(SHAPE, generator=g), torch.randn(SHAPE, generator=g)
    t = torch.tensor([1, 100, 256])
    v = schedule.v_target(x0, t, noise)
    zero = schedule.training_loss(lambda x, s: torch.zeros_like(x), x0, t, noise)
    torch.testing.assert_close(zero, v.abs().mean())
    mse = schedule.training_loss(lambda x, s: torch.zeros_like(x), x0, t, noise, loss="mse")
    torch.testing.assert_close(mse, v.square().mean())
    oracle = schedule.training_loss(point_mass_eps(schedule, x0), x0, t, noise, loss="mse")
    assert float(oracle) < 1e-10


def test_the_alpha_bar_weighted_v_mse_is_the_eps_mse():
    """lucidrains' pred_v weight SNR/(SNR + 1) = ᾱ_t makes the v-MSE the ε-MSE of the implied ε̂."""
    schedule = NoiseSchedule.cosine(256, parameterization="v")
    g = torch.Generator().manual_seed(3)
    x0 = torch.randn(SHAPE, generator=g, dtype=torch.float64)
    noise = torch.randn(SHAPE, generator=g, dtype=torch.float64)
    t = torch.tensor([2, 90, 250])
    loss = schedule.training_loss(affine_eps, x0, t, noise, loss="mse", weighting="alpha_bar")
    x_t = schedule.q_sample(x0, t, noise)
    eps_hat = schedule.eps_from_v(x_t, t, affine_eps(x_t, t))
    torch.testing.assert_close(loss, (eps_hat - noise).square().mean(), rtol=1e-12, atol=1e-14)
    abar = schedule.alphas_cumprod[t]
    v = schedule.v_target(x0, t, noise)
    per_sample = (affine_eps(x_t, t) - v).square().flatten(1).mean(1)
    torch.testing.assert_close(loss, (abar * per_sample).mean(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kwargs,match", [(dict(loss="huber"), "loss"), (dict(weighting="snr"), "weighting")])
def test_unknown_losses_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NoiseSchedule(10).training_loss(affine_eps, torch.randn(SHAPE), **kwargs)


def test_training_loss_draws_steps_in_one_to_T():
    schedule = NoiseSchedule(timesteps=10)
    seen = []
    schedule.training_loss(lambda x, t: seen.append(t) or torch.zeros_like(x), torch.randn(400, 1),
                           generator=torch.Generator().manual_seed(0))
    steps = seen[0]
    assert int(steps.min()) == 1 and int(steps.max()) == 10


# ----------------------------------------------------------------------------- sampling


def test_ddim_timesteps_stride_from_T_to_zero():
    schedule = NoiseSchedule()
    steps = schedule.ddim_timesteps(10)
    assert steps == [1000, 900, 800, 700, 600, 500, 400, 300, 200, 100, 0]
    assert schedule.ddim_timesteps(1000) == list(range(1000, -1, -1))
    assert len(set(schedule.ddim_timesteps(7))) == 8
    with pytest.raises(ValueError, match="steps"):
        schedule.ddim_timesteps(0)
    with pytest.raises(ValueError, match="steps"):
        schedule.ddim_timesteps(1001)


def test_ddim_with_eta_zero_is_deterministic_given_the_start_noise():
    schedule = NoiseSchedule()
    start = torch.randn(SHAPE)

    def run(eta, seed):
        return schedule.ddim_sample_loop(affine_eps, SHAPE, 20, eta=eta, noise=start,
                                         generator=torch.Generator().manual_seed(seed))

    a, b = run(0.0, 1), run(0.0, 2)
    assert torch.equal(a, b)
    c, d = run(1.0, 1), run(1.0, 2)
    assert not torch.allclose(c, d)


@pytest.mark.parametrize("kind,parameterization", [("linear", "eps"), ("cosine", "v")])
def test_ddim_with_eta_one_over_every_step_is_the_ancestral_sampler(kind, parameterization):
    schedule = NoiseSchedule(timesteps=30, beta_schedule=kind, parameterization=parameterization)
    start = torch.randn(SHAPE, dtype=torch.float64)
    ancestral = schedule.p_sample_loop(affine_eps, SHAPE, noise=start, generator=torch.Generator().manual_seed(3),
                                       dtype=torch.float64)
    ddim = schedule.ddim_sample_loop(affine_eps, SHAPE, 30, eta=1.0, noise=start,
                                     generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    torch.testing.assert_close(ddim, ancestral, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("sampler", ["ancestral", "ddim"])
@pytest.mark.parametrize("index", range(4), ids=["linear-eps", "linear-v", "cosine-eps", "cosine-v"])
def test_samplers_recover_a_point_mass_from_its_exact_noise(sampler, index):
    schedule = schedules()[index]
    target = torch.randn(SHAPE, dtype=torch.float64)
    eps = point_mass_eps(schedule, target)
    g = torch.Generator().manual_seed(0)
    if sampler == "ancestral":
        x = schedule.p_sample_loop(eps, SHAPE, generator=g, dtype=torch.float64)
    else:
        x = schedule.ddim_sample_loop(eps, SHAPE, 10, generator=g, dtype=torch.float64)
    torch.testing.assert_close(x, target, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("sampler", ["ancestral", "ddim"])
def test_clipping_x0_keeps_samples_in_the_bound(sampler):
    schedule = NoiseSchedule.cosine(64, parameterization="v")
    target = 3 * torch.randn(SHAPE, dtype=torch.float64)          # mostly outside [-1, 1]
    eps = point_mass_eps(schedule, target)
    kw = dict(generator=torch.Generator().manual_seed(0), dtype=torch.float64, clip_x0=1.0)
    if sampler == "ancestral":
        x = schedule.p_sample_loop(eps, SHAPE, **kw)
    else:
        x = schedule.ddim_sample_loop(eps, SHAPE, 8, **kw)
    # the last step returns x̂_0 itself (ᾱ_0 = 1), so the sample is the clipped target
    torch.testing.assert_close(x, target.clamp(-1, 1), rtol=1e-8, atol=1e-8)


def test_sampler_callback_sees_every_step():
    schedule = NoiseSchedule(timesteps=12)
    seen = []
    schedule.ddim_sample_loop(affine_eps, SHAPE, 4, callback=lambda t, x: seen.append((t, x.shape)))
    assert [t for t, _ in seen] == [9, 6, 3, 0] and all(s == SHAPE for _, s in seen)


# ----------------------------------------------------------------------------- the model


@pytest.mark.parametrize("variant,channels", [("2vq", 8), ("1vq", 4)])
def test_preset_takes_the_latent_from_the_autoencoder(variant, channels):
    config = LatentDiffusionConfig.preset("smoke", VQAEConfig.preset("smoke", variant=variant))
    assert config.latent_shape == (channels, 4, 4) and config.timesteps == 1000
    assert LatentDiffusionConfig.preset("cpu").latent_shape == (16, 8, 8)
    full = LatentDiffusionConfig.preset("full", VQAEConfig.preset("full", variant="1vq"))
    assert full.latent_shape == (32, 16, 16) and full.model_channels == 128 and full.channel_mult == (1, 2, 2, 4, 4)


def model(**overrides) -> LatentDiffusion:
    torch.manual_seed(0)
    return LatentDiffusion(LatentDiffusionConfig.preset("smoke", **overrides))


def test_model_loss_reaches_every_parameter():
    m = model(norm_groups=4)   # two channels a group: a per-channel GroupNorm would cancel the conv biases ahead of it
    z0 = torch.randn(4, *m.config.latent_shape)
    loss = m.loss(z0, generator=torch.Generator().manual_seed(0))
    assert loss.dim() == 0 and math.isfinite(float(loss.detach()))
    loss.backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None or not float(p.grad.abs().max()) > 1e-6]
    assert missing == []


def test_ancestral_and_ddim_sampling_runs_return_finite_latents():
    m = model(timesteps=40).eval()
    z = m.sample(2, generator=torch.Generator().manual_seed(0))
    assert z.shape == (2, *m.config.latent_shape) and bool(torch.isfinite(z).all())
    m = model().eval()
    z = m.sample(2, steps=8, eta=0.5, generator=torch.Generator().manual_seed(0))
    assert z.shape == (2, *m.config.latent_shape) and bool(torch.isfinite(z).all())
    start = torch.randn(2, *m.config.latent_shape)
    assert torch.equal(m.sample(2, steps=5, noise=start), m.sample(2, steps=5, noise=start))


def test_bad_input_raises_a_clear_error():
    m = model()
    with pytest.raises(ValueError, match=r"latents \[batch, 8, 4, 4\]"):
        m.loss(torch.randn(2, 4, 4, 4))
    with pytest.raises(ValueError, match="integers"):
        m.schedule.q_sample(torch.randn(SHAPE), torch.tensor([0.5, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"shape \[3\]"):
        m.schedule.q_sample(torch.randn(SHAPE), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="0 … 1000"):
        m.schedule.q_sample(torch.randn(SHAPE), torch.tensor([1, 2, 1001]))
    with pytest.raises(ValueError, match="start noise"):
        m.sample(2, steps=3, noise=torch.randn(3, 8, 4, 4))
    with pytest.raises(ValueError, match="eta"):
        m.sample(2, steps=3, eta=-1.0)
    with pytest.raises(ValueError, match="multiple of 4"):
        LatentDiffusionConfig(latent_size=(6, 6), channel_mult=(1, 2, 2))
    with pytest.raises(ValueError, match="heads"):
        LatentDiffusionConfig.preset("smoke", heads=3)
    with pytest.raises(ValueError, match="unknown profile"):
        LatentDiffusionConfig.preset("big")
