"""2-D constant-density acoustic forward modelling on the OpenFWI / UPFWI convention.

The scheme (OpenFWI ``dataset_config.json`` and the UPFWI generation code, written out in
``shared/reference/FACTS.md``, "Forward modelling convention"):

* the velocity ``v`` [m/s] is replicate-padded by ``nbc`` cells on all four sides;
* on the pad a damping ``d`` [1/s] absorbs outgoing waves: ``a = (nbc − 1)·dx``,
  ``κ0 = 3·vmin·ln(1e7)/(2a)`` (``vmin`` the model's smallest velocity) and
  ``d(i) = κ0·(i·dx/a)²`` for the pad cell ``i = 0 … nbc − 1`` counted from the model edge
  outwards (zero next to the model, ``κ0`` at the outer edge). As in the original CSIM
  ``AbcCoef2D`` the left/right profiles cover every row (corners included) and the top/bottom
  profiles only the model's columns;
* the update is 2nd order in time and 4th order in space, with ``α = (v·dt/dx)²``, ``k = d·dt``,
  ``c1 = −5/2, c2 = 4/3, c3 = −1/12``::

      p⁺ = (2 + 2·c1·α − k)·p − (1 − k)·p⁻ + α·(c2·Σ(±1 neighbours) + c3·Σ(±2 neighbours))

  cells beyond the padded domain are zero (the stencil sees a Dirichlet edge);
* then the source adds ``(v_s·dt)²·w[n]`` to ``p⁺`` at its cell (``v_s`` the velocity there);
* then the receivers record ``p⁺``. The first recorded sample is therefore the field after the
  first update, which already holds ``w[0]``.

Two implementations of that one scheme:

* ``path="reference"``: a per-step torch loop (:func:`leapfrog_step`), differentiable with autograd,
  any dtype (float32/float64) and device. Autograd keeps about two field-sized tensors per step
  (measured 2.1): memory ≈ ``2 · nt · batch · shots · padded cells · bytes``, i.e. ~4 GB for one
  OpenFWI sample in float32 — fine for FWI on small grids, not for generating data (the fast path
  keeps only two fields).
* ``path="fast"`` (chosen by ``"auto"`` whenever no gradient is needed): on CPU a numba kernel that
  runs the whole time loop of one model at a time (its fields stay in the last-level cache),
  parallel over rows, with the model's shots sharing each coefficient row; on CUDA one fused Triton
  kernel per step (:mod:`fwilab.physics.triton_kernel`: coefficients read once for all of a model's
  shots, injection and recording in the same kernel), falling back to :func:`leapfrog_step` fused by
  ``torch.compile`` and then to the eager step where Triton is missing or fails. The CPU kernel
  evaluates the same floating-point operations in the same order as the reference, so the two agree
  to rounding (in practice bit for bit). A batch runs one model per thread; one model runs its rows
  in parallel (:func:`_for_each_model`).
* ``path="adjoint"`` (CPU; what classic FWI uses there): the numba kernel forward and the exact adjoint
  of the discrete scheme backward (:func:`_adjoint_numba`), as a ``torch.autograd.Function`` on the
  scheme's coefficients. The backward pass recomputes a model's fields and keeps them (~2 GB for an
  OpenFWI sample in float32, one model per thread), so its memory does not grow with the batch; its gradient equals
  autograd's through the reference to rounding (tests: 1e-11 in float64 and ``gradcheck``).
"""

from __future__ import annotations

import math
import threading
import types
import warnings
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .acquisition import OPENFWI, Acquisition
from .scheme import (  # noqa: F401  (re-exported: the solver's API)
    C1, C2, C3, DAMPING_LOG_R, FLOAT_DTYPES, FLUSH_BELOW, HALO, SLOWEST_PLAUSIBLE_MAX, _flat_indices,
    _padded_geometry, _source_scaling, alpha_beta, damping_kappa0, damping_profile, damping_shape, flush_negligible,
    leapfrog_step, pad_velocity, scheme_coefficients, validate_velocity)

try:  # numba is a core dependency; the guard only keeps the reference path importable without it
    import numba
except ImportError:  # pragma: no cover
    numba = None

PATHS = ("auto", "reference", "fast", "adjoint")


