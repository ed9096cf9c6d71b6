"""Dataset generation: OpenFWI shapes, resumability, prefix identity, refusal to mix, the cache."""

import json
import os

import numpy as np
import pytest
import torch

from fwilab.data import generate
from fwilab.data.generate import cache_key, cached_dataset, generate_dataset, load_arrays
from fwilab.data.normalize import DATA_RANGE, normalize_seismic
from fwilab.data.openfwi import METADATA_NAME, OpenFWIDataset, discover_pairs, write_pair
from fwilab.physics.acquisition import OPENFWI

families = pytest.importorskip("fwilab.data.families")
solver = pytest.importorskip("fwilab.physics.solver")

ACQ = OPENFWI.replace(nz=20, nx=20, nt=100, nbc=10, source_x=(0, 10, 19), receiver_x=tuple(range(20)))
FAMILY = "flatvel-a"


@pytest.fixture
def counted(monkeypatch):
    """Count the samples sent through the real forward model."""
    seen = []
    real = solver.forward_model

    def forward_model(v, acquisition, **kw):
        seen.append(v.shape[0])
        return real(v, acquisition, **kw)

    monkeypatch.setattr(generate, "_solver", lambda: forward_model)
    return seen


def gen(out, n, **kw):
    kw = {"seed": 0, "acquisition": ACQ, "samples_per_file": 2, "batch_size": 2, "progress": False, **kw}
    return generate_dataset(FAMILY, n, out, **kw)


