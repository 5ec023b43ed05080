"""Attack throughput and adversarial-training cost (issue 17).

    python -m benchmarks.attacks [--repeats 5] [--threads 1] [--clock cpu|wall] [--device cpu]
                                 [--cases cnn,resnet18] [--epochs-repeats 3]

1. PGD-10 (L-inf, eps 8/255, alpha 2/255, random start) images/s of `trainlab.robust.pgd`
   against torchattacks' `PGD` with the same settings, on the same model and batch: the
   digits CNN (1x8x8, batch 256) and resnet18 at 3x32x32 (batch 32). Inputs in [0, 1] (the
   range torchattacks assumes) and bounds (0, 1) for trainlab; "pgd+fold" is the same call on
   the BN-folded copy that `robust_accuracy` (and so `trainlab eval --attack`) attacks (its
   one-off folding time printed beside it). torchattacks is an optional
   comparison library (install with `../shared/tools/peer-env.sh torchattacks`); without it
   the comparison column prints "skipped".
2. Time per training epoch on digits (cnn, batch 64) of standard training, fast FGSM
   training (Wong et al. 2020) and PGD-7 training (Madry et al. 2018), each a Trainer whose
   `train_epoch` is timed, interleaved round by round, and the ratio to standard training.

Medians over the repeats, after a warm-up; the order of the cases is shuffled every round
(seeded). On a shared, oversubscribed CPU use `--threads 1 --clock cpu` (process CPU time
leaves out the time other processes held the core).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from benchmarks._timing import shuffled_rounds
from trainlab.models import create_model
from trainlab.models.fold import fold_batchnorm
from trainlab.robust import pgd

EPS, ALPHA, STEPS = 8 / 255, 2 / 255, 10
CASES = {"cnn": ((1, 8, 8), 256), "resnet18": ((3, 32, 32), 32)}


def import_torchattacks() -> tuple[object | None, str]:
    try:
        import torchattacks
    except Exception as e:  # ImportError, or its torchvision import failing
        return None, f"skipped ({type(e).__name__})"
    return torchattacks, f"torchattacks {torchattacks.__version__}"


def _pgd_case(name: str, ta: object | None, args, device: torch.device, clock, seed: int) -> None:
    shape, batch = CASES[name]
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, in_shape=shape).to(device).eval()
    x = torch.rand(batch, *shape, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    gen = torch.Generator(device).manual_seed(0)
    t = time.perf_counter()
    folded = fold_batchnorm(model)  # what robust_accuracy attacks: BN folded, once
    fold_ms = 1000 * (time.perf_counter() - t)
    runs: dict[str, Callable[[], object]] = {
        "trainlab": lambda: pgd(model, x, y, EPS, ALPHA, STEPS, bounds=(0.0, 1.0), generator=gen),
        "folded": lambda: pgd(folded, x, y, EPS, ALPHA, STEPS, bounds=(0.0, 1.0), generator=gen),
    }
    if ta is not None:
        ref = ta.PGD(model, eps=EPS, alpha=ALPHA, steps=STEPS, random_start=True)  # type: ignore[attr-defined]
        runs["torchattacks"] = lambda: ref(x, y)
    for fn in runs.values():  # warm-up
        fn()
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    times = shuffled_rounds(runs, args.repeats, seed=seed, clock=clock, sync=sync)
    rate = {k: batch / statistics.median(v) for k, v in times.items()}
    has = "torchattacks" in rate
    ref_s = f"{rate['torchattacks']:19.1f}" if has else f"{'skipped':>19}"
    for k, label in (("trainlab", "pgd"), ("folded", "pgd+fold")):
        ratio = f"{rate[k] / rate['torchattacks']:6.2f}" if has else "     -"
        print(f"{name:10} {label:9} {batch:5d} {rate[k]:15.1f} {ref_s} {ratio}", flush=True)
    print(f"{'':10} (folding batch-norm took {fold_ms:.0f} ms wall, once per evaluation)")


def bench_pgd(args: argparse.Namespace, device: torch.device, clock) -> None:
    ta, note = import_torchattacks()
    print(f"PGD-{STEPS} linf eps=8/255 alpha=2/255, random start; reference: {note}")
    print(
        f"{'model':10} {'batch':>5} {'trainlab img/s':>15} {'torchattacks img/s':>19} {'ratio':>6}"
    )
    for seed, name in enumerate(args.cases.split(",")):
        _pgd_case(name, ta, args, device, clock, seed)


def bench_epochs(args: argparse.Namespace, clock) -> None:
    from trainlab.data import load_dataset
    from trainlab.recipes import load_config
    from trainlab.train import Trainer

    base = ["model.name=cnn", "log.every_steps=0", f"train.device={args.device}"]
    cases = {
        "standard": [],
        "fast FGSM": ["task.name=adversarial", "robust.method=fgsm"],
        "PGD-7": ["task.name=adversarial", "robust.method=pgd", "robust.steps=7"],
    }
    tmp = Path(tempfile.mkdtemp())
    data = load_dataset("digits")
    trainers = {
        k: Trainer(load_config(overrides=[*base, *v, f"runs_dir={tmp}"]), data)
        for k, v in cases.items()
    }
    for t in trainers.values():
        t.train_epoch(0)  # warm-up
    runs = {
        k: functools.partial(lambda t, epochs: t.train_epoch(next(epochs)), t, itertools.count(1))
        for k, t in trainers.items()
    }
    times = shuffled_rounds(runs, args.epochs_repeats, seed=1, clock=clock)
    std = statistics.median(times["standard"])
    print(
        f"\ntraining epoch on digits (cnn, batch 64, {len(trainers['standard'].train_loader)} steps)"
    )
    print(f"{'method':10} {'s/epoch':>8} {'x standard':>10}")
    for k, v in times.items():
        m = statistics.median(v)
        print(f"{k:10} {m:8.3f} {m / std:10.2f}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--epochs-repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--cases", default="cnn,resnet18")
    ap.add_argument("--skip-epochs", action="store_true")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)  # a benchmark script, not library code
    device = torch.device(args.device)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.clock} clock")
    bench_pgd(args, device, clock)
    if not args.skip_epochs:
        bench_epochs(args, clock)


if __name__ == "__main__":
    main()
