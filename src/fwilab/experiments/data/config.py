"""The data chapter's config: :class:`DataConfig` with its presets and checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ...config import ExperimentConfig, SurveyMixin
from ...data.families import FAMILIES, check_family
from ...data.real import CALIBRATION_FAMILIES, REAL_SPLITS

CHAPTER = "data"

#: the real maps the statistics compare with: OpenFWI's first test file (vmodel11) of each family
CALIBRATION_MAPS = 500


@dataclass(frozen=True)
class DataConfig(SurveyMixin, ExperimentConfig):
    """Parameters of the data chapter.

    Attributes:
        families: families in the gallery and amplitude table.
        nt, nbc: time steps and absorbing cells (OpenFWI: 1000 and 120; smoke shrinks them).
        n_real: real maps per real family simulated for the amplitude table.
        n_generated: generated maps per family simulated for the amplitude table.
        n_stats: generated maps per A family for the statistics against the real maps (no simulation).
        bench_batches: batch sizes of the throughput benchmark; bench_nt: time steps the reference path and
            deepwave are timed over (the CPU fast path always over the whole record).
        calibration_families: families whose generated maps are compared with their real OpenFWI maps and
            whose real maps are simulated for the amplitude table (None: FlatVel-A and CurveVel-A, the two
            calibrated before FlatFault-A's real maps were shipped).
    """

    CHAPTER: ClassVar[str] = CHAPTER
    families: tuple[str, ...] = FAMILIES
    nt: int = 1000
    nbc: int = 120
    n_real: int = 64
    n_generated: int = 8
    n_stats: int = 500
    bench_batches: tuple[int, ...] = (1, 4, 16)
    bench_nt: int = 200
    calibration_families: tuple[str, ...] | None = None
    progress: bool = True

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": dict(nt=300, nbc=30, n_real=4, n_generated=1, n_stats=100, bench_batches=(1,), bench_nt=20),
        # cpu and full compare FlatFault-A's calibrated generator with its 500 real test maps too
        "cpu": dict(n_real=200, n_generated=8, n_stats=500, bench_batches=(1, 4, 16), bench_nt=100,
                    calibration_families=("flatvel-a", "curvevel-a", "flatfault-a")),
        "full": dict(n_real=500, n_generated=64, n_stats=6000, bench_batches=(1, 16, 64, 128), bench_nt=1000,
                     calibration_families=("flatvel-a", "curvevel-a", "flatfault-a")),
    }

    def validate(self) -> None:
        object.__setattr__(self, "families", tuple(check_family(f) for f in self.families))
        if not self.families:
            raise ValueError("families must name at least one family")
        for name in ("nt", "n_real", "n_generated", "n_stats", "bench_nt"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.nbc < 0:
            raise ValueError(f"nbc must be >= 0, got {self.nbc}")
        if self.calibration_families is not None:
            fams = tuple(check_family(f) for f in self.calibration_families)
            missing = [f for f in fams if "test" not in REAL_SPLITS.get(f, {})]
            if missing:
                raise ValueError(f"calibration_families {missing} have no real OpenFWI maps shipped "
                                 f"(those with: {sorted(REAL_SPLITS)})")
            object.__setattr__(self, "calibration_families", fams)

    @property
    def compared_families(self) -> tuple[str, ...]:
        """The families compared with their real maps (:attr:`calibration_families`, default the first two)."""
        return CALIBRATION_FAMILIES if self.calibration_families is None else self.calibration_families


CONFIG = DataConfig
