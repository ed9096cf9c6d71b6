"""The diffusion chapter: config checks, the claim rules on hand-made numbers, and the measurement helpers."""

import numpy as np
import pytest
import torch

from fwilab.claims import DOES_NOT_HOLD, HOLDS, NOT_JUDGED, PARTLY
from fwilab.experiments import make_config
from fwilab.experiments.diffusion import judge_claims
from fwilab.experiments.diffusion.compute import Standardiser, bootstrap_mean, curve_trend, fd_features


def test_config_checks():
    with pytest.raises(ValueError, match="comparison_family"):
        make_config("diffusion", "smoke", comparison_family="curvevel-a")
    with pytest.raises(ValueError, match="curve_steps"):
        make_config("diffusion", "smoke", curve_steps=[0, 2000])
    with pytest.raises(ValueError, match="deviation_samples .* cannot exceed"):
        make_config("diffusion", "smoke", deviation_samples=9)
    with pytest.raises(ValueError, match="reference_baselines: the autoencoders must train"):
        make_config("diffusion", "cpu", train_samples=3000)
    cpu = make_config("diffusion", "cpu")
    assert cpu.model_acquisition.nt == 250 and cpu.vqae_config("2vq").nt == 250
    assert len(cpu.curve_steps) >= 10 and cpu.deviation_samples >= 32


def _curve(rho, low):
    return {"mean": [0.01, 0.02], "low": [0, 0], "high": [1, 1], "spearman": rho, "spearman_low": low,
            "spearman_high": 1.0}


def _piece(random=0.04, recon=0.005, inversion=0.02, forward=(1.0, 0.5), backward=(1.0, 0.5), gen=0.01,
           fd=(1.0, 1.0), refine=(-0.01, -0.02, -0.001), separate=None):
    d = lambda x: {"mean": x, "low": x * 0.9, "high": x * 1.1}   # noqa: E731
    p = {"inversion_mae": inversion, "velocity_recon_mae": 0.01, "resize_floor_mae": 0.005,
         "deviation_random": d(random), "deviation_reconstruction": d(recon), "deviation_mismatched": d(0.05),
         "deviation_real": d(1e-16), "deviation_generated": d(gen), "forward": _curve(*forward),
         "backward": _curve(*backward), "fd": {"seismic": {"fd": fd[0]}, "velocity": {"fd": fd[1]}},
         "refine": {"stage1_mae": 0.02, "refined_mae": 0.02 + refine[0],
                    "difference": dict(zip(("mean", "low", "high"), refine)), "improved": 10, "n": 16}}
    if separate is not None:
        p["separate"] = {"deviation": d(separate[0]), "fd": {"seismic": {"fd": separate[1]}, "velocity": {"fd": separate[2]}}}
    return p


def _metrics(**kw):
    one = kw.pop("one", {})
    separate = kw.pop("separate", (0.05, 2, 2))
    pieces = {"2vq-flatvel-a": _piece(**kw), "2vq-curvevel-a": _piece(**kw, separate=separate),
              "1vq-curvevel-a": _piece(**{**kw, **one})}
    runs = [{"model": "inversionnet", "family": f, "seed": s, "mae": mae}
            for f, mae in (("flatvel-a", 0.025), ("curvevel-a", 0.09)) for s in (0, 1, 2)]
    return {"pieces": pieces, "runs": runs}


def _verdicts(metrics, profile="cpu"):
    config = make_config("diffusion", profile) if profile != "smoke" else make_config(
        "diffusion", "smoke", families=["flatvel-a", "curvevel-a"], comparison_family="curvevel-a")
    return {c.id: c.verdict for c in judge_claims(config, metrics, {})}


def test_claims_hold_on_numbers_that_meet_the_rules():
    v = _verdicts(_metrics(one={"gen": 0.005, "fd": (0.5, 0.5)}))
    assert v == {"wavediffusion.stage1-inversion": HOLDS, "wavediffusion.random-latents-deviate": HOLDS,
                 "wavediffusion.deviation-curves": HOLDS, "wavediffusion.one-codebook": HOLDS,
                 "wavediffusion.joint-diffusion": HOLDS, "wavediffusion.refinement": HOLDS}
    assert set(_verdicts(_metrics(), "smoke").values()) == {NOT_JUDGED}


