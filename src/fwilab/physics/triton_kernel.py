"""The forward scheme as one fused Triton kernel per time step (the CUDA fast path).

Why a hand-written kernel: one step of the scheme is memory-bound. ``torch.compile`` of
:func:`~fwilab.physics.scheme.leapfrog_step` reads the three coefficient arrays once per shot and leaves
injection and recording as separate launches (the issue measured ~70 G cell-updates/s on one H100).
This kernel, per time step and for every model of the batch:

* loads a tile of the model's ``α = (v·dt/dx)²`` once and forms ``temp1 = 2 + 2·c1·α − k`` and
  ``temp2 = 1 − k`` in registers, with ``k = κ0·shape·dt`` from the damping profile shared by all
  models (:func:`~fwilab.physics.scheme.damping_shape`, one [NZ, NX] array that stays in L2) and the
  model's scalar ``κ0``;
* loops over the model's shots with those coefficients in registers: per cell update it reads
  ``p`` (the ±1/±2 neighbours come from L1/L2) and ``p⁻`` and writes ``p⁺`` over ``p⁻``, so DRAM
  traffic is ~12 B plus 4/shots B of ``α`` — ~13 B, a bound of ~230 G cell-updates/s at 3 TB/s;
* adds the source term ``(v_s·dt)²·w[n]`` to ``p⁺`` at the shot's source cell and stores ``p⁺`` at the
  receiver cells straight into the seismic array [batch, shot, time, receiver].

The operations are the reference's (:func:`~fwilab.physics.scheme.leapfrog_step`) in the same order,
negligible results (|p| < FLUSH_BELOW) flushed to zero as there;
the GPU compiler may contract a multiply and an add into one FMA, so results agree to float32
rounding (tests: relative L2 below 1e-6 against the reference, in Triton's CPU interpreter).

Float32 only (Triton rounds Python float constants to float32, which would cost float64 its precision);
the receivers must lie on one row with distinct columns and the sources on one row — what
:class:`~fwilab.physics.acquisition.Acquisition` describes. :func:`supported` says whether a call
qualifies; the solver falls back to ``torch.compile`` otherwise.

Testing without a GPU: with ``TRITON_INTERPRET=1`` set before the first call, Triton runs the same
kernel in its numpy interpreter on CPU tensors (slow, fine for small grids): the unit tests do that.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import torch

from .acquisition import Acquisition
from . import scheme
from .scheme import C1, C2, C3, FLUSH_BELOW


try:
    import triton
    import triton.language as tl
except ImportError:  # triton ships with CUDA builds of torch; CPU environments may lack it
    triton = tl = None

#: default tile: rows × columns of the padded grid per program (columns a power of two, as Triton needs)
BLOCK_Z = 8
BLOCK_X = 64
NUM_WARPS = 4

_kernels: dict[bool, Any] = {}
_lock = threading.Lock()


def available() -> bool:
    """True when Triton can be imported."""
    return triton is not None


def interpreting() -> bool:
    """True when Triton runs kernels in its CPU interpreter (``TRITON_INTERPRET=1``)."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def supported(v: torch.Tensor, acquisition: Acquisition) -> tuple[bool, str]:
    """Whether the Triton kernel can run this forward call, and why not when it cannot."""
    if triton is None:
        return False, "triton is not installed"
    if v.dtype != torch.float32:
        return False, f"the Triton kernel is float32 only (got {v.dtype})"
    if v.device.type != "cuda" and not interpreting():
        return False, f"Triton runs on CUDA (or with TRITON_INTERPRET=1); v is on {v.device}"
    if len(set(acquisition.receiver_x)) != len(acquisition.receiver_x):
        return False, "two receivers share a column"
    return True, ""


