"""The InvLINT chapter's computation: ridge regression for many α, the integral transforms of the
splits, the pieces, and :func:`run`."""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ...data.splits import FamilySplits, check_openfwi_files, load_family_splits
from ...layers.integral import DECODER_KERNELS, ENCODER_KERNELS, SeismicIntegralTransform, VelocityIntegralTransform
from ...metrics import VELOCITY_SCALE, count_flops, count_parameters, cpu_latency
from ...models.inversionnet import InversionNet, scaled_dims
from ...models.invlint import DECODERS, InvLINT
from ...progress import bar as progress_bar
from ...results import Artifact, run_piece
from ...training.losses import l1
from ...training.runs import train_and_evaluate
from ..baselines import checkpoint_root, classic_fwi
from .claims import judge_claims
from .config import ALPHAS, CHAPTER, ISO_GRID, SV_TOP, LinearityConfig, parse_variant
from .curves import CONTROL_COUNTS, X_KERNEL, GramCurve, curve_row, public
from .ridgefit import PrimalRidge, ridge_for, scores

# =================================================================================================
# Integral transforms of the splits


def _transform(dataset, fns: Sequence[Callable[[torch.Tensor, torch.Tensor], torch.Tensor]],
               device: torch.device, batch: int = 64) -> list[torch.Tensor]:
    """Apply ``fn(seismic, velocity)`` to every batch of a (seismic, velocity) tensor dataset.

    Returns one float64 tensor ``[n, ...]`` per function, on ``device``.
    """
    x_all, v_all = dataset.tensors
    outs: list[list[torch.Tensor]] = [[] for _ in fns]
    with torch.no_grad():
        for i in range(0, len(x_all), batch):
            x, v = x_all[i:i + batch].to(device), v_all[i:i + batch].to(device)
            for out, fn in zip(outs, fns):
                out.append(fn(x, v).to(torch.float64))
    return [torch.cat(o) for o in outs]


PARTS = ("train", "val", "test")


def _parts(splits: FamilySplits, fns, device) -> dict[str, list[torch.Tensor]]:
    return {p: _transform(getattr(splits, p), fns, device) for p in PARTS}


def _velocity_pixels(splits: FamilySplits, device) -> dict[str, torch.Tensor]:
    return {p: getattr(splits, p).tensors[1].flatten(1).to(device, torch.float64) for p in PARTS}


def _fit_on(U: dict[str, torch.Tensor], Y: dict[str, torch.Tensor], alphas: Sequence[float]) -> dict[str, Any]:
    """Ridge on all training samples (:func:`~.curves.ridge_for`), α chosen on validation; test scores at that
    α and at the paper's α = 1; validation and test predictions."""
    path = ridge_for(U["train"])
    tg = path.targets(Y["train"])
    b_val, b_test = path.project(U["val"]), path.project(U["test"])
    alpha, val_mse = path.select(b_val, tg, Y["val"], alphas)
    pred = {"val": path.predict(b_val, tg, alpha), "test": path.predict(b_test, tg, alpha)}
    return {"alpha": alpha, "val_mse": val_mse, "test": scores(pred["test"], Y["test"]),
            "test_alpha1": scores(path.predict(b_test, tg, 1.0), Y["test"]), "pred": pred}


def readout_mae(Y_train: torch.Tensor, pixels: dict[str, torch.Tensor], Y_hat: dict[str, torch.Tensor],
                alphas: Sequence[float] = ALPHAS) -> float:
    """Velocity MAE [m/s] of the linear read-out of predicted kernel integrals.

    A velocity-space score of a ridge fit that is comparable across kernels and kernel counts
    (Y itself is not: each kernel has its own units). The read-out is the linear pseudo-inverse of
    the velocity transform: a ridge map from the *true* integrals ``Y_train`` to the training
    maps' pixels, its α chosen on the validation maps from the *predicted* integrals
    ``Y_hat['val']``; scored on ``Y_hat['test']``. A linear decoder, so a lower bound on what the
    trained (nonlinear) decoder can add.
    """
    path = ridge_for(Y_train)
    tg = path.targets(pixels["train"])
    b_val, b_test = path.project(Y_hat["val"]), path.project(Y_hat["test"])
    alpha, _ = path.select(b_val, tg, pixels["val"], alphas)
    return float((path.predict(b_test, tg, alpha) - pixels["test"]).abs().mean()) * VELOCITY_SCALE


