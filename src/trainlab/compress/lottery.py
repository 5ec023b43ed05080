"""The lottery ticket experiment (Frankle and Carbin 2019; notes F3:4470-4506).

Iterative magnitude pruning with rewinding:

    W_0 <- init (seeded); train -> W_T
    round r = 1..R:   m_r = global magnitude mask of the last trained weights at total
                      sparsity s_r = 1 - (1 - rate)^r
                      ticket:  reset the weights to W_k (k = `rewind_step`: 0 is the
                               initialization, k > 0 the weights after k optimizer steps of
                               the dense run, "late rewinding"), apply m_r, train
                      control: a fresh random initialization (another seed) under the same
                               m_r, trained the same way

Each round's row holds the remaining fraction of weights and both test accuracies. The
hypothesis: the rewound ticket matches the dense network's accuracy far into sparsity, the
randomly re-initialized subnetwork of the same shape falls behind.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from trainlab.compress.loop import accuracy, finetune
from trainlab.compress.masks import apply_masks, check_amount, magnitude_masks
from trainlab.data import DataBundle
from trainlab.recipes.schema import Config
from trainlab.train.build import build_model
from trainlab.train.callbacks import Callback


class _Rewind(Callback):
    """Keeps a copy of the model's weights after `step` optimizer steps."""

    def __init__(self, model: nn.Module, step: int) -> None:
        self.model, self.step = model, step
        self.state: dict[str, Any] | None = None

    def on_step_end(self, trainer: Any, loss: Any, batch_size: int) -> None:
        if self.state is None and trainer.step >= self.step:
            self.state = copy.deepcopy(self.model.state_dict())


def _fresh(config: Config, data: DataBundle, seed: int) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(config, data.num_outputs, tuple(data.in_shape), task=data.task)


def lottery_ticket(
    config: Config,
    data: DataBundle,
    *,
    rounds: int = 3,
    rate: float = 0.5,
    epochs: int = 10,
    rewind_step: int = 0,
    control_seed: int = 1_000_003,
    callbacks: Sequence[Callback] = (),
) -> list[dict[str, Any]]:
    """Rows (round, sparsity, remaining, acc_ticket, acc_random) of the experiment above; round
    0 is the dense network. The model is the config's, initialized with `config.seed`."""
    rate = check_amount(rate, "rate")
    if rate == 0:
        raise ValueError("rate must be in (0, 1), got 0")
    for name, v, low in (
        ("rounds", rounds, 1),
        ("epochs", epochs, 1),
        ("rewind_step", rewind_step, 0),
    ):
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
    dense = _fresh(config, data, config.seed)
    rewind = _Rewind(dense, rewind_step)
    init = copy.deepcopy(dense.state_dict())
    finetune(dense, config, data, epochs, [*callbacks, rewind])
    start = init if rewind_step == 0 else rewind.state
    if start is None:
        raise ValueError(f"rewind_step={rewind_step} is beyond the dense run's steps")
    acc = accuracy(dense, config, data)
    rows = [{"round": 0, "sparsity": 0.0, "remaining": 1.0, "acc_ticket": acc, "acc_random": acc}]
    last = dense
    for r in range(1, rounds + 1):
        target = 1 - (1 - rate) ** r
        masks = magnitude_masks(last, target, scope="global")
        ticket = _fresh(config, data, config.seed)
        ticket.load_state_dict(start)
        apply_masks(ticket, masks)
        finetune(ticket, config, data, epochs, callbacks)
        control = _fresh(config, data, control_seed + r)
        apply_masks(control, masks)
        finetune(control, config, data, epochs, callbacks)
        kept = sum(int(m.sum()) for m in masks.values()) / sum(m.numel() for m in masks.values())
        rows.append({
            "round": r, "sparsity": round(1 - kept, 6), "remaining": round(kept, 6),
            "acc_ticket": accuracy(ticket, config, data),
            "acc_random": accuracy(control, config, data),
        })  # fmt: skip
        last = ticket
    return rows
