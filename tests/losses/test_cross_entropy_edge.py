"""Cross-entropy at the edges of its inputs: for anything F.cross_entropy accepts,
trainlab returns torch's value or refuses with a ValueError, never a silent NaN/inf.

The property test draws class weights with zeros, subnormals (1e-45, 1e-38), tiny, huge
(up to 3e38, next to float32's maximum) and negative values, ignored targets, label
smoothing, -inf logits, extra dimensions and soft targets (one-hot or not), and compares
with torch wherever torch's result is finite. The tolerance (rtol 1e-5, atol 1e-6) is
float32 rounding of a few dozen terms (~1e-7 each) with room for reordered sums.
Mixed-sign weights near the float maximum are left out: there the float32 sums overflow
or not depending on the order of the additions, in torch as in any implementation.
"""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from trainlab.losses import CrossEntropyLoss, cross_entropy

WEIGHTS = st.sampled_from(
    [0.0, 1e-45, 1e-38, 1e-30, 1e-3, 0.5, 1.0, 7.0, 1e10, 1e30, 3e38, -1.0, -7.0]
)


@settings(max_examples=300, deadline=None)
@given(
    k=st.integers(2, 5),
    n=st.integers(1, 6),
    seed=st.integers(0, 2**31),
    data=st.data(),
    label_smoothing=st.sampled_from([0.0, 0.1, 0.5, 1.0]),
    reduction=st.sampled_from(["mean", "sum", "none"]),
    soft=st.booleans(),
    scale=st.sampled_from([1.0, 30.0, 1e4]),
    ignore_first=st.booleans(),
    neg_inf_logit=st.booleans(),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    extra_dim=st.booleans(),
)
def test_weighted_cross_entropy_equals_torch_or_is_finite(
    k, n, seed, data, label_smoothing, reduction, soft, scale, ignore_first, neg_inf_logit,
    dtype, extra_dim,
):  # fmt: skip
    g = torch.Generator().manual_seed(seed)
    shape = (n, k, 2) if extra_dim else (n, k)
    x = (torch.randn(shape, generator=g) * scale).to(dtype)
    if neg_inf_logit:
        x[0, 0] = -float("inf")
    w = torch.tensor(data.draw(st.lists(WEIGHTS, min_size=k, max_size=k)), dtype=dtype)
    if soft:
        target = torch.softmax(torch.randn(shape, generator=g, dtype=dtype) * 3, 1)
        if data.draw(st.booleans()):
            target = F.one_hot(target.argmax(1), k).movedim(-1, 1).to(dtype)
    else:
        target = torch.randint(0, k, (n, *shape[2:]), generator=g)
        if ignore_first:
            target[0] = -100
    kw = dict(weight=w, label_smoothing=label_smoothing, reduction=reduction)
    ref = F.cross_entropy(x, target, **kw)
    ours = cross_entropy(x, target, **kw)
    assert ours.shape == ref.shape
    if torch.isfinite(ref).all():
        assert torch.isfinite(ours).all(), (ours, ref)
        torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)


def test_subnormal_weights_normalize_as_torch():
    # weights 1e-40 (float32 subnormals): the weighted mean equals the unweighted mean;
    # a normalizer clamped to finfo.tiny (1.2e-38) gave 0.0157 instead of 0.6161
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(3, 2, generator=g), torch.tensor([0, 1, 1])
    w = torch.tensor([1e-40, 1e-40])
    torch.testing.assert_close(cross_entropy(x, y, weight=w), F.cross_entropy(x, y, weight=w))
    torch.testing.assert_close(cross_entropy(x, y, weight=w), F.cross_entropy(x, y))


def test_ignored_sample_with_infinite_terms_contributes_zero():
    # an ignored sample whose terms are infinite (a -inf logit; a 3e38 weight times a
    # log-probability of -inf): torch gives 0, multiplying by the mask gave NaN
    x = torch.tensor([[-float("inf"), -0.29], [1.5, -0.3]])
    y = torch.tensor([-100, 1])
    for w, ls in [(None, 0.0), (torch.tensor([3e38, 1.0]), 0.1)]:
        for reduction in ("sum", "none", "mean"):
            kw = dict(weight=w, label_smoothing=ls, reduction=reduction)
            ours, ref = cross_entropy(x, y, **kw), F.cross_entropy(x, y, **kw)
            assert torch.isfinite(ref).all()
            torch.testing.assert_close(ours, ref)


def test_zero_total_weight_gives_zero_mean_not_nan():
    # torch: 0 / 0 = NaN; trainlab: nothing counted, the mean is 0 (documented)
    x, y = torch.randn(2, 3, generator=torch.Generator().manual_seed(1)), torch.tensor([0, 0])
    w = torch.tensor([0.0, 1.0, 1.0])
    assert F.cross_entropy(x, y, weight=w).isnan()
    assert cross_entropy(x, y, weight=w).item() == 0.0
    assert cross_entropy(x, y, weight=w, label_smoothing=0.1).item() == 0.0


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), -float("inf")])
def test_non_finite_class_weight_is_refused(bad):
    x, y = torch.randn(2, 3), torch.tensor([0, 1])
    w = torch.tensor([1.0, bad, 1.0])
    with pytest.raises(ValueError, match=r"weight=.*expected finite class weights"):
        cross_entropy(x, y, weight=w)
    with pytest.raises(ValueError, match="expected finite class weights"):
        CrossEntropyLoss(w)  # at construction, even with check_targets=False
    with pytest.raises(ValueError, match="expected finite class weights"):
        CrossEntropyLoss(w, check_targets=False)
    # a weight finite in float64 but not in float32 logits' dtype is refused too
    with pytest.raises(ValueError, match="torch.float32"):
        cross_entropy(x, y, weight=torch.tensor([1.0, 1e300, 1.0], dtype=torch.float64))
