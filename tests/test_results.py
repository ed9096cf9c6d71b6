"""The artifact store: provenance, atomic writes, run_or_load by config hash."""

import json
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from fwilab import results
from fwilab.config import ExperimentConfig
from fwilab.results import Artifact, load_artifact, run_or_load, save_artifact


@dataclass(frozen=True)
class ToyConfig(ExperimentConfig):
    CHAPTER: ClassVar[str] = "toy"
    n: int = 3


def make_run(calls):
    def run(cfg):
        calls.append(cfg)
        return Artifact(chapter="toy", config={}, provenance={}, metrics={"total": cfg.n * 2},
                        arrays={"curve": np.arange(cfg.n, dtype=np.float32)})
    return run


def test_run_then_load_by_hash(tmp_path):
    calls = []
    cfg = ToyConfig.preset("smoke", results_dir=str(tmp_path))
    a = run_or_load(cfg, make_run(calls), log=lambda s: None)
    b = run_or_load(cfg, make_run(calls), log=lambda s: None)
    assert len(calls) == 1
    assert b.metrics == {"total": 6} and np.array_equal(b.arrays["curve"], np.arange(3))
    for key in ("config_hash", "seed", "git_commit", "git_dirty", "device_name", "torch", "wall_s", "date"):
        assert key in b.provenance
    assert b.provenance["config_hash"] == cfg.config_hash == a.config_hash
    # a changed config is recomputed, and recompute=True forces a run
    run_or_load(ToyConfig.preset("smoke", n=4, results_dir=str(tmp_path)), make_run(calls), log=lambda s: None)
    run_or_load(ToyConfig.preset("smoke", n=4, results_dir=str(tmp_path), recompute=True), make_run(calls), log=lambda s: None)
    assert len(calls) == 3


def test_replacing_an_artifact_says_which_parameters_changed(tmp_path):
    calls, logged = [], []
    run_or_load(ToyConfig.preset("smoke", results_dir=str(tmp_path)), make_run(calls), log=logged.append)
    run_or_load(ToyConfig.preset("smoke", n=4, seed=2, results_dir=str(tmp_path)), make_run(calls), log=logged.append)
    assert any("made with seed=0 (now 2), n=3 (now 4): it is replaced" in line for line in logged), logged


