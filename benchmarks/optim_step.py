"""Optimizer step time: trainlab.optim against torch.optim, interleaved in one process.

    python -m benchmarks.optim_step                       # 10M and 50M params, all optimizers
    python -m benchmarks.optim_step --sizes 10 --optimizers adamw sgd --repeats 7

For each optimizer and size (100 float32 tensors totalling N million parameters, shared by
all variants; each variant has its own state) it times one step of: torch for-loop
(foreach=False, torch's CPU default), torch foreach, torch fused (where torch has a kernel),
trainlab default, trainlab foreach and trainlab fused (torch's kernel; on CPU trainlab's
multi-tensor C kernel for RMSprop, Adadelta, Adamax, NAdam, ASGD and Rprop; elsewhere the
compiled chain). The path each trainlab variant took is printed in brackets.
After warm-up (compile time reported), the variants run round-robin, `--repeats` rounds;
medians are printed with:

- ratio: time / the fastest torch implementation of the same algorithm (lower is better);
- vs default: time / torch's default (the for-loop on CPU);
- GB/s: the bytes the algorithm must move per step (read param, grad and each state
  buffer, write param and each state buffer; 4 bytes each) divided by the time;
- of RMW: that as a fraction of the in-place read-modify-write bandwidth
  (``a.add_(b, alpha=s)``: 3 x 4 bytes per element) measured in the same rounds.

LBFGS is not included: its step is a closure-driven loop, not an elementwise update.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

import trainlab.optim as tl
from trainlab.optim import cpu_kernels

N_TENSORS = 100

# name: (torch class, trainlab class, kwargs, state buffers per parameter, torch fused?)
ALGOS: dict[str, tuple[str, dict, int, bool]] = {
    "sgd": ("SGD", {"lr": 1e-3, "momentum": 0.9}, 1, True),
    "adam": ("Adam", {"lr": 1e-3}, 2, True),
    "adamw": ("AdamW", {"lr": 1e-3}, 2, True),
    "adagrad": ("Adagrad", {"lr": 1e-3}, 1, True),
    "rmsprop": ("RMSprop", {"lr": 1e-3}, 1, False),
    "adadelta": ("Adadelta", {}, 2, False),
    "adamax": ("Adamax", {}, 2, False),
    "nadam": ("NAdam", {}, 2, False),
    "asgd": ("ASGD", {}, 1, False),
    "rprop": ("Rprop", {}, 2, False),
}


def _median_ms(xs: list[float]) -> float:
    return statistics.median(xs) * 1e3


def _variants(
    name: str, params: list[torch.Tensor], compile_: bool
) -> dict[str, torch.optim.Optimizer]:
    cls, kw, _, has_fused = ALGOS[name]
    out: dict[str, torch.optim.Optimizer] = {
        "torch for-loop": getattr(torch.optim, cls)(params, foreach=False, **kw),
        "torch foreach": getattr(torch.optim, cls)(params, foreach=True, **kw),
    }
    if has_fused:
        out["torch fused"] = getattr(torch.optim, cls)(params, fused=True, **kw)
    out["trainlab default"] = getattr(tl, cls)(params, **kw)
    out["trainlab foreach"] = getattr(tl, cls)(params, foreach=True, **kw)
    fused = getattr(tl, cls)(params, fused=True, **kw)
    if compile_ or fused.path(fused.param_groups[0]) != "compiled":  # type: ignore[attr-defined]
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
                opt.step()
        times: dict[str, list[float]] = {k: [] for k in opts}
        rmw: list[float] = []
        for _ in range(repeats):
            rmw.append(_timed(lambda: a.add_(b, alpha=1e-7)))
            for label, opt in opts.items():
                times[label].append(_timed(opt.step))
    n_state = ALGOS[name][2]
    moved = millions * 1e6 * 4 * (3 + 2 * n_state)  # bytes per step
    rmw_gbs = 3 * 4 * millions * 1e6 / statistics.median(rmw) / 1e9
    torch_best = min(_median_ms(v) for k, v in times.items() if k.startswith("torch"))
    torch_default = _median_ms(times["torch for-loop"])
    print(f"\n{name}  {millions}M params in {N_TENSORS} tensors  "
          f"(in-place RMW bandwidth {rmw_gbs:.1f} GB/s; {moved / 1e6:.0f} MB moved per step)")  # fmt: skip
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 50], help="millions of params")
    ap.add_argument("--optimizers", nargs="+", default=list(ALGOS), choices=list(ALGOS))
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument(
        "--no-compile", action="store_true", help="skip fused variants that need torch.compile"
    )
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


if __name__ == "__main__":
    main()
