"""trainlab._validate: one rule for argument checks, used by every component.

TypeError for a wrong type (bool included), ValueError for a bad value (NaN always,
infinity unless allowed), and the message ``"{name}: expected ..., got {value!r}"``.
"""

import math

import numpy as np
import pytest
import torch

import trainlab.augment as A
import trainlab.losses as L
import trainlab.optim as O
import trainlab.schedules as S
from trainlab._validate import (
    check_in_range,
    check_int,
    check_interval,
    check_nonnegative,
    check_number,
    check_positive,
    check_probability,
)

WRONG_TYPES = [True, False, "1", None, [1.0], torch.tensor(1.0)]


@pytest.mark.parametrize("value", WRONG_TYPES)
def test_wrong_types_are_type_errors_naming_the_argument(value):
    for check in (
        lambda v: check_number("x", v),
        lambda v: check_positive("x", v),
        lambda v: check_nonnegative("x", v),
        lambda v: check_in_range("x", v, 0.0, 2.0),
        lambda v: check_probability("x", v),
        lambda v: check_int("x", v, lo=0),
    ):
        with pytest.raises(TypeError, match=r"^x: expected an? (number|int), got "):
            check(value)


def test_values_and_messages():
    assert check_positive("lr", 3) == 3.0 and isinstance(check_positive("lr", 3), float)
    assert check_number("x", np.float32(0.5)) == 0.5  # NumPy scalars are numbers
    assert check_int("n", np.int64(4), lo=0) == 4
    with pytest.raises(TypeError, match=r"^n: expected an int, got 2\.0"):
        check_int("n", 2.0)
    with pytest.raises(ValueError, match=r"^n: expected an int >= 1, got 0$"):
        check_int("n", 0, lo=1)
    with pytest.raises(ValueError, match=r"^lr: expected a number > 0, got 0$"):
        check_positive("lr", 0)
    assert check_positive("eps", 0, allow_zero=True) == 0.0
    with pytest.raises(ValueError, match=r"^eps: expected a number >= 0, got -1e-09$"):
        check_nonnegative("eps", -1e-9)
    with pytest.raises(ValueError, match=r"^p: expected a probability in \[0, 1\], got 1\.5$"):
        check_probability("p", 1.5)
    with pytest.raises(ValueError, match=r"^f: expected a number in \(0\.0, 1\.0\], got 0\.0$"):
        check_in_range("f", 0.0, 0.0, 1.0, lo_open=True)
    with pytest.raises(ValueError, match=r"^f: expected a number in \[0\.0, 1\.0\), got 1\.0$"):
        check_in_range("f", 1.0, 0.0, 1.0, hi_open=True)
    assert check_interval("scale", [0.1, 0.5], 0.0, 1.0) == (0.1, 0.5)
    with pytest.raises(ValueError, match=r"^scale: expected 0\.0 <= min <= max <= 1\.0"):
        check_interval("scale", (0.6, 0.5), 0.0, 1.0)
    with pytest.raises(TypeError, match=r"^scale: expected a pair"):
        check_interval("scale", 0.5, 0.0, 1.0)
    with pytest.raises(TypeError, match=r"^scale\[1\]: expected a number"):
        check_interval("scale", (0.1, "x"), 0.0, 1.0)


def test_nan_always_refused_and_infinity_only_when_allowed():
    for check in (check_number, check_positive, check_nonnegative):
        with pytest.raises(ValueError, match="^x: expected a finite number, got nan"):
            check("x", math.nan)
        with pytest.raises(ValueError, match="^x: expected a finite number, got inf"):
            check("x", math.inf)
        assert check("x", math.inf, allow_inf=True) == math.inf
        with pytest.raises(ValueError, match="finite"):
            check("x", math.nan, allow_inf=True)
    # an infinite bound means "unbounded", not "infinity allowed"
    with pytest.raises(ValueError, match="finite"):
        check_in_range("x", math.inf, 1.0, math.inf)
    assert check_in_range("x", math.inf, 1.0, math.inf, allow_inf=True) == math.inf


def test_components_follow_the_same_rule():
    # before the shared module: schedules raised TypeError for a bool, while the optimizer,
    # loss and augment checks raised ValueError; losses and optim accepted infinity
    params = [torch.zeros(2, requires_grad=True)]
    wrong_type = [
        lambda: S.step(True),
        lambda: O.Adam(params, eps=True),
        lambda: L.huber_loss(torch.zeros(2), torch.zeros(2), delta=True),
        lambda: A.Mixup(mixup_alpha=True, num_classes=3),
        lambda: A.RandAugment(num_ops=2.0),
    ]
    for make in wrong_type:
        with pytest.raises(TypeError, match=r"^\w+: expected an? (number|int), got "):
            make()
    infinite = [
        lambda: S.step(math.inf),
        lambda: O.Adam(params, eps=math.inf),
        lambda: L.huber_loss(torch.zeros(2), torch.zeros(2), delta=math.inf),
        lambda: A.Mixup(mixup_alpha=math.inf, num_classes=3),
        lambda: L.SmoothL1Loss(beta=math.inf),
    ]
    for make in infinite:
        with pytest.raises(ValueError, match=r"^\w+: expected a finite number, got inf$"):
            make()
