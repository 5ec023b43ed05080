"""Benchmark the generative and self-supervised steps and the NT-Xent loss.

    python -m benchmarks.generative [--repeats 5] [--batches 256,1024,4096] [--threads 2]

Interleaved in one process, after warm-up; prints medians:
- one GAN training step (D update + G update, non-saturating, DCGAN pair) and one SimCLR
  step (two views, encoder + projection head, NT-Xent, AdamW) on 8x8 digits and on 32x32
  RGB images (batch 64 and 256), through the engine's tasks and Step (what `trainlab
  train` runs per batch);
- NT-Xent forward + backward, trainlab's three-block form against the notes' formula
  written literally (`nt_xent_reference`: the 2N x 2N matrix, exp, the k != i mask), for
  batch N = 256 .. 4096 with D = 128 (ratio trainlab / reference; < 1 is faster).
CUDA (when present) is used for everything; otherwise the CPU.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from trainlab.data import DataBundle, Split
from trainlab.recipes import load_config
from trainlab.selfsup import nt_xent, nt_xent_reference
from trainlab.train import Trainer


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time(fn: Callable[[], object], device: torch.device) -> float:
    _sync(device)
    t0 = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - t0


def _bundle(shape: tuple[int, ...], n: int) -> DataBundle:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, *shape, generator=g), torch.randint(10, (n,), generator=g)
    c = shape[0]
    return DataBundle(Split(x, y), Split(x[:64], y[:64]), None, "classification", 10, shape,
                      [str(i) for i in range(10)], "random", torch.zeros(c, 1, 1), torch.ones(c, 1, 1))  # fmt: skip


def _step_fn(task: str, shape: tuple[int, ...], batch: int, device: str) -> Callable[[], object]:
    over = [f"task.name={task}", f"data.batch_size={batch}", "log.every_steps=0", f"train.device={device}",
            "gan.classifier=none", "optim.weight_decay=0"]  # fmt: skip
    t = Trainer(load_config(overrides=over), _bundle(shape, 4 * batch))
    batches = list(t.train_loader.epoch(0))
    state = {"i": 0}

    def one() -> None:
        from trainlab.train.step import Step

        b = batches[state["i"] % len(batches)]
        step = Step(t.updaters, t.precision, t.clipping, epoch=0, batch=0, index=state["i"],
                    micro=0, cycle=1, device=t.device)  # fmt: skip
        for u in t.updaters.values():
            u.zero_grad()
        t.task.training_step(b, step)
        state["i"] += 1

    return one


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--batches", default="256,1024,4096")
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(dev)
    print(
        f"device {dev}, torch {torch.__version__}, threads {torch.get_num_threads()}, repeats {a.repeats}"
    )
    print("\n| step | data | batch | median ms | samples/s |\n|---|---|---|---|---|")
    for shape, name in (((1, 8, 8), "digits 8x8"), ((3, 32, 32), "32x32 RGB")):
        for batch in (64, 256):
            fns = {task: _step_fn(task, shape, batch, dev) for task in ("gan", "simclr")}
            times: dict[str, list[float]] = {k: [] for k in fns}
            for fn in fns.values():
                fn()  # warm-up
            for _ in range(a.repeats):
                for k, fn in fns.items():
                    times[k].append(_time(fn, device))
            for k, ts in times.items():
                med = statistics.median(ts)
                print(f"| {k} | {name} | {batch} | {1e3 * med:.2f} | {batch / med:,.0f} |")
    print("\n| NT-Xent fwd+bwd | N | trainlab ms | reference ms | ratio |\n|---|---|---|---|---|")
    for n in (int(b) for b in a.batches.split(",")):
        g = torch.Generator(device=device).manual_seed(n)
        z1 = torch.randn(n, 128, device=device, generator=g, requires_grad=True)
        z2 = torch.randn(n, 128, device=device, generator=g, requires_grad=True)

        def run(
            f: Callable[..., torch.Tensor], a: torch.Tensor = z1, b: torch.Tensor = z2
        ) -> Callable[[], object]:
            return lambda: f(a, b, 0.2).backward()

        cands = {"trainlab": run(nt_xent), "reference": run(nt_xent_reference)}
        for fn in cands.values():
            fn()
        ts: dict[str, list[float]] = {k: [] for k in cands}
        for _ in range(a.repeats):
            for k, fn in cands.items():
                ts[k].append(_time(fn, device))
        m = {k: statistics.median(v) for k, v in ts.items()}
        print(
            f"| | {n} | {1e3 * m['trainlab']:.2f} | {1e3 * m['reference']:.2f} | {m['trainlab'] / m['reference']:.2f} |"
        )


if __name__ == "__main__":
    main()
