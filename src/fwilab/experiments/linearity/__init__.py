"""Chapter "InvLINT": the near-linear relation between integral transforms, and the model built on it.

InvLINT (Feng et al., ICML 2022) claims that after two fixed integral transforms the seismic data
``U`` and the velocity map ``Y`` are related by a near-linear map ``Y ≈ A U``, that ``A`` has few
essential dimensions, and that a five-layer network built on it (frozen transforms and ridge map,
a one-block transformer decoder) matches InversionNet with ~6 % of its parameters and ~5 % of its
FLOPs. This chapter tests each claim on our data.

Pieces (each saved when it finishes, so an interrupted run resumes at the first missing one). The ridge
pieces depend only on the data and kernel fields (:data:`~.config.RIDGE_FIELDS`), the training pieces on
everything else too:

* ``curves-<family>``: learning curves over ``n_train`` (:mod:`.curves`): train / test R², skill against
  the training-mean predictor and α for the sine transform (with the singular values of A at every n),
  the raw-record control, N ≪ nt random time kernels against sines, and the x-dependent kernel; the
  rotation check (:func:`.compute.rotation_check`); Table 11's scores at the largest n;
* ``ablations-<family>``: at the largest n, linear against sign·log1p input, the isotropic Gaussian
  grid, y = c² (Eq. 10), and the N × M grid (Table 8, Fig. 4) by the linear read-out's velocity MAE;
* ``decoder-kernels-<family>``, ``encoder-kernels-<family>``: the kernel tables (2/3, 6/7) by the
  ridge fit alone (α chosen on validation per variant, scored on test), with the linear read-out MAE
  [m/s] (see :func:`readout_mae`);
* ``invlint-<family>-s<k>``: InvLINT trained (encoder fitted on the train split, decoder by
  :func:`~fwilab.training.runs.train_and_evaluate`) on the network families; InversionNet is the
  baselines chapter's reference network where ``reference_baselines`` (cpu), else
  ``inversionnet-<family>-s<k>`` trained here;
* ``invlint-<kind>-<value>-<family>-s<k>``: trained variants (decoder architectures, kernels,
  kernel counts, ``y = c²``) on the variant families, ``variant_seeds`` each;
* classic FWI: the baselines chapter's piece (``reference_baselines``), or ``fwi-<family>`` run here;
* ``costs``: parameters, FLOPs and single-thread CPU latency at batch 1, at the paper's setting and as trained.

Input convention (decided here): the integral transforms take the seismic data exactly as the data
splits hand them to every model — OpenFWI's ``sign·log1p`` then min-max to [-1, 1] (§4.1.2: "the
input seismic data ... are normalized to the range [-1, 1]"); the raw amplitudes span ~6 orders of
magnitude, so a ridge fit on them would be dominated by the direct arrival.

Where things are (every chapter package has the same four files, and this one two more):

* :mod:`.config`: :class:`LinearityConfig` with its presets and checks, the training recipe and the
  constants that size or choose the run (the ridge penalties tried, the trained variants);
* :mod:`.ridgefit`: ridge regression for many α (dual and primal) and the scores of a fit;
* :mod:`.curves`: the learning curves, their thresholds and verdict;
* :mod:`.compute`: the integral transforms of the splits, the pieces and ``run``;
* :mod:`.claims`: the paper's published numbers, the claim thresholds, :func:`judge_claims` and the
  summaries the claims and the notebook share.
"""

# the integral kernels' names and the velocity scale: the tests read them from this chapter too
from ...layers.integral import DECODER_KERNELS, ENCODER_KERNELS
from ...metrics import VELOCITY_SCALE
from .claims import (COMPARABLE_FACTOR, DECODER_TIE, PAPER_DECODER_KERNELS, PAPER_DECODERS, PAPER_ENCODER_KERNELS,
                     PAPER_FWI, PAPER_KERNEL_COUNTS, PAPER_LATENCY_SPEEDUP, PAPER_TABLE1, PAPER_TABLE11,
                     PAPER_TRAIN_SPEEDUP, ROTATION_TOLERANCE, SEISMIC_DATASETS, curve_at, judge_claims,
                     near_linear_verdicts, paper_table11, sine_closeness, summary, variant_summary, variant_table)
from .compute import PAPER_N_SINE, PARTS, fit_encoder, readout_mae, rotation_check, run
from .config import (ALL_VARIANTS, ALPHAS, BETAS, CHAPTER, CONFIG, COUNT_VARIANTS, CPU_FAMILIES,
                     CPU_NETWORK_FAMILIES, DECODER_KERNEL_VARIANTS, DECODER_VARIANTS, ENCODER_VARIANTS,
                     ESSENTIAL_THRESHOLD, ISO_GRID, MIN_LR, RIDGE_FIELDS, SV_TOP, T0, T_MULT, WEIGHT_DECAY,
                     LinearityConfig, parse_variant)
from .curves import (CONTROL_COUNTS, FLAT_OVER_DOUBLING, GAP_CLOSED, NEAR_LINEAR_SKILL, X_KERNEL, GramCurve, curve_row,
                     curve_verdict, fit_and_score, gap_closed)
from .ridgefit import PrimalRidge, RidgePath, centred_grams, one_cpu_thread, ridge_for, scores
