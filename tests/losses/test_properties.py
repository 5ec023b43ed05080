"""Property tests (hypothesis): invariants of smoothing, overlap and information measures."""

import math

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from trainlab.losses import (
    cross_entropy,
    dice_loss,
    entropy,
    kl_divergence,
    smooth_labels,
    soft_iou_loss,
)

FAST = settings(max_examples=25, deadline=None)


@FAST
@given(
    k=st.integers(2, 20),
    eps=st.floats(0.0, 1.0),
    convention=st.sampled_from(["standard", "notes"]),
    seed=st.integers(0, 2**16),
)
def test_smoothed_labels_are_distributions(k, eps, convention, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, k, (7,), generator=g)
    q = smooth_labels(y, k, eps, smoothing=convention, dtype=torch.float64)
    torch.testing.assert_close(q.sum(1), torch.ones(7, dtype=torch.float64))
    assert (q >= -1e-12).all()
    true = q.gather(1, y.unsqueeze(1)).squeeze(1)
    expected = 1 - eps + eps / k if convention == "standard" else 1 - eps
    torch.testing.assert_close(true, torch.full((7,), expected, dtype=torch.float64))


@FAST
@given(k=st.integers(2, 12), seed=st.integers(0, 2**16), scale=st.floats(0.1, 50.0))
def test_cross_entropy_hard_equals_one_hot_soft_and_is_nonnegative(k, seed, scale):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(6, k, generator=g, dtype=torch.float64) * scale
    y = torch.randint(0, k, (6,), generator=g)
    hard = cross_entropy(x, y, reduction="none")
    assert (hard >= 0).all()
    torch.testing.assert_close(hard, cross_entropy(x, F.one_hot(y, k).double(), reduction="none"))


@FAST
@given(seed=st.integers(0, 2**16), c=st.integers(1, 4), squared=st.booleans())
def test_overlap_losses_lie_in_unit_interval(seed, c, squared):
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(3, c, 5, generator=g, dtype=torch.float64)
    t = torch.randint(0, max(c, 2), (3, 5), generator=g)
    for loss in (
        dice_loss(p, t, squared=squared, reduction="none"),
        soft_iou_loss(p, t, reduction="none"),
    ):
        assert ((loss >= -1e-12) & (loss <= 1 + 1e-12)).all()


@FAST
@given(k=st.integers(2, 10), seed=st.integers(0, 2**16))
def test_gibbs_inequality_and_entropy_bound(k, seed):
    g = torch.Generator().manual_seed(seed)
    p = torch.softmax(torch.randn(4, k, generator=g, dtype=torch.float64) * 3, 1)
    q = torch.softmax(torch.randn(4, k, generator=g, dtype=torch.float64) * 3, 1)
    assert (kl_divergence(p, q, reduction="none") >= -1e-12).all()
    assert (kl_divergence(p, p, reduction="none").abs() < 1e-12).all()
    assert (entropy(p, reduction="none") <= math.log(k) + 1e-12).all()
