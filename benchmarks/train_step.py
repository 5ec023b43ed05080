"""Training-step throughput of the model zoo: forward + backward + AdamW step.

    python -m benchmarks.train_step [--models resnet18,convnext_atto,vit_tiny,cnn]
                                    [--batch 32] [--shape 3x64x64] [--repeats 7] [--device cpu]
                                    [--threads 2] [--timm auto|off] [--clock wall|cpu]
                                    [--layouts contiguous,channels_last]

For each model, contiguous (NCHW) and channels_last layouts are timed in the same process,
interleaved round by round after a warm-up; the table gives medians over the repeats,
samples/s, the ratio channels_last / contiguous, and the achieved FLOP/s as a fraction of
a float32 2048x2048 matmul's FLOP/s measured in the same rounds (model FLOPs utilization,
MFU). A step's FLOPs are counted once with torch.utils.flop_counter over forward and
backward (2 FLOPs per multiply-add; elementwise and normalization ops are not counted).
Float32 throughout; on CUDA (when present or `--device cuda`) the same, with synchronization.
With timm importable (an optional comparison library, never a dependency: `source
../shared/tools/peer-env.sh` first, see its header), each model that timm also has is timed
beside timm's, built with the same classes and loaded with the *same weights* (trainlab keeps
timm's state_dict layout), and the table adds timm's ms/step and the samples/s ratio
trainlab / timm. Models timm lacks, or whose timm state_dict does not fit at this input
shape, show "-". The order of the cases is shuffled every round (seeded), so no case always
runs after the same neighbour.
On a shared, oversubscribed CPU use `--threads 1 --clock cpu`: OpenMP barriers waiting for a
descheduled second thread made 2-thread figures swing up to 10x between runs, and with one
thread the process CPU time leaves out the time other processes held the core.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from trainlab.models import create_model, parse_shape

NUM_CLASSES = 10


def import_timm() -> tuple[object | None, str]:
    """timm if it imports (with its torchvision), else None and the reason."""
    try:
        import timm
    except Exception as e:  # ImportError, or torchvision's operator registration failing
        return None, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return timm, f"timm {timm.__version__}"


def timm_twin(timm: object, name: str, model: torch.nn.Module, in_chans: int):
    """timm's model of the same name with `model`'s weights loaded into it, or None with why."""
    if not timm.is_model(name):  # type: ignore[attr-defined]
        return None, "not in timm"
    ref = timm.create_model(name, num_classes=NUM_CLASSES, in_chans=in_chans)  # type: ignore[attr-defined]
    try:
        ref.load_state_dict(model.state_dict())  # same layout: identical weights, same numerics
    except RuntimeError as e:
        return None, f"state_dict does not fit ({str(e).splitlines()[0]})"
    return ref, ""


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Case:
    """One model (trainlab's, or timm's `ref`) in one memory layout, its optimizer, a batch."""

    def __init__(self, name: str, shape: tuple[int, ...], batch: int, device: torch.device,
                 channels_last: bool, seed: int = 0,
                 ref: torch.nn.Module | None = None) -> None:  # fmt: skip
        g = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        self.name, self.channels_last, self.device = name, channels_last, device
        self.label = name + (" (timm)" if ref is not None else "")
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        model = (
            ref if ref is not None else create_model(name, num_classes=NUM_CLASSES, in_shape=shape)
        )
        self.model = model.to(device).to(memory_format=fmt).train()
        self.x = torch.randn((batch, *shape), generator=g).to(device).to(memory_format=fmt)
        self.y = torch.randint(0, NUM_CLASSES, (batch,), generator=g).to(device)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-4, fused=True)

    def step(self) -> None:
        loss = F.cross_entropy(self.model(self.x), self.y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()

    def time_steps(self, n: int, clock: Callable[[], float] = time.perf_counter) -> float:
        _sync(self.device)
        t = clock()
        for _ in range(n):
            self.step()
        _sync(self.device)
        return (clock() - t) / n

    def flops_per_step(self) -> int:
        counter = FlopCounterMode(display=False)
        with counter:
            loss = F.cross_entropy(self.model(self.x), self.y)
            loss.backward()
        self.opt.zero_grad(set_to_none=True)
        return counter.get_total_flops()


def matmul_seconds(
    device: torch.device,
    n: int = 2048,
    iters: int = 5,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    a @ b
    _sync(device)
    t = clock()
    for _ in range(iters):
        a @ b
    _sync(device)
    return (clock() - t) / iters


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="resnet18,convnext_atto,vit_tiny,cnn")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--shape", default="3x64x64")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--steps", type=int, default=3, help="steps per timed repeat")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--layouts", default="contiguous,channels_last")
    ap.add_argument("--timm", choices=("auto", "off"), default="auto",
                    help="time timm's same architecture beside trainlab's when timm imports")  # fmt: skip
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0: torch default)")
    ap.add_argument("--seed", type=int, default=0, help="weights, batch and the order of cases")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="cpu: process CPU time, which on a shared machine leaves out the time "
                    "other processes hold the cores (meaningful with --threads 1 on CPU)")  # fmt: skip
    args = ap.parse_args(argv)
    layouts = [x for x in args.layouts.split(",") if x]
    for x in layouts:
        if x not in ("contiguous", "channels_last"):
            raise SystemExit(f"--layouts: {x!r} is not 'contiguous' or 'channels_last'")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    shape = parse_shape(args.shape)
    names = [n for n in args.models.split(",") if n]
    timm, timm_note = import_timm() if args.timm == "auto" else (None, "off")

    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
          f"batch {args.batch} x {args.shape}, float32, AdamW(fused), "
          f"median of {args.repeats} x {args.steps} steps, {args.clock} clock; reference: {timm_note}")  # fmt: skip
    cases: list[Case] = []
    skipped: dict[str, str] = {}
    for n in names:
        for cl in (lay == "channels_last" for lay in layouts):
            ours = Case(n, shape, args.batch, device, cl, args.seed)
            cases.append(ours)
            if timm is None:
                continue
            torch.manual_seed(args.seed)  # the same weights trainlab's case starts from
            ref, why = timm_twin(
                timm, n, create_model(n, num_classes=NUM_CLASSES, in_shape=shape), shape[0]
            )
            if ref is None:
                skipped[n] = why
            else:
                cases.append(Case(n, shape, args.batch, device, cl, args.seed, ref=ref))
    flops = {
        c.label: c.flops_per_step() for c in cases if c.channels_last == cases[0].channels_last
    }
    for c in cases:  # warm-up (allocator, oneDNN primitive caches)
        for _ in range(args.warmup):
            c.step()
    times: dict[tuple[str, bool], list[float]] = {(c.label, c.channels_last): [] for c in cases}
    mm: list[float] = []
    order = random.Random(args.seed)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    for _ in range(args.repeats):  # interleaved rounds, in a new order each round
        mm.append(matmul_seconds(device, clock=clock))
        for c in order.sample(cases, len(cases)):
            times[(c.label, c.channels_last)].append(c.time_steps(args.steps, clock))
    med = {k: statistics.median(v) for k, v in times.items()}
    peak = 2 * 2048**3 / statistics.median(mm)
    print(f"float32 matmul 2048x2048: {peak / 1e9:.1f} GFLOP/s (median)")
    hdr = (f"{'model':<15} {'layout':<13} {'ms/step':>8} {'samples/s':>10} {'GFLOP/step':>11} "
           f"{'MFU':>6} {'cl/contig':>9} {'timm ms':>8} {'vs timm':>8}")  # fmt: skip
    print(hdr)
    print("-" * len(hdr))
    for n in names:
        for cl in (lay == "channels_last" for lay in layouts):
            t = med[(n, cl)]
            contig = med.get((n, False))
            ratio = f"{contig / t:.2f}x" if cl and contig else ""
            ref = med.get((n + " (timm)", cl))
            ref_ms, vs = (f"{ref * 1e3:.1f}", f"{ref / t:.3f}x") if ref else ("-", "-")
            print(f"{n:<15} {'channels_last' if cl else 'contiguous':<13} {t * 1e3:>8.1f} "
                  f"{args.batch / t:>10.1f} {flops[n] / 1e9:>11.2f} {flops[n] / t / peak:>6.1%} "
                  f"{ratio:>9} {ref_ms:>8} {vs:>8}")  # fmt: skip
    for n, why in skipped.items():
        print(f"{n}: no timm column ({why})")
    print(
        "cl/contig = speed-up of channels_last (samples/s ratio); MFU = achieved FLOP/s / "
        "matmul FLOP/s; FLOPs = 2 x multiply-adds of forward + backward; vs timm = samples/s "
        "trainlab / timm, same weights, same process, interleaved"
    )


if __name__ == "__main__":
    main()
