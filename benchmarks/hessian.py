"""Curvature and gradient-statistics costs.

    python -m benchmarks.hessian [--part eig,stats] [--model resnet18] [--batch 32] [--size 32]
                                 [--lanczos-iters 30] [--power-cap 150] [--epochs 3]
                                 [--repeats 3] [--threads 1] [--clock cpu|wall]

1. `eig`: the top Hessian eigenvalue of a freshly initialized model (eval mode) on one random
   batch (seeded), to 1% relative: Lanczos (full reorthogonalization) versus power iteration,
   counted in Hessian-vector products and seconds. The reference is the top Ritz value of a
   `--lanczos-iters`-step Lanczos run ; each method's cost is the
   number of products (and their time, accumulated per product) until its estimate is within
   1% of the reference and stays there. Both run in this process on the same operator (the
   gradient's graph is built once and shared, so every product is one double backward).
2. `stats`: the overhead of the default gradient statistics (`diagnose.every_steps = 50`, and
   the worst case every step) on the digits run of `trainlab train`: the same seeded run with
   and without the `GradStats` callback, interleaved, `--repeats` times; the time per training
   step is the median over rounds (evaluation and checkpoints excluded).

On the shared 2-core machine use `--threads 1 --clock cpu` (process CPU time leaves out the
time other processes held the core).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from trainlab.train import Callback


class Timed:
    """A `LinearOperator` that stamps the clock at every product."""

    def __init__(self, op: Any, clock: Any) -> None:
        self.op, self.clock = op, clock
        self.dim, self.dtype, self.device = op.dim, op.dtype, op.device
        self.stamps: list[float] = []
        self._t0 = clock()

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        out = self.op.matvec(v)
        self.stamps.append(self.clock() - self._t0)
        return out


def first_within(history: list[float], ref: float, rel: float = 0.01) -> int | None:
    """1-based index from which every estimate is within `rel` of `ref` (None: never)."""
    ok = None
    for i, h in enumerate(history):
        close = abs(h - ref) <= rel * abs(ref)
        ok = (ok or i + 1) if close else None
    return ok


def bench_eig(args: argparse.Namespace, clock: Any) -> None:
    from trainlab.diagnose.hessian import HessianOperator, lanczos, power_iteration
    from trainlab.models import create_model

    torch.manual_seed(0)
    model = create_model(args.model, num_classes=10, in_shape=(3, args.size, args.size)).eval()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch, 3, args.size, args.size, generator=g)
    y = torch.randint(0, 10, (args.batch,), generator=g)
    params = [p for p in model.parameters() if p.requires_grad]
    op = HessianOperator(lambda: torch.nn.functional.cross_entropy(model(x), y), params)
    n = op.dim
    print(f"{args.model}: {n:,} parameters, batch {args.batch}x3x{args.size}x{args.size}")
    op.matvec(torch.zeros(n))  # builds the shared gradient graph (not counted below)
    runs: dict[str, tuple[list[float], list[float]]] = {}
    order = ["lanczos", "power"]
    random.Random(0).shuffle(order)
    for name in order:
        timed = Timed(op, clock)
        gen = torch.Generator().manual_seed(1)
        if name == "lanczos":
            hist = lanczos(timed, iters=args.lanczos_iters, tol=0.0, which="top", generator=gen)[3]
            history = hist.tolist()
        else:
            res = power_iteration(timed, iters=args.power_cap, tol=0.0, generator=gen)
            history = res.history
        runs[name] = (history, timed.stamps)
    ref = runs["lanczos"][0][-1]
    print(f"reference top eigenvalue {ref:.6g} (Lanczos, {args.lanczos_iters} steps)")
    print(f"{'method':<10} {'HVPs to 1%':>11} {'s to 1%':>9} {'s/HVP':>7}")
    counts = {}
    for name in ("lanczos", "power"):
        history, stamps = runs[name]
        k = first_within(history, ref)
        counts[name] = k
        per = stamps[-1] / len(stamps)
        shown = (str(k), f"{stamps[k - 1]:.2f}") if k else (f">{len(history)}", "-")
        print(f"{name:<10} {shown[0]:>11} {shown[1]:>9} {per:>7.3f}")
    if counts["lanczos"] and counts["power"]:
        print(f"power / lanczos HVPs: {counts['power'] / counts['lanczos']:.2f}x")
    else:
        print("power iteration did not reach 1% within --power-cap products")


class StepClock(Callback):
    """Sums the time between consecutive training steps of each epoch (the first step of an
    epoch, after the evaluation and checkpoint of the previous one, is not counted)."""

    def __init__(self, clock: Any) -> None:
        self.clock, self.total, self.steps = clock, 0.0, 0
        self._last: float | None = None

    def on_epoch_start(self, trainer: Any, epoch: int) -> None:
        self._last = self.clock()

    def on_step_end(self, trainer: Any, loss: Any, batch_size: int) -> None:
        now = self.clock()
        if self._last is not None:
            self.total, self.steps = self.total + now - self._last, self.steps + 1
        self._last = now


def bench_stats(args: argparse.Namespace, clock: Any) -> None:
    from trainlab.diagnose.grad_stats import GradStats
    from trainlab.recipes import load_config
    from trainlab.train import RunDir, Trainer
    from trainlab.train.build import build_data

    config = load_config(None, [f"train.epochs={args.epochs}", "log.every_steps=0"])
    data = build_data(config)
    cases = {"off": None, "every 50": 50, "every 1": 1}
    times: dict[str, list[float]] = {k: [] for k in cases}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats + 1):  # round 0: warm-up, not counted
            order = list(cases)
            random.Random(r).shuffle(order)
            for name in order:
                run = RunDir.create(tmp, f"{name.replace(' ', '')}-{r}")
                sc = StepClock(clock)
                cbs: list[Any] = [sc]
                if cases[name]:
                    cbs.append(GradStats(Path(run.path) / "diagnostics.csv", cases[name]))
                Trainer(config, data, run, cbs).fit()
                if r:
                    times[name].append(sc.total / sc.steps * 1e3)
    base = statistics.median(times["off"])
    print(f"digits, default recipe ({config.model.name}), {args.epochs} epochs, "
          f"{args.repeats} rounds")  # fmt: skip
    print(f"{'statistics':<10} {'ms/step':>8} {'overhead':>9}")
    for name, ts in times.items():
        m = statistics.median(ts)
        print(f"{name:<10} {m:>8.3f} {100 * (m / base - 1):>8.1f}%")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--part", default="eig,stats")
    p.add_argument("--model", default="resnet18")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--lanczos-iters", type=int, default=30)
    p.add_argument("--power-cap", type=int, default=150)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    p.add_argument("--clock", choices=("cpu", "wall"), default="wall")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)  # a benchmark process, not library code
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    parts = args.part.split(",")
    if "eig" in parts:
        bench_eig(args, clock)
    if "stats" in parts:
        bench_stats(args, clock)


if __name__ == "__main__":
    main()
