"""Schedules of two published recipes: the Transformer's and ResNet's."""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from trainlab._validate import check_nonnegative, check_positive
from trainlab.schedules.functions import NamedSchedule, _spec


def inverse_sqrt(warmup_steps: int, d_model: int | None = None) -> NamedSchedule:
    """The Transformer schedule: linear warmup, then decay with the inverse square root.

    Vaswani et al., "Attention Is All You Need" (2017), eq. 3; the notes, F3:711-718:

        lrate = d_model**-0.5 * min(n**-0.5, n * warmup_steps**-1.5),   n = t + 1.

    The step count n starts at 1 (the formula is undefined at 0): the first update
    (t = 0) uses n = 1, and the peak d_model**-0.5 * warmup_steps**-0.5 is reached at
    n = warmup_steps, i.e. t = warmup_steps - 1. The notes say the warmup starts "from 0";
    with n from 1 it starts at one warmup step's worth, as in every implementation.

    With `d_model` the factor *is* the paper's lrate: give the optimizer lr = 1.0 (or a
    multiplier, the "factor" of the Annotated Transformer). Without it the curve is scaled
    to peak at 1.0, so the optimizer's lr is the peak lr (fairseq's `inverse_sqrt` with a
    warmup from 0).
    """
    check_positive("warmup_steps", warmup_steps)
    if d_model is not None:
        check_positive("d_model", d_model)
        scale = d_model**-0.5
    else:
        scale = warmup_steps**0.5
    w = warmup_steps**-1.5

    def f(t: float) -> float:
        n = t + 1
        return scale * min(n**-0.5, n * w)

    return NamedSchedule(f, _spec("inverse_sqrt", warmup_steps=warmup_steps, d_model=d_model))


def resnet(
    milestones: Iterable[float],
    gamma: float = 0.1,
    warmup_steps: float = 0,
    warmup_factor: float = 0.1,
) -> NamedSchedule:
    """ResNet: a short low-lr warmup, then the main lr divided by 10 at fixed points.

    He et al., "Deep Residual Learning for Image Recognition" (2016), ResNet-110 on CIFAR
    (lr 0.01 until training "warms up", then 0.1, divided by 10 at 32k and 48k iterations);
    the notes, F3:704-709 and F4:758 (ImageNet: divide by 10 every 30 epochs):

        f(t) = warmup_factor                            for t < warmup_steps
        f(t) = gamma ** (number of milestones <= t)     otherwise.

    The milestones count from the start of the run, not from the end of the warmup.
    """
    ms = sorted(milestones)
    for i, m in enumerate(ms):
        check_nonnegative(f"milestones[{i}]", m)
    check_positive("gamma", gamma)
    check_nonnegative("warmup_steps", warmup_steps)
    check_positive("warmup_factor", warmup_factor)
    if ms and warmup_steps > ms[0]:
        raise ValueError(
            f"warmup_steps={warmup_steps} is past the first milestone {ms[0]}; "
            "expected the warmup to end before the first decay"
        )

    def f(t: float) -> float:
        if t < warmup_steps:
            return warmup_factor
        return gamma ** bisect.bisect_right(ms, t)

    return NamedSchedule(
        f,
        _spec(
            "resnet",
            milestones=ms,
            gamma=gamma,
            warmup_steps=warmup_steps,
            warmup_factor=warmup_factor,
        ),
    )
