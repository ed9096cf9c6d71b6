"""The CLI: every notebook action has a command; bad input exits 2 with one clear line."""

import subprocess
import sys

import pytest

from fwilab.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "fwilab", *args], capture_output=True, text=True, timeout=120)


def test_help_lists_commands():
    res = run_cli("--help")
    assert res.returncode == 0
    for cmd in ("run", "reproduce", "data", "bench", "book", "claims"):
        assert cmd in res.stdout


@pytest.mark.parametrize("args, message", [
    (["run", "data", "--profile", "smoke", "--device", "tpu"], "unknown device 'tpu'"),
    (["run", "data", "--profile", "smoke", "--set", "families=atlantis"], "atlantis"),
    (["run", "data", "--profile", "smoke", "--set", "nope=1"], "has no parameter"),
    # a value of the wrong type is named before any work (it was a TypeError inside a comparison)
    (["run", "data", "--profile", "smoke", "--set", "n_real=abc"], "n_real must be an integer, got 'abc'"),
    (["run", "data", "--profile", "smoke", "--set", "n_real=2.5"], "n_real must be an integer, got 2.5"),
    (["run", "baselines", "--profile", "smoke", "--set", "lr=fast"], "lr must be a number, got 'fast'"),
    (["run", "baselines", "--profile", "smoke", "--set", "fwi_frequencies=abc"],
     "fwi_frequencies must be a list of numbers"),
    (["run", "data", "--profile", "smoke", "--set", "progress=maybe"], "progress must be true or false"),
    (["run", "data", "--profile", "smoke", "--set", "profile=full"], "with --profile"),
    (["run", "data", "--profile", "smoke", "--openfwi-dir", "/x"], "--openfwi-dir applies to the chapters"),
    (["run", "baselines", "--profile", "cpu", "--openfwi-dir", "/nowhere/openfwi"], "is not a folder"),
    (["reproduce", "--chapters", "data", "--openfwi-dir", "/x"], "none of which is among ['data']"),
])
def test_bad_input_exits_2_with_message(args, message, capsys, tmp_path):
    assert main([*args, "--results-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_unknown_profile_or_chapter_is_rejected_by_argparse():
    res = run_cli("run", "data", "--profile", "huge")
    assert res.returncode == 2 and "invalid choice: 'huge'" in res.stderr
    res = run_cli("run", "nochapter", "--profile", "smoke")
    assert res.returncode == 2 and "unknown chapter 'nochapter'" in res.stderr
    res = run_cli("run", "--profile", "smoke")
    assert res.returncode == 2 and "name one chapter" in res.stderr


def test_a_missing_gpu_fails_even_when_the_artifact_exists(tmp_path, capsys, monkeypatch):
    import torch

    from fwilab import experiments
    from fwilab.results import Artifact, save_artifact

    config = experiments.make_config("data", "smoke", results_dir=str(tmp_path))
    save_artifact(Artifact(chapter="data", config=config.to_dict(), provenance={"config_hash": config.config_hash},
                           metrics={}, arrays={}, claims=[]), tmp_path)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["run", "data", "--profile", "smoke", "--device", "cuda", "--results-dir", str(tmp_path)]) == 2
    assert "no CUDA GPU is available" in capsys.readouterr().err
    assert main(["run", "data", "--profile", "smoke", "--device", "cpu", "--results-dir", str(tmp_path)]) == 0


def test_claims_on_empty_folder(tmp_path, capsys):
    assert main(["claims", "--results-dir", str(tmp_path)]) == 0
    assert "no claims" in capsys.readouterr().out
    # a mistyped folder is an error, not an empty ledger
    assert main(["claims", "--results-dir", str(tmp_path / "typo")]) == 2
    assert "no results folder" in capsys.readouterr().err


@pytest.mark.slow
def test_data_generate_writes_openfwi_layout_and_resumes(tmp_path):
    import numpy as np

    out = tmp_path / "ds"
    args = ["data", "generate", "--family", "flatvel-a", "--n", "2", "--out", str(out), "--samples-per-file", "1",
            "--quiet", "--device", "cpu"]
    assert main(args) == 0
    seis, model = np.load(out / "data" / "data1.npy"), np.load(out / "model" / "model1.npy")
    assert seis.shape == (1, 5, 1000, 70) and seis.dtype == np.float32
    assert model.shape == (1, 1, 70, 70) and 1500 <= model.min() and model.max() <= 4500
    first = (out / "data" / "data2.npy").read_bytes()
    (out / "data" / "data2.npy").unlink()
    assert main(args) == 0  # resumes: regenerates only the missing file, identically
    assert (out / "data" / "data2.npy").read_bytes() == first
    # extending needs only a larger --n: the file size is the folder's own (it was refused as 500 ≠ 1)
    assert main(["data", "generate", "--family", "flatvel-a", "--n", "3", "--out", str(out), "--quiet",
                 "--device", "cpu"]) == 0
    assert np.load(out / "model" / "model3.npy").shape == (1, 1, 70, 70)
    assert main(["data", "generate", "--family", "curvevel-a", "--n", "2", "--out", str(out), "--quiet"]) == 2


def test_set_overrides_the_common_options_instead_of_clashing(monkeypatch):
    from fwilab import experiments
    from fwilab.results import BudgetExhausted
    seen = {}

    def stop(config, log=print):
        seen.update(seed=config.seed, device=config.device)
        raise BudgetExhausted("stopped before any piece")

    monkeypatch.setattr(experiments, "run_chapter", stop)
    assert main(["run", "data", "--profile", "smoke", "--set", "seed=3", "device=cpu"]) == 3
    assert seen == {"seed": 3, "device": "cpu"}
    # the chapter after --set (which takes every word that follows) is still the chapter
    seen.clear()
    assert main(["run", "--profile", "smoke", "--set", "seed=4", "data"]) == 3
    assert seen == {"seed": 4, "device": "auto"}