def _ridge_variant(U, Y, pixels) -> dict[str, Any]:
    fit = _fit_on(U, Y, ALPHAS)
    out = {"alpha": fit["alpha"], "test": fit["test"], "test_alpha1": fit["test_alpha1"]}
    if pixels is not None:
        out["readout_mae_ms"] = readout_mae(Y["train"], pixels, fit["pred"])
    return out


# =================================================================================================
# Pieces


def _transforms(config: LinearityConfig, n_sine: int | None = None, n_gauss: int | None = None,
                encoder_kernel: str = "sin", decoder_kernel: str = "gaussian", grid: tuple[int, int] | None = None,
                device="cpu"):
    acq = config.transform_acquisition
    enc = SeismicIntegralTransform.from_acquisition(acq, n_sine or config.n_sine, encoder_kernel).to(device)
    dec = VelocityIntegralTransform((acq.nz, acq.nx), n_gauss or config.n_gauss, decoder_kernel, grid=grid).to(device)
    return enc, dec


def _features(splits: FamilySplits, fns, device) -> list[dict[str, torch.Tensor]]:
    """``[{part: fn(seismic, velocity) over the part}]``, one dict per function (float64)."""
    parts = _parts(splits, fns, device)
    return [{p: parts[p][i] for p in PARTS} for i in range(len(fns))]


def rotation_check(traces: dict[str, torch.Tensor], U: dict[str, torch.Tensor], Y: dict[str, torch.Tensor],
                   alpha: float, P: int) -> dict[str, float]:
    """Ridge on the sine features equals ridge on the receiver-averaged traces with a rescaled penalty.

    With ``N = nt − 2 = P − 1`` sines per shot, ``U = S ū`` where S is the DST-I matrix on the interior
    samples (``S Sᵀ = (P/2)·I``; every sine vanishes at the two end samples): a rotation of the time axis
    scaled by ``√(P/2)``. Ridge is invariant under rotations, so ridge on U at α predicts as ridge on the
    interior samples of ``ū`` at ``α·2/P``. Returns both test predictions' largest difference, beside the
    largest prediction.
    """
    T = {p: t[:, :, 1:P].flatten(1) for p, t in traces.items()}
    out = {}
    for key, feats, a in (("sines", U, alpha), ("traces", T, alpha * 2.0 / P)):
        path = PrimalRidge(feats["train"]) if feats["train"].shape[0] > feats["train"].shape[1] \
            else ridge_for(feats["train"])
        out[key] = path.predict(path.project(feats["test"]), path.targets(Y["train"]), a)
    return {"alpha": float(alpha), "alpha_traces": float(alpha * 2.0 / P),
            "max_abs_diff": float((out["sines"] - out["traces"]).abs().max()),
            "max_abs_pred": float(out["sines"].abs().max())}


