"""The OpenFWI file layout: discovery, validation, splits, memory-mapped reading, atomic writing."""

import json
import pickle

import numpy as np
import pytest
import torch

from fwilab.data.normalize import DATA_RANGE, normalize_seismic, normalize_velocity
from fwilab.data.openfwi import METADATA_NAME, OpenFWIDataset, discover_pairs, write_pair

SHOTS, NT, NREC, NZ, NX = 3, 16, 8, 6, 8


def random_pair(n, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    seismic = rng.normal(scale=5.0, size=(n, SHOTS, NT, NREC)).astype(dtype)
    velocity = rng.uniform(1500, 4500, size=(n, 1, NZ, NX)).astype(dtype)
    return seismic, velocity


def write_files(root, counts, first=1):
    """Vel-layout files data{first}.. with the given sample counts; returns the concatenated arrays."""
    s_all, v_all = [], []
    for k, count in enumerate(counts):
        s, v = random_pair(count, seed=first + k)
        write_pair(root, first + k, s, v)
        s_all.append(s)
        v_all.append(v)
    return np.concatenate(s_all), np.concatenate(v_all)


def test_write_pair_layout_dtype_and_atomicity(tmp_path):
    s, v = random_pair(4, dtype=np.float64)
    seis_path, vel_path = write_pair(tmp_path, 7, s, v)
    assert seis_path == tmp_path / "data" / "data7.npy" and vel_path == tmp_path / "model" / "model7.npy"
    s2, v2 = np.load(seis_path), np.load(vel_path)
    assert s2.dtype == np.float32 and v2.dtype == np.float32
    assert s2.shape == (4, SHOTS, NT, NREC) and v2.shape == (4, 1, NZ, NX)
    np.testing.assert_array_equal(s2, s.astype(np.float32))
    np.testing.assert_array_equal(v2, v.astype(np.float32))
    leftovers = [p.name for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".npy"]
    assert leftovers == []
    with pytest.raises(ValueError, match="3 samples but velocity holds 4"):
        write_pair(tmp_path, 8, s[:3], v)
    with pytest.raises(ValueError, match=">= 1"):
        write_pair(tmp_path, 0, s, v)


def test_discover_orders_by_file_number_and_ignores_temp_files(tmp_path):
    write_files(tmp_path, [1, 1, 1], first=1)
    write_files(tmp_path, [1], first=10)
    # a generator killed mid-write leaves a temporary file behind: never a data file
    (tmp_path / "data" / ".data4.npy.k2j3.tmp").write_bytes(b"\x93NUMPY garbage")
    (tmp_path / "model" / ".model4.npy.zz.tmp").write_bytes(b"")
    pairs = discover_pairs(tmp_path)
    assert [s.name for s, _ in pairs] == ["data1.npy", "data2.npy", "data3.npy", "data10.npy"]
    assert [v.name for _, v in pairs] == ["model1.npy", "model2.npy", "model3.npy", "model10.npy"]
    assert len(OpenFWIDataset(tmp_path, split="all", normalize=False)) == 4


def test_discover_errors_name_the_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        discover_pairs(tmp_path / "nope")
    with pytest.raises(ValueError, match="no OpenFWI files"):
        discover_pairs(tmp_path)
    write_files(tmp_path, [2, 2])
    (tmp_path / "model" / "model2.npy").unlink()
    with pytest.raises(ValueError, match=r"without their velocity file: .*data2\.npy"):
        discover_pairs(tmp_path)
    other = tmp_path / "other"
    write_files(other, [2, 2])
    (other / "data" / "data2.npy").unlink()   # the mirror case, in a folder that is not a generated one
    with pytest.raises(ValueError, match=r"without their seismic file: .*model2\.npy"):
        discover_pairs(other)


def test_mismatched_counts_dtypes_and_shapes_name_both_files(tmp_path):
    s, v = random_pair(3)
    (tmp_path / "data").mkdir()
    (tmp_path / "model").mkdir()
    np.save(tmp_path / "data" / "data1.npy", s)
    np.save(tmp_path / "model" / "model1.npy", v[:2])
    with pytest.raises(ValueError, match=r"data1\.npy holds 3 samples but .*model1\.npy holds 2"):
        OpenFWIDataset(tmp_path, split="all", normalize=False)
    np.save(tmp_path / "model" / "model1.npy", v.astype(np.float64))
    with pytest.raises(ValueError, match=r"data1\.npy is float32 but .*model1\.npy is float64"):
        OpenFWIDataset(tmp_path, split="all", normalize=False)
    np.save(tmp_path / "model" / "model1.npy", v)
    # second pair with a different number of time samples than the first
    np.save(tmp_path / "data" / "data2.npy", s[:, :, :-1])
    np.save(tmp_path / "model" / "model2.npy", v)
    with pytest.raises(ValueError, match=r"mismatched sample shapes: .*data2\.npy.*model2\.npy.*data1\.npy.*model1\.npy"):
        OpenFWIDataset(tmp_path, split="all", normalize=False)
    np.save(tmp_path / "data" / "data2.npy", s[:, 0])  # 3-D: not seismic
    with pytest.raises(ValueError, match=r"data2\.npy: seismic must be 4-D"):
        OpenFWIDataset(tmp_path, split="all", normalize=False)


def test_dataset_length_and_indexing_across_files(tmp_path):
    s_all, v_all = write_files(tmp_path, [3, 2, 4])
    ds = OpenFWIDataset(tmp_path, split="all", normalize=False)
    assert len(ds) == 9 and ds.seismic_shape == (SHOTS, NT, NREC) and ds.velocity_shape == (1, NZ, NX)
    for i in range(9):
        s, v = ds[i]
        assert s.dtype == torch.float32 and v.dtype == torch.float32
        np.testing.assert_array_equal(s.numpy(), s_all[i])
        np.testing.assert_array_equal(v.numpy(), v_all[i])
    np.testing.assert_array_equal(ds[-1][0].numpy(), s_all[-1])
    pair, row = ds.locate(4)
    assert pair.seismic.name == "data2.npy" and row == 1
    with pytest.raises(IndexError):
        ds[9]
    assert len(OpenFWIDataset(tmp_path, split="all", normalize=False, n=4)) == 4
    with pytest.raises(ValueError, match="n must be"):
        OpenFWIDataset(tmp_path, split="all", normalize=False, n=10)
    sub = OpenFWIDataset(tmp_path, files=[3, "data1.npy"], normalize=False)
    assert len(sub) == 7
    np.testing.assert_array_equal(sub[0][1].numpy(), v_all[5])
    with pytest.raises(ValueError, match="no file 5"):
        OpenFWIDataset(tmp_path, files=[5], normalize=False)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=5)))
    assert batch[0].shape == (5, SHOTS, NT, NREC) and batch[1].shape == (5, 1, NZ, NX)


