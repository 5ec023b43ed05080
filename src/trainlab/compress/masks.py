"""Unstructured pruning: weight masks that stay applied through training (notes F3:4393-4506).

A pruned weight tensor is computed as

    W = W_orig * m,      m in {0, 1}^shape

through `torch.nn.utils.parametrize`: the module's `weight` becomes the product, and the
optimizer updates `W_orig` (the parametrization's `original`). The entries of `W_orig` under
`m = 0` get a zero gradient, but weight decay and momentum may still move them; the weight
the model computes with is the product, so every pruned weight is exactly zero after every
optimizer step, whatever the optimizer does (test: 100 SGD steps with momentum and weight
decay, and AdamW). `make_permanent` folds the product back into a plain `weight`.

Magnitude pruning (Han et al. 2015; the notes' "absolute value" importance): remove the
`amount` fraction of weights with the smallest `|w|`, either per layer (each layer loses the
same fraction) or globally (one threshold across all layers, so layers with many small weights
lose more). Random pruning (the control) draws the mask from an explicit generator. Weights
already pruned count towards `amount` and stay pruned (masks only grow), so the same call
drives an iterative schedule: `amount` is the total sparsity to reach.

Which tensors: the `weight` of every `nn.Conv1d/2d/3d` and `nn.Linear` (biases and norms are
left alone, as `torch.nn.utils.prune.global_unstructured` is usually called).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

PRUNABLE = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
METHODS = ("global", "layer", "random")


class WeightMask(nn.Module):
    """The parametrization `W -> W * mask`; `mask` is a buffer (checkpointed with the model)."""

    mask: Tensor

    def __init__(self, mask: Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask.to(torch.bool))

    def forward(self, w: Tensor) -> Tensor:
        return w * self.mask


def check_amount(amount: float, name: str = "amount") -> float:
    """`amount` as a float in [0, 1), else a one-line ValueError."""
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise TypeError(f"{name} must be a number in [0, 1), got {type(amount).__name__}")
    if not 0.0 <= float(amount) < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {amount}")
    return float(amount)


def prunable(model: nn.Module) -> dict[str, nn.Module]:
    """Modules whose `weight` unstructured pruning masks, by qualified name."""
    return {n: m for n, m in model.named_modules() if isinstance(m, PRUNABLE)}


def _weight(m: Any) -> Tensor:
    """The weight a module computes with (the masked product when masked)."""
    return m.weight.detach()


def get_mask(m: Any) -> Tensor | None:
    """The mask of `m.weight`, or None when it is not masked."""
    if not parametrize.is_parametrized(m, "weight"):
        return None
    for p in m.parametrizations["weight"]:
        if isinstance(p, WeightMask):
            return p.mask
    return None


def masks_of(model: nn.Module) -> dict[str, Tensor]:
    """Every mask of `model` by module name (a copy; all-ones for unmasked prunable layers)."""
    out = {}
    for name, m in prunable(model).items():
        mask = get_mask(m)
        out[name] = (
            mask if mask is not None else torch.ones_like(_weight(m), dtype=torch.bool)
        ).clone()
    return out


def apply_masks(model: nn.Module, masks: dict[str, Tensor]) -> nn.Module:
    """Mask the layers named in `masks` (in place; an existing mask is replaced). Returns model."""
    layers = prunable(model)
    for name, mask in masks.items():
        if name not in layers:
            raise ValueError(
                f"masks: {name!r} is not a prunable layer; expected one of {sorted(layers)}"
            )
        m = layers[name]
        if tuple(mask.shape) != tuple(_weight(m).shape):
            raise ValueError(
                f"masks[{name!r}]: shape {tuple(mask.shape)} does not match the weight's "
                f"{tuple(_weight(m).shape)}"
            )
        mask = mask.to(device=_weight(m).device, dtype=torch.bool)
        existing = get_mask(m)
        if existing is not None:
            existing.copy_(mask)
        else:
            parametrize.register_parametrization(m, "weight", WeightMask(mask), unsafe=True)
    return model


def make_permanent(model: nn.Module) -> nn.Module:
    """Remove the masks: each masked `weight` becomes a plain parameter `W_orig * m` (in place)."""
    for m in prunable(model).values():
        if parametrize.is_parametrized(m, "weight"):
            parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
    return model


def _keep_count(n: int, amount: float) -> int:
    return n - round(amount * n)


def _scores(model: nn.Module) -> dict[str, Tensor]:
    """|w| with already-pruned entries at -1, so they are removed first and stay removed."""
    out = {}
    for name, m in prunable(model).items():
        s = _weight(m).abs().float()
        mask = get_mask(m)
        out[name] = s if mask is None else torch.where(mask, s, torch.full_like(s, -1.0))
    return out


def _top_mask(scores: Tensor, keep: int) -> Tensor:
    """Boolean mask of the `keep` largest entries of `scores` (exactly `keep`, ties by index)."""
    flat = scores.reshape(-1)
    mask = torch.zeros_like(flat, dtype=torch.bool)
    if keep > 0:
        mask[torch.topk(flat, keep, sorted=False).indices] = True
    return mask.view_as(scores)


def magnitude_masks(model: nn.Module, amount: float, *, scope: str = "global") -> dict[str, Tensor]:
    """Masks keeping the largest `|w|`: `scope="global"` one threshold across every prunable
    layer (`round(amount * N)` of all N weights removed), `"layer"` the same fraction per layer."""
    amount = check_amount(amount)
    if scope not in ("global", "layer"):
        raise ValueError(f"scope must be 'global' or 'layer', got {scope!r}")
    scores = _scores(model)
    if scope == "layer":
        return {n: _top_mask(s, _keep_count(s.numel(), amount)) for n, s in scores.items()}
    flat = torch.cat([s.reshape(-1).cpu() for s in scores.values()])  # (N,)
    keep = _top_mask(flat, _keep_count(flat.numel(), amount))
    out, start = {}, 0
    for n, s in scores.items():
        out[n] = keep[start : start + s.numel()].view_as(s).to(s.device)
        start += s.numel()
    return out


def random_masks(
    model: nn.Module, amount: float, *, generator: torch.Generator
) -> dict[str, Tensor]:
    """Random masks removing `amount` of each layer's weights (already-pruned ones first)."""
    amount = check_amount(amount)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator: expected a torch.Generator, got {type(generator).__name__}")
    out = {}
    for n, m in prunable(model).items():
        w = _weight(m)
        s = torch.rand(w.shape, generator=generator, device=generator.device).to(w.device)
        mask = get_mask(m)
        if mask is not None:
            s = torch.where(mask, s, torch.full_like(s, -1.0))
        out[n] = _top_mask(s, _keep_count(w.numel(), amount))
    return out


