"""Tiny models and data sets for the fit-loop tests (seconds on 2 CPU cores)."""

import pytest
import torch
from torch import nn


def make_regression(n=256, n_in=6, n_out=3, noise=0.05, seed=0):
    """y = x·W + b + noise: a linear map the fit loop must recover (analytic optimum by lstsq).
    W and b are fixed; ``seed`` draws the samples (so seed=1 gives a validation set of the same map)."""
    gm = torch.Generator().manual_seed(1234)
    w = torch.randn(n_in, n_out, generator=gm)
    b = torch.randn(n_out, generator=gm)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, n_in, generator=g)
    y = x @ w + b + noise * torch.randn(n, n_out, generator=g)
    return torch.utils.data.TensorDataset(x, y)


class DropoutMLP(nn.Module):
    """A small MLP with dropout, so the training RNG matters for repeatability and resume."""

    def __init__(self, n_in=6, n_out=3, hidden=16, p=0.2):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_in, hidden), nn.Tanh(), nn.Dropout(p), nn.Linear(hidden, n_out))

    def forward(self, x):
        return self.net(x)


@pytest.fixture
def regression():
    return make_regression


@pytest.fixture
def mlp():
    def build(seed=0, **kw):
        torch.manual_seed(seed)
        return DropoutMLP(**kw)
    return build


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from intra-op threads, and OpenMP threads waiting on a busy
    2-core machine cost milliseconds per op; one thread also keeps runs bitwise comparable."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
