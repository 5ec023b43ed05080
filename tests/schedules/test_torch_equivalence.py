"""Every schedule torch also has gives torch's lr sequence: 1,000 steps, two param groups.

torch updates most schedulers recursively (lr_t = lr_{t-1} * ratio); trainlab evaluates
the closed form. Both are compared as they actually run, with a relative tolerance of
1e-12: torch's recursive ratios telescope (each is the quotient of the same floating-point
expressions trainlab evaluates), so the two differ by accumulated rounding only, ~1e-15.
"""

from __future__ import annotations

import math
import random
import warnings
from collections.abc import Callable

import pytest
import torch
from torch.optim import lr_scheduler as L

from trainlab import schedules as S

N = 1000
BASE = (0.1, 0.003)
REL = 1e-12


def make_optimizer(kind: str = "sgd") -> torch.optim.Optimizer:
    p0, p1 = torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(2))
    groups = [{"params": [p0], "lr": BASE[0]}, {"params": [p1], "lr": BASE[1]}]
    if kind == "adamw":
        return torch.optim.AdamW(groups)
    return torch.optim.SGD(groups, momentum=0.9)


def torch_lrs(make: Callable, n: int = N, stepper: Callable | None = None) -> list[list[float]]:
    """The lr of each group before each of n updates, as torch's scheduler sets them."""
    opt = make_optimizer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation warning for step(epoch)
        sched = make(opt)
        out = []
        for t in range(n):
            out.append([float(g["lr"]) for g in opt.param_groups])
            opt.step()
            if stepper is None:
                sched.step()
            else:
                stepper(sched, t)
    return out


def our_lrs(schedule, n: int = N, **kw) -> list[list[float]]:
    opt = make_optimizer()
    sched = S.Scheduler(opt, schedule, **kw)
    out = []
    for _ in range(n):
        out.append(sched.get_last_lr())
        opt.step()
        sched.step()
    return out


def assert_close(ours: list[list[float]], ref: list[list[float]], rel: float = REL) -> None:
    assert len(ours) == len(ref)
    for t, (a, b) in enumerate(zip(ours, ref, strict=True)):
        for g, (x, y) in enumerate(zip(a, b, strict=True)):
            assert math.isclose(x, y, rel_tol=rel, abs_tol=0.0), (t, g, x, y)


def per_group(fn: Callable[[float], object]) -> list:
    """One schedule per group, for torch options that are absolute lrs (eta_min)."""
    return [fn(base) for base in BASE]


ETA = 1e-4  # an absolute eta_min, shared by both groups as torch shares it
SPE = 7  # iterations per epoch for the fractional-epoch cases


