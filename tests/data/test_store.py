"""The dataset store: exact samples, resumable and atomic builds (a real SIGKILL), checks that name the bad file."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from fwilab.data import store
from fwilab.data.families import generate_velocity
from fwilab.data.real import load_real_velocity
from fwilab.data.store import StoreError, StoreSpec, build, read
from fwilab.data.transforms import decimate_time
from fwilab.physics.acquisition import OPENFWI
from fwilab.physics.solver import forward_model

# OpenFWI's 70 x 70 grid (the real maps'), a short record and a thin pad: milliseconds a sample
ACQ = OPENFWI.replace(nt=60, nbc=10)


@pytest.fixture
def small_shards(monkeypatch):
    monkeypatch.setattr(store, "SHARD_SIZE", 3)
    return 3


def test_real_samples_are_the_shipped_maps_simulated_and_decimated(tmp_path, small_shards):
    spec = StoreSpec("curvevel-a", "real", "train", acquisition=ACQ, decimate=2)
    build(spec, 5, cache_dir=tmp_path, progress=False)
    seismic, velocity = read(spec, 5, cache_dir=tmp_path)
    maps = load_real_velocity("curvevel-a", 5, split="train")
    np.testing.assert_array_equal(velocity, maps)
    want = decimate_time(forward_model(torch.from_numpy(maps), ACQ).numpy(), 2, axis=2)
    np.testing.assert_array_equal(seismic, want)
    assert seismic.shape == (5, 5, 30, 70)
    # a window that crosses a shard boundary
    s2, v2 = read(spec, 3, start=2, cache_dir=tmp_path)
    np.testing.assert_array_equal(s2, seismic[2:5])
    np.testing.assert_array_equal(v2, maps[2:5])


def test_generated_samples_do_not_depend_on_how_many_are_built(tmp_path, small_shards):
    spec = StoreSpec("flatvel-a", "generated", "all", seed=3, acquisition=ACQ)
    build(spec, 2, cache_dir=tmp_path / "a", progress=False)      # a short last shard ...
    build(spec, 7, cache_dir=tmp_path / "a", progress=False)      # ... is redone in full when extended
    build(spec, 7, cache_dir=tmp_path / "b", progress=False)
    sa, va = read(spec, 7, cache_dir=tmp_path / "a")
    sb, vb = read(spec, 7, cache_dir=tmp_path / "b")
    np.testing.assert_array_equal(sa, sb)
    np.testing.assert_array_equal(va, generate_velocity("flatvel-a", 7, seed=3, nz=70, nx=70))


def test_rebuild_computes_nothing(tmp_path, small_shards, monkeypatch):
    spec = StoreSpec("flatvel-a", "real", "test", acquisition=ACQ)
    build(spec, 6, cache_dir=tmp_path, progress=False)
    calls = []
    monkeypatch.setattr(store, "_simulate", lambda *a, **k: calls.append(1))
    build(spec, 6, cache_dir=tmp_path, progress=False)
    build(spec, 4, cache_dir=tmp_path, progress=False)   # fewer: read from the shards there are
    assert calls == []


def test_identity_separates_datasets():
    a = StoreSpec("flatvel-a", "real", "train", acquisition=ACQ)
    assert len({a.key, StoreSpec("flatvel-a", "real", "test", acquisition=ACQ).key,
                StoreSpec("flatvel-a", "real", "train", acquisition=ACQ, decimate=4).key,
                StoreSpec("flatvel-a", "real", "train").key,
                StoreSpec("flatvel-a", "generated", "all", acquisition=ACQ).key}) == 5
    assert a.identity()["maps_sha256"] and a.identity()["solver_version"] == store.SOLVER_VERSION


@pytest.mark.parametrize("kwargs, match", [
    (dict(family="style-a", source="real"), "no real maps are shipped for 'style-a'"),
    (dict(family="flatfault-a", source="real", split="train"), "available splits: test"),
    (dict(family="flatvel-a", source="web"), "unknown data source"),
    (dict(family="flatvel-a", source="generated", split="train"), "one split, 'all'"),
    (dict(family="flatvel-a", source="real", seed=2), "seed applies to generated data only"),
    (dict(family="flatvel-a", decimate=0), "decimation factor must be an integer >= 1"),
    (dict(family="flatvel-z"), "unknown velocity family"),
])
def test_bad_spec_is_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        StoreSpec(**kwargs)


def test_more_samples_than_real_maps_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="has 500 real test maps, fewer than n = 501"):
        build(StoreSpec("flatfault-a", "real", "test", acquisition=ACQ), 501, cache_dir=tmp_path)


def test_corrupt_file_is_named(tmp_path, small_shards):
    spec = StoreSpec("flatvel-a", "real", "test", acquisition=ACQ)
    folder = build(spec, 6, cache_dir=tmp_path, progress=False)
    path = folder / "seismic-00001.npy"
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0xFF
    path.write_bytes(bytes(raw))
    read(spec, 3, cache_dir=tmp_path)                     # shard 0 is fine
    with pytest.raises(StoreError, match=r"seismic-00001\.npy is corrupt"):
        read(spec, 6, cache_dir=tmp_path)
    path.unlink()
    with pytest.raises(StoreError, match=r"seismic-00001\.npy is missing"):
        read(spec, 6, cache_dir=tmp_path)


def test_foreign_folder_and_missing_data_are_named(tmp_path, small_shards):
    spec = StoreSpec("flatvel-a", "real", "test", acquisition=ACQ)
    with pytest.raises(StoreError, match="no store dataset at .*fwilab data build flatvel-a"):
        read(spec, 1, cache_dir=tmp_path)
    folder = build(spec, 3, cache_dir=tmp_path, progress=False)
    with pytest.raises(StoreError, match="no finished shard 1"):
        read(spec, 4, cache_dir=tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["identity"]["decimate"] = 7
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(StoreError, match="holds another dataset"):
        read(spec, 1, cache_dir=tmp_path)
    with pytest.raises(StoreError, match="holds another dataset"):
        build(spec, 3, cache_dir=tmp_path, progress=False)
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(StoreError, match="not valid JSON"):
        read(spec, 1, cache_dir=tmp_path)


CHILD = textwrap.dedent("""
    import sys, time
    from fwilab.data import store
    from fwilab.physics.acquisition import OPENFWI
    store.SHARD_SIZE = 3
    real_save = store._save_npy
    def slow_save(path, array):
        if path.name == "seismic-00001.npy":   # shard 1: stop in the middle of writing its first file
            import numpy as np
            from fwilab.results import atomic_write
            def half(fh):
                fh.write(b"\\x93NUMPY partial")
                fh.flush()
                print("WRITING", flush=True)
                time.sleep(60)
            atomic_write(path, half)
        return real_save(path, array)
    store._save_npy = slow_save
    spec = store.StoreSpec("flatvel-a", "real", "test", acquisition=OPENFWI.replace(nt=60, nbc=10))
    store.build(spec, 9, cache_dir=sys.argv[1], progress=False)
