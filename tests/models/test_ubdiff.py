"""UB-Diff (fwilab.models.ubdiff): presets and shapes from the acquisition, the two training steps and
"w/o opt" (which parameters train, which stay untouched), the latent DDPM's release settings, sampling
with the EMA weights, generated pairs, bad input."""

import copy

import pytest
import torch

from fwilab.models.ubdiff import (PARAMETER_GROUPS, TRAINABLE_GROUPS, CoLatentAutoencoder, LatentDDPM, UBDiff,
                                  UBDiffConfig, joint_loss, step1_loss, step2_loss)
from fwilab.physics.acquisition import OPENFWI

#: a small survey: 3 shots × 16 receivers, 48 samples (12 after ×4 decimation), 16² map
TINY = OPENFWI.replace(nt=48, nz=16, nx=16, nbc=8, source_x=(0, 8, 15), receiver_x=tuple(range(16)))
PROFILES = ("smoke", "cpu", "full")


def pair(config: UBDiffConfig, batch=3, seed=1, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    seismic = torch.rand(batch, *config.seismic_shape, generator=g, dtype=dtype) * 2 - 1
    velocity = torch.rand(batch, *config.velocity_shape, generator=g, dtype=dtype) * 2 - 1
    return seismic, velocity


def tiny(**overrides) -> UBDiff:
    torch.manual_seed(0)
    return UBDiff(UBDiffConfig.preset("smoke", TINY, **overrides))


# ----------------------------------------------------------------------------- tier 1: presets and shapes


def test_shapes_come_from_the_acquisition():
    config = UBDiffConfig.preset("cpu")
    assert config.seismic_shape == (5, 250, 70) and config.velocity_shape == (1, 70, 70)
    assert config.patch_grid == (5, 10, 7) and config.n_patches == 350
    small = UBDiffConfig.preset("smoke", TINY)
    assert small.seismic_shape == (3, 12, 16) and small.velocity_shape == (1, 16, 16)
    assert UBDiffConfig.preset("smoke", TINY, time_decimation=1).nt == 48


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_uses_the_released_diffusion(profile):
    config = UBDiffConfig.preset(profile)
    assert (config.timesteps, config.beta_schedule, config.parameterization) == (256, "cosine", "v")
    assert (config.ema_decay, config.diffusion_loss, config.diffusion_weighting) == (0.995, "mse", "alpha_bar")
    assert config.clip_latent
    full = UBDiffConfig.preset("full")
    assert full.latent_dim == UBDiffConfig.preset("cpu").latent_dim == 128
    assert full.velocity_dims == (32, 64, 128, 256, 128)          # the release's Decoder_V at dim5 = 128


ACQUISITIONS = [(p, TINY, "tiny") for p in PROFILES] + [(p, OPENFWI, "openfwi") for p in PROFILES]


@pytest.mark.parametrize("profile,acquisition,name", ACQUISITIONS, ids=[f"{p}-{n}" for p, _, n in ACQUISITIONS])
def test_shapes_and_dtypes_of_every_preset(profile, acquisition, name):
    torch.manual_seed(0)
    config = UBDiffConfig.preset(profile, acquisition)
    model = CoLatentAutoencoder(config).eval()
    seismic, velocity = pair(config, batch=2)
    with torch.no_grad():
        z = model.encode(velocity)
        seismic_hat, velocity_hat = model.decode(z)
    assert z.shape == (2, config.latent_dim) and z.dtype == torch.float32
    assert bool((z.abs() < 1).all())                                   # tanh: the sampler's clip bound
    assert seismic_hat.shape == seismic.shape and velocity_hat.shape == velocity.shape
    assert seismic_hat.dtype == velocity_hat.dtype == torch.float32
    assert bool((velocity_hat.abs() < 1).all())


def test_float64_runs_end_to_end():
    model = tiny().double()
    seismic, velocity = pair(model.config, dtype=torch.float64)
    seismic_hat, velocity_hat = model.autoencoder(velocity)
    assert seismic_hat.dtype == velocity_hat.dtype == torch.float64
    loss = model.diffusion_loss(velocity)
    assert loss.dtype == torch.float64
    s, v = model.generate(2, steps=4, generator=torch.Generator().manual_seed(0))
    assert s.dtype == v.dtype == torch.float64


# ----------------------------------------------------------------------------- tier 2: the training steps


def _cancelled(name: str) -> bool:
    """Biases right ahead of a normalisation that removes them (BatchNorm after the velocity branch's
    convolutions and its projection): their gradient is rounding noise."""
    return name.startswith("velocity_decoder.") and (name.endswith("layers.0.bias")
                                                      or name == "velocity_decoder.projection.bias")


def _loss(step, model, seismic, velocity):
    if step == "step1":
        return step1_loss(model, velocity)
    return {"step2": step2_loss, "joint": joint_loss}[step](model, seismic, velocity)


@pytest.mark.parametrize("step", list(TRAINABLE_GROUPS))
def test_each_step_trains_its_groups_and_no_other(step):
    model = tiny(norm_groups=2).autoencoder      # two channels a GroupNorm group: no conv bias is cancelled there
    trainable = model.set_training_step(step)
    assert {id(p) for p in trainable} == {id(p) for g in TRAINABLE_GROUPS[step]
                                          for p in getattr(model, g).parameters()}
    model.train()
    seismic, velocity = pair(model.config)
    loss, parts = _loss(step, model, seismic, velocity)
    assert loss.dim() == 0 and bool(torch.isfinite(loss))
    loss.backward()
    for group in PARAMETER_GROUPS:
        for name, p in getattr(model, group).named_parameters(prefix=group):
            if group in TRAINABLE_GROUPS[step]:
                assert p.requires_grad and p.grad is not None and bool(torch.isfinite(p.grad).all()), name
                assert _cancelled(name) or float(p.grad.abs().max()) > 1e-6, name
            else:
                assert not p.requires_grad and p.grad is None, name
    expected = {"step1": {"velocity_l1"}, "step2": {"seismic_l1"}, "joint": {"seismic_l1", "velocity_l1"}}[step]
    assert set(parts) == expected


@pytest.mark.parametrize("step,untouched", [("step2", ("encoder", "velocity_decoder")),
                                            ("step1", ("seismic_decoder",))])
def test_an_optimiser_step_leaves_the_frozen_groups_unchanged(step, untouched):
    model = tiny().autoencoder
    seismic, velocity = pair(model.config, batch=4)
    with torch.no_grad():
        model.train()(velocity)                       # BatchNorm statistics off their initial values
    model.set_training_step(step)
    before = {g: copy.deepcopy(getattr(model, g).state_dict()) for g in PARAMETER_GROUPS}
    # every parameter is handed to AdamW (with weight decay): the frozen ones must still not move
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    model.train()
    for _ in range(2):
        optimizer.zero_grad()
        _loss(step, model, seismic, velocity)[0].backward()
        optimizer.step()
        model(velocity)                               # a full forward in train mode, as a careless loop might do
    for group in PARAMETER_GROUPS:
        after = getattr(model, group).state_dict()
        same = all(torch.equal(before[group][k], v) for k, v in after.items())
        assert same == (group in untouched), group    # params *and* buffers (BatchNorm statistics)


def test_frozen_groups_stay_in_eval_mode_and_unfreeze():
    model = tiny().autoencoder
    assert model.training_step is None and all(p.requires_grad for p in model.parameters())
    model.set_training_step("step2")
    model.train()
    assert model.seismic_decoder.training and not model.encoder.training and not model.velocity_decoder.training
    assert model.frozen_groups == ("encoder", "velocity_decoder")
    model.set_training_step("joint")                  # "w/o opt", or step 2 with the freeze flag off
    assert model.frozen_groups == () and all(p.requires_grad for p in model.parameters())
    assert all(m.training for m in model.modules())


def test_step2_reconstructs_the_seismic_from_the_maps_co_latent():
    model = tiny().autoencoder.eval()
    model.set_training_step("step2")
    seismic, velocity = pair(model.config)
    loss, parts = step2_loss(model, seismic, velocity)
    expected = (model.decode_seismic(model.encode(velocity)) - seismic).abs().mean()
    torch.testing.assert_close(loss, expected)
    model = UBDiff(model.config.replace(l2_weight=1.0)).autoencoder.eval()      # the release's L1 + L2
    loss, parts = step1_loss(model, velocity)
    velocity_hat = model.decode_velocity(model.encode(velocity))
    torch.testing.assert_close(loss, (velocity_hat - velocity).abs().mean() + (velocity_hat - velocity).square().mean())
    assert set(parts) == {"velocity_l1", "velocity_l2"}


# ----------------------------------------------------------------------------- the latent DDPM


def test_the_ddpm_is_built_from_the_release_settings():
    ddpm = LatentDDPM(UBDiffConfig.preset("smoke", TINY))
    s = ddpm.schedule
    assert (s.timesteps, s.beta_schedule, s.parameterization) == (256, "cosine", "v")
    assert ddpm.ema.decay == 0.995


def test_diffusion_loss_trains_the_denoiser_only():
    model = tiny()
    _, velocity = pair(model.config, batch=4)
    loss = model.diffusion_loss(velocity, generator=torch.Generator().manual_seed(0))
    assert loss.dim() == 0 and bool(torch.isfinite(loss))
    loss.backward()
    assert all(p.grad is None for p in model.autoencoder.parameters())
    assert all(p.grad is None for p in model.diffusion.ema.parameters())
    missing = [n for n, p in model.diffusion.denoiser.named_parameters()
               if p.grad is None or not float(p.grad.abs().max()) > 1e-8]
    assert missing == []


def _perturb(module: torch.nn.Module, seed=5) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.5 * torch.randn(p.shape, generator=g))


