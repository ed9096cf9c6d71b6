"""Chapter "Routing statistics": does SPAMoE's router use all its experts, and does it route by geology?

One SPAMoE (the reference of the spectral chapter: bound enforced at the targets' median ρ, learned
top-2 routing over soft bands) is trained on the *union* of the families' training samples, once per
load-balancing variant — ``released`` (in the loss value, no gradient, as the released code does),
``gradient`` (the same term with its gradient: its target is the router's own top-k selection, so it
sharpens the gates rather than balancing them; see :mod:`fwilab.layers.router`) and ``uniform`` (target
1/E with its gradient, the released code's commented-out alternative: it pulls the mean gates toward
balance, which the selections need not follow) — so
one router sees every family and its decisions can be compared across families. While it trains,
:class:`~fwilab.experiments.spamoe.SPAMoEMonitor` records per batch the selection frequency and mean
gate, and per epoch every validation sample's gates and top-k choice, the band-to-expert matrix and
the experts' frequency preferences. The trained model's routing of each family's test samples is
recorded too.

Pieces: ``spamoe-lb-<variant>-s<k>``.

Cost (SPAMoE ``cpu`` model ≈ 0.11 s per training sample on 2 quiet cores):

* ``smoke``: two families, 2 training samples each, 2 epochs, tiny model: ~10 s (+ the tiny datasets).
* ``cpu``: 3 families × 32 training samples, 4 epochs, 3 variants × 1 seed: ≈ 3 × 55 s ≈ 3 min, on the
  datasets the baselines/spectral chapters cache (400/50/100, seed 0).
* ``full``: 5 families × 500 samples, 8 epochs, 3 variants × 2 seeds at released sizes: ≈ 20k training
  samples per run, at an assumed ≈ 300 samples/s on one H100 ≈ 70 s per piece, ≈ 7 min in all.

Where things are (every chapter package has the same four files):

* :mod:`.config`: :class:`RoutingConfig` with its presets and checks;
* :mod:`.compute`: ``run`` and :func:`family_difference` (a metric of every run); the training itself is
  :mod:`fwilab.experiments.spamoe`'s, shared with the spectral chapter;
* :mod:`.claims`: the threshold of "routes differently" and :func:`judge_claims` (the collapse and
  starvation shares are :mod:`fwilab.experiments.spamoe`'s).
"""

from .claims import ROUTING_DIFFERENCE_TV, judge_claims
from .compute import family_difference, run
from .config import CHAPTER, CONFIG, RoutingConfig
