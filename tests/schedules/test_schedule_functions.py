"""The schedules against their formulas and the notes' worked descriptions."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainlab import schedules as S


def test_transformer_formula_every_step() -> None:
    """F3:714: lrate = d_model^-0.5 * min(n^-0.5, n * warmup^-1.5), n counted from 1."""
    d, w = 512, 4000
    f = S.inverse_sqrt(w, d_model=d)
    for t in range(0, 20000, 7):
        n = t + 1
        assert f(t) == pytest.approx(d**-0.5 * min(n**-0.5, n * w**-1.5), rel=1e-15)
    values = [f(t) for t in range(10000)]
    peak = max(range(10000), key=values.__getitem__)
    assert peak + 1 == 4000  # the peak is at step_num 4000 (the 4000th update)
    assert values[peak] == pytest.approx(512**-0.5 * 4000**-0.5)  # ~6.99e-4
    assert values[peak] == pytest.approx(6.98771242e-4, rel=1e-8)
    # F3:715-716: linear before the peak, inverse square root after
    assert f(1999) == pytest.approx(f(999) * 2)
    assert f(4 * 4000 - 1) == pytest.approx(f(4000 - 1) / 2)


def test_inverse_sqrt_without_d_model_peaks_at_one() -> None:
    f = S.inverse_sqrt(100)
    assert f(99) == pytest.approx(1.0)
    assert max(f(t) for t in range(1000)) == pytest.approx(1.0)
    assert f(399) == pytest.approx(0.5)


def test_restart_peaks_decay_and_periods_grow() -> None:
    """F4:832-838: T_i = T_0 * mult^i, eta_max multiplied by the decay at every restart."""
    f = S.cosine_restarts(10, t_mult=2, peak_decay=0.5, min_factor=0.01)
    starts = [0, 10, 30, 70, 150]
    assert [0.0, *S.restart_points(10, 2, 151)] == starts
    for i, s in enumerate(starts):
        assert f(s) == pytest.approx(0.5**i)  # peak of cycle i
        if i:
            assert f(s - 1e-9) == pytest.approx(0.01, abs=1e-9)  # end of cycle i - 1
    # inside cycle 2 (length 40): halfway it is halfway between the peak and the floor
    assert f(30 + 20) == pytest.approx(0.01 + (0.25 - 0.01) / 2)


def test_restarts_with_float_t_mult() -> None:
    f = S.cosine_restarts(4, t_mult=1.5)
    for s in S.restart_points(4, 1.5, 200):
        assert f(s) == 1.0
        assert f(s - 1e-6) < 1e-9


def test_resnet_recipe() -> None:
    """F3:704-709: a low-lr warmup (0.01 for lr 0.1), then 0.1, divided by 10 at set points."""
    f = S.resnet([32000, 48000], warmup_steps=400, warmup_factor=0.1)
    base = 0.1
    assert base * f(0) == pytest.approx(0.01) and base * f(399) == pytest.approx(0.01)
    assert base * f(400) == pytest.approx(0.1) and base * f(31999) == pytest.approx(0.1)
    assert base * f(32000) == pytest.approx(0.01)
    assert base * f(48000) == pytest.approx(0.001)


def test_step_decay_formula() -> None:
    """F4:747: lr_t = lr_0 * gamma^floor(t / step_size); F4:758: /10 every 30 epochs."""
    f = S.step(30)
    assert [f(e) for e in (0, 29, 30, 59.9, 60, 90)] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.001])


def test_exponential_formula() -> None:
    """F4:790: lr_t = lr_0 * gamma^t."""
    f = S.exponential(0.95)
    assert f(10) == pytest.approx(0.95**10)
    assert S.exponential(0.5, period=100)(50) == pytest.approx(0.5**0.5)


def test_cosine_stays_at_floor_after_its_length() -> None:
    f = S.cosine(100, min_factor=0.1)
    assert f(0) == 1.0 and f(100) == pytest.approx(0.1) and f(250) == pytest.approx(0.1)
    assert f(50) == pytest.approx(0.55)


def test_polynomial_and_linear() -> None:
    assert S.polynomial(10, power=2.0)(5) == pytest.approx(0.25)
    assert S.polynomial(10, min_factor=0.2)(10) == pytest.approx(0.2)
    assert S.linear(0.5, 1.0, 10)(5) == pytest.approx(0.75)
    assert S.linear(0.5, 1.0, 10)(50) == 1.0


def test_lambda_is_a_factor_of_the_base_lr() -> None:
    """F4:876: LambdaLR multiplies the *initial* lr, never the previous lr."""
    f = S.from_lambda(lambda e: 0.5 if e % 2 else 1.0)
    assert [f(t) for t in range(4)] == [1.0, 0.5, 1.0, 0.5]


@pytest.mark.parametrize("kind", ["linear", "exponential", "constant"])
def test_warmup_kinds(kind: str) -> None:
    f = S.warmup(S.cosine(100), 10, kind=kind, start_factor=0.1)
    assert f(0) == pytest.approx(0.1)
    assert f(10) == 1.0  # the main schedule at its own step 0
    assert f(110) == pytest.approx(0.0, abs=1e-15)
    ramp = [f(t) for t in range(11)]
    if kind == "constant":
        assert ramp[:10] == [pytest.approx(0.1)] * 10
    else:
        assert all(a < b for a, b in itertools.pairwise(ramp))
    if kind == "exponential":  # geometric: equal ratios
        assert ramp[2] / ramp[1] == pytest.approx(ramp[1] / ramp[0])


def test_default_linear_warmup_first_update_moves() -> None:
    f = S.warmup(S.constant(), 4)
    assert [f(t) for t in range(6)] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 1.0])


def test_join_restarts_each_clock() -> None:
    f = S.join([S.constant(0.5), S.step(10, 0.1), S.exponential(0.5)], [5, 25])
    assert f(4) == 0.5 and f(5) == 1.0 and f(15) == pytest.approx(0.1)
    assert f(25) == 1.0 and f(27) == pytest.approx(0.25)


@settings(max_examples=60, deadline=None)
@given(
    w=st.integers(1, 200),
    total=st.integers(1, 500),
    kind=st.sampled_from(["linear", "exponential"]),
    m=st.floats(0.0, 0.5),
)
def test_warmup_is_continuous_where_it_hands_over(w: int, total: int, kind: str, m: float) -> None:
    """Property: the ramp ends at the main schedule's start (continuous at t = w)."""
    f = S.warmup(S.cosine(total, m), w, kind=kind)
    assert f(w - 1e-9) == pytest.approx(f(w), rel=1e-6)
    assert f(w) == 1.0


