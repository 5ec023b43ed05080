"""Convolutions: conv-norm-act, grouped and depthwise-separable (notes F0:104-279, F3:783-909).

Parameter count of a `k x k` convolution from `C_in` to `C_out` channels in `g` groups:

    params = C_out * (k * k * C_in / g)   (+ C_out with bias)

A 3x3 convolution 256 -> 256 without bias has 589,824 parameters; with 32 groups (ResNeXt's
cardinality) 18,432 = 589,824 / 32; depthwise (g = 256, ConvNeXt) 2,304 (F0:155-182).
A depthwise-separable convolution is a depthwise `k x k` (spatial mixing, one filter per
channel) followed by a pointwise 1x1 (channel mixing) (F0:220-279).
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from trainlab.models.layers.norm import LayerNorm2d

_ACTS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


def make_act(name: str | None, inplace: bool = False) -> nn.Module:
    """Activation module by name (relu, gelu, silu, tanh, sigmoid); `None` gives identity."""
    if name is None:
        return nn.Identity()
    if name not in _ACTS:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(_ACTS)} or None")
    if name in ("relu", "silu") and inplace:
        return _ACTS[name](inplace=True)
    return _ACTS[name]()


def make_norm(name: str | None, channels: int, dims: int = 2) -> nn.Module:
    """Normalization over channels by name: "batch", "layer" (channels-first), or None."""
    if name is None:
        return nn.Identity()
    if name == "batch":
        return {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[dims](channels)
    if name == "layer":
        return LayerNorm2d(channels)
    raise ValueError(f"unknown norm {name!r}; expected 'batch', 'layer' or None")


def conv_nd(
    in_ch: int,
    out_ch: int,
    kernel_size: int,
    *,
    stride: int = 1,
    groups: int = 1,
    bias: bool = False,
    padding: int | None = None,
    dims: int = 2,
) -> nn.Module:
    """`Conv{dims}d` with 'same'-style padding `kernel_size // 2` by default.

    Raises `ValueError` when `groups` does not divide both channel counts.
    """
    for name, v in (("in_ch", in_ch), ("out_ch", out_ch), ("kernel_size", kernel_size)):
        if v < 1:
            raise ValueError(f"{name} must be >= 1, got {v}")
    if groups < 1 or in_ch % groups or out_ch % groups:
        raise ValueError(
            f"groups={groups} must divide in_ch={in_ch} and out_ch={out_ch} (cardinality)"
        )
    if dims not in (1, 2, 3):
        raise ValueError(f"dims must be 1, 2 or 3, got {dims}")
    conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dims]
    pad = kernel_size // 2 if padding is None else padding
    return conv(in_ch, out_ch, kernel_size, stride=stride, padding=pad, groups=groups, bias=bias)


def grouped_conv(
    in_ch: int, out_ch: int, kernel_size: int = 3, groups: int = 32, **kw: Any
) -> nn.Module:
    """Grouped convolution: `groups` parallel convolutions, each over `in_ch / groups` channels.

    It is ResNeXt's split-transform-merge with cardinality `groups` (F0:150-182).
    """
    return conv_nd(in_ch, out_ch, kernel_size, groups=groups, **kw)


def depthwise_conv(channels: int, kernel_size: int = 3, **kw: Any) -> nn.Module:
    """Depthwise convolution: one `k x k` filter per channel (groups = channels)."""
    return conv_nd(channels, channels, kernel_size, groups=channels, **kw)


def same_conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, groups: int = 1) -> Tensor:
    """Stride-1 'same' convolution (padding k // 2, odd k) with the kernel cropped to the taps
    that can reach the input.

    Output pixel i reads input i + d for the tap at offset d = u - k // 2; on a side of n
    pixels only |d| <= n - 1 can ever land inside it, every other tap multiplies zero padding.
    Cropping `c = max(0, k // 2 - (n - 1))` taps from each end (padding `k // 2 - c`) keeps
    exactly the products that are not zero, so the output equals `F.conv2d(x, weight, bias,
    padding=k // 2, groups=groups)`, and the cropped-off taps get the zero gradient they get
    there. It matters for ConvNeXt's 7x7 depthwise convs on the 2x2 last stage of a 64 px
    input: the 3x3 that remains ran its forward + backward 1.9x faster on CPU (channels_last;
    5.3x contiguous).
    """
    (kh, kw), (h, w) = weight.shape[-2:], x.shape[-2:]
    ch = max(0, kh // 2 - (h - 1)) if kh % 2 else 0
    cw = max(0, kw // 2 - (w - 1)) if kw % 2 else 0
    if ch or cw:
        weight = weight[:, :, ch : kh - ch, cw : kw - cw]
    return F.conv2d(x, weight, bias, padding=(kh // 2 - ch, kw // 2 - cw), groups=groups)


class SameConv2d(nn.Conv2d):
    """`nn.Conv2d(stride=1, padding=k // 2)` computed by :func:`same_conv2d` (kernel cropped
    to the input's extent); parameters `weight`, `bias` as `nn.Conv2d`'s."""

    def __init__(
        self, in_ch: int, out_ch: int, kernel_size: int, *, groups: int = 1, bias: bool = True
    ) -> None:
        super().__init__(
            in_ch, out_ch, kernel_size, padding=kernel_size // 2, groups=groups, bias=bias
        )

    def forward(self, x: Tensor) -> Tensor:  # (B, C_in, H, W) -> (B, C_out, H, W)
        return same_conv2d(x, self.weight, self.bias, self.groups)


def conv_params(
    in_ch: int, out_ch: int, kernel_size: int, groups: int = 1, bias: bool = False
) -> int:
    """Closed-form parameter count `C_out * k^2 * C_in / g (+ C_out)` (F0:155-182)."""
    return out_ch * kernel_size * kernel_size * (in_ch // groups) + (out_ch if bias else 0)


class ConvNormAct(nn.Sequential):
    """`conv -> norm -> act` with children named `conv`, `bn`, `act`.

    The conv has no bias when a norm follows (the norm's shift makes it redundant).
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel_size: int = 3,
        *,
        stride: int = 1,
        groups: int = 1,
        norm: str | None = "batch",
        act: str | None = "relu",
        dims: int = 2,
    ) -> None:
        super().__init__()
        self.conv = conv_nd(
            in_ch, out_ch, kernel_size, stride=stride, groups=groups, bias=norm is None, dims=dims
        )
        self.bn = make_norm(norm, out_ch, dims)
        self.act = make_act(act)


def conv_norm_act(
    in_ch: int,
    out_ch: int,
    *,
    dims: int = 2,
    kernel_size: int = 3,
    stride: int = 1,
    groups: int = 1,
    norm: str | None = "batch",
    act: str | None = "relu",
) -> ConvNormAct:
    """Functional-style constructor for `ConvNormAct` ('same' padding)."""
    return ConvNormAct(
        in_ch, out_ch, kernel_size, stride=stride, groups=groups, norm=norm, act=act, dims=dims
    )


class DepthwiseSeparableConv(nn.Module):
    """Depthwise `k x k` -> norm -> act -> pointwise 1x1 -> norm (-> act) (F0:220-279).

    Parameters (no bias, no norm): `C_in * k^2 + C_in * C_out`, against `C_in * C_out * k^2`
    for the standard convolution it replaces.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel_size: int = 3,
        *,
        stride: int = 1,
        norm: str | None = "batch",
        act: str | None = "relu",
        pw_act: bool = False,
        dims: int = 2,
    ) -> None:
        super().__init__()
        self.conv_dw = conv_nd(
            in_ch, in_ch, kernel_size, stride=stride, groups=in_ch, bias=norm is None, dims=dims
        )
        self.bn1 = make_norm(norm, in_ch, dims)
        self.act1 = make_act(act)
        self.conv_pw = conv_nd(in_ch, out_ch, 1, bias=norm is None, dims=dims)
        self.bn2 = make_norm(norm, out_ch, dims)
        self.act2 = make_act(act if pw_act else None)

    def forward(self, x: Tensor) -> Tensor:
        x = self.act1(self.bn1(self.conv_dw(x)))  # spatial mixing, per channel
        return self.act2(self.bn2(self.conv_pw(x)))  # channel mixing, per pixel
