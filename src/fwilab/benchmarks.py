"""Speed benchmarks (``python -m fwilab bench …``).

:func:`forward_benchmark` times the forward solver's paths and deepwave, a peer implementation, on
random layered models. Throughput is reported as samples/s (one sample = one velocity model with all
its shots over the acquisition's full ``nt``) and as G cell-updates/s, where one cell update is one
grid cell of one shot advanced by one time step: ``batch · shots · padded cells · nt``.
"""

from __future__ import annotations

import datetime
import json
import platform
import time
from pathlib import Path
import warnings
from typing import Any, Callable

import numpy as np
import torch

from .devices import device_name, resolve_device
from .physics.acquisition import OPENFWI, Acquisition
from .physics import solver
from .physics.solver import cell_updates, forward_model

#: time steps timed on CPU when ``nt=None``: the cost of a step does not depend on nt (every step
#: updates every cell), so timing 100 steps and scaling to the acquisition's nt is exact up to the
#: fixed per-call overhead, which favours no path (all are timed the same way)
CPU_TIMING_NT = 100


def layered_velocity(batch: int, nz: int, nx: int, *, seed: int = 0, vmin: float = 1500.0,
                     vmax: float = 4500.0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Random flat-layered models (velocity increasing with depth), [batch, 1, nz, nx] in m/s."""
    g = np.random.default_rng(seed)
    v = np.empty((batch, 1, nz, nx), dtype=np.float64)
    for b in range(batch):
        n_layers = int(g.integers(2, 7))
        tops = np.sort(g.choice(np.arange(1, nz), size=n_layers - 1, replace=False))
        speeds = np.sort(g.uniform(vmin, vmax, size=n_layers))
        layer = np.searchsorted(tops, np.arange(nz), side="right")
        v[b, 0] = speeds[layer][:, None]
    return torch.as_tensor(v, dtype=dtype)


def _deepwave_forward(v: torch.Tensor, acquisition: Acquisition) -> tuple[torch.Tensor, int]:
    """deepwave.scalar on the same survey: PML of ``nbc`` cells, 4th order; returns seismic
    [batch, shot, time, receiver] and deepwave's internal time-step ratio."""
    import deepwave

    b, S, R = v.shape[0], acquisition.n_shots, acquisition.n_receivers
    dev = v.device
    vv = v[:, 0].repeat_interleave(S, dim=0)  # one model per shot: [batch·shot, nz, nx]
    src_loc = torch.zeros(b * S, 1, 2, dtype=torch.long, device=dev)
    src_loc[:, 0, 0] = acquisition.source_z
    src_loc[:, 0, 1] = torch.as_tensor(acquisition.source_x, device=dev).repeat(b)
    rec_loc = torch.zeros(b * S, R, 2, dtype=torch.long, device=dev)
    rec_loc[:, :, 0] = acquisition.receiver_z
    rec_loc[:, :, 1] = torch.as_tensor(acquisition.receiver_x, device=dev)
    # deepwave injects −v²dt²·amplitude; −w gives the (v·dt)²·w of our scheme
    amp = -acquisition.wavelet(v.dtype, dev).expand(b * S, 1, acquisition.nt).contiguous()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = deepwave.scalar(vv, acquisition.dx, acquisition.dt, source_amplitudes=amp,
                              source_locations=src_loc, receiver_locations=rec_loc, accuracy=4,
                              pml_width=max(acquisition.nbc, 1), pml_freq=acquisition.f)
    data = out.receiver_amplitudes.reshape(b, S, R, acquisition.nt).transpose(2, 3)
    return data, int(out.info.step_ratio)


def _best_time(fn: Callable[[], Any], repeats: int, device: torch.device) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        result = fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best, result


def forward_benchmark(batch_sizes: tuple[int, ...] = (1, 4, 16), device: str = "auto", repeats: int = 2,
                      include_deepwave: bool = True, acquisition: Acquisition = OPENFWI,
                      nt: int | None = None, seed: int = 0, progress: bool = False) -> dict[str, Any]:
    """Time the reference and fast forward paths (and deepwave) at several batch sizes, float32.

    Args:
        batch_sizes: numbers of velocity models per call.
        device: "auto" | "cpu" | "cuda" | "cuda:N".
        repeats: timed runs per (path, batch); the best is kept (after one untimed warm-up per path,
            which absorbs numba / torch.compile compilation).
        include_deepwave: also time ``deepwave.scalar`` (PML of ``nbc`` cells, 4th order) on the device.
        acquisition: survey (default OpenFWI: 5 shots, 310² padded cells, 1000 steps).
        nt: time steps actually simulated for timing; ``None`` → :data:`CPU_TIMING_NT` on CPU and the
            full ``acquisition.nt`` on CUDA. Where the work per step does not depend on time (the reference
            path, deepwave, the CUDA kernels) samples/s are scaled to the full ``acquisition.nt``; the CPU
            fast path skips the cells the wavefront has not reached, so it is always timed over the full
            record (``nt_timed_by_path``).
        seed: seed of the random layered models.
        progress: print one line per measurement.

    Returns:
        A JSON-able dict: ``device``, ``versions``, ``acquisition``, ``nt_timed``,
        ``cell_updates_per_sample`` (full nt), ``paths[path][batch] = {seconds, samples_per_s,
        gcell_updates_per_s}`` for path in reference / fast / deepwave, and
        ``fast_vs_reference_rel_l2`` (agreement of the two paths at the smallest batch).
    """
    dev = resolve_device(device)
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if not batch_sizes or any(int(b) < 1 for b in batch_sizes):
        raise ValueError(f"batch_sizes must be positive integers, got {batch_sizes}")
    nt_timed = int(nt) if nt is not None else (CPU_TIMING_NT if dev.type == "cpu" else acquisition.nt)
    if nt_timed < 1:
        raise ValueError(f"nt must be >= 1, got {nt}")
    nt_timed = min(nt_timed, acquisition.nt)
    acq = acquisition.replace(nt=nt_timed)
    scale = acquisition.nt / nt_timed  # time of one full-nt run / time of the timed run

    versions = {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__}
    try:
        import numba
        versions["numba"] = numba.__version__
        numba_threads = numba.get_num_threads()
    except ImportError:  # pragma: no cover
        versions["numba"], numba_threads = None, None
    deepwave_ok = False
    if include_deepwave:
        try:
            import deepwave
            versions["deepwave"] = getattr(deepwave, "__version__", None) or _dist_version("deepwave")
            deepwave_ok = True
        except ImportError:
            versions["deepwave"] = None

    # the CPU fast path skips the cells ahead of the wavefront, so its work per step grows with time: it is
    # timed over the whole record; the other paths do the same work at every step and are scaled from nt_timed
    fast_acq = acquisition if dev.type == "cpu" else acq
    runners: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "reference": lambda v: forward_model(v, acq, path="reference"),
        "fast": lambda v: forward_model(v, fast_acq, path="fast"),
    }
    if dev.type == "cuda":  # the fast path's fallback beside it (fast = the Triton kernel where it runs)
        runners["fast-compile"] = lambda v: solver._propagate_cuda_fast(v, acq, impl="compile")
    step_ratio = {"deepwave": 1}
    if deepwave_ok:
        def run_deepwave(v: torch.Tensor) -> torch.Tensor:
            data, step_ratio["deepwave"] = _deepwave_forward(v, acq)
            return data
        runners["deepwave"] = run_deepwave

    report: dict[str, Any] = {
        "benchmark": "forward",
        "device": device_name(dev),
        "device_type": dev.type,
        "torch_threads": torch.get_num_threads(),
        "numba_threads": numba_threads,
        "versions": versions,
        "dtype": "float32",
        "acquisition": {"nz": acquisition.nz, "nx": acquisition.nx, "nbc": acquisition.nbc,
                        "padded_shape": list(acquisition.padded_shape), "nt": acquisition.nt,
                        "n_shots": acquisition.n_shots, "n_receivers": acquisition.n_receivers},
        "nt_timed": nt_timed,
        "nt_timed_by_path": {},
        "cell_updates_per_sample": cell_updates(1, acquisition),
        "paths": {},
    }
    with torch.no_grad():
        small = layered_velocity(1, acq.nz, acq.nx, seed=seed).to(dev)
        warm = acq.replace(nt=min(acq.nt, 20))
        forward_model(small, warm, path="fast")  # compile numba / torch.compile once
        if dev.type == "cpu":  # and the CPU's other build: a batch runs one model per thread, serially
            forward_model(layered_velocity(2, acq.nz, acq.nx, seed=seed).to(dev), warm, path="fast")
        if deepwave_ok:
            _deepwave_forward(small, warm)
        ref = forward_model(small, acq, path="reference")
        fast = forward_model(small, acq, path="fast")
        report["fast_vs_reference_rel_l2"] = float((fast - ref).norm() / ref.norm().clamp_min(1e-30))
        if dev.type == "cuda":
            report["cuda_fast_impl"] = solver.cuda_fast_candidates(small, acq)[0]
            report["compile_vs_reference_rel_l2"] = float(
                (runners["fast-compile"](small) - ref).norm() / ref.norm().clamp_min(1e-30))
        for name, run in runners.items():
            report["paths"][name] = {}
            timed = fast_acq.nt if name == "fast" else nt_timed
            report["nt_timed_by_path"][name] = timed
            for b in batch_sizes:
                v = layered_velocity(int(b), acq.nz, acq.nx, seed=seed + int(b)).to(dev)
                seconds, _ = _best_time(lambda: run(v), repeats, dev)
                full = seconds * acquisition.nt / timed
                updates = cell_updates(int(b), acquisition)
                entry = {"seconds_timed": seconds, "seconds_full_nt": full,
                         "samples_per_s": int(b) / full, "gcell_updates_per_s": updates / full / 1e9}
                if name == "deepwave":
                    # deepwave may sub-step time for stability; its own work is step_ratio× larger
                    entry["internal_step_ratio"] = step_ratio["deepwave"]
                    entry["pml_width"] = max(acquisition.nbc, 1)
                report["paths"][name][str(int(b))] = entry
                if progress:
                    print(f"forward bench {name:12s} batch {int(b):3d}: {entry['samples_per_s']:.3g} samples/s, "
                          f"{entry['gcell_updates_per_s']:.3g} G cell-updates/s")
        if dev.type == "cuda" and report.get("cuda_fast_impl") == "triton":
            report["triton_tiles"] = _triton_tile_sweep(acq, max(batch_sizes), scale, repeats, seed, dev, progress)
    return report


