"""Data-parallel scaling on gloo, and what a checkpoint costs.

    python -m benchmarks.distributed [--part ddp,checkpoint] [--model resnet18]
        [--shape 3x32x32] [--batch 32] [--steps 4] [--repeats 3]
        [--ckpt-models resnet18,convnext_tiny] [--ckpt-shape 3x64x64] [--ckpt-batch 32]
        [--threads N]

**ddp**: samples/s of one training step (forward + backward + AdamW) on the global batch
`--batch`, by (a) one process on 1 thread, (b) one process on 2 threads, (c) two gloo
processes on 1 thread each under `DistributedDataParallel` (each with half the batch).
The same two spawned processes run all three, interleaved round by round (in (a) and (b)
rank 1 waits at a barrier), so every figure comes from the same processes at the same
time. Scaling efficiency = (c) / (2 x (a)): 1.0 is perfect; the machine has 2 cores shared
with other users, so (c) competes with everything else for them.

**checkpoint**: for each model, the bytes and wall time of `save_checkpoint` of its weights
and AdamW state (what a trainlab checkpoint holds beyond a few scalars: checksum, torch.save,
atomic write with fsync, in a temporary folder), the SHA-256 checksum's share of it, and the
training step time at `--ckpt-batch`, so the overhead of `checkpoint.every_steps = N` is
save / (N x step); the table gives it for N = 100.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from trainlab.models import create_model, parse_shape
from trainlab.train.checkpoint import checksum, save_checkpoint

NUM_CLASSES = 10


def _step_fn(model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor):
    def step() -> None:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    return step


def _timed(step: Any, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return time.perf_counter() - t0


def _worker(rank: int, port: int, args: argparse.Namespace, out: Any) -> None:
    from torch.nn.parallel import DistributedDataParallel as DDP

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    shape, b = parse_shape(args.shape), args.batch
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(b, *shape, generator=g), torch.randint(0, NUM_CLASSES, (b,), generator=g)
    torch.manual_seed(0)
    model = create_model(args.model, num_classes=NUM_CLASSES, in_shape=shape)
    single = _step_fn(model, torch.optim.AdamW(model.parameters()), x, y)
    ddp = DDP(create_model(args.model, num_classes=NUM_CLASSES, in_shape=shape))
    half = slice(rank * b // 2, (rank + 1) * b // 2)
    sharded = _step_fn(ddp, torch.optim.AdamW(ddp.parameters()), x[half], y[half])
    times: dict[str, list[float]] = {"1 process, 1 thread": [], "1 process, 2 threads": [],
                                     "2 processes x 1 thread (DDP)": []}  # fmt: skip
    for r in range(args.repeats + 1):  # round 0 is the warm-up
        for threads, name in ((1, "1 process, 1 thread"), (2, "1 process, 2 threads")):
            dist.barrier()
            if rank == 0:
                torch.set_num_threads(threads)
                t = _timed(single, args.steps)
                if r:
                    times[name].append(t)
            dist.barrier()
        torch.set_num_threads(1)
        dist.barrier()
        t = _timed(sharded, args.steps)
        if r:
            times["2 processes x 1 thread (DDP)"].append(t)
    if rank == 0:
        out.put({k: args.steps * b / statistics.median(v) for k, v in times.items()})
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_ddp(args: argparse.Namespace) -> None:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    mp.start_processes(_worker, (_free_port(), args, out), nprocs=2, start_method="spawn")
    rates = out.get(timeout=5)
    base = rates["1 process, 1 thread"]
    print(f"\nDDP on gloo: {args.model} {args.shape}, global batch {args.batch}, "
          f"{args.steps} steps x {args.repeats} rounds (median)")  # fmt: skip
    print(f"{'setup':32} {'samples/s':>10} {'vs 1 thread':>12}")
    for k, v in rates.items():
        print(f"{k:32} {v:10.1f} {v / base:11.2f}x")
    two = rates["2 processes x 1 thread (DDP)"]
    print(f"scaling efficiency (2 processes / 2 x 1 process): {two / (2 * base):.2f}")


def bench_checkpoint(args: argparse.Namespace) -> None:
    shape, b = parse_shape(args.ckpt_shape), args.ckpt_batch
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(b, *shape, generator=g), torch.randint(0, NUM_CLASSES, (b,), generator=g)
    print(f"\ncheckpoint cost (weights + AdamW state), step at batch {b} x {args.ckpt_shape}, "
          f"{torch.get_num_threads()} threads, median of {args.repeats}")  # fmt: skip
    head = f"{'model':14} {'params':>8} {'MB':>8} {'save ms':>9} {'checksum ms':>12}"
    print(head + f" {'step ms':>9} {'every 100 steps':>16}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.ckpt_models.split(","):
            torch.manual_seed(0)
            model = create_model(name, num_classes=NUM_CLASSES, in_shape=shape)
            opt = torch.optim.AdamW(model.parameters())
            step = _step_fn(model, opt, x, y)
            step()  # warm-up, and AdamW's state exists
            step_s = statistics.median(_timed(step, 1) for _ in range(args.repeats))
            payload = {"modules": {"model": model.state_dict()}, "optimizer": opt.state_dict()}
            path = Path(tmp) / f"{name}.pt"
            saves, sums = [], []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                save_checkpoint(path, payload)
                saves.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                checksum(payload)
                sums.append(time.perf_counter() - t0)
            save_s, sum_s = statistics.median(saves), statistics.median(sums)
            params = sum(p.numel() for p in model.parameters())
            mb = os.path.getsize(path) / 2**20
            print(f"{name:14} {params / 1e6:7.1f}M {mb:8.1f} {1e3 * save_s:9.0f} "
                  f"{1e3 * sum_s:12.0f} {1e3 * step_s:9.0f} "
                  f"{100 * save_s / (100 * step_s):15.2f}%")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", default="ddp,checkpoint")
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--shape", default="3x32x32")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ckpt-models", default="resnet18,convnext_tiny")
    ap.add_argument("--ckpt-shape", default="3x64x64")
    ap.add_argument("--ckpt-batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=0, help="checkpoint part (0: torch's default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)  # a benchmark script, not library code
    if args.batch % 2:
        ap.error(f"--batch {args.batch}: must be even (two processes)")
    parts = args.part.split(",")
    if "ddp" in parts:
        bench_ddp(args)
    if "checkpoint" in parts:
        bench_checkpoint(args)


if __name__ == "__main__":
    main()
