"""Optimizer step time: trainlab.optim against torch.optim, interleaved in one process.

    python -m benchmarks.optim_step                       # 10M and 50M params, all optimizers
    python -m benchmarks.optim_step --sizes 10 --optimizers adamw sgd --repeats 7
    python -m benchmarks.optim_step --sizes --layouts     # only the resnet18 layout rows

For each optimizer and size (100 float32 tensors totalling N million parameters, shared by
all variants; each variant has its own state) it times one step of: torch for-loop
(foreach=False, torch's CPU default), torch foreach, torch fused (where torch has a kernel),
torch compiled (``torch.compile`` of the default ``torch.optim`` step, the baseline a user
reaches for next; its compile time is printed separately), trainlab default, trainlab
foreach and trainlab fused (torch's kernel; on CPU trainlab's multi-tensor C kernel for
RMSprop, Adadelta, Adamax, NAdam, ASGD and Rprop; elsewhere the compiled chain). The path
each trainlab variant took is printed in brackets. After warm-up (compile times reported),
`--repeats` rounds run every variant once, in an order shuffled per round (seeded), so no
variant always follows the same one; medians are printed with:

- ratio: time / the fastest torch implementation of the same algorithm, the compiled one
  included (lower is better);
- vs default: time / torch's default (the for-loop on CPU);
- GB/s: the bytes the algorithm must move per step divided by the time. Per element, 4
  bytes for each array it must read and each it must write (``ALGOS``): the parameter and
  the gradient are read, the parameter written, and each state buffer read and written,
  except ASGD's average ``ax``, which is only written (``ax = w`` while ``mu = 1``, i.e.
  before ``t0``: a streamed write);
- of RMW: that as a fraction of the in-place read-modify-write bandwidth
  (``a.add_(b, alpha=s)``: 3 x 4 bytes per element) measured in the same rounds.

`--layouts` adds (or, with ``--sizes`` empty, only runs) one step of AdamW (torch's fused
kernel) and RMSprop (trainlab's C kernel) on the parameters of a resnet18 (10 classes,
3x64x64 inputs) kept contiguous and converted to channels_last, interleaved: the two must
take the same path and the same time.

LBFGS is not included: its step is a closure-driven loop, not an elementwise update.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

import trainlab.optim as tl
from benchmarks._timing import shuffled_rounds
from trainlab.optim import cpu_kernels

N_TENSORS = 100

# name: (class, kwargs, arrays read per element, arrays written per element, torch fused?)
ALGOS: dict[str, tuple[str, dict, int, int, bool]] = {
    "sgd": ("SGD", {"lr": 1e-3, "momentum": 0.9}, 3, 2, True),  # p g buf | p buf
    "adam": ("Adam", {"lr": 1e-3}, 4, 3, True),  # p g m v | p m v
    "adamw": ("AdamW", {"lr": 1e-3}, 4, 3, True),
    "adagrad": ("Adagrad", {"lr": 1e-3}, 3, 2, True),  # p g sum | p sum
    "rmsprop": ("RMSprop", {"lr": 1e-3}, 3, 2, False),  # p g v | p v
    "adadelta": ("Adadelta", {}, 4, 3, False),  # p g v acc | p v acc
    "adamax": ("Adamax", {}, 4, 3, False),  # p g m n | p m n
    "nadam": ("NAdam", {}, 4, 3, False),  # p g m v | p m v
    "asgd": ("ASGD", {}, 2, 2, False),  # p g | p ax (ax = w: written, not read)
    "rprop": ("Rprop", {}, 4, 3, False),  # p g prev size | p prev size
}


def _median_ms(xs: list[float]) -> float:
    return statistics.median(xs) * 1e3


class _Compiled:
    """``torch.compile`` of a torch.optim optimizer's step; ``compile_time_s`` is the first
    call's time (tracing and compiling)."""

    def __init__(self, opt: torch.optim.Optimizer) -> None:
        self.opt, self.compile_time_s = opt, 0.0
        self._step = torch.compile(opt.step)

    def step(self) -> None:
        if self.compile_time_s == 0.0:
            self.compile_time_s = _timed(self._step)
        else:
            self._step()


