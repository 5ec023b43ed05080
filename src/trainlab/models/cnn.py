"""A small convolutional network that adapts to its input (notes F3:783-909).

Stages of `conv-norm-act` blocks, each stage followed by 2x max pooling while the spatial
size allows it, then global average pooling and a linear head. Images `(C, H, W)` use 2-D
convolutions, signals `(C, L)` 1-D ones, so the same recipe works on both.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from trainlab.models.layers import conv_norm_act
from trainlab.models.registry import register_model


class CNN(nn.Module):
    """`stages` of `blocks_per_stage` conv-norm-act blocks with pooling, GAP, dropout, head."""

    def __init__(
        self,
        in_shape: tuple[int, ...],
        num_classes: int,
        widths: Sequence[int] = (32, 64, 128),
        blocks_per_stage: int = 1,
        act: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if len(in_shape) not in (2, 3):
            raise ValueError(
                f"cnn needs images (C, H, W) or signals (C, L), got input shape {in_shape}; "
                "use 'mlp' for vectors"
            )
        dims = len(in_shape) - 1
        pool = nn.MaxPool2d if dims == 2 else nn.MaxPool1d
        gap = nn.AdaptiveAvgPool2d if dims == 2 else nn.AdaptiveAvgPool1d
        layers: list[nn.Module] = []
        ch, size = in_shape[0], min(in_shape[1:])
        for i, w in enumerate(widths):
            for _ in range(blocks_per_stage):
                layers.append(conv_norm_act(ch, w, dims=dims, act=act))
                ch = w
            if i < len(widths) - 1 and size >= 2:  # pool between stages while size allows
                layers.append(pool(2))
                size //= 2
        self.features = nn.Sequential(*layers)
        self.pool = nn.Sequential(gap(1), nn.Flatten())
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(ch, num_classes)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) or (B, C, L) -> (B, classes)
        return self.head(self.drop(self.pool(self.features(x))))


@register_model
def cnn(
    *,
    num_classes: int,
    in_shape: tuple[int, ...],
    widths: Sequence[int] = (32, 64, 128),
    blocks_per_stage: int = 1,
    act: str = "relu",
    dropout: float = 0.0,
) -> CNN:
    """Small conv-norm-act CNN for images or 1-D signals."""
    return CNN(in_shape, num_classes, widths, blocks_per_stage, act, dropout)
