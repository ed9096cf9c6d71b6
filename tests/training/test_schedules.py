import math

import pytest
import torch

from fwilab.training.schedules import LRSchedule


def _torch_lrs(make_scheduler, epochs_at):
    """Rates of a torch scheduler stepped with explicit (fractional) epochs."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = make_scheduler(opt)
    out = []
    for e in epochs_at:
        sched.step(e)
        out.append(opt.param_groups[0]["lr"])
    return out


@pytest.mark.parametrize("T0,T_mult", [(10, 2), (3, 1), (4, 3)])
def test_cosine_warm_restarts_matches_torch(T0, T_mult):
    spe = 7  # steps per epoch
    sched = LRSchedule(0.1, "cosine-warm-restarts", total_epochs=100, T0=T0, T_mult=T_mult, min_lr=1e-3)
    steps = [0, 1, 5, 13, 69, 70, 71, 140, 209, 210, 211, 350, 489, 490, 500, 699]
    ours = [sched.at_step(s, spe) for s in steps]
    with _nowarn():  # torch warns that step(epoch) is deprecated
        theirs = _torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
            o, T_0=T0, T_mult=T_mult, eta_min=1e-3), [s / spe for s in steps])
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)


class _nowarn:
    def __enter__(self):
        import warnings
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


def test_restarts_return_to_peak_at_period_boundaries():
    s = LRSchedule(1.0, "cosine-warm-restarts", T0=10, T_mult=2)
    # periods 10, 20, 40: restarts at epochs 0, 10, 30, 70
    for e in (0, 10, 30, 70):
        assert s.at_epoch(e) == pytest.approx(1.0)
    assert s.at_epoch(5) == pytest.approx(0.5)       # half-way through the first period
    assert s.at_epoch(20) == pytest.approx(0.5)      # half-way through the second (10 + 20/2)
    assert s.at_epoch(29.999) < 1e-6                 # end of the second period


def test_warmup_is_linear_then_hands_over():
    spe = 4
    s = LRSchedule(0.2, "cosine-warm-restarts", warmup_epochs=5, T0=10, T_mult=2)
    warm = 5 * spe
    for k in range(warm):
        assert s.at_step(k, spe) == pytest.approx(0.2 * (k + 1) / warm)
    # after warm-up the clock of the main schedule starts at 0
    for k in (warm, warm + 3, warm + 10 * spe, warm + 17 * spe + 1):
        assert s.at_step(k, spe) == pytest.approx(s.at_epoch((k - warm) / spe))
    assert s.at_step(warm, spe) == pytest.approx(0.2)


def test_cosine_matches_formula_and_torch_at_epoch_ends():
    s = LRSchedule(0.1, "cosine", total_epochs=12, warmup_epochs=2, min_lr=0.01)
    for e in (0, 1, 2.5, 5, 10):
        assert s.at_epoch(e) == pytest.approx(0.01 + 0.09 * (1 + math.cos(math.pi * e / 10)) / 2)
    assert s.at_epoch(50) == pytest.approx(0.01)  # stays at the floor after the run's length
    with _nowarn():
        theirs = _torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.01),
                            list(range(11)))
    assert [s.at_epoch(e) for e in range(11)] == pytest.approx(theirs, rel=1e-9)


def test_constant_and_multistep():
    assert LRSchedule(3e-4).at_step(12345, 10) == 3e-4
    s = LRSchedule(1.0, "multistep", milestones=(3, 6), gamma=0.1)
    spe = 5
    assert s.at_step(3 * spe - 1, spe) == pytest.approx(1.0)
    assert s.at_step(3 * spe, spe) == pytest.approx(0.1)
    assert s.at_step(6 * spe, spe) == pytest.approx(0.01)


@pytest.mark.parametrize("kw,match", [
    (dict(kind="exp"), "unknown schedule"),
    (dict(kind="cosine", total_epochs=5, warmup_epochs=5), "exceed"),
    (dict(kind="cosine-warm-restarts", T0=0), "T0"),
    (dict(kind="cosine-warm-restarts", T_mult=1.5), "T_mult"),
    (dict(min_lr=1.0), "min_lr"),
    (dict(kind="multistep", milestones=(5, 2)), "increasing"),
    (dict(warmup_epochs=-1), "warmup"),
])
def test_bad_schedules_raise(kw, match):
    with pytest.raises(ValueError, match=match):
        LRSchedule(0.1, **kw)