def _variants(name: str, params: list[torch.Tensor], compile_: bool) -> dict[str, object]:
    cls, kw, _, _, has_fused = ALGOS[name]
    out: dict[str, object] = {
        "torch for-loop": getattr(torch.optim, cls)(params, foreach=False, **kw),
        "torch foreach": getattr(torch.optim, cls)(params, foreach=True, **kw),
    }
    if has_fused:
        out["torch fused"] = getattr(torch.optim, cls)(params, fused=True, **kw)
    if compile_:
        out["torch compiled"] = _Compiled(getattr(torch.optim, cls)(params, **kw))
    out["trainlab default"] = getattr(tl, cls)(params, **kw)
    out["trainlab foreach"] = getattr(tl, cls)(params, foreach=True, **kw)
    fused = getattr(tl, cls)(params, fused=True, **kw)
    if compile_ or fused.path(fused.param_groups[0]) != "compiled":
        out["trainlab fused"] = fused
    return out


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench(name: str, millions: int, repeats: int, compile_: bool) -> None:
    numel = millions * 1_000_000 // N_TENSORS
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(numel, generator=gen).requires_grad_() for _ in range(N_TENSORS)]
    for p in params:
        p.grad = torch.randn(numel, generator=gen) * 1e-3
    opts = _variants(name, params, compile_)
    a = torch.randn(millions * 1_000_000, generator=gen)
    b = torch.randn(millions * 1_000_000, generator=gen)
    with torch.no_grad():
        for opt in opts.values():  # warm-up (and compile: variants share compiled graphs)
            for _ in range(3):
                opt.step()  # type: ignore[attr-defined]
        steps = {k: o.step for k, o in opts.items()}  # type: ignore[attr-defined]
        steps["RMW"] = lambda: a.add_(b, alpha=1e-7)
        times = shuffled_rounds(steps, repeats, seed=millions)
    rmw = times.pop("RMW")
    _, _, reads, writes, _ = ALGOS[name]
    moved = millions * 1e6 * 4 * (reads + writes)  # bytes per step
    rmw_gbs = 3 * 4 * millions * 1e6 / statistics.median(rmw) / 1e9
    torch_best = min(_median_ms(v) for k, v in times.items() if k.startswith("torch"))
    torch_default = _median_ms(times["torch for-loop"])
    print(f"\n{name}  {millions}M params in {N_TENSORS} tensors  "
          f"(in-place RMW bandwidth {rmw_gbs:.1f} GB/s; {moved / 1e6:.0f} MB moved per step: "
          f"{reads} arrays read, {writes} written)")  # fmt: skip
    print(f"  {'variant':<18}{'ms/step':>9}{'ratio':>8}{'vs default':>12}{'GB/s':>8}{'of RMW':>8}")
    for label, ts in times.items():
        ms = _median_ms(ts)
        gbs = moved / (ms / 1e3) / 1e9
        line = (f"  {label:<18}{ms:>9.2f}{ms / torch_best:>8.2f}{ms / torch_default:>12.2f}"
                f"{gbs:>8.1f}{gbs / rmw_gbs:>8.0%}")  # fmt: skip
        opt = opts[label]
        if label.startswith("trainlab"):
            line += f"   [{opt.path(opt.param_groups[0])}]"  # type: ignore[attr-defined]
        if getattr(opt, "compile_time_s", 0) > 0:
            line += f"   (compile {opt.compile_time_s:.1f} s)"  # type: ignore[attr-defined]
        print(line, flush=True)


def bench_layouts(repeats: int) -> None:
    """AdamW and RMSprop on resnet18's parameters: contiguous against channels_last."""
    from trainlab.models import create_model

    gen = torch.Generator().manual_seed(0)
    steps, paths = {}, {}
    for fmt_name, fmt in (("contiguous", torch.contiguous_format),
                          ("channels_last", torch.channels_last)):  # fmt: skip
        model = create_model("resnet18", num_classes=10, in_shape=(3, 64, 64))
        model = model.to(memory_format=fmt)
        params = list(model.parameters())
        for p in params:  # gradients in the parameter's layout, as autograd makes them
            p.grad = torch.empty_like(p).copy_(torch.randn(p.shape, generator=gen) * 1e-3)
        for cls in ("AdamW", "RMSprop"):
            opt = getattr(tl, cls)(params, lr=1e-3)
            for _ in range(3):
                opt.step()
            steps[f"{cls} {fmt_name}"] = opt.step
            paths[f"{cls} {fmt_name}"] = opt.path(opt.param_groups[0])
    n = sum(p.numel() for p in params)
    n_cl = sum(p.dim() == 4 and not p.is_contiguous() for p in params)
    times = shuffled_rounds(steps, repeats, seed=1)
    print(f"\nresnet18 (10 classes, 3x64x64): {n / 1e6:.1f}M params in {len(params)} tensors, "
          f"{n_cl} of them channels_last in the second model")  # fmt: skip
    print(f"  {'variant':<24}{'ms/step':>9}{'vs contiguous':>15}")
    for label, ts in times.items():
        cls = label.split()[0]
        ratio = _median_ms(ts) / _median_ms(times[f"{cls} contiguous"])
        print(f"  {label:<24}{_median_ms(ts):>9.2f}{ratio:>15.2f}   [{paths[label]}]")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[10, 50], help="millions of params")
    ap.add_argument("--optimizers", nargs="+", default=list(ALGOS), choices=list(ALGOS))
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument(
        "--no-compile", action="store_true", help="skip the variants that need torch.compile"
    )
    ap.add_argument("--layouts", action="store_true", help="add the resnet18 layout rows")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if cpu_kernels.available():
        built = cpu_kernels.BUILD["seconds"]
        how = f"built in {built:.1f} s" if built else "loaded from the cache"
        print(f"trainlab CPU kernels: {how} ({cpu_kernels.BUILD['path']})")
    else:
        print("trainlab CPU kernels: not available (no C compiler)")
    for millions in args.sizes:
        for name in args.optimizers:
            bench(name, millions, args.repeats, not args.no_compile)
    if args.layouts:
        bench_layouts(args.repeats)


if __name__ == "__main__":
    main()