""")


def test_sigkill_mid_file_loses_only_that_shard(tmp_path, small_shards):
    cache = tmp_path / "cache"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(cache)], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        line = ""
        while "WRITING" not in line and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line and child.poll() is not None:
                break
        assert "WRITING" in line, "the child never reached shard 1"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    spec = StoreSpec("flatvel-a", "real", "test", acquisition=ACQ)
    folder = spec.folder(cache)
    assert list(folder.glob(".seismic-00001.npy.*.tmp")), "the kill should leave the half-written temporary"
    assert not (folder / "seismic-00001.npy").exists()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert sorted(manifest["shards"]) == ["0"]                # only the finished shard is listed
    shard0 = (folder / "seismic-00000.npy").stat().st_mtime_ns
    build(spec, 9, cache_dir=cache, progress=False)        # the rerun finishes the job
    seismic, velocity = read(spec, 9, cache_dir=cache)
    build(spec, 9, cache_dir=tmp_path / "clean", progress=False)
    clean, _ = read(spec, 9, cache_dir=tmp_path / "clean")
    assert (folder / "seismic-00000.npy").stat().st_mtime_ns == shard0   # shard 0 was not redone
    assert not list(folder.glob(".*.tmp"))                               # the temporary was cleared
    np.testing.assert_array_equal(seismic, clean)


def test_cli_status_and_build_errors(tmp_path, monkeypatch, capsys):
    from fwilab.cli import main

    monkeypatch.setenv("FWILAB_CACHE", str(tmp_path))
    assert main(["data", "status"]) == 0
    assert "is empty" in capsys.readouterr().out
    folder = build(StoreSpec("flatfault-a", "real", "test", acquisition=ACQ), 2, cache_dir=tmp_path, progress=False)
    assert main(["data", "status"]) == 0
    out = capsys.readouterr().out
    assert "flatfault-a" in out and "2 samples" in out and folder.name in out
    assert main(["data", "build", "flatfault-a", "--source", "real", "--split", "train"]) == 2
    assert "available splits: test" in capsys.readouterr().err
    assert main(["data", "build", "flatvel-a", "--source", "real", "--n", "6000"]) == 2
    assert "has 5000 real train maps, fewer than n = 6000" in capsys.readouterr().err