@pytest.mark.parametrize("steps", [None, 6], ids=["ancestral", "ddim"])
def test_sampling_uses_the_ema_weights(steps):
    model = tiny()
    ddpm = model.diffusion
    _perturb(ddpm.denoiser)                          # the raw weights move; the EMA's have not been updated
    start = torch.randn(2, model.config.latent_dim)
    g = lambda: torch.Generator().manual_seed(1)     # noqa: E731
    z = ddpm.sample(2, steps=steps, noise=start, generator=g())

    def run(denoiser):
        kw = dict(noise=start, generator=g(), clip_x0=1.0)
        if steps is None:
            return ddpm.schedule.p_sample_loop(denoiser, start.shape, **kw)
        return ddpm.schedule.ddim_sample_loop(denoiser, start.shape, steps, **kw)

    with_ema, with_raw = run(ddpm.ema.shadow), run(ddpm.denoiser)
    assert torch.equal(z, with_ema) and not torch.allclose(z, with_raw)
    assert torch.equal(ddpm.sample(2, steps=steps, noise=start, generator=g(), use_ema=False), with_raw)
    assert bool((z.abs() <= 1).all())                # x̂_0 clipped to the tanh range; the last step returns it


def test_update_ema_moves_the_shadow_toward_the_raw_weights():
    ddpm = tiny().diffusion
    old = [p.detach().clone() for p in ddpm.ema.shadow.parameters()]
    _perturb(ddpm.denoiser)
    ddpm.update_ema()
    for averaged, before, raw in zip(ddpm.ema.shadow.parameters(), old, ddpm.denoiser.parameters()):
        torch.testing.assert_close(averaged, 0.995 * before + 0.005 * raw.detach())


