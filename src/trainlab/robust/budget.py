"""Perturbation budgets and input bounds: checked, and mapped from the data's units to the
model's input space.

trainlab standardizes inputs, x_model = (x_data - mean) / std, with mean and std per channel
(images, signals) or per feature (vectors), from the training split. An attack runs on
x_model; the user states the budget in the data's own units (pixels as the data holds them,
e.g. digits in [0, 1] = pixel / 16). Because standardization is affine and per channel:

- L-inf: |delta_data| <= eps  <=>  |delta_model| <= eps / std, per channel: the model-space
  budget is the tensor eps / std (broadcast against one sample).
- L2: ||delta_data||_2 <= eps  <=>  ||delta_model * std||_2 <= eps  <=>
  ||delta_model / (eps / std)||_2 <= 1. The attacks read a tensor budget e this way for
  both norms: the threat set is {delta : ||delta / e||_p <= 1}, which for a plain number is
  the usual ball. With the same e = eps / std (and step alpha / std), PGD in model space
  takes exactly the steps PGD takes in data space (see `trainlab.robust.attacks`).
- bounds: [low, high] in data units become [(low - mean) / std, (high - mean) / std].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

Budget = float | Tensor
Bounds = tuple[float | Tensor, float | Tensor]

NORMS = ("linf", "l2")
#: slack when checking that inputs lie inside the bounds: standardization and its inverse
#: round in float32 (relative error ~6e-8 per operation), far below this
BOUNDS_ATOL = 1e-5


def check_norm(norm: str) -> str:
    if norm not in NORMS:
        raise ValueError(f"norm = {norm!r}: expected one of {', '.join(NORMS)}")
    return norm


def check_budget(name: str, value: Budget, x: Tensor, *, positive: bool = False) -> Tensor:
    """`value` (a number or a tensor broadcastable to one sample) as a tensor on x's device;
    >= 0 (or > 0 with `positive`) and finite."""
    if isinstance(value, bool) or not isinstance(value, int | float | Tensor):
        raise TypeError(f"{name}: expected a number or a tensor, got {type(value).__name__}")
    t = torch.as_tensor(value, dtype=x.dtype if x.is_floating_point() else torch.float32)
    t = t.to(x.device)
    bad = ~torch.isfinite(t) | ((t <= 0) if positive else (t < 0))
    if bool(bad.any()):
        shown = float(value) if not isinstance(value, Tensor) else value.tolist()
        want = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} = {shown}: expected a finite value {want}")
    if t.ndim > x.ndim - 1:
        raise ValueError(
            f"{name}: a tensor of shape {tuple(t.shape)} does not broadcast against one "
            f"sample of shape {tuple(x.shape[1:])}"
        )
    return t


def check_steps(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} = {value!r}: expected an integer >= 1")
    return value


def check_bounds(bounds: Bounds | None, x: Tensor) -> tuple[Tensor, Tensor] | None:
    """(low, high) as tensors on x's device, low <= high, and every input inside them."""
    if bounds is None:
        return None
    if not isinstance(bounds, tuple | list) or len(bounds) != 2:
        raise ValueError(f"bounds = {bounds!r}: expected a pair (low, high)")
    low, high = (torch.as_tensor(b, dtype=x.dtype).to(x.device) for b in bounds)
    if bool((low > high).any()):
        raise ValueError(f"bounds = ({_show(low)}, {_show(high)}): expected low <= high")
    below = x < low - BOUNDS_ATOL
    above = x > high + BOUNDS_ATOL
    if bool(below.any() | above.any()):
        raise ValueError(
            f"x: inputs outside the bounds ({_show(low)}, {_show(high)}): min "
            f"{float(x.min()):.4g}, max {float(x.max()):.4g}; expected low <= x <= high "
            "(in the model's input space)"
        )
    return low, high


def _show(t: Tensor) -> str:
    return f"{float(t):.4g}" if t.numel() == 1 else f"tensor of {t.numel()} values"


@dataclass(frozen=True)
class Threat:
    """A budget in the model's input space: `eps` and `alpha` broadcast against one sample,
    `bounds` (low, high) likewise (or None), `norm` 'linf' or 'l2'."""

    eps: Tensor
    alpha: Tensor | None
    bounds: tuple[Tensor, Tensor] | None
    norm: str = "linf"


