"""Multi-layer perceptron (notes F3:1-21, F4 section 5).

    h_0 = flatten(x),  h_{l+1} = act(W_l h_l + b_l),  logits = W_L h_L + b_L

The input is flattened whatever its shape, so the MLP accepts vectors, signals and images.
The notes' MNIST networks are `mlp(widths=(128,))` (784-128-10, 101,770 parameters),
`(256, 128)` (235,146) and `(128, 64)` (109,386).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn

from trainlab.models.registry import register_model

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "silu": nn.SiLU,
}


def activation(name: str) -> nn.Module:
    """A fresh activation module by name (relu, gelu, tanh, sigmoid, silu)."""
    if name not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]()


class MLP(nn.Module):
    """Flatten, then `Linear -> act (-> dropout)` per hidden width, then a linear head."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        widths: Sequence[int] = (256, 128),
        act: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for w in widths:
            if w < 1:
                raise ValueError(f"hidden widths must be >= 1, got {list(widths)}")
            layers += [nn.Linear(width, w), activation(act)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = w
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:  # (B, ...) -> (B, num_classes)
        return self.net(x)


@register_model
def mlp(
    *,
    num_classes: int,
    in_shape: tuple[int, ...],
    widths: Sequence[int] = (256, 128),
    act: str = "relu",
    dropout: float = 0.0,
) -> MLP:
    """MLP over the flattened input; `widths` are the hidden layer sizes."""
    return MLP(math.prod(in_shape), num_classes, widths=widths, act=act, dropout=dropout)