def test_generate_decodes_ema_samples_into_pairs_in_eval_mode():
    model = tiny()
    _perturb(model.diffusion.denoiser)
    model.train()
    start = torch.randn(3, model.config.latent_dim)
    seismic, velocity = model.generate(3, steps=5, noise=start, generator=torch.Generator().manual_seed(2))
    assert seismic.shape == (3, *model.config.seismic_shape) and velocity.shape == (3, *model.config.velocity_shape)
    assert bool((velocity.abs() < 1).all()) and model.autoencoder.training           # its mode is restored
    z = model.diffusion.sample(3, steps=5, noise=start, generator=torch.Generator().manual_seed(2))
    expected = model.autoencoder.eval().decode(z)
    assert torch.equal(seismic, expected[0]) and torch.equal(velocity, expected[1])
    raw = model.generate(3, steps=5, noise=start, generator=torch.Generator().manual_seed(2), use_ema=False)
    assert not torch.allclose(raw[1], velocity)


# ----------------------------------------------------------------------------- bad input


def test_bad_input_raises_a_clear_error():
    model = tiny()
    ae = model.autoencoder
    seismic, velocity = pair(model.config)
    with pytest.raises(ValueError, match=r"velocity \[batch, 1, nz, nx\] = \[batch, 1, 16, 16\]"):
        ae.encode(torch.randn(2, 1, 16, 15))
    with pytest.raises(ValueError, match=r"seismic \[batch, shot, time, receiver\] = \[batch, 3, 12, 16\]"):
        step2_loss(ae, seismic[:, :, :11], velocity)
    with pytest.raises(ValueError, match=r"co-latents \[batch, 16\]"):
        model.diffusion.loss(torch.randn(2, 1, 16))
    with pytest.raises(ValueError, match=r"co-latents \[batch, 16\]"):
        ae.decode_velocity(torch.randn(2, 8))
    with pytest.raises(ValueError, match="unknown training step"):
        ae.set_training_step("step3")
    with pytest.raises(ValueError, match="positive integer"):
        model.generate(0)


@pytest.mark.parametrize("overrides,match", [
    (dict(patch_size=(0, 5, 5)), "patch size"),
    (dict(token_dim=15), "heads"),
    (dict(decoder_norm="ln"), "decoder_norm"),
    (dict(l1_weight=0.0), "both 0"),
    (dict(parameterization="x0"), "parameterization"),
    (dict(beta_schedule="sigmoid"), "beta_schedule"),
    (dict(ema_decay=1.0), "ema_decay"),
    (dict(velocity_dims=(4, 8, 16)), "five"),
    (dict(encoder_mult=()), "encoder_mult"),
    (dict(colatent=3), "unknown UBDiffConfig field"),
])
def test_bad_configs_are_refused(overrides, match):
    with pytest.raises(ValueError, match=match):
        UBDiffConfig.preset("smoke", TINY, **overrides)


def test_maps_larger_than_the_velocity_decoder_are_refused():
    big = OPENFWI.replace(nz=96, nx=96, receiver_x=tuple(range(96)))
    with pytest.raises(ValueError, match="80×80"):
        UBDiffConfig.preset("smoke", big)
    with pytest.raises(ValueError, match="unknown profile"):
        UBDiffConfig.preset("big")
