"""Tier 1–3 tests of the fit-loop adapters of the generative models (fwilab.training.generative)."""

import pytest
import torch
from torch.utils.data import TensorDataset

from fwilab.models.diffusion import LatentDiffusion, LatentDiffusionConfig
from fwilab.models.vqae import VQAEConfig, VQAutoencoder
from fwilab.physics.acquisition import OPENFWI
from fwilab.training import FitConfig
from fwilab.training.fit import fit
from fwilab.training.generative import DenoiserFit, PairAutoencoderFit, denoising_l1, pack_pairs, unpack_pairs

TINY = OPENFWI.replace(nt=48, nz=16, nx=16, nbc=8, source_x=(0, 8, 15), receiver_x=tuple(range(16)))


def test_pairs_pack_and_unpack_exactly():
    s, v = torch.randn(3, 2, 5, 4), torch.randn(3, 1, 6, 6)
    packed = pack_pairs(s, v)
    assert packed.shape == (3, 2 * 5 * 4 + 36)
    s2, v2 = unpack_pairs(packed, (2, 5, 4), (1, 6, 6))
    assert torch.equal(s2, s) and torch.equal(v2, v)
    with pytest.raises(ValueError, match="packed pairs must be"):
        unpack_pairs(packed, (2, 5, 4), (1, 5, 5))
    with pytest.raises(ValueError, match="one batch"):
        pack_pairs(s, v[:2])


def test_the_autoencoder_adapter_returns_the_models_own_loss():
    torch.manual_seed(0)
    ae = VQAutoencoder(VQAEConfig.preset("smoke", TINY)).eval()
    wrapper = PairAutoencoderFit(ae)
    s, v = torch.randn(2, *ae.config.seismic_shape), torch.rand(2, *ae.config.velocity_shape) * 2 - 1
    packed = pack_pairs(s, v)
    with pytest.raises(ValueError, match="has not run a forward pass"):
        wrapper.loss(packed, packed)
    out = wrapper(packed)
    total, parts = wrapper.loss(out, packed)
    expected, _ = ae.loss(ae(s, v), s, v)
    torch.testing.assert_close(total, expected)
    assert set(parts) >= {"seismic_l1", "velocity_l1", "commitment"}


def test_the_denoiser_adapter_predicts_the_noise_it_drew():
    """[prediction, target]: with the network replaced by the true noise the L1 is exactly 0."""
    model = LatentDiffusion(LatentDiffusionConfig.preset("smoke", VQAEConfig.preset("smoke", TINY)))
    wrapper = DenoiserFit(model)
    z0 = torch.randn(4, *model.config.latent_shape)
    drawn = {}

    def oracle(z_t, t):   # recovers ε from z_t = √ᾱ z0 + √(1 − ᾱ) ε
        a = model.schedule.alphas_cumprod[t].view(-1, 1, 1, 1)
        drawn["t"] = t
        return (z_t - a.sqrt() * z0) / (1 - a).sqrt()

    model.forward = oracle
    out = wrapper(z0)
    assert out.shape == (4, 2, *model.config.latent_shape)
    assert float(denoising_l1(out, z0)) < 1e-5
    assert drawn["t"].min() >= 1 and drawn["t"].max() <= model.schedule.timesteps


def test_both_adapters_train_through_the_fit_loop_and_lower_their_loss(tmp_path):
    torch.manual_seed(0)
    ae = VQAutoencoder(VQAEConfig.preset("smoke", TINY))
    wrapper = PairAutoencoderFit(ae)
    s, v = torch.randn(8, *ae.config.seismic_shape) * 0.3, torch.rand(8, *ae.config.velocity_shape) * 2 - 1
    packed = pack_pairs(s, v)
    cfg = FitConfig(epochs=6, batch_size=4, lr=3e-3, device="cpu", progress=False, seed=0)
    result = fit(wrapper, TensorDataset(packed, packed), TensorDataset(packed, packed), loss=wrapper.loss, config=cfg)
    assert result.curves["train_loss"][-1] < result.curves["train_loss"][0]
    model = LatentDiffusion(LatentDiffusionConfig.preset("smoke", ae.config))
    z = torch.randn(16, *model.config.latent_shape)
    result = fit(DenoiserFit(model), TensorDataset(z, z), None, loss=denoising_l1,
                 config=cfg.replace(epochs=8, checkpoint_dir=str(tmp_path / "ldm")))
    assert result.curves["train_loss"][-1] < result.curves["train_loss"][0]


# ----- UB-Diff's adapters -------------------------------------------------------------------------------------

def _ubdiff():
    from fwilab.models.ubdiff import UBDiff, UBDiffConfig

    torch.manual_seed(0)
    return UBDiff(UBDiffConfig.preset("smoke", OPENFWI.replace(nt=200, nbc=20), time_decimation=4))


@pytest.mark.parametrize("step", ["step1", "step2", "joint"])
def test_the_co_latent_adapter_is_the_models_own_step_loss(step):
    from fwilab.models.ubdiff import joint_loss, step1_loss, step2_loss
    from fwilab.training.generative import CoLatentFit

    ae = _ubdiff().autoencoder.eval()
    c = ae.config
    s, v = torch.randn(3, *c.seismic_shape), torch.rand(3, *c.velocity_shape) * 2 - 1
    wrapper = CoLatentFit(ae, step)
    target = {"step1": v, "step2": s, "joint": pack_pairs(s, v)}[step]
    total, _ = wrapper.loss(wrapper(v), target)
    expected = {"step1": lambda: step1_loss(ae, v), "step2": lambda: step2_loss(ae, s, v),
                "joint": lambda: joint_loss(ae, s, v)}[step]()[0]
    torch.testing.assert_close(total, expected)


def test_step2_through_the_fit_loop_trains_the_seismic_decoder_only():
    from fwilab.training.generative import CoLatentFit

    ae = _ubdiff().autoencoder
    c = ae.config
    s, v = torch.randn(8, *c.seismic_shape), torch.rand(8, *c.velocity_shape) * 2 - 1
    before = {k: x.clone() for k, x in ae.state_dict().items()}
    wrapper = CoLatentFit(ae, "step2")
    r = fit(wrapper, TensorDataset(v, s), None, loss=wrapper.loss,
            config=FitConfig(epochs=2, batch_size=4, lr=1e-2, progress=False, device="cpu"))
    assert r.steps == 4
    after = ae.state_dict()
    moved = {k.split(".")[0] for k in after if not torch.equal(after[k], before[k])}
    assert moved == {"seismic_decoder"}


def test_the_ddpm_adapter_updates_the_ema_after_every_step():
    from fwilab.training.generative import EMAStep, LatentDDPMFit, own_loss

    model = _ubdiff()
    ddpm = model.diffusion
    z = torch.rand(12, model.config.latent_dim) * 2 - 1
    shadow0 = [p.clone() for p in ddpm.ema.shadow.parameters()]
    wrapper = LatentDDPMFit(ddpm)
    r = fit(wrapper, TensorDataset(z, z), TensorDataset(z[:4], z[:4]), loss=own_loss, step=EMAStep(),
            config=FitConfig(epochs=2, batch_size=4, lr=1e-2, progress=False, device="cpu"))
    assert int(ddpm.ema.updates) == r.steps == 6
    assert any(not torch.equal(a, b) for a, b in zip(shadow0, ddpm.ema.shadow.parameters()))
    assert all(torch.isfinite(torch.tensor(r.curves["val_loss"])))
    with pytest.raises(ValueError, match="scalar loss"):
        own_loss(torch.ones(2), None)
