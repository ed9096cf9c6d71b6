import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import fwilab.training.checkpoint as ckpt_mod
from fwilab.training import (AdversarialStep, FitConfig, fit, load_checkpoint, mse, rng_state,
                             save_checkpoint, set_rng_state)

TIMING = ("train_wall_s", "epoch_wall_s", "samples_per_s")


def _config(tmp, **kw):
    base = dict(epochs=3, batch_size=16, lr=1e-2, schedule="cosine", warmup_epochs=1, grad_clip=1.0,
                checkpoint_dir=str(tmp), progress=False, device="cpu", seed=5)
    base.update(kw)
    return FitConfig(**base)


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def _curves(result):
    return {k: v for k, v in result.curves.items() if k not in TIMING}


class _Interrupt:
    def __init__(self, after_epoch):
        self.after_epoch = after_epoch

    def __call__(self, record):
        if record["epoch"] == self.after_epoch:
            raise KeyboardInterrupt


# ----- atomic writes and RNG state ----------------------------------------------------------

def test_crash_mid_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"epoch": 1, "w": torch.arange(5.0)})
    real_save = torch.save

    def crashing_save(obj, f, *a, **kw):
        real_save(obj, f, *a, **kw)
        f.truncate(10)  # a half-written file ...
        raise OSError("disk full")  # ... and the process dies before the rename

    monkeypatch.setattr(ckpt_mod.torch, "save", crashing_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"epoch": 2, "w": torch.zeros(5)})
    monkeypatch.undo()
    state = load_checkpoint(path)
    assert state["epoch"] == 1 and torch.equal(state["w"], torch.arange(5.0))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temp file left behind


def test_rng_state_round_trip():
    state = rng_state()
    first = (random.random(), np.random.rand(), torch.rand(3))
    set_rng_state(state)
    again = (random.random(), np.random.rand(), torch.rand(3))
    assert first[0] == again[0] and first[1] == again[1] and torch.equal(first[2], again[2])


def test_checkpoint_holds_what_resume_needs(tmp_path, regression, mlp):
    fit(mlp(), regression(), regression(n=32, seed=1), mse, _config(tmp_path, epochs=2), meta={"chapter": "x"})
    state = load_checkpoint(tmp_path / "last.pt")  # weights_only=True: no pickled code inside
    for key in ("model", "optimizer", "scaler", "step", "schedule", "rng", "epoch", "global_step", "curves",
                "best_epoch", "best_score", "config", "meta", "provenance"):
        assert key in state
    assert state["epoch"] == 2 and state["global_step"] == 2 * 16
    assert state["config"]["seed"] == 5 and state["meta"] == {"chapter": "x"}
    assert state["provenance"]["device"] == "cpu"
    assert len(state["curves"]["train_loss"]) == 2


# ----- resume exactness ---------------------------------------------------------------------

def test_resume_after_interrupt_matches_uninterrupted_run(tmp_path, regression, mlp):
    data, val = regression(), regression(n=32, seed=1)
    full = mlp()
    ref = fit(full, data, val, mse, _config(tmp_path / "a"))

    part = mlp()
    with pytest.raises(KeyboardInterrupt):
        fit(part, data, val, mse, _config(tmp_path / "b"), callbacks=[_Interrupt(after_epoch=1)])
    assert load_checkpoint(tmp_path / "b" / "last.pt")["epoch"] == 1
    torch.manual_seed(999)  # disturb every generator: resume must restore them
    np.random.seed(999)
    resumed_model = mlp(seed=42)  # different initial weights: resume loads the checkpoint's
    resumed = fit(resumed_model, data, val, mse, _config(tmp_path / "b"), resume=True)
    assert _same_weights(full, resumed_model)
    assert _curves(resumed) == _curves(ref)
    assert resumed.best_epoch == ref.best_epoch
    assert all(torch.equal(resumed.best_state[k], v) for k, v in ref.best_state.items())


def test_resume_without_checkpoint_starts_fresh_and_finished_run_is_a_no_op(tmp_path, regression, mlp):
    data = regression()
    a, b = mlp(), mlp()
    fit(a, data, None, mse, _config(tmp_path / "a"))
    fit(b, data, None, mse, _config(tmp_path / "b"), resume=True)
    assert _same_weights(a, b)
    again = fit(b, data, None, mse, _config(tmp_path / "b"), resume=True)  # already at 3 epochs
    assert _same_weights(a, b) and again.epochs == 3