def _propagate_torch(coef: dict[str, torch.Tensor], wavelet: torch.Tensor, acquisition: Acquisition,
                     step: Callable = leapfrog_step, progress: bool = False) -> torch.Tensor:
    """Time loop over ``step``; returns seismic [batch, shot, time, receiver]."""
    from ..progress import bar as progress_bar

    b = coef["alpha"].shape[0]
    S, R = acquisition.n_shots, acquisition.n_receivers
    NZ, NX = acquisition.padded_shape
    device = coef["alpha"].device
    src_index, rec_index = _flat_indices(acquisition, device)
    beta_src = _source_scaling(coef["beta"], acquisition)  # [batch, shot]
    p = coef["alpha"].new_zeros((b, S, NZ, NX))
    p_old = torch.zeros_like(p)
    records = []
    for n in progress_bar(range(acquisition.nt), enabled=progress, desc="forward (reference)", leave=False):
        p_new, rec = step(p, p_old, coef["temp1"], coef["temp2"], coef["alpha"],
                          src_index, beta_src * wavelet[n], rec_index)
        records.append(rec)
        p_old, p = p, p_new
    return torch.stack(records, dim=1).reshape(b, acquisition.nt, S, R).transpose(1, 2).contiguous()


# --------------------------------------------------------------------------------------------
# fast CPU path: numba kernel for the whole time loop
# --------------------------------------------------------------------------------------------

def _serial_build(kernel):
    """The same kernel compiled serially and without the GIL (one Python thread per model runs its whole
    time loop with no barrier between steps; see :func:`_for_each_model`), cached under its own name.

    numba keys its on-disk cache by the function's name, line and bytecode, not by compile options
    (numba issue #6845): a serial build of the parallel kernel's own function would load whichever
    build a process cached first, e.g. the one-thread code for a single model (half the speed on 2
    cores, measured). A renamed copy of the function gets a cache file of its own.
    """
    f = kernel.py_func
    copy = types.FunctionType(f.__code__, f.__globals__, f.__name__ + "_serial", f.__defaults__, f.__closure__)
    copy.__qualname__ = f.__qualname__ + "_serial"
    copy.__doc__ = f.__doc__
    return numba.njit(nogil=True, cache=True, fastmath=False)(copy)


