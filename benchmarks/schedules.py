"""Per-step cost of `trainlab.schedules.Scheduler` against torch.optim.lr_scheduler.

    python -m benchmarks.schedules

For each schedule the two run in the same process, interleaved, after a warm-up, over
several repeats; the table shows the median microseconds per `step()` and the ratio
trainlab / torch. Both drive the same kind of optimizer (SGD, 2 and 24 param groups; 24 is
a layer-wise-decay setup). The lr itself is checked equal before timing.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable

import torch
from torch.optim import lr_scheduler as L

from trainlab import schedules as S

STEPS = 2000
REPEATS = 7
TOTAL = 10**6


def optimizer(groups: int) -> torch.optim.Optimizer:
    return torch.optim.SGD(
        [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.1} for _ in range(groups)],
        momentum=0.9,
    )


CASES: dict[str, tuple[Callable, Callable, Callable | None]] = {
    "warmup+cosine": (
        lambda o: L.SequentialLR(
            o, [L.LinearLR(o, 0.1, 1.0, 1000), L.CosineAnnealingLR(o, TOTAL)], [1000]
        ),
        lambda o: S.Scheduler(o, S.warmup(S.cosine(TOTAL), 1000, start_factor=0.1)),
        None,
    ),
    "one_cycle": (
        lambda o: L.OneCycleLR(o, 0.1, TOTAL, cycle_momentum=False),
        lambda o: S.Scheduler(o, S.one_cycle(TOTAL)),
        None,
    ),
    "restarts (per batch, fractional epochs)": (
        lambda o: L.CosineAnnealingWarmRestarts(o, 3, T_mult=2),
        lambda o: S.Scheduler(o, S.cosine_restarts(3, t_mult=2), steps_per_epoch=100),
        lambda s, t: s.step(t / 100),
    ),
    "step": (lambda o: L.StepLR(o, 100), lambda o: S.Scheduler(o, S.step(100)), None),
}


def time_steps(sched, stepper, start: int) -> float:
    t0 = time.perf_counter()
    if stepper is None:
        for _ in range(STEPS):
            sched.step()
    else:
        for t in range(start, start + STEPS):
            stepper(sched, t)
    return (time.perf_counter() - t0) / STEPS * 1e6


def main() -> None:
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    print(f"torch {torch.__version__}; {STEPS} steps x {REPEATS} repeats, median us/step")
    print(f"{'schedule':42s} {'groups':>6s} {'torch':>9s} {'trainlab':>9s} {'ratio':>7s}")
    for name, (make_ref, make_ours, stepper) in CASES.items():
        for groups in (2, 24):
            o_ref, o_ours = optimizer(groups), optimizer(groups)
            ref, ours = make_ref(o_ref), make_ours(o_ours)
            for i in range(3):  # warm-up, and the two agree
                (ref.step() if stepper is None else stepper(ref, i + 1)), ours.step()
                lr_ref, lr_ours = o_ref.param_groups[0]["lr"], o_ours.param_groups[0]["lr"]
                assert abs(lr_ref - lr_ours) <= 1e-12 * abs(lr_ref), (name, lr_ref, lr_ours)
            t_ref, t_ours = [], []
            start = 4
            for _ in range(REPEATS):
                t_ref.append(time_steps(ref, stepper, start))
                t_ours.append(time_steps(ours, None, start))
                start += STEPS
            a, b = statistics.median(t_ref), statistics.median(t_ours)
            print(f"{name:42s} {groups:6d} {a:9.2f} {b:9.2f} {b / a:7.2f}")


if __name__ == "__main__":
    main()
