"""Drop path / stochastic depth (Huang et al. 2016, "Deep Networks with Stochastic Depth"; F0:69-78).

In training, each sample's residual branch is dropped with probability `p` and kept (and
rescaled) otherwise, so the block is the identity for that sample:

    drop_path(f(x)) = f(x) * m / (1 - p),   m ~ Bernoulli(1 - p) per sample

The rescaling by `1 / (1 - p)` keeps the expectation: E[drop_path(f(x))] = f(x), so eval
mode (identity) needs no correction. (The paper instead scales by the survival probability
at test time; dividing in training is the equivalent "inverted" form used by timm, DeiT and
ConvNeXt.)

The rate grows linearly with depth, "shallow blocks are kept more often, deep blocks are
dropped more often" (F0:69-78). Two rules exist, both offered by name:

- `"linear"` (timm, DeiT, ConvNeXt; the default): `torch.linspace(0, rate, n)`, so the
  first block has rate 0 and the last exactly `rate`.
- `"huang"` (the paper, eq. 4): `p_l = l / L * rate` for `l = 1..L`, so the first block is
  already dropped with rate `rate / L`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


def _check_prob(name: str, p: float) -> None:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {p}")


def drop_path(
    x: Tensor,
    p: float = 0.0,
    training: bool = False,
    *,
    scale_by_keep: bool = True,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Zero whole samples of `x` (shape `(B, ...)`) with probability `p`, scale the rest.

    Identity when `p == 0` or not `training`. `generator` (on `x`'s device) makes the mask
    reproducible; without it torch's default generator for that device is used.
    """
    if p == 0.0 or not training:
        return x
    keep = 1.0 - p
    # one Bernoulli draw per sample, broadcast over all other dims: (B, 1, 1, ...)
    mask = torch.empty((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype, device=x.device)
    mask.bernoulli_(keep, generator=generator)
    if scale_by_keep:
        mask.div_(keep)
    return x * mask


class DropPath(nn.Module):
    """Module form of `drop_path`; identity in eval mode."""

    def __init__(
        self,
        p: float = 0.0,
        *,
        scale_by_keep: bool = True,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        _check_prob("drop path rate p", p)
        self.p = p
        self.scale_by_keep = scale_by_keep
        self.generator = generator

    def forward(self, x: Tensor) -> Tensor:
        return drop_path(
            x, self.p, self.training, scale_by_keep=self.scale_by_keep, generator=self.generator
        )

    def extra_repr(self) -> str:
        return f"p={self.p:.4g}"


def drop_path_rates(rate: float, depths: int | Sequence[int], rule: str = "linear") -> list[float]:
    """Per-block drop-path rates growing linearly with depth, flattened over all stages.

    `depths` is the number of blocks (or a list of blocks per stage; the rule runs over
    their sum). `rule` is `"linear"` (linspace from 0 to `rate`, timm/ConvNeXt) or
    `"huang"` (`l / L * rate` for `l = 1..L`, the paper).
    """
    _check_prob("drop_path_rate", rate)
    n = depths if isinstance(depths, int) else sum(depths)
    if n < 1:
        raise ValueError(f"depths must contain at least one block, got {depths}")
    if rule == "linear":
        return [rate * i / (n - 1) if n > 1 else 0.0 for i in range(n)]
    if rule == "huang":
        return [rate * (i + 1) / n for i in range(n)]
    raise ValueError(f"drop path rule must be 'linear' or 'huang', got {rule!r}")


def split_by_stage(rates: Sequence[float], depths: Sequence[int]) -> list[list[float]]:
    """Split a flat list of per-block rates into per-stage lists of `depths` lengths."""
    out, start = [], 0
    for d in depths:
        out.append(list(rates[start : start + d]))
        start += d
    return out
