"""An exponential moving average (EMA) of a model's weights, for sampling from a diffusion model.

After the ``k``-th call of :meth:`EMA.update` the shadow copy of each floating-point parameter is

    θ̄_k = d·θ̄_{k−1} + (1 − d)·θ_k = d^k·θ_0 + (1 − d)·Σ_{i=1…k} d^{k−i}·θ_i,

with ``θ_0`` the weights the EMA was built from and ``θ_i`` the model's weights at the ``i``-th
update (decay ``d``; UB-Diff: 0.995). Buffers (BatchNorm statistics, step counters) and
non-floating parameters are copied, not averaged (ema_pytorch's default).

The shadow is a deep copy of the model (:attr:`EMA.shadow`), in eval mode, with
``requires_grad=False``; it is a submodule, so it moves with ``.to(device)`` and is saved in the
state dict of whatever holds the :class:`EMA`. The model itself is not registered (it would be
counted twice): it is passed to each :meth:`EMA.update`.

Against ema_pytorch's ``EMA`` (which UB-Diff's trainer uses with ``beta=0.995``,
``update_every=10`` and its defaults ``update_after_step=100``, ``inv_gamma=1``, ``power=2/3``):
no warm-up of the decay and no built-in skipping — the caller decides when to call :meth:`update`
(the closed form above holds per call).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

#: UB-Diff's diffusion trainer: ``ema_decay=0.995``
UBDIFF_EMA_DECAY: float = 0.995


class EMA(nn.Module):
    """Shadow weights ``θ̄ ← d·θ̄ + (1 − d)·θ`` of ``model`` (module docstring).

    Args:
        model: the network to average (copied; not kept).
        decay: ``d`` in ``[0, 1)``; 0 copies the model at each update.

    ``update(model)`` averages the model's current weights in; :attr:`shadow` is the averaged
    network, called by ``forward``; :attr:`updates` counts the updates so far.
    """

    def __init__(self, model: nn.Module, decay: float = UBDIFF_EMA_DECAY):
        super().__init__()
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not (math.isfinite(decay)
                                                                                  and 0.0 <= decay < 1.0):
            raise ValueError(f"EMA decay must lie in [0, 1), got {decay!r}")
        self.decay = float(decay)
        self.shadow = copy.deepcopy(model).eval().requires_grad_(False)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    def train(self, mode: bool = True) -> "EMA":
        """The shadow stays in eval mode (it is only ever used to predict)."""
        super().train(mode)
        self.shadow.eval()
        return self

    def _pairs(self, model: nn.Module, kind: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``(shadow tensor, model tensor)`` for every parameter (``kind="parameters"``) or buffer, by name."""
        shadow = dict(getattr(self.shadow, f"named_{kind}")())
        current = dict(getattr(model, f"named_{kind}")())
        if shadow.keys() != current.keys():
            missing, extra = sorted(shadow.keys() - current.keys()), sorted(current.keys() - shadow.keys())
            raise ValueError(f"EMA: the model's {kind} differ from the shadow's (missing {missing}, "
                             f"unexpected {extra}); use the model the EMA was built from")
        for name, tensor in shadow.items():
            if current[name].shape != tensor.shape:
                raise ValueError(f"EMA: {kind[:-1]} {name!r} has shape {tuple(current[name].shape)}, "
                                 f"the shadow's {tuple(tensor.shape)}")
        return [(tensor, current[name]) for name, tensor in shadow.items()]

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """``θ̄ ← d·θ̄ + (1 − d)·θ`` for floating parameters; buffers and other parameters copied."""
        for averaged, current in self._pairs(model, "parameters"):
            current = current.detach().to(averaged.device, averaged.dtype)
            if averaged.is_floating_point():
                averaged.lerp_(current, 1.0 - self.decay)
            else:
                averaged.copy_(current)
        for averaged, current in self._pairs(model, "buffers"):
            averaged.copy_(current.detach())
        self.updates += 1

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        """Load the shadow's weights and buffers into ``model`` (e.g. to export the averaged network)."""
        for averaged, current in self._pairs(model, "parameters") + self._pairs(model, "buffers"):
            current.copy_(averaged)

    def forward(self, *args, **kwargs):
        return self.shadow(*args, **kwargs)

    def extra_repr(self) -> str:
        return f"decay={self.decay}"


__all__ = ["EMA", "UBDIFF_EMA_DECAY"]