def _curves(config: LinearityConfig, splits: FamilySplits) -> tuple[dict, dict]:
    """Learning curves (train / test R², skill, α) of the sine transform, the raw-record control, random
    time kernels against sines at N ≪ nt, and the x-dependent encoder kernel; singular values of A by n;
    the rotation check; Table 11's scores at the largest n."""
    device = config.torch_device
    acq = config.transform_acquisition
    nt, shots = acq.nt, acq.n_shots
    enc_max, dec = _transforms(config, n_sine=max(config.kernel_counts), device=device)
    xenc, _ = _transforms(config, encoder_kernel=X_KERNEL, device=device)
    gen = torch.Generator().manual_seed(config.seed)
    counts = [N for N in CONTROL_COUNTS if N < config.n_sine]
    rand = {N: torch.randn(nt, N, generator=gen, dtype=torch.float64).div(math.sqrt(nt)).to(device) for N in counts}
    w = enc_max.receiver_weights.double()
    U_max, traces, U_x, Y = _features(splits, [lambda x, v: enc_max(x), lambda x, v: x.double() @ w,
                                               lambda x, v: xenc(x), lambda x, v: dec(v)], device)

    def sines(N: int) -> dict[str, torch.Tensor]:   # sine kernels 1..N of each shot
        return {p: u.view(u.shape[0], shots, -1)[:, :, :N].flatten(1) for p, u in U_max.items()}

    U = sines(config.n_sine)
    x = {p: getattr(splits, p).tensors[0] for p in PARTS}
    gram = GramCurve(x["train"], x["val"], x["test"])
    sizes = config.curve_sizes
    curves: dict[str, list] = {"sine": [], "raw-data": [], "x-kernel": []}
    curves.update({f"{kind}-{N}": [] for N in counts for kind in ("sine", "random")})
    sv_by_n = []
    with progress_bar(total=len(sizes), desc=f"ridge curves {splits.family}", enabled=config.progress) as bar:
        for n in sizes:
            last = curve_row(U, Y, n, ALPHAS, sv=True)
            curves["sine"].append(public(last))
            sv_by_n.append(last["_sv"][:SV_TOP].numpy())
            curves["raw-data"].append(public(gram.row(Y, n, ALPHAS)))
            curves["x-kernel"].append(public(curve_row(U_x, Y, n, ALPHAS)))
            for N in counts:
                curves[f"sine-{N}"].append(public(curve_row(sines(N), Y, n, ALPHAS)))
                R = {p: (t @ rand[N]).flatten(1) for p, t in traces.items()}
                curves[f"random-{N}"].append(public(curve_row(R, Y, n, ALPHAS)))
            bar.update(1)
    metrics: dict[str, Any] = {"sizes": list(sizes), "curves": curves, "control_counts": counts,
                               "n_features": int(U["train"].shape[1]), "n_targets": int(Y["train"].shape[1]),
                               "raw_features": int(x["train"][0].numel()), "x_kernel": X_KERNEL}
    if config.n_sine == nt - 2:   # at the paper's α = 1: well conditioned (a near-OLS α amplifies float32 rounding)
        metrics["rotation"] = rotation_check(traces, U, Y, 1.0, nt - 1)
    rng = np.random.default_rng(config.seed)
    yt, yp = Y["test"].cpu().numpy().ravel(), last["_test_pred"].cpu().numpy().ravel()
    idx = rng.choice(yt.size, size=min(3000, yt.size), replace=False)
    width = max(len(s) for s in sv_by_n)
    arrays = {"sv_by_n": np.stack([np.pad(s, (0, width - len(s)), constant_values=np.nan) for s in sv_by_n]),
              "sv": sv_by_n[-1], "scatter_true": yt[idx].astype(np.float32),
              "scatter_pred": yp[idx].astype(np.float32), "val_mse": np.asarray(last["val_mse"])}
    return metrics, arrays


def _ablations(config: LinearityConfig, splits: FamilySplits) -> tuple[dict, dict]:
    """At the largest n: linear against sign·log1p input, the isotropic Gaussian grid, y = c² against y = c,
    and the N × M grid (Fig. 4, Table 8), each by test R² and the linear read-out's velocity MAE."""
    from ...data.normalize import denormalize_seismic
    from ...models.invlint import velocity_target

    device = config.torch_device
    fam = splits.family
    acq = config.transform_acquisition
    enc_max, dec = _transforms(config, n_sine=max(config.kernel_counts), device=device)
    _, iso = _transforms(config, n_gauss=ISO_GRID ** 2, grid=(ISO_GRID, ISO_GRID), device=device)
    scale = max(float(denormalize_seismic(b[0], family=fam).abs().max())
                for b in torch.utils.data.DataLoader(splits.train, batch_size=256))
    n = config.n_sine
    U_max, U_lin, Y, Y_c2, Y_iso = _features(splits, [
        lambda x, v: enc_max(x),
        lambda x, v: _first(enc_max(denormalize_seismic(x.double(), family=fam).div(scale).float()), acq.n_shots, n),
        lambda x, v: dec(v), lambda x, v: dec(velocity_target(v, "c2")), lambda x, v: iso(v)], device)
    pixels = _velocity_pixels(splits, device)

    def sines(N: int) -> dict[str, torch.Tensor]:
        return {p: _first(u, acq.n_shots, N) for p, u in U_max.items()}

    U = sines(n)
    variants = {"default": _ridge_variant(U, Y, pixels), "linear-input": _ridge_variant(U_lin, Y, pixels),
                "isotropic-grid": _ridge_variant(U, Y_iso, pixels), "c2": _ridge_variant(U, Y_c2, None)}
    counts, gauss = config.kernel_counts, config.gauss_counts
    Ys = {}
    for m in gauss:
        _, d = _transforms(config, n_gauss=m, device=device)
        Ys[m] = _features(splits, [lambda x, v: d(v)], device)[0]
    grid = {k: np.full((len(counts), len(gauss)), np.nan) for k in ("r2", "rel_mae", "readout_mae_ms", "alpha")}
    for i, N in enumerate(counts):
        UN = sines(N)
        for j, m in enumerate(gauss):
            r = _ridge_variant(UN, Ys[m], pixels)
            grid["r2"][i, j], grid["rel_mae"][i, j] = r["test"]["r2"], r["test"]["rel_mae"]
            grid["readout_mae_ms"][i, j], grid["alpha"][i, j] = r["readout_mae_ms"], r["alpha"]
    return ({"variants": variants, "iso_grid": ISO_GRID, "linear_scale": scale, "counts": list(counts),
             "gauss_counts": list(gauss)}, {f"grid_{k}": v for k, v in grid.items()})


