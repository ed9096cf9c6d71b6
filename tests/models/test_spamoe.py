"""SPAMoE model, its auxiliary terms and the released loss (fwilab.models.spamoe)."""

import math

import pytest
import torch

from fwilab.layers.spectral import energy_ratio
from fwilab.models.spamoe import (
    SPAMoE,
    SPAMoEConfig,
    SPAMoELoss,
    shots_side_by_side,
    sobel_gradient_magnitude,
    windowed_fourier_magnitude,
)
from fwilab.physics.acquisition import OPENFWI

#: a small survey so the smoke model runs in milliseconds: 3 shots × 16 receivers, 48 samples, 16² map
TINY = OPENFWI.replace(nt=48, nz=16, nx=16, source_x=(0, 8, 15), receiver_x=tuple(range(16)))


def tiny(**overrides) -> SPAMoE:
    torch.manual_seed(0)
    return SPAMoE(SPAMoEConfig.preset("smoke", TINY, **overrides))


def seismic(batch=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, *TINY.seismic_shape, generator=g)


def grads(module):
    return {n: None if p.grad is None else p.grad.clone() for n, p in module.named_parameters()}


def test_shapes_come_from_the_acquisition():
    model = tiny()
    x = seismic()
    y = model(x)
    assert y.shape == (4, 1, TINY.nz, TINY.nx)
    assert model.config.input_shape == (TINY.nt, TINY.n_shots * TINY.n_receivers)
    # already side by side gives the same result
    torch.testing.assert_close(model(shots_side_by_side(x)), y)
    with pytest.raises(ValueError, match="SPAMoE expects"):
        model(torch.randn(2, 5, 1000, 70))


def test_openfwi_preset_reads_the_released_geometry():
    config = SPAMoEConfig.preset("full")
    assert config.input_shape == (1000, 350) and (config.nz, config.nx) == (70, 70)
    assert (config.vit_dim, config.vit_depth, config.latent_channels, config.n_modes) == (384, 12, 128, 16)


def test_shots_side_by_side_places_shot_s_in_columns_s_times_r():
    x = seismic(batch=2)
    y = shots_side_by_side(x)
    r = TINY.n_receivers
    for s in range(TINY.n_shots):
        torch.testing.assert_close(y[:, 0, :, s * r:(s + 1) * r], x[:, s])


def test_aux_reports_routing_statistics_and_the_ratio():
    model = tiny()
    model(seismic())
    aux = model.aux
    e = model.config.n_experts
    assert aux["gates"].shape == (4, e) and aux["combine_weights"].shape == (4, e)
    torch.testing.assert_close(aux["combine_weights"].sum(-1), torch.ones(4))
    assert ((aux["combine_weights"] > 0).sum(-1) == model.config.top_k).all()
    torch.testing.assert_close(aux["selection_frequency"].sum(), torch.tensor(1.0))
    assert aux["band_mixing"].shape == (e, e) and aux["rho"].shape == (4,)
    with torch.no_grad():
        torch.testing.assert_close(aux["rho"], energy_ratio(model.encode(seismic())))


@pytest.mark.parametrize("mode", ["released", "gradient", "uniform", "off"])
def test_load_balance_gradient_reaches_the_router_only_when_asked(mode):
    model = tiny(load_balance=mode)
    model(seismic())
    aux_loss = model.aux["aux_loss"]
    lb = model.aux["load_balance_uniform" if mode == "uniform" else "load_balance"].item()
    if mode == "off":
        assert aux_loss.item() == 0.0
    else:
        assert aux_loss.item() == pytest.approx(lb) and lb > 0   # released: in the value, no gradient
    if mode in ("gradient", "uniform"):
        aux_loss.backward()
        assert model.router.gate.weight.grad.abs().sum() > 0
    else:
        assert not aux_loss.requires_grad


def test_released_load_balance_gives_the_same_gradients_as_none():
    target = torch.rand(4, 1, TINY.nz, TINY.nx) * 2 - 1
    results = {}
    for mode in ("released", "off", "gradient"):
        model = tiny(load_balance=mode)
        SPAMoELoss(model)(model(seismic()), target).backward()
        results[mode] = grads(model.router)
    for name, g in results["released"].items():
        torch.testing.assert_close(g, results["off"][name])
    assert not torch.allclose(results["gradient"]["gate.weight"], results["off"]["gate.weight"])


