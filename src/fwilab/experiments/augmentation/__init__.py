"""Chapter "Data augmentation and UB-Diff": generated pairs as training data.

WaveDiffusion's Tables 2–3 (InversionNet trained on generated pairs only, and on generated pairs plus 10 % or 1 %
of the real ones, against real subsets), with the control the paper lacks (the generator trained on the 10 %
only), and UB-Diff's claims (FID of velocity and seismic against the diffusion baseline on the same few pairs,
the "w/o opt" ablation, the PDE deviation of the pairs, the downstream InversionNet), on real-map FlatVel-A and
CurveVel-A at the cpu width, every InversionNet row for the same number of optimiser steps.

Pieces: ``generator-<generator>-<family>``, ``measures-<family>``, ``inversionnet-<row>-<family>-s<seed>``
(:mod:`.compute`). The 2VQ trained on all the pairs is the diffusion chapter's (loaded); the reference
InversionNets are the baselines chapter's (loaded).

Where things are (every chapter package has the same four files): :mod:`.config` (:class:`AugmentationConfig`,
:data:`ROWS`, :data:`GENERATORS`), :mod:`.compute` (the pieces and ``run``), :mod:`.claims` (the papers' numbers,
the gates and :func:`judge_claims`).
"""

from .claims import (MIN_FID_SAMPLES, PAPER_ROWS, PAPER_TABLE2, PAPER_TABLE3, PAPER_UBDIFF_FID_GAIN, SPREAD_FACTOR,
                     better, gates, judge_claims, row_maes)
from .compute import checkpoint_root, generated_set, model_path, row_training_set, run, samplers
from .config import CHAPTER, CONFIG, GENERATORS, ROWS, AugmentationConfig, percent
