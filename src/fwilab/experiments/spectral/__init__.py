"""Chapter "Spectral ablations": SPAMoE against InversionNet and single experts, and what its parts do.

Pieces (each saved when it finishes; a training run also resumes from its last epoch):

* ``spamoe-<family>-s<k>``: the reference SPAMoE — the paper's design as we read it: spectral bound
  enforced (hinge at ``ρ_min`` = the median ρ of the family's training targets, weight
  ``bound_weight``), the released load-balancing term with its gradient (which sharpens rather than
  balances: the ``lb-uniform`` ablation has the balancing target), learned top-2 routing over soft bands;
* ``inversionnet-<family>-s<k>``: InversionNet (L1), same samples, epochs, batch, learning rate, seed;
* ``<single>-<family>-s<k>``: the best single expert (FNO-, MNO- or LNO-only, chosen by validation
  L1 on the ablation family, seed ``seed``) on every family and seed;
* ``<ablation>-<ablation_family>-s<seed>``: each ablation of :data:`ABLATIONS`, one seed.

Every SPAMoE run records the bound's and the router's statistics through training
(:class:`~fwilab.experiments.spamoe.SPAMoEMonitor`).

Cost (SPAMoE's ``cpu`` model ≈ 0.11 s per training sample on 2 quiet cores, single experts and top-1
≈ 0.05–0.08 s, InversionNet width 0.25 ≈ 0.03 s; validation/test forward ≈ 0.04 s per sample):

* ``smoke``: one family, one seed, 4 samples, 2 epochs, tiny model and short records, four ablations: ~15 s.
* ``cpu``: 3 families × 3 seeds × {SPAMoE, InversionNet, best single} + 11 ablations on CurveVel-A:
  30 SPAMoE-type runs of 64 samples × 4 epochs (≈ 30 s each) + 9 InversionNet runs (≈ 10 s):
  ≈ 15 min, plus the shared 400/50/100 datasets if not cached yet (≈ 5 min for three families).
* ``full``: 5 families × 3 seeds, released model sizes: 35.4 M parameters; per sample, 67.5 GFLOP per
  forward pass in eval mode by ``fwilab.metrics.count_flops`` (matrix products and convolutions) plus
  0.43 GFLOP of FFTs (``count_fft_flops``, 5 N log2 N per complex transform), and 190 GFLOP per training
  step (forward and backward with top-2 routing, counted over a whole step by the same counter): the
  "≈ 290 GFLOP per training sample" once quoted for this model is not reproduced by either count. 1500
  samples × 8 epochs per run; at an assumed ≈ 300 samples/s on one H100 (bf16) a run
  takes ≈ 45 s, 42 SPAMoE-type runs ≈ 32 min, InversionNet (width 1) ≈ 1 min; every piece far
  under 8 minutes. (Not measured: no GPU was available when this was written.)

Where things are (every chapter package has the same four files):

* :mod:`.config`: :class:`SpectralConfig` with its presets and checks, the reference SPAMoE and its
  ablations;
* :mod:`.compute`: ``run`` (the training itself is :mod:`fwilab.experiments.spamoe`'s, shared with the
  routing chapter);
* :mod:`.claims`: the thresholds of the rules, the summaries the claims and the notebook share, and
  :func:`judge_claims` (the paper's 44.4 % is :data:`fwilab.experiments.spamoe.PAPER_MAE_REDUCTION`).
"""

from .claims import (HINGE_ACTIVE_FRACTION, MAE_REDUCTION_TOLERANCE, ablation_table, bound_statistics, comparison,
                     judge_claims, mae_reduction)
from .compute import run
from .config import ABLATIONS, CHAPTER, CONFIG, REFERENCE, SINGLE_EXPERTS, SpectralConfig