def prune_unstructured(
    model: nn.Module,
    amount: float,
    method: str = "global",
    *,
    generator: torch.Generator | None = None,
) -> dict[str, Tensor]:
    """Mask `model` in place to a total sparsity `amount` of its prunable weights.

    `method`: "global" (one magnitude threshold), "layer" (per-layer magnitude), "random"
    (per layer, needs `generator`). Returns the masks applied.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if method == "random":
        if generator is None:
            raise ValueError("method='random' needs an explicit generator (torch.Generator)")
        masks = random_masks(model, amount, generator=generator)
    else:
        masks = magnitude_masks(model, amount, scope=method)
    apply_masks(model, masks)
    return masks


@dataclass
class Sparsity:
    """Zero weights of the prunable layers: per layer `(zeros, total)` and overall."""

    layers: dict[str, tuple[int, int]]

    @property
    def zeros(self) -> int:
        return sum(z for z, _ in self.layers.values())

    @property
    def total(self) -> int:
        return sum(t for _, t in self.layers.values())

    @property
    def overall(self) -> float:
        return self.zeros / max(self.total, 1)

    def of(self, name: str) -> float:
        z, t = self.layers[name]
        return z / max(t, 1)


@torch.no_grad()
def sparsity(model: nn.Module) -> Sparsity:
    """Fraction of exactly-zero weights per prunable layer and overall (masked or not)."""
    return Sparsity(
        {n: (int((_weight(m) == 0).sum()), _weight(m).numel()) for n, m in prunable(model).items()}
    )
