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
