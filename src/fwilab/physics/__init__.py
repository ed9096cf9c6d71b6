"""Forward modelling (acquisition, wavelet, finite-difference solver) and classic FWI."""
from .acquisition import OPENFWI, Acquisition, ricker
from .fwi import FWIResult, fwi, lowpass, smooth_initial_model
from .solver import ForwardModel, cell_updates, forward_model

__all__ = [
    "OPENFWI", "Acquisition", "ricker",
    "ForwardModel", "forward_model", "cell_updates",
    "FWIResult", "fwi", "lowpass", "smooth_initial_model",
]