def _first(u: torch.Tensor, shots: int, N: int) -> torch.Tensor:
    """The first N kernels of every shot of ``U [n, shot·N_max]``, flattened."""
    return u.reshape(u.shape[0], shots, -1)[:, :, :N].flatten(1)


def _decoder_kernels(config: LinearityConfig, splits: FamilySplits) -> tuple[dict, dict]:
    device = config.torch_device
    enc, _ = _transforms(config, device=device)
    U = _features(splits, [lambda x, v: enc(x)], device)[0]
    pixels = _velocity_pixels(splits, device)
    out = {}
    for kernel in DECODER_KERNELS:
        _, dec = _transforms(config, decoder_kernel=kernel, device=device)
        out[kernel] = _ridge_variant(U, _features(splits, [lambda x, v: dec(v)], device)[0], pixels)
    return {"kernels": out}, {}


def _encoder_kernels(config: LinearityConfig, splits: FamilySplits) -> tuple[dict, dict]:
    device = config.torch_device
    _, dec = _transforms(config, device=device)
    Y = _features(splits, [lambda x, v: dec(v)], device)[0]
    pixels = _velocity_pixels(splits, device)
    out = {}
    for kernel in ENCODER_KERNELS:
        enc, _ = _transforms(config, encoder_kernel=kernel, device=device)
        U = _features(splits, [lambda x, v: enc(x)], device)[0]
        out[kernel] = _ridge_variant(U, Y, pixels)
        out[kernel]["u_rms"] = float(U["train"].pow(2).mean().sqrt())
    return {"kernels": out}, {}


def _invlint_model(config: LinearityConfig, variant: str | None = None, acquisition=None,
                   n_sine: int | None = None) -> InvLINT:
    opts: dict[str, Any] = dict(n_sine=n_sine or config.n_sine, n_gauss=config.n_gauss, embed_dim=config.embed_dim,
                                dims=scaled_dims(config.decoder_width))
    if variant is not None:
        kind, value = parse_variant(variant)
        if kind == "counts":
            opts["n_sine"], opts["n_gauss"] = value
        else:
            opts[kind] = value
    return InvLINT(acquisition or config.transform_acquisition, **opts)


def fit_encoder(model: InvLINT, splits: FamilySplits, alpha: float | None, progress: bool = False) -> dict[str, Any]:
    """Fit InvLINT's ridge map A on the train split; α fixed or (None) chosen on validation.

    The encoder lives on the model's device; U and Y are computed once per split. Returns the
    chosen α and the wall time [s].
    """
    t0 = time.perf_counter()
    U, Y = model.integrals(splits.train, progress=progress)
    if alpha is None:
        U_val, Y_val = model.integrals(splits.val, progress=progress)
        dev = model.ridge_weight.device
        path = ridge_for(U.to(dev))
        alpha, _ = path.select(path.project(U_val.to(dev)), path.targets(Y.to(dev)), Y_val.to(dev), ALPHAS)
    model.fit_encoder(U.to(model.ridge_weight.device), Y.to(model.ridge_weight.device), alpha=alpha)
    return {"encoder_alpha": float(alpha), "encoder_fit_s": round(time.perf_counter() - t0, 3)}


def _train_invlint(config: LinearityConfig, splits: FamilySplits, seed: int, name: str,
                   variant: str | None = None) -> tuple[dict, dict]:
    torch.manual_seed(seed)
    model = _invlint_model(config, variant).to(config.torch_device)
    enc = fit_encoder(model, splits, config.encoder_alpha, progress=False)
    m, a = train_and_evaluate(model, splits.train, splits.val, splits.test, loss=l1,
                              config=config.invlint_fit_config(seed, checkpoint_root(config) / name))
    m.update(enc, train_total_s=m["train_s"] + enc["encoder_fit_s"], parameters=count_parameters(model))
    return m, a