def test_resume_refuses_a_different_trajectory(tmp_path, regression, mlp):
    fit(mlp(), regression(), None, mse, _config(tmp_path, epochs=2))
    with pytest.raises(ValueError, match="lr"):
        fit(mlp(), regression(), None, mse, _config(tmp_path, lr=0.5), resume=True)


def test_resume_is_exact_for_adversarial_training(tmp_path, regression):
    def run(directory, interrupt=False, resume=False):
        torch.manual_seed(0)
        gen, critic = nn.Linear(6, 3), nn.Sequential(nn.Linear(3, 8), nn.Dropout(0.2), nn.Linear(8, 1))
        step = AdversarialStep(critic, torch.optim.AdamW(critic.parameters(), lr=1e-3),
                               lambda c, r, f: c(f).mean() - c(r).mean(), lambda c, f: -c(f).mean(), n_critic=3)
        cbs = [_Interrupt(1)] if interrupt else []
        fit(gen, regression(n=112), None, mse, _config(directory, batch_size=16), step=step, callbacks=cbs,
            resume=resume)
        return gen, critic

    g_ref, c_ref = run(tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b", interrupt=True)
    g, c = run(tmp_path / "b", resume=True)
    assert _same_weights(g_ref, g) and _same_weights(c_ref, c)


_KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    import torch
    torch.set_num_threads(1)
    sys.path.insert(0, {tests!r})
    from conftest import make_regression, DropoutMLP
    from fwilab.training import FitConfig, fit, mse

    def die(record):
        if record["epoch"] == 1:
            os.kill(os.getpid(), signal.SIGKILL)  # no clean-up, no finally blocks

    torch.manual_seed(0)
    cfg = FitConfig(**{cfg!r})
    fit(DropoutMLP(), make_regression(), make_regression(n=32, seed=1), mse, cfg, callbacks=[die])
""")


@pytest.mark.slow
def test_resume_after_sigkill(tmp_path, regression, mlp):
    cfg = _config(tmp_path / "killed")
    script = tmp_path / "killed_run.py"
    script.write_text(_KILLED_RUN.format(tests=str(Path(__file__).parent), cfg=cfg.to_dict()))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert load_checkpoint(tmp_path / "killed" / "last.pt")["epoch"] == 1

    data, val = regression(), regression(n=32, seed=1)
    full = mlp()
    ref = fit(full, data, val, mse, _config(tmp_path / "full"))
    model = mlp(seed=7)
    resumed = fit(model, data, val, mse, cfg, resume=True)
    assert _same_weights(full, model)
    assert _curves(resumed) == _curves(ref)


# ----- consistency of best.pt and last.pt, fresh runs, recomputed pieces ---------------------

def test_stop_between_last_and_best_writes_keeps_the_best_weights(tmp_path, regression, mlp, monkeypatch):
    # best.pt is written after last.pt: a run stopped between the two resumes from last.pt, whose own
    # epoch is then the best one, and must return those weights (not a stale best.pt's)
    data, val = regression(), regression(n=32, seed=1)
    ref = fit(mlp(), data, val, mse, _config(tmp_path / "a", epochs=2))
    assert ref.best_epoch == 2   # the toy regression improves every epoch
    real_save = ckpt_mod.save_checkpoint

    def save(path, state):
        if Path(path).name == ckpt_mod.BEST and state["epoch"] == 2:
            raise KeyboardInterrupt   # stopped after epoch 2's last.pt, before its best.pt
        return real_save(path, state)

    monkeypatch.setattr(ckpt_mod, "save_checkpoint", save)
    with pytest.raises(KeyboardInterrupt):
        fit(mlp(), data, val, mse, _config(tmp_path / "b", epochs=2))
    monkeypatch.setattr(ckpt_mod, "save_checkpoint", real_save)
    assert load_checkpoint(tmp_path / "b" / "best.pt")["epoch"] == 1
    resumed = fit(mlp(seed=42), data, val, mse, _config(tmp_path / "b", epochs=2), resume=True)
    assert resumed.best_epoch == 2
    assert all(torch.equal(resumed.best_state[k], v) for k, v in ref.best_state.items())


def test_stop_before_last_pt_never_pairs_it_with_a_newer_best_pt(tmp_path, regression, mlp, monkeypatch):
    # a stop while last.pt of epoch 2 is written must leave best.pt at epoch 1 too: a resumed run that
    # has nothing left to train then returns epoch 1's weights as its best (with best.pt written first,
    # it returned epoch 2's weights labelled epoch 1)
    data, val = regression(), regression(n=32, seed=1)
    const = dict(schedule="constant", warmup_epochs=0)
    ref1 = fit(mlp(), data, val, mse, _config(tmp_path / "a", epochs=1, **const))
    real_save = ckpt_mod.save_checkpoint

    def save(path, state):
        if Path(path).name == ckpt_mod.LAST and state["epoch"] == 2:
            raise KeyboardInterrupt
        return real_save(path, state)

    monkeypatch.setattr(ckpt_mod, "save_checkpoint", save)
    with pytest.raises(KeyboardInterrupt):
        fit(mlp(), data, val, mse, _config(tmp_path / "b", epochs=2, **const))
    monkeypatch.setattr(ckpt_mod, "save_checkpoint", real_save)
    resumed = fit(mlp(seed=42), data, val, mse, _config(tmp_path / "b", epochs=1, **const), resume=True)
    assert resumed.best_epoch == 1
    assert all(torch.equal(resumed.best_state[k], v) for k, v in ref1.best_state.items())


def test_lost_best_weights_restart_the_selection_with_a_warning(tmp_path, regression, mlp):
    data, val = regression(), regression(n=32, seed=1)
    worst = dict(epochs=3, select_mode="max")   # the validation loss falls: epoch 1 is "best"
    with pytest.raises(KeyboardInterrupt):
        fit(mlp(), data, val, mse, _config(tmp_path, **worst), callbacks=[_Interrupt(after_epoch=2)])
    assert load_checkpoint(tmp_path / "last.pt")["best_epoch"] == 1
    (tmp_path / "best.pt").unlink()
    with pytest.warns(RuntimeWarning, match="best-validation selection restarts at epoch 3"):
        resumed = fit(mlp(), data, val, mse, _config(tmp_path, **worst), resume=True)
    assert resumed.best_epoch == 3 and resumed.best_state is not None


def test_a_fresh_run_clears_an_earlier_runs_checkpoints(tmp_path, regression, mlp):
    data, val = regression(), regression(n=32, seed=1)
    fit(mlp(), data, val, mse, _config(tmp_path, epochs=3, keep_epoch_checkpoints=True))
    assert (tmp_path / "epoch_0003.pt").exists()
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    with pytest.raises(KeyboardInterrupt):
        fit(mlp(), data, val, mse, _config(tmp_path, epochs=3), callbacks=[_Interrupt(after_epoch=1)])
    assert not (tmp_path / "epoch_0003.pt").exists()
    assert load_checkpoint(tmp_path / "best.pt")["epoch"] == 1
    assert (tmp_path / "notes.txt").exists()


def test_resume_refuses_another_length_under_a_length_dependent_schedule(tmp_path, regression, mlp):
    fit(mlp(), regression(), None, mse, _config(tmp_path / "cos", epochs=2))   # cosine over 2 epochs
    with pytest.raises(ValueError, match="epochs"):
        fit(mlp(), regression(), None, mse, _config(tmp_path / "cos", epochs=4), resume=True)
    # a constant rate does not depend on the length: training on is allowed
    fit(mlp(), regression(), None, mse, _config(tmp_path / "const", epochs=2, schedule="constant", warmup_epochs=0))
    longer = fit(mlp(), regression(), None, mse,
                 _config(tmp_path / "const", epochs=3, schedule="constant", warmup_epochs=0), resume=True)
    assert longer.epochs == 3
    with pytest.raises(ValueError, match="select_by"):
        fit(mlp(), regression(), None, mse, _config(tmp_path / "const", epochs=3, schedule="constant",
                                                   warmup_epochs=0, select_by="train_loss"), resume=True)


def test_a_recomputed_piece_trains_afresh(tmp_path, regression, mlp, monkeypatch):
    # a piece recomputed on request (config.recompute) must not resume the finished checkpoint an
    # earlier run left: its weights would be stamped with this run's commit
    import dataclasses

    from fwilab.config import ExperimentConfig
    from fwilab.results import run_piece
    from fwilab.training import runs
    from fwilab.training.runs import train_and_evaluate

    # the toy regression has no velocity maps to score: only the training matters here
    monkeypatch.setattr(runs, "evaluate", lambda pred, target, reduction="mean": {
        "mae": torch.zeros(len(pred)) if reduction == "none" else torch.tensor(0.0)})
    data, val = regression(), regression(n=32, seed=1)
    cfg = _config(tmp_path / "ckpt", epochs=2)
    loss_calls = []

    def counted(pred, target):
        loss_calls[-1] += 1
        return mse(pred, target)

    def compute():
        loss_calls.append(0)
        metrics, _ = train_and_evaluate(mlp(), data, val, val, loss=counted, config=cfg, keep_predictions=0,
                                        log=lambda s: None)
        return metrics, {}

    exp = ExperimentConfig.preset("smoke", results_dir=str(tmp_path / "r"))
    run_piece(exp, "p", compute, log=lambda s: None)
    # the same piece, missing (deleted) but not recomputed: resumes the finished training, trains nothing
    next((tmp_path / "r").rglob("p-*.npz")).unlink()
    run_piece(exp, "p", compute, log=lambda s: None)
    # recomputed on request: trains its two epochs again
    run_piece(dataclasses.replace(exp, recompute=True), "p", compute, log=lambda s: None)
    assert loss_calls[0] > 0 and loss_calls[1] == 0 and loss_calls[2] == loss_calls[0]


class _EpochLog:
    """An epoch hook that keeps one number per epoch (the training loss)."""

    def __init__(self):
        self.losses: dict[int, float] = {}

    def end_epoch(self, record):
        self.losses[int(record["epoch"])] = record["train_loss"]

    def state_dict(self):
        return {"losses": dict(self.losses)}

    def load_state_dict(self, state):
        self.losses = dict(state["losses"])


def test_epoch_hooks_are_saved_with_their_epoch_and_restored_on_resume(tmp_path, regression, mlp, monkeypatch):
    data, val = regression(), regression(n=32, seed=1)
    whole = _EpochLog()
    fit(mlp(), data, val, mse, _config(tmp_path / "whole"), hooks=[whole])
    # a run stopped right after epoch 1's last.pt is written (before best.pt and the callbacks)
    real_save = ckpt_mod.save_checkpoint

    def stop_after_last(path, state):
        real_save(path, state)
        if Path(path).name == "last.pt" and state["epoch"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(ckpt_mod, "save_checkpoint", stop_after_last)
    with pytest.raises(KeyboardInterrupt):
        fit(mlp(), data, val, mse, _config(tmp_path / "b"), hooks=[_EpochLog()])
    monkeypatch.setattr(ckpt_mod, "save_checkpoint", real_save)
    again = _EpochLog()
    fit(mlp(), data, val, mse, _config(tmp_path / "b"), hooks=[again], resume=True)
    assert sorted(again.losses) == [1, 2, 3]
    assert again.losses == pytest.approx(whole.losses, rel=1e-6)
    # a checkpoint without the hooks' state resumes with a warning
    with pytest.raises(KeyboardInterrupt):
        fit(mlp(), data, val, mse, _config(tmp_path / "c"), callbacks=[_Interrupt(after_epoch=1)])
    with pytest.warns(RuntimeWarning, match="hooks' statistics start at the resumed epoch"):
        fit(mlp(), data, val, mse, _config(tmp_path / "c"), hooks=[_EpochLog()], resume=True)
    with pytest.raises(ValueError, match="EpochHook"):
        fit(mlp(), data, val, mse, _config(tmp_path / "d"), hooks=[lambda record: None])


def test_seed_everything_seeds_every_generator_from_the_seed():
    from fwilab.training.checkpoint import seed_everything

    def draws(seed):
        seed_everything(seed)
        return random.random(), float(np.random.rand()), torch.rand(3)

    a, b, c = draws(1), draws(1), draws(2)
    assert a[:2] == b[:2] and torch.equal(a[2], b[2])
    assert a[0] != c[0] and a[1] != c[1] and not torch.equal(a[2], c[2])   # each generator takes the seed
    with pytest.raises(ValueError, match="seed"):
        seed_everything(-1)