if numba is not None:
    @numba.njit(inline="always", cache=True, fastmath=False)
    def _ring(q, ii, lo, m):  # pragma: no cover - compiled
        """Row views of the 8 off-centre stencil neighbours of row ``ii`` of a field with a 2-cell halo,
        columns lo … lo+m−1: (up1, down1, left1, right1, up2, down2, left2, right2). 1-D views indexed
        by a plain loop counter from 0 have no wrap-around checks, so LLVM vectorises the column loop
        (indexing from a variable start instead is ~4× slower, measured)."""
        c = lo + 2
        return (q[ii - 1, c:c + m], q[ii + 1, c:c + m], q[ii, c - 1:c - 1 + m], q[ii, c + 1:c + 1 + m],
                q[ii - 2, c:c + m], q[ii + 2, c:c + m], q[ii, c - 2:c - 2 + m], q[ii, c + 2:c + 2 + m])

    @numba.njit(inline="always", cache=True, fastmath=False)
    def _offcentre(ring, j, c2, c3):  # pragma: no cover - compiled
        """``c2·Σ(±1) + c3·Σ(±2)`` at column j, in :func:`leapfrog_step`'s association
        (((up + down) + left) + right)."""
        up1, dn1, l1, r1, up2, dn2, l2, r2 = ring
        return c2 * (up1[j] + dn1[j] + l1[j] + r1[j]) + c3 * (up2[j] + dn2[j] + l2[j] + r2[j])

    @numba.njit(inline="always", cache=True, fastmath=False)
    def _flush(x, tiny):  # pragma: no cover - compiled
        """``x``, or +0 where ``|x|`` is below ``tiny`` (:data:`~fwilab.physics.scheme.FLUSH_BELOW`; NaN is
        kept): see :func:`flush_negligible`. A select, so the column loop stays vectorised."""
        return x if not abs(x) < tiny else x - x   # +0 (x * 0 would keep the sign)

    @numba.njit(inline="always", cache=True, fastmath=False)
    def _reach(active, cur, old, b, s, i, nz, nx):  # pragma: no cover - compiled
        """Columns of row i that step n+1 can make nonzero: those of row i at step n−1 and, widened by the
        stencil's 2 cells, those of rows i−2 … i+2 at step n (an empty range: first > last)."""
        lo = active[old, b, s, i, 0]
        hi = active[old, b, s, i, 1]
        for k in range(max(0, i - 2), min(nz, i + 3)):
            if active[cur, b, s, k, 0] <= active[cur, b, s, k, 1]:   # an empty row reaches nothing
                lo = min(lo, active[cur, b, s, k, 0] - 2)
                hi = max(hi, active[cur, b, s, k, 1] + 2)
        return max(0, lo), min(nx - 1, hi)

    @numba.njit(inline="always", cache=True, fastmath=False)
    def _support(row, lo, hi):  # pragma: no cover - compiled
        """First and last nonzero column of ``row`` within lo … hi (nx, −1 when there is none)."""
        while lo <= hi and row[lo] == 0:
            lo += 1
        while hi >= lo and row[hi] == 0:
            hi -= 1
        return (lo, hi) if lo <= hi else (row.shape[0], -1)

    @numba.njit(parallel=True, cache=True, fastmath=False)
    def _propagate_numba(fields, active, temp1, temp2, alpha, beta_src, src_z, src_x, rec_z, rec_x,
                         wavelet, seis, n0, n1, c2, c3, tiny):  # pragma: no cover - compiled
        """Steps n0 … n1−1 of the scheme, in place.

        fields: [2, batch, shot, NZ+4, NX+4] with a 2-cell zero halo; slot ``n % 2`` holds step n,
        the other slot step n−1 and receives step n+1. active: [2, batch, shot, NZ, 2] int64, for each
        slot's row the first and last column that may be nonzero (first > last: all zero; start with
        NX and −1); the kernel keeps it. temp1/temp2/alpha: [batch, NZ, NX]; beta_src: [batch, shot];
        seis: [batch, shot, nt, receiver]; tiny: :data:`~fwilab.physics.scheme.FLUSH_BELOW` in the dtype.

        Same operations in the same order as :func:`leapfrog_step` (negligible results flushed to zero as
        there), so results match the torch reference bit for bit. A cell whose stencil holds only zeros
        stays +0 (``leapfrog_step`` computes ±0 there and its flush makes it +0), so each row is computed
        only over the columns a nonzero value can reach (:func:`_reach`): ahead of the wavefront,
        where flushing leaves exact zeros, nothing is done. On OpenFWI's survey that skips about a third
        of the cell updates.
        """
        nb = fields.shape[1]
        ns = fields.shape[2]
        nz = temp1.shape[1]
        nx = temp1.shape[2]
        nr = rec_x.shape[0]
        # shot-major: a shot's two fields and the coefficients (~1.9 MB for OpenFWI) stay in a core's L2
        # cache over its whole time loop; the shots are independent
        for s in range(ns):
            for n in range(n0, n1):
                cur = n % 2
                old = 1 - cur
                for bi in numba.prange(nb * nz):
                    b = bi // nz
                    i = bi % nz
                    lo, hi = _reach(active, cur, old, b, s, i, nz, nx)
                    if lo > hi:
                        continue   # row i and its neighbours are zero: step n+1 is zero there too
                    m = hi - lo + 1
                    ii = i + 2
                    c = fields[cur, b, s]
                    ring = _ring(c, ii, lo, m)
                    p0 = c[ii, lo + 2:lo + 2 + m]
                    po = fields[old, b, s, ii, lo + 2:lo + 2 + m]
                    a1, a2, a3 = temp1[b, i, lo:lo + m], temp2[b, i, lo:lo + m], alpha[b, i, lo:lo + m]
                    for j in range(m):
                        po[j] = _flush(a1[j] * p0[j] - a2[j] * po[j] + a3[j] * _offcentre(ring, j, c2, c3), tiny)
                    active[old, b, s, i, 0], active[old, b, s, i, 1] = _support(
                        fields[old, b, s, ii, 2:nx + 2], lo, hi)
                w = wavelet[n]
                for b in range(nb):
                    fields[old, b, s, src_z + 2, src_x[s] + 2] += beta_src[b, s] * w
                    active[old, b, s, src_z, 0] = min(active[old, b, s, src_z, 0], src_x[s])
                    active[old, b, s, src_z, 1] = max(active[old, b, s, src_z, 1], src_x[s])
                    for r in range(nr):
                        seis[b, s, n, r] = fields[old, b, s, rec_z + 2, rec_x[r] + 2]

    _propagate_numba_serial = _serial_build(_propagate_numba)
