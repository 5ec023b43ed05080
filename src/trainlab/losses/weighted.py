"""A weighted sum of losses: the notes' multi-task loss (F4:1920-1945).

    L(x, y) = sum_i w_i L_i(x, y),   w_i > 0

Every term sees the same model output and target (e.g. per-pixel cross-entropy plus Dice
on segmentation logits). ``parts`` returns the unweighted terms, for logging each one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn

__all__ = ["WeightedLoss"]


class WeightedLoss(nn.Module):
    """``sum_i weight_i * loss_i(input, target)`` over named terms ``(name, weight, loss)``."""

    def __init__(self, terms: Sequence[tuple[str, float, nn.Module]]) -> None:
        super().__init__()
        if not terms:
            raise ValueError("terms is empty; expected at least one (name, weight, loss)")
        for name, weight, _ in terms:
            number = isinstance(weight, (int, float)) and not isinstance(weight, bool)
            if not number or not math.isfinite(weight) or weight <= 0:
                raise ValueError(
                    f"weight of loss term {name!r} is {weight!r}; expected a number > 0"
                )
        self.names = [name for name, _, _ in terms]
        self.weights = [float(w) for _, w, _ in terms]
        self.losses = nn.ModuleList([loss for _, _, loss in terms])

    def parts(self, input: Tensor, target: Tensor) -> dict[str, Tensor]:
        """Each term's unweighted value, keyed by its name (``name#i`` for repeated names)."""
        out: dict[str, Tensor] = {}
        for i, (name, loss) in enumerate(zip(self.names, self.losses, strict=True)):
            out[name if name not in out else f"{name}#{i}"] = loss(input, target)
        return out

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        total: Tensor | None = None
        for w, v in zip(self.weights, self.parts(input, target).values(), strict=True):
            total = w * v if total is None else total + w * v
        assert total is not None  # at least one term (checked in __init__)
        return total

    def extra_repr(self) -> str:
        return " + ".join(f"{w:g} * {n}" for n, w in zip(self.names, self.weights, strict=True))
