"""The same fit entry point under torchrun: two CPU processes with the gloo backend."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from fwilab.training import FitConfig, fit, mse

_SCRIPT = textwrap.dedent("""
    import hashlib, json, os, sys
    import torch
    from torch import nn
    sys.path.insert(0, {tests!r})
    from conftest import make_regression
    from fwilab.training import AdversarialStep, FitConfig, fit, mse, cleanup

    out = {out!r}
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    result = fit(model, make_regression(n=96), make_regression(n=30, seed=1), mse, FitConfig(**{cfg!r}))
    rank = int(os.environ["RANK"])
    torch.save(model.state_dict(), os.path.join(out, f"rank{{rank}}.pt"))
    with open(os.path.join(out, f"rank{{rank}}.json"), "w") as fh:
        json.dump({{"world_size": result.world_size, "curves": result.curves}}, fh)

    # adversarial training: the critic (with BatchNorm) is kept in step by hand, not by DDP
    torch.manual_seed(1)
    gen = nn.Linear(6, 3)
    critic = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    if rank == 1:  # different initial critic on rank 1: setup must broadcast rank 0's
        torch.nn.init.normal_(critic[0].weight)
    step = AdversarialStep(critic, torch.optim.AdamW(critic.parameters(), lr=1e-3),
                           lambda c, r, f: c(f).mean() - c(r).mean(), lambda c, f: -c(f).mean(), n_critic=2)
    cfg = FitConfig(**{{**{cfg!r}, "checkpoint_dir": None}})
    fit(gen, make_regression(n=96), None, mse, cfg, step=step)
    torch.save({{"gen": gen.state_dict(), "critic": critic.state_dict()}}, os.path.join(out, f"gan{{rank}}.pt"))

    # a mixture that leaves an expert without a gradient (as SPAMoE's unrouted experts): DDP must be told
    class Mixture(nn.Module):
        has_unused_parameters = True

        def __init__(self):
            super().__init__()
            self.experts = nn.ModuleList([nn.Linear(6, 3), nn.Linear(6, 3)])

        def forward(self, x):
            return self.experts[0](x)

    fit(Mixture(), make_regression(n=96), None, mse, cfg)
    cleanup()
""")


@pytest.mark.slow
def test_two_gloo_ranks_stay_in_step_and_match_one_process(tmp_path, regression):
    cfg = FitConfig(epochs=2, batch_size=16, lr=1e-2, schedule="cosine", grad_clip=1.0, device="cpu",
                    progress=False, checkpoint_dir=str(tmp_path / "ckpt"))
    script = tmp_path / "ddp_run.py"
    script.write_text(_SCRIPT.format(tests=str(Path(__file__).parent), out=str(tmp_path), cfg=cfg.to_dict()))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo", "MASTER_ADDR": "127.0.0.1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(script)], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    for k in r0:  # identical parameters on both ranks, bit for bit
        assert torch.equal(r0[k], r1[k]), k
    info = json.loads((tmp_path / "rank0.json").read_text())
    assert info["world_size"] == 2
    assert json.loads((tmp_path / "rank1.json").read_text())["curves"]["train_loss"] == info["curves"]["train_loss"]
    assert (tmp_path / "ckpt" / "last.pt").exists()
    g0, g1 = (torch.load(tmp_path / f"gan{r}.pt") for r in (0, 1))
    for part in ("gen", "critic"):  # critic weights and BatchNorm buffers included
        for k in g0[part]:
            assert torch.equal(g0[part][k], g1[part][k]), (part, k)

    # one process with the same global batch sees the same batches: same weights and losses
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    single = fit(model, regression(n=96), regression(n=30, seed=1), mse, cfg.replace(checkpoint_dir=None))
    for k, v in model.state_dict().items():
        assert torch.allclose(v, r0[k], atol=1e-6), k
    for key in ("train_loss", "val_loss"):
        assert single.curves[key] == pytest.approx(info["curves"][key], rel=1e-5)
