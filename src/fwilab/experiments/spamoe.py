"""What the two SPAMoE chapters ("Spectral ablations", "Routing statistics") share.

* :func:`target_energy_ratio` and the definition of the bound ``ρ_min`` (below);
* :class:`SPAMoEMonitor`: a loss wrapper plus an epoch callback for the shared fit loop that records,
  while SPAMoE trains, the spectral bound's and the router's statistics from ``model.aux`` — per
  training batch (ρ, hinge, selection frequency, mean gate) and per epoch on the validation split
  (every sample's ρ, gates and top-k choice; the band-to-expert matrix; the experts' preferences).
  It persists them beside the fit checkpoints, so a resumed piece keeps its history;
* :func:`train_spamoe` / :func:`train_inversionnet`: one training run as a chapter piece, through
  :func:`~fwilab.training.runs.train_and_evaluate` (same splits, epochs, batch, learning rate and
  seeds for every model).

The bound
---------
SPAMoE's paper says its encoder keeps ``ρ = E_H/E_L`` (high- over low-band spectral energy of the
encoded maps, :func:`fwilab.layers.spectral.energy_ratio`) above a lower bound, without saying which.
We take the velocity maps the network must produce as the yardstick::

    ρ_min = bound_factor · median_i ρ(v_i)      (v_i: the family's normalised training targets)

Why: the experts map the encoded maps to a velocity map; if the features carry less high-band energy
relative to low-band energy than the targets themselves, the operators must create the missing
detail (the "high-frequency collapse" the paper wants to prevent). Features at least as rich as the
targets (``bound_factor = 1``) do not force that. The ablation varies the factor (0.5, 1, 2).
The median over the training split is computed from the data (OpenFWI-like families: ρ ≈ 0.06–0.09).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import TensorDataset

from ..claims import judge
from ..config import ExperimentConfig
from ..layers.spectral import energy_ratio
from ..models.inversionnet import InversionNet
from ..models.spamoe import SPAMoE, SPAMoEConfig, SPAMoELoss
from ..results import artifact_dir
from ..training.fit import FitConfig
from ..training.losses import l1
from ..training.runs import train_and_evaluate

#: SPAMoE abstract (v3): average MAE −44.4 % vs the best official OpenFWI baseline on ten datasets.
PAPER_MAE_REDUCTION: float = 0.444
#: an expert that takes more than this share of the samples' first choices has collapsed the mixture
#: (the issue's "one expert > 90 % of selections").
COLLAPSE_SHARE: float = 0.9
#: an expert with less than this share of all top-k selections is starved: the mixture has collapsed
#: onto the others (with top-2 of 3 no expert can pass COLLAPSE_SHARE of the selections, and a router
#: that always picks the same pair is a collapse the first-choice test alone misses)
STARVED_SHARE: float = 0.05
#: validation samples the router's diagnostics are measured on (router_diagnostics)
PROBE_SAMPLES: int = 32
#: SPAMoE's training has flattened when its last epoch lowered the validation L1 by at most this fraction
#: (mean over the runs that decide): fixed before the cpu runs. A still-improving SPAMoE is compared with
#: nothing, and its routing is not taken for a trained router's
FLAT_GAIN: float = 0.05


def curve_gain(val_l1) -> float:
    """Relative drop of a validation-L1 curve over its last epoch, ``(v[-2] − v[-1]) / v[-2]`` (NaN for one epoch)."""
    v = np.asarray(val_l1, dtype=np.float64)
    return float((v[-2] - v[-1]) / v[-2]) if len(v) > 1 else float("nan")


def last_epoch_gain(arrays: dict[str, np.ndarray], piece: str) -> float:
    """:func:`curve_gain` of a piece's validation L1 (``<piece>/curve_val_l1`` in ``arrays``)."""
    return curve_gain(arrays[f"{piece}/curve_val_l1"])


