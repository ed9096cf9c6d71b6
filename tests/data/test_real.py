"""Tests of the shipped real OpenFWI maps and their lossless layer encoding (fwilab.data.real)."""
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fwilab.data.families import generate_velocity
from fwilab.data.real import (REAL_FAMILIES, REAL_SPLITS, decode_layered_maps, decode_maps, encode_layered_maps,
                              encode_maps, float32_sha256, load_real_velocity, real_sample_path)

SHARED = Path("/work/shared/data/openfwi-velocity")


def test_real_families():
    assert REAL_FAMILIES == ("flatvel-a", "curvevel-a", "flatfault-a")
    assert REAL_SPLITS == {"flatvel-a": {"train": 5000, "test": 1000}, "curvevel-a": {"train": 5000, "test": 1000},
                           "flatfault-a": {"test": 500}}


SHIPPED = [(f, s) for f, splits in REAL_SPLITS.items() for s in splits]


@pytest.mark.parametrize("family, split", SHIPPED)
def test_shipped_file_small_and_loads(family, split):
    path = real_sample_path(family, split)
    assert path.exists() and path.stat().st_size < 1_000_000
    v = load_real_velocity(family, split=split)
    assert v.shape == (REAL_SPLITS[family][split], 1, 70, 70) and v.dtype == np.float32
    assert v.min() >= 1500 and v.max() <= 4500
    if family != "flatfault-a":   # FlatFault-A is interpolated near its fault
        assert np.all(v == np.round(v)) and np.all(np.diff(v, axis=2) >= 0)
    v[0] = 0  # the returned array is a copy: the cache is untouched
    assert load_real_velocity(family, 1, split=split)[0].min() >= 1500


@pytest.mark.parametrize("family, split", SHIPPED)
def test_shipped_file_matches_recorded_hash(family, split):
    # the hash of the original float32 bytes was recorded when the file was built
    with np.load(real_sample_path(family, split)) as f:
        recorded = str(f["sha256"])
    assert float32_sha256(load_real_velocity(family, split=split)) == recorded


def test_train_and_test_maps_differ():
    train, test = load_real_velocity("flatvel-a", split="train"), load_real_velocity("flatvel-a", split="test")
    train_keys = {m.tobytes() for m in train[:, 0, :, :1]}   # a FlatVel-A map is its first column
    assert sum(m.tobytes() in train_keys for m in test[:, 0, :, :1]) < 10


def test_float_encoding_round_trips():
    v = load_real_velocity("flatfault-a", 20)
    enc = encode_maps(v)
    assert str(enc["encoding"]) == "float32-deflate-v1"
    np.testing.assert_array_equal(decode_maps(enc), v)
    assert str(encode_maps(load_real_velocity("curvevel-a", 5))["encoding"]) == "layer-depth-v1"


def test_real_flatvel_a_rows_constant():
    v = load_real_velocity("FlatVel-A", 50)[:, 0]
    assert np.all(v == v[:, :, :1])


@pytest.mark.skipif(not SHARED.exists(), reason="original OpenFWI zips not present")
@pytest.mark.parametrize("family, split, zip_name, members", [
    ("flatvel-a", "test", "flatvel-a_test_vmodel.zip", ["vmodel11.npy", "vmodel12.npy"]),
    ("curvevel-a", "test", "curvevel-a_test_vmodel.zip", ["vmodel11.npy", "vmodel12.npy"]),
    ("flatvel-a", "train", "flatvel-a_train_vmodel.zip", [f"vmodel{i}.npy" for i in range(1, 11)]),
    ("curvevel-a", "train", "curvevel-a_train_vmodel.zip", [f"vmodel{i}.npy" for i in range(1, 11)]),
    ("flatfault-a", "test", "flatfault-a_test_vmodel11.zip", ["vmodel11.npy"]),
])
def test_shipped_file_decodes_to_original(family, split, zip_name, members):
    # in OpenFWI's order: vmodel1, vmodel2, ..., vmodel10 (not the zip's sorted vmodel1, vmodel10, vmodel2)
    with zipfile.ZipFile(SHARED / zip_name) as zf:
        original = np.concatenate([np.load(io.BytesIO(zf.read(m))) for m in members])
    decoded = load_real_velocity(family, split=split)
    assert decoded.dtype == original.dtype
    np.testing.assert_array_equal(decoded, original)


def test_load_prefix():
    np.testing.assert_array_equal(load_real_velocity("curvevel-a", 7), load_real_velocity("curvevel-a")[:7])


@pytest.mark.parametrize("family", ["curvefault-a", "style-b"])
def test_family_without_real_maps_raises(family):
    with pytest.raises(ValueError, match="available: flatvel-a, curvevel-a, flatfault-a"):
        load_real_velocity(family)


def test_split_without_real_maps_raises():
    with pytest.raises(ValueError, match="no real 'train' maps are shipped for 'flatfault-a'; available splits: test"):
        load_real_velocity("flatfault-a", split="train")


@pytest.mark.parametrize("n", [-1, 1001, 2.0])
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