def test_interrupted_write_keeps_previous_artifact(tmp_path, monkeypatch):
    art = Artifact(chapter="toy", config={"profile": "smoke"}, provenance={"config_hash": "x"}, metrics={"v": 1})
    save_artifact(art, tmp_path)

    def boom(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(results.os, "fsync", boom)
    art.metrics = {"v": 2}
    with pytest.raises(KeyboardInterrupt):
        save_artifact(art, tmp_path)
    monkeypatch.undo()
    assert load_artifact(tmp_path, "toy", "smoke").metrics == {"v": 1}
    leftovers = [p for p in (tmp_path / "toy" / "smoke").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_missing_arrays_are_reported(tmp_path):
    art = Artifact(chapter="toy", config={"profile": "smoke"}, provenance={"config_hash": "x"},
                   arrays={"a": np.zeros(2)})
    d = save_artifact(art, tmp_path)
    (d / results.ARRAYS_NPZ).unlink()
    with pytest.raises(ValueError, match="missing"):
        load_artifact(tmp_path, "toy", "smoke")
    with pytest.raises(FileNotFoundError, match="no artifact for chapter 'toy' at profile 'cpu'"):
        load_artifact(tmp_path, "toy", "cpu")


def test_json_is_plain(tmp_path):
    art = Artifact(chapter="toy", config={"profile": "smoke"}, provenance={"config_hash": "x"},
                   metrics={"f": np.float32(1.5), "i": np.int64(2), "nan": float("nan")})
    d = save_artifact(art, tmp_path)
    blob = json.loads((d / results.ARTIFACT_JSON).read_text())
    assert blob["metrics"]["f"] == 1.5 and blob["metrics"]["i"] == 2


def test_pieces_run_once_and_resume(tmp_path):
    from fwilab.results import piece_path, run_piece

    cfg = ToyConfig.preset("smoke", results_dir=str(tmp_path))
    calls = []

    def compute(i):
        def f():
            calls.append(i)
            return {"i": i}, {"a": np.full(3, i)}
        return f
    m, a = run_piece(cfg, "run-0", compute(0), log=lambda s: None)
    m2, a2 = run_piece(cfg, "run-0", compute(0), log=lambda s: None)
    assert calls == [0] and m2["i"] == 0 and np.array_equal(a2["a"], np.zeros(3))
    assert "piece_wall_s" in m2
    # a different config (hash) does not reuse the piece; recompute forces it
    run_piece(ToyConfig.preset("smoke", n=9, results_dir=str(tmp_path)), "run-0", compute(1), log=lambda s: None)
    run_piece(ToyConfig.preset("smoke", results_dir=str(tmp_path), recompute=True), "run-0", compute(2), log=lambda s: None)
    assert calls == [0, 1, 2]
    assert piece_path(cfg, "run-0").parent.name == "pieces"


def test_only_rank_zero_writes(tmp_path, monkeypatch):
    from fwilab.results import piece_path, run_piece

    monkeypatch.setenv("RANK", "1")
    cfg = ToyConfig.preset("smoke", results_dir=str(tmp_path))
    run_or_load(cfg, make_run([]), log=lambda s: None)
    run_piece(cfg, "p", lambda: ({"x": 1}, {}), log=lambda s: None)
    assert not (tmp_path / "toy").exists() and not piece_path(cfg, "p").exists()


def test_provenance_counts_the_pieces_compute_time(tmp_path):
    from fwilab.results import run_piece

    def run(cfg):
        m, _ = run_piece(cfg, "slow-part", lambda: ({"v": 1}, {}), log=lambda s: None)
        assert m["piece_git_commit"] and "piece_device" in m
        return Artifact(chapter="toy", config={}, provenance={}, metrics=m)

    cfg = ToyConfig.preset("smoke", results_dir=str(tmp_path))
    art = run_or_load(cfg, run, log=lambda s: None)
    assert set(art.provenance["pieces_wall_s"]) == {"slow-part"}
    assert art.provenance["compute_wall_s"] == art.provenance["pieces_wall_s"]["slow-part"]


def test_a_resumed_training_piece_counts_its_whole_training_time(tmp_path):
    from fwilab.results import run_piece

    def run(cfg):
        m, _ = run_piece(cfg, "resumed-fit", lambda: ({"train_s": 120.0}, {}), log=lambda s: None)
        return Artifact(chapter="toy", config={}, provenance={}, metrics=m)

    art = run_or_load(ToyConfig.preset("smoke", results_dir=str(tmp_path)), run, log=lambda s: None)
    assert art.provenance["compute_wall_s"] == 120.0


def test_a_time_budget_runs_whole_pieces_and_the_rerun_continues(tmp_path, monkeypatch):
    """Each piece takes 100 s of a fake clock. With 250 s, pieces a and b run (b starts at 100 s: 100 +
    the longest 100 fits) and c does not (200 + 100 > 250); the rerun loads a and b and computes c. Loaded
    pieces' recorded times count for every piece after the run's first."""
    from fwilab.results import BudgetExhausted, piece_budget, run_piece

    now = [0.0]
    monkeypatch.setattr(results, "_clock", lambda: now[0])
    cfg = ToyConfig.preset("smoke", results_dir=str(tmp_path))
    computed = []

    def piece(name, seconds=100.0):
        def compute():
            computed.append(name)
            now[0] += seconds
            return {"name": name}, {}
        return run_piece(cfg, name, compute, log=lambda s: None)

    with pytest.raises(BudgetExhausted, match="before piece c .* computed in this run: a, b"):
        with piece_budget(250):
            for name in "abc":
                piece(name)
    assert computed == ["a", "b"]
    with piece_budget(150):
        for name in "abc":
            piece(name)
    assert computed == ["a", "b", "c"]
    # loaded pieces' recorded times count: with 105 s, d (10 s) is the run's first piece and starts;
    # e would fit by d's 10 s but not by the loaded 100 s (210 + 100 > 305)
    with pytest.raises(BudgetExhausted, match="before piece e .*longest piece took 100 s.* computed in this run: d"):
        with piece_budget(105):
            for name in "abcde":
                piece(name, 10.0 if name == "d" else 100.0)
    assert computed == ["a", "b", "c", "d"]
    with piece_budget(50):  # a budget shorter than any loaded piece still computes the run's first piece
        for name in "abcde":
            piece(name)
    assert computed[-1] == "e"
    for name in "abcdef":  # no budget: no limit
        piece(name)
    assert computed[-1] == "f"
    with pytest.raises(ValueError, match="positive"):
        with piece_budget(0):
            pass
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="single-process"):
        with piece_budget(60):
            pass
    with piece_budget(None):  # no budget: fine under torchrun
        pass


def test_cli_run_reports_a_spent_budget_with_its_own_exit_status(monkeypatch, capsys):
    from fwilab import cli, experiments
    from fwilab.results import BudgetExhausted

    def spent(config, log=print):
        raise BudgetExhausted("time budget spent before piece x")

    monkeypatch.setattr(experiments, "run_chapter", spent)
    assert cli.main(["run", "data", "--profile", "smoke", "--budget-s", "60"]) == cli.EXIT_PARTIAL == 3
    assert "stopped: time budget spent before piece x" in capsys.readouterr().out


def test_outside_git_the_commit_comes_from_the_environment(monkeypatch):
    monkeypatch.setattr(results, "repo_root", lambda: None)
    monkeypatch.delenv(results.GIT_COMMIT_ENV, raising=False)
    monkeypatch.delenv(results.GIT_DIRTY_ENV, raising=False)
    assert results.git_state() == {"commit": "unknown", "dirty": None}
    monkeypatch.setenv(results.GIT_COMMIT_ENV, "abc123")
    monkeypatch.setenv(results.GIT_DIRTY_ENV, "0")
    assert results.git_state() == {"commit": "abc123", "dirty": False}
    monkeypatch.setenv(results.GIT_DIRTY_ENV, "1")
    assert results.git_state()["dirty"] is True


def test_a_stop_between_the_two_files_is_detected_and_recomputed(tmp_path, monkeypatch):
    # arrays.npz is written first: a stop before artifact.json leaves new arrays beside the old JSON
    cfg = ToyConfig.preset("smoke", results_dir=str(tmp_path))
    calls = []
    run_or_load(cfg, make_run(calls), log=lambda s: None)
    real = results.atomic_write_text

    def stop(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(results, "atomic_write_text", stop)
    with pytest.raises(KeyboardInterrupt):
        run_or_load(ToyConfig.preset("smoke", n=5, results_dir=str(tmp_path)), make_run(calls), log=lambda s: None)
    monkeypatch.setattr(results, "atomic_write_text", real)
    with pytest.raises(results.IncompleteArtifact, match="not the arrays file"):
        load_artifact(tmp_path, "toy", "smoke")
    art = run_or_load(cfg, make_run(calls), log=lambda s: None)   # recomputed, not loaded half-old
    assert len(calls) == 3 and art.arrays["curve"].shape == (3,) and "__artifact_pair__" not in art.arrays


def test_a_run_that_overrides_its_preset_lists_its_claims_unjudged(tmp_path):
    """Saved under the preset's profile name, an overridden run's verdict would pass for the preset's:
    its claims keep their numbers and say why they are not judged. The seed is not an override."""
    from fwilab.claims import HOLDS, NOT_JUDGED, Claim, judge, unjudged_for_overrides

    def run(cfg):
        art = Artifact(chapter="toy", config={}, provenance={}, metrics={}, arrays={})
        art.claims = [Claim(id="toy.x", paper="p", statement="s", theirs="1", ours=str(cfg.n), rule="r",
                            verdict=judge(cfg.profile, True), chapter="toy", profile=cfg.profile).to_dict()]
        return art

    preset = run_or_load(ToyConfig.preset("cpu", seed=5, results_dir=str(tmp_path)), run, log=lambda s: None,
                         overridden_claims=unjudged_for_overrides)
    assert preset.claims[0]["verdict"] == HOLDS and preset.claims[0]["rule"] == "r"
    logged = []
    other = run_or_load(ToyConfig.preset("cpu", n=1, results_dir=str(tmp_path)), run, log=logged.append,
                        overridden_claims=unjudged_for_overrides)
    assert other.claims[0]["verdict"] == NOT_JUDGED and other.claims[0]["ours"] == "1"
    assert "n=1 (preset 3)" in other.claims[0]["rule"]
    assert load_artifact(tmp_path, "toy", "cpu").claims == other.claims
    assert any("differs from the cpu preset in n" in line for line in logged)
    assert ToyConfig.preset("cpu", seed=5, device="cpu", recompute=True).preset_overrides() == {}


def test_an_overridden_artifact_saved_with_verdicts_is_unjudged_when_loaded(tmp_path):
    """Artifacts saved before overridden runs were left unjudged: loaded, and in the ledger, they are too."""
    from fwilab.claims import HOLDS, NOT_JUDGED
    from fwilab.experiments import ledger, make_config, run_chapter

    config = make_config("data", "cpu", n_real=8, results_dir=str(tmp_path))
    claim = dict(id="data.x", paper="p", statement="s", theirs="1", ours="2", rule="r", verdict=HOLDS,
                 chapter="data", profile="cpu", setting="")
    save_artifact(Artifact(chapter="data", config=config.to_dict(), provenance={"config_hash": config.config_hash},
                           metrics={}, arrays={}, claims=[claim]), tmp_path)
    stored = load_artifact(tmp_path, "data", "cpu")
    assert ledger([stored])[0]["verdict"] == NOT_JUDGED
    assert run_chapter(config, log=lambda s: None).claims[0]["verdict"] == NOT_JUDGED
    plain = make_config("data", "cpu", results_dir=str(tmp_path))
    stored.config = plain.to_dict()
    assert ledger([stored])[0]["verdict"] == HOLDS
