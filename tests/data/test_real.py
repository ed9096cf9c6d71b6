"""Tests of the shipped real OpenFWI maps and their lossless layer encoding (fwilab.data.real)."""
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fwilab.data.families import generate_velocity
from fwilab.data.real import (REAL_FAMILIES, decode_layered_maps, encode_layered_maps, float32_sha256,
                              load_real_velocity, real_sample_path)

SHARED = Path("/work/shared/data/openfwi-velocity")


def test_real_families():
    assert REAL_FAMILIES == ("flatvel-a", "curvevel-a")


@pytest.mark.parametrize("family", REAL_FAMILIES)
def test_shipped_file_small_and_loads(family):
    path = real_sample_path(family)
    assert path.exists() and path.stat().st_size < 200_000  # far below 1 MB
    v = load_real_velocity(family)
    assert v.shape == (500, 1, 70, 70) and v.dtype == np.float32
    assert v.min() >= 1500 and v.max() <= 4500
    assert np.all(v == np.round(v)) and np.all(np.diff(v, axis=2) >= 0)
    v[0] = 0  # the returned array is a copy: the cache is untouched
    assert load_real_velocity(family, 1)[0].min() >= 1500


def test_shipped_file_matches_recorded_hash():
    # the hash of the original float32 bytes was recorded when the file was built
    for family in REAL_FAMILIES:
        with np.load(real_sample_path(family)) as f:
            recorded = str(f["sha256"])
        assert float32_sha256(load_real_velocity(family)) == recorded


def test_real_flatvel_a_rows_constant():
    v = load_real_velocity("FlatVel-A", 50)[:, 0]
    assert np.all(v == v[:, :, :1])


@pytest.mark.skipif(not SHARED.exists(), reason="original OpenFWI zips not present")
@pytest.mark.parametrize("family", REAL_FAMILIES)
def test_shipped_file_decodes_to_original(family):
    with zipfile.ZipFile(SHARED / f"{family}_test_vmodel.zip") as zf:
        original = np.load(io.BytesIO(zf.read("vmodel11.npy")))
    decoded = load_real_velocity(family)
    assert decoded.dtype == original.dtype
    np.testing.assert_array_equal(decoded, original)


def test_load_prefix():
    np.testing.assert_array_equal(load_real_velocity("curvevel-a", 7), load_real_velocity("curvevel-a")[:7])


@pytest.mark.parametrize("family", ["flatfault-a", "style-b"])
def test_family_without_real_maps_raises(family):
    with pytest.raises(ValueError, match="available: flatvel-a, curvevel-a"):
        load_real_velocity(family)


@pytest.mark.parametrize("n", [-1, 501, 2.0])
def test_bad_n_raises(n):
    with pytest.raises(ValueError):
        load_real_velocity("flatvel-a", n)


def test_unknown_family_raises():
    with pytest.raises(ValueError, match="known families"):
        load_real_velocity("flatvel-z")


@pytest.mark.parametrize("family", ["flatvel-a", "curvevel-a"])
def test_encoding_round_trip_on_generated(family):
    v = generate_velocity(family, 20, seed=5)
    np.testing.assert_array_equal(decode_layered_maps(encode_layered_maps(v)), v)


def test_encoding_rejects_maps_it_cannot_hold():
    v = generate_velocity("flatvel-b", 5, seed=0)  # velocity decreases with depth
    with pytest.raises(ValueError, match="non-decreasing"):
        encode_layered_maps(v)
    w = generate_velocity("flatfault-a", 2, seed=0)  # non-integer values
    with pytest.raises(ValueError, match="integer"):
        encode_layered_maps(w)
    with pytest.raises(ValueError, match="shape"):
        encode_layered_maps(np.full((3, 70, 70), 2000.0))