def _inversionnet(config: LinearityConfig, acquisition, width: float) -> InversionNet:
    a = acquisition
    return InversionNet(in_channels=a.n_shots, nt=a.nt, n_receivers=a.n_receivers, out_shape=(a.nz, a.nx), width=width)


def _train_inversionnet(config: LinearityConfig, splits: FamilySplits, seed: int, name: str) -> tuple[dict, dict]:
    torch.manual_seed(seed)
    model = _inversionnet(config, config.transform_acquisition, config.inversionnet_width)
    m, a = train_and_evaluate(model, splits.train, splits.val, splits.test, loss=l1,
                              config=config.inversionnet_fit_config(seed, checkpoint_root(config) / name))
    m.update(train_total_s=m["train_s"], parameters=count_parameters(model))
    return m, a


def _cost(model: torch.nn.Module, shape: tuple[int, ...], repeats: int) -> dict[str, float]:
    """Parameters, GFLOPs per sample and median single-thread CPU latency [s] at batch 1."""
    model = model.cpu().eval()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # §4.2: "a single thread of an Intel Xeon"
    try:
        latency = cpu_latency(model, shape, repeats=repeats, warmup=1)
    finally:
        torch.set_num_threads(threads)
    return {"parameters": count_parameters(model), "gflops": count_flops(model, shape) / 1e9,
            "cpu_latency_s": latency}


def _fitted_for_costs(model: InvLINT) -> InvLINT:
    """A model whose A is fitted to random numbers: the costs do not depend on A's values."""
    g = torch.Generator().manual_seed(0)
    model.fit_encoder(torch.randn(4, model.n_features, generator=g), torch.randn(4, model.n_targets, generator=g))
    return model


#: the paper's InvLINT on OpenFWI's full-rate records: N = 2048 sines per shot
PAPER_N_SINE: int = 2048


