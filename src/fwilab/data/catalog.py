"""One table of what is known about each OpenFWI family, resolved once into a value that travels.

In the spirit of OpenFWI's ``dataset_config.json``: per family its kind and file layout, the raw
amplitude range OpenFWI normalises with, its split sizes in OpenFWI, the real maps shipped here and
where its generator's calibration comes from. :func:`family` checks the name once and returns a frozen
:class:`FamilyFacts`; code that holds one needs no further look-ups. The facts are gathered from the
modules that own them (:data:`~fwilab.data.normalize.DATA_RANGE`, :data:`~fwilab.data.real.REAL_SPLITS`,
:func:`~fwilab.data.openfwi.family_kind`), so there is one source for each.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .families import FAMILIES, check_family
from .normalize import DATA_RANGE
from .openfwi import family_kind
from .real import CALIBRATION_FAMILIES, REAL_SPLITS

#: OpenFWI's train / test samples per family kind (FACTS.md §1)
OPENFWI_SPLIT_SIZES: dict[str, tuple[int, int]] = {"vel": (24000, 6000), "fault": (48000, 6000),
                                                   "style": (60000, 7000)}
#: file layout per kind: Vel and Style as ``data/dataN.npy`` + ``model/modelN.npy``, Fault as ``seis*/vel*``
LAYOUTS: dict[str, str] = {"vel": "vel", "style": "vel", "fault": "fault"}


@dataclass(frozen=True)
class FamilyFacts:
    """What is known about one family.

    Attributes:
        name: fwilab's name (``flatvel-a``); openfwi_name: OpenFWI's folder name (``FlatVel_A``).
        kind: ``vel``, ``fault`` or ``style``; layout: ``vel`` or ``fault`` (:mod:`fwilab.data.openfwi`).
        data_range: OpenFWI's raw amplitude (min, max) for the seismic normalisation.
        openfwi_train, openfwi_test: OpenFWI's split sizes.
        real_splits: ``{split: maps}`` of the real OpenFWI velocity maps shipped in the package.
        calibration: how the generator was made: ``real maps`` (calibrated on the shipped maps) or
            ``OpenFWI's description`` (no real maps here).
    """

    name: str
    openfwi_name: str
    kind: str
    layout: str
    data_range: tuple[float, float]
    openfwi_train: int
    openfwi_test: int
    real_splits: tuple[tuple[str, int], ...]
    calibration: str

    @property
    def has_real_pairs(self) -> bool:
        """Real train and test maps ship (``maps="real"`` applies)."""
        return {"train", "test"} <= {s for s, _ in self.real_splits}


@lru_cache(maxsize=None)
def _facts(name: str) -> FamilyFacts:
    kind = family_kind(name)
    train, test = OPENFWI_SPLIT_SIZES[kind]
    calibrated = name in CALIBRATION_FAMILIES or name in REAL_SPLITS
    return FamilyFacts(
        name=name, openfwi_name="_".join(p.capitalize() for p in name.split("-")).replace("vel", "Vel")
        .replace("fault", "Fault"), kind=kind, layout=LAYOUTS[kind], data_range=DATA_RANGE[name],
        openfwi_train=train, openfwi_test=test, real_splits=tuple(REAL_SPLITS.get(name, {}).items()),
        calibration="real maps" if calibrated else "OpenFWI's description")


def family(name: str) -> FamilyFacts:
    """The facts of a family (any spelling :func:`~fwilab.data.families.check_family` accepts)."""
    return _facts(check_family(name))


def catalog() -> list[FamilyFacts]:
    """Every family's facts, in OpenFWI's order."""
    return [_facts(f) for f in FAMILIES]
