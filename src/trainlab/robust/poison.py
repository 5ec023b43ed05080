"""Backdoor data poisoning (notes F3:3560-3640): the training set of a backdoor attack is

    D_train = (D_clean \\ D_subset) U D_poisoned,
    D_poisoned = {(apply_trigger(x, t), y_target) : (x, y) in D_subset},

with D_subset a random fraction `rate` of D_clean. The trigger t here is a square patch of
`size` x `size` set to one value in the corner opposite the origin (the notes' 3 x 3 yellow
square in the bottom-right corner; signals: the last `size` positions; vectors: the last
`size` features). Poisoned examples keep their place in the split (the union replaces them
in order), so a run's batch order stays a pure function of (seed, epoch).

The attack succeeds on a triggered test input whose true class is not the target when the
model predicts the target: `attack_success_rate` is that fraction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from trainlab.data import Split


@dataclass(frozen=True)
class Trigger:
    """`mask` (bool, one sample's shape): where the trigger is; `value` (broadcast to one
    sample): what those positions are set to, in the model's input space."""

    mask: Tensor
    value: Tensor

    @classmethod
    def patch(cls, in_shape: tuple[int, ...], size: int, value: Tensor | float) -> Trigger:
        """A `size`-wide square (images), run (signals) or block (vectors) at the far end."""
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size = {size!r}: expected an integer >= 1")
        spatial = in_shape[1:] if len(in_shape) > 1 else in_shape
        if size > min(spatial):
            raise ValueError(f"size = {size}: larger than the inputs' extent {tuple(spatial)}")
        mask = torch.zeros(in_shape, dtype=torch.bool)
        if len(in_shape) == 3:
            mask[:, -size:, -size:] = True
        else:
            mask[..., -size:] = True
        full = torch.as_tensor(value, dtype=torch.float32).expand(in_shape).clone()
        return cls(mask, full)

    def apply(self, x: Tensor) -> Tensor:
        """apply_trigger(x, t) for a batch x (N, *in_shape): a copy with the trigger set."""
        if tuple(x.shape[1:]) != tuple(self.mask.shape):
            raise ValueError(
                f"x: samples of shape {tuple(x.shape[1:])}, the trigger is for "
                f"{tuple(self.mask.shape)}"
            )
        return torch.where(self.mask.to(x.device), self.value.to(x.device, x.dtype), x)


def poison(
    data: Split | tuple[Tensor, Tensor],
    trigger: Trigger,
    target_class: int,
    rate: float,
    generator: torch.Generator,
) -> tuple[Split, Tensor]:
    """(D_train, indices of D_subset): `round(rate * N)` examples drawn with `generator`
    get the trigger and the label `target_class`; the rest is left as it was."""
    x, y = (data.x, data.y) if isinstance(data, Split) else data
    if not 0 <= rate < 1:
        raise ValueError(f"rate = {rate}: expected 0 <= rate < 1")
    if isinstance(target_class, bool) or not isinstance(target_class, int) or target_class < 0:
        raise ValueError(f"target_class = {target_class!r}: expected a class index >= 0")
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator: expected a torch.Generator, got {type(generator).__name__}")
    n = int(x.shape[0])
    chosen = torch.randperm(n, generator=generator)[: round(rate * n)].sort().values
    chosen = chosen.to(x.device)
    xp, yp = x.clone(), y.clone()
    xp[chosen] = trigger.apply(x[chosen])
    yp[chosen] = target_class
    return Split(xp, yp), chosen


@torch.no_grad()
def attack_success_rate(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    trigger: Trigger,
    target_class: int,
    *,
    batch_size: int = 512,
) -> float:
    """Fraction of triggered inputs of true class != `target_class` predicted as the target
    (model in eval mode, restored afterwards)."""
    keep = y != target_class
    x, y = x[keep], y[keep]
    device = next(model.parameters()).device
    was = model.training
    model.eval()
    hits = torch.zeros((), dtype=torch.int64, device=device)
    try:
        for i in range(0, x.shape[0], batch_size):
            xb = trigger.apply(x[i : i + batch_size].to(device))
            hits += (model(xb).argmax(1) == target_class).sum()
    finally:
        model.train(was)
    return float(hits) / max(int(x.shape[0]), 1)
