"""Dice and soft IoU losses (F4:1600-1660)."""

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck

from trainlab.losses import DiceLoss, SoftIoULoss, dice_loss, soft_iou_loss

RED = ["mean", "sum", "none"]


def _mask(idx, n=10):
    m = torch.zeros(1, 1, n, dtype=torch.float64)
    m[0, 0, list(idx)] = 1
    return m


@pytest.mark.parametrize("squared", [True, False])
def test_notes_three_pixel_example(squared):
    # F4:1646-1652: a 3-pixel target; miss all -> 1.0, find 2 -> 0.2, find 3 + 1 extra -> 1/7
    g = _mask([0, 1, 2])
    kw = dict(eps=0.0, squared=squared)
    assert dice_loss(_mask([]), g, **kw).item() == pytest.approx(1.0)
    assert dice_loss(_mask([0, 1]), g, **kw).item() == pytest.approx(0.2)
    assert dice_loss(_mask([0, 1, 2, 3]), g, **kw).item() == pytest.approx(1 / 7)
    # with the default smoothing eps=1e-5 the values move by less than 1e-5
    assert dice_loss(_mask([0, 1]), g).item() == pytest.approx(0.2, abs=1e-5)


def test_dice_formula_soft_binary(gen):
    # F4:1623: 1 - (2 sum p g + eps) / (sum p^2 + sum g^2 + eps), per sample
    p = torch.rand(3, 1, 4, 4, generator=gen, dtype=torch.float64)
    g = torch.rand(3, 1, 4, 4, generator=gen, dtype=torch.float64).round()
    eps = 1e-3
    num = 2 * (p * g).sum((1, 2, 3)) + eps
    sq = 1 - num / ((p**2).sum((1, 2, 3)) + (g**2).sum((1, 2, 3)) + eps)
    lin = 1 - num / (p.sum((1, 2, 3)) + g.sum((1, 2, 3)) + eps)
    torch.testing.assert_close(dice_loss(p, g, eps=eps, reduction="none"), sq)
    torch.testing.assert_close(dice_loss(p, g, eps=eps, squared=False, reduction="none"), lin)
    # indices (N, H, W) for a 1-channel input are a binary mask
    torch.testing.assert_close(dice_loss(p, g[:, 0].long(), eps=eps, reduction="none"), sq)


def test_multiclass_mean_and_weighted(gen):
    # F4:1627-1634: mean over classes, or sum_c w_c (1 - dice_c)
    logits = torch.randn(2, 3, 5, 5, generator=gen, dtype=torch.float64)
    p = torch.softmax(logits, 1)
    t = torch.randint(0, 3, (2, 5, 5), generator=gen)
    g = F.one_hot(t, 3).permute(0, 3, 1, 2).double()
    per_class = 1 - (2 * (p * g).sum((2, 3)) + 1e-5) / (
        (p**2).sum((2, 3)) + (g**2).sum((2, 3)) + 1e-5
    )  # (N, C)
    torch.testing.assert_close(dice_loss(p, t, reduction="none"), per_class.mean(1))
    torch.testing.assert_close(dice_loss(p, g, reduction="none"), per_class.mean(1))
    torch.testing.assert_close(dice_loss(logits, t, from_logits=True), per_class.mean(1).mean())
    w = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    torch.testing.assert_close(dice_loss(p, t, weight=w, reduction="sum"), (per_class * w).sum())


def test_batch_dice(gen):
    p = torch.rand(2, 2, 3, generator=gen, dtype=torch.float64)
    t = torch.randint(0, 2, (2, 3), generator=gen)
    g = F.one_hot(t, 2).permute(0, 2, 1).double()
    dice_c = (2 * (p * g).sum((0, 2))) / ((p * p).sum((0, 2)) + (g * g).sum((0, 2)))
    torch.testing.assert_close(dice_loss(p, t, eps=0, batch_dice=True), (1 - dice_c).mean())


def test_soft_iou(gen):
    p = torch.rand(2, 1, 6, generator=gen, dtype=torch.float64)
    g = torch.rand(2, 1, 6, generator=gen, dtype=torch.float64).round()
    i, u = (p * g).sum((1, 2)), (p + g - p * g).sum((1, 2))
    torch.testing.assert_close(soft_iou_loss(p, g, eps=0, reduction="none"), 1 - i / u)
    # binary sets: IoU = D / (2 - D)
    d = 1 - dice_loss(_mask([0, 1]), _mask([0, 1, 2]), eps=0)
    iou = 1 - soft_iou_loss(_mask([0, 1]), _mask([0, 1, 2]), eps=0)
    torch.testing.assert_close(iou, d / (2 - d))


@pytest.mark.parametrize("reduction", RED)
def test_gradcheck(gen, reduction):
    p = torch.rand(2, 3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    t = torch.randint(0, 3, (2, 4), generator=gen)
    w = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    for squared in (True, False):
        assert gradcheck(
            lambda a, s=squared: dice_loss(a, t, squared=s, weight=w, reduction=reduction), (p,)
        )
    assert gradcheck(lambda a: dice_loss(a, t, from_logits=True, reduction=reduction), (p,))
    assert gradcheck(lambda a: soft_iou_loss(a, t, reduction=reduction), (p,))


def test_empty_masks_are_finite_and_documented():
    # a class absent from both prediction and target scores dice 1 (loss 0), even with eps=0
    p = torch.zeros(1, 1, 4, dtype=torch.float64, requires_grad=True)
    g = torch.zeros(1, 1, 4, dtype=torch.float64)
    for fn in (dice_loss, soft_iou_loss):
        loss = fn(p, g, eps=0.0)
        assert loss.item() == 0.0
        (grad,) = torch.autograd.grad(loss, p)
        assert torch.isfinite(grad).all()


def test_modules(gen):
    p = torch.rand(2, 2, 3, generator=gen)
    t = torch.randint(0, 2, (2, 3), generator=gen)
    torch.testing.assert_close(DiceLoss(squared=False)(p, t), dice_loss(p, t, squared=False))
    torch.testing.assert_close(
        SoftIoULoss(reduction="sum")(p, t), soft_iou_loss(p, t, reduction="sum")
    )


def test_bad_inputs():
    p = torch.rand(2, 3, 4)
    with pytest.raises(ValueError, match=r"\(2, 3, 4\).*\(2, 5\)"):
        dice_loss(p, torch.zeros(2, 5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"values in \[0, 3\]; expected 0\.\.2"):
        dice_loss(p, torch.tensor([[0, 1, 2, 3], [0, 0, 0, 0]]))
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        dice_loss(p, torch.zeros(2, 4, dtype=torch.long), weight=torch.ones(2))
    with pytest.raises(ValueError, match="eps: expected a number >= 0, got -1"):
        DiceLoss(eps=-1)
