"""Velocity families, the real OpenFWI sample, OpenFWI files, normalisation and dataset generation.

- :mod:`.families`: seeded generators of the ten OpenFWI families (``generate_velocity``).
- :mod:`.real`: the shipped sample of real OpenFWI velocity maps (``load_real_velocity``).
- :mod:`.stats`: statistics that compare generated and real maps.
- :mod:`.openfwi`: the OpenFWI file layouts, read lazily as a torch ``Dataset`` (``OpenFWIDataset``).
- :mod:`.normalize`: OpenFWI's normalisation and its inverse.
- :mod:`.generate`: datasets in the OpenFWI layout, resumable, and the on-disk cache.
- :mod:`.splits`: train / validation / test splits of one family for the learning chapters.
"""

from .families import FAMILIES, check_family, generate_velocity
from .generate import cached_dataset, generate_dataset, load_arrays
from .normalize import (DATA_RANGE, denormalize_seismic, denormalize_velocity, normalize_seismic,
                        normalize_velocity)
from .openfwi import OpenFWIDataset, discover_pairs, write_pair
from .real import REAL_FAMILIES, load_real_velocity
from .splits import FamilySplits, load_family_splits

__all__ = [
    "FAMILIES", "check_family", "generate_velocity",
    "cached_dataset", "generate_dataset", "load_arrays",
    "DATA_RANGE", "normalize_seismic", "denormalize_seismic", "normalize_velocity", "denormalize_velocity",
    "OpenFWIDataset", "discover_pairs", "write_pair",
    "REAL_FAMILIES", "load_real_velocity",
    "FamilySplits", "load_family_splits",
]
