"""Helpers shared by the architectures: input-shape validation and weight init."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn


def image_shape(model: str, in_shape: Sequence[int], min_side: int = 1) -> tuple[int, int, int]:
    """Validate `in_shape` as one image `(C, H, W)` with sides >= `min_side`."""
    shape = tuple(int(s) for s in in_shape)
    if len(shape) != 3:
        raise ValueError(
            f"{model} needs image inputs in_shape=(C, H, W), got {shape}; "
            "use 'cnn1d' for signals (C, L) and 'mlp' for vectors (D,)"
        )
    c, h, w = shape
    if c < 1 or min(h, w) < min_side:
        raise ValueError(
            f"{model} needs at least 1 channel and sides >= {min_side}, got in_shape={shape}"
        )
    return c, h, w


def trunc_normal_init(module: nn.Module, std: float = 0.02) -> None:
    """timm's ViT/ConvNeXt init: truncated normal(std) weights, zero biases for conv/linear."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            nn.init.trunc_normal_(m.weight, std=std, a=-2 * std, b=2 * std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def check_rate(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