def _costs(config: LinearityConfig) -> tuple[dict, dict]:
    """Costs at the paper's setting (full-rate records, N = 2048) and as trained here (``transform_acquisition``,
    ``n_sine``): parameters, FLOPs, single-thread latency of InversionNet and InvLINT (and its decoders)."""
    repeats = 3 if config.profile == "smoke" else 10
    out: dict[str, Any] = {}
    settings = {"paper": (config.acquisition, PAPER_N_SINE if config.profile != "smoke" else config.n_sine),
                "trained": (config.transform_acquisition, config.n_sine)}
    for key, (acq, n_sine) in settings.items():
        shape = acq.seismic_shape
        models: dict[str, dict[str, float]] = {}
        for width in dict.fromkeys((1.0, config.inversionnet_width)):
            models[f"InversionNet (width {width:g})"] = _cost(_inversionnet(config, acq, width), shape, repeats)
        default = _fitted_for_costs(_invlint_model(config, acquisition=acq, n_sine=n_sine))
        models["InvLINT"] = _cost(default, shape, repeats)
        # the frozen encoder alone: integral transform + ridge map (no trainable weights)
        models["InvLINT"]["encoder_gflops"] = count_flops(_EncoderOnly(default), shape) / 1e9
        models["InvLINT"]["n_sine"], models["InvLINT"]["nt"] = int(n_sine), int(acq.nt)
        out[key] = models
    acq, n_sine = settings["trained"]
    decoders = {}
    for d in DECODERS:
        widths = (1.0, config.decoder_width) if d in ("deconv-conv5", "up-conv5") else (1.0,)
        for w in dict.fromkeys(widths):
            m = InvLINT(acq, n_sine=n_sine, n_gauss=config.n_gauss, embed_dim=config.embed_dim,
                        decoder=d, dims=scaled_dims(w))
            key = d if w == 1.0 else f"{d} (width {w:g})"
            decoders[key] = _cost(_fitted_for_costs(m), acq.seismic_shape, max(1, repeats // 3))
    return {"models": out["paper"], "models_trained": out["trained"], "decoders": decoders}, {}


class _EncoderOnly(torch.nn.Module):
    def __init__(self, model: InvLINT):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.encode(x)


def run(config: LinearityConfig) -> Artifact:
    metrics: dict[str, Any] = {"curves": {}, "ablations": {}, "decoder_kernels": {}, "encoder_kernels": {},
                               "runs": [], "fwi": {}}
    arrays: dict[str, np.ndarray] = {}
    check_openfwi_files(config, config.families)   # before the first family trains
    ridge = config.ridge_unrelated()
    held: dict[str, FamilySplits] = {}

    def piece(name: str, fn, unrelated=(), maps: bool = True) -> dict[str, Any]:
        m, a = run_piece(config, name, fn, unrelated=unrelated)
        arrays.update({f"{name}/{k}": v for k, v in a.items() if maps or k != "predictions"})
        return m

    def splits_of(fam: str) -> FamilySplits:
        if fam not in held:
            held[fam] = load_family_splits(fam, config.n_train, config.n_val, config.n_test, **config.split_options())
            arrays[f"truth/{fam}"] = np.asarray(held[fam].test.tensors[1][:4].numpy(), dtype=np.float32)
        return held[fam]

    # the ridge analyses of every family first (the near-linearity verdicts), then the networks
    # the splits are loaded (and, where the store lacks them, simulated) before a piece starts, so that a
    # piece's wall time is its own computation's
    for fam in config.families:
        sp = splits_of(fam)
        metrics["curves"][fam] = piece(f"curves-{fam}", lambda: _curves(config, sp), ridge)
    for fam in config.families:
        sp = splits_of(fam)
        metrics["ablations"][fam] = piece(f"ablations-{fam}", lambda: _ablations(config, sp), ridge)
        metrics["decoder_kernels"][fam] = piece(f"decoder-kernels-{fam}", lambda: _decoder_kernels(config, sp),
                                                ridge)["kernels"]
        if fam in config.encoder_kernel_families:
            metrics["encoder_kernels"][fam] = piece(f"encoder-kernels-{fam}", lambda: _encoder_kernels(config, sp),
                                                    ridge)["kernels"]
        if fam not in config.network_families:
            held.pop(fam)          # the networks need only their own families' splits
    for fam in config.network_families:
        sp = splits_of(fam)
        jobs = [("invlint", None, s) for s in config.seeds]
        if not config.reference_baselines:
            jobs += [("inversionnet", None, s) for s in config.seeds]
        if fam in config.variant_families:
            jobs += [("invlint", v, config.seed + k) for v in config.variants
                     for k in range(1 if v in config.single_seed_variants else config.variant_seeds)]
        for model, variant, seed in jobs:
            tag = "" if variant is None else "-" + variant.replace(":", "-")
            name = f"{model}{tag}-{fam}-s{seed}"
            if model == "invlint":
                fn = lambda: _train_invlint(config, sp, seed, name, variant)  # noqa: E731
            else:
                fn = lambda: _train_inversionnet(config, sp, seed, name)  # noqa: E731
            # the page shows the predicted maps of the default models' first seed only (each piece keeps its own)
            m = piece(name, fn, maps=variant is None and seed == config.seed)
            metrics["runs"].append({"model": model, "variant": variant or "default", "family": fam,
                                    "seed": seed, **m})
        if config.reference_baselines:
            from ..baselines import reference_runs

            metrics["runs"] += reference_runs(config, fam, sp, config.seeds, arrays)
        metrics["fwi"].update(_fwi(config, fam, sp, arrays, piece))
        held.pop(fam)
    metrics["costs"] = piece("costs", lambda: _costs(config), unrelated={"openfwi_dir"})   # no data involved
    art = Artifact(chapter=CHAPTER, config=config.to_dict(), provenance={}, metrics=metrics, arrays=arrays)
    art.claims = [c.to_dict() for c in judge_claims(config, metrics, arrays)]
    return art


def _fwi(config: LinearityConfig, fam: str, splits: FamilySplits, arrays: dict, piece) -> dict[str, Any]:
    """Classic FWI on ``fam``'s first test maps: the baselines chapter's piece (``reference_baselines``, where
    that chapter runs FWI on the family), or run here (``fwi_iterations > 0``)."""
    if config.reference_baselines:
        from ..baselines import BaselinesConfig, reference_fwi

        if fam not in BaselinesConfig.preset(config.profile).fwi_families:
            return {}
        m, a = reference_fwi(fam, profile=config.profile, results_dir=config.results_dir, device=config.device,
                             progress=config.progress, splits=splits)
        arrays.update({f"fwi-{fam}/{k}": v for k, v in a.items()})
        return {fam: {**m, "reference": "baselines"}}
    if config.fwi_iterations <= 0:
        return {}
    return {fam: piece(f"fwi-{fam}", lambda: classic_fwi(
        splits, config.acquisition, samples=config.fwi_samples, iterations=config.fwi_iterations,
        frequencies=config.fwi_frequencies, smooth_cells=config.fwi_smooth_cells,
        progress=config.progress, device=config.torch_device))}
