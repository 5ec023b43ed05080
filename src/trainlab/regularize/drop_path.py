"""Drop path / stochastic depth (F0:69-78).

Huang et al., 2016, "Deep Networks with Stochastic Depth": in training each sample skips a
residual branch with probability p; the survivors are scaled by 1 / (1 - p) so that
E[drop_path(x)] = x, and at evaluation the branch is the identity (the notes describe the
skip, SCOPE.md fixes the scaling). Used as ``x + drop_path(branch(x))``. The rate grows
linearly with depth: :func:`drop_path_rates` gives timm/ConvNeXt's ``linspace(0, rate, L)``
(rule ``"linear"``) or the paper's p_l = l / L * rate (rule ``"paper"``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from trainlab._validate import check_int, check_probability


def _check_p(p: float) -> float:
    return check_probability("drop_prob", p)


def drop_path(
    x: Tensor,
    drop_prob: float = 0.0,
    training: bool = False,
    *,
    scale_by_keep: bool = True,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Zero whole samples (dim 0) with probability ``drop_prob``; keep the rest scaled by
    1 / (1 - p). Identity when not ``training`` or p = 0.

    Randomness: ``generator`` if given, else torch's default generator (as ``nn.Dropout``),
    so ``torch.manual_seed`` and the trainer's RNG checkpoint govern it.
    """
    p = _check_p(drop_prob)
    if not training or p == 0.0:
        return x
    keep = 1.0 - p
    shape = (x.shape[0],) + (1,) * (x.dim() - 1)  # (N, 1, 1, ...): one draw per sample
    if generator is None:
        u = torch.rand(shape, device=x.device, dtype=torch.float32)
    else:
        u = torch.rand(shape, generator=generator, device=generator.device).to(x.device)
    mask = (u < keep).to(x.dtype)
    if scale_by_keep and keep > 0.0:
        mask.div_(keep)
    return x * mask


class DropPath(nn.Module):
    """:func:`drop_path` as a module; active in ``train()`` mode only."""

    def __init__(
        self,
        drop_prob: float = 0.0,
        *,
        scale_by_keep: bool = True,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.drop_prob = _check_p(drop_prob)
        self.scale_by_keep = scale_by_keep
        self.generator = generator

    def forward(self, x: Tensor) -> Tensor:
        return drop_path(x, self.drop_prob, self.training, scale_by_keep=self.scale_by_keep,
                         generator=self.generator)  # fmt: skip

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob:.3f}"


def drop_path_rates(rate: float, depth: int, *, rule: str = "linear") -> list[float]:
    """Per-block drop rates growing linearly with depth.

    ``"linear"``: rate * i / (L - 1), i = 0..L-1 (timm, ConvNeXt: the first block is never
    dropped, the last at ``rate``). ``"paper"``: rate * l / L, l = 1..L (Huang et al.).
    """
    _check_p(rate)
    check_int("depth", depth, lo=0)
    if rule == "linear":
        return [rate * i / (depth - 1) if depth > 1 else 0.0 for i in range(depth)]
    if rule == "paper":
        return [rate * (i + 1) / depth for i in range(depth)]
    raise ValueError(f"rule: expected 'linear' or 'paper', got {rule!r}")
