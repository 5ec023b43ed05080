"""A 1-D residual CNN for signals `(C, L)` (notes F3:783-909, 1940-2084).

    stem: conv k7 -> BN -> ReLU
    stage i: `blocks_per_stage` 1-D BasicBlocks of width widths[i] (stride 2 from stage 2,
             while the length allows)
    head: global average pool over time -> (dropout) -> linear

The same basic residual block as ResNet-18, with 1-D convolutions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from trainlab.models._common import check_rate
from trainlab.models.layers import BasicBlock, ConvNormAct, drop_path_rates
from trainlab.models.registry import register_model


class CNN1d(nn.Module):
    """Residual 1-D CNN over `(B, C, L)`."""

    def __init__(
        self,
        in_chans: int,
        length: int,
        num_classes: int,
        widths: Sequence[int] = (32, 64, 128),
        blocks_per_stage: int = 1,
        *,
        stem_kernel: int = 7,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if not widths or blocks_per_stage < 1:
            raise ValueError(
                f"widths must be non-empty and blocks_per_stage >= 1, got {widths}, {blocks_per_stage}"
            )
        check_rate("drop_rate", drop_rate)
        self.stem = ConvNormAct(in_chans, widths[0], stem_kernel, dims=1)
        check_rate("drop_path_rate", drop_path_rate)
        dpr = iter(drop_path_rates(drop_path_rate, len(widths) * blocks_per_stage))
        stages, ch = [], widths[0]
        for i, w in enumerate(widths):
            blocks = []
            for j in range(blocks_per_stage):
                stride = 2 if i > 0 and j == 0 and length >= 2 else 1
                length = (length + stride - 1) // stride
                blocks.append(BasicBlock(ch, w, stride, drop_path=next(dpr), dims=1))
                ch = w
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten(1))
        self.drop = nn.Dropout(drop_rate) if drop_rate > 0 else nn.Identity()
        self.head = nn.Linear(ch, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv1d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:  # (B, C, L) or (B, L) -> (B, classes)
        if x.ndim == 2:
            x = x.unsqueeze(1)  # one-channel signal
        return self.head(self.drop(self.pool(self.stages(self.stem(x)))))


@register_model
def cnn1d(
    *,
    num_classes: int,
    in_shape: Sequence[int],
    widths: Sequence[int] = (32, 64, 128),
    blocks_per_stage: int = 1,
    **kwargs: Any,
) -> CNN1d:
    """Residual 1-D CNN for signals `(C, L)` (or `(L,)`, read as one channel).

    kwargs: stem_kernel, drop_rate, drop_path_rate.
    """
    shape = tuple(int(s) for s in in_shape)
    if len(shape) == 1:
        shape = (1, *shape)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"cnn1d needs signals in_shape=(C, L) or (L,), got {tuple(in_shape)}")
    return CNN1d(shape[0], shape[1], num_classes, widths, blocks_per_stage, **kwargs)
