"""The data chapter's computation: the pieces and :func:`run`."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ...benchmarks import forward_benchmark, forward_rows
from ...data.families import generate_velocity
from ...data.normalize import DATA_RANGE
from ...data.real import load_real_velocity
from ...data.stats import compare_statistics, velocity_statistics
from ...physics import forward_model
from ...physics.acquisition import Acquisition
from ...physics.validation import analytic_comparison, deepwave_comparison
from ...progress import bar as progress_bar
from ...results import Artifact, run_piece
from .claims import judge_claims
from .config import CALIBRATION_MAPS, CHAPTER, DataConfig


def _simulate(v: np.ndarray, acq: Acquisition, device: torch.device, batch: int = 8,
              desc: str = "", progress: bool = True) -> np.ndarray:
    out = []
    for i in progress_bar(range(0, len(v), batch), desc=desc, enabled=progress, leave=False):
        vb = torch.as_tensor(v[i:i + batch], device=device)
        with torch.no_grad():
            out.append(forward_model(vb, acq).cpu().numpy())
    return np.concatenate(out)


def _amplitudes(config: DataConfig, device: torch.device) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    acq = config.acquisition
    rows, gallery_v, gallery_s = [], [], []
    sources = [("real", f, load_real_velocity(f, config.n_real)) for f in config.compared_families]
    sources += [("generated", f, generate_velocity(f, max(config.n_generated, 1), seed=config.seed))
                for f in config.families]
    for origin, fam, v in sources:
        seis = _simulate(v, acq, device, desc=f"{origin} {fam}", progress=config.progress)
        theirs = DATA_RANGE.get(fam)
        rows.append({"origin": origin, "family": fam, "n": int(len(v)), "raw_min": float(seis.min()),
                     "raw_max": float(seis.max()),
                     "openfwi_min": theirs[0] if theirs else None, "openfwi_max": theirs[1] if theirs else None})
        if origin == "generated":
            gallery_v.append(v[0, 0])
            gallery_s.append(seis[0, acq.n_shots // 2])
    # the gallery is a picture: every second time sample in float16 keeps the artifact small
    arrays = {"gallery_velocity": np.stack(gallery_v).astype(np.float32),
              "gallery_seismic": np.stack(gallery_s)[:, ::2].astype(np.float16)}
    return rows, arrays


def _statistics(config: DataConfig) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    out, arrays = {}, {}
    for fam in config.compared_families:
        real = load_real_velocity(fam, CALIBRATION_MAPS)
        gen = generate_velocity(fam, config.n_stats, seed=config.seed)
        s_real, s_gen = velocity_statistics(real), velocity_statistics(gen)
        out[fam] = {"distances": compare_statistics(s_real, s_gen), "n_real": int(len(real)), "n_generated": int(len(gen))}
        for origin, s in (("real", s_real), ("generated", s_gen)):
            for key, val in s.items():
                arr = np.asarray(val)
                if arr.dtype.kind in "fiub" and arr.ndim >= 1:
                    arrays[f"stats/{fam}/{origin}/{key}"] = arr
    return out, arrays


def _validation() -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    metrics: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for name, result in (("analytic", analytic_comparison(refine=True)), ("deepwave", deepwave_comparison())):
        metrics[name] = {k: v for k, v in result.items() if np.ndim(v) == 0}
        arrays.update({f"{name}/{k}": np.asarray(v) for k, v in result.items() if np.ndim(v) > 0})
    return metrics, arrays


def _benchmark(config: DataConfig, device: torch.device) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    bench = forward_benchmark(batch_sizes=config.bench_batches, device=str(device), nt=config.bench_nt)
    bench["rows"] = forward_rows(bench)
    return {"benchmark": bench}, {}


def run(config: DataConfig) -> Artifact:
    """Four resumable pieces: solver validation, amplitudes (with the gallery), statistics, benchmark.

    The benchmark is its own piece so that it can be remeasured alone on a quiet machine (delete its
    file under ``pieces/``): timings taken while other work shares the cores are not representative.
    """
    device = config.torch_device
    torch.manual_seed(config.seed)
    metrics: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}

    def amplitudes() -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        rows, gallery = _amplitudes(config, device)
        return {"amplitudes": rows}, gallery

    def statistics() -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        stats, stat_arrays = _statistics(config)
        return {"statistics": stats}, stat_arrays

    for name, compute in (("validation", _validation), ("amplitudes", amplitudes), ("statistics", statistics),
                          ("benchmark", lambda: _benchmark(config, device))):
        m, a = run_piece(config, name, compute)
        m.pop("piece_wall_s", None)
        metrics.update(m)
        arrays.update(a)

    art = Artifact(chapter=CHAPTER, config=config.to_dict(), provenance={}, metrics=metrics, arrays=arrays)
    art.claims = [c.to_dict() for c in judge_claims(config, metrics)]
    return art
