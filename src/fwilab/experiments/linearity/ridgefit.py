"""Ridge regression for many penalties from one eigendecomposition, in its dual (:class:`RidgePath`,
n ≤ D) and primal (:class:`PrimalRidge`, n > D) forms, and the scores of a fit: what every ridge piece of
the InvLINT chapter (:mod:`.compute`, :mod:`.curves`) is built from."""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Sequence

import numpy as np
import torch

from ...models.invlint import linearity_report, singular_values
from .config import ALPHAS


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

    def weight(self, targets, alpha: float) -> torch.Tensor:
        """The map A [M, D] at ``alpha``: ``(Ucᵀ Q (Λ + α)⁻¹ Qᵀ (Y − ȳ))ᵀ`` (needs the features)."""
        if self.features is None:
            raise ValueError("this RidgePath was built from a Gram matrix: it holds no features to form A from")
        R, _ = targets
        return (self.features.T @ (self.Q @ (R / (self.lam + alpha)[:, None]))).T

    def project(self, U_new: torch.Tensor) -> torch.Tensor:
        """New features of the training kind projected for :meth:`predict`: ``basis(cross(U'))``
        (the interface :class:`~.curves.PrimalRidge` shares)."""
        return self.basis(self.cross(U_new))

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


class PrimalRidge:
    """Ridge regression ``Y ≈ (U − ū) W + ȳ`` in feature space, for many α from one eigendecomposition.

    With ``Uc = U − ū`` [n, D] and ``Uc_ᵀUc = V Λ Vᵀ`` [D, D], ``W(α) = V (Λ + α)⁻¹ Vᵀ Ucᵀ (Y − ȳ)``:
    the same map as the dual :class:`~fwilab.experiments.linearity.compute.RidgePath` (intercept
    fitted, not penalised), at a cost of n·D² instead of D·n², so for n > D. Float64 throughout.
    Shares the dual's ``project / targets / predict / select`` interface.
    """

    def __init__(self, U: torch.Tensor):
        U = torch.as_tensor(U).to(torch.float64)
        if U.dim() != 2 or U.shape[0] < 2:
            raise ValueError(f"U must be [n >= 2, D], got {tuple(U.shape)}")
        self.mean = U.mean(0)
        self.Uc = U - self.mean
        lam, self.V = _eigh(self.Uc.T @ self.Uc)
        self.lam = lam.clamp_min(0.0)

    @property
    def n(self) -> int:
        return self.Uc.shape[0]

    def project(self, U_new: torch.Tensor) -> torch.Tensor:
        """``(U' − ū) V`` [n_new, D]."""
        return (U_new.to(self.Uc) - self.mean) @ self.V

    def targets(self, Y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(Vᵀ Ucᵀ (Y − ȳ), ȳ)`` for training targets ``Y [n, M]``."""
        Y = Y.to(self.Uc)
        if Y.dim() != 2 or Y.shape[0] != self.n:
            raise ValueError(f"Y must be [{self.n}, M], got {tuple(Y.shape)}")
        mean = Y.mean(0)
        return self.V.T @ (self.Uc.T @ (Y - mean)), mean

    def predict(self, basis: torch.Tensor, targets, alpha: float) -> torch.Tensor:
        if not (alpha > 0 and math.isfinite(alpha)):
            raise ValueError(f"alpha must be a finite number > 0, got {alpha}")
        R, mean = targets
        return (basis / (self.lam + alpha)) @ R + mean

    def select(self, basis_val, targets, Y_val, alphas: Sequence[float]) -> tuple[float, list[float]]:
        """The α of ``alphas`` with the smallest validation MSE, and the MSE of each α."""
        Y_val = Y_val.to(self.Uc)
        mses = [float((self.predict(basis_val, targets, a) - Y_val).pow(2).mean()) for a in alphas]
        return float(alphas[int(np.argmin(mses))]), mses

    def weight(self, targets, alpha: float) -> torch.Tensor:
        """The map A = Wᵀ [M, D] at ``alpha``."""
        R, _ = targets
        return (self.V @ (R / (self.lam + alpha)[:, None])).T


def ridge_for(U: torch.Tensor):
    """The cheaper exact ridge solver for ``U [n, D]``: primal where n > D, else the dual RidgePath."""
    U = U.reshape(U.shape[0], -1)
    return PrimalRidge(U) if U.shape[0] > U.shape[1] else RidgePath.from_features(U)
