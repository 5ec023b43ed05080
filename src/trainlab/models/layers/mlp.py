"""The Transformer / ConvNeXt feed-forward block: `fc2(act(fc1(x)))` (notes F3:2086-2148).

Names `fc1`, `act`, `fc2` follow timm's `Mlp`. With `use_conv=True` the two linears are
1x1 convolutions over `(B, C, H, W)` (same function, weights shaped `(out, in, 1, 1)`).
"""

from __future__ import annotations

from torch import Tensor, nn

from trainlab.models.layers.conv import make_act


class Mlp(nn.Module):
    """`Linear(in, hidden) -> act -> dropout -> Linear(hidden, out) -> dropout`."""

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        out_features: int | None = None,
        *,
        act: str = "gelu",
        drop: float = 0.0,
        use_conv: bool = False,
    ) -> None:
        super().__init__()
        out_features = out_features or in_features
        linear = (lambda i, o: nn.Conv2d(i, o, 1)) if use_conv else nn.Linear
        self.fc1 = linear(in_features, hidden_features)
        self.act = make_act(act)
        self.drop1 = nn.Dropout(drop) if drop > 0 else nn.Identity()
        self.fc2 = linear(hidden_features, out_features)
        self.drop2 = nn.Dropout(drop) if drop > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.drop2(self.fc2(self.drop1(self.act(self.fc1(x)))))