else:  # pragma: no cover
    _propagate_numba = _propagate_numba_serial = None

def empty_support(batch: int, shots: int, nz: int, nx: int) -> np.ndarray:
    """The ``active`` column ranges of :func:`_propagate_numba` for all-zero fields: [2, batch, shot, nz, 2]."""
    active = np.empty((2, batch, shots, nz, 2), dtype=np.int64)
    active[..., 0], active[..., 1] = nx, -1
    return active


#: smallest batch that the CPU fast path spreads over threads one model each (below it: rows of one model)
MODEL_PARALLEL_MIN_BATCH = 2
#: time steps per numba call when a progress bar is shown
_PROGRESS_CHUNK = 50


def _propagate_cpu_fast(coef: dict[str, torch.Tensor], wavelet: torch.Tensor, acquisition: Acquisition,
                        progress: bool = False, beta_src: torch.Tensor | None = None) -> torch.Tensor:
    """The numba kernel over the batch (:func:`_for_each_model`). ``beta_src`` [batch, shot] overrides
    the source scaling taken from ``coef["beta"]``."""
    from ..progress import bar as progress_bar

    if _propagate_numba is None:  # pragma: no cover
        raise ValueError("the fast CPU path needs numba; install it or use path='reference'")
    np_dtype = np.float32 if coef["alpha"].dtype == torch.float32 else np.float64
    b = coef["alpha"].shape[0]
    S, R, nt = acquisition.n_shots, acquisition.n_receivers, acquisition.nt
    NZ, NX = acquisition.padded_shape

    def arr(t: torch.Tensor) -> np.ndarray:
        return np.ascontiguousarray(t.detach().reshape(b, NZ, NX).cpu().numpy())

    temp1, temp2, alpha = arr(coef["temp1"]), arr(coef["temp2"]), arr(coef["alpha"])
    sz, sx, rz, rx = _padded_geometry(acquisition)
    if beta_src is None:
        beta_src = _source_scaling(coef["beta"], acquisition)  # [batch, shot]
    beta_src = np.ascontiguousarray(beta_src.detach().cpu().numpy())
    w = np.ascontiguousarray(wavelet.detach().cpu().numpy())
    seis = np.zeros((b, S, nt, R), dtype=np_dtype)
    c2, c3, tiny = np_dtype(C2), np_dtype(C3), np_dtype(FLUSH_BELOW)
    chunk = _PROGRESS_CHUNK if progress else nt
    # a model's whole time loop at once: its shots' fields and coefficients (~5 MB for OpenFWI) stay in
    # the last-level cache (2.6 vs 1.2 G cell-updates/s at batch 16 on 2 cores against step-major order)
    def run_model(m: int, serial: bool) -> None:
        kernel = _propagate_numba_serial if serial else _propagate_numba
        fields = np.zeros((2, 1, S, NZ + 2 * HALO, NX + 2 * HALO), dtype=np_dtype)
        active = empty_support(1, S, NZ, NX)
        one = slice(m, m + 1)
        for n0 in range(0, nt, chunk):
            n1 = min(nt, n0 + chunk)
            kernel(fields, active, temp1[one], temp2[one], alpha[one], beta_src[one], sz, sx, rz, rx, w,
                   seis[one], n0, n1, c2, c3, tiny)
            bar.update(n1 - n0)

    with progress_bar(total=nt * b, enabled=progress, desc="forward (fast, CPU)", leave=False) as bar:
        _for_each_model(b, run_model)
    return torch.from_numpy(seis)


def _for_each_model(batch: int, run_model: Callable[[int, bool], None], max_workers: int | None = None) -> None:
    """Call ``run_model(m, serial)`` for every model of the batch, with at most ``max_workers`` threads
    (default: numba's thread count).

    A batch runs one model per thread with the serial kernels (``serial=True``: no barrier between
    time steps); a single model runs its rows in parallel. Row parallelism synchronises the threads at
    every time step, which collapses (3× slower measured with two processes on 2 cores, worse with
    more) when other processes compete for the cores; model parallelism does not. Both evaluate the
    same operations per cell, so the results are identical.
    """
    threads = numba.get_num_threads() if max_workers is None else min(max_workers, numba.get_num_threads())
    if batch >= MODEL_PARALLEL_MIN_BATCH and threads >= 2:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(threads, batch)) as pool:
            for future in [pool.submit(run_model, m, True) for m in range(batch)]:
                future.result()
    else:
        for m in range(batch):
            run_model(m, False)


