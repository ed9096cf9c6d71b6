"""Checks of the solver against an analytic solution and an independent code.

Both the test suite (``tests/physics/test_solver.py``) and the data chapter call these, so the page
shows exactly the comparison the tests assert on.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch

from .acquisition import Acquisition, ricker
from .solver import forward_model


def green_2d(r: float, times: np.ndarray, vel: float, f: float, t0: float, n_eta: int = 4000) -> np.ndarray:
    """Analytic response to ``u_tt − v²∇²u = v²·w(t)·δ(x)`` in 2-D, with w a Ricker of peak f at t0.

    The 2-D Green's function of ``u_tt − v²∇²u = δ(t)δ(x)`` is ``G = H(t − r/v)/(2π v² sqrt(t² − r²/v²))``,
    so ``u = (1/2π) ∫_{r/v}^{t} w(t − τ)/sqrt(τ² − r²/v²) dτ = (1/2π) ∫_0^{acosh(vt/r)} w(t − (r/v)cosh η) dη``
    (``τ = (r/v)·cosh η`` removes the integrable singularity at the wavefront).

    Args:
        r: offset [m]; times: [nt] in s; vel: velocity [m/s]; f: peak frequency [Hz]; t0: wavelet centre [s].

    Returns:
        u at ``times``, [nt].
    """
    out = np.zeros_like(times, dtype=np.float64)
    for i, t in enumerate(times):
        if vel * t <= r:
            continue
        eta = np.linspace(0.0, math.acosh(vel * t / r), n_eta)
        beta = (math.pi * f * (t - (r / vel) * np.cosh(eta) - t0)) ** 2
        out[i] = np.trapezoid((1 - 2 * beta) * np.exp(-beta), eta) / (2 * math.pi)
    return out


def analytic_traces(refine: int = 1, offsets: tuple[float, ...] = (100.0, 200.0)) -> dict[str, Any]:
    """The solver in a constant medium against :func:`green_2d`, at ``dx = 10 m/refine``, ``dt = 1 ms/refine``.

    The scheme adds ``(v·dt)²·w[n]`` to one cell, i.e. solves ``p_tt = v²∇²p + v²·w·δ_cell`` with the
    cell's Kronecker delta = ``dx²·δ(x)``: a point source of strength ``v²·dx²·w(t)``. So ``p/dx²``
    converges to :func:`green_2d`'s u. Sample n is the field at ``t = (n + 1)·dt`` (recorded after the
    update that injects ``w[n]``). No absorbing pad: the 800 m box is large enough that the first wall
    reflection reaches the receivers after the 0.28 s window (``(2L − r)/v = 0.3 s`` at r = 200 m).

    Returns:
        dict with ``t`` [nt] (s), ``numerical`` and ``exact`` [offset, nt], and ``errors`` (relative L2 per offset).
    """
    vel, f, half_width, T = 2000.0, 20.0, 400.0, 0.28
    dx, dt = 10.0 / refine, 1e-3 / refine
    n = int(round(2 * half_width / dx)) + 1
    c = n // 2
    acq = Acquisition(nz=n, nx=n, dx=dx, nt=int(round(T / dt)), dt=dt, f=f, source_x=(c,), source_z=c,
                      receiver_x=tuple(c + int(round(r / dx)) for r in offsets), receiver_z=c, nbc=0)
    v = torch.full((1, 1, n, n), vel, dtype=torch.float64)
    p = forward_model(v, acq, path="reference")[0, 0].numpy().T / dx**2  # [offset, nt]
    t0 = (len(ricker(f, dt)) // 2) * dt
    times = (np.arange(acq.nt) + 1) * dt
    exact = np.stack([green_2d(r, times, vel, f, t0) for r in offsets])
    errors = [float(np.linalg.norm(p[k] - exact[k]) / np.linalg.norm(exact[k])) for k in range(len(offsets))]
    return {"t": times, "numerical": p, "exact": exact, "errors": errors, "offsets": np.asarray(offsets)}


def analytic_comparison(refine: bool = True) -> dict[str, Any]:
    """Coarse-grid traces at the farther offset, and the worst error on the coarse and (if ``refine``)
    the refined grid: what the data chapter plots and judges."""
    coarse = analytic_traces(1)
    out = {"t": coarse["t"], "numerical": coarse["numerical"][-1], "exact": coarse["exact"][-1],
           "offset_m": float(coarse["offsets"][-1]), "error_coarse": max(coarse["errors"])}
    if refine:
        out["error_fine"] = max(analytic_traces(2)["errors"])
    return out


def deepwave_comparison(window: int = 300) -> dict[str, Any]:
    """The solver against deepwave (its own code, 4th order, PML) on a layered model.

    deepwave injects ``−v²dt²·a`` for source amplitude a, so ``a = −w`` matches our ``(v·dt)²·w``; it
    records the field *before* the step that injects sample t, so our sample n is its sample n + 1. The
    early ``window`` (0.3 s) ends before the waves have crossed the model and come back from its sides.

    Returns:
        dict with ``t`` [window − 1], one trace each (``fwilab``, ``deepwave``: middle shot, receiver column 10,
        20 cells from the source), ``ncc`` and ``rel`` over all shots and receivers, and ``rel_unshifted``
        (without the one-sample alignment).

    Raises:
        ImportError: deepwave is not installed (it is in the ``test`` extra). The comparison runs on the
            CPU in float64 whatever the chapter's device, so a machine without deepwave (the lent GPU
            image) takes this piece precomputed where deepwave is installed.
    """
    try:
        import deepwave
    except ImportError as err:
        raise ImportError("the solver's validation against deepwave needs deepwave 0.1.0 "
                          "(pip install 'deepwave==0.1.0', or the project's test extra); it runs on the CPU, "
                          "so it can be computed on another machine and its piece carried here") from err

    acq = Acquisition(nz=60, nx=60, dx=10.0, nt=600, dt=1e-3, f=15.0, source_x=(10, 30, 50), source_z=1,
                      receiver_x=tuple(range(60)), receiver_z=1, nbc=60)
    v = torch.full((60, 60), 1800.0, dtype=torch.float64)
    v[15:], v[35:], v[50:] = 2500.0, 3200.0, 4000.0
    ours = forward_model(v[None, None], acq)[0]  # [shot, time, receiver]
    S, R = acq.n_shots, acq.n_receivers
    src = torch.zeros(S, 1, 2, dtype=torch.long)
    src[:, 0, 0], src[:, 0, 1] = acq.source_z, torch.tensor(acq.source_x)
    rec = torch.zeros(S, R, 2, dtype=torch.long)
    rec[:, :, 0], rec[:, :, 1] = acq.receiver_z, torch.arange(R)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = deepwave.scalar(v, acq.dx, acq.dt, source_amplitudes=-acq.wavelet(torch.float64).repeat(S, 1, 1),
                              source_locations=src, receiver_locations=rec, accuracy=4, pml_width=20,
                              pml_freq=acq.f)
    theirs = out.receiver_amplitudes.transpose(1, 2)  # [shot, time, receiver]
    x, y = ours[:, :window - 1], theirs[:, 1:window]
    return {
        "t": (np.arange(1, window) * acq.dt),
        "fwilab": x[1, :, 10].numpy(), "deepwave": y[1, :, 10].numpy(),
        "ncc": float((x * y).sum() / (x.norm() * y.norm())),
        "rel": float((x - y).norm() / y.norm()),
        "rel_unshifted": float((ours[:, :window] - theirs[:, :window]).norm() / y.norm()),
        "step_ratio": int(out.info.step_ratio),
    }
