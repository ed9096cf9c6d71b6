"""Pluggable training losses: plain callables ``loss(pred, target) -> scalar`` and a weighted sum.

Every loss here takes ``pred`` and ``target`` of the same shape — for the velocity-map models
``[batch, 1, depth, width]`` in normalised units ([-1, 1]) — and returns a 0-d tensor, the mean
over all entries. :class:`WeightedSum` composes named terms and also reports each term, so the
fit loop can log the parts of a loss next to its total.
"""

from __future__ import annotations

from typing import Callable, Mapping

import torch
import torch.nn.functional as F

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _check_pair(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"prediction and target differ in shape: {tuple(pred.shape)} vs {tuple(target.shape)}")


def l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error ``mean |pred − target|`` (OpenFWI ``nn.L1Loss``)."""
    _check_pair(pred, target)
    return F.l1_loss(pred, target)


def l2(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error ``mean (pred − target)²`` (OpenFWI ``nn.MSELoss``, called "L2" there)."""
    _check_pair(pred, target)
    return F.mse_loss(pred, target)


mse = l2


class WeightedSum:
    """``Σ_k w_k · loss_k(pred, target)`` over named terms, reporting each unweighted term.

    Example — OpenFWI's default, and VelocityGAN's pixel terms::

        l1_plus_l2 = WeightedSum({"l1": (1.0, l1), "l2": (1.0, mse)})
        WeightedSum({"l1": (100.0, l1), "l2": (100.0, mse)})

    Calling it returns the total; :meth:`with_parts` returns ``(total, {name: term})`` with the
    terms unweighted and detached, for logging.
    """

    def __init__(self, terms: Mapping[str, tuple[float, Loss]]):
        if not terms:
            raise ValueError("WeightedSum needs at least one term")
        checked: dict[str, tuple[float, Loss]] = {}
        for name, term in terms.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"WeightedSum term names must be identifiers (they become curve names), got {name!r}")
            if not (isinstance(term, tuple) and len(term) == 2 and callable(term[1])):
                raise ValueError(f"WeightedSum term {name!r} must be (weight, loss_fn), got {term!r}")
            weight = float(term[0])
            if not weight == weight or weight in (float("inf"), float("-inf")):
                raise ValueError(f"WeightedSum term {name!r} has a non-finite weight {term[0]!r}")
            checked[name] = (weight, term[1])
        self.terms = checked

    def with_parts(self, pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        total = None
        parts: dict[str, torch.Tensor] = {}
        for name, (weight, fn) in self.terms.items():
            value = fn(pred, target)
            parts[name] = value.detach()
            total = weight * value if total is None else total + weight * value
        return total, parts

    def __call__(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.with_parts(pred, target)[0]

    def __repr__(self) -> str:
        body = " + ".join(f"{w:g}·{name}" for name, (w, _) in self.terms.items())
        return f"WeightedSum({body})"


#: OpenFWI ``train.py`` default: ``1·L1 + 1·L2`` (``--lambda_g1v 1 --lambda_g2v 1``).
l1_plus_l2 = WeightedSum({"l1": (1.0, l1), "l2": (1.0, mse)})


def loss_with_parts(loss: Callable, pred: torch.Tensor, target: torch.Tensor
                    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Evaluate any loss as ``(total, parts)``: a :class:`WeightedSum` (or anything with
    ``with_parts``) reports its terms; a plain callable reports none. A callable may also return
    ``(total, parts)`` itself."""
    if hasattr(loss, "with_parts"):
        total, parts = loss.with_parts(pred, target)
    else:
        out = loss(pred, target)
        total, parts = out if isinstance(out, tuple) else (out, {})
    if not isinstance(total, torch.Tensor) or total.dim() != 0:
        shape = tuple(total.shape) if isinstance(total, torch.Tensor) else type(total).__name__
        raise ValueError(f"a loss must return a scalar (0-d) tensor, got {shape}")
    return total, dict(parts)