# --------------------------------------------------------------------------------------------
# CPU gradient path: numba forward + hand-written adjoint of the discrete scheme
# --------------------------------------------------------------------------------------------

if numba is not None:
    @numba.njit(parallel=True, cache=True, fastmath=False)
    def _adjoint_numba(store, lam, mu, temp1, temp2, alpha, src_z, src_x, rec_z, rec_x, wavelet, grad_seis,
                       g_temp1, g_temp2, g_alpha, g_beta, c2, c3):  # pragma: no cover - compiled
        """Backward time loop of one model: the exact adjoint of :func:`_propagate_numba`.

        The forward step is ``u⁺ = T1·u − T2·u⁻ + A·L(u) + e_s·β·w[n]`` and ``rec[n] = R·u⁺``, with
        ``L`` the off-centre stencil ``c2·Σ(±1) + c3·Σ(±2)`` (symmetric: zero beyond the domain).
        With ``λᵐ = ∂J/∂uᵐ``, going back from ``m = nt`` to 1::

            λᵐ = T1·λᵐ⁺¹ − T2·λᵐ⁺² + L(A·λᵐ⁺¹) + Rᵀ·g[m−1]

        and, for the step ``n = m − 1`` that produced ``uᵐ``: ``∂J/∂T1 += λᵐ·uⁿ``,
        ``∂J/∂T2 −= λᵐ·uⁿ⁻¹``, ``∂J/∂A += λᵐ·L(uⁿ)``, ``∂J/∂β_s += λᵐ[source]·w[n]``.

        store: [nt, shot, NZ+4, NX+4] the fields u⁰ … u^(nt−1) with a zero 2-cell halo;
        lam: [2, shot, NZ+4, NX+4] and mu: [shot, NZ+4, NX+4] zeroed work arrays (halo stays zero);
        temp1/temp2/alpha: [NZ, NX]; grad_seis: [shot, nt, receiver]; outputs g_temp1/g_temp2/g_alpha
        [NZ, NX] and g_beta [shot], accumulated in place.
        """
        nt = store.shape[0]
        ns = store.shape[1]
        nz = temp1.shape[0]
        nx = temp1.shape[1]
        nr = rec_x.shape[0]
        for m in range(nt, 0, -1):
            nxt = (m + 1) % 2      # holds λ^(m+1)
            new = m % 2            # holds λ^(m+2), receives λ^m
            for si in numba.prange(ns * nz):
                s = si // nz
                i = si % nz
                lm = lam[nxt, s, i + 2, 2:nx + 2]
                row = mu[s, i + 2, 2:nx + 2]
                al = alpha[i]
                for j in range(nx):
                    row[j] = al[j] * lm[j]
            for i in numba.prange(nz):
                ii = i + 2
                t1 = temp1[i]
                t2 = temp2[i]
                gt1 = g_temp1[i]
                gt2 = g_temp2[i]
                ga = g_alpha[i]
                for s in range(ns):
                    ring = _ring(mu[s], ii, 0, nx)
                    l_next = lam[nxt, s, ii, 2:nx + 2]
                    l_new = lam[new, s, ii, 2:nx + 2]
                    for j in range(nx):
                        l_new[j] = t1[j] * l_next[j] - t2[j] * l_new[j] + _offcentre(ring, j, c2, c3)
                    if i == rec_z:
                        for r in range(nr):
                            l_new[rec_x[r] - 2] += grad_seis[s, m - 1, r]
                    u = store[m - 1, s]
                    u0 = u[ii, 2:nx + 2]
                    ring = _ring(u, ii, 0, nx)
                    for j in range(nx):
                        lv = l_new[j]
                        gt1[j] += lv * u0[j]
                        ga[j] += lv * _offcentre(ring, j, c2, c3)
                    if m >= 2:
                        um = store[m - 2, s, ii, 2:nx + 2]
                        for j in range(nx):
                            gt2[j] -= l_new[j] * um[j]
            for s in range(ns):
                g_beta[s] += lam[new, s, src_z, src_x[s]] * wavelet[m - 1]
    _adjoint_numba_serial = _serial_build(_adjoint_numba)
