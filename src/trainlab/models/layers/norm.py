"""Layer normalization for channels-first tensors (notes F3:2086-2148; ConvNeXt, Liu et al. 2022).

`nn.LayerNorm` normalizes the trailing dimensions, so for an image batch `(B, C, H, W)` it
would mix space and channels. ConvNeXt normalizes each pixel over its `C` channels only:

    y[b, :, h, w] = (x[b, :, h, w] - mean_c) / sqrt(var_c + eps) * weight + bias

`layer_norm_2d` does it by moving channels last, calling `F.layer_norm` (one fused kernel)
and moving them back; the permutes are free views, and for a `channels_last` tensor the
normalized axis is already contiguous in memory.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def layer_norm_2d(
    x: Tensor, weight: Tensor | None, bias: Tensor | None, eps: float = 1e-6
) -> Tensor:
    """LayerNorm over dim 1 of `(B, C, *spatial)`; `weight`/`bias` have shape `(C,)`."""
    # (B, C, H, W) -> (B, H, W, C) -> normalize over C -> back
    x = x.movedim(1, -1)
    x = F.layer_norm(x, (x.shape[-1],), weight, bias, eps)
    return x.movedim(-1, 1)


class LayerNorm2d(nn.LayerNorm):
    """`nn.LayerNorm(C)` applied over the channel axis of `(B, C, H, W)` (timm's `LayerNorm2d`).

    Parameter names and shapes (`weight`, `bias`: `(C,)`) are those of `nn.LayerNorm`, so
    checkpoints move between the two. The default `eps=1e-6` is ConvNeXt's.
    """

    def __init__(self, num_channels: int, eps: float = 1e-6, affine: bool = True) -> None:
        super().__init__(num_channels, eps=eps, elementwise_affine=affine)

    def forward(self, x: Tensor) -> Tensor:
        return layer_norm_2d(x, self.weight, self.bias, self.eps)