@dataclass(frozen=True)
class InputSpace:
    """How a run's inputs were standardized (x_model = (x_data - mean) / std) and the range
    [low, high] they live in, in data units; `threat` maps a data-unit budget to the model."""

    mean: Tensor
    std: Tensor
    low: Tensor
    high: Tensor

    def to_model(self, value: Tensor | float) -> Tensor:
        """A data-unit input value (a pixel value, a trigger colour) in model space."""
        return (torch.as_tensor(value, dtype=torch.float32) - self.mean) / self.std

    def threat(self, eps: float, alpha: float | None = None, norm: str = "linf") -> Threat:
        """The model-space `Threat` of budget `eps` and step `alpha` in data units."""
        return to_model_space(
            eps, self.mean, self.std, alpha=alpha, bounds=(self.low, self.high), norm=norm
        )

    @classmethod
    def of(
        cls,
        train_x: Tensor | None,
        mean: Tensor,
        std: Tensor,
        in_shape: tuple[int, ...],
        bounds: tuple[float, float] | None = None,
    ) -> InputSpace:
        """From a run's statistics and its (standardized) training inputs `train_x`; `bounds`
        in data units overrides the default range (see `data_range`)."""
        if bounds is not None:
            low, high = (torch.tensor(float(b)) for b in bounds)
            if low > high:
                raise ValueError(f"bounds = {list(bounds)}: expected low <= high")
        elif train_x is not None:
            low, high = data_range(train_x.cpu(), mean, std, layout_of(in_shape))
        elif layout_of(in_shape) == "images":  # lazy image folders decode to [0, 1]
            low, high = torch.tensor(0.0), torch.tensor(1.0)
        else:
            raise ValueError(
                "bounds: the training split is not in memory (lazy data) and the data are not "
                "images; set robust.bounds = [low, high] in the data's units"
            )
        return cls(mean.float(), std.float(), low, high)


def to_model_space(
    eps: float,
    mean: Tensor,
    std: Tensor,
    *,
    alpha: float | None = None,
    bounds: tuple[Tensor | float, Tensor | float] | None = None,
    norm: str = "linf",
) -> Threat:
    """The model-space `Threat` of a budget `eps` (and step `alpha`) and `bounds` stated in
    the data's units, for inputs standardized as (x - mean) / std (see the module docstring)."""
    check_norm(norm)
    for name, v in (("eps", eps), ("alpha", alpha)):
        if v is not None and (not math.isfinite(v) or v < 0 or (name == "alpha" and v == 0)):
            want = "> 0" if name == "alpha" else ">= 0"
            raise ValueError(f"{name} = {v}: expected a finite value {want}")
    std = std.float()
    model_bounds = None
    if bounds is not None:
        low, high = (torch.as_tensor(b, dtype=torch.float32) for b in bounds)
        model_bounds = ((low - mean) / std, (high - mean) / std)
    return Threat(eps / std, alpha / std if alpha is not None else None, model_bounds, norm)


def data_range(x_model: Tensor, mean: Tensor, std: Tensor, layout: str) -> tuple[Tensor, Tensor]:
    """Default bounds in data units for a training split `x_model` (standardized).

    Images ('images'): the pixel range, [0, 1] when the data lies in it (digits, image
    folders), else [0, 255] when it lies in that, else the split's overall min and max.
    Vectors and signals: the training split's min and max per feature (per position).
    """
    x = x_model * std + mean  # back to data units, (N, ...)
    if layout == "images":
        lo, hi = float(x.min()), float(x.max())
        tol = 1e-4
        if lo >= -tol and hi <= 1 + tol:
            return torch.tensor(0.0), torch.tensor(1.0)
        if lo >= -tol and hi <= 255 + tol:
            return torch.tensor(0.0), torch.tensor(255.0)
        return torch.tensor(lo), torch.tensor(hi)
    return x.amin(dim=0), x.amax(dim=0)


def layout_of(in_shape: tuple[int, ...]) -> str:
    """'images' (C, H, W), 'signals' (C, L) or 'vectors' (D,)."""
    return {3: "images", 2: "signals"}.get(len(in_shape), "vectors")