#: tiles (rows, columns) of the Triton forward kernel timed by the CUDA forward benchmark
TRITON_TILES = ((4, 32), (8, 32), (4, 64), (8, 64), (16, 64), (4, 128), (8, 128), (32, 32))


def _triton_tile_sweep(acq: Acquisition, batch: int, scale: float, repeats: int, seed: int,
                       dev: torch.device, progress: bool) -> list[dict[str, Any]]:
    """G cell-updates/s of the Triton kernel for each tile in :data:`TRITON_TILES` at one batch size."""
    from .physics import triton_kernel

    v = layered_velocity(batch, acq.nz, acq.nx, seed=seed + batch).to(dev)
    args = (*triton_kernel.kernel_inputs(v, acq), acq)
    rows = []
    for tile in TRITON_TILES:
        for warps in (2, 4, 8):
            run = lambda: triton_kernel.propagate_triton(*args, block=tile, num_warps=warps)  # noqa: E731
            run()  # compile this specialisation
            seconds, _ = _best_time(run, repeats, dev)
            full = seconds * scale
            rows.append({"block_z": tile[0], "block_x": tile[1], "num_warps": warps, "batch": batch,
                         "gcell_updates_per_s": cell_updates(batch, acq) / seconds / 1e9,
                         "samples_per_s": batch / full})
            if progress:
                print(f"triton tile {tile[0]:2d}x{tile[1]:3d} warps {warps}: {rows[-1]['samples_per_s']:.4g} samples/s")
    return rows


