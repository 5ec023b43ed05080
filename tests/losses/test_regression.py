"""Regression losses against torch.nn.functional, and the notes' definitions (F4:1003-1212)."""

import pytest
import torch
import torch.nn.functional as F

from trainlab.losses import (
    HuberLoss,
    L1Loss,
    MSELoss,
    SmoothL1Loss,
    huber_loss,
    l1_loss,
    mse_loss,
    smooth_l1_loss,
)

RED = ["mean", "sum", "none"]


def _xy(gen, shape=(4, 5)):
    x = (torch.randn(shape, generator=gen) * 2).requires_grad_()
    y = torch.randn(shape, generator=gen) * 2
    return x, y


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("reduction", RED)
def test_mse_l1_match_torch(compare, gen, reduction, fused):
    x, y = _xy(gen)
    compare(lambda a, b: mse_loss(a, b, reduction=reduction, fused=fused),
            lambda a, b: F.mse_loss(a, b, reduction=reduction), [x, y])  # fmt: skip
    compare(lambda a, b: l1_loss(a, b, reduction=reduction, fused=fused),
            lambda a, b: F.l1_loss(a, b, reduction=reduction), [x, y])  # fmt: skip


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("delta", [0.5, 1.0, 2.5])
def test_huber_smooth_l1_match_torch(compare, gen, reduction, delta, fused):
    x, y = _xy(gen)
    compare(lambda a, b: huber_loss(a, b, delta=delta, reduction=reduction, fused=fused),
            lambda a, b: F.huber_loss(a, b, delta=delta, reduction=reduction), [x, y])  # fmt: skip
    compare(lambda a, b: smooth_l1_loss(a, b, beta=delta, reduction=reduction, fused=fused),
            lambda a, b: F.smooth_l1_loss(a, b, beta=delta, reduction=reduction), [x, y])  # fmt: skip


@pytest.mark.parametrize("fused", [True, False])
def test_smooth_l1_beta_zero_is_l1(compare, gen, fused):
    x, y = _xy(gen)
    compare(lambda a, b: smooth_l1_loss(a, b, beta=0.0, fused=fused),
            lambda a, b: F.smooth_l1_loss(a, b, beta=0.0), [x, y])  # fmt: skip
    torch.testing.assert_close(smooth_l1_loss(x, y, beta=0.0), l1_loss(x, y))


def test_huber_is_delta_times_smooth_l1(gen):
    # PyTorch's SmoothL1 is Huber scaled by 1/beta (F4:1150-1162)
    x, y = _xy(gen)
    for fused in (True, False):
        torch.testing.assert_close(
            huber_loss(x, y, delta=2.0, fused=fused), 2.0 * smooth_l1_loss(x, y, beta=2.0)
        )


def test_notes_formulas():
    # MSE = mean of squared errors; an error of 10 costs 100 times an error of 1 (F4:1018-1021)
    x = torch.tensor([1.0, 10.0])
    zero = torch.zeros(2)
    assert mse_loss(x, zero, reduction="none").tolist() == [1.0, 100.0]
    assert mse_loss(x, zero).item() == 50.5
    # Huber: quadratic inside delta, linear outside (F4:1138-1144)
    a = torch.tensor([0.5, 3.0])
    for fused in (True, False):
        out = huber_loss(a, torch.zeros(2), delta=1.0, reduction="none", fused=fused)
        assert out.tolist() == [0.125, 2.5]
    # the notes' sums (F4:1860) are reduction='sum'
    assert l1_loss(torch.tensor([1.0, -2.0]), torch.zeros(2), reduction="sum").item() == 3.0


def test_modules(gen):
    x, y = _xy(gen)
    for mod, fn in [(MSELoss(reduction="sum"), F.mse_loss), (L1Loss(reduction="sum"), F.l1_loss)]:
        torch.testing.assert_close(mod(x, y), fn(x, y, reduction="sum"))
    torch.testing.assert_close(HuberLoss(0.7)(x, y), F.huber_loss(x, y, delta=0.7))
    torch.testing.assert_close(SmoothL1Loss(0.7)(x, y), F.smooth_l1_loss(x, y, beta=0.7))
    assert "reduction='mean'" in repr(MSELoss())


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"\(3, 1\).*\(3,\)"):
        mse_loss(torch.zeros(3, 1), torch.zeros(3))
    with pytest.raises(ValueError, match="reduction='avg'"):
        MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="delta: expected a number > 0, got 0"):
        huber_loss(torch.zeros(2), torch.zeros(2), delta=0)
    with pytest.raises(ValueError, match="beta: expected a number >= 0, got -1"):
        SmoothL1Loss(beta=-1)
