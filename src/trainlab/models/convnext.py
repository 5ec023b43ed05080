"""ConvNeXt (Liu et al. 2022, "A ConvNet for the 2020s"; notes F0:86-279).

    stem: patchify conv 4x4/4 -> LayerNorm2d                      (F0:93-102)
    stage i: [LayerNorm2d -> conv 2x2/2 (i > 0)] -> depths[i] x ConvNeXtBlock(dims[i])
    head: global average pool -> LayerNorm2d -> (dropout) -> fc

Stochastic depth grows linearly over all blocks (F0:69-78), layer scale starts at 1e-6 and
the classifier is initialized trunc-normal(0.02) times `head_init_scale`.

State-dict keys follow timm's `convnext.py` (`stem.0`, `stages.1.downsample.1`,
`stages.0.blocks.0.conv_dw`, `...mlp.fc1`, `...gamma`, `head.norm`, `head.fc`); like timm,
the atto/femto/pico/nano variants use 1x1-conv MLPs (`conv_mlp=True`), tiny/small/base
linear ones, each computed as timm computes it (outputs equal timm's to float32 rounding;
tests/models/test_timm_reference.py). The depthwise 7x7 is cropped to the taps that can reach
a small map (`SameConv2d`: a 3x3 on the 2x2 last stage of a 64 px input), the same function. convnext_tiny has 28,589,128 parameters for 1000 classes and 4.47 G
multiply-adds at 224x224 (tests).

Small inputs: the stem's patch size (4, 2 or 1) is the largest leaving >= 16 pixels per side
(`patch_size=None`); the three 2x downsamplings need >= 8 pixels, the smallest side allowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from trainlab.models._common import check_rate, image_shape, trunc_normal_init
from trainlab.models.layers import (
    ConvNeXtBlock,
    LayerNorm2d,
    adapt_stride,
    stage_drop_path_rates,
)
from trainlab.models.registry import register_model


class ConvNeXtStage(nn.Module):
    """`downsample` (LayerNorm2d + conv 2x2/2, or identity) then `blocks`."""

    def __init__(self, downsample: nn.Module, blocks: nn.Sequential) -> None:
        super().__init__()
        self.downsample = downsample
        self.blocks = blocks

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(self.downsample(x))


class NormHead(nn.Module):
    """Global average pool -> LayerNorm2d -> flatten -> dropout -> fc (ConvNeXt's head)."""

    def __init__(self, dim: int, num_classes: int, drop_rate: float = 0.0) -> None:
        super().__init__()
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.norm = LayerNorm2d(dim)
        self.flatten = nn.Flatten(1)
        self.drop = nn.Dropout(drop_rate) if drop_rate > 0 else nn.Identity()
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, h, w) -> (B, classes); pool, then LN
        return self.fc(self.drop(self.flatten(self.norm(self.global_pool(x)))))


class ConvNeXt(nn.Module):
    """ConvNeXt over `(B, C, H, W)` images."""

    def __init__(
        self,
        depths: Sequence[int] = (3, 3, 9, 3),
        dims: Sequence[int] = (96, 192, 384, 768),
        *,
        num_classes: int = 1000,
        in_chans: int = 3,
        patch_size: int = 4,
        conv_mlp: bool = False,
        kernel_size: int = 7,
        ls_init_value: float | None = 1e-6,
        head_init_scale: float = 1.0,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        drop_path_rule: str = "linear",
    ) -> None:
        super().__init__()
        if len(depths) != len(dims) or not depths:
            raise ValueError(f"depths {tuple(depths)} and dims {tuple(dims)} must be equal-length")
        check_rate("drop_rate", drop_rate)
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, dims[0], kernel_size=patch_size, stride=patch_size),  # patchify
            LayerNorm2d(dims[0]),
        )
        check_rate("drop_path_rate", drop_path_rate)
        rates = stage_drop_path_rates(drop_path_rate, depths, drop_path_rule)
        stages = []
        prev = dims[0]
        for i, (depth, dim) in enumerate(zip(depths, dims, strict=True)):
            downsample = (
                nn.Sequential(LayerNorm2d(prev), nn.Conv2d(prev, dim, kernel_size=2, stride=2))
                if i > 0
                else nn.Identity()
            )
            blocks = nn.Sequential(
                *(
                    ConvNeXtBlock(
                        dim,
                        kernel_size=kernel_size,
                        conv_mlp=conv_mlp,
                        ls_init_value=ls_init_value,
                        drop_path=rates[i][j],
                    )
                    for j in range(depth)
                )
            )
            stages.append(ConvNeXtStage(downsample, blocks))
            prev = dim
        self.stages = nn.Sequential(*stages)
        self.num_features = prev
        self.head = NormHead(prev, num_classes, drop_rate)
        trunc_normal_init(self, std=0.02)
        self.head.fc.weight.data.mul_(head_init_scale)
        self.head.fc.bias.data.mul_(head_init_scale)

    def forward_features(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, dims[-1], H/32, W/32)
        return self.stages(self.stem(x))

    def forward_head(self, x: Tensor) -> Tensor:
        return self.head(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


_VARIANTS: dict[str, tuple[tuple[int, ...], tuple[int, ...], bool]] = {
    "convnext_atto": ((2, 2, 6, 2), (40, 80, 160, 320), True),
    "convnext_femto": ((2, 2, 6, 2), (48, 96, 192, 384), True),
    "convnext_pico": ((2, 2, 6, 2), (64, 128, 256, 512), True),
    "convnext_nano": ((2, 2, 8, 2), (80, 160, 320, 640), True),
    "convnext_tiny": ((3, 3, 9, 3), (96, 192, 384, 768), False),
    "convnext_small": ((3, 3, 27, 3), (96, 192, 384, 768), False),
    "convnext_base": ((3, 3, 27, 3), (128, 256, 512, 1024), False),
}


def _convnext(
    name: str,
    *,
    num_classes: int,
    in_shape: Sequence[int],
    patch_size: int | None = None,
    **kwargs: Any,
) -> ConvNeXt:
    c, h, w = image_shape(name, in_shape, min_side=8)
    depths, dims, conv_mlp = _VARIANTS[name]
    if patch_size is None:
        patch_size = adapt_stride(min(h, w), 4, min_out=16)
    if min(h, w) // patch_size < 8:
        raise ValueError(
            f"{name}: patch_size={patch_size} leaves {min(h, w) // patch_size} pixels per side "
            f"for in_shape={tuple(in_shape)}; three 2x downsamplings need >= 8"
        )
    kwargs.setdefault("conv_mlp", conv_mlp)
    return ConvNeXt(
        depths, dims, num_classes=num_classes, in_chans=c, patch_size=patch_size, **kwargs
    )


def _make(name: str):  # one tiny registered entry function per variant
    def fn(*, num_classes: int, in_shape: Sequence[int], **kwargs: Any) -> ConvNeXt:
        return _convnext(name, num_classes=num_classes, in_shape=in_shape, **kwargs)

    depths, dims, conv_mlp = _VARIANTS[name]
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (
        f"ConvNeXt depths={depths}, dims={dims}, conv_mlp={conv_mlp}: "
        "kwargs drop_path_rate, drop_rate, ls_init_value, head_init_scale, patch_size."
    )
    return register_model(fn)


convnext_atto = _make("convnext_atto")
convnext_femto = _make("convnext_femto")
convnext_pico = _make("convnext_pico")
convnext_nano = _make("convnext_nano")
convnext_tiny = _make("convnext_tiny")
convnext_small = _make("convnext_small")
convnext_base = _make("convnext_base")