@settings(max_examples=60, deadline=None)
@given(t=st.floats(0, 1e5), t0=st.floats(0.5, 100), mult=st.sampled_from([1, 2, 3, 1.5]))
def test_restarts_bounded_and_cycle_is_consistent(t: float, t0: float, mult: float) -> None:
    f = S.cosine_restarts(t0, t_mult=mult, peak_decay=0.9, min_factor=0.05)
    from trainlab.schedules.restarts import cycle_of

    i, start, length = cycle_of(t, t0, mult)
    assert start <= t < start + length * (1 + 1e-12) + 1e-9
    assert 0.05 - 1e-12 <= f(t) <= max(0.9**i, 0.05) + 1e-12


BAD = [
    (lambda: S.step(0), "step_size"),
    (lambda: S.step(-3), "step_size"),
    (lambda: S.cosine(0), "total_steps"),
    (lambda: S.cosine(10, min_factor=2.0), "min_factor"),
    (lambda: S.cosine_restarts(0), "t0"),
    (lambda: S.cosine_restarts(10, t_mult=0.5), "t_mult"),
    (lambda: S.cosine_restarts(10, peak_decay=0.0), "peak_decay"),
    (lambda: S.exponential(0.0), "gamma"),
    (lambda: S.exponential(0.9, period=0), "period"),
    (lambda: S.linear(total_steps=0), "total_steps"),
    (lambda: S.polynomial(0), "total_steps"),
    (lambda: S.one_cycle(0), "total_steps"),
    (lambda: S.one_cycle(100, pct_start=0.0), "pct_start"),
    (lambda: S.one_cycle(3, pct_start=0.3), "pct_start"),
    (lambda: S.one_cycle(100, anneal="exp"), "anneal"),
    (lambda: S.inverse_sqrt(0), "warmup_steps"),
    (lambda: S.inverse_sqrt(10, d_model=0), "d_model"),
    (lambda: S.resnet([10], warmup_steps=20), "warmup_steps"),
    (lambda: S.multistep([-1]), "milestones"),
    (lambda: S.warmup(S.constant(), -1), "warmup steps"),
    (lambda: S.warmup(S.constant(), 5, kind="cubic"), "kind"),
    (lambda: S.join([S.constant(), S.constant()], []), "milestones"),
    (lambda: S.join([S.constant(), S.constant(), S.constant()], [5, 5]), "milestones"),
    (lambda: S.ReduceOnPlateau(factor=1.0), "factor"),
    (lambda: S.ReduceOnPlateau(patience=-1), "patience"),
    (lambda: S.ReduceOnPlateau(mode="up"), "mode"),
    (lambda: S.step(float("nan")), "step_size"),
]


@pytest.mark.parametrize("make,param", BAD)
def test_bad_parameters_raise_value_error_naming_them(make, param: str) -> None:
    with pytest.raises(ValueError, match=param):
        make()


def test_wrong_types_raise_type_error() -> None:
    with pytest.raises(TypeError, match="step_size"):
        S.step("10")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="fn"):
        S.from_lambda(3)  # type: ignore[arg-type]


def test_reprs_name_the_schedule() -> None:
    assert repr(S.cosine(100, 0.1)) == "cosine(total_steps=100, min_factor=0.1)"
    assert "warmup(cosine(" in repr(S.warmup(S.cosine(100), 5))
    assert math.isfinite(S.one_cycle(100)(99))