def flat_gains(gains) -> tuple[bool, float, int]:
    """``(flat, mean gain, runs)`` of some runs' last-epoch gains: flat when the mean is at most :data:`FLAT_GAIN`."""
    gains = list(gains)
    gain = float(np.mean(gains)) if gains else float("nan")
    return bool(gains) and gain <= FLAT_GAIN, gain, len(gains)


def flattened(arrays: dict[str, np.ndarray], pieces) -> tuple[bool, float, int]:
    """:func:`flat_gains` over the SPAMoE ``pieces`` that recorded curves."""
    return flat_gains(last_epoch_gain(arrays, p) for p in pieces if f"{p}/curve_val_l1" in arrays)


def judge_trained(profile: str, holds: bool, partly: bool, judged: bool) -> str:
    """A verdict of the SPAMoE chapters: :func:`~fwilab.claims.judge` at cpu and full where the networks trained
    (``judged``: the chapter's gate), else "not judged"."""
    return judge(profile, holds, partly) if judged else judge(profile, False, judged_at=())


# --------------------------------------------------------------------------------------------
# data and the bound
# --------------------------------------------------------------------------------------------

def head(data: TensorDataset, n: int) -> TensorDataset:
    """The first ``n`` samples of an in-memory split (a fixed subset: the same for every model)."""
    x, y = data.tensors
    if not 1 <= n <= len(x):
        raise ValueError(f"cannot take {n} samples from a split of {len(x)}")
    return TensorDataset(x[:n].clone(), y[:n].clone())   # copies: the whole split can be freed


def concat(parts: list[TensorDataset]) -> TensorDataset:
    return TensorDataset(*(torch.cat([p.tensors[i] for p in parts]) for i in range(2)))


def target_energy_ratio(data: TensorDataset) -> np.ndarray:
    """``ρ = E_H/E_L`` of each target velocity map of ``data`` (normalised ``[n, 1, nz, nx]``): ``[n]``."""
    return energy_ratio(data.tensors[1].float()).numpy().astype(np.float64)


def rho_min_for(data: TensorDataset, bound_factor: float) -> tuple[float, float]:
    """``(ρ_min, median target ρ)`` for a training split (see the module docstring)."""
    median = float(np.median(target_energy_ratio(data)))
    return bound_factor * median, median


# --------------------------------------------------------------------------------------------
# statistics during training
# --------------------------------------------------------------------------------------------

def router_diagnostics(model: SPAMoE, seismic: torch.Tensor, target: torch.Tensor) -> dict[str, np.ndarray]:
    """Why the router routes as it does, on one probe batch (eval mode; gradients left as found).

    Returns float64 arrays (scalars as shape ``[1]``): ``gate_spread [E]`` — std of each expert's gate
    across the samples; ``logit_spread [E]`` — std of its gate logit across the samples; ``logit_gap`` — std across experts of
    the mean logits (the between-expert spread the biases set, against ``logit_spread``'s within-expert
    one); ``attention_entropy`` — mean over samples of the attention's entropy over positions divided by
    ``log(H·W)`` (1 uniform, 0 one-hot; NaN without attention); ``attention_peak`` — mean largest
    attention weight; ``expert_grad [E]`` — L2 norm of the task loss's (L1) gradient on each expert's
    parameters (0 for an expert no sample selected); ``router_grad`` — on the router's.
    """
    was_training = model.training
    saved = [p.grad for p in model.parameters()]
    model.eval()
    try:
        model.zero_grad(set_to_none=True)
        device = next(model.parameters()).device
        x, y = seismic.to(device), target.to(device)
        latent = model.encode(x)
        with torch.no_grad():
            logits, attention = model.router.gate_parts(latent.float())
        pred = model.mix_experts(latent)
        l1(pred, y.to(pred.dtype)).backward()

        def norm(module: torch.nn.Module) -> float:
            # |g|²: the FNO experts' spectral weights are complex
            g = [p.grad.detach().abs().double().pow(2).sum() for p in module.parameters() if p.grad is not None]
            return float(torch.stack(g).sum().sqrt()) if g else 0.0

        gates = torch.softmax(logits.double(), dim=-1)
        out = {"gate_spread": gates.std(0, unbiased=False), "logit_spread": logits.double().std(0, unbiased=False),
               "logit_gap": logits.double().mean(0).std(unbiased=False)}
        if attention is not None:
            a = attention.double().clamp_min(1e-300)
            out["attention_entropy"] = (-(a * a.log()).sum(-1) / math.log(a.shape[-1])).mean()
            out["attention_peak"] = attention.double().max(-1).values.mean()
        else:
            out["attention_entropy"] = out["attention_peak"] = torch.tensor(float("nan"))
        out["expert_grad"] = torch.tensor([norm(e) for e in model.experts])
        out["router_grad"] = torch.tensor(norm(model.router))
        # at least 1-d: a checkpoint stores each as a tensor and returns a scalar as shape (1,)
        return {k: np.atleast_1d(np.asarray(v.detach().cpu().numpy(), dtype=np.float64)) for k, v in out.items()}
    finally:
        for p, g in zip(model.parameters(), saved):
            p.grad = g
        model.train(was_training)


