"""Training-step throughput of the model zoo: forward + backward + AdamW step.

    python -m benchmarks.train_step [--models resnet18,convnext_atto,vit_tiny,cnn]
                                    [--batch 32] [--shape 3x64x64] [--repeats 7] [--device cpu]

For each model, contiguous (NCHW) and channels_last layouts are timed in the same process,
interleaved round by round after a warm-up; the table gives medians over the repeats,
samples/s, the ratio channels_last / contiguous, and the achieved FLOP/s as a fraction of
a float32 2048x2048 matmul's FLOP/s measured in the same rounds (model FLOPs utilization,
MFU). A step's FLOPs are counted once with torch.utils.flop_counter over forward and
backward (2 FLOPs per multiply-add; elementwise and normalization ops are not counted).
Float32 throughout; on CUDA (when present or `--device cuda`) the same, with synchronization.
`--reference convnext_atto` (default) also times timm's 1x1-conv computation of the
conv-MLP ConvNeXt blocks on the same weights, the implementation trainlab's replaces.
On a shared, oversubscribed CPU use `--threads 1`: OpenMP barriers waiting for a
descheduled second thread made 2-thread figures swing up to 10x between runs.
"""

from __future__ import annotations

import argparse
import statistics
import time
import types

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from trainlab.models import create_model, parse_shape
from trainlab.models.layers import ConvNeXtBlock, PointwiseLinear, layer_norm_2d

NUM_CLASSES = 10


def _conv_mlp_forward(self: ConvNeXtBlock, x: torch.Tensor) -> torch.Tensor:
    """timm's `conv_mlp=True` computation on the same weights, the reference for atto..nano:
    LayerNorm2d and 1x1 convolutions on `(B, C, H, W)` instead of a channels-last linear."""
    shortcut = x
    x = self.conv_dw(x)
    x = layer_norm_2d(x, self.norm.weight, self.norm.bias, self.norm.eps)
    x = F.conv2d(x, self.mlp.fc1.weight, self.mlp.fc1.bias)
    x = F.conv2d(self.mlp.act(x), self.mlp.fc2.weight, self.mlp.fc2.bias)
    if self.gamma is not None:
        x = x * self.gamma.view(1, -1, 1, 1)
    return self.drop_path(x) + shortcut


def use_conv_mlp_reference(model: torch.nn.Module) -> int:
    """Switch every conv-layout ConvNeXt block to the 1x1-conv computation; returns how many."""
    n = 0
    for m in model.modules():
        if isinstance(m, ConvNeXtBlock) and isinstance(m.mlp.fc1, PointwiseLinear):
            m.forward = types.MethodType(_conv_mlp_forward, m)  # type: ignore[method-assign]
            n += 1
    return n


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Case:
    """One model in one memory layout, with its optimizer and a fixed batch."""

    def __init__(self, name: str, shape: tuple[int, ...], batch: int, device: torch.device,
                 channels_last: bool, seed: int = 0, reference: bool = False) -> None:  # fmt: skip
        g = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        self.name, self.channels_last, self.device = name, channels_last, device
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.model = create_model(name, num_classes=NUM_CLASSES, in_shape=shape).to(device)
        self.model = self.model.to(memory_format=fmt).train()
        self.label = name + (" (1x1-conv ref)" if reference else "")
        if reference and not use_conv_mlp_reference(self.model):
            raise ValueError(f"{name} has no conv-layout ConvNeXt blocks to compare")
        self.x = torch.randn((batch, *shape), generator=g).to(device).to(memory_format=fmt)
        self.y = torch.randint(0, NUM_CLASSES, (batch,), generator=g).to(device)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-4, fused=True)

    def step(self) -> None:
        loss = F.cross_entropy(self.model(self.x), self.y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()

    def time_steps(self, n: int) -> float:
        _sync(self.device)
        t = time.perf_counter()
        for _ in range(n):
            self.step()
        _sync(self.device)
        return (time.perf_counter() - t) / n

    def flops_per_step(self) -> int:
        counter = FlopCounterMode(display=False)
        with counter:
            loss = F.cross_entropy(self.model(self.x), self.y)
            loss.backward()
        self.opt.zero_grad(set_to_none=True)
        return counter.get_total_flops()


def matmul_seconds(device: torch.device, n: int = 2048, iters: int = 5) -> float:
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    a @ b
    _sync(device)
    t = time.perf_counter()
    for _ in range(iters):
        a @ b
    _sync(device)
    return (time.perf_counter() - t) / iters


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="resnet18,convnext_atto,vit_tiny,cnn")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--shape", default="3x64x64")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--steps", type=int, default=3, help="steps per timed repeat")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--reference", default="convnext_atto",
                    help="models also timed with timm's 1x1-conv MLP computation ('' for none)")  # fmt: skip
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0: torch default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    shape = parse_shape(args.shape)
    names = [n for n in args.models.split(",") if n]
    refs = [n for n in args.reference.split(",") if n]

    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
          f"batch {args.batch} x {args.shape}, float32, AdamW(fused), "
          f"median of {args.repeats} x {args.steps} steps")  # fmt: skip
    cases = [Case(n, shape, args.batch, device, cl) for n in names for cl in (False, True)]
    cases += [Case(n, shape, args.batch, device, cl, reference=True) for n in refs for cl in (False, True)]  # fmt: skip
    flops = {c.label: c.flops_per_step() for c in cases if not c.channels_last}
    for c in cases:  # warm-up (allocator, oneDNN primitive caches)
        for _ in range(args.warmup):
            c.step()
    times: dict[tuple[str, bool], list[float]] = {(c.label, c.channels_last): [] for c in cases}
    mm: list[float] = []
    for _ in range(args.repeats):  # interleaved rounds
        mm.append(matmul_seconds(device))
        for c in cases:
            times[(c.label, c.channels_last)].append(c.time_steps(args.steps))
    peak = 2 * 2048**3 / statistics.median(mm)
    print(f"float32 matmul 2048x2048: {peak / 1e9:.1f} GFLOP/s (median)")
    hdr = (f"{'model':<29} {'layout':<13} {'ms/step':>8} {'samples/s':>10} {'GFLOP/step':>11} "
           f"{'GFLOP/s':>8} {'MFU':>6} {'cl/contig':>9}")  # fmt: skip
    print(hdr)
    print("-" * len(hdr))
    for n in names + [n + " (1x1-conv ref)" for n in refs]:
        base = statistics.median(times[(n, False)])
        for cl in (False, True):
            t = statistics.median(times[(n, cl)])
            rate = flops[n] / t
            ratio = f"{base / t:.2f}x" if cl else ""
            print(f"{n:<29} {'channels_last' if cl else 'contiguous':<13} {t * 1e3:>8.1f} "
                  f"{args.batch / t:>10.1f} {flops[n] / 1e9:>11.2f} {rate / 1e9:>8.1f} "
                  f"{rate / peak:>6.1%} {ratio:>9}")  # fmt: skip
    for n in refs:
        for cl in (False, True):
            ours, ref = (statistics.median(times[(k, cl)]) for k in (n, n + " (1x1-conv ref)"))
            print(f"{n} {'channels_last' if cl else 'contiguous'}: samples/s trainlab / "
                  f"1x1-conv reference = {ref / ours:.2f}x")  # fmt: skip
    print(
        "cl/contig = speed-up of channels_last (samples/s ratio); MFU = achieved FLOP/s / "
        "matmul FLOP/s; FLOPs = 2 x multiply-adds of forward + backward"
    )


if __name__ == "__main__":
    main()