def _build_kernel():
    """Decorate the kernel now: Triton decides at decoration time whether it compiles or interprets."""

    # the time index changes every launch: no recompilation for its value (1, multiples of 16)
    @triton.jit(do_not_specialize=["n"])
    def step_kernel(p_ptr, pold_ptr, alpha_ptr, shape_ptr, kappa0_ptr, beta_ptr, wavelet_ptr, src_x_ptr,
                    rec_of_col_ptr, seis_ptr, n, nt, NZ, NX, n_rec, src_row, rec_row, dt,
                    S: tl.constexpr, C1X2: tl.constexpr, C2: tl.constexpr, C3: tl.constexpr,
                    TINY: tl.constexpr, BZ: tl.constexpr, BX: tl.constexpr):
        # one program: a BZ × BX tile of one model (axis 2), all of its shots
        b = tl.program_id(2).to(tl.int64)
        rows = tl.program_id(1) * BZ + tl.arange(0, BZ)[:, None]  # [BZ, 1]
        cols = tl.program_id(0) * BX + tl.arange(0, BX)[None, :]  # [1, BX]
        inside = (rows < NZ) & (cols < NX)
        cell = rows * NX + cols
        plane = NZ * NX
        # coefficients, once for all shots (same operations as scheme_coefficients)
        alpha = tl.load(alpha_ptr + b * plane + cell, mask=inside, other=0.0)
        k = (tl.load(kappa0_ptr + b) * tl.load(shape_ptr + cell, mask=inside, other=0.0)) * dt
        temp1 = 2.0 + C1X2 * alpha - k
        temp2 = 1.0 - k
        # Dirichlet edge: neighbours beyond the padded domain read as zero
        up1 = inside & (rows >= 1)
        up2 = inside & (rows >= 2)
        dn1 = inside & (rows + 1 < NZ)
        dn2 = inside & (rows + 2 < NZ)
        lf1 = inside & (cols >= 1)
        lf2 = inside & (cols >= 2)
        rt1 = inside & (cols + 1 < NX)
        rt2 = inside & (cols + 2 < NX)
        w = tl.load(wavelet_ptr + n)
        on_src_row = rows == src_row
        rec = tl.load(rec_of_col_ptr + cols, mask=cols < NX, other=-1)  # receiver index of each column
        rec = tl.broadcast_to(rec, (BZ, BX))
        record = inside & (rows == rec_row) & (rec >= 0)
        for s in range(S):
            base = (b * S + s) * plane
            pc = p_ptr + base + cell
            near = (tl.load(pc - NX, mask=up1, other=0.0) + tl.load(pc + NX, mask=dn1, other=0.0)
                    + tl.load(pc - 1, mask=lf1, other=0.0) + tl.load(pc + 1, mask=rt1, other=0.0))
            far = (tl.load(pc - 2 * NX, mask=up2, other=0.0) + tl.load(pc + 2 * NX, mask=dn2, other=0.0)
                   + tl.load(pc - 2, mask=lf2, other=0.0) + tl.load(pc + 2, mask=rt2, other=0.0))
            p0 = tl.load(pc, mask=inside, other=0.0)
            po = tl.load(pold_ptr + base + cell, mask=inside, other=0.0)
            p_new = temp1 * p0 - temp2 * po + alpha * (C2 * near + C3 * far)
            # negligible results are flushed to zero, as in the reference (scheme.flush_negligible)
            p_new = tl.where(tl.abs(p_new) < TINY, 0.0, p_new)
            amp = tl.load(beta_ptr + b * S + s) * w
            p_new = tl.where(on_src_row & (cols == tl.load(src_x_ptr + s)), p_new + amp, p_new)
            tl.store(pold_ptr + base + cell, p_new, mask=inside)
            tl.store(seis_ptr + ((b * S + s) * nt + n) * n_rec + rec, p_new, mask=record)

    return step_kernel


def _constants(n_shots: int, block: tuple[int, int]) -> dict[str, Any]:
    """The kernel's compile-time constants: shots per model, the scheme's weights, the tile."""
    return dict(S=int(n_shots), C1X2=2.0 * C1, C2=C2, C3=C3, TINY=FLUSH_BELOW, BZ=int(block[0]), BX=int(block[1]))


def compile_offline(arch: int = 90, block: tuple[int, int] = (BLOCK_Z, BLOCK_X), num_warps: int = NUM_WARPS,
                    n_shots: int = 5) -> Any:
    """Compile the kernel for an NVIDIA GPU of compute capability ``arch`` (90: H100) without one,
    with Triton's own compiler and ptxas; returns Triton's compiled kernel (``.asm["ptx"]``,
    ``.asm["cubin"]``). The tests use it to check that the kernel builds for the GPU and keeps its
    working set in registers (no local-memory spills)."""
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    if triton is None:
        raise RuntimeError("compiling the Triton forward kernel needs triton")
    if interpreting():
        raise RuntimeError("unset TRITON_INTERPRET to compile the kernel for a GPU")
    kernel = _build_kernel()
    consts = _constants(n_shots, block)
    names = kernel.arg_names
    ints = {"src_x_ptr", "rec_of_col_ptr"}
    signature = {a: ("constexpr" if a in consts else "*i32" if a in ints else "*fp32" if a.endswith("_ptr")
                     else "fp32" if a == "dt" else "i32") for a in names}
    source = ASTSource(fn=kernel, signature=signature, constexprs={(names.index(k),): v for k, v in consts.items()})
    return triton.compile(source, target=GPUTarget("cuda", arch, 32), options=_gpu_options(num_warps))


