"""The prune -> fine-tune loop on the engine (notes F3:4393-4506: evaluate importance, remove,
fine-tune, repeat; "don't prune too much at once").

`amount` is the fraction removed by the end, reached in `iterations` equal geometric steps:

    unstructured: total sparsity after iteration i   s_i = 1 - (1 - amount)^(i / iterations)
    structured:   each iteration removes a = 1 - (1 - amount)^(1 / iterations) of every
                  prunable group's remaining channels, so (1 - amount) of them remain

and each iteration fine-tunes for `finetune_epochs` through the engine (`SupervisedTask` on the
pruned model: the run's optimizer, schedule, augmentation; the best-on-val weights are kept).
Every iteration adds a row: sparsity of the prunable weights, parameters (all and non-zero),
FLOPs per sample, CPU latency at `latency_batch`, accuracy right after pruning and after
fine-tuning (on the test split, or the validation split when there is none).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from trainlab._validate import check_positive_int
from trainlab.compress.masks import check_amount, make_permanent, prune_unstructured, sparsity
from trainlab.compress.measure import latency_ms, model_cost
from trainlab.compress.structured import prune_structured
from trainlab.data import DataBundle
from trainlab.recipes.schema import Config
from trainlab.train.callbacks import Callback
from trainlab.train.evaluate import evaluate
from trainlab.train.supervised import SupervisedTask
from trainlab.train.trainer import Trainer


def with_epochs(config: Config, epochs: int) -> Config:
    """A copy of `config` training for `epochs` (validated)."""
    check_positive_int("epochs", epochs)
    new = config.model_copy(deep=True)
    new.train.epochs = epochs
    return new


def finetune(
    model: nn.Module,
    config: Config,
    data: DataBundle,
    epochs: int,
    callbacks: Sequence[Callback] = (),
) -> dict[str, Any]:
    """Train `model` in place for `epochs` with the run's recipe; the engine's summary."""
    trainer = Trainer(
        with_epochs(config, epochs), data, None, callbacks, task=SupervisedTask(model)
    )
    return trainer.fit()


def accuracy(model: nn.Module, config: Config, data: DataBundle) -> float:
    """Classification accuracy on the test (else the validation) split."""
    from trainlab.losses import loss_from_config

    if data.task != "classification":
        raise ValueError(f"accuracy needs a classification task, got {data.task!r}")
    split = data.test if data.test is not None else data.val
    if split is None:
        raise ValueError("the data has neither a test nor a validation split to measure on")
    metrics = evaluate(
        model,
        split,
        loss_from_config(config, data.task),
        task=data.task,
        batch_size=config.data.eval_batch_size,
        target_scale=data.target_scale,
    )
    return float(metrics["acc"])


def schedule(amount: float, iterations: int, structured: bool) -> list[float]:
    """Per-iteration amounts: total sparsity targets (unstructured) or the fraction of the
    remaining channels removed (structured), see the module docstring."""
    amount = check_amount(amount)
    check_positive_int("iterations", iterations)
    if structured:
        return [1 - (1 - amount) ** (1 / iterations)] * iterations
    return [1 - (1 - amount) ** (i / iterations) for i in range(1, iterations + 1)]


@dataclass
class PruneResult:
    model: nn.Module
    rows: list[dict[str, Any]] = field(default_factory=list)


def _row(model: nn.Module, data: DataBundle, i: int, batch: int, repeats: int) -> dict[str, Any]:
    device = next(model.parameters()).device
    x = torch.zeros(batch, *data.in_shape, device=device)
    cost = model_cost(model, tuple(data.in_shape))
    return {
        "iteration": i,
        "sparsity": round(sparsity(model).overall, 6),
        "params": cost.params,
        "nonzero_params": cost.nonzero_params,
        "flops": cost.flops,
        "latency_ms": round(latency_ms(model, x, repeats=repeats), 4),
    }


def prune_finetune(
    model: nn.Module,
    config: Config,
    data: DataBundle,
    *,
    amount: float,
    iterations: int = 1,
    structured: bool = False,
    finetune_epochs: int = 1,
    method: str = "global",
    importance: str = "l1",
    seed: int = 0,
    callbacks: Sequence[Callback] = (),
    latency_batch: int = 1,
    latency_repeats: int = 20,
) -> PruneResult:
    """Iterative pruning and fine-tuning of a copy of `model` (see the module docstring).

    `structured`: channels by `importance` ("l1", "l2", "bn"); else masks by `method`
    ("global", "layer", "random"; random draws from a generator seeded with `seed`). The
    result's model is plain (masks made permanent, or physically smaller).
    """
    steps = schedule(amount, iterations, structured)
    with_epochs(config, finetune_epochs)  # validates finetune_epochs before any work
    model = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(seed)
    row = _row(model, data, 0, latency_batch, latency_repeats)
    acc = accuracy(model, config, data)
    rows = [row | {"acc_pruned": acc, "acc": acc}]
    for i, a in enumerate(steps, start=1):
        if structured:
            device = next(model.parameters()).device
            example = torch.zeros(2, *data.in_shape, device=device)
            model = prune_structured(model, example, a, importance)
        else:
            prune_unstructured(model, a, method, generator=gen if method == "random" else None)
        pruned_acc = accuracy(model, config, data)
        finetune(model, config, data, finetune_epochs, callbacks)
        row = _row(model, data, i, latency_batch, latency_repeats)
        rows.append(row | {"acc_pruned": pruned_acc, "acc": accuracy(model, config, data)})
    return PruneResult(make_permanent(model), rows)
