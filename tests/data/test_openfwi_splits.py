"""A chapter's splits from a user's real OpenFWI files: which samples, which normalisation, which errors."""

import numpy as np
import pytest

from fwilab.data.normalize import normalize_seismic, normalize_velocity
from fwilab.data.openfwi import write_pair
from fwilab.data.splits import check_openfwi_files, load_family_splits, openfwi_family_folder
from fwilab.physics.acquisition import OPENFWI

SURVEY = OPENFWI.replace(nt=20, nz=6, nx=8, nbc=4, source_x=(0, 7), receiver_x=tuple(range(8)))


def _pair(n, seed):
    rng = np.random.default_rng(seed)
    return (rng.normal(scale=5.0, size=(n, *SURVEY.seismic_shape)).astype(np.float32),
            rng.integers(1500, 4500, size=(n, *SURVEY.velocity_shape)).astype(np.float32))


@pytest.fixture
def openfwi_root(tmp_path):
    """FlatVel_A as OpenFWI ships it: train files 1, 2 (5 samples each), test file 49 (4 samples)."""
    files = {k: _pair(n, k) for k, n in ((1, 5), (2, 5), (49, 4))}
    for k, (s, v) in files.items():
        write_pair(tmp_path / "FlatVel_A", k, s, v)
    (tmp_path / "CurveVel_A").mkdir()
    return tmp_path, files


def test_train_and_validation_from_the_train_files_test_from_the_test_file(openfwi_root):
    root, files = openfwi_root
    s = load_family_splits("flatvel-a", 6, 3, 2, acquisition=SURVEY, openfwi_dir=root)
    seismic = np.concatenate([files[1][0], files[2][0]])     # the train split, across the file boundary
    velocity = np.concatenate([files[1][1], files[2][1]])
    x, y = s.train.tensors
    np.testing.assert_allclose(x.numpy(), normalize_seismic(seismic[:6], family="flatvel-a"), rtol=1e-6)
    np.testing.assert_allclose(y.numpy(), normalize_velocity(velocity[:6]), rtol=1e-6)
    np.testing.assert_allclose(s.val.tensors[1].numpy(), normalize_velocity(velocity[6:9]), rtol=1e-6)
    np.testing.assert_array_equal(s.test_seismic_raw, files[49][0][:2])      # OpenFWI's own test samples
    np.testing.assert_array_equal(s.test_velocity_ms, files[49][1][:2])
    np.testing.assert_allclose(s.test.tensors[0].numpy(), normalize_seismic(files[49][0][:2], family="flatvel-a"),
                               rtol=1e-6)


def test_the_family_folder_is_found_by_either_name(tmp_path, openfwi_root):
    root, _ = openfwi_root
    assert openfwi_family_folder(root, "flatvel-a") == root / "FlatVel_A"
    assert openfwi_family_folder(root / "FlatVel_A", "flatvel-a") == root / "FlatVel_A"   # the folder itself
    (tmp_path / "ours" / "flatvel-a").mkdir(parents=True)
    assert openfwi_family_folder(tmp_path / "ours", "flatvel-a") == tmp_path / "ours" / "flatvel-a"


def test_bad_folders_and_sizes_fail_naming_the_problem(openfwi_root, tmp_path):
    root, _ = openfwi_root
    with pytest.raises(FileNotFoundError, match=r"no folder for 'style-a'.*found CurveVel_A, FlatVel_A"):
        load_family_splits("style-a", 2, 1, 1, acquisition=SURVEY, openfwi_dir=root)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_family_splits("flatvel-a", 2, 1, 1, acquisition=SURVEY, openfwi_dir=tmp_path / "nowhere")
    with pytest.raises(ValueError, match=r"train split .* holds 10 samples, fewer than n_train \+ n_val = 8 \+ 3"):
        load_family_splits("flatvel-a", 8, 3, 1, acquisition=SURVEY, openfwi_dir=root)
    with pytest.raises(ValueError, match=r"test split .* holds 4 samples, fewer than n_test = 5"):
        load_family_splits("flatvel-a", 2, 1, 5, acquisition=SURVEY, openfwi_dir=root)
    with pytest.raises(ValueError, match=r"needs \(2, 30, 8\).*nt=30.*cpu or full"):
        load_family_splits("flatvel-a", 2, 1, 1, acquisition=SURVEY.replace(nt=30), openfwi_dir=root)


def test_a_fault_family_in_openfwis_fault_layout(tmp_path):
    """FlatFault_A ships as seisG_1_K.npy / velG_1_K.npy: K 0–31 train, 32–35 test."""
    folder = tmp_path / "FlatFault_A"
    folder.mkdir()
    files = {}
    for name, seed in (("2_1_0", 1), ("2_1_32", 2)):
        s, v = _pair(4, seed)
        np.save(folder / f"seis{name}.npy", s)
        np.save(folder / f"vel{name}.npy", v)
        files[name] = (s, v)
    split = load_family_splits("flatfault-a", 3, 1, 2, acquisition=SURVEY, openfwi_dir=tmp_path)
    np.testing.assert_allclose(split.val.tensors[1].numpy(), normalize_velocity(files["2_1_0"][1][3:4]), rtol=1e-6)
    np.testing.assert_array_equal(split.test_velocity_ms, files["2_1_32"][1][:2])


def test_a_chapter_checks_every_familys_files_before_training(openfwi_root, monkeypatch):
    """CurveVel_A is empty: the run stops before FlatVel_A, listed first, trains for hours."""
    from fwilab.experiments import make_config
    from fwilab.experiments.linearity import LinearityConfig

    monkeypatch.setattr(LinearityConfig, "acquisition", property(lambda self: SURVEY))
    root, _ = openfwi_root
    config = make_config("linearity", "cpu", families=["flatvel-a", "curvevel-a"], openfwi_dir=str(root),
                         variant_families=["flatvel-a"], encoder_kernel_families=["flatvel-a"], n_train=2,
                         n_val=1, n_test=1, fwi_samples=1, reference_baselines=False)
    with pytest.raises(ValueError, match=r"CurveVel_A"):
        check_openfwi_files(config, config.families)
    assert make_config("linearity", "cpu", openfwi_dir="").openfwi_dir is None   # an empty path: generated data


def test_data_check_lists_each_dataset_and_flags_what_a_chapter_cannot_read(openfwi_root, capsys):
    from fwilab.cli import main

    root, _ = openfwi_root   # FlatVel_A on a tiny survey (not OpenFWI's), CurveVel_A empty
    assert main(["data", "check", str(root)]) == 1
    out = capsys.readouterr().out
    assert "curvevel-a" in out and "ERROR no OpenFWI files" in out
    assert "flatvel-a     train     10  test      4" in out and "NOT on OpenFWI's survey" in out
    assert main(["data", "check", str(root / "CurveVel_A")]) == 1   # the folder itself is a dataset
    assert main(["data", "check", str(root / "nowhere")]) == 2 and "is not a folder" in capsys.readouterr().err
    from fwilab.data.splits import describe_openfwi_dir

    rows = {r["family"]: r for r in describe_openfwi_dir(root, acquisition=SURVEY)}
    assert rows["flatvel-a"]["survey"] and (rows["flatvel-a"]["train"], rows["flatvel-a"]["test"]) == (10, 4)