def gradient_benchmark(batch_sizes: tuple[int, ...] = (1, 4), device: str = "auto", repeats: int = 1,
                       acquisition: Acquisition = OPENFWI, nt: int | None = None, seed: int = 0,
                       progress: bool = False) -> dict[str, Any]:
    """Time one misfit gradient (forward + backward w.r.t. velocity: one classic-FWI iteration), float32.

    Paths: ``adjoint`` (CPU: numba kernel and its hand-written adjoint) and ``reference`` (autograd
    through the per-step loop) — on CUDA the reference only. ``nt`` as in :func:`forward_benchmark`
    (the reference tape at the full nt would not fit a small machine's memory); seconds are scaled to the
    full ``acquisition.nt`` (the adjoint path's over the full record: see ``nt_timed_by_path``). Also
    records the relative difference of the two gradients at the smallest batch
    (``adjoint_vs_reference_rel_l2``).
    """
    dev = resolve_device(device)
    if repeats < 1 or not batch_sizes or any(int(b) < 1 for b in batch_sizes):
        raise ValueError(f"need repeats >= 1 and positive batch sizes, got {repeats}, {batch_sizes}")
    nt_timed = min(int(nt) if nt is not None else (CPU_TIMING_NT if dev.type == "cpu" else acquisition.nt),
                   acquisition.nt)
    acq = acquisition.replace(nt=nt_timed)
    paths = ("adjoint", "reference") if dev.type == "cpu" else ("reference",)

    def gradient(v: torch.Tensor, path: str, survey: Acquisition = acq) -> torch.Tensor:
        v = v.detach().clone().requires_grad_(True)
        d = forward_model(v, survey, path=path)
        (d ** 2).mean().backward()
        return v.grad

    report: dict[str, Any] = {"benchmark": "gradient", "device": device_name(dev), "device_type": dev.type,
                              "torch_threads": torch.get_num_threads(), "dtype": "float32",
                              "nt_timed": nt_timed, "nt": acquisition.nt,
                              "cell_updates_per_sample": cell_updates(1, acquisition), "paths": {}}
    small = layered_velocity(1, acq.nz, acq.nx, seed=seed).to(dev)
    grads = {p: gradient(small, p) for p in paths}  # warm-up (numba compilation) and agreement
    if "adjoint" in grads:
        # and the adjoint's other builds: a batch runs one model per thread, serially
        gradient(layered_velocity(2, acq.nz, acq.nx, seed=seed).to(dev), "adjoint", acq.replace(nt=min(acq.nt, 20)))
        ref = grads["reference"]
        report["adjoint_vs_reference_rel_l2"] = float((grads["adjoint"] - ref).norm() / ref.norm().clamp_min(1e-30))
    # the adjoint path's forward skips the cells ahead of the wavefront (its work per step grows with
    # time): it is timed over the whole record, and its memory (one stored wavefield, ~2 GB a model) allows it
    report["nt_timed_by_path"] = {}
    for path in paths:
        report["paths"][path] = {}
        survey = acquisition if path == "adjoint" else acq
        report["nt_timed_by_path"][path] = survey.nt
        for b in batch_sizes:
            v = layered_velocity(int(b), acq.nz, acq.nx, seed=seed + int(b)).to(dev)
            seconds, _ = _best_time(lambda: gradient(v, path, survey), repeats, dev)
            full = seconds * acquisition.nt / survey.nt
            entry = {"seconds_timed": seconds, "seconds_full_nt": full, "s_per_sample_iteration": full / int(b)}
            report["paths"][path][str(int(b))] = entry
            if progress:
                print(f"gradient bench {path:9s} batch {int(b):3d}: {entry['s_per_sample_iteration']:.3g} s "
                      "per sample and FWI iteration")
    report["rows"] = [{"path": p, "batch": int(b), "s/sample/iteration": e["s_per_sample_iteration"]}
                      for p, per in report["paths"].items() for b, e in per.items()]
    return report


