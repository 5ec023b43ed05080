"""Benchmark pruning: does the model get faster? (issue 18; notes F3:4393-4506)

    python -m benchmarks.compress [--size 64] [--repeats 7] [--threads N] [--models resnet18,cnn]

For resnet18 (3 x SIZE x SIZE, 10 classes) and the digits cnn (1 x 8 x 8), in one process,
interleaved, after warm-up, eval mode under no_grad, CPU: the median forward latency at batch 1
and batch 32, parameters and FLOPs of

- the original model;
- 50% structured channel pruning (`prune_structured`, L1 filter norms: every prunable channel
  group, the residual streams included, halved): a smaller dense model;
- 90% unstructured sparsity (global magnitude masks made permanent): the same dense shapes
  with 90% zeros, which dense kernels multiply all the same;
- with `torch-pruning` importable (`../shared/tools/peer-env.sh torch-pruning`, then
  `source ../shared/tools/peer-env.sh`): its MagnitudePruner at the same 50% channel ratio,
  as the reference a user would otherwise reach for (printed as "skipped" without it).

Prints each row's speed-up over the original (original time / variant time).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as benchmarks.augment: shared cores

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import argparse
import copy
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from trainlab.compress import make_permanent, prune_structured, prune_unstructured
from trainlab.models import count_params, create_model, summarize


def _torch_pruning(model: nn.Module, example: torch.Tensor, ratio: float) -> nn.Module | str:
    try:
        import torch_pruning as tp
    except ImportError:
        return "skipped (torch-pruning not importable)"
    model = copy.deepcopy(model)
    head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    imp = tp.importance.MagnitudeImportance(p=1)
    try:
        pruner = tp.pruner.MagnitudePruner(
            model, example, importance=imp, pruning_ratio=ratio, ignored_layers=[head]
        )
    except TypeError:  # torch-pruning < 1.3 calls it ch_sparsity
        pruner = tp.pruner.MagnitudePruner(
            model, example, importance=imp, ch_sparsity=ratio, ignored_layers=[head]
        )
    pruner.step()
    return model


def variants(name: str, shape: tuple[int, ...]) -> dict[str, nn.Module | str]:
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, in_shape=shape).eval()
    example = torch.zeros(2, *shape)
    sparse = copy.deepcopy(model)
    prune_unstructured(sparse, 0.9, "global")
    return {
        "original": model,
        "structured 50% (trainlab)": prune_structured(model, example, 0.5).eval(),
        "unstructured 90% zeros": make_permanent(sparse).eval(),
        "structured 50% (torch-pruning)": _torch_pruning(model, example, 0.5),
    }


def _timer(model: nn.Module, x: torch.Tensor, inner: int) -> Callable[[], float]:
    def run() -> float:
        t0 = time.perf_counter()
        for _ in range(inner):
            model(x)
        return (time.perf_counter() - t0) / inner

    return run


def bench(name: str, shape: tuple[int, ...], repeats: int) -> None:
    models = variants(name, shape)  # with autograd on: torch-pruning traces through it
    with torch.no_grad():
        _measure(name, shape, repeats, models)


def _measure(
    name: str, shape: tuple[int, ...], repeats: int, models: dict[str, nn.Module | str]
) -> None:
    live = {k: m for k, m in models.items() if isinstance(m, nn.Module)}
    times: dict[tuple[str, int], list[float]] = {(k, b): [] for k in live for b in (1, 32)}
    runs = {}
    for b in (1, 32):
        x = torch.randn(b, *shape, generator=torch.Generator().manual_seed(0))
        # inner loops of ~20 ms at least, so timer resolution and scheduling noise matter less
        for k, m in live.items():
            m(x)  # warm-up
            t = _timer(m, x, 1)()
            runs[(k, b)] = _timer(m, x, max(1, int(0.02 / max(t, 1e-6))))
    for _ in range(repeats):  # interleaved: every variant once per round
        for key, run in runs.items():
            times[key].append(run())
    print(
        f"\n{name} {'x'.join(map(str, shape))}, {torch.get_num_threads()} threads, median of {repeats}"
    )
    print(
        f"{'variant':<32} {'params':>11} {'MFLOPs':>9} {'b1 ms':>8} {'b32 ms':>8} {'x b1':>6} {'x b32':>6}"
    )
    base = {b: statistics.median(times[("original", b)]) for b in (1, 32)}
    for k, m in models.items():
        if not isinstance(m, nn.Module):
            print(f"{k:<32} {m}")
            continue
        t1, t32 = (statistics.median(times[(k, b)]) for b in (1, 32))
        flops = summarize(m, shape).total_flops / 1e6
        print(
            f"{k:<32} {count_params(m):>11,} {flops:>9.1f} {1e3 * t1:>8.3f} {1e3 * t32:>8.2f} "
            f"{base[1] / t1:>6.2f} {base[32] / t32:>6.2f}"
        )
    ours, ref = models["structured 50% (trainlab)"], models["structured 50% (torch-pruning)"]
    if isinstance(ours, nn.Module) and isinstance(ref, nn.Module):
        same = [p.shape for p in ours.parameters()] == [p.shape for p in ref.parameters()]
        print(f"trainlab's pruned shapes equal torch-pruning's, tensor by tensor: {same}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=64, help="resnet18 input side (default 64)")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: as is)")
    p.add_argument("--models", default="resnet18,cnn")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    shapes = {"resnet18": (3, a.size, a.size), "cnn": (1, 8, 8)}
    for name in a.models.split(","):
        bench(name, shapes[name], a.repeats)


if __name__ == "__main__":
    main()