def _frac_epoch(sched, t):
    """torch's documented per-batch SGDR call: step(epoch + i / iters)."""
    s = t + 1
    sched.step(s // SPE + (s % SPE) / SPE)


CASES = {
    "StepLR": (lambda o: L.StepLR(o, 30, 0.5), lambda: S.step(30, 0.5), {}),
    "StepLR-default-gamma": (lambda o: L.StepLR(o, 250), lambda: S.step(250), {}),
    "MultiStepLR": (
        lambda o: L.MultiStepLR(o, [100, 300, 300, 700], 0.3),
        lambda: S.multistep([700, 100, 300, 300], 0.3),
        {},
    ),
    "ExponentialLR": (lambda o: L.ExponentialLR(o, 0.995), lambda: S.exponential(0.995), {}),
    "LinearLR-warmup": (
        lambda o: L.LinearLR(o, 0.1, 1.0, 400),
        lambda: S.linear(0.1, 1.0, 400),
        {},
    ),
    "LinearLR-decay": (
        lambda o: L.LinearLR(o, 1.0, 0.05, 1000),
        lambda: S.linear(1.0, 0.05, 1000),
        {},
    ),
    "PolynomialLR": (lambda o: L.PolynomialLR(o, 900, 2.0), lambda: S.polynomial(900, 2.0), {}),
    "PolynomialLR-0.9": (
        lambda o: L.PolynomialLR(o, 1000, 0.9),
        lambda: S.polynomial(1000, 0.9),
        {},
    ),
    "CosineAnnealingLR": (lambda o: L.CosineAnnealingLR(o, 1000), lambda: S.cosine(1000), {}),
    "CosineAnnealingLR-eta_min": (
        lambda o: L.CosineAnnealingLR(o, 999, eta_min=ETA),
        lambda: per_group(lambda b: S.cosine(999, ETA / b)),
        {},
    ),
    "CosineAnnealingWarmRestarts": (
        lambda o: L.CosineAnnealingWarmRestarts(o, 70),
        lambda: S.cosine_restarts(70),
        {},
    ),
    "CosineAnnealingWarmRestarts-T_mult": (
        lambda o: L.CosineAnnealingWarmRestarts(o, 50, T_mult=2, eta_min=ETA),
        lambda: per_group(lambda b: S.cosine_restarts(50, t_mult=2, min_factor=ETA / b)),
        {},
    ),
    "CosineAnnealingWarmRestarts-fractional": (
        lambda o: L.CosineAnnealingWarmRestarts(o, 3, eta_min=ETA),
        lambda: per_group(lambda b: S.cosine_restarts(3, min_factor=ETA / b)),
        {"steps_per_epoch": SPE, "stepper": _frac_epoch},
    ),
    "CosineAnnealingWarmRestarts-T_mult-fractional": (
        lambda o: L.CosineAnnealingWarmRestarts(o, 2, T_mult=2),
        lambda: S.cosine_restarts(2, t_mult=2),
        {"steps_per_epoch": SPE, "stepper": _frac_epoch},
    ),
    "OneCycleLR": (
        lambda o: L.OneCycleLR(o, list(BASE), N),
        lambda: S.one_cycle(N),
        {},
    ),
    "OneCycleLR-three-phase": (
        lambda o: L.OneCycleLR(o, list(BASE), N, pct_start=0.25, three_phase=True, div_factor=10.0),
        lambda: S.one_cycle(N, pct_start=0.25, three_phase=True, div_factor=10.0),
        {},
    ),
    "LambdaLR": (
        lambda o: L.LambdaLR(o, lambda e: 1.0 / (1.0 + 0.01 * e)),
        lambda: S.from_lambda(lambda e: 1.0 / (1.0 + 0.01 * e)),
        {},
    ),
    "LambdaLR-per-group": (
        lambda o: L.LambdaLR(o, [lambda e: 0.99**e, lambda e: (e % 10 + 1) / 10]),
        lambda: [S.from_lambda(lambda e: 0.99**e), S.from_lambda(lambda e: (e % 10 + 1) / 10)],
        {},
    ),
    "SequentialLR-warmup-cosine": (
        lambda o: L.SequentialLR(
            o, [L.LinearLR(o, 0.1, 1.0, 100), L.CosineAnnealingLR(o, 900)], [100]
        ),
        lambda: S.join([S.linear(0.1, 1.0, 100), S.cosine(900)], [100]),
        {},
    ),
    "SequentialLR-as-warmup()": (
        lambda o: L.SequentialLR(
            o, [L.LinearLR(o, 0.1, 1.0, 100), L.CosineAnnealingLR(o, 900)], [100]
        ),
        lambda: S.warmup(S.cosine(900), 100, start_factor=0.1),
        {},
    ),
    "SequentialLR-three": (
        lambda o: L.SequentialLR(
            o,
            [L.ConstantLR(o, 0.1, 50), L.ExponentialLR(o, 0.99), L.StepLR(o, 40, 0.5)],
            [200, 500],
        ),
        lambda: S.join(
            [
                S.join([S.constant(0.1), S.constant()], [50]),
                S.exponential(0.99),
                S.step(40, 0.5),
            ],
            [200, 500],
        ),
        {},
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_lr_sequence_equals_torch(name: str) -> None:
    make_torch, make_ours, kw = CASES[name]
    kw = dict(kw)
    stepper = kw.pop("stepper", None)
    ref = torch_lrs(make_torch, stepper=stepper)
    assert_close(our_lrs(make_ours(), **kw), ref)


@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle_linear_anneal(three_phase: bool) -> None:
    """Linear one-cycle: torch's `(end - start) * pct + start` cancels near the end.

    There the value (down to start / 1e4) carries an absolute rounding error of a few ulp
    of `start` in torch and here alike (~1e-11 relative), so the tolerance adds 8 ulp of
    the phase's start lr to the 1e-12 relative one; everywhere else 1e-12 holds.
    """
    ref = torch_lrs(
        lambda o: L.OneCycleLR(o, list(BASE), N, anneal_strategy="linear", three_phase=three_phase)
    )
    ours = our_lrs(S.one_cycle(N, anneal="linear", three_phase=three_phase))
    for t, (a, b) in enumerate(zip(ours, ref, strict=True)):
        for g, (x, y) in enumerate(zip(a, b, strict=True)):
            slack = 8 * math.ulp(BASE[g])  # the largest phase start is the peak lr
            assert abs(x - y) <= REL * abs(y) + slack, (t, g, x, y)
    # away from the cancellation the plain relative bound holds
    assert_close(ours[: int(0.3 * N)], ref[: int(0.3 * N)])


def test_step_per_epoch_equals_torch_stepped_per_epoch() -> None:
    """StepLR stepped once an epoch == trainlab stepped every iteration in fractional epochs."""
    epochs = 1000 // SPE
    ref = torch_lrs(lambda o: L.StepLR(o, 3, 0.5), n=epochs)
    ours = our_lrs(S.step(3, 0.5), n=epochs * SPE, steps_per_epoch=SPE)
    assert_close(ours[::SPE], ref)
    for e in range(epochs):  # constant inside each epoch
        assert all(row == ours[e * SPE] for row in ours[e * SPE : (e + 1) * SPE])


def test_exponential_staircase_equals_torch_per_epoch() -> None:
    epochs = 1000 // SPE
    ref = torch_lrs(lambda o: L.ExponentialLR(o, 0.97), n=epochs)
    ours = our_lrs(S.exponential(0.97, staircase=True), n=epochs * SPE, steps_per_epoch=SPE)
    assert_close([ours[i] for i in range(0, epochs * SPE, SPE)], ref)
    assert ours[1] == ours[0]


def test_torch_warm_restart_log_lands_in_previous_cycle() -> None:
    """T_0=1, T_mult=3: torch's float log puts epoch 121 (a restart) at the cycle's end."""
    opt = make_optimizer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = L.CosineAnnealingWarmRestarts(opt, 1, T_mult=3)
        ref.step(121.0)
    assert ref.get_last_lr()[0] == pytest.approx(0.0, abs=1e-15)  # torch: eta_min
    f = S.cosine_restarts(1, t_mult=3)
    assert S.restart_points(1, 3, 200)[-1] == 121
    assert f(121.0) == 1.0  # trainlab: the restart's peak
    assert f(120.999) < 1e-9


def _metrics(seed: int, n: int) -> list[float]:
    rng = random.Random(seed)
    v, out = 1.0, []
    for _ in range(n):
        v *= 0.995 if rng.random() < 0.35 else 1.002
        out.append(v + (0.0 if rng.random() < 0.9 else 1e-6))
    return out


@pytest.mark.parametrize(
    "kw",
    [
        {"mode": "min", "factor": 0.5, "patience": 3, "cooldown": 2, "min_factor": 1e-3},
        # 1,000 steps take this one below 1e-8, where torch's eps (an absolute lr) and
        # trainlab's (a factor) differ: compare the rule itself, with eps = 0 for both
        {
            "mode": "min",
            "factor": 0.7,
            "patience": 5,
            "threshold": 1e-3,
            "threshold_mode": "abs",
            "eps": 0.0,
        },
        {"mode": "max", "factor": 0.8, "patience": 2, "cooldown": 1, "min_factor": 0.05},
        {
            "mode": "max",
            "factor": 0.9,
            "patience": 4,
            "threshold": 0.0,
            "threshold_mode": "abs",
            "eps": 0.0,
        },
    ],
)
def test_reduce_on_plateau_equals_torch(kw: dict) -> None:
    metrics = _metrics(len(str(kw)), N)
    tkw = {k: v for k, v in kw.items() if k != "min_factor"}
    tkw["min_lr"] = [b * kw.get("min_factor", 0.0) for b in BASE]
    # torch's eps is in lr units, trainlab's in factor units: equal only at 0 or when unused
    opt = make_optimizer()
    ref_sched = L.ReduceLROnPlateau(opt, **tkw)
    ref = []
    for m in metrics:
        ref.append([g["lr"] for g in opt.param_groups])
        ref_sched.step(m)
    opt2 = make_optimizer()
    ours_sched = S.Scheduler(opt2, S.ReduceOnPlateau(**kw))
    ours = []
    for m in metrics:
        ours.append(ours_sched.get_last_lr())
        ours_sched.observe(m)
        opt2.step()
        ours_sched.step()  # iterations do not move a plateau-only schedule
    assert_close(ours, ref)
    assert len({tuple(r) for r in ref}) > 2  # the sequence really was reduced several times


def test_plateau_eps_is_a_factor() -> None:
    """A reduction smaller than eps (in factor units) is skipped, as torch skips lr changes."""
    rule = S.ReduceOnPlateau(factor=0.5, patience=0, eps=0.3)
    assert rule.observe(1.0) is False  # first value is an improvement over inf
    assert rule.observe(2.0) is True and rule.scale == 0.5  # 1.0 -> 0.5: 0.5 > eps
    assert rule.observe(3.0) is False and rule.scale == 0.5  # 0.5 -> 0.25: 0.25 <= eps