def _dist_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(name)
    except PackageNotFoundError:  # pragma: no cover
        return None


#: CPU forward target (issue "CPU-first reproduction"): at batch 16 on 2 cores, >= 4 G cell-updates/s and
#: >= 15x deepwave's rate in the same run
CPU_FORWARD_TARGET = {"batch": 16, "gcell_updates_per_s": 4.0, "vs_deepwave": 15.0}


def cpu_forward_target(report: dict[str, Any]) -> dict[str, Any]:
    """The fast path's rate at the target batch beside deepwave's from the same run, and whether both targets are met."""
    b = str(CPU_FORWARD_TARGET["batch"])
    paths = report["paths"]
    fast = paths.get("fast", {}).get(b, {}).get("gcell_updates_per_s")
    dw = paths.get("deepwave", {}).get(b, {}).get("gcell_updates_per_s")
    ratio = fast / dw if fast and dw else None
    return {"batch": int(b), "fast_gcell_updates_per_s": fast, "deepwave_gcell_updates_per_s": dw,
            "ratio": ratio, "target": CPU_FORWARD_TARGET,
            "meets_rate": bool(fast and fast >= CPU_FORWARD_TARGET["gcell_updates_per_s"]),
            "meets_ratio": bool(ratio and ratio >= CPU_FORWARD_TARGET["vs_deepwave"])}


