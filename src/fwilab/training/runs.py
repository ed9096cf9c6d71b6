"""One training run as a chapter piece: fit on the train split, select on validation, score the test split.

Every learned-inversion chapter (baselines, InvLINT, SPAMoE) calls :func:`train_and_evaluate`, so
all models are trained by the same loop and scored by the same metrics.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from ..metrics import evaluate
from ..results import recomputing
from .fit import FitConfig, fit
from .hooks import EpochHook
from .steps import TrainStep


@torch.no_grad()
def predict(model: nn.Module, data: Dataset, batch_size: int = 32, device: torch.device | str = "cpu") -> torch.Tensor:
    """Predictions of ``model`` (eval mode) on every sample of ``data``, on the CPU, [n, 1, nz, nx]."""
    model.eval()
    out = []
    for i in range(0, len(data), batch_size):
        x = torch.stack([data[j][0] for j in range(i, min(i + batch_size, len(data)))]).to(device)
        out.append(model(x).float().cpu())
    return torch.cat(out)


def train_and_evaluate(model: nn.Module, train: Dataset, val: Dataset, test: Dataset, *, loss: Callable,
                       config: FitConfig, step: TrainStep | None = None, keep_predictions: int = 4,
                       hooks: Sequence[EpochHook] = (),
                       log: Callable[[str], None] = print) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Fit ``model`` (resuming from ``config.checkpoint_dir`` if it holds a run, unless the piece is
    recomputed on request: :func:`fwilab.results.recomputing`), restore the best
    validation epoch, and evaluate it on ``test``. ``hooks`` go to :func:`~fwilab.training.fit.fit` (a
    hook records per-epoch statistics of the model, e.g. its routing, saved in the checkpoints with the
    weights).

    Returns:
        ``(metrics, arrays)``: test metrics (normalised and m/s: MAE, RMSE, SSIM, PSNR; per-sample
        MAE too), the best epoch, training time and throughput; arrays hold the learning curves
        (``curve_*``) and the first ``keep_predictions`` test predictions (normalised).
    """
    t0 = time.perf_counter()
    # a piece recomputed on request trains afresh: resuming would return weights an earlier run (maybe
    # other code) trained, stamped with this run's commit
    result = fit(model, train, val, loss=loss, config=config, step=step, hooks=hooks,
                 resume=config.checkpoint_dir is not None and not recomputing())
    train_s = time.perf_counter() - t0
    # the run's whole training time: the epochs' wall times persist in the checkpoint across resumptions
    epoch_walls = [w for w in result.curves.get("epoch_wall_s", []) if np.isfinite(w)]
    train_total_s = float(np.sum(epoch_walls)) if epoch_walls else train_s
    if result.best_state is not None:
        model.load_state_dict(result.best_state)
    device = next(model.parameters()).device
    t1 = time.perf_counter()
    pred = predict(model, test, device=device)
    infer_s = (time.perf_counter() - t1) / max(len(test), 1)
    target = torch.stack([test[j][1] for j in range(len(test))]).float()
    scores = evaluate(pred, target)
    per_sample = evaluate(pred, target, reduction="none")
    metrics = {k: float(v) for k, v in scores.items()}
    metrics.update({
        "best_epoch": result.best_epoch, "epochs": result.epochs, "train_s": round(train_total_s, 2),
        "train_s_this_call": round(train_s, 2),
        "inference_s_per_sample": infer_s,
        "samples_per_s": float(np.nanmean(result.curves.get("samples_per_s", [np.nan]))),
    })
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in result.arrays().items()}
    arrays["test_mae_per_sample"] = np.asarray(per_sample["mae"].cpu(), dtype=np.float64)
    if keep_predictions:
        arrays["predictions"] = pred[:keep_predictions].numpy().astype(np.float32)
    log(f"    test MAE {metrics['mae']:.4f} (normalised), best epoch {metrics['best_epoch']}, "
        f"{train_total_s:.0f} s of training")
    return metrics, arrays
