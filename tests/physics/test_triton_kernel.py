"""The CUDA fast path's fused Triton kernel, run in Triton's CPU interpreter (``TRITON_INTERPRET=1``):
the same kernel source the GPU compiles, checked against the reference path on a small grid whose
tiles do not divide it, with sources on the edge column and a receiver row away from the source row.
On a GPU machine, ``tests/physics/test_cuda.py`` and ``make bench DEVICE=cuda`` run it compiled."""

import warnings

import pytest
import torch

from fwilab.physics import solver
from fwilab.physics import triton_kernel as tk
from fwilab.physics.acquisition import Acquisition

# padded 14 × 18: tiles of 8 × 16 leave partial tiles in both directions
SMALL = Acquisition(nz=6, nx=10, dx=10.0, nt=30, dt=1e-3, f=30.0, source_x=(0, 4, 9), source_z=1,
                    receiver_x=(0, 3, 5, 9), receiver_z=2, nbc=4)

needs_triton = pytest.mark.skipif(not tk.available(), reason="triton is not installed")


def _models(batch: int = 2) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    v = 1800.0 + 1500.0 * torch.rand(batch, 1, SMALL.nz, SMALL.nx, generator=g)
    v[1:, :, 3:] += 400.0  # models differ: their own κ0 and coefficients
    return v


@pytest.fixture
def interpret(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")


@needs_triton
def test_triton_kernel_equals_the_reference_path(interpret):
    v = _models()
    ref = solver.forward_model(v, SMALL, path="reference")
    out = tk.propagate_triton(*_inputs(v), SMALL, block=(8, 16))
    assert out.shape == ref.shape == (2, SMALL.n_shots, SMALL.nt, SMALL.n_receivers)
    assert float(ref.abs().max()) > 0
    # the interpreter does not contract into FMAs: the same float32 operations in the same order
    assert float((out - ref).norm() / ref.norm()) < 1e-6
    # and through the solver's dispatcher (as forward_model(path="fast") calls it on CUDA)
    short = SMALL.replace(nt=8)
    via = solver._propagate_cuda_fast(v[:1], short, impl="triton")
    torch.testing.assert_close(via, ref[:1, :, :8], rtol=1e-6, atol=1e-6 * float(ref.abs().max()))


def _inputs(v: torch.Tensor):
    return tk.kernel_inputs(v, SMALL)


@needs_triton
def test_supported_names_what_the_kernel_cannot_do(interpret, monkeypatch):
    v = _models(1)
    assert tk.supported(v, SMALL) == (True, "")
    assert "float32" in tk.supported(v.double(), SMALL)[1]
    assert "share a column" in tk.supported(v, SMALL.replace(receiver_x=(1, 1, 2)))[1]
    monkeypatch.delenv("TRITON_INTERPRET")
    assert "CUDA" in tk.supported(v, SMALL)[1]


@needs_triton
@pytest.mark.parametrize("arch, block, warps", [(90, (tk.BLOCK_Z, tk.BLOCK_X), tk.NUM_WARPS), (80, (16, 64), 8)])
def test_kernel_compiles_for_the_gpu_without_spilling(monkeypatch, arch, block, warps):
    """Triton's compiler and ptxas build the kernel for an H100 (sm_90) / A100 (sm_80) on this CPU-only
    machine: the GPU path cannot meet a syntax or typing error that the interpreter lets through, and
    the stencil keeps its working set in registers."""
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    compiled = tk.compile_offline(arch, block, warps)
    ptx = compiled.asm["ptx"]
    assert f".target sm_{arch}" in ptx and len(compiled.asm["cubin"]) > 0
    assert "ld.local" not in ptx and "st.local" not in ptx  # no register spills
    assert ptx.count("st.global") >= 2  # the field update and the receiver samples
    assert "fma.rn" not in ptx  # products and sums rounded one by one, as the reference does


def test_block_sizes_must_be_powers_of_two():
    if not tk.available():
        with pytest.raises(RuntimeError, match="needs triton"):
            tk.propagate_triton(*_inputs(_models(1)), SMALL)
        return
    with pytest.raises(ValueError, match="powers of two"):
        tk.propagate_triton(*_inputs(_models(1)), SMALL, block=(3, 8))


def test_a_failing_implementation_warns_once_and_falls_back(monkeypatch, interpret):
    """auto: Triton first; when it raises, a warning and the next implementation (here the eager step,
    torch.compile being marked failed to keep the test fast) gives the reference's numbers."""
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("no GPU compiler here")

    monkeypatch.setattr(tk, "propagate_triton", broken)
    monkeypatch.setattr(tk, "supported", lambda v, a: (True, ""))
    monkeypatch.setattr(solver, "_failed_impls", {"compile"})
    v = _models(1)
    with pytest.warns(RuntimeWarning, match="triton forward path failed"):
        out = solver._propagate_cuda_fast(v, SMALL)
    torch.testing.assert_close(out, solver.forward_model(v, SMALL, path="reference"), rtol=0, atol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        solver._propagate_cuda_fast(v, SMALL)  # triton is not tried again
    assert len(calls) == 1
    assert solver.cuda_fast_candidates(v, SMALL) == ["eager"]
    with pytest.raises(ValueError, match="unknown CUDA implementation"):
        solver._propagate_cuda_fast(v, SMALL, impl="cupy")


def test_out_of_memory_is_raised_not_taken_for_a_broken_kernel(monkeypatch, interpret):
    def oom(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(tk, "propagate_triton", oom)
    monkeypatch.setattr(tk, "supported", lambda v, a: (True, ""))
    monkeypatch.setattr(solver, "_failed_impls", set())
    with pytest.raises(torch.cuda.OutOfMemoryError):
        solver._propagate_cuda_fast(_models(1), SMALL)
    assert not solver._failed_impls
