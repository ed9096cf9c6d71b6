"""Precise BatchNorm statistics (fwilab.training.batchnorm) and their use in the fit loop."""

import pytest
import torch
from torch import nn

from fwilab.training.batchnorm import batchnorm_layers, recalibrate_batchnorm
from fwilab.training.fit import FitConfig, fit


def test_running_statistics_are_the_average_of_the_batches():
    torch.manual_seed(0)
    bn = nn.BatchNorm1d(3)
    net = nn.Sequential(bn)
    batches = [torch.randn(16, 3) * (i + 1) + i for i in range(4)]
    with torch.no_grad():
        bn.running_mean.fill_(123.0)          # stale statistics are replaced, not blended
    assert recalibrate_batchnorm(net, batches) == 4
    means = torch.stack([b.mean(0) for b in batches]).mean(0)
    variances = torch.stack([b.var(0, unbiased=True) for b in batches]).mean(0)
    torch.testing.assert_close(bn.running_mean, means)
    torch.testing.assert_close(bn.running_var, variances)
    assert bn.momentum == 0.1 and net.training   # momentum and mode (train) restored


def test_eval_mode_and_weights_are_kept():
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    net.eval()
    weights = {k: v.clone() for k, v in net.state_dict().items() if "running" not in k and "num_batches" not in k}
    recalibrate_batchnorm(net, [torch.randn(8, 3)])
    assert not net.training
    for k, v in weights.items():
        torch.testing.assert_close(net.state_dict()[k], v)


def test_nothing_changes_without_batchnorm_or_batches():
    net = nn.Sequential(nn.Linear(3, 4))
    assert batchnorm_layers(net) == [] and recalibrate_batchnorm(net, [torch.randn(2, 3)]) == 0
    bn = nn.BatchNorm1d(2)
    bn.running_mean.fill_(5.0)
    assert recalibrate_batchnorm(bn, []) == 0 and bn.running_mean.eq(5.0).all()


def test_fit_validates_with_recalibrated_statistics():
    """At a large learning rate the running averages lag the weights; re-estimated statistics make the
    eval-mode loss on the training data match the train-mode loss (to BatchNorm's batch noise)."""
    def run(k):
        torch.manual_seed(0)
        g = torch.Generator().manual_seed(1)
        x = torch.randn(256, 4, generator=g) * 3 + 2
        y = (x @ torch.randn(4, 1, generator=g)).tanh()
        data = torch.utils.data.TensorDataset(x, y)
        net = nn.Sequential(nn.Linear(4, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 1))
        cfg = FitConfig(epochs=3, batch_size=64, lr=0.05, device="cpu", progress=False, bn_recalibration_batches=k)
        res = fit(net, data, data, loss=nn.functional.l1_loss, config=cfg)
        return res.curves["val_loss"][-1], net

    plain, _ = run(0)
    precise, net = run(4)
    # the recalibrated statistics are those of the final weights on the first 4 training batches
    assert batchnorm_layers(net)[0].momentum == 0.1
    assert precise < plain


def test_bad_count_is_named():
    with pytest.raises(ValueError, match="bn_recalibration_batches must be a non-negative integer"):
        FitConfig(bn_recalibration_batches=-1)
