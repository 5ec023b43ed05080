"""Entropy, cross-entropy and KL divergence (F4:1214-1320)."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck
from torch.distributions import Categorical

from trainlab.losses import (
    DistributionCrossEntropy,
    Entropy,
    KLDivergence,
    cross_entropy,
    cross_entropy_of,
    entropy,
    kl_divergence,
)

RED = ["mean", "sum", "none"]


def test_weather_example_in_bits():
    # F4:1244-1290: p = (sunny .5, cloudy .25, rain .25); H(p) = 1.5 bits; with q = (.25, .25, .5)
    # H(p, q) = 1.75 bits; KL = H(p, q) - H(p) = 0.25 bits (F4:1305)
    p = torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64)
    q = torch.tensor([0.25, 0.25, 0.5], dtype=torch.float64)
    assert entropy(p, base=2).item() == pytest.approx(1.5)
    assert cross_entropy_of(p, q, base=2).item() == pytest.approx(1.75)
    assert kl_divergence(p, q, base=2).item() == pytest.approx(0.25)
    # cross-entropy is minimal (= entropy) when q = p (F4:1302)
    assert cross_entropy_of(p, p, base=2).item() == pytest.approx(1.5)
    assert entropy(p).item() == pytest.approx(1.5 * math.log(2))  # nats


def _dists(gen, shape=(5, 4)):
    p = torch.softmax(torch.randn(shape, generator=gen) * 2, -1).requires_grad_()
    q = torch.softmax(torch.randn(shape, generator=gen) * 2, -1).requires_grad_()
    return p, q


@pytest.mark.parametrize("reduction", RED)
def test_kl_matches_torch_kl_div(compare, gen, reduction):
    # torch: kl_div(input=log q, target=p); our 'mean' is torch's 'batchmean', 'none' sums dim
    p, q = _dists(gen)
    ref_red = {"mean": "batchmean", "sum": "sum", "none": "none"}[reduction]

    def ref(a, b):
        out = F.kl_div(b.log(), a, reduction=ref_red)
        return out.sum(-1) if reduction == "none" else out

    compare(lambda a, b: kl_divergence(a, b, reduction=reduction), ref, [p, q])
    compare(lambda a, b: kl_divergence(a, b.log(), log_q=True, reduction=reduction), ref, [p, q])


def _logits(gen, shape=(5, 4)):
    # gradients are compared w.r.t. logits: torch's references renormalize their inputs,
    # which changes the gradient off the simplex but not along it
    return (torch.randn(shape, generator=gen) * 2).requires_grad_()


@pytest.mark.parametrize("reduction", RED)
def test_entropy_matches_torch_categorical(compare, gen, reduction):
    def ref(z):
        h = Categorical(logits=z).entropy()
        return {"mean": h.mean(), "sum": h.sum(), "none": h}[reduction]

    compare(lambda z: entropy(z.softmax(-1), reduction=reduction), ref, [_logits(gen)])


@pytest.mark.parametrize("reduction", RED)
def test_cross_entropy_of_matches_soft_target_cross_entropy(compare, gen, reduction):
    # H(p, q) = F.cross_entropy(logits of q, target=p)
    zp, zq = _logits(gen), _logits(gen)
    compare(lambda a, b: cross_entropy_of(a.softmax(-1), b.softmax(-1), reduction=reduction),
            lambda a, b: F.cross_entropy(b, a.softmax(-1), reduction=reduction), [zp, zq])  # fmt: skip
    compare(lambda a, b: cross_entropy_of(a.softmax(-1), b.log_softmax(-1), log_q=True,
                                          reduction=reduction),
            lambda a, b: cross_entropy(b, a.softmax(-1), reduction=reduction), [zp, zq])  # fmt: skip


def test_identity_and_zeros(gen):
    p, q = _dists(gen)
    torch.testing.assert_close(
        cross_entropy_of(p, q, reduction="none"),
        entropy(p, reduction="none") + kl_divergence(p, q, reduction="none"),
    )
    # 0 log 0 = 0: a one-hot p has entropy 0 and finite cross-entropy; q_i = 0 where p_i > 0 is inf
    onehot = torch.tensor([0.0, 1.0, 0.0])
    assert entropy(onehot).item() == 0.0
    assert cross_entropy_of(onehot, torch.tensor([0.0, 0.5, 0.5])).item() == pytest.approx(
        math.log(2)
    )
    assert cross_entropy_of(onehot, torch.tensor([0.5, 0.0, 0.5])).item() == math.inf
    logq = torch.tensor([-math.inf, 0.0, -math.inf])
    assert kl_divergence(onehot, logq, log_q=True).item() == 0.0


def test_gradcheck_and_other_dim(gen):
    p = torch.softmax(torch.randn(3, 4, generator=gen, dtype=torch.float64), 0).requires_grad_()
    q = torch.softmax(torch.randn(3, 4, generator=gen, dtype=torch.float64), 0).requires_grad_()
    for reduction in RED:
        assert gradcheck(lambda a, r=reduction: entropy(a, dim=0, check=False, reduction=r), (p,))
        assert gradcheck(
            lambda a, b, r=reduction: kl_divergence(a, b, dim=0, check=False, reduction=r), (p, q)
        )
    torch.testing.assert_close(
        kl_divergence(p, q, dim=0, reduction="none"), kl_divergence(p.T, q.T, reduction="none")
    )


def test_modules_and_bad_inputs(gen):
    p, q = _dists(gen)
    torch.testing.assert_close(KLDivergence(base=2)(p, q), kl_divergence(p, q, base=2))
    torch.testing.assert_close(Entropy(reduction="sum")(p), entropy(p, reduction="sum"))
    torch.testing.assert_close(DistributionCrossEntropy()(p, q), cross_entropy_of(p, q))
    with pytest.raises(ValueError, match=r"p must hold probabilities.*sums in \[2"):
        entropy(torch.ones(2, 2))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 2\)"):
        kl_divergence(torch.full((2, 3), 1 / 3), torch.full((2, 2), 0.5))
    with pytest.raises(
        ValueError, match=r"^base: expected a number > 0 other than 1 \(or None: e\), got 1$"
    ):
        Entropy(base=1)


def test_logit_entropy_equals_the_entropy_of_the_softmax_and_stays_finite() -> None:
    from trainlab.losses import entropy, logit_entropy

    z = torch.randn(6, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    want = entropy(torch.softmax(z, -1), reduction="none")
    torch.testing.assert_close(logit_entropy(z, reduction="none"), want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(logit_entropy(z, base=2), entropy(torch.softmax(z, -1), base=2))
    # a probability that underflows (exp(-200) = 0 in float32): the value is 0 and the
    # gradient finite, where entropy(softmax(z)) would meet log 0
    far = torch.tensor([[100.0, -100.0]], requires_grad=True)
    h = logit_entropy(far)
    h.backward()
    assert float(h.detach()) == 0.0 and bool(torch.isfinite(far.grad).all())
