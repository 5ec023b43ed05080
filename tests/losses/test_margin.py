"""Hinge and soft-margin losses (F4:1480-1597)."""

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck

from trainlab.losses import (
    HingeLoss,
    MultiClassHingeLoss,
    SoftMarginLoss,
    binary_cross_entropy_with_logits,
    hinge_loss,
    multiclass_hinge_loss,
    soft_margin_loss,
    svm_objective,
)

RED = ["mean", "sum", "none"]


def _pm1(gen, n):
    return torch.randint(0, 2, (n,), generator=gen).float() * 2 - 1


@pytest.mark.parametrize("reduction", RED)
def test_soft_margin_matches_torch(compare, gen, reduction):
    x = (torch.randn(8, generator=gen) * 2).requires_grad_()
    y = _pm1(gen, 8)
    compare(lambda a, b: soft_margin_loss(a, b, reduction=reduction),
            lambda a, b: F.soft_margin_loss(a, b, reduction=reduction), [x, y])  # fmt: skip


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_multiclass_hinge_matches_torch(compare, gen, reduction, p, weighted):
    x = torch.randn(6, 4, generator=gen).requires_grad_()
    y = torch.randint(0, 4, (6,), generator=gen)
    w = torch.rand(4, generator=gen) + 0.5 if weighted else None
    kw = dict(p=p, margin=0.8, weight=w, reduction=reduction)
    compare(lambda a, b: multiclass_hinge_loss(a, b, **kw),
            lambda a, b: F.multi_margin_loss(a, b, **kw), [x, y])  # fmt: skip


def test_soft_margin_is_bce_with_logits_under_label_map(gen):
    # F4:1490-1502: with y = (y' + 1) / 2, BCE-with-logits(f, y) = log(1 + exp(-y' f))
    f = torch.randn(10, generator=gen, dtype=torch.float64)
    y_pm = _pm1(gen, 10).double()
    for reduction in RED:
        torch.testing.assert_close(
            soft_margin_loss(f, y_pm, reduction=reduction),
            binary_cross_entropy_with_logits(f, (y_pm + 1) / 2, reduction=reduction),
        )


@pytest.mark.parametrize("reduction", RED)
def test_hinge_gradcheck_and_definition(gen, reduction):
    # F4:1525: max(0, 1 - y f); zero beyond the margin, linear inside it
    x = torch.tensor([2.0, 0.5, -0.3, 1.7], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([1.0, 1.0, 1.0, -1.0], dtype=torch.float64)
    assert hinge_loss(x, y, reduction="none").tolist() == pytest.approx([0.0, 0.5, 1.3, 2.7])
    assert gradcheck(lambda a: hinge_loss(a, y, reduction=reduction), (x,))
    assert gradcheck(lambda a: hinge_loss(a, y, margin=0.2, reduction=reduction), (x,))


def test_svm_objective():
    # F4:1557: 1/2 ||w||^2 + C sum max(0, 1 - y (w^T x + b))
    w = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    xs = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]], dtype=torch.float64)
    y = torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64)
    value = svm_objective(w, xs @ w + 0.1, y, C=2.0)
    hinge = [max(0, 1 - 1.1), max(0, 1 - 2.1), max(0, 1 - (-0.4))]
    assert value.item() == pytest.approx(0.5 * 5 + 2.0 * sum(hinge))
    assert gradcheck(lambda v: svm_objective(v, xs @ v + 0.1, y, C=2.0), (w,))


def test_modules(gen):
    x, y = torch.randn(5, generator=gen), _pm1(gen, 5)
    torch.testing.assert_close(SoftMarginLoss()(x, y), F.soft_margin_loss(x, y))
    torch.testing.assert_close(HingeLoss(reduction="sum")(x, y), F.relu(1 - x * y).sum())
    s, t = torch.randn(5, 3, generator=gen), torch.tensor([0, 2, 1, 1, 0])
    torch.testing.assert_close(MultiClassHingeLoss(p=2)(s, t), F.multi_margin_loss(s, t, p=2))


def test_bad_inputs():
    with pytest.raises(ValueError, match="-1 or \\+1; got value 0"):
        hinge_loss(torch.zeros(3), torch.tensor([1.0, 0.0, -1.0]))
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        soft_margin_loss(torch.zeros(3), torch.ones(4))
    with pytest.raises(ValueError, match=r"values in \[0, 5\].*3 classes"):
        multiclass_hinge_loss(torch.zeros(2, 3), torch.tensor([0, 5]))
    with pytest.raises(ValueError, match="p=3"):
        MultiClassHingeLoss(p=3)