def forward_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The forward benchmark as a flat table: one row per (path, batch)."""
    return [{"path": path, "batch": int(b), "samples/s": e["samples_per_s"],
             "G cell-updates/s": e["gcell_updates_per_s"]}
            for path, per_batch in report["paths"].items() for b, e in per_batch.items()]


def train_benchmark(device: str = "auto", batch_sizes: tuple[int, ...] | None = None,
                    steps: int | None = None) -> dict[str, Any]:
    """Training throughput of the official InversionNet through the fit loop's own step code.

    Target (project issue): >= 6,000 samples/s on one H100 in bf16 at batch 256, with the input
    pipeline not the bottleneck (the input path alone is timed too). On a CPU the numbers only say
    how long the ``cpu`` profile takes.
    """
    from torch.utils.data import TensorDataset

    from .models.inversionnet import InversionNet
    from .training.fit import input_pipeline_benchmark, throughput_benchmark

    dev = resolve_device(device)
    cuda = dev.type == "cuda"
    batch_sizes = tuple(batch_sizes or ((64, 256) if cuda else (8,)))
    steps = steps or (50 if cuda else 3)
    shape = OPENFWI.seismic_shape
    report: dict[str, Any] = {"benchmark": "train", "device": device_name(dev), "device_type": dev.type,
                              "model": "InversionNet (official, 24.4 M parameters)", "rows": []}
    for b in batch_sizes:
        model = InversionNet(OPENFWI)
        r = throughput_benchmark(model, shape, b, steps=steps, device=str(dev), warmup_steps=3 if not cuda else 10)
        x = torch.randn(2 * b, *shape)
        y = torch.rand(2 * b, 1, OPENFWI.nz, OPENFWI.nx) * 2 - 1
        pipe = input_pipeline_benchmark(TensorDataset(x, y), b, batches=4, device=str(dev))
        report["rows"].append({"batch": b, "samples/s": r["samples_per_s"], "step ms": r["step_ms"], "amp": r["amp"],
                               "channels_last": r["channels_last"], "compile": r["compile"],
                               "input pipeline samples/s": pipe["samples_per_s"]})
    if not cuda:
        report["cpu_recipe"] = cpu_recipe_benchmark(steps=max(steps, 8))
    return report


#: the baselines chapter's cpu recipe: InversionNet at width 0.25 on records decimated x4 (nt 250), batch 32;
#: target (issue "CPU-first reproduction"): >= 60 training samples/s on 2 cores
CPU_RECIPE = {"width": 0.25, "nt": 250, "batch": 32, "target_samples_per_s": 60.0}


def cpu_recipe_benchmark(steps: int = 8) -> dict[str, Any]:
    """Training throughput of the cpu recipe's InversionNet on the CPU: plain (NCHW), channels-last, and
    channels-last under ``torch.compile`` (inductor), through the fit loop's step. Also checks that the
    compiled step computes what the eager one does (first-step loss, relative difference)."""
    from .models.inversionnet import InversionNet
    from .training.fit import throughput_benchmark

    shape = (OPENFWI.n_shots, CPU_RECIPE["nt"], OPENFWI.n_receivers)
    rows = []
    for label, cl, comp in (("NCHW", False, False), ("channels-last", True, False),
                            ("channels-last + torch.compile", True, True)):
        torch.manual_seed(0)
        model = InversionNet(nt=CPU_RECIPE["nt"], width=CPU_RECIPE["width"])
        try:
            r = throughput_benchmark(model, shape, CPU_RECIPE["batch"], steps=steps, device="cpu",
                                     channels_last=cl, compile=comp, warmup_steps=3)
            rows.append({"variant": label, "samples/s": r["samples_per_s"], "step ms": r["step_ms"]})
        except Exception as exc:   # torch.compile needs a C++ compiler: report, do not fail the bench
            rows.append({"variant": label, "error": f"{type(exc).__name__}: {exc}"[:300]})
    best = max((r for r in rows if "samples/s" in r), key=lambda r: r["samples/s"], default=None)
    return {"model": f"InversionNet width {CPU_RECIPE['width']}, nt {CPU_RECIPE['nt']}, batch {CPU_RECIPE['batch']}",
            "rows": rows, "best": best["variant"] if best else None,
            "target_samples_per_s": CPU_RECIPE["target_samples_per_s"],
            "meets_target": bool(best and best["samples/s"] >= CPU_RECIPE["target_samples_per_s"])}


def run_benchmark(what: str = "forward", device: str = "auto", batch_sizes: tuple[int, ...] | None = None,
                  results_dir: str = "results") -> tuple[dict[str, Any], Path]:
    """``make bench``: run a benchmark and write it with provenance to
    ``<results_dir>/bench/<what>-<device type>.json`` (atomically)."""
    from .files import atomic_write_text
    from .results import git_state

    t0 = time.perf_counter()
    if what == "forward":
        cuda = resolve_device(device).type == "cuda"
        report = forward_benchmark(batch_sizes=tuple(batch_sizes or ((1, 16, 128) if cuda else (1, 4, 16))),
                                   device=device, progress=True)
        report["rows"] = forward_rows(report)
        if not cuda:
            report["cpu_target"] = cpu_forward_target(report)
    elif what == "train":
        report = train_benchmark(device=device, batch_sizes=tuple(batch_sizes) if batch_sizes else None)
    elif what == "gradient":
        report = gradient_benchmark(batch_sizes=tuple(batch_sizes or (1, 4)), device=device, progress=True)
    else:
        raise ValueError(f"unknown benchmark {what!r}: choose 'forward', 'gradient' or 'train'")
    report["provenance"] = {**{f"git_{k}": v for k, v in git_state().items()},
                            "wall_s": round(time.perf_counter() - t0, 3),
                            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    path = Path(results_dir) / "bench" / f"{what}-{report['device_type']}.json"
    atomic_write_text(path, json.dumps(report, indent=1))
    return report, path