class SPAMoEMonitor:
    """SPAMoE's released loss plus what the chapters measure while the shared fit loop trains.

    Use it as the fit loop's loss (it is :class:`~fwilab.models.spamoe.SPAMoELoss` with extra
    logged parts) and as one of its ``hooks`` (:class:`~fwilab.training.fit.EpochHook`). Logged
    parts (curves ``train_*`` and ``val_*``): the loss's own (``l1, mse, sobel, fourier,
    bound_penalty, load_balance, rho_mean, bound_active``), ``hinge_active`` (1 when the batch's hinge
    is non-zero: its epoch mean is the fraction of batches where the bound acts), ``selection_<expert>``
    and ``gate_<expert>``.

    Kept per epoch (:meth:`arrays`): ``batch`` — one row per training batch ``[ρ mean, ρ min, hinge
    penalty, hinge active, selection frequency (E), mean gate (E)]``; on the validation split, every
    sample's ``rho [n_val]``, ``gates [n_val, E]``, ``top [n_val, k]``; the router's
    ``band_mixing [E, E]`` and ``preference [E]``. The epochs recorded so far travel in each
    checkpoint with the weights (:meth:`state_dict`), so a resumed run keeps exactly the epochs done.
    """

    def __init__(self, model: SPAMoE, probe: TensorDataset | None = None):
        self.model = model
        self.loss = SPAMoELoss(model)
        self.experts = tuple(model.config.experts)
        self._batches: list[torch.Tensor] = []
        self._val: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self.history: dict[int, dict[str, np.ndarray]] = {}
        # the router's diagnostics (router_diagnostics) on a fixed probe batch, at initialisation (epoch 0)
        # and after every epoch
        self.probe = None if probe is None else tuple(t[:PROBE_SAMPLES] for t in probe.tensors)
        if self.probe is not None and model.config.routing == "learned":
            self.history[0] = {f"diag_{k}": v for k, v in router_diagnostics(model, *self.probe).items()}

    def with_parts(self, pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        total, parts = self.loss.with_parts(pred, target)
        aux = self.model.aux
        hinge = (aux["bound_penalty"].detach() > 0).to(total.dtype)
        parts["hinge_active"] = hinge
        for e, name in enumerate(self.experts):
            parts[f"selection_{name}"] = aux["selection_frequency"][e].to(total.dtype)
            parts[f"gate_{name}"] = aux["mean_gate"][e].to(total.dtype)
        rho = aux["rho"].float()
        if self.model.training:
            self._batches.append(torch.cat([
                torch.stack([rho.mean(), rho.min(), aux["bound_penalty"].detach().float(), hinge.float()]),
                aux["selection_frequency"].float(), aux["mean_gate"].float()]))
        else:
            self._val.append((rho, aux["gates"].float(), aux["top_indices"]))
        return total, parts

    def __call__(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.with_parts(pred, target)[0]

    def end_epoch(self, record: dict) -> None:
        """Fit hook: snapshot this epoch's statistics (saved in the epoch's checkpoint)."""
        epoch = int(record["epoch"])
        e = len(self.experts)
        snap = {"batch": (torch.stack(self._batches).cpu().numpy() if self._batches
                          else np.zeros((0, 4 + 2 * e)))}
        if self._val:
            snap["rho"] = torch.cat([v[0] for v in self._val]).cpu().numpy()
            snap["gates"] = torch.cat([v[1] for v in self._val]).cpu().numpy()
            snap["top"] = torch.cat([v[2] for v in self._val]).cpu().numpy()
        router = self.model.router
        with torch.no_grad():
            snap["band_mixing"] = router.mixing_matrix().float().cpu().numpy()
            # a copy: on the CPU .cpu().numpy() of a float32 parameter is a view of the live weights, and every
            # epoch would record the final value (the routing chapter's preference curves were flat lines)
            snap["preference"] = router.preference.detach().float().cpu().numpy().copy()
        if self.probe is not None and self.model.config.routing == "learned":
            snap.update({f"diag_{k}": v for k, v in router_diagnostics(self.model, *self.probe).items()})
        self.history[epoch] = snap
        self._batches, self._val = [], []

    def state_dict(self) -> dict[str, Any]:
        """The recorded epochs, as tensors (the checkpoint loads with ``weights_only=True``)."""
        return {"history": {ep: {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in snap.items()}
                            for ep, snap in self.history.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take the epochs a checkpoint recorded (a resumed run); this epoch's pending batches are dropped."""
        self.history = {int(ep): {k: v.cpu().numpy() for k, v in snap.items()}
                        for ep, snap in state["history"].items()}
        self._batches, self._val = [], []

    def arrays(self) -> dict[str, np.ndarray]:
        """Per-epoch statistics stacked over the recorded epochs (``monitor_epoch`` lists them)."""
        diag_epochs = sorted(ep for ep, snap in self.history.items() if any(k.startswith("diag_") for k in snap))
        out: dict[str, np.ndarray] = {}
        if diag_epochs:   # epoch 0 (initialisation) included
            out["diag_epoch"] = np.asarray(diag_epochs, dtype=np.int64)
            for key in self.history[diag_epochs[0]]:
                if key.startswith("diag_"):
                    out[key] = np.stack([self.history[ep][key] for ep in diag_epochs])
        epochs = sorted(ep for ep in self.history if ep > 0)
        out["monitor_epoch"] = np.asarray(epochs, dtype=np.int64)
        if not epochs:
            return out
        batch = [self.history[ep]["batch"] for ep in epochs]
        out["trace"] = np.concatenate(batch).astype(np.float64)
        out["trace_epoch"] = np.concatenate([np.full(len(b), ep) for b, ep in zip(batch, epochs)]).astype(np.int64)
        for key in ("rho", "gates", "top", "band_mixing", "preference"):
            if all(key in self.history[ep] for ep in epochs):
                out[f"epoch_{key}"] = np.stack([self.history[ep][key] for ep in epochs])
        return out


@torch.no_grad()
def routing_on(model: SPAMoE, data: TensorDataset, batch_size: int = 32) -> dict[str, np.ndarray]:
    """The trained model's latent ρ ``[n]``, gates ``[n, E]``, top-k experts ``[n, k]`` and the ρ of its
    predicted maps ``pred_rho [n]`` on every sample of ``data``."""
    model.eval()
    device = next(model.parameters()).device
    rho, gates, top, pred_rho = [], [], [], []
    x_all = data.tensors[0]
    for i in range(0, len(x_all), batch_size):
        pred = model(x_all[i:i + batch_size].to(device))
        rho.append(model.aux["rho"].float().cpu())
        gates.append(model.aux["gates"].float().cpu())
        top.append(model.aux["top_indices"].cpu())
        pred_rho.append(energy_ratio(pred.float()).cpu())
    return {"rho": torch.cat(rho).numpy(), "gates": torch.cat(gates).numpy(), "top": torch.cat(top).numpy(),
            "pred_rho": torch.cat(pred_rho).numpy()}


@torch.no_grad()
def prediction_rho(model: torch.nn.Module, data: TensorDataset, batch_size: int = 32) -> np.ndarray:
    """``ρ = E_H/E_L`` of the model's predicted velocity maps on every sample of ``data``: ``[n]``."""
    model.eval()
    device = next(model.parameters()).device
    x_all = data.tensors[0]
    out = [energy_ratio(model(x_all[i:i + batch_size].to(device)).float()).cpu() for i in range(0, len(x_all), batch_size)]
    return torch.cat(out).numpy().astype(np.float64)


def spectrum_kept(pred_rho: np.ndarray, data: TensorDataset) -> dict[str, float]:
    """How much of the targets' high-band energy the predictions keep: ``rho_ratio`` is the median over the
    samples of ``ρ(prediction) / ρ(target)`` (1: the targets' balance; below 1: high frequencies lost, the
    "high-frequency collapse" SPAMoE's bound is meant to prevent), with the medians of both ρ."""
    target = target_energy_ratio(data)
    ratio = np.asarray(pred_rho, dtype=np.float64) / np.maximum(target, np.finfo(np.float64).tiny)
    return {"pred_rho_median": float(np.median(pred_rho)), "target_rho_median": float(np.median(target)),
            "rho_ratio": float(np.median(ratio))}


def matched_width(acquisition, target: float, measure: str = "parameters",
                  widths: tuple[float, ...] = tuple(k / 64 for k in range(1, 65))) -> float:
    """The InversionNet width (of ``widths``) whose parameter count (``measure="parameters"``) or forward
    FLOPs per sample (``"flops"``) is closest to ``target`` on a log scale: the capacity controls of the
    SPAMoE comparison (an InversionNet as large as SPAMoE, one as costly)."""
    from ..metrics import count_flops, count_parameters

    if measure not in ("parameters", "flops"):
        raise ValueError(f"measure must be 'parameters' or 'flops', got {measure!r}")
    if not target > 0:
        raise ValueError(f"target must be > 0, got {target}")
    shape = (acquisition.n_shots, acquisition.nt, acquisition.n_receivers)

    def size(w: float) -> float:
        net = InversionNet(acquisition=acquisition, width=w)
        return float(count_parameters(net) if measure == "parameters" else count_flops(net, shape))

    # both grow monotonically with the width: bisect on the grid, then take the closer neighbour
    lo, hi = 0, len(widths) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if size(widths[mid]) < target else (lo, mid)
    return min((widths[lo], widths[hi]), key=lambda w: abs(math.log(size(w) / target)))


# --------------------------------------------------------------------------------------------
# utilisation statistics
# --------------------------------------------------------------------------------------------

def utilisation(top: np.ndarray, gates: np.ndarray, n_experts: int) -> dict[str, Any]:
    """Expert utilisation of a set of routing decisions.

    Args:
        top: ``[n, k]`` selected experts (first = largest gate); gates: ``[n, E]``.

    Returns ``selection`` (share of all n·k selections per expert), ``first_choice`` (share of the
    samples whose largest gate is each expert), ``mean_gate``, ``entropy`` (of ``first_choice``,
    normalised by ``log E``: 1 = even, 0 = one expert), ``max_first_choice``, ``collapsed``
    (one expert is the first choice of more than :data:`COLLAPSE_SHARE` of the samples; with top-2 of
    3 experts no expert can exceed 50 % of all *selections*, so this is judged on the first choice)
    and ``starved`` (the experts with less than :data:`STARVED_SHARE` of all selections: a collapse
    onto the others).
    """
    top = np.asarray(top).reshape(len(top), -1)
    sel = np.bincount(top.reshape(-1), minlength=n_experts) / max(top.size, 1)
    first = np.bincount(top[:, 0], minlength=n_experts) / max(len(top), 1)
    p = first[first > 0]
    entropy = max(0.0, float(-(p * np.log(p)).sum() / np.log(n_experts))) if n_experts > 1 else 0.0
    return {"selection": sel.tolist(), "first_choice": first.tolist(),
            "mean_gate": np.asarray(gates).mean(axis=0).tolist(), "entropy": entropy,
            "max_first_choice": float(first.max()), "collapsed": bool(first.max() > COLLAPSE_SHARE),
            "starved": [int(e) for e in np.flatnonzero(sel < STARVED_SHARE)] if n_experts > 1 else []}


# --------------------------------------------------------------------------------------------
# one training run as a piece
# --------------------------------------------------------------------------------------------

def checkpoint_root(config: ExperimentConfig) -> Path:
    """Checkpoints live beside the artifact but are not committed (see .gitignore)."""
    return artifact_dir(config.results_dir, config.CHAPTER, config.profile) / "checkpoints" / config.config_hash


def train_spamoe(model_config: SPAMoEConfig, fit_config: FitConfig, train: TensorDataset, val: TensorDataset,
                 test: TensorDataset, checkpoint_dir: Path, *, keep_predictions: int = 2,
                 log: Callable[[str], None] = print) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Train one SPAMoE with its monitor; score the best epoch by validation L1 on ``test`` and record its
    routing."""
    torch.manual_seed(fit_config.seed)
    model = SPAMoE(model_config)
    monitor = SPAMoEMonitor(model, probe=val)
    # the best epoch by validation L1, as InversionNet's (its loss is L1): SPAMoE's val_loss also holds
    # the variant's own auxiliary terms, which would select each ablation by a different criterion
    fit_config = fit_config.replace(checkpoint_dir=str(checkpoint_dir), select_by="val_l1")
    metrics, arrays = train_and_evaluate(model, train, val, test, loss=monitor, config=fit_config,
                                         hooks=(monitor,), keep_predictions=keep_predictions, log=log)
    arrays.update(monitor.arrays())
    routed = routing_on(model, test)
    arrays.update({f"test_{k}": v for k, v in routed.items()})
    metrics.update(spectrum_kept(routed["pred_rho"], test))
    metrics["utilisation"] = utilisation(routed["top"], routed["gates"], model_config.n_experts)
    metrics["test_rho_mean"] = float(np.mean(routed["rho"]))
    metrics["rho_min"] = model_config.rho_min
    metrics["experts"] = list(model_config.experts)
    metrics["parameters"] = sum(p.numel() for p in model.parameters())
    return metrics, arrays


def train_inversionnet(acquisition, width: float, fit_config: FitConfig, train: TensorDataset,
                       val: TensorDataset, test: TensorDataset, checkpoint_dir: Path, *,
                       log: Callable[[str], None] = print) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """InversionNet with L1 (as in the baselines chapter) on the same data, epochs and seed."""
    torch.manual_seed(fit_config.seed)
    model = InversionNet(acquisition=acquisition, width=width)
    metrics, arrays = train_and_evaluate(model, train, val, test, loss=l1,
                                         config=fit_config.replace(checkpoint_dir=str(checkpoint_dir)),
                                         keep_predictions=2, log=log)
    metrics["parameters"] = sum(p.numel() for p in model.parameters())
    arrays["test_pred_rho"] = prediction_rho(model, test)
    metrics.update(spectrum_kept(arrays["test_pred_rho"], test))
    return metrics, arrays


