"""The baselines chapter's classic-FWI piece: a batched inversion on the CPU takes, for every sample,
exactly the steps of that sample's own inversion, and the reported errors are the maps' errors."""
import numpy as np
import pytest
import torch

from fwilab.data.splits import FamilySplits
from fwilab.experiments import make_config
from fwilab.experiments.baselines import A_FAMILIES, classic_fwi
from fwilab.physics import fwi, smooth_initial_model
from fwilab.physics.acquisition import Acquisition
from fwilab.physics.solver import forward_model

TINY = Acquisition(nz=16, nx=16, dx=10.0, nt=120, dt=1e-3, f=25.0, source_x=(2, 13), source_z=1,
                   receiver_x=tuple(range(16)), receiver_z=1, nbc=8)


def test_batched_fwi_equals_one_inversion_per_sample():
    g = torch.Generator().manual_seed(0)
    v = 2000.0 + 1500.0 * torch.rand(3, 1, 1, 1, generator=g).expand(3, 1, 16, 16).clone()
    v[:, :, 8:] += 500.0
    splits = FamilySplits("flatvel-a", None, None, None, test_velocity_ms=v.numpy(),
                          test_seismic_raw=forward_model(v, TINY).numpy())
    metrics, arrays = classic_fwi(splits, TINY, samples=3, iterations=2, frequencies=(10.0, 20.0),
                                  smooth_cells=2.0, progress=False)
    assert metrics["batched"] and metrics["n"] == 3
    v0 = smooth_initial_model(v, 2.0)
    for i in range(3):
        alone = fwi(torch.from_numpy(splits.test_seismic_raw[i:i + 1]), v0[i:i + 1], TINY, iterations=2,
                    frequencies=[10.0, 20.0])
        np.testing.assert_allclose(arrays["inverted"][i], alone.v[0, 0].numpy(), rtol=1e-5, atol=1e-2)
    mae = np.abs(arrays["inverted"] - v[:, 0].numpy()).mean(axis=(1, 2))
    np.testing.assert_allclose(arrays["mae_ms_per_sample"], mae, rtol=1e-5)
    assert metrics["mae_ms"] == np.mean(arrays["mae_ms_per_sample"])
    assert metrics["start_mae_ms"] > 0
    # where the networks read decimated records, FWI simulates the full-rate ones from the test maps
    decimated = FamilySplits("flatvel-a", None, None, None, test_seismic_raw=None, test_velocity_ms=v.numpy(),
                             decimate=4)
    np.testing.assert_array_equal(decimated.observed(2, TINY), splits.test_seismic_raw[:2])


def test_fwi_families_default_to_the_trained_families_and_must_be_among_them():
    assert make_config("baselines", "smoke").fwi_families == ("flatvel-a",)
    cpu = make_config("baselines", "cpu")
    assert cpu.families == ("flatvel-a", "curvevel-a") and cpu.fwi_families == ("flatvel-a",)
    assert make_config("baselines", "full").fwi_families == make_config("baselines", "full").families
    with pytest.raises(ValueError, match="must be among families"):
        make_config("baselines", "smoke", fwi_families=["curvevel-a"])


def _fwi_claim(profile, learned_mae_ms, learned_s, fwi_mae_ms=100.0, fwi_s=200.0, n_seeds=2, mae=0.02):
    from fwilab.experiments import baselines

    config = make_config("baselines", "smoke", families=["flatvel-a"], n_seeds=n_seeds)
    object.__setattr__(config, "profile", profile)   # judge as if run at that profile
    k = config.fwi_samples
    runs = [{"model": "inversionnet", "family": "flatvel-a", "seed": s, "mae": mae, "rmse": 0.2, "ssim": 0.8,
             "mae_ms": 150.0, "inference_s_per_sample": learned_s} for s in config.seeds]
    arrays = {f"inversionnet-flatvel-a-s{s}/test_mae_per_sample": np.full(k, (learned_mae_ms + d) / 1500.0)
              for s, d in zip(config.seeds, (-1.0, 1.0) if n_seeds > 1 else (0.0,))}
    metrics = {"runs": runs, "fwi": {"flatvel-a": {"mae_ms": fwi_mae_ms, "s_per_sample": fwi_s, "n": k}}}
    return {c.id: c for c in baselines.judge_claims(config, metrics, arrays)}["baselines.learned-beats-fwi"]


def test_learned_beats_fwi_needs_both_the_accuracy_and_the_time():
    from fwilab.claims import DOES_NOT_HOLD, HOLDS, NOT_JUDGED, PARTLY

    assert _fwi_claim("full", learned_mae_ms=50.0, learned_s=0.01).verdict == HOLDS
    slower = _fwi_claim("full", learned_mae_ms=50.0, learned_s=500.0)
    assert slower.verdict == PARTLY and "500 s vs 200 s per sample" in slower.ours
    assert _fwi_claim("full", learned_mae_ms=150.0, learned_s=0.01).verdict == DOES_NOT_HOLD
    assert _fwi_claim("cpu", learned_mae_ms=50.0, learned_s=0.01).verdict == HOLDS
    assert _fwi_claim("smoke", learned_mae_ms=50.0, learned_s=0.01).verdict == NOT_JUDGED


