"""Run a model as an attacker does: eval mode, parameters frozen, everything put back after.

torchattacks is known to leave a model in the wrong mode (its issue #21). Every attack of
`trainlab.robust` runs inside `attack_mode(model)`: the model is switched to eval mode (so
batch-norm uses its running statistics and does not update them, dropout is off) and every
parameter's `requires_grad` is turned off (the attack's backward then reaches only the input,
so no gradient is ever accumulated into `.grad` and no weight gradient is computed). On exit
each submodule's own `training` flag and each parameter's own `requires_grad` flag are
restored, whatever they were (a partly frozen model stays partly frozen).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import nn


@contextlib.contextmanager
def attack_mode(model: nn.Module) -> Iterator[nn.Module]:
    """`model` in eval mode with frozen parameters inside the block; restored afterwards."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    modes = [(m, m.training) for m in model.modules()]
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield model
    finally:
        for m, training in modes:
            m.training = training
        for p, flag in flags:
            p.requires_grad_(flag)
