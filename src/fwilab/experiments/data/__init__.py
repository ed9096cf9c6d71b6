"""Chapter "Data and forward modelling": the data engine, validated.

``run(config)`` computes everything the chapter shows:

* a gallery of the ten families (one velocity map and one shot gather each);
* the solver against the analytic 2-D Green's function and against deepwave;
* raw amplitude ranges of simulated data beside OpenFWI's ``data_min/data_max``;
* generated A families against the real OpenFWI maps' statistics;
* forward-modelling throughput (reference and fast paths, deepwave as a peer).

Where things are (every chapter package has the same four files):

* :mod:`.config`: :class:`DataConfig` with its presets and checks, and the real maps the statistics use;
* :mod:`.compute`: the pieces (simulation, amplitudes and gallery, statistics, validation, benchmark)
  and ``run``;
* :mod:`.claims`: the amplitude tolerance, the GPU throughput target and :func:`judge_claims`.
"""

from .claims import AMPLITUDE_TOLERANCE, GPU_TARGET_GCUPS, judge_claims
from .compute import run
from .config import CALIBRATION_MAPS, CHAPTER, CONFIG, DataConfig
