"""Chapter "Routing statistics": does SPAMoE's router use all its experts, and does it route by geology?

One SPAMoE (the reference of the spectral chapter: bound enforced at the targets' median ρ, learned
top-2 routing over soft bands) is trained on the *union* of the families' training samples, once per
router variant (:data:`~.config.VARIANTS`) and seed, so one router sees every family and its decisions
can be compared across families. The variants: ``released`` (the load-balancing term in the loss value,
no gradient, as the released code does); ``lb-gradient`` (the same term with its gradient: its target is
the router's own top-k selection, so it sharpens the gates rather than balancing them; see
:mod:`fwilab.layers.router`); ``lb-uniform`` (target 1/E with its gradient, the released code's
commented-out alternative); and ``repaired``, the minimal repair of the collapse as a labelled variant
(the gates read ``log1p|F|`` and pool by the attention). While it trains,
:class:`~fwilab.experiments.spamoe.SPAMoEMonitor` records per batch the selection frequency and mean
gate; per epoch every validation sample's gates and top-k choice, the band-to-expert matrix, the
experts' frequency preferences and the router's diagnostics (gate and logit spread across samples,
attention entropy, per-expert task-gradient norms; at initialisation too). The trained model's routing
of each family's test samples is recorded too.

Pieces: ``spamoe-<variant>-s<k>``. The claims are judged where the networks trained
(:func:`~.claims.training_gate`).

Cost (SPAMoE ``cpu`` model ≈ 43 training samples/s on 2 quiet cores):

* ``smoke``: two families, 2 training samples each, 2 epochs, tiny model: ~15 s (+ the tiny datasets).
* ``cpu``: FlatVel-A and CurveVel-A (real maps, the baselines chapter's splits, nt 250), 1,500 training
  samples each, 5 epochs, 4 variants × 2 seeds: 15,000 samples ≈ 6 min a run, ≈ 50 min in all; the
  reference InversionNets are loaded from the baselines chapter.
* ``full``: 5 families × 500 samples, 8 epochs, 4 variants × 2 seeds at released sizes: ≈ 20k training
  samples per run, at an assumed ≈ 300 samples/s on one H100 ≈ 70 s per piece, ≈ 10 min in all.

Where things are (every chapter package has the same four files):

* :mod:`.config`: :class:`RoutingConfig` with its presets and checks;
* :mod:`.compute`: ``run`` and :func:`family_difference` (a metric of every run); the training itself is
  :mod:`fwilab.experiments.spamoe`'s, shared with the spectral chapter;
* :mod:`.claims`: the threshold of "routes differently" and :func:`judge_claims` (the collapse and
  starvation shares are :mod:`fwilab.experiments.spamoe`'s).
"""

from .claims import GATE_SPREAD_MIN, ROUTING_DIFFERENCE_TV, judge_claims, training_gate
from .compute import family_difference, gate_spread, piece_name, run
from .config import CHAPTER, CONFIG, PAPER_VARIANTS, VARIANTS, RoutingConfig
