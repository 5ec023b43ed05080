"""Regression, multi-label and segmentation metrics against scikit-learn."""

import math

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from trainlab.losses import dice_loss
from trainlab.metrics import MultiLabelMetrics, OverlapMetrics, RegressionMetrics


def _feed(m, out, tgt, batch=9):
    for i in range(0, out.shape[0], batch):
        m.update(out[i : i + batch], tgt[i : i + batch], torch.tensor(0.25))
    return m.compute()


@pytest.mark.parametrize("d", [1, 3])
def test_regression_matches_sklearn(d):
    g = torch.Generator().manual_seed(d)
    y = torch.randn(50, d, generator=g) * 2 + 1
    pred = y + torch.randn(50, d, generator=g) * 0.7
    out = _feed(RegressionMetrics(scale=3.0), pred, y)
    yn, pn = y.numpy(), pred.numpy()
    assert out["r2"] == pytest.approx(skm.r2_score(yn, pn), rel=1e-6)
    assert out["rmse"] == pytest.approx(3 * math.sqrt(skm.mean_squared_error(yn, pn)), rel=1e-6)
    assert out["mae"] == pytest.approx(3 * skm.mean_absolute_error(yn, pn), rel=1e-6)
    assert out["loss"] == pytest.approx(0.25)


def test_regression_constant_target_and_shapes():
    y = torch.full((6,), 2.0)
    assert _feed(RegressionMetrics(), y.clone(), y)["r2"] == 1.0
    assert _feed(RegressionMetrics(), y + 1, y)["r2"] == 0.0  # sklearn force_finite
    # (B,) and (B, 1) are the same values per sample
    m = RegressionMetrics()
    m.update(torch.zeros(4, 1), torch.ones(4))
    assert m.compute()["rmse"] == 1.0
    with pytest.raises(ValueError, match=r"\(4, 2\).*\(4,\)"):
        RegressionMetrics().update(torch.zeros(4, 2), torch.zeros(4))
    with pytest.raises(ValueError, match="scale=0"):
        RegressionMetrics(scale=0)
    assert RegressionMetrics().compute() == {"loss": 0.0, "rmse": 0.0, "mae": 0.0, "r2": 0.0}


def test_multilabel_matches_sklearn():
    g = torch.Generator().manual_seed(0)
    t = (torch.rand(40, 5, generator=g) < 0.3).float()
    t[:, 4] = 0  # a label that never occurs
    logits = torch.randn(40, 5, generator=g) + (t * 2 - 1)
    out = _feed(MultiLabelMetrics(), logits, t)
    pn, tn = (logits > 0).numpy().astype(int), t.numpy().astype(int)
    assert out["f1_micro"] == pytest.approx(skm.f1_score(tn, pn, average="micro", zero_division=0))
    assert out["f1_macro"] == pytest.approx(skm.f1_score(tn, pn, average="macro", zero_division=0))
    assert out["subset_acc"] == pytest.approx(skm.accuracy_score(tn, pn))
    assert out["hamming_acc"] == pytest.approx(1 - skm.hamming_loss(tn, pn))


def test_segmentation_dice_iou_match_sklearn_per_class():
    g = torch.Generator().manual_seed(1)
    t = torch.randint(0, 3, (4, 6, 6), generator=g)
    logits = torch.randn(4, 4, 6, 6, generator=g)  # class 3 is never a target
    logits.scatter_add_(1, t.unsqueeze(1), torch.full((4, 1, 6, 6), 1.5))
    m = OverlapMetrics()
    out = _feed(m, logits, t, batch=3)
    pn, tn = logits.argmax(1).reshape(-1).numpy(), t.reshape(-1).numpy()
    labels = np.unique(np.concatenate([pn, tn]))
    f1 = skm.f1_score(tn, pn, labels=labels, average=None, zero_division=0)
    jac = skm.jaccard_score(tn, pn, labels=labels, average=None, zero_division=0)
    assert out["dice"] == pytest.approx(f1.mean())
    assert out["iou"] == pytest.approx(jac.mean())
    assert out["pixel_acc"] == pytest.approx(skm.accuracy_score(tn, pn))


def test_segmentation_binary_and_empty():
    # the notes' 3-pixel target (F4:1646-1652): 2 of 3 found -> Dice 0.8 = 1 - dice loss 0.2
    t = torch.zeros(1, 10, dtype=torch.long)
    t[0, :3] = 1
    logits = torch.full((1, 1, 10), -5.0)
    logits[0, 0, :2] = 5.0
    m = OverlapMetrics()
    m.update(logits, t)
    assert m.compute()["dice"] == pytest.approx(0.8)
    assert m.compute()["dice"] == pytest.approx(
        1 - dice_loss((logits > 0).float(), t, eps=0).item()
    )
    assert m.compute()["iou"] == pytest.approx(2 / 3)
    # an empty target predicted empty: no class present -> 1.0 (documented)
    e = OverlapMetrics()
    e.update(torch.full((1, 1, 4), -5.0), torch.zeros(1, 4, dtype=torch.long))
    assert e.compute()["dice"] == 1.0 and e.compute()["iou"] == 1.0
    with pytest.raises(ValueError, match=r"\(1, 1, 4\).*\(1, 5\)"):
        e.update(torch.zeros(1, 1, 4), torch.zeros(1, 5, dtype=torch.long))
