"""The InvLINT chapter's computation: ridge regression for many α, the integral transforms of the
splits, the pieces, and :func:`run`."""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ...data.splits import FamilySplits, check_openfwi_files, load_family_splits
from ...layers.integral import DECODER_KERNELS, ENCODER_KERNELS, SeismicIntegralTransform, VelocityIntegralTransform
from ...metrics import VELOCITY_SCALE, count_flops, count_parameters, cpu_latency
from ...models.inversionnet import InversionNet, scaled_dims
from ...models.invlint import DECODERS, InvLINT, fit_linear_map, linearity_report, singular_values
from ...results import Artifact, run_piece
from ...training.losses import l1
from ...training.runs import train_and_evaluate
from ..baselines import checkpoint_root, classic_fwi
from .claims import judge_claims
from .config import ALPHAS, CHAPTER, CONTROL_ALPHAS, ESSENTIAL_THRESHOLD, SV_TOP, LinearityConfig, parse_variant

# =================================================================================================
# Ridge regression for many α, and the scores of a fit


@contextmanager
def one_cpu_thread():
    """Run a dense eigen/singular value solver on one CPU thread.

    The matrices here are often of low rank (layered maps give few independent Y; A inherits
    it); MKL's multi-threaded divide-and-conquer then synchronises its threads at every deflation
    step and, on a machine whose cores are busy with other work, takes seconds for a 400 × 400
    Gram matrix that one thread solves in 30 ms (measured on the 2-core CI machine; the SVD of a
    512 × 10240 map: 19 s vs < 1 s).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _eigh(K: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if K.device.type != "cpu":
        return torch.linalg.eigh(K)
    with one_cpu_thread():
        return torch.linalg.eigh(K)


def _singular_values(weight: torch.Tensor) -> torch.Tensor:
    """Normalised singular values of A (float64, CPU, descending)."""
    with one_cpu_thread():
        return singular_values(weight.cpu())


class RidgePath:
    """Ridge regression ``Y ≈ U Aᵀ + b`` for many penalties α from one eigendecomposition.

    Dual (kernel) form: with the training features centred, ``Uc = U − ū`` [n, D], and their
    Gram matrix ``K = Uc Ucᵀ = Q Λ Qᵀ`` [n, n], the ridge prediction for new features ``U'`` is
    ``(U' − ū) Ucᵀ Q (Λ + α)⁻¹ Qᵀ (Y − ȳ) + ȳ`` — the solution of
    :func:`~fwilab.models.invlint.fit_linear_map` (intercept fitted, not penalised) for every α,
    whatever D. Float64 throughout.

    Build it from features (:meth:`from_features`, keeps ``Uc`` for :meth:`cross`) or from a Gram
    matrix computed elsewhere (:func:`centred_grams`, for features too wide to hold).
    """

    def __init__(self, gram: torch.Tensor, features: torch.Tensor | None = None,
                 feature_mean: torch.Tensor | None = None):
        K = torch.as_tensor(gram).to(torch.float64)
        if K.dim() != 2 or K.shape[0] != K.shape[1] or K.shape[0] < 2:
            raise ValueError(f"gram must be a square matrix of at least 2 samples, got {tuple(K.shape)}")
        lam, Q = _eigh(0.5 * (K + K.T))
        self.lam, self.Q = lam.clamp_min(0.0), Q
        self.features, self.feature_mean = features, feature_mean

    @classmethod
    def from_features(cls, U: torch.Tensor) -> "RidgePath":
        U = U.to(torch.float64)
        mean = U.mean(0)
        Uc = U - mean
        return cls(Uc @ Uc.T, Uc, mean)

    @property
    def n(self) -> int:
        return self.Q.shape[0]

    def cross(self, U_new: torch.Tensor) -> torch.Tensor:
        """``(U' − ū) Ucᵀ`` [n_new, n] for features of the training kind."""
        if self.features is None:
            raise ValueError("this RidgePath was built from a Gram matrix: pass cross-Gram matrices instead")
        return (U_new.to(self.features) - self.feature_mean) @ self.features.T

    def basis(self, cross: torch.Tensor) -> torch.Tensor:
        """Project a cross-Gram matrix [n_new, n] onto the eigenvectors: ``cross Q``."""
        return cross.to(self.Q) @ self.Q

    def targets(self, Y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(Qᵀ (Y − ȳ), ȳ)`` for training targets ``Y [n, M]``."""
        Y = Y.to(self.Q)
        if Y.dim() != 2 or Y.shape[0] != self.n:
            raise ValueError(f"Y must be [{self.n}, M], got {tuple(Y.shape)}")
        mean = Y.mean(0)
        return self.Q.T @ (Y - mean), mean

    def predict(self, basis: torch.Tensor, targets: tuple[torch.Tensor, torch.Tensor], alpha: float) -> torch.Tensor:
        if not (alpha > 0 and math.isfinite(alpha)):
            raise ValueError(f"alpha must be a finite number > 0, got {alpha}")
        R, mean = targets
        return (basis / (self.lam + alpha)) @ R + mean

    def select(self, basis_val: torch.Tensor, targets, Y_val: torch.Tensor,
               alphas: Sequence[float] = ALPHAS) -> tuple[float, list[float]]:
        """The α of ``alphas`` with the smallest validation MSE, and the MSE of each α."""
        Y_val = Y_val.to(self.Q)
        mses = [float((self.predict(basis_val, targets, a) - Y_val).pow(2).mean()) for a in alphas]
        return float(alphas[int(np.argmin(mses))]), mses


def centred_grams(train: torch.Tensor, others: Sequence[torch.Tensor], device: torch.device | str = "cpu",
                  chunk: int = 8192) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Gram matrices of features centred by the training mean, streamed over feature chunks.

    Args:
        train: ``[n, ...]`` training features (flattened to ``[n, D]``; kept where they are).
        others: further sets ``[n_k, ...]`` of the same features.
        chunk: features moved to ``device`` (float64) at a time, so D may be very large (raw
            seismic data: shot·time·receiver = 350,000).

    Returns ``(K [n, n], [K_k [n_k, n]])`` with ``K = Xc Xcᵀ``, ``K_k = (X_k − x̄) Xcᵀ``.
    """
    X = train.reshape(train.shape[0], -1)
    Os = [o.reshape(o.shape[0], -1) for o in others]
    if any(o.shape[1] != X.shape[1] for o in Os):
        raise ValueError("every set must have the training set's features")
    K = torch.zeros(X.shape[0], X.shape[0], dtype=torch.float64, device=device)
    Ks = [torch.zeros(o.shape[0], X.shape[0], dtype=torch.float64, device=device) for o in Os]
    for j in range(0, X.shape[1], chunk):
        x = X[:, j:j + chunk].to(device, torch.float64)
        mean = x.mean(0)
        xc = x - mean          # not in place: for float64 input .to() returns the caller's tensor
        K += xc @ xc.T
        for o, Ko in zip(Os, Ks):
            Ko += (o[:, j:j + chunk].to(device, torch.float64) - mean) @ xc.T
    return K, Ks


def scores(pred: torch.Tensor, Y: torch.Tensor) -> dict[str, float]:
    """Table 11's scores of predictions ``pred`` of targets ``Y`` [n, M], plus R² and MAE / range.

    ``linearity_report`` of the identity map applied to the predictions: ``mae``, ``mse``, ``r2``,
    ``y_range`` (``ymax − ymin``), ``y_abs_mean``; ``rel_mae = mae / y_range``.
    """
    pred, Y = pred.detach().double().cpu(), Y.detach().double().cpu()
    out = linearity_report(torch.eye(pred.shape[1], dtype=torch.float64), pred, Y)
    out["rel_mae"] = out["mae"] / out["y_range"] if out["y_range"] > 0 else float("nan")
    return out


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


def _fit_on(path: RidgePath, cross: dict[str, torch.Tensor], Y: dict[str, torch.Tensor],
            alphas: Sequence[float]) -> dict[str, Any]:
    """α chosen on validation; test scores at that α and at the paper's α = 1; test predictions."""
    tg = path.targets(Y["train"])
    b_val, b_test = path.basis(cross["val"]), path.basis(cross["test"])
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
    path = RidgePath.from_features(Y_train)
    tg = path.targets(pixels["train"])
    b_val, b_test = path.basis(path.cross(Y_hat["val"])), path.basis(path.cross(Y_hat["test"]))
    alpha, _ = path.select(b_val, tg, pixels["val"], alphas)
    return float((path.predict(b_test, tg, alpha) - pixels["test"]).abs().mean()) * VELOCITY_SCALE


def _ridge_variant(path: RidgePath, cross, Y, pixels) -> dict[str, Any]:
    fit = _fit_on(path, cross, Y, ALPHAS)
    out = {"alpha": fit["alpha"], "test": fit["test"], "test_alpha1": fit["test_alpha1"]}
    if pixels is not None:
        out["readout_mae_ms"] = readout_mae(Y["train"], pixels, fit["pred"])
    return out


# =================================================================================================
# Pieces


def _transforms(config: LinearityConfig, n_sine: int | None = None, n_gauss: int | None = None,
                encoder_kernel: str = "sin", decoder_kernel: str = "gaussian", device="cpu"):
    acq = config.acquisition
    enc = SeismicIntegralTransform.from_acquisition(acq, n_sine or config.n_sine, encoder_kernel).to(device)
    dec = VelocityIntegralTransform.from_acquisition(acq, n_gauss or config.n_gauss, decoder_kernel).to(device)
    return enc, dec


def _linearity(config: LinearityConfig, splits: FamilySplits) -> tuple[dict, dict]:
    from ...models.invlint import velocity_target

    device = config.torch_device
    enc, dec = _transforms(config, device=device)
    gen = torch.Generator().manual_seed(config.seed)
    # control: N random time kernels (Gaussian noise) in place of the sines, same receiver average
    random_kernels = (torch.randn(config.acquisition.nt, config.n_sine, generator=gen, dtype=torch.float64)
                      / math.sqrt(config.acquisition.nt)).to(device)
    fns = [lambda x, v: enc(x),
           lambda x, v: dec(v),
           lambda x, v: dec(velocity_target(v, "c2")),
           lambda x, v: ((x.double() @ enc.receiver_weights.double()) @ random_kernels).flatten(1)]
    parts = _parts(splits, fns, device)
    U = {p: parts[p][0] for p in PARTS}
    Ys = {"c": {p: parts[p][1] for p in PARTS}, "c2": {p: parts[p][2] for p in PARTS}}
    U_rand = {p: parts[p][3] for p in PARTS}

    path = RidgePath.from_features(U["train"])
    cross = {p: path.cross(U[p]) for p in ("val", "test")}
    metrics: dict[str, Any] = {"n_features": int(U["train"].shape[1]), "n_targets": int(Ys["c"]["train"].shape[1])}
    arrays: dict[str, np.ndarray] = {}
    rng = np.random.default_rng(config.seed)
    for target, Y in Ys.items():
        fit = _fit_on(path, cross, Y, ALPHAS)
        A1 = fit_linear_map(U["train"], Y["train"], 1.0)
        A_best = fit_linear_map(U["train"], Y["train"], fit["alpha"])
        sv1 = _singular_values(A1.weight)
        sv_best = _singular_values(A_best.weight)
        metrics[target] = {
            "alpha1": {"train": scores(A1(U["train"]), Y["train"]), "test": scores(A1(U["test"]), Y["test"])},
            "best": {"alpha": fit["alpha"], "train": scores(A_best(U["train"]), Y["train"]), "test": fit["test"]},
            "essential_alpha1": int((sv1 > ESSENTIAL_THRESHOLD).sum()),
            "essential_best": int((sv_best > ESSENTIAL_THRESHOLD).sum()),
            "essential_by_threshold": {f"{t:g}": int((sv1 > t).sum()) for t in (1e-1, 1e-2, 1e-3)},
            "rank_bound": int(min(A1.weight.shape[0], U["train"].shape[0] - 1)),
        }
        arrays[f"{target}/sv_alpha1"] = sv1[:SV_TOP].numpy()
        arrays[f"{target}/sv_best"] = sv_best[:SV_TOP].numpy()
        arrays[f"{target}/val_mse"] = np.asarray(fit["val_mse"])
        # a sample of (true, predicted) test integrals for the scatter plot (α chosen on validation)
        yt, yp = Y["test"].cpu().numpy().ravel(), fit["pred"]["test"].cpu().numpy().ravel()
        idx = rng.choice(yt.size, size=min(3000, yt.size), replace=False)
        arrays[f"{target}/scatter_true"] = yt[idx].astype(np.float32)
        arrays[f"{target}/scatter_pred"] = yp[idx].astype(np.float32)

    # controls (target c): random kernels, and the raw normalised seismic data with no transform
    controls = {}
    rpath = RidgePath.from_features(U_rand["train"])
    rfit = _fit_on(rpath, {p: rpath.cross(U_rand[p]) for p in ("val", "test")}, Ys["c"], CONTROL_ALPHAS)
    controls["random-kernels"] = {"alpha": rfit["alpha"], "test": rfit["test"]}
    arrays["control/random-kernels/val_mse"] = np.asarray(rfit["val_mse"])
    x = {p: getattr(splits, p).tensors[0] for p in PARTS}
    K, (K_val, K_test) = centred_grams(x["train"], [x["val"], x["test"]], device)
    raw = RidgePath(K)
    rawfit = _fit_on(raw, {"val": K_val, "test": K_test}, Ys["c"], CONTROL_ALPHAS)
    controls["raw-data"] = {"alpha": rawfit["alpha"], "test": rawfit["test"],
                            "n_features": int(x["train"][0].numel())}
    arrays["control/raw-data/val_mse"] = np.asarray(rawfit["val_mse"])
    metrics["controls"] = controls
    return metrics, arrays


def _decoder_kernels(config: LinearityConfig, splits: FamilySplits) -> tuple[dict, dict]:
    device = config.torch_device
    enc, _ = _transforms(config, device=device)
    U = {p: v[0] for p, v in _parts(splits, [lambda x, v: enc(x)], device).items()}
    path = RidgePath.from_features(U["train"])
    cross = {p: path.cross(U[p]) for p in ("val", "test")}
    pixels = _velocity_pixels(splits, device)
    out = {}
    for kernel in DECODER_KERNELS:
        _, dec = _transforms(config, decoder_kernel=kernel, device=device)
        Y = {p: v[0] for p, v in _parts(splits, [lambda x, v: dec(v)], device).items()}
        out[kernel] = _ridge_variant(path, cross, Y, pixels)
    return {"kernels": out}, {}


def _encoder_kernels(config: LinearityConfig, splits: FamilySplits) -> tuple[dict, dict]:
    device = config.torch_device
    _, dec = _transforms(config, device=device)
    Y = {p: v[0] for p, v in _parts(splits, [lambda x, v: dec(v)], device).items()}
    pixels = _velocity_pixels(splits, device)
    out = {}
    for kernel in ENCODER_KERNELS:
        enc, _ = _transforms(config, encoder_kernel=kernel, device=device)
        U = {p: v[0] for p, v in _parts(splits, [lambda x, v: enc(x)], device).items()}
        path = RidgePath.from_features(U["train"])
        out[kernel] = _ridge_variant(path, {p: path.cross(U[p]) for p in ("val", "test")}, Y, pixels)
        out[kernel]["u_rms"] = float(U["train"].pow(2).mean().sqrt())
    return {"kernels": out}, {}


def _kernel_counts(config: LinearityConfig, splits: FamilySplits) -> tuple[dict, dict]:
    device = config.torch_device
    counts = config.kernel_counts
    enc, _ = _transforms(config, n_sine=max(counts), device=device)
    shots = config.acquisition.n_shots
    U_max = {p: v[0].view(v[0].shape[0], shots, -1) for p, v in _parts(splits, [lambda x, v: enc(x)], device).items()}
    pixels = _velocity_pixels(splits, device)
    Ys = {}
    for m in counts:
        _, dec = _transforms(config, n_gauss=m, device=device)
        Ys[m] = {p: v[0] for p, v in _parts(splits, [lambda x, v: dec(v)], device).items()}
    grid = {k: np.full((len(counts), len(counts)), np.nan) for k in ("r2", "rel_mae", "readout_mae_ms", "alpha")}
    for i, n in enumerate(counts):
        U = {p: u[:, :, :n].flatten(1) for p, u in U_max.items()}     # sine kernels 1..n of each shot
        path = RidgePath.from_features(U["train"])
        cross = {p: path.cross(U[p]) for p in ("val", "test")}
        for j, m in enumerate(counts):
            r = _ridge_variant(path, cross, Ys[m], pixels)
            grid["r2"][i, j], grid["rel_mae"][i, j] = r["test"]["r2"], r["test"]["rel_mae"]
            grid["readout_mae_ms"][i, j], grid["alpha"][i, j] = r["readout_mae_ms"], r["alpha"]
    return {"counts": list(counts)}, {f"grid_{k}": v for k, v in grid.items()}


def _invlint_model(config: LinearityConfig, variant: str | None = None) -> InvLINT:
    opts: dict[str, Any] = dict(n_sine=config.n_sine, n_gauss=config.n_gauss, embed_dim=config.embed_dim,
                                dims=scaled_dims(config.decoder_width))
    if variant is not None:
        kind, value = parse_variant(variant)
        if kind == "counts":
            opts["n_sine"], opts["n_gauss"] = value
        else:
            opts[kind] = value
    return InvLINT(config.acquisition, **opts)


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
        path = RidgePath.from_features(U.to(dev))
        alpha, _ = path.select(path.basis(path.cross(U_val.to(dev))), path.targets(Y.to(dev)), Y_val.to(dev))
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


def _train_inversionnet(config: LinearityConfig, splits: FamilySplits, seed: int, name: str) -> tuple[dict, dict]:
    torch.manual_seed(seed)
    model = InversionNet(acquisition=config.acquisition, width=config.inversionnet_width)
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


def _costs(config: LinearityConfig) -> tuple[dict, dict]:
    acq = config.acquisition
    shape = acq.seismic_shape
    repeats = 3 if config.profile == "smoke" else 10
    models: dict[str, dict[str, float]] = {}
    for width in dict.fromkeys((1.0, config.inversionnet_width)):
        models[f"InversionNet (width {width:g})"] = _cost(InversionNet(acquisition=acq, width=width), shape, repeats)
    default = _fitted_for_costs(_invlint_model(config))
    models["InvLINT"] = _cost(default, shape, repeats)
    # the frozen encoder alone: integral transform + ridge map (no trainable weights)
    models["InvLINT"]["encoder_gflops"] = count_flops(_EncoderOnly(default), shape) / 1e9
    decoders = {}
    for d in DECODERS:
        widths = (1.0, config.decoder_width) if d in ("deconv-conv5", "up-conv5") else (1.0,)
        for w in dict.fromkeys(widths):
            m = InvLINT(acq, n_sine=config.n_sine, n_gauss=config.n_gauss, embed_dim=config.embed_dim,
                        decoder=d, dims=scaled_dims(w))
            key = d if w == 1.0 else f"{d} (width {w:g})"
            decoders[key] = _cost(_fitted_for_costs(m), shape, max(1, repeats // 3))
    return {"models": models, "decoders": decoders}, {}


class _EncoderOnly(torch.nn.Module):
    def __init__(self, model: InvLINT):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.encode(x)


def run(config: LinearityConfig) -> Artifact:
    metrics: dict[str, Any] = {"linearity": {}, "decoder_kernels": {}, "encoder_kernels": {}, "kernel_counts": {},
                               "runs": [], "fwi": {}}
    arrays: dict[str, np.ndarray] = {}
    check_openfwi_files(config, config.families)   # before the first family trains

    def piece(name: str, fn, unrelated=()) -> dict[str, Any]:
        m, a = run_piece(config, name, fn, unrelated=unrelated)
        arrays.update({f"{name}/{k}": v for k, v in a.items()})
        return m

    for fam in config.families:
        splits = load_family_splits(fam, config.n_train, config.n_val, config.n_test, **config.split_options())
        metrics["linearity"][fam] = piece(f"linearity-{fam}", lambda: _linearity(config, splits))
        metrics["decoder_kernels"][fam] = piece(f"decoder-kernels-{fam}", lambda: _decoder_kernels(config, splits))["kernels"]
        metrics["kernel_counts"][fam] = piece(f"kernel-counts-{fam}", lambda: _kernel_counts(config, splits))
        if fam in config.encoder_kernel_families:
            metrics["encoder_kernels"][fam] = piece(f"encoder-kernels-{fam}",
                                                    lambda: _encoder_kernels(config, splits))["kernels"]
        jobs = [("invlint", None, s) for s in config.seeds] + [("inversionnet", None, s) for s in config.seeds]
        if fam in config.variant_families:
            jobs += [("invlint", v, config.seed) for v in config.variants]
        for model, variant, seed in jobs:
            tag = "" if variant is None else "-" + variant.replace(":", "-")
            name = f"{model}{tag}-{fam}-s{seed}"
            if model == "invlint":
                fn = lambda: _train_invlint(config, splits, seed, name, variant)  # noqa: E731
            else:
                fn = lambda: _train_inversionnet(config, splits, seed, name)  # noqa: E731
            m = piece(name, fn)
            metrics["runs"].append({"model": model, "variant": variant or "default", "family": fam,
                                    "seed": seed, **m})
        if config.fwi_iterations > 0:
            metrics["fwi"][fam] = piece(f"fwi-{fam}", lambda: classic_fwi(
                splits, config.acquisition, samples=config.fwi_samples, iterations=config.fwi_iterations,
                frequencies=config.fwi_frequencies, smooth_cells=config.fwi_smooth_cells,
                progress=config.progress, device=config.torch_device))
        arrays[f"truth/{fam}"] = np.asarray(splits.test.tensors[1][:4].numpy(), dtype=np.float32)
    metrics["costs"] = piece("costs", lambda: _costs(config), unrelated={"openfwi_dir"})   # no data involved
    art = Artifact(chapter=CHAPTER, config=config.to_dict(), provenance={}, metrics=metrics, arrays=arrays)
    art.claims = [c.to_dict() for c in judge_claims(config, metrics, arrays)]
    return art