def test_every_expert_gets_a_gradient_when_routed():
    model = tiny(routing="uniform", top_k=3)
    SPAMoELoss(model)(model(seismic()), torch.zeros(4, 1, TINY.nz, TINY.nx)).backward()
    for kind, expert in zip(model.config.experts, model.experts):
        assert sum(p.grad.abs().sum() for p in expert.parameters() if p.grad is not None) > 0, kind


def test_unrouted_experts_get_no_gradient_under_forced_top_1():
    model = tiny(routing="uniform", top_k=1)   # released "uniform": always expert 0
    SPAMoELoss(model)(model(seismic()), torch.zeros(4, 1, TINY.nz, TINY.nx)).backward()
    assert all(p.grad is not None for p in model.experts[0].parameters())
    for expert in model.experts[1:]:
        assert all(p.grad is None for p in expert.parameters())


def test_hinge_bound_is_enforced_only_when_switched_on():
    x = seismic()
    off = tiny(bound="off", rho_min=1e3, load_balance="off")
    off(x)
    assert off.aux["bound_penalty"].item() > 0 and off.aux["bound_active"] == 1.0
    assert not off.aux["aux_loss"].requires_grad          # as released: a diagnostic only

    on = tiny(bound="hinge", rho_min=1e3, bound_weight=2.0, load_balance="off")
    on(x)
    torch.testing.assert_close(on.aux["aux_loss"], 2.0 * (1e3 - on.aux["rho"]).mean())
    on.aux["aux_loss"].backward()
    assert on.encoder.projection.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in on.experts.parameters())

    slack = tiny(bound="hinge", rho_min=0.0, load_balance="off")
    slack(x)
    assert slack.aux["aux_loss"].item() == 0.0 and slack.aux["bound_active"] == 0.0


def test_experts_subset_and_single_expert():
    model = tiny(experts=("lno",), top_k=1)
    y = model(seismic())
    assert y.shape == (4, 1, TINY.nz, TINY.nx)
    torch.testing.assert_close(model.aux["combine_weights"], torch.ones(4, 1))


@pytest.mark.parametrize("overrides, match", [
    (dict(top_k=3, experts=("fno", "mno")), "top_k"),
    (dict(routing="greedy"), "routing"),
    (dict(bands="wavelet"), "bands"),
    (dict(experts=("fno", "wno")), "experts"),
    (dict(load_balance="sometimes"), "load_balance"),
    (dict(rho_min=-1.0), "rho_min"),
    (dict(vit_dim=30, vit_heads=4), "divisible"),
])
def test_bad_configurations_are_refused(overrides, match):
    with pytest.raises(ValueError, match=match):
        SPAMoEConfig.preset("smoke", TINY, **overrides)


def test_sobel_of_a_ramp_matches_hand_computation():
    a, h, w = 0.3, 6, 9
    ramp = a * torch.arange(w, dtype=torch.float64).expand(1, 1, h, w)
    mag = sobel_gradient_magnitude(ramp)
    torch.testing.assert_close(mag[..., 1:-1], torch.full((1, 1, h, w - 2), a, dtype=torch.float64))
    torch.testing.assert_close(mag[..., [0, -1]], torch.full((1, 1, h, 2), a / 2, dtype=torch.float64))
    loss = SPAMoELoss(weights=dict(l1=0, mse=0, sobel=1, fourier=0))
    # |∇0| = sqrt(1e-12) = 1e-6 (the released epsilon inside the square root)
    assert loss(ramp, torch.zeros_like(ramp)).item() == pytest.approx(a * (w - 1) / w - 1e-6, rel=1e-9)


