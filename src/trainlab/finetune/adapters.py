"""Houlsby adapters: bottleneck modules after the attention and MLP sublayers (Houlsby et
al. 2019; notes F3:2907-2957).

    adapter(h) = h + W_up f(W_down h + b_down) + b_up,   W_down: d -> m, W_up: m -> d

inserted on a sublayer's output before the block's residual sum (Houlsby's placement), so a
pre-norm block becomes ``x + adapter(attn(norm1(x)))`` and ``x + adapter(mlp(norm2(x)))``.
With f = GELU and 2 d m + m + d parameters per adapter (d = 768, m = 64: 99,136). W_up and
b_up start at zero, so every adapter is the identity at first and the model's initial
output is the base model's; W_down keeps torch's Linear init (nonzero) so W_up gets a
gradient from the first step. The notes' variant adds a LayerNorm in front
(``h + Adapter(LN(h))``); Houlsby instead trains the block's LayerNorms, which
`finetune.train` can name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch.nn.functional as F
from torch import Tensor, nn

from trainlab.finetune.targets import match_modules, set_submodule
from trainlab.models.layers import Mlp, MultiHeadSelfAttention

DEFAULT_TARGETS = ("attn", "mlp")


def adapter(h: Tensor, down: nn.Linear, up: nn.Linear) -> Tensor:
    """`h + up(gelu(down(h)))` over the last dimension."""
    return h + up(F.gelu(down(h)))


class Adapter(nn.Module):
    """The bottleneck `d -> m -> d` with GELU and its own residual connection."""

    def __init__(self, dim: int, bottleneck: int = 64) -> None:
        super().__init__()
        for name, v in (("dim", dim), ("bottleneck", bottleneck)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"{name}: expected an int > 0, got {v!r}")
        self.down = nn.Linear(dim, bottleneck)
        self.up = nn.Linear(bottleneck, dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, h: Tensor) -> Tensor:  # (..., d) -> (..., d)
        return adapter(h, self.down, self.up)


class Adapted(nn.Module):
    """`adapter(sublayer(*args))`: a sublayer (its arguments passed through) and its adapter."""

    def __init__(self, sublayer: nn.Module, dim: int, bottleneck: int = 64) -> None:
        super().__init__()
        self.sublayer = sublayer
        self.adapter = Adapter(dim, bottleneck)

    def forward(self, *args: Any, **kwargs: Any) -> Tensor:
        return self.adapter(self.sublayer(*args, **kwargs))


def _out_dim(name: str, m: nn.Module) -> int:
    if isinstance(m, MultiHeadSelfAttention):
        return m.proj.out_features
    if isinstance(m, Mlp):
        return cast(nn.Linear, m.fc2).out_features
    if isinstance(m, nn.Linear):
        return m.out_features
    width = None
    for x in m.modules():
        if isinstance(x, nn.Linear):
            width = x.out_features  # the last Linear's
    if width is None:
        raise ValueError(f"finetune.targets: cannot tell the output width of {name!r}")
    return width


def apply_adapters(
    model: nn.Module,
    targets: Sequence[str] = DEFAULT_TARGETS,
    bottleneck: int = 64,
    *,
    kinds: tuple[type[nn.Module], ...] = (MultiHeadSelfAttention, Mlp, nn.Linear),
) -> list[str]:
    """Put an adapter after every module of `kinds` whose name matches `targets` (default:
    each block's `attn` and `mlp` sublayers), in place. Returns the wrapped names. The base
    is left as it is (`trainlab.finetune.freeze_base` freezes it)."""
    if isinstance(bottleneck, bool) or not isinstance(bottleneck, int) or bottleneck <= 0:
        raise ValueError(f"bottleneck: expected an int > 0, got {bottleneck!r}")
    found = match_modules(model, targets, kinds, what="finetune.targets")
    names = [n for n, _ in found]
    # outermost matches only (an Mlp's fc1 inside a matched Mlp is not wrapped twice)
    outer = [(n, m) for n, m in found if not any(n.startswith(o + ".") for o in names)]
    for name, module in outer:
        if isinstance(module, Adapted):
            continue
        set_submodule(model, name, Adapted(module, _out_dim(name, module), bottleneck))
    return [n for n, _ in outer]
