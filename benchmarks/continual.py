"""Step time of each continual-learning method against naive fine-tuning on the same stream.

For every number of tasks T (default 2, 5, 10) and every method, the same stream (permuted
digits: every task the whole digits training split under its own pixel permutation, so
every task has the same number of steps) is trained on the engine with the same seed, one
epoch a task, and the training steps of the *last* task are timed: that is where each
method carries the most state (GEM: T-1 memories, so T-1 extra backward passes a step;
EWC: T-1 penalties; A-GEM: one reference batch; replay: a full buffer). Methods are
interleaved, repeated, and the median step time is reported with the ratio to naive's on the
same T, and the method's extra state in bytes.

    python -m benchmarks.continual [--tasks 2,5,10] [--methods naive,ewc,...] [--repeats 3]
                                   [--model mlp] [--threads 1] [--clock wall|cpu]

On a shared machine `--threads 1 --clock cpu` (process CPU time) leaves out the time other
processes hold the cores.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from trainlab.continual import build_stream, run_stream
from trainlab.recipes import load_config
from trainlab.train import Callback
from trainlab.train.build import build_data

METHODS = "naive,ewc,online-ewc,gem,agem,replay"


class LastTaskSteps(Callback):
    """Seconds between consecutive training steps of task `last` (from its epoch start)."""

    def __init__(self, last: int, clock: Callable[[], float]) -> None:
        self.last, self.clock, self.times, self.t = last, clock, [], None

    def on_epoch_start(self, trainer, epoch) -> None:
        self.t = self.clock() if trainer.task.current == self.last else None

    def on_step_end(self, trainer, loss, batch_size) -> None:
        if self.t is None:
            return
        now = self.clock()
        self.times.append(now - self.t)
        self.t = now


def time_method(method: str, n_tasks: int, args, data, clock) -> tuple[float, int]:
    config = load_config(None, [
        f"continual.method={method}", "continual.scenario=permuted",
        f"continual.tasks={n_tasks}", f"model.name={args.model}", "train.epochs=1",
        "train.device=cpu", f"data.batch_size={args.batch_size}",
        f"continual.memory_size={args.memory}",
    ])  # fmt: skip
    cb = LastTaskSteps(n_tasks - 1, clock)
    result = run_stream(config, build_stream(config, data), callbacks=[cb])
    return statistics.median(cb.times[1:]), result.memory_bytes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="2,5,10")
    ap.add_argument("--methods", default=METHODS)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default="mlp")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--memory", type=int, default=50, help="continual.memory_size")
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0: torch default)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    methods = [m.strip() for m in args.methods.split(",")]
    if "naive" not in methods:
        methods.insert(0, "naive")
    tasks = [int(t) for t in args.tasks.split(",")]
    data = build_data(load_config(None, []))
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {args.clock} clock, "
          f"permuted digits, {args.model}, batch {args.batch_size}, memory {args.memory}, "
          f"median over {args.repeats} interleaved repeats of the last task's steps")  # fmt: skip
    print(f"{'T':>3} {'method':<11} {'step ms':>9} {'x naive':>8} {'state bytes':>12}")
    for n in tasks:
        times: dict[str, list[float]] = {m: [] for m in methods}
        sizes: dict[str, int] = {}
        for r in range(args.repeats):
            for m in methods if r % 2 == 0 else methods[::-1]:  # alternate against drift
                t, sizes[m] = time_method(m, n, args, data, clock)
                times[m].append(t)
        base = statistics.median(times["naive"])
        for m in methods:
            med = statistics.median(times[m])
            print(f"{n:>3} {m:<11} {1e3 * med:>9.2f} {med / base:>8.2f} {sizes[m]:>12,}")


if __name__ == "__main__":
    main()
