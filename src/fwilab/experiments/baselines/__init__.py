"""Chapter "Baselines": InversionNet and VelocityGAN on OpenFWI-like data, and classic FWI beside them.

Pieces (each saved when it finishes, so an interrupted run resumes at the first missing one):

* ``inversionnet-<family>-s<k>``: InversionNet trained with L1 (OpenFWI's ℓ1 benchmark rows) on the
  family's train split, best epoch by validation loss, scored on the test split;
* ``velocitygan-<family>-s<k>``: the same generator trained as VelocityGAN (WGAN-GP, 5 critic steps,
  L1 100 + L2 100 + adversarial 1);
* ``fwi-<family>``: multiscale classic FWI from a smoothed start on the first test samples.

Where things are (every chapter package has the same four files):

* :mod:`.config`: :class:`BaselinesConfig` with its presets (and the fields a kind of piece ignores);
* :mod:`.compute`: the pieces (InversionNet, VelocityGAN, classic FWI, costs), ``run`` and
  :func:`reference_inversionnet` and :func:`reference_fwi`, through which other chapters reuse the reference networks;
* :mod:`.claims`: OpenFWI's and InvLINT's published numbers, the trained-regime check and
  :func:`judge_claims`.
"""

from .claims import (INVLINT_FWI, OPENFWI_INVERSIONNET_L1, OPENFWI_VELOCITYGAN_L1, judge_claims, regime,
                     scale_setting, summary)
from .compute import (_inversionnet, _velocitygan, baseline_inversionnet, checkpoint_root, classic_fwi, reference_fwi,
                      reference_inversionnet, reference_runs, reference_velocitygan, run)
from .config import A_FAMILIES, CHAPTER, CONFIG, FWI_FIELDS, TRAINING_FIELDS, BaselinesConfig