def test_dataset_reads_through_memory_maps_and_pickles_without_data(tmp_path, monkeypatch):
    write_files(tmp_path, [50, 50])
    calls = []
    real_load = np.load

    def spy(path, *args, **kwargs):
        calls.append(kwargs.get("mmap_mode"))
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    ds = OpenFWIDataset(tmp_path, split="all", normalize=False)
    expected = ds[75]
    assert calls and all(mode == "r" for mode in calls)
    assert isinstance(ds._open[1][0], np.memmap)
    blob = pickle.dumps(ds)
    data_bytes = 100 * SHOTS * NT * NREC * 4
    assert len(blob) < data_bytes / 10  # the maps were not pickled as arrays
    clone = pickle.loads(blob)
    torch.testing.assert_close(clone[75], expected, rtol=0, atol=0)


def test_dataset_normalises_with_the_right_range(tmp_path):
    root = tmp_path / "FlatVel_A"  # real OpenFWI folders are named after the dataset
    s_all, v_all = write_files(root, [3])
    ds = OpenFWIDataset(root, split="all")
    assert ds.family == "flatvel-a" and ds.data_range == DATA_RANGE["flatvel-a"]
    s, v = ds[1]
    torch.testing.assert_close(s, torch.from_numpy(normalize_seismic(s_all[1].astype(np.float64), "flatvel-a")).float())
    torch.testing.assert_close(v, torch.from_numpy(normalize_velocity(v_all[1].astype(np.float64))).float())
    # a family given explicitly picks its own row of the table
    assert OpenFWIDataset(root, family="style-b", split="all").data_range == DATA_RANGE["style-b"]
    # a generated dataset of an OpenFWI family normalises with the table too (its own range would move
    # as the folder grows and would include the test files)
    meta = {"family": "flatvel-a", "layout": "vel", "n": 3, "samples_per_file": 3,
            "data_min": float(s_all.min()), "data_max": float(s_all.max())}
    (root / METADATA_NAME).write_text(json.dumps(meta))
    assert OpenFWIDataset(root, split="all").data_range == DATA_RANGE["flatvel-a"]
    # ... and of a family OpenFWI does not have, with its own range (metadata)
    meta["family"] = "my-survey"
    (root / METADATA_NAME).write_text(json.dumps(meta))
    ds = OpenFWIDataset(root, split="all", family="my-survey")
    assert ds.data_range == (meta["data_min"], meta["data_max"])
    values = torch.stack([ds[i][0] for i in range(3)])
    assert values.min().item() == pytest.approx(-1.0, abs=1e-6)
    assert values.max().item() == pytest.approx(1.0, abs=1e-6)
    # an explicit range (e.g. the training set's) wins over both
    ds = OpenFWIDataset(root, split="all", data_range=(-10.0, 10.0))
    torch.testing.assert_close(ds[0][0], torch.from_numpy(normalize_seismic(s_all[0].astype(np.float64),
                                                                            data_min=-10.0, data_max=10.0)).float())
    with pytest.raises(ValueError, match="generated as 'my-survey'"):
        OpenFWIDataset(root, family="curvevel-a", split="all")


