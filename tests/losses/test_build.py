"""build_loss: the trainer's seam (hard, mixed and multi-label targets; smoothing once)."""

import pytest
import torch
import torch.nn.functional as F

from trainlab.losses import build_loss, smooth_labels


def test_classification_hard_targets_match_torch(gen):
    x, y = torch.randn(8, 5, generator=gen), torch.randint(0, 5, (8,), generator=gen)
    loss = build_loss("classification", label_smoothing=0.1)
    torch.testing.assert_close(loss(x, y), F.cross_entropy(x, y, label_smoothing=0.1))
    torch.testing.assert_close(build_loss("classification")(x, y), F.cross_entropy(x, y))


def test_mixed_targets_are_smoothed_exactly_once(gen):
    x = torch.randn(8, 5, generator=gen, dtype=torch.float64)
    y1, y2 = torch.randint(0, 5, (2, 8), generator=gen)
    lam = 0.6
    mixed = lam * F.one_hot(y1, 5).double() + (1 - lam) * F.one_hot(y2, 5).double()
    loss = build_loss("classification", label_smoothing=0.1)
    # the mix is smoothed once by the loss: same as CE against the smoothed mix, no smoothing
    once = lam * smooth_labels(y1, 5, 0.1, dtype=torch.float64) + (1 - lam) * smooth_labels(
        y2, 5, 0.1, dtype=torch.float64
    )
    torch.testing.assert_close(loss(x, mixed), F.cross_entropy(x, once))
    twice = smooth_labels(once, 5, 0.1, dtype=torch.float64)
    assert not torch.allclose(loss(x, mixed), F.cross_entropy(x, twice))
    # a mixer that already smoothed: the loss must not smooth the soft targets again
    pre = build_loss("classification", label_smoothing=0.1, soft_targets_smoothed=True)
    torch.testing.assert_close(pre(x, once), F.cross_entropy(x, once))
    torch.testing.assert_close(pre(x, y1), F.cross_entropy(x, y1, label_smoothing=0.1))


def test_notes_smoothing_convention(gen):
    x, y = torch.randn(4, 3, generator=gen), torch.tensor([0, 1, 2, 0])
    loss = build_loss("classification", label_smoothing=0.1, smoothing="notes")
    q = smooth_labels(y, 3, 0.1, smoothing="notes")  # rows like [0.9, 0.05, 0.05]
    torch.testing.assert_close(loss(x, y), F.cross_entropy(x, q))


def test_multilabel_and_regression(gen):
    x = torch.randn(6, 4, generator=gen)
    t = torch.rand(6, 4, generator=gen).round()
    pw = torch.tensor([1.0, 2.0, 3.0, 0.5])
    loss = build_loss("multilabel", pos_weight=pw)
    torch.testing.assert_close(loss(x, t), F.binary_cross_entropy_with_logits(x, t, pos_weight=pw))
    smooth = build_loss("multilabel", label_smoothing=0.2)
    torch.testing.assert_close(smooth(x, t), F.binary_cross_entropy_with_logits(x, t * 0.8 + 0.1))
    out, tgt = torch.randn(6, 1, generator=gen), torch.randn(6, 1, generator=gen)
    torch.testing.assert_close(build_loss("regression")(out, tgt), F.mse_loss(out, tgt))
    # label smoothing does not apply to regression; it is ignored so one recipe fits both
    torch.testing.assert_close(build_loss("regression", label_smoothing=0.1)(out, tgt),
                               F.mse_loss(out, tgt))  # fmt: skip


def test_class_weight_moves_with_module(gen):
    w = torch.tensor([1.0, 3.0])
    loss = build_loss("classification", class_weight=w)
    assert torch.equal(dict(loss.named_buffers())["weight"], w)
    x, y = torch.randn(5, 2, generator=gen), torch.randint(0, 2, (5,), generator=gen)
    torch.testing.assert_close(loss(x, y), F.cross_entropy(x, y, weight=w))


def test_bad_task_and_arguments():
    with pytest.raises(ValueError, match="unknown task 'detection'"):
        build_loss("detection")
    with pytest.raises(ValueError, match="pos_weight"):
        build_loss("classification", pos_weight=torch.ones(2))
    with pytest.raises(ValueError, match="class_weight"):
        build_loss("multilabel", class_weight=torch.ones(2))
    with pytest.raises(
        ValueError, match=r"label_smoothing: expected a number in \[0\.0, 1\.0\], got 2"
    ):
        build_loss("classification", label_smoothing=2)
