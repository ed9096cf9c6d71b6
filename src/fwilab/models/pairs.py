"""What the generative models of seismic/velocity pairs share: the pair's shapes, taken from the survey.

The VQ autoencoders (:mod:`fwilab.models.vqae`) and UB-Diff (:mod:`fwilab.models.ubdiff`) both read records
``[batch, n_shots, nt, n_receivers]`` decimated ×``time_decimation`` in time and velocity maps
``[batch, 1, nz, nx]``; their frozen configs take these numbers from an
:class:`~fwilab.physics.acquisition.Acquisition` through :func:`preset_fields`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from fwilab.data.transforms import decimated_length
from fwilab.physics.acquisition import Acquisition


@dataclass(frozen=True)
class PairShapes:
    """The geometry fields of a pair model's frozen config (OpenFWI's survey, records decimated
    ×``time_decimation``: nt 1000 → 250), one sample's shapes, and ``replace`` / ``to_dict``."""

    n_shots: int = 5
    nt: int = 250
    n_receivers: int = 70
    nz: int = 70
    nx: int = 70
    time_decimation: int = 4

    def replace(self, **changes: Any):
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def seismic_shape(self) -> tuple[int, int, int]:
        """One record: ``(n_shots, nt, n_receivers)``."""
        return self.n_shots, self.nt, self.n_receivers

    @property
    def velocity_shape(self) -> tuple[int, int, int]:
        """One map: ``(1, nz, nx)``."""
        return 1, self.nz, self.nx


def preset_fields(cls: type, profile: str, sizes: dict[str, dict[str, Any]], acquisition: Acquisition,
                  overrides: dict[str, Any]) -> dict[str, Any]:
    """The field values of ``cls.preset(profile, acquisition, **overrides)``: the survey's geometry (``nt``
    after the config's ``time_decimation``, which an override may change), the profile's ``sizes``, then the
    overrides; an unknown profile or field is named."""
    if profile not in sizes:
        raise ValueError(f"unknown profile {profile!r}: choose one of {tuple(sizes)}")
    unknown = set(overrides) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s): {sorted(unknown)}")
    q = overrides.get("time_decimation", cls.time_decimation)
    geometry = dict(n_shots=acquisition.n_shots, nt=decimated_length(acquisition.nt, q),
                    n_receivers=acquisition.n_receivers, nz=acquisition.nz, nx=acquisition.nx)
    return {**geometry, **sizes[profile], **overrides}
