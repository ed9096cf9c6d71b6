"""Chapter "InvLINT": the near-linear relation between integral transforms, and the model built on it.

InvLINT (Feng et al., ICML 2022) claims that after two fixed integral transforms the seismic data
``U`` and the velocity map ``Y`` are related by a near-linear map ``Y ≈ A U``, that ``A`` has few
essential dimensions, and that a five-layer network built on it (frozen transforms and ridge map,
a one-block transformer decoder) matches InversionNet with ~6 % of its parameters and ~5 % of its
FLOPs. This chapter tests each claim on our data.

Pieces (each saved when it finishes, so an interrupted run resumes at the first missing one):

* ``linearity-<family>``: sine-kernel U and Gaussian-kernel Y over the train / validation / test
  splits; the ridge map A at the paper's α = 1 and at α chosen on validation; Table 11's MAE / MSE
  on train and test beside ``ymax − ymin`` and ``|ymean|``; R²; two controls (the same regression
  on the raw, untransformed seismic data, and on random time kernels in place of the sines); the
  normalised singular values of A — all for ``y = c`` (the default) and ``y = c²`` (Eq. 10);
* ``decoder-kernels-<family>``, ``kernel-counts-<family>``, ``encoder-kernels-<family>``: the
  kernel tables (2/3, 6/7) and the N × M grid (Table 8, Fig. 4) by the ridge fit alone (α chosen
  on validation per variant, scored on test), with a velocity-space score: the linear read-out
  MAE [m/s] (see :func:`readout_mae`);
* ``invlint-<family>-s<k>``: InvLINT trained (encoder fitted on the train split, decoder by
  :func:`~fwilab.training.runs.train_and_evaluate`), ``inversionnet-<family>-s<k>``: InversionNet
  trained with the baselines chapter's recipe for the same epochs on the same splits;
* ``invlint-<kind>-<value>-<family>-s<k>``: trained variants (decoder architectures, kernels,
  kernel counts, ``y = c²``) on the variant families;
* ``fwi-<family>``: multiscale classic FWI on the first test samples (shared with the baselines
  chapter, :func:`fwilab.experiments.baselines.classic_fwi`);
* ``costs``: parameters, FLOPs and single-thread CPU latency at batch 1 of every model.

Input convention (decided here): the integral transforms take the seismic data exactly as the data
splits hand them to every model — OpenFWI's ``sign·log1p`` then min-max to [-1, 1] (§4.1.2: "the
input seismic data ... are normalized to the range [-1, 1]"); the raw amplitudes span ~6 orders of
magnitude, so a ridge fit on them would be dominated by the direct arrival.

Where things are (every chapter package has the same four files):

* :mod:`.config`: :class:`LinearityConfig` with its presets and checks, the training recipe and the
  constants that size or choose the run (the ridge penalties tried, the trained variants);
* :mod:`.compute`: the ridge path, the integral transforms of the splits, the pieces and ``run``;
* :mod:`.claims`: the paper's published numbers, the claim thresholds, :func:`judge_claims` and the
  summaries the claims and the notebook share.
"""

# the integral kernels' names and the velocity scale: the tests read them from this chapter too
from ...layers.integral import DECODER_KERNELS, ENCODER_KERNELS
from ...metrics import VELOCITY_SCALE
from .claims import (COMPARABLE_FACTOR, CONTROL_FACTOR, PAPER_DECODER_KERNELS, PAPER_DECODERS, PAPER_ENCODER_KERNELS,
                     PAPER_FWI, PAPER_KERNEL_COUNTS, PAPER_LATENCY_SPEEDUP, PAPER_TABLE1, PAPER_TABLE11,
                     PAPER_TRAIN_SPEEDUP, judge_claims, sine_closeness, summary, variant_table)
from .compute import PARTS, RidgePath, centred_grams, fit_encoder, one_cpu_thread, readout_mae, run, scores
from .config import (ALL_VARIANTS, ALPHAS, BETAS, CHAPTER, CONFIG, CONTROL_ALPHAS, COUNT_VARIANTS, CPU_FAMILIES,
                     DECODER_KERNEL_VARIANTS, DECODER_VARIANTS, ENCODER_VARIANTS, ESSENTIAL_THRESHOLD, MIN_LR,
                     SV_TOP, T0, T_MULT, WEIGHT_DECAY, LinearityConfig, parse_variant)
