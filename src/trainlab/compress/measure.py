"""What a compressed model costs: parameters (all and non-zero), FLOPs, CPU latency.

FLOPs are `trainlab.models.summarize`'s (2 per multiply-add, dense kernels): a masked model
has the FLOPs of its dense shape, because dense kernels multiply the zeros too (notes
F3:4393-4506: unstructured sparsity does not reduce the work done on ordinary hardware).
Latency is the median wall time of `repeats` forward passes in eval mode under no_grad,
after `warmup` passes, on the model's device with the process's thread settings as they are.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from trainlab.models import summarize


@dataclass
class Cost:
    params: int
    nonzero_params: int
    flops: int


@torch.no_grad()
def model_cost(model: nn.Module, in_shape: tuple[int, ...]) -> Cost:
    """Parameters (of the weights the model computes with), non-zero ones, FLOPs per sample."""
    # the masked product for a masked weight (its `original` and `mask` are not parameters
    # the model computes with); plain parameters otherwise
    used = {n: p.detach() for n, p in model.named_parameters() if "parametrizations" not in n}
    for name, m in model.named_modules():
        if hasattr(m, "parametrizations") and "weight" in m.parametrizations:
            used[f"{name}.weight"] = m.weight.detach()
    params = sum(t.numel() for t in used.values())
    nonzero = sum(int((t != 0).sum()) for t in used.values())
    flops = summarize(model, in_shape).total_flops
    return Cost(params, nonzero, flops)


@torch.no_grad()
def latency_ms(model: nn.Module, x: Tensor, *, repeats: int = 20, warmup: int = 3) -> float:
    """Median milliseconds of `model(x)` (eval mode, no_grad), after `warmup` runs."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats}, {warmup}")
    was = model.training
    model.eval()
    try:
        for _ in range(warmup):
            model(x)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    finally:
        model.train(was)
    return 1000 * statistics.median(times)
