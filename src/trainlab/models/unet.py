"""U-Net for per-pixel classification (Ronneberger, Fischer and Brox, 2015).

An encoder of ``len(widths)`` stages, each two 3x3 conv-norm-act blocks, with 2x max
pooling between stages (depth = ``len(widths) - 1`` poolings); a decoder that at each
level upsamples 2x (a 2x2 stride-2 ``ConvTranspose2d`` halving the channels, or bilinear
interpolation followed by a 1x1 convolution), concatenates the encoder's feature map of
that level (the skip connection) and applies two more 3x3 blocks; then a 1x1 convolution to
``num_classes`` logits per pixel:

    (B, C, H, W) -> (B, num_classes, H, W)

Unlike the paper's unpadded ("valid") 3x3 convolutions, which shrink a 572x572 input to a
388x388 map, the convolutions here are 'same'-padded, so the output has the input's size.
Any H, W works: the input is zero-padded on the bottom and right to a multiple of
``2**depth`` (zero is the mean of standardized inputs) and the logits are cropped back.

Parameters (batch norm; convolutions followed by a norm have no bias), with
``w = widths``, ``d = len(w) - 1`` and ``block(a, b) = 9 a b + 2 b + 9 b b + 2 b``:

    encoder   block(C, w0) + sum_{i=1..d} block(w_{i-1}, w_i)
    decoder   sum_{i=0..d-1} [4 w_{i+1} w_i + w_i  (transposed conv, with bias)
                              + block(2 w_i, w_i)]
    head      K w0 + K

FLOPs (``trainlab models show unet --input 1x64x64``): ``torch.utils.flop_counter`` counts
the 3x3 and 1x1 convolutions and the transposed convolutions (2 Cin Cout k^2 per *input*
pixel); it has no formula for bilinear interpolation (``upsample='bilinear'``), which the
summary then names in its warning and counts as 0 (4 multiply-adds per output value).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trainlab.models._common import image_shape
from trainlab.models.layers import conv_norm_act
from trainlab.models.registry import register_model

__all__ = ["UNet", "unet"]


def _double_conv(in_ch: int, out_ch: int, norm: str | None, act: str) -> nn.Sequential:
    return nn.Sequential(
        conv_norm_act(in_ch, out_ch, norm=norm, act=act),
        conv_norm_act(out_ch, out_ch, norm=norm, act=act),
    )


class _Up(nn.Module):
    """Upsample 2x to ``out_ch`` channels, concatenate the skip, two 3x3 blocks."""

    def __init__(self, in_ch: int, out_ch: int, upsample: str, norm: str | None, act: str):
        super().__init__()
        if upsample == "transpose":
            self.up: nn.Module = nn.ConvTranspose2d(in_ch, out_ch, kernel_size=2, stride=2)
        else:
            self.up = nn.Sequential(
                nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                nn.Conv2d(in_ch, out_ch, kernel_size=1),
            )
        self.conv = _double_conv(2 * out_ch, out_ch, norm, act)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = self.up(x)  # (B, in_ch, h, w) -> (B, out_ch, 2h, 2w)
        return self.conv(torch.cat([skip, x], dim=1))  # (B, 2 out_ch, 2h, 2w) -> (B, out_ch, ..)


class UNet(nn.Module):
    """U-Net with encoder widths ``widths`` (see the module docstring)."""

    def __init__(
        self,
        in_shape: Sequence[int],
        num_classes: int,
        widths: Sequence[int] = (16, 32, 64),
        *,
        norm: str | None = "batch",
        act: str = "relu",
        upsample: str = "transpose",
    ) -> None:
        super().__init__()
        c, _, _ = image_shape("unet", in_shape)
        widths = tuple(int(w) for w in widths)
        if len(widths) < 2 or any(w < 1 for w in widths):
            raise ValueError(f"unet widths={widths}; expected at least 2 positive widths")
        if upsample not in ("transpose", "bilinear"):
            raise ValueError(f"unet upsample={upsample!r}; expected 'transpose' or 'bilinear'")
        self.depth = len(widths) - 1
        self.down = nn.ModuleList(
            _double_conv(cin, cout, norm, act)
            for cin, cout in zip((c, *widths[:-1]), widths, strict=True)
        )
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList(
            _Up(widths[i + 1], widths[i], upsample, norm, act) for i in reversed(range(self.depth))
        )
        self.head = nn.Conv2d(widths[0], num_classes, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, K, H, W)
        h, w = x.shape[-2:]
        m = 2**self.depth
        if h % m or w % m:  # right/bottom zeros up to a multiple of 2^depth
            x = F.pad(x, (0, -w % m, 0, -h % m))
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        x = skips.pop()  # the bottleneck, (B, w_d, H / 2^d, W / 2^d)
        for up in self.up:
            x = up(x, skips.pop())
        return self.head(x)[..., :h, :w]


@register_model
def unet(
    *,
    num_classes: int,
    in_shape: tuple[int, ...],
    widths: Sequence[int] = (16, 32, 64),
    norm: str | None = "batch",
    act: str = "relu",
    upsample: str = "transpose",
) -> UNet:
    """Small U-Net for segmentation: per-pixel logits (B, num_classes, H, W)."""
    return UNet(in_shape, num_classes, widths, norm=norm, act=act, upsample=upsample)
