"""InversionNet (Wu & Lin 2019; OpenFWI ``network.py``): seismic gathers → velocity map.

An encoder of strided convolutions squeezes ``[batch, shot, time, receiver]`` data to one
``dims[4]``-vector per sample; a decoder of transposed convolutions grows it to a map and a
conv + BN + tanh layer gives the normalised velocity in (-1, 1).

Shapes come from the acquisition, never from literals. On the OpenFWI acquisition the network
is exactly OpenFWI's (24,409,123 trainable parameters):

==============  =====================  =============================
block           kernel / stride        output (OpenFWI acquisition)
==============  =====================  =============================
input                                  5 × 1000 × 70
convblock1      (7,1) s(2,1)           32 × 500 × 70
2_1 / 2_2       (3,1) s(2,1), then s1  64 × 250 × 70
3_1 / 3_2       (3,1) s(2,1), then s1  64 × 125 × 70
4_1 / 4_2       (3,1) s(2,1), then s1  128 × 63 × 70
5_1 / 5_2       3×3 s2, then s1        128 × 32 × 35
6_1 / 6_2       3×3 s2, then s1        256 × 16 × 18
7_1 / 7_2       3×3 s2, then s1        256 × 8 × 9
convblock8      8×9, no padding        512 × 1 × 1
deconv1_1/1_2   T-conv k5, 3×3 conv    512 × 5 × 5
deconv2..5      T-conv k4 s2 p1, 3×3   256×10², 128×20², 64×40², 32×80²
crop            centre                 32 × 70 × 70
deconv6         3×3 conv + BN + tanh   1 × 70 × 70
==============  =====================  =============================

Other acquisitions:

- ``convblock8``'s kernel is the encoder's final feature-map size, found by a dry shape
  calculation through blocks 1–7 (8×9 for OpenFWI, where OpenFWI writes ``(8, ceil(70/8))``),
  so the code is always 1×1.
- The decoder always grows 1×1 → 5×5 → 80×80 (five stages, as OpenFWI); the 80×80 map is then
  centre-cropped to ``(nz, nx)`` (``top = (80 − nz) // 2``, the odd row/column going to the
  bottom/right), which is OpenFWI's 5-pixel crop for 70×70. Maps larger than 80 cells are refused.
"""

from __future__ import annotations

import torch
from torch import nn

from fwilab.layers.conv import ConvBlock, ConvTanhBlock, DeconvBlock, center_crop
from fwilab.physics.acquisition import OPENFWI, Acquisition

#: OpenFWI network.py: InversionNet(dim1=32, dim2=64, dim3=128, dim4=256, dim5=512).
OFFICIAL_DIMS: tuple[int, int, int, int, int] = (32, 64, 128, 256, 512)

#: OpenFWI network.py decoder: deconv1_1 (k5) makes 5×5, four ×2 stages make 80×80.
DECODER_SIDE: int = 5 * 2 ** 4


def scaled_dims(width: float, dims: tuple[int, ...] = OFFICIAL_DIMS) -> tuple[int, ...]:
    """Channel widths ``dims`` multiplied by ``width`` (rounded, at least 1)."""
    if not width > 0:
        raise ValueError(f"width multiplier must be > 0, got {width}")
    return tuple(max(1, int(round(d * width))) for d in dims)


def inversionnet_decoder(dims: tuple[int, ...], norm: str = "bn") -> nn.Sequential:
    """InversionNet's decoder, ``[B, dims[4], 1, 1] → [B, dims[0], 80, 80]`` (OpenFWI ``deconv1_1`` … ``deconv5_2``).

    A transposed conv of kernel 5 (1×1 → 5×5) and four of kernel 4, stride 2 (→ 80×80), each followed
    by a 3×3 conv; widths ``dims[4], dims[3], …, dims[0]``. The map is centre-cropped and given its
    conv + tanh head by the caller (:class:`InversionNet`, UB-Diff's velocity decoder).
    """
    if len(dims) != 5:
        raise ValueError(f"InversionNet's decoder needs five channel widths (dim1..dim5), got {dims}")
    d1, d2, d3, d4, d5 = dims
    up = dict(kernel_size=4, stride=2, padding=1, norm=norm)
    decoder = nn.Sequential()
    for name, block in [
        ("deconv1_1", DeconvBlock(d5, d5, kernel_size=5, norm=norm)),
        ("deconv1_2", ConvBlock(d5, d5, norm=norm)),
        ("deconv2_1", DeconvBlock(d5, d4, **up)),
        ("deconv2_2", ConvBlock(d4, d4, norm=norm)),
        ("deconv3_1", DeconvBlock(d4, d3, **up)),
        ("deconv3_2", ConvBlock(d3, d3, norm=norm)),
        ("deconv4_1", DeconvBlock(d3, d2, **up)),
        ("deconv4_2", ConvBlock(d2, d2, norm=norm)),
        ("deconv5_1", DeconvBlock(d2, d1, **up)),
        ("deconv5_2", ConvBlock(d1, d1, norm=norm)),
    ]:
        decoder.add_module(name, block)
    return decoder


