"""The Transformer / ConvNeXt feed-forward block: `fc2(act(fc1(x)))` (notes F3:2086-2148).

Names `fc1`, `act`, `fc2` follow timm's `Mlp`. With `use_conv=True` the two layers are 1x1
convolutions over `(B, C, H, W)` (timm's `conv_mlp` form, used by the small ConvNeXts), with
kernels `(out, in, 1, 1)`; otherwise `nn.Linear` over the last dimension `(..., C)`.

Why the conv form is computed as a convolution (issue 22): on CPU (torch 2.14, oneDNN,
channels_last activations, batch 32, 1 thread) forward + backward of each of ConvNeXt-atto's
MLP layers at 64 px ran 1.3-2.4x faster as a 1x1 convolution than as `F.linear` on the
channels-last view (e.g. 160 -> 640 on 4x4 maps: 1.57 against 2.93 ms); the linear form made
the whole atto training step about 0.8x timm's.
"""

from __future__ import annotations

from torch import Tensor, nn

from trainlab.models.layers.conv import make_act


def _conv1x1(in_features: int, out_features: int) -> nn.Conv2d:
    return nn.Conv2d(in_features, out_features, kernel_size=1)


class Mlp(nn.Module):
    """`Linear(in, hidden) -> act -> dropout -> Linear(hidden, out) -> dropout`.

    Input `(..., in)` for linear layers; `(B, in, H, W)` with `use_conv=True` (1x1 convs).
    """

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
        linear = _conv1x1 if use_conv else nn.Linear
        self.fc1 = linear(in_features, hidden_features)
        self.act = make_act(act)
        self.drop1 = nn.Dropout(drop) if drop > 0 else nn.Identity()
        self.fc2 = linear(hidden_features, out_features)
        self.drop2 = nn.Dropout(drop) if drop > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.drop2(self.fc2(self.drop1(self.act(self.fc1(x)))))