def test_learned_beats_fwi_is_gated_on_the_trained_regime():
    from fwilab.claims import NOT_JUDGED

    # FlatVel-A's bound is 0.035: a reference InversionNet at 0.1 has not learned the task
    gated = _fwi_claim("cpu", learned_mae_ms=50.0, learned_s=0.01, mae=0.1)
    assert gated.verdict == NOT_JUDGED
    assert "outside the trained regime" in gated.rule and "0.1000 over 2 seed(s) is > the trained-regime bound 0.035" \
        in gated.rule


def test_one_seed_shows_no_spread_and_fractions_of_a_second():
    """A single seed has no standard deviation to show ("± 0.0" read as a spread of zero), and a
    smoke run's times are fractions of a second (":.0f" printed them as "0 s")."""
    one = _fwi_claim("smoke", learned_mae_ms=50.0, learned_s=0.0123, fwi_s=0.4, n_seeds=1)
    assert "50.0 (1 seed) vs 100.0 m/s" in one.ours and "±" not in one.ours
    assert "12.3 ms vs 400 ms per sample" in one.ours
    two = _fwi_claim("smoke", learned_mae_ms=50.0, learned_s=0.0123, fwi_s=0.4)
    assert "50.0 ± 1.4 vs 100.0 m/s" in two.ours


@pytest.mark.parametrize("family, mae, verdict", [
    ("flatvel-a", 0.034, "holds"), ("flatvel-a", 0.036, "does not hold"),
    ("curvevel-a", 0.099, "holds"), ("curvevel-a", 0.101, "does not hold"),
    ("style-a", 1.9 * 0.0625, "holds"), ("style-a", 2.5 * 0.0625, "does not hold"),
])
def test_inversionnet_regime_uses_the_trained_regime_bounds(family, mae, verdict):
    """FlatVel-A <= 0.035 and CurveVel-A <= 0.10 (fwilab.regime); elsewhere at most 2x OpenFWI's MAE."""
    from fwilab.experiments import baselines

    config = make_config("baselines", "smoke", families=[family], gan_families=[family], n_seeds=2)
    object.__setattr__(config, "profile", "cpu")
    runs = [{"model": "inversionnet", "family": family, "seed": s, "mae": mae, "rmse": 0.2,
             "ssim": 0.8, "mae_ms": 1.0, "inference_s_per_sample": 0.01} for s in config.seeds]
    claims = {c.id: c for c in baselines.judge_claims(config, {"runs": runs, "fwi": {}}, {})}
    assert claims["baselines.inversionnet-regime"].verdict == verdict


def test_other_chapters_reuse_the_reference_inversionnet_pieces(tmp_path, monkeypatch):
    """reference_inversionnet loads the baselines chapter's own piece (no retraining), whatever the GAN or
    FWI settings; a missing piece is trained once and saved where the chapter would look for it."""
    from fwilab.experiments import baselines
    from fwilab.experiments.baselines import compute

    calls = []
    real = compute._inversionnet

    def counted(config, splits, seed):
        calls.append(seed)
        return real(config, splits, seed)

    monkeypatch.setattr(compute, "_inversionnet", counted)
    first, _ = baselines.reference_inversionnet("flatvel-a", 0, profile="smoke", results_dir=str(tmp_path),
                                                device="cpu", progress=False)
    assert calls == [0]
    config = make_config("baselines", "smoke", results_dir=str(tmp_path), device="cpu", progress=False,
                         gan_epochs=0, fwi_iterations=0)
    art = baselines.run(config)
    assert calls == [0]                       # the chapter loaded the piece the other chapter made
    again, arrays = baselines.reference_inversionnet("flatvel-a", 0, profile="smoke", results_dir=str(tmp_path),
                                                     device="cpu", progress=False)
    assert calls == [0] and again["mae"] == first["mae"] == art.metrics["runs"][0]["mae"]
    assert "test_mae_per_sample" in arrays


def test_reference_runs_are_the_baselines_pieces_as_other_chapters_record_them(monkeypatch):
    """One helper for every chapter that compares with the reference InversionNet: a record per seed with the
    piece's metrics, and its arrays under the piece's name (the test predictions of the base seed only)."""
    from fwilab.experiments import baselines
    from fwilab.experiments.baselines import compute

    seen = []

    def fake(family, seed, **kw):
        seen.append((family, seed, kw["profile"], kw["splits"]))
        return {"mae": 0.01 * (seed + 1), "train_s": 5.0}, {"predictions": np.zeros(2), "curve_val_l1": np.ones(3)}

    monkeypatch.setattr(compute, "reference_inversionnet", fake)
    config = make_config("routing", "cpu")
    arrays = {}
    runs = baselines.reference_runs(config, "curvevel-a", "SPLITS", (0, 1), arrays)
    assert [(r["model"], r["family"], r["seed"], r["mae"], r["reference"]) for r in runs] == [
        ("inversionnet", "curvevel-a", 0, 0.01, "baselines"), ("inversionnet", "curvevel-a", 1, 0.02, "baselines")]
    assert seen == [("curvevel-a", 0, "cpu", "SPLITS"), ("curvevel-a", 1, "cpu", "SPLITS")]
    assert set(arrays) == {"inversionnet-curvevel-a-s0/predictions", "inversionnet-curvevel-a-s0/curve_val_l1",
                           "inversionnet-curvevel-a-s1/curve_val_l1"}
    # by default, the baselines chapter's seeds at the config's profile
    assert [r["seed"] for r in baselines.reference_runs(config, "flatvel-a")] == list(
        baselines.BaselinesConfig.preset("cpu").seeds)