else:  # pragma: no cover
    _adjoint_numba = _adjoint_numba_serial = None


def _available_memory_bytes() -> int:
    """Memory the OS reports available now (Linux ``MemAvailable``); elsewhere a generous 8 GiB."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return 8 << 30  # pragma: no cover


class _NumbaAdjointPropagate(torch.autograd.Function):
    """seismic = propagate(temp1, temp2, alpha, beta_src) on the CPU, with the adjoint-state gradient.

    The forward pass keeps nothing but the coefficients; the backward pass reruns each model's forward
    loop storing its fields (``nt · shots · padded cells`` values, ~2 GB for an OpenFWI sample in
    float32) and then runs :func:`_adjoint_numba`, one model per thread (:func:`_for_each_model`), so
    memory grows with the thread count, not the batch. The gradients w.r.t. the coefficients flow on to
    ``v`` through torch autograd.
    """

    @staticmethod
    def forward(ctx, temp1, temp2, alpha, beta_src, wavelet, acquisition):
        ctx.acquisition = acquisition
        ctx.save_for_backward(temp1, temp2, alpha, beta_src, wavelet)
        coef = {"temp1": temp1, "temp2": temp2, "alpha": alpha}
        return _propagate_cpu_fast(coef, wavelet, acquisition, beta_src=beta_src)

    @staticmethod
    def backward(ctx, grad_seis):
        temp1, temp2, alpha, beta_src, wavelet = ctx.saved_tensors
        acq = ctx.acquisition
        b = temp1.shape[0]
        S, nt = acq.n_shots, acq.nt
        NZ, NX = acq.padded_shape
        np_dtype = np.float32 if temp1.dtype == torch.float32 else np.float64
        sz, sx, rz, rx = _padded_geometry(acq)
        t1, t2, al = (t.detach().reshape(b, NZ, NX).numpy() for t in (temp1, temp2, alpha))
        bs = np.ascontiguousarray(beta_src.detach().numpy())
        w = np.ascontiguousarray(wavelet.detach().numpy())
        g = np.ascontiguousarray(grad_seis.detach().to(temp1.dtype).numpy())
        c2, c3, tiny = np_dtype(C2), np_dtype(C3), np_dtype(FLUSH_BELOW)
        grads = [np.zeros((b, NZ, NX), dtype=np_dtype) for _ in range(3)]
        g_beta = np.zeros((b, S), dtype=np_dtype)
        halo = (NZ + 2 * HALO, NX + 2 * HALO)

        def run_model(m: int, serial: bool) -> None:
            forward = _propagate_numba_serial if serial else _propagate_numba
            adjoint = _adjoint_numba_serial if serial else _adjoint_numba
            store = np.zeros((nt, S) + halo, dtype=np_dtype)  # store[0] = u⁰ = 0
            fields = np.zeros((2, 1, S) + halo, dtype=np_dtype)
            active = empty_support(1, S, NZ, NX)
            scratch = np.zeros((1, S, nt, acq.n_receivers), dtype=np_dtype)
            one = slice(m, m + 1)
            a1, a2, aa = (np.ascontiguousarray(x[one]) for x in (t1, t2, al))
            for n in range(nt - 1):  # step n writes u^(n+1) into slot (n+1) % 2
                forward(fields, active, a1, a2, aa, bs[one], sz, sx, rz, rx, w, scratch, n, n + 1, c2, c3, tiny)
                store[n + 1] = fields[(n + 1) % 2, 0]
            del fields
            lam = np.zeros((2, S) + halo, dtype=np_dtype)
            mu = np.zeros((S,) + halo, dtype=np_dtype)
            # the kernel indexes receiver/source columns in halo coordinates (+2) and rows without halo
            adjoint(store, lam, mu, a1[0], a2[0], aa[0], sz + 2, sx + 2, rz, rx + 2, w, g[m],
                    grads[0][m], grads[1][m], grads[2][m], g_beta[m], c2, c3)

        # one stored wavefield per concurrent model: use at most half of the memory available now
        per_model = nt * S * halo[0] * halo[1] * np.dtype(np_dtype).itemsize
        _for_each_model(b, run_model, max_workers=max(1, int(0.5 * _available_memory_bytes() // per_model)))
        shape = temp1.shape
        out = [torch.from_numpy(x).reshape(shape) for x in grads]
        return out[0], out[1], out[2], torch.from_numpy(g_beta), None, None


# --------------------------------------------------------------------------------------------
# fast CUDA path: the fused Triton kernel, else leapfrog_step fused by torch.compile
# --------------------------------------------------------------------------------------------

#: implementations of the CUDA fast path, fastest first: the fused Triton kernel (triton_kernel.py),
#: torch.compile of leapfrog_step, the eager step
CUDA_IMPLS = ("triton", "compile", "eager")

_compiled_steps: dict[str, Callable] = {}
_compile_lock = threading.Lock()
_failed_impls: set[str] = set()


def compiled_step(device_type: str) -> Callable:
    """:func:`leapfrog_step` compiled with ``torch.compile`` (one fused kernel for the stencil update),
    cached per device type."""
    with _compile_lock:
        if device_type not in _compiled_steps:
            _compiled_steps[device_type] = torch.compile(leapfrog_step, fullgraph=True, dynamic=False)
        return _compiled_steps[device_type]


def _run_cuda_impl(impl: str, v: torch.Tensor, acquisition: Acquisition, progress: bool) -> torch.Tensor:
    if impl == "triton":
        from . import triton_kernel

        return triton_kernel.propagate_triton(*triton_kernel.kernel_inputs(v, acquisition), acquisition,
                                              progress=progress)
    step = compiled_step(v.device.type) if impl == "compile" else leapfrog_step
    return _propagate_torch(scheme_coefficients(v, acquisition), acquisition.wavelet(v.dtype, v.device),
                            acquisition, step=step, progress=progress)


def cuda_fast_candidates(v: torch.Tensor, acquisition: Acquisition) -> list[str]:
    """The implementations of :data:`CUDA_IMPLS` that the CUDA fast path would try for ``v``, in order:
    those that support the call and have not failed in this process (the eager step always last)."""
    from . import triton_kernel

    return [name for name in CUDA_IMPLS if name == "eager" or (
        name not in _failed_impls and (name != "triton" or triton_kernel.supported(v, acquisition)[0]))]


def _propagate_cuda_fast(v: torch.Tensor, acquisition: Acquisition, progress: bool = False,
                         impl: str = "auto") -> torch.Tensor:
    """The fast path on CUDA, no autograd: ``impl="auto"`` takes the first of :data:`CUDA_IMPLS` that
    supports the call and has not failed in this process; a failure (no Triton, a compiler error) warns
    once and falls through to the next (same numbers to float32 rounding, slower). A named ``impl`` runs
    that implementation or raises."""
    if impl not in ("auto",) + CUDA_IMPLS:
        raise ValueError(f"unknown CUDA implementation {impl!r}: choose auto or one of {', '.join(CUDA_IMPLS)}")
    with torch.no_grad():
        if impl != "auto":
            return _run_cuda_impl(impl, v, acquisition, progress)
        for name in cuda_fast_candidates(v, acquisition):
            try:
                return _run_cuda_impl(name, v, acquisition, progress)
            except torch.cuda.OutOfMemoryError:  # the batch is too large, not the implementation broken
                raise
            except Exception as exc:  # Triton / torch._dynamo / inductor errors share no public base class
                if name == "eager":  # the last resort: its error is the caller's
                    raise
                warnings.warn(f"the {name} forward path failed on {v.device} ({type(exc).__name__}: {exc}); "
                              "falling back to the next implementation", RuntimeWarning, stacklevel=3)
                _failed_impls.add(name)
        raise AssertionError("unreachable: the eager step always runs")  # pragma: no cover


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------

def forward_model(v: torch.Tensor, acquisition: Acquisition = OPENFWI, *, path: str = "auto",
                  progress: bool = False) -> torch.Tensor:
    """Simulate the surface seismic data of velocity models on the OpenFWI/UPFWI convention.

    Args:
        v: [batch, 1, depth, width] velocity in m/s, float32 or float64, any device; depth and
            width must equal ``acquisition.nz, acquisition.nx``.
        acquisition: geometry, wavelet, time axis and absorbing pad (default: :data:`OPENFWI`).
        path: ``"reference"`` (differentiable torch loop), ``"fast"`` (numba on CPU, the fused
            Triton kernel on CUDA, else ``torch.compile``; no gradient), ``"adjoint"`` (CPU only: the numba kernel
            forward and its hand-written adjoint backward — the same gradient as ``"reference"``
            to rounding, 2.6-7× faster on 2 CPU cores (``make bench``) and without the autograd
            tape, ~2 GB a sample instead of over 24 GB at the OpenFWI size) or ``"auto"`` (fast
            unless a gradient w.r.t. ``v`` is needed, then reference).
        progress: show a tqdm bar over time steps.

    Returns:
        seismic [batch, shot, time, receiver] (the OpenFWI layout) in ``v``'s dtype and device;
        units: pressure per unit source amplitude (the OpenFWI raw scale, ~ −27 … 55 on FlatVel-A).

    Raises:
        ValueError: wrong rank/shape, non-float dtype, NaN/inf or non-positive velocity, a time step
            above the CFL limit, an unknown ``path``, or ``path="fast"`` when a gradient is needed.
    """
    if path not in PATHS:
        raise ValueError(f"unknown path {path!r}: choose one of {', '.join(PATHS)}")
    if not isinstance(acquisition, Acquisition):
        raise ValueError(f"acquisition must be an Acquisition, got {type(acquisition).__name__}")
    if path == "adjoint" and isinstance(v, torch.Tensor) and v.device.type != "cpu":
        raise ValueError(f"path='adjoint' runs on the CPU; v is on {v.device} (use 'reference' there)")
    validate_velocity(v, acquisition)
    needs_grad = torch.is_grad_enabled() and v.requires_grad
    if path == "fast" and needs_grad:
        raise ValueError("path='fast' does not propagate gradients; use path='reference' "
                         "(or 'auto') when v requires grad")
    if path == "adjoint":
        if _adjoint_numba is None:  # pragma: no cover
            raise ValueError("path='adjoint' needs numba; install it or use path='reference'")
        coef = scheme_coefficients(v, acquisition)
        beta_src = _source_scaling(coef["beta"], acquisition)  # [batch, shot]
        return _NumbaAdjointPropagate.apply(coef["temp1"], coef["temp2"], coef["alpha"], beta_src,
                                            acquisition.wavelet(v.dtype, v.device), acquisition)
    use_fast = path == "fast" or (path == "auto" and not needs_grad)
    if use_fast and v.device.type == "cpu" and _propagate_numba is None:  # pragma: no cover
        use_fast = path == "fast"
    if not use_fast:
        coef = scheme_coefficients(v, acquisition)
        return _propagate_torch(coef, acquisition.wavelet(v.dtype, v.device), acquisition, progress=progress)
    with torch.no_grad():
        if v.device.type == "cuda":
            return _propagate_cuda_fast(v, acquisition, progress=progress)
        coef = scheme_coefficients(v, acquisition)
        wavelet = acquisition.wavelet(v.dtype, v.device)
        if v.device.type == "cpu":
            return _propagate_cpu_fast(coef, wavelet, acquisition, progress=progress).to(v.device)
        # other accelerators (mps, xpu…): the reference loop without autograd
        return _propagate_torch(coef, wavelet, acquisition, progress=progress)


class ForwardModel(nn.Module):
    """Module form of :func:`forward_model` for a fixed acquisition: ``v`` [batch, 1, nz, nx] in m/s →
    seismic [batch, shot, time, receiver]."""

    def __init__(self, acquisition: Acquisition = OPENFWI, path: str = "auto", progress: bool = False):
        super().__init__()
        if path not in PATHS:
            raise ValueError(f"unknown path {path!r}: choose one of {', '.join(PATHS)}")
        self.acquisition = acquisition
        self.path = path
        self.progress = progress

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return forward_model(v, self.acquisition, path=self.path, progress=self.progress)

    def extra_repr(self) -> str:
        a = self.acquisition
        return (f"grid={a.nz}x{a.nx}, dx={a.dx}, nt={a.nt}, dt={a.dt}, f={a.f}, "
                f"shots={a.n_shots}, receivers={a.n_receivers}, nbc={a.nbc}, path={self.path!r}")


def cell_updates(batch: int, acquisition: Acquisition = OPENFWI) -> int:
    """Cell updates of one forward run: batch · shots · padded cells · nt."""
    NZ, NX = acquisition.padded_shape
    return batch * acquisition.n_shots * NZ * NX * acquisition.nt
