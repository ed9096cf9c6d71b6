"""Which device a run uses: ``'auto' | 'cpu' | 'cuda' | 'cuda:N'`` resolved once, failing clearly where
CUDA is missing; and its name for provenance. A low layer: nothing here imports the rest of fwilab."""

from __future__ import annotations

import torch

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """Turn ``'auto' | 'cpu' | 'cuda' | 'cuda:N'`` into a device, failing clearly if CUDA is missing."""
    if isinstance(spec, torch.device):
        spec = str(spec)
    if not isinstance(spec, str):
        raise ValueError(f"device must be a string such as 'auto', 'cpu' or 'cuda', got {spec!r}")
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "cuda" or spec.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={spec!r} was asked for but no CUDA GPU is available on this machine "
                f"(torch {torch.__version__}); use device='auto' or 'cpu'"
            )
        return torch.device(spec)
    raise ValueError(f"unknown device {spec!r}: choose one of {', '.join(DEVICES)} (or 'cuda:N')")


def device_name(device: torch.device) -> str:
    """Human-readable device name for provenance, e.g. 'NVIDIA H100 80GB HBM3' or 'cpu (2 threads)'."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"
