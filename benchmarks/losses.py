"""Losses and metrics against torch.nn.functional: forward + backward time, interleaved.

    python -m benchmarks.losses [--device cpu|cuda] [--repeats 7]

Each case runs trainlab's function and torch's in the same process, alternating, after a
warm-up; each timing is the mean of an inner loop, and the table shows the median over
repeats and the ratio trainlab / torch (below 1: trainlab is faster). The metric case
compares ``ClassificationMetrics.update`` (confusion matrix, top-5, calibration bins) with
the minimal accuracy count a trainer would otherwise do.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

import trainlab.losses as L
from trainlab.metrics import ClassificationMetrics


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn: Callable[[], object], device: torch.device, inner: int) -> float:
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    _sync(device)
    return (time.perf_counter() - t0) / inner


def _fwd_bwd(loss_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor):
    def run() -> None:
        x.grad = None
        loss_fn(x).backward()

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--inner", type=int, default=10)
    args = ap.parse_args()
    dev = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    b, k = 256, 1000
    x = (torch.randn(b, k, generator=g) * 3).to(dev).requires_grad_()
    y = torch.randint(0, k, (b,), generator=g).to(dev)
    q = torch.softmax(torch.randn(b, k, generator=g), 1).to(dev)
    t = (torch.rand(b, k, generator=g) < 0.1).float().to(dev)
    pw = (torch.rand(k, generator=g) * 3).to(dev)
    r = torch.randn(1 << 20, generator=g).to(dev).requires_grad_()
    rt = torch.randn(1 << 20, generator=g).to(dev)
    seg = torch.randn(8, 4, 64, 64, generator=g).to(dev)
    seg_t = torch.randint(0, 4, (8, 64, 64), generator=g).to(dev)

    cases: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        ("cross_entropy 256x1000",
         _fwd_bwd(lambda a: L.cross_entropy(a, y), x),
         _fwd_bwd(lambda a: F.cross_entropy(a, y), x)),
        ("  check_targets=False",
         _fwd_bwd(lambda a: L.cross_entropy(a, y, check_targets=False), x),
         _fwd_bwd(lambda a: F.cross_entropy(a, y), x)),
        ("  label_smoothing=0.1",
         _fwd_bwd(lambda a: L.cross_entropy(a, y, label_smoothing=0.1, check_targets=False), x),
         _fwd_bwd(lambda a: F.cross_entropy(a, y, label_smoothing=0.1), x)),
        ("  soft targets",
         _fwd_bwd(lambda a: L.cross_entropy(a, q, check_targets=False), x),
         _fwd_bwd(lambda a: F.cross_entropy(a, q), x)),
        ("bce_with_logits + pos_weight",
         _fwd_bwd(lambda a: L.binary_cross_entropy_with_logits(a, t, pos_weight=pw), x),
         _fwd_bwd(lambda a: F.binary_cross_entropy_with_logits(a, t, pos_weight=pw), x)),
        ("mse 1M",
         _fwd_bwd(lambda a: L.mse_loss(a, rt), r),
         _fwd_bwd(lambda a: F.mse_loss(a, rt), r)),
        ("huber 1M",
         _fwd_bwd(lambda a: L.huber_loss(a, rt), r),
         _fwd_bwd(lambda a: F.huber_loss(a, rt), r)),
        ("kl_divergence 256x1000",
         lambda: L.kl_divergence(q, x.detach().log_softmax(1), log_q=True, check=False),
         lambda: F.kl_div(x.detach().log_softmax(1), q, reduction="batchmean")),
    ]  # fmt: skip
    # losses by name (trainlab.losses.create_loss), as the trainer builds them, on
    # segmentation logits (8, 4, 64, 64) with unlabelled pixels (-100)
    seg_x = seg.clone().requires_grad_()
    seg_i = seg_t.clone()
    seg_i[:, :8] = -100
    named = {n: L.create_loss(n, "segmentation", check_targets=False) for n in ("cross_entropy", "nll", "ce+dice")}  # fmt: skip
    cases += [
        ("named cross_entropy 8x4x64x64",
         _fwd_bwd(lambda a: named["cross_entropy"](a, seg_i), seg_x),
         _fwd_bwd(lambda a: F.cross_entropy(a, seg_i), seg_x)),
        ("named nll (ref: nll(log_softmax))",
         _fwd_bwd(lambda a: named["nll"](a, seg_i), seg_x),
         _fwd_bwd(lambda a: F.nll_loss(F.log_softmax(a, 1), seg_i), seg_x)),
        ("named ce+dice (ref: ce + dice by hand)",
         _fwd_bwd(lambda a: named["ce+dice"](a, seg_i), seg_x),
         _fwd_bwd(lambda a: F.cross_entropy(a, seg_i) + L.dice_loss(
             a, seg_i, from_logits=True, ignore_index=-100), seg_x)),
    ]  # fmt: skip
    metrics = ClassificationMetrics(dev, num_classes=k)
    correct = torch.zeros((), dtype=torch.int64, device=dev)

    def acc_only() -> None:
        correct.add_((x.detach().argmax(1) == y).sum())

    cases.append(("ClassificationMetrics.update", lambda: metrics.update(x, y, 0.0), acc_only))
    # Dice has no torch twin: print its absolute time only (reference = a softmax of the input)
    cases.append((
        "dice_loss 8x4x64x64 (ref: softmax)",
        lambda: L.dice_loss(seg, seg_t, from_logits=True),
        lambda: torch.softmax(seg, 1),
    ))  # fmt: skip

    print(f"device={dev} threads={torch.get_num_threads()} torch={torch.__version__}")
    print(f"{'case':36s} {'trainlab ms':>12s} {'torch ms':>10s} {'ratio':>7s}")
    for name, ours, ref in cases:
        for fn in (ours, ref):  # warm-up
            _time(fn, dev, 3)
        a, b_ = [], []
        for _ in range(args.repeats):  # interleaved
            a.append(_time(ours, dev, args.inner))
            b_.append(_time(ref, dev, args.inner))
        ma, mb = statistics.median(a) * 1e3, statistics.median(b_) * 1e3
        print(f"{name:36s} {ma:12.3f} {mb:10.3f} {ma / mb:7.2f}")


if __name__ == "__main__":
    main()
