"""Cross-entropy and BCE against torch.nn.functional and the notes (F3:723-781; F4:1214-1476)."""

import math

import pytest
import torch
import torch.nn.functional as F

from trainlab.losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    smooth_labels,
)

RED = ["mean", "sum", "none"]


def _logits(gen, shape):
    return (torch.randn(shape, generator=gen) * 3).requires_grad_()


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.15])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 2, 3)])
def test_cross_entropy_hard_matches_torch(
    compare, gen, reduction, label_smoothing, weighted, shape
):
    x = _logits(gen, shape)
    k = shape[1]
    y = torch.randint(0, k, (shape[0], *shape[2:]), generator=gen)
    y.view(-1)[1] = -100  # one ignored target
    w = torch.rand(k, generator=gen) + 0.5 if weighted else None
    kw = dict(weight=w, label_smoothing=label_smoothing, reduction=reduction)
    compare(
        lambda a, b: cross_entropy(a, b, **kw), lambda a, b: F.cross_entropy(a, b, **kw), [x, y]
    )


def test_cross_entropy_custom_ignore_index(compare, gen):
    x, y = _logits(gen, (5, 3)), torch.tensor([0, 7, 2, 7, 1])
    kw = dict(ignore_index=7, label_smoothing=0.1)
    compare(
        lambda a, b: cross_entropy(a, b, **kw), lambda a, b: F.cross_entropy(a, b, **kw), [x, y]
    )


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_soft_matches_torch(compare, gen, reduction, label_smoothing, weighted):
    x = _logits(gen, (6, 4))
    q = torch.softmax(torch.randn(6, 4, generator=gen), 1).requires_grad_()
    w = torch.rand(4, generator=gen) + 0.5 if weighted else None
    kw = dict(weight=w, label_smoothing=label_smoothing, reduction=reduction)
    compare(
        lambda a, b: cross_entropy(a, b, **kw), lambda a, b: F.cross_entropy(a, b, **kw), [x, q]
    )


def test_unbatched_input(gen):
    x = torch.randn(4, generator=gen)
    torch.testing.assert_close(
        cross_entropy(x, torch.tensor(2)), F.cross_entropy(x, torch.tensor(2))
    )


def test_ce_is_logsumexp_minus_true_logit_and_grad_is_softmax_minus_onehot():
    # F3:756-765: L = log(sum_j exp(y_j)) - y_true;  F3:770: dL/dy_i = softmax_i - onehot_i
    y = torch.tensor([[2.0, 1.0, 0.1, -1.5]], dtype=torch.float64, requires_grad=True)
    loss = cross_entropy(y, torch.tensor([1]))
    torch.testing.assert_close(loss, torch.logsumexp(y[0], 0) - y[0, 1])
    (grad,) = torch.autograd.grad(loss, y)
    torch.testing.assert_close(grad, torch.softmax(y, 1) - F.one_hot(torch.tensor([1]), 4))


def test_one_hot_ce_is_minus_log_true_probability():
    # F4:1335-1340: with a one-hot target only -log(p_true) remains
    p = torch.tensor([[0.7, 0.2, 0.1]], dtype=torch.float64)
    loss = cross_entropy(p.log(), torch.tensor([0]))
    assert loss.item() == pytest.approx(-math.log(0.7))


def test_label_smoothing_conventions():
    # ../shared/SCOPE.md: PyTorch/timm (1-e) onehot + e/K; the notes (F4:1364-1369): 1-e, e/(K-1)
    std = smooth_labels(torch.tensor([0]), 3, 0.1)
    notes = smooth_labels(torch.tensor([0]), 3, 0.1, smoothing="notes")
    torch.testing.assert_close(std, torch.tensor([[0.9 + 0.1 / 3, 0.1 / 3, 0.1 / 3]]))
    torch.testing.assert_close(notes, torch.tensor([[0.9, 0.05, 0.05]]))
    assert [round(v, 4) for v in std[0].tolist()] == [0.9333, 0.0333, 0.0333]
    # smoothing raises the target's entropy from 0 (one-hot) (F4:1376): by hand,
    # -(0.9 ln 0.9 + 2 * 0.05 ln 0.05) = 0.394398 and
    # -((0.9 + 0.1/3) ln(0.9 + 0.1/3) + 2 * (0.1/3) ln(0.1/3)) = 0.291140
    # (float32 sums of three terms: ~1e-7, well inside 1e-6)
    h = lambda q: -(q * q.log()).sum().item()  # noqa: E731
    assert h(notes[0]) == pytest.approx(0.394398, abs=1e-6)
    assert h(std[0]) == pytest.approx(0.291140, abs=1e-6)


@pytest.mark.parametrize("smoothing", ["standard", "notes"])
@pytest.mark.parametrize("weighted", [False, True])
def test_smoothed_hard_ce_equals_ce_of_smoothed_distribution(gen, smoothing, weighted):
    x = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 4, (5,), generator=gen)
    w = torch.rand(4, generator=gen, dtype=torch.float64) + 0.5 if weighted else None
    q = smooth_labels(y, 4, 0.2, smoothing=smoothing, dtype=torch.float64)
    ours = cross_entropy(x, y, label_smoothing=0.2, smoothing=smoothing, weight=w, reduction="none")
    ref = cross_entropy(x, q, weight=w, reduction="none")
    torch.testing.assert_close(ours, ref)