def test_claims_fail_on_numbers_that_do_not():
    v = _verdicts(_metrics(random=0.006, inversion=0.2, forward=(0.3, -0.2), backward=(0.9, 0.1),
                           refine=(0.01, 0.001, 0.02), separate=(0.001, 0.1, 5.0), one={"gen": 0.02, "fd": (2, 0.5)}))
    assert v["wavediffusion.stage1-inversion"] == DOES_NOT_HOLD       # 8× and 2.2× InversionNet
    assert v["wavediffusion.random-latents-deviate"] == PARTLY        # 1.2×: > 1, < 3
    assert v["wavediffusion.deviation-curves"] == PARTLY              # only the backward curve is monotone
    assert v["wavediffusion.one-codebook"] == PARTLY                  # 1VQ better on the velocity FD only
    assert v["wavediffusion.joint-diffusion"] == DOES_NOT_HOLD        # the separate models deviate less
    assert v["wavediffusion.refinement"] == DOES_NOT_HOLD


def test_an_inversionnet_outside_the_trained_regime_leaves_the_inversion_claim_unjudged():
    metrics = _metrics()
    for r in metrics["runs"]:
        r["mae"] = 0.5
    assert _verdicts(metrics)["wavediffusion.stage1-inversion"] == NOT_JUDGED


def test_the_trend_is_read_by_rank_and_its_interval_covers_the_truth():
    rng = np.random.default_rng(0)
    steps = np.linspace(0, 1000, 12)
    rising = 0.001 + 1e-5 * steps[:, None] + rng.normal(0, 1e-4, size=(12, 40))
    c = curve_trend(steps, rising, 300, rng)
    assert c["spearman"] > 0.95 and c["spearman_low"] > 0.5
    flat = rng.normal(0.01, 1e-3, size=(12, 40))
    assert curve_trend(steps, flat, 300, rng)["spearman_low"] < 0
    mean, low, high = bootstrap_mean(rising[0], 500, rng)
    assert low < mean < high


def test_the_standardiser_inverts_and_the_features_pool():
    z = torch.randn(50, 3, 4, 4) * torch.tensor([1.0, 5.0, 0.1]).view(1, 3, 1, 1) + 2
    std = Standardiser(z)
    torch.testing.assert_close(std.inverse(std(z)), z)
    torch.testing.assert_close(std(z).std(dim=(0, 2, 3)), torch.ones(3), atol=1e-4, rtol=0)
    s, v = fd_features(torch.randn(6, 5, 250, 70), torch.randn(6, 1, 70, 70))
    assert s.shape == (6, 5 * 40) and v.shape == (6, 100)


def test_a_saved_generator_loads_back_and_generates_the_same_pairs(tmp_path):
    """The piece's generator (autoencoder, latent standardisation, diffusion model) round-trips through its file,
    and a missing one is named with the command that makes it."""
    from fwilab.experiments.diffusion.compute import decode_latents, generator_path, load_generator, save_generator
    from fwilab.models.diffusion import LatentDiffusion
    from fwilab.models.vqae import VQAutoencoder

    config = make_config("diffusion", "smoke", results_dir=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="run the diffusion chapter first"):
        load_generator(config, "2vq", "flatvel-a")
    torch.manual_seed(0)
    ae, model = VQAutoencoder(config.vqae_config("2vq")).eval(), LatentDiffusion(config.ldm_config("2vq")).eval()
    acq = config.model_acquisition
    with torch.no_grad():
        encoded = ae.encode(torch.randn(4, acq.n_shots, acq.nt, acq.n_receivers))
    std, latents = Standardiser(encoded * 3 + 1), torch.randn_like(encoded[:3])
    save_generator(config, "2vq-flatvel-a", ae, std, model)
    assert generator_path(config, "2vq-flatvel-a").exists()
    ae2, std2, model2 = load_generator(config, "2vq", "flatvel-a")
    torch.testing.assert_close(std2.inverse(latents), std.inverse(latents))
    for a, b in zip(decode_latents(ae, std.inverse(latents)), decode_latents(ae2, std2.inverse(latents))):
        torch.testing.assert_close(a, b)
    t = torch.full((3,), 5, dtype=torch.long)
    with torch.no_grad():
        torch.testing.assert_close(model(latents, t), model2(latents, t))