def files_of(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.npy"))}


def test_files_have_openfwi_shapes_and_match_the_physics(tmp_path):
    out = gen(tmp_path / "ds", 5)
    pairs = discover_pairs(out)
    assert [s.name for s, _ in pairs] == ["data1.npy", "data2.npy", "data3.npy"]
    counts = []
    for s_path, v_path in pairs:
        s, v = np.load(s_path), np.load(v_path)
        assert s.dtype == np.float32 and v.dtype == np.float32
        assert s.shape[1:] == (3, 100, 20) and v.shape[1:] == (1, 20, 20)  # (shot, time, receiver), (1, depth, width)
        counts.append(s.shape[0])
    assert counts == [2, 2, 1]
    seismic, velocity = load_arrays(out)
    # independent check: the family's own samples, and the solver run on one sample alone
    np.testing.assert_array_equal(velocity, families.generate_velocity(FAMILY, 5, seed=0, nz=20, nx=20))
    direct = solver.forward_model(torch.from_numpy(velocity[3:4]), ACQ).numpy()
    np.testing.assert_array_equal(seismic[3:4], direct)
    meta = json.loads((out / METADATA_NAME).read_text())
    assert meta["family"] == FAMILY and meta["seed"] == 0 and meta["n"] == 5 and meta["samples_per_file"] == 2
    assert meta["acquisition"]["nt"] == 100 and meta["acquisition"]["source_x"] == [0, 10, 19]
    assert [meta["files"][k]["n_samples"] for k in ("1", "2", "3")] == [2, 2, 1]
    assert meta["files"]["2"]["data_min"] == float(seismic[2:4].min())
    assert meta["data_max"] == float(seismic.max())
    assert meta["log_data_max"] == pytest.approx(np.log1p(seismic.max()), rel=1e-12)
    s3, v3 = load_arrays(out, 3)
    np.testing.assert_array_equal(s3, seismic[:3])
    with pytest.raises(ValueError, match="fewer than the n = 6"):
        load_arrays(out, 6)


def test_resume_regenerates_exactly_the_deleted_file(tmp_path, counted):
    out = gen(tmp_path / "ds", 5)
    before = files_of(out)
    assert sum(counted) == 5
    untouched = {p: os.stat(out / p).st_mtime_ns for p in before if "2" not in p}
    with pytest.raises(ValueError, match=r"incomplete: data2\.npy missing"):
        (out / "data" / "data2.npy").unlink()
        OpenFWIDataset(out, split="all")
    counted.clear()
    gen(out, 5)
    assert counted == [2]  # only file 2's samples were modelled again
    assert files_of(out) == before  # bitwise identical
    assert {p: os.stat(out / p).st_mtime_ns for p in untouched} == untouched
    # a complete folder costs nothing, and a stale temporary file is ignored
    (out / "data" / ".data1.npy.x7q.tmp").write_bytes(b"\x93NUMPY half a file")
    counted.clear()
    gen(out, 5)
    assert counted == []
    assert len(OpenFWIDataset(out, split="all")) == 5


def test_extending_gives_a_prefix_identical_dataset(tmp_path, counted):
    small = gen(tmp_path / "grown", 3)
    counted.clear()
    gen(small, 5)
    assert counted == [2, 1]  # the partial file 2 in full, then file 3
    direct = gen(tmp_path / "direct", 5, batch_size=3)
    assert files_of(small) == files_of(direct)
    counted.clear()
    gen(small, 2)  # fewer: nothing to do, and nothing removed
    assert counted == [] and len(load_arrays(small)[0]) == 5
    assert json.loads((small / METADATA_NAME).read_text())["n"] == 5


def test_refuses_to_mix_datasets(tmp_path):
    out = gen(tmp_path / "ds", 1)
    with pytest.raises(ValueError, match=r"seed: folder has 0, asked for 1"):
        gen(out, 1, seed=1)
    with pytest.raises(ValueError, match=r"family: folder has 'flatvel-a', asked for 'curvevel-a'"):
        generate_dataset("curvevel-a", 1, out, acquisition=ACQ, samples_per_file=2, progress=False)
    with pytest.raises(ValueError, match=r"acquisition\.nt: folder has 100, asked for 120"):
        gen(out, 1, acquisition=ACQ.replace(nt=120))
    with pytest.raises(ValueError, match=r"samples_per_file"):
        gen(out, 1, samples_per_file=3)
    foreign = tmp_path / "real"
    write_pair(foreign, 1, np.zeros((1, 3, 100, 20), np.float32), np.full((1, 1, 20, 20), 2000, np.float32))
    with pytest.raises(ValueError, match="without fwilab_dataset.json"):
        gen(foreign, 1)
    with pytest.raises(ValueError, match="unknown|family"):
        generate_dataset("flatvel-z", 1, tmp_path / "z", acquisition=ACQ, progress=False)
    with pytest.raises(ValueError, match="n must be"):
        gen(tmp_path / "n0", 0)


def test_dataset_over_generated_data_normalises_as_the_chapters_do(tmp_path):
    # OpenFWI's constant range of the family, as fwilab.data.splits: growing the folder (or adding test
    # files) must not change how a sample is normalised
    out = gen(tmp_path / "ds", 4)
    seismic, _ = load_arrays(out)
    ds = OpenFWIDataset(out, split="train")  # files 1-2 <= 48: all training files
    assert ds.family == FAMILY and len(ds) == 4
    assert ds.data_range == DATA_RANGE[FAMILY]
    x = torch.stack([ds[i][0] for i in range(4)])
    np.testing.assert_allclose(x.numpy(), normalize_seismic(seismic.astype(np.float64), FAMILY), rtol=0, atol=1e-6)
    gen(tmp_path / "ds", 6)
    torch.testing.assert_close(torch.stack([OpenFWIDataset(out, split="train")[i][0] for i in range(4)]), x)


def test_cache_is_keyed_and_extended(tmp_path, counted, monkeypatch):
    monkeypatch.setenv("FWILAB_CACHE", str(tmp_path / "cache"))
    a = cached_dataset(FAMILY, 3, acquisition=ACQ, samples_per_file=2, progress=False)
    assert a.parent == tmp_path / "cache" / "datasets"
    assert a.name == f"{FAMILY}-seed0-{cache_key(FAMILY, 0, ACQ, 2)}"
    counted.clear()
    b = cached_dataset(FAMILY, 4, acquisition=ACQ, samples_per_file=2, progress=False)
    assert b == a and counted == [2]  # only the partial second file
    counted.clear()
    assert cached_dataset(FAMILY, 2, acquisition=ACQ, samples_per_file=2, progress=False) == a
    assert counted == []
    assert len({cache_key(FAMILY, 0, ACQ, 2), cache_key(FAMILY, 1, ACQ, 2), cache_key("curvevel-a", 0, ACQ, 2),
                cache_key(FAMILY, 0, ACQ.replace(nt=120), 2), cache_key(FAMILY, 0, ACQ, 500)}) == 5
    other = cached_dataset(FAMILY, 1, acquisition=ACQ, samples_per_file=2, cache_dir=tmp_path / "elsewhere",
                           progress=False)
    assert other.parent == tmp_path / "elsewhere" / "datasets"
    np.testing.assert_array_equal(load_arrays(other)[0], load_arrays(a, 1)[0])


def test_load_arrays_refuses_a_generated_folder_with_a_missing_middle_file(tmp_path):
    out = gen(tmp_path / "ds", 6)   # files of 2 samples: data1..data3
    (out / "data" / "data2.npy").unlink()
    with pytest.raises(ValueError, match="data2.npy missing"):
        load_arrays(out)