def test_fourier_magnitude_of_a_constant_matches_hand_computation():
    c, h, w = -1.5, 8, 12
    const = torch.full((1, 1, h, w), c, dtype=torch.float64)
    mag = windowed_fourier_magnitude(const)
    assert mag.shape == (1, 1, h, w // 2 + 1)
    # Hann window: DFT ½N at 0 and −¼N at ±1 per axis; the mean removal deletes the DC bin
    assert mag.sum().item() == pytest.approx(abs(c) * math.sqrt(h * w) / 2, rel=1e-9)
    assert mag[0, 0, 0, 0].item() == pytest.approx(0.0, abs=1e-12)
    released = SPAMoELoss()
    expected = 0.6 * abs(c) + 0.4 * c ** 2 + 0.10 * abs(c) * math.sqrt(h * w) / (2 * h * (w // 2 + 1))
    assert released(const, torch.zeros_like(const)).item() == pytest.approx(expected, rel=1e-9)


def test_loss_reports_its_parts_and_adds_the_aux_terms():
    model = tiny(bound="hinge", rho_min=1e3, load_balance="released")
    target = torch.zeros(4, 1, TINY.nz, TINY.nx)
    pred = model(seismic())
    total, parts = SPAMoELoss(model).with_parts(pred, target)
    plain = SPAMoELoss()(pred, target)
    torch.testing.assert_close(total, plain + model.aux["aux_loss"])
    assert {"l1", "mse", "sobel", "fourier", "bound_penalty", "load_balance", "rho_mean", "bound_active"} <= set(parts)
    with pytest.raises(ValueError, match="unknown SPAMoELoss term"):
        SPAMoELoss(weights={"ssim": 1.0})


def test_encoder_pads_openfwi_gathers_to_a_63_by_22_token_grid():
    from fwilab.layers.vit import SeismicViTEncoder

    encoder = SeismicViTEncoder((1000, 350), out_channels=4, out_shape=(70, 70), dim=8, depth=1, heads=2)
    assert encoder.vit.grid == (63, 22)                          # 1008 × 352 after reflect padding
    x = torch.randn(1, 1, 1000, 350)
    assert encoder.pad_to_patches(x).shape == (1, 1, 1008, 352)
    torch.testing.assert_close(encoder.pad_to_patches(x)[..., 1000:, :350], x[..., 991:999, :].flip(-2))
    assert encoder(x).shape == (1, 4, 70, 70)


def test_state_dict_holds_tensors_only_and_round_trips():
    # neuralop's experts put a `_metadata` dict at the top of a parent's state dict; the fit loop copies
    # every entry as a tensor (best state, checkpoints)
    model = tiny()
    state = model.state_dict()
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    torch.manual_seed(5)
    fresh = SPAMoE(model.config)
    fresh.load_state_dict({k: v.clone() for k, v in state.items()})
    x = seismic()
    model.eval(), fresh.eval()
    torch.testing.assert_close(fresh(x), model(x))


@pytest.fixture
def cuda_like_fft(monkeypatch):
    """torch.fft as CUDA's (torch 2.11): no bfloat16 transforms, float16 only at power-of-two sizes.
    Wrapping the Python functions sees a tensor before CPU autocast would upcast it, so a bf16 tensor
    reaching an FFT under autocast fails here as it does on the GPU."""
    def strict(fn):
        def wrapped(x, *args, **kwargs):
            if x.dtype in (torch.bfloat16, torch.float16):
                raise RuntimeError(f"Unsupported dtype {x.dtype} for torch.fft.{fn.__name__} (as on CUDA)")
            return fn(x, *args, **kwargs)
        return wrapped
    for name in ("fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2",
                 "rfftn", "irfftn"):
        monkeypatch.setattr(torch.fft, name, strict(getattr(torch.fft, name)))


@pytest.mark.parametrize("bound", ["off", "hinge"])
def test_spectral_part_runs_in_float32_under_bf16_autocast(cuda_like_fft, bound):
    # the fit loop trains under bf16 autocast on CUDA, which has no bf16 FFT: the ratio, the router and
    # the operator experts must see float32 whatever the encoder's autocast dtype
    model = tiny(bound=bound, load_balance="gradient", top_k=2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        pred = model(seismic())
    assert pred.dtype == torch.float32
    loss = SPAMoELoss(model)(pred.float(), torch.zeros(4, 1, TINY.nz, TINY.nx))
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_the_fit_loop_trains_spamoe_under_bf16_autocast(cuda_like_fft):
    # the loop as on CUDA (bf16 autocast; FFTs refusing bf16 as CUDA's do), on the CPU
    from torch.utils.data import TensorDataset

    from fwilab.training import FitConfig, fit

    model = tiny(bound="hinge", load_balance="uniform")
    data = TensorDataset(seismic(4), torch.rand(4, 1, TINY.nz, TINY.nx) * 2 - 1)
    result = fit(model, data, data, SPAMoELoss(model),
                 FitConfig(epochs=1, batch_size=2, device="cpu", amp="bf16", progress=False))
    assert all(math.isfinite(v) for v in result.curves["train_loss"] + result.curves["val_loss"])
