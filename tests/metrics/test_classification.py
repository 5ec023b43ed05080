"""Classification metrics against scikit-learn, batch-invariance, state and plotting."""

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn import metrics as skm

from trainlab.metrics import (
    ClassificationMetrics,
    calibration_bins,
    confusion_matrix,
    expected_calibration_error,
    metrics_for_task,
    save_confusion_matrix,
)


def _data(seed=0, n=120, k=6):
    g = torch.Generator().manual_seed(seed)
    # correlated logits so accuracy is neither 0 nor 1; class 5 never occurs as a target
    y = torch.randint(0, k - 1, (n,), generator=g)
    x = torch.randn(n, k, generator=g) * 1.5
    x[torch.arange(n), y] += torch.rand(n, generator=g) * 3
    return x, y


def _run(x, y, batch=17, **kw):
    m = ClassificationMetrics(**kw)
    for i in range(0, len(y), batch):
        m.update(x[i : i + batch], y[i : i + batch], torch.tensor(0.5))
    return m


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_sklearn(seed):
    x, y = _data(seed)
    m = _run(x, y)
    out = m.compute()
    pred, yt = x.argmax(1).numpy(), y.numpy()
    assert out["acc"] == pytest.approx(skm.accuracy_score(yt, pred))
    for avg in ("macro", "micro"):
        kw = dict(average=avg, zero_division=0)
        assert out[f"f1_{avg}"] == pytest.approx(skm.f1_score(yt, pred, **kw))
        assert out[f"precision_{avg}"] == pytest.approx(skm.precision_score(yt, pred, **kw))
        assert out[f"recall_{avg}"] == pytest.approx(skm.recall_score(yt, pred, **kw))
    np.testing.assert_array_equal(
        m.confusion_matrix().numpy(), skm.confusion_matrix(yt, pred, labels=range(6))
    )
    assert out["top5_acc"] == pytest.approx(
        skm.top_k_accuracy_score(yt, x.numpy(), k=5, labels=range(6))
    )
    assert out["loss"] == pytest.approx(0.5)


def test_ece_against_direct_computation():
    x, y = _data(3, n=200)
    p = torch.softmax(x.double(), 1)
    conf, pred = p.max(1)
    correct = (pred == y).double()
    ece = 0.0
    for b in range(15):
        lo, hi = b / 15, (b + 1) / 15
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            ece += sel.double().mean() * (correct[sel].mean() - conf[sel].mean()).abs()
    assert _run(x, y).compute()["ece"] == pytest.approx(float(ece), abs=1e-6)
    # a perfectly calibrated toy: confidence 0.75 and 3 of 4 right gives ECE 0
    bins = calibration_bins(torch.full((4,), 0.75), torch.tensor([1, 1, 1, 0]))
    assert expected_calibration_error(bins) == pytest.approx(0.0)
    assert expected_calibration_error(torch.zeros(3, 15)) == 0.0


def test_batching_soft_targets_and_ignore_index():
    x, y = _data(4)
    full = _run(x, y, batch=len(y)).compute()
    assert _run(x, y, batch=7).compute() == pytest.approx(full)
    # mixed (soft) targets are scored by their argmax
    soft = 0.7 * torch.nn.functional.one_hot(y, 6).float() + 0.3 / 6
    assert _run(x, soft).compute()["acc"] == pytest.approx(full["acc"])
    # ignored targets are skipped
    y_ign = y.clone()
    y_ign[::3] = -100
    keep = y_ign != -100
    ref = _run(x[keep], y[keep]).compute()
    got = _run(x, y_ign).compute()
    for key in ("acc", "top5_acc", "f1_macro", "ece"):
        assert got[key] == pytest.approx(ref[key])


def test_dense_outputs_and_half_precision():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(2, 4, 3, 3, generator=g)  # (B, K, H, W)
    y = torch.randint(0, 4, (2, 3, 3), generator=g)
    m = ClassificationMetrics()
    m.update(x.half(), y)
    flat_x = x.movedim(1, -1).reshape(-1, 4)
    assert m.compute()["acc"] == pytest.approx(
        (flat_x.argmax(1) == y.reshape(-1)).float().mean().item()
    )


def test_state_dict_round_trip_and_reset():
    x, y = _data(6)
    a = _run(x[:60], y[:60])
    state = a.state_dict()
    b = ClassificationMetrics()
    b.load_state_dict(state)
    for m in (a, b):
        m.update(x[60:], y[60:], 0.5)
    assert b.compute() == pytest.approx(a.compute())
    assert b.compute() == pytest.approx(_run(x, y).compute())
    torch.save(state, "/dev/null")
    a.reset()
    assert a.compute()["loss"] == 0.0 and a.state["confusion"].sum() == 0


def test_seam_contract():
    m = metrics_for_task("classification", "cpu")
    assert m.primary == "acc" and m.higher_is_better
    assert m.compute() == {"loss": 0.0, "acc": 0.0}  # nothing added yet: finite
    r = metrics_for_task("regression", target_scale=2.0)
    assert r.primary == "rmse" and not r.higher_is_better
    assert metrics_for_task("multilabel").primary == "f1_micro"
    assert metrics_for_task("segmentation").primary == "dice"
    with pytest.raises(ValueError, match="unknown task 'ranking'"):
        metrics_for_task("ranking")


def test_confusion_matrix_png(tmp_path):
    x, y = _data(7)
    m = _run(x, y)
    path = m.save_confusion_matrix(tmp_path / "plots" / "confusion.png", normalize=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    big = torch.randint(0, 9, (30, 30))
    save_confusion_matrix(big, tmp_path / "big.png", title="30 classes")
    with Image.open(tmp_path / "big.png") as im:  # a real, non-blank PNG
        assert im.format == "PNG" and min(im.size) >= 100
        assert len(im.convert("L").getcolors(256 * 256) or []) > 10
    with pytest.raises(ValueError, match=r"square.*\(2, 3\)"):
        save_confusion_matrix(torch.zeros(2, 3), tmp_path / "x.png")
    with pytest.raises(ValueError, match="2 names for 6 classes"):
        m.save_confusion_matrix(tmp_path / "y.png", class_names=["a", "b"])


def test_bad_inputs():
    m = ClassificationMetrics()
    with pytest.raises(ValueError, match=r"shape \(4,\).*\(4, 3\).*got \(5,\)"):
        m.update(torch.zeros(4, 3), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="out of range"):
        m.update(torch.zeros(4, 3), torch.tensor([0, 1, 2, 3]))
    m2 = ClassificationMetrics(num_classes=3)
    with pytest.raises(ValueError, match=r"size 3.*size 4"):
        m2.update(torch.zeros(2, 4), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="out of range"):
        confusion_matrix(torch.tensor([0, 1]), torch.tensor([0, 5]), 3)
    with pytest.raises(ValueError, match=r"topk=\(0,\)"):
        ClassificationMetrics(topk=(0,))


def test_short_form_for_epoch_rows():
    x, y = _data(8)
    short = _run(x, y, detailed=False)
    assert short.compute() == pytest.approx(
        {k: v for k, v in _run(x, y).compute().items() if k in ("loss", "acc")}
    )
    assert "ece_bins" not in short.state
    r = metrics_for_task("regression", detailed=False)
    r.update(torch.zeros(3, 1), torch.ones(3, 1))
    assert set(r.compute()) == {"loss", "rmse", "mae"}
