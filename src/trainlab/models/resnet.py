"""ResNet (He et al. 2016) and ResNeXt (Xie et al. 2017) (notes F0:104-182, F3:1940-2084).

    stem: conv 7x7/2 -> BN -> ReLU -> maxpool 3x3/2         (downsamples by 4)
    layer1..4: residual blocks, planes 64/128/256/512, stride 1/2/2/2
    head: global average pool -> (dropout) -> fc

State-dict keys and shapes follow timm's `resnet.py` (`conv1`, `bn1`, `layer1.0.conv1`,
`layer1.0.downsample.0`, `fc`, ...), so timm/torchvision-layout checkpoints load with
`load_pretrained`. Parameter counts for 1000 classes: resnet50 25,557,032;
resnext50_32x4d 25,028,904 (tests).

Small inputs: the stem's stride (4 = conv/2 + maxpool, 2 = conv/2, 1 = conv/1, always a 7x7
conv so pretrained stems still load) is the largest that leaves >= 16 pixels per side for
layer1 (`stem_stride=None`); 224 -> 4, 64 -> 4, 32 -> 2, 8..16 -> 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from trainlab.models._common import check_rate, image_shape
from trainlab.models.layers import BasicBlock, Bottleneck, adapt_stride, drop_path_rates
from trainlab.models.registry import register_model


class ResNet(nn.Module):
    """ResNet/ResNeXt over `(B, C, H, W)` images."""

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: Sequence[int],
        *,
        num_classes: int = 1000,
        in_chans: int = 3,
        cardinality: int = 1,
        base_width: int = 64,
        stem_stride: int = 4,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        drop_path_rule: str = "linear",
        zero_init_last: bool = True,
    ) -> None:
        super().__init__()
        if len(layers) != 4:
            raise ValueError(f"layers must give 4 stage depths, got {tuple(layers)}")
        if stem_stride not in (1, 2, 4):
            raise ValueError(f"stem_stride must be 1, 2 or 4, got {stem_stride}")
        check_rate("drop_rate", drop_rate)
        self.conv1 = nn.Conv2d(in_chans, 64, 7, stride=min(stem_stride, 2), padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.act1 = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1) if stem_stride == 4 else nn.Identity()

        check_rate("drop_path_rate", drop_path_rate)
        dpr = iter(drop_path_rates(drop_path_rate, sum(layers), rule=drop_path_rule))
        in_ch = 64
        stages: list[nn.Sequential] = []
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), layers, strict=True)):
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                if block is Bottleneck:
                    blk: nn.Module = Bottleneck(
                        in_ch,
                        planes,
                        stride,
                        cardinality=cardinality,
                        base_width=base_width,
                        drop_path=next(dpr),
                    )
                else:
                    blk = BasicBlock(in_ch, planes, stride, groups=cardinality, drop_path=next(dpr))
                blocks.append(blk)
                in_ch = planes * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.num_features = in_ch
        self.global_pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.drop = nn.Dropout(drop_rate) if drop_rate > 0 else nn.Identity()
        self.fc = nn.Linear(in_ch, num_classes)
        self._init_weights(zero_init_last)

    def _init_weights(self, zero_init_last: bool) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_last:
            for m in self.modules():
                if isinstance(m, (BasicBlock, Bottleneck)):
                    m.zero_init_last()

    def forward_features(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, F, H/32, W/32)
        x = self.maxpool(self.act1(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward_head(self, x: Tensor) -> Tensor:
        return self.fc(self.drop(self.global_pool(x)))

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


def _resnet(
    name: str,
    block: type,
    layers: Sequence[int],
    *,
    num_classes: int,
    in_shape: Sequence[int],
    stem_stride: int | None = None,
    **kwargs: Any,
) -> ResNet:
    c, h, w = image_shape(name, in_shape)
    if stem_stride is None:
        stem_stride = adapt_stride(min(h, w), 4, min_out=16)
    return ResNet(
        block, layers, num_classes=num_classes, in_chans=c, stem_stride=stem_stride, **kwargs
    )


@register_model
def resnet18(*, num_classes: int, in_shape: Sequence[int], **kwargs: Any) -> ResNet:
    """ResNet-18: BasicBlock x (2, 2, 2, 2); 11,689,512 parameters at 1000 classes.

    kwargs: drop_path_rate, drop_path_rule, drop_rate, stem_stride (None|1|2|4), zero_init_last.
    """
    return _resnet(
        "resnet18", BasicBlock, (2, 2, 2, 2), num_classes=num_classes, in_shape=in_shape, **kwargs
    )


@register_model
def resnet34(*, num_classes: int, in_shape: Sequence[int], **kwargs: Any) -> ResNet:
    """ResNet-34: BasicBlock x (3, 4, 6, 3); 21,797,672 parameters.

    kwargs: drop_path_rate, drop_path_rule, drop_rate, stem_stride (None|1|2|4), zero_init_last.
    """
    return _resnet(
        "resnet34", BasicBlock, (3, 4, 6, 3), num_classes=num_classes, in_shape=in_shape, **kwargs
    )


@register_model
def resnet50(*, num_classes: int, in_shape: Sequence[int], **kwargs: Any) -> ResNet:
    """ResNet-50: Bottleneck x (3, 4, 6, 3); 25,557,032 parameters, 4.09 G MACs at 224.

    kwargs: drop_path_rate, drop_path_rule, drop_rate, stem_stride (None|1|2|4), zero_init_last.
    """
    return _resnet(
        "resnet50", Bottleneck, (3, 4, 6, 3), num_classes=num_classes, in_shape=in_shape, **kwargs
    )


@register_model
def resnet101(*, num_classes: int, in_shape: Sequence[int], **kwargs: Any) -> ResNet:
    """ResNet-101: Bottleneck x (3, 4, 23, 3); 44,549,160 parameters.

    kwargs: drop_path_rate, drop_path_rule, drop_rate, stem_stride (None|1|2|4), zero_init_last.
    """
    return _resnet(
        "resnet101", Bottleneck, (3, 4, 23, 3), num_classes=num_classes, in_shape=in_shape, **kwargs
    )


@register_model
def resnext50_32x4d(*, num_classes: int, in_shape: Sequence[int], **kwargs: Any) -> ResNet:
    """ResNeXt-50 32x4d: Bottleneck x (3, 4, 6, 3), cardinality 32, width 4; 25,028,904.

    kwargs: drop_path_rate, drop_path_rule, drop_rate, stem_stride (None|1|2|4), zero_init_last.
    """
    return _resnet(
        "resnext50_32x4d",
        Bottleneck,
        (3, 4, 6, 3),
        num_classes=num_classes,
        in_shape=in_shape,
        cardinality=32,
        base_width=4,
        **kwargs,
    )


__all__ = ["ResNet", "resnet18", "resnet34", "resnet50", "resnet101", "resnext50_32x4d"]