def test_unknown_range_or_family_raises(tmp_path):
    write_files(tmp_path / "mystery", [2])
    with pytest.raises(ValueError, match="no seismic data range"):
        OpenFWIDataset(tmp_path / "mystery", split="all")
    with pytest.raises(ValueError, match="family is unknown"):
        OpenFWIDataset(tmp_path / "mystery", split="train", normalize=False)
    with pytest.raises(ValueError, match="unknown split"):
        OpenFWIDataset(tmp_path / "mystery", split="val")
    assert len(OpenFWIDataset(tmp_path / "mystery", split="all", normalize=False)) == 2
    # a family OpenFWI does not have cannot choose a split by OpenFWI's file numbers: said so, by name
    with pytest.raises(ValueError, match="'nosuch' is not an OpenFWI family"):
        OpenFWIDataset(tmp_path / "mystery", family="nosuch", normalize=False)
    assert len(OpenFWIDataset(tmp_path / "mystery", family="nosuch", split="all", normalize=False)) == 2


@pytest.mark.parametrize("family, train, test", [("flatvel-a", [47, 48], [49, 60]),
                                                 ("style-a", [48, 49, 120], [121]),
                                                 ("flatfault-b", [60, 96], [97])])
def test_vel_layout_split_by_file_number(tmp_path, family, train, test):
    for index in train + test:
        write_files(tmp_path, [1], first=index)
    tr = OpenFWIDataset(tmp_path, family=family, split="train", normalize=False)
    te = OpenFWIDataset(tmp_path, family=family, split="test", normalize=False)
    assert [p.key[0] for p in tr.pairs] == train
    assert [p.key[0] for p in te.pairs] == test


def test_fault_layout_is_discovered_and_split(tmp_path):
    root = tmp_path / "CurveFault_A"
    root.mkdir()
    written = {}
    for g, k, count in [(2, 0, 2), (2, 31, 1), (3, 0, 1), (2, 32, 2), (4, 35, 1)]:
        s, v = random_pair(count, seed=10 * g + k)
        np.save(root / f"seis{g}_1_{k}.npy", s)
        np.save(root / f"vel{g}_1_{k}.npy", v)
        written[(g, k)] = (s, v)
    pairs = discover_pairs(root)
    assert [s.name for s, _ in pairs] == ["seis2_1_0.npy", "seis2_1_31.npy", "seis2_1_32.npy",
                                          "seis3_1_0.npy", "seis4_1_35.npy"]
    assert all(v.name == s.name.replace("seis", "vel") for s, v in pairs)
    train = OpenFWIDataset(root, split="train", normalize=False)
    test = OpenFWIDataset(root, split="test")
    assert train.family == "curvefault-a" and test.data_range == DATA_RANGE["curvefault-a"]
    assert [p.seismic.name for p in train.pairs] == ["seis2_1_0.npy", "seis2_1_31.npy", "seis3_1_0.npy"]
    assert [p.seismic.name for p in test.pairs] == ["seis2_1_32.npy", "seis4_1_35.npy"]
    assert len(train) == 4 and len(test) == 3
    np.testing.assert_array_equal(train[2][1].numpy(), written[(2, 31)][1][0])
    np.testing.assert_allclose(test[2][0].numpy(), normalize_seismic(written[(4, 35)][0][0].astype(np.float64),
                                                                     "curvefault-a"), rtol=0, atol=1e-6)
    (root / "vel3_1_0.npy").unlink()
    with pytest.raises(ValueError, match=r"seis3_1_0\.npy"):
        discover_pairs(root)


def test_transform_is_applied_last(tmp_path):
    write_files(tmp_path / "flatvel-a", [2])
    ds = OpenFWIDataset(tmp_path / "flatvel-a", split="all", transform=lambda s, v: (s.flip(-1), v * 0))
    plain = OpenFWIDataset(tmp_path / "flatvel-a", split="all")
    torch.testing.assert_close(ds[0][0], plain[0][0].flip(-1))
    assert ds[0][1].abs().max() == 0


def test_incomplete_generated_dataset_names_missing_file(tmp_path):
    write_files(tmp_path, [2, 2])
    meta = {"family": "flatvel-a", "layout": "vel", "n": 6, "samples_per_file": 2, "data_min": -5, "data_max": 5}
    (tmp_path / METADATA_NAME).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"incomplete: data3\.npy missing"):
        OpenFWIDataset(tmp_path, split="all")