def _gpu_options(num_warps: int) -> dict[str, Any]:
    """Compile options of the GPU build. No fused multiply-adds: the reference and the CPU kernels round
    every product and sum separately, and a contracted ``2 + C1X2·α`` or ``−T2·p⁻ + …`` drifts by
    ~4e-5 relative L2 over 1000 steps (emulated in float64), over the 1e-5 the fast path must meet.
    The kernel is memory-bound, so the extra instructions cost little."""
    return {"num_warps": int(num_warps), "enable_fp_fusion": False}


def _kernel():
    key = interpreting()
    with _lock:
        if key not in _kernels:
            _kernels[key] = _build_kernel()
        return _kernels[key]


def kernel_inputs(v: torch.Tensor, acquisition: Acquisition) -> tuple:
    """The arguments of :func:`propagate_triton` before ``acquisition`` for velocity ``v``
    [batch, 1, nz, nx] in m/s: ``(α, κ0, damping shape, source scaling, wavelet)``."""
    alpha, beta = scheme.alpha_beta(v, acquisition)
    return (alpha, scheme.damping_kappa0(v, acquisition), scheme.damping_shape(acquisition, v.dtype, v.device),
            scheme._source_scaling(beta, acquisition), acquisition.wavelet(v.dtype, v.device))


def propagate_triton(alpha: torch.Tensor, kappa0: torch.Tensor, shape: torch.Tensor, beta_src: torch.Tensor,
                     wavelet: torch.Tensor, acquisition: Acquisition, *, block: tuple[int, int] = (BLOCK_Z, BLOCK_X),
                     num_warps: int = NUM_WARPS, progress: bool = False) -> torch.Tensor:
    """Run the scheme's time loop with the fused kernel; no autograd.

    Args:
        alpha: [batch, 1, NZ, NX] ``(v·dt/dx)²`` of the padded models (dimensionless).
        kappa0: [batch] damping strength [1/s] (:func:`~fwilab.physics.scheme.damping_kappa0`).
        shape: [NZ, NX] damping profile (:func:`~fwilab.physics.scheme.damping_shape`).
        beta_src: [batch, shot] source scaling ``(v_s·dt)²`` [m²].
        wavelet: [nt] source wavelet.
        acquisition: geometry and time axis.
        block: (rows, columns) of a tile; columns must be a power of two.
        num_warps: warps per program (ignored by the interpreter).
        progress: tqdm bar over time steps.

    Returns:
        seismic [batch, shot, time, receiver] (float32, on alpha's device).
    """
    from ..progress import bar as progress_bar

    if triton is None:
        raise RuntimeError("the Triton forward kernel needs triton (it ships with CUDA builds of torch)")
    bz, bx = (int(x) for x in block)
    if bz < 1 or bx < 1 or bx & (bx - 1) or bz & (bz - 1):
        raise ValueError(f"block sizes must be powers of two, got {block}")
    batch = alpha.shape[0]
    S, R, nt = acquisition.n_shots, acquisition.n_receivers, acquisition.nt
    NZ, NX = acquisition.padded_shape
    dev = alpha.device
    f32 = dict(dtype=torch.float32, device=dev)
    alpha = alpha.reshape(batch, NZ, NX).to(**f32).contiguous()
    kappa0 = kappa0.reshape(batch).to(**f32).contiguous()
    shape = shape.to(**f32).contiguous()
    beta_src = beta_src.reshape(batch, S).to(**f32).contiguous()
    wavelet = wavelet.to(**f32).contiguous()
    src_row, src_cols, rec_row, rec_cols = scheme._padded_geometry(acquisition)
    src_x = torch.as_tensor(src_cols, dtype=torch.int32, device=dev)
    rec_of_col = torch.full((NX,), -1, dtype=torch.int32, device=dev)
    rec_of_col[torch.as_tensor(rec_cols, device=dev)] = torch.arange(R, dtype=torch.int32, device=dev)
    fields = torch.zeros((2, batch, S, NZ, NX), **f32)
    seis = torch.empty((batch, S, nt, R), **f32)
    kernel = _kernel()
    grid = (triton.cdiv(NX, bx), triton.cdiv(NZ, bz), batch)
    launch = _constants(S, (bz, bx))
    if not interpreting():
        launch.update(_gpu_options(num_warps))
    for n in progress_bar(range(nt), enabled=progress, desc="forward (triton)", leave=False):
        cur = n % 2  # slot cur holds step n; the other holds step n-1 and receives step n+1
        kernel[grid](fields[cur], fields[1 - cur], alpha, shape, kappa0, beta_src, wavelet, src_x, rec_of_col,
                     seis, n, nt, NZ, NX, R, src_row, rec_row, float(acquisition.dt), **launch)
    return seis

