"""Chapter "Diffusion deviation curves": WaveDiffusion's joint latent diffusion at our scale.

Pieces (each saved when it finishes; both of its fits resume from their checkpoints):

* ``2vq-<family>``: stage 1, a VQ autoencoder with one codebook per modality whose latent is computed
  from the records (the paper's stage-1 FWI network with a seismic decoder added), then stage 2, the
  joint latent diffusion over its standardised pre-quantisation latents; measured: reconstruction and
  inversion MAE, codebook usage, the PDE deviation (:func:`fwilab.physics.deviation.pde_deviation`) of
  real, reconstructed, mismatched, random and generated pairs, the deviation along the forward and the
  backward process, domain Fréchet distances of generated sets, and the refinement of the inversion
  (WaveDiffusion §3.3). On the comparison family it also trains one diffusion model per modality (the
  "separate" ablation, Table 4);
* ``1vq-<comparison family>``: the same with one shared codebook (Table 1), without the refinement.

The reference InversionNet is the baselines chapter's (``reference_baselines``), loaded.

Cost at ``cpu`` (2 cores, nt 250, 4,500 training pairs): stage 1 ≈ 35 samples/s → 6 epochs ≈ 13 min; stage
2 ≈ 1,300 latents/s → 60 epochs ≈ 4 min; the deviation runs the solver on ≈ 900 velocity maps a piece
(≈ 9/s: ≈ 2 min), the refinement decodes 16 × 10 × 100 candidates (≈ 1 min). Three pieces (2VQ on FlatVel-A
and CurveVel-A, 1VQ on CurveVel-A) and two separate models: ≈ 60 min once the store is built.

Where things are (every chapter package has the same four files): :mod:`.config` (:class:`DiffusionConfig`),
:mod:`.compute` (the piece and ``run``), :mod:`.claims` (WaveDiffusion's numbers and :func:`judge_claims`).
"""

from .claims import (COMPARABLE_FACTOR, MONOTONE_RHO, PAPER_BACKWARD, PAPER_FORWARD, PAPER_INVERSION,
                     PAPER_RANDOM_DEVIATION, PAPER_RECONSTRUCTION_DEVIATION, RANDOM_FACTOR, judge_claims)
from .compute import run
from .config import CHAPTER, CONFIG, DiffusionConfig