class InversionNet(nn.Module):
    """OpenFWI's InversionNet with shapes taken from an acquisition.

    Args:
        acquisition: survey geometry giving ``n_shots`` (input channels), ``nt``, ``n_receivers``
            and the output map ``(nz, nx)``. Default :data:`~fwilab.physics.acquisition.OPENFWI`.
        in_channels, nt, n_receivers, out_shape: the same four numbers given directly (instead of
            ``acquisition``; any left out is taken from OPENFWI).
        dims: channel widths ``(dim1, ..., dim5)``; default the official (32, 64, 128, 256, 512).
        width: multiplier on ``dims`` for smaller smoke/cpu-profile networks (default 1).
        norm: normalisation of every block, ``'bn'`` (official), ``'in'`` or ``'none'``.

    Forward: ``seismic [batch, shot, time, receiver]`` (normalised to [-1, 1]) →
    ``velocity [batch, 1, nz, nx]`` normalised to (-1, 1) (tanh).
    """

    def __init__(self, acquisition: Acquisition | None = None, *, in_channels: int | None = None,
                 nt: int | None = None, n_receivers: int | None = None,
                 out_shape: tuple[int, int] | None = None,
                 dims: tuple[int, int, int, int, int] = OFFICIAL_DIMS, width: float = 1.0,
                 norm: str = "bn"):
        super().__init__()
        explicit = (in_channels, nt, n_receivers, out_shape)
        if acquisition is not None and any(v is not None for v in explicit):
            raise ValueError("give either an acquisition or in_channels/nt/n_receivers/out_shape, not both")
        acq = acquisition if acquisition is not None else OPENFWI
        self.in_channels = int(in_channels if in_channels is not None else acq.n_shots)
        self.nt = int(nt if nt is not None else acq.nt)
        self.n_receivers = int(n_receivers if n_receivers is not None else acq.n_receivers)
        nz, nx = out_shape if out_shape is not None else (acq.nz, acq.nx)
        self.out_shape = (int(nz), int(nx))
        for name, v in (("in_channels", self.in_channels), ("nt", self.nt),
                        ("n_receivers", self.n_receivers), ("nz", nz), ("nx", nx)):
            if v < 1:
                raise ValueError(f"InversionNet: {name} must be >= 1, got {v}")
        if max(self.out_shape) > DECODER_SIDE:
            raise ValueError(
                f"InversionNet's decoder makes {DECODER_SIDE}×{DECODER_SIDE} maps; "
                f"an output of {nz}×{nx} is larger"
            )
        if len(dims) != 5:
            raise ValueError(f"InversionNet needs five channel widths (dim1..dim5), got {dims}")
        d1, d2, d3, d4, d5 = self.dims = scaled_dims(width, tuple(dims))

        # Encoder: time axis strided by 2 in blocks 1–4 (1-D kernels along time), both axes in 5–7.
        t_conv = dict(kernel_size=(3, 1), padding=(1, 0), norm=norm)
        self.encoder = nn.Sequential()
        enc = [
            ("convblock1", ConvBlock(self.in_channels, d1, kernel_size=(7, 1), stride=(2, 1),
                                     padding=(3, 0), norm=norm)),
            ("convblock2_1", ConvBlock(d1, d2, stride=(2, 1), **t_conv)),
            ("convblock2_2", ConvBlock(d2, d2, **t_conv)),
            ("convblock3_1", ConvBlock(d2, d2, stride=(2, 1), **t_conv)),
            ("convblock3_2", ConvBlock(d2, d2, **t_conv)),
            ("convblock4_1", ConvBlock(d2, d3, stride=(2, 1), **t_conv)),
            ("convblock4_2", ConvBlock(d3, d3, **t_conv)),
            ("convblock5_1", ConvBlock(d3, d3, stride=2, norm=norm)),
            ("convblock5_2", ConvBlock(d3, d3, norm=norm)),
            ("convblock6_1", ConvBlock(d3, d4, stride=2, norm=norm)),
            ("convblock6_2", ConvBlock(d4, d4, norm=norm)),
            ("convblock7_1", ConvBlock(d4, d4, stride=2, norm=norm)),
            ("convblock7_2", ConvBlock(d4, d4, norm=norm)),
        ]
        h, w = self.nt, self.n_receivers
        for name, block in enc:
            self.encoder.add_module(name, block)
            h, w = block.output_shape(h, w)
        #: encoder feature-map size before convblock8 (8×9 on the OpenFWI acquisition)
        self.code_kernel = (h, w)
        self.encoder.add_module("convblock8", ConvBlock(d4, d5, kernel_size=(h, w), padding=0, norm=norm))

        self.decoder = inversionnet_decoder(self.dims, norm)
        self.head = ConvTanhBlock(d1, 1, norm=norm)  # OpenFWI deconv6

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Shape of one input sample: (shot, time, receiver)."""
        return self.in_channels, self.nt, self.n_receivers

    def forward(self, seismic: torch.Tensor) -> torch.Tensor:
        """``seismic [batch, shot, time, receiver]`` → ``velocity [batch, 1, nz, nx]`` in (-1, 1)."""
        if seismic.dim() != 4 or tuple(seismic.shape[1:]) != self.input_shape:
            raise ValueError(
                f"InversionNet expects seismic data [batch, {self.in_channels}, {self.nt}, "
                f"{self.n_receivers}] (batch, shot, time, receiver), got {tuple(seismic.shape)}"
            )
        code = self.encoder(seismic)                    # [batch, dim5, 1, 1]
        x = self.decoder(code)                          # [batch, dim1, 80, 80]
        x = center_crop(x, *self.out_shape)             # [batch, dim1, nz, nx]
        return self.head(x)                             # [batch, 1, nz, nx]
