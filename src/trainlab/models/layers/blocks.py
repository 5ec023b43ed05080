"""Residual blocks: ResNet basic/bottleneck with cardinality (ResNeXt), and the ConvNeXt block.

ResNet (He et al. 2016; notes F3:1940-2084): `y = act(F(x) + shortcut(x))`, with the
shortcut a 1x1 conv + BN when the shape changes. ResNeXt (Xie et al. 2017; F0:120-182)
replaces the bottleneck's 3x3 by a grouped 3x3 with `cardinality` groups, each of width
`base_width * planes / 64`. The stride sits on the 3x3 (ResNet "v1.5", as in torchvision
and timm). Attribute names follow timm's `resnet.py`, so state_dict keys match.

ConvNeXt (Liu et al. 2022; F0:86-279): `y = x + drop_path(gamma * fc2(gelu(fc1(LN(dw7x7(x))))))`,
an inverted bottleneck (4x) with a depthwise 7x7 and layer scale `gamma` (init 1e-6).
"""

from __future__ import annotations

import math
from typing import cast

import torch
from torch import Tensor, nn

from trainlab.models.layers.conv import SameConv2d, conv_nd, make_act, make_norm
from trainlab.models.layers.drop import DropPath
from trainlab.models.layers.mlp import Mlp
from trainlab.models.layers.norm import LayerNorm2d


def _drop_path(p: float) -> nn.Module:
    return DropPath(p) if p > 0 else nn.Identity()


def downsample_shortcut(in_ch: int, out_ch: int, stride: int, dims: int = 2) -> nn.Module | None:
    """`Sequential(conv1x1(stride), BN)` when the shape changes, else `None` (identity)."""
    if stride == 1 and in_ch == out_ch:
        return None
    return nn.Sequential(
        conv_nd(in_ch, out_ch, 1, stride=stride, padding=0, dims=dims),
        make_norm("batch", out_ch, dims),
    )


class BasicBlock(nn.Module):
    """Two 3x3 convolutions (ResNet-18/34): conv-BN-act, conv-BN, + shortcut, act."""

    expansion = 1

    def __init__(
        self,
        in_ch: int,
        planes: int,
        stride: int = 1,
        *,
        groups: int = 1,
        drop_path: float = 0.0,
        act: str = "relu",
        dims: int = 2,
    ) -> None:
        super().__init__()
        out_ch = planes * self.expansion
        self.conv1 = conv_nd(in_ch, planes, 3, stride=stride, groups=groups, dims=dims)
        self.bn1 = make_norm("batch", planes, dims)
        self.act1 = make_act(act, inplace=True)
        self.conv2 = conv_nd(planes, out_ch, 3, groups=groups, dims=dims)
        self.bn2 = make_norm("batch", out_ch, dims)
        self.act2 = make_act(act, inplace=True)
        self.downsample = downsample_shortcut(in_ch, out_ch, stride, dims)
        self.drop_path = _drop_path(drop_path)

    def zero_init_last(self) -> None:
        """Start as the identity: the last BN's scale is zero (Goyal et al. 2017)."""
        nn.init.zeros_(cast(Tensor, self.bn2.weight))

    def forward(self, x: Tensor) -> Tensor:
        y = self.act1(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        # the shortcut after the branch (as timm), so its output is not alive during it; the
        # sum in place into the branch's fresh output, which no backward needs (BN saves its input)
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.act2(self.drop_path(y).add_(shortcut))


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (grouped: `cardinality`) -> 1x1 expand (x4), + shortcut.

    Inner width `floor(planes * base_width / 64) * cardinality`: ResNet-50 uses (1, 64),
    ResNeXt-50 32x4d uses (32, 4), i.e. 128 channels in 32 groups of 4 in the first stage.
    """

    expansion = 4

    def __init__(
        self,
        in_ch: int,
        planes: int,
        stride: int = 1,
        *,
        cardinality: int = 1,
        base_width: int = 64,
        drop_path: float = 0.0,
        act: str = "relu",
        dims: int = 2,
    ) -> None:
        super().__init__()
        width = int(math.floor(planes * (base_width / 64)) * cardinality)
        out_ch = planes * self.expansion
        self.conv1 = conv_nd(in_ch, width, 1, padding=0, dims=dims)
        self.bn1 = make_norm("batch", width, dims)
        self.act1 = make_act(act, inplace=True)
        self.conv2 = conv_nd(width, width, 3, stride=stride, groups=cardinality, dims=dims)
        self.bn2 = make_norm("batch", width, dims)
        self.act2 = make_act(act, inplace=True)
        self.conv3 = conv_nd(width, out_ch, 1, padding=0, dims=dims)
        self.bn3 = make_norm("batch", out_ch, dims)
        self.act3 = make_act(act, inplace=True)
        self.downsample = downsample_shortcut(in_ch, out_ch, stride, dims)
        self.drop_path = _drop_path(drop_path)

    def zero_init_last(self) -> None:
        """Start as the identity: the last BN's scale is zero (Goyal et al. 2017)."""
        nn.init.zeros_(cast(Tensor, self.bn3.weight))

    def forward(self, x: Tensor) -> Tensor:
        y = self.act1(self.bn1(self.conv1(x)))
        y = self.act2(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        shortcut = x if self.downsample is None else self.downsample(x)  # as in BasicBlock
        return self.act3(self.drop_path(y).add_(shortcut))


class ConvNeXtBlock(nn.Module):
    """dw 7x7 -> LayerNorm -> Linear(C, 4C) -> GELU -> Linear(4C, C) -> layer scale -> drop path.

    The two forms of timm's `ConvNeXtBlock`, with its parameter names and shapes:
    `conv_mlp=False` (ConvNeXt-T/S/B) permutes to `(B, H, W, C)` and runs `nn.LayerNorm` and
    `nn.Linear` layers `(4C, C)` there; `conv_mlp=True` (atto/femto/pico/nano) stays in
    `(B, C, H, W)`: `LayerNorm2d` (a free view on channels_last activations) and 1x1 convs
    `(4C, C, 1, 1)`. Both compute the same function. The residual sum is made in place
    (as timm's ResNet does) into the branch's fresh output, which no backward needs.
    """

    def __init__(
        self,
        dim: int,
        *,
        kernel_size: int = 7,
        mlp_ratio: float = 4.0,
        conv_mlp: bool = False,
        ls_init_value: float | None = 1e-6,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.conv_mlp = conv_mlp
        self.conv_dw = SameConv2d(dim, dim, kernel_size, groups=dim)  # cropped on small maps
        # over C of (B, C, H, W) with conv_mlp, of (B, H, W, C) without
        self.norm = LayerNorm2d(dim) if conv_mlp else nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(mlp_ratio * dim), use_conv=conv_mlp)
        self.gamma = (
            nn.Parameter(torch.full((dim,), float(ls_init_value)))
            if ls_init_value is not None
            else None
        )
        self.drop_path = _drop_path(drop_path)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, C, H, W)
        shortcut = x
        x = self.conv_dw(x)
        if self.conv_mlp:
            x = self.mlp(self.norm(x))
        else:
            x = self.mlp(self.norm(x.permute(0, 2, 3, 1))).permute(0, 3, 1, 2)  # via (B, H, W, C)
        if self.gamma is not None:
            x = x * self.gamma.view(1, -1, 1, 1)
        return self.drop_path(x).add_(shortcut)