@pytest.mark.parametrize("smoothing", ["standard", "notes"])
def test_smoothing_a_mix_equals_mixing_smoothed_losses(gen, smoothing):
    # mixed labels are smoothed once: CE(x, mix) with smoothing = lam CE(x, y1) + (1-lam) CE(x, y2)
    x = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    y1, y2 = torch.randint(0, 5, (2, 6), generator=gen)
    lam = 0.7
    mix = lam * F.one_hot(y1, 5).double() + (1 - lam) * F.one_hot(y2, 5).double()
    kw = dict(label_smoothing=0.1, smoothing=smoothing, reduction="none")
    expected = lam * cross_entropy(x, y1, **kw) + (1 - lam) * cross_entropy(x, y2, **kw)
    torch.testing.assert_close(cross_entropy(x, mix, **kw), expected)


def test_all_ignored_mean_is_zero_not_nan():
    x = torch.randn(3, 4, requires_grad=True)
    loss = cross_entropy(x, torch.full((3,), -100))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(x.grad, torch.zeros(3, 4))


def test_module_and_buffer(gen):
    w = torch.tensor([1.0, 2.0, 0.5])
    mod = CrossEntropyLoss(w, label_smoothing=0.1)
    assert "weight" in dict(mod.named_buffers())
    x, y = torch.randn(4, 3, generator=gen), torch.tensor([0, 1, 2, 1])
    torch.testing.assert_close(mod(x, y), F.cross_entropy(x, y, weight=w, label_smoothing=0.1))
    assert "smoothing='standard'" in repr(mod)


# ---- binary cross-entropy --------------------------------------------------------------


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_matches_torch(compare, gen, reduction, weighted, fused):
    p = (torch.rand(4, 3, generator=gen) * 0.9 + 0.05).requires_grad_()
    y = torch.randint(0, 2, (4, 3), generator=gen).float()
    w = torch.rand(3, generator=gen) + 0.5 if weighted else None
    compare(lambda a, b: binary_cross_entropy(a, b, weight=w, reduction=reduction, fused=fused),
            lambda a, b: F.binary_cross_entropy(a, b, weight=w, reduction=reduction), [p, y])  # fmt: skip


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos", [False, True])
@pytest.mark.parametrize("shape", [(7,), (5, 3)])
def test_bce_with_logits_matches_torch(compare, gen, reduction, weighted, pos, shape, fused):
    # single-label (N,) and multi-label (N, C) targets (F4:1408-1430)
    x = _logits(gen, shape)
    y = torch.rand(shape, generator=gen).round()
    w = torch.rand(shape[-1:], generator=gen) + 0.5 if weighted else None
    pw = torch.rand(shape[-1:], generator=gen) * 3 + 0.2 if pos else None
    kw = dict(weight=w, pos_weight=pw, reduction=reduction)
    compare(lambda a, b: binary_cross_entropy_with_logits(a, b, fused=fused, **kw),
            lambda a, b: F.binary_cross_entropy_with_logits(a, b, **kw), [x, y])  # fmt: skip


def test_pos_weight_is_notes_formula():
    # F4:1451: L = -[alpha y log s(x) + (1 - y) log(1 - s(x))]
    x = torch.tensor([-1.0, 0.3, 2.0], dtype=torch.float64)
    y = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
    alpha = torch.tensor(4.0, dtype=torch.float64)
    s = torch.sigmoid(x)
    notes = -(alpha * y * s.log() + (1 - y) * (1 - s).log())
    for fused in (True, False):
        ours = binary_cross_entropy_with_logits(
            x, y, pos_weight=alpha, reduction="none", fused=fused
        )
        torch.testing.assert_close(ours, notes)


def test_bce_modules(gen):
    x, y = torch.randn(4, 2, generator=gen), torch.rand(4, 2, generator=gen).round()
    pw = torch.tensor([2.0, 0.5])
    torch.testing.assert_close(BCEWithLogitsLoss(pos_weight=pw)(x, y),
                               F.binary_cross_entropy_with_logits(x, y, pos_weight=pw))  # fmt: skip
    torch.testing.assert_close(BCELoss()(torch.sigmoid(x), y),
                               F.binary_cross_entropy(torch.sigmoid(x), y))  # fmt: skip


# ---- bad inputs ------------------------------------------------------------------------


def test_bad_inputs_raise_value_error_naming_the_problem():
    x = torch.randn(4, 3)
    with pytest.raises(ValueError, match=r"values in \[0, 3\].*3 classes"):
        cross_entropy(x, torch.tensor([0, 1, 3, 2]))
    with pytest.raises(ValueError, match=r"shape \(4,\).*got \(5,\)"):
        cross_entropy(x, torch.tensor([0, 1, 2, 2, 0]))
    with pytest.raises(ValueError, match=r"sums in \[0\.9"):
        cross_entropy(x, torch.full((4, 3), 0.3))
    with pytest.raises(ValueError, match=r"minimum -0\.5"):
        cross_entropy(x, torch.tensor([[1.5, -0.5, 0.0]] * 4))
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 2\)"):
        cross_entropy(x, torch.full((4, 2), 0.5))
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        cross_entropy(x, torch.tensor([0, 1, 2, 2]), weight=torch.ones(4))
    with pytest.raises(
        ValueError, match=r"label_smoothing: expected a number in \[0\.0, 1\.0\], got 1\.5"
    ):
        CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match="smoothing='timm'"):
        cross_entropy(x, torch.tensor([0, 1, 2, 2]), label_smoothing=0.1, smoothing="timm")
    with pytest.raises(ValueError, match=r"\[-0\.5, 1\.5\]"):
        binary_cross_entropy(torch.tensor([-0.5, 1.5]), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"\(3,\).*\(3, 1\)"):
        binary_cross_entropy_with_logits(torch.zeros(3), torch.zeros(3, 1))
    with pytest.raises(ValueError, match="pos_weight"):
        binary_cross_entropy_with_logits(
            torch.zeros(3, 2), torch.zeros(3, 2), pos_weight=torch.ones(3)
        )
