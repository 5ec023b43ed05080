"""Unstructured masks: they survive optimizer steps, match torch.nn.utils.prune, and keep
the globally largest weights (trainlab.compress.masks)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils import prune as torch_prune

from trainlab.compress import (
    apply_masks,
    magnitude_masks,
    make_permanent,
    masks_of,
    prune_unstructured,
    random_masks,
    sparsity,
)
from trainlab.models import create_model


def small_cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return create_model("cnn", num_classes=10, in_shape=(1, 8, 8), widths=(8, 16))


def _batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(16, 1, 8, 8, generator=g), torch.randint(0, 10, (16,), generator=g)


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=5e-3),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-3),
        lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1),
    ],
    ids=["sgd-momentum-wd", "nesterov-wd", "adamw"],
)
def test_pruned_weights_stay_exactly_zero_through_100_steps(make_opt) -> None:
    model = small_cnn()
    masks = prune_unstructured(model, 0.7, "global")
    before = {n: m.weight.detach().clone() for n, m in model.named_modules() if n in masks}
    opt = make_opt(model.parameters())
    x, y = _batch()
    for _ in range(100):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        for name, m in model.named_modules():
            if name in masks:
                assert torch.all(m.weight[~masks[name]] == 0), name  # exactly zero, every step
    # the kept weights did train (the test would pass vacuously on a frozen model)
    moved = [
        (m.weight.detach() - before[n])[masks[n]].abs().max() for n, m in model.named_modules()
        if n in masks
    ]  # fmt: skip
    assert min(moved) > 1e-3
    assert sparsity(model).overall == pytest.approx(0.7, abs=1e-3)


def test_global_magnitude_keeps_the_globally_largest_weights() -> None:
    model = small_cnn()
    weights = {n: m.weight.detach().clone() for n, m in model.named_modules() if hasattr(m, "weight") and isinstance(m, nn.Conv2d | nn.Linear)}  # fmt: skip
    flat = torch.cat([w.abs().reshape(-1) for w in weights.values()])
    k = round(0.6 * flat.numel())
    threshold = torch.sort(flat).values[k - 1]  # the k-th smallest |w| is the last removed
    masks = magnitude_masks(model, 0.6, scope="global")
    assert sum(int((~m).sum()) for m in masks.values()) == k
    for n, w in weights.items():
        torch.testing.assert_close(masks[n], w.abs() > threshold, rtol=0, atol=0)
    # layers lose different fractions under one threshold (else it is per-layer pruning)
    fractions = {n: float((~m).float().mean()) for n, m in masks.items()}
    assert max(fractions.values()) - min(fractions.values()) > 0.05


def _torch_masks(model: nn.Module, amount: float, scope: str) -> dict[str, torch.Tensor]:
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    if scope == "global":
        torch_prune.global_unstructured(
            [(m, "weight") for _, m in layers], torch_prune.L1Unstructured, amount=amount
        )
    else:
        for _, m in layers:
            torch_prune.l1_unstructured(m, "weight", amount=amount)
    return {n: m.weight_mask.bool() for n, m in layers}


@pytest.mark.parametrize("scope", ["global", "layer"])
@pytest.mark.parametrize("amount", [0.2, 0.5, 0.9])
def test_masks_match_torch_prune(scope: str, amount: float) -> None:
    """torch.nn.utils.prune is the reference (continuous random weights: no ties)."""
    ours = magnitude_masks(small_cnn(), amount, scope=scope)
    ref = _torch_masks(small_cnn(), amount, scope)
    for n in ref:
        assert torch.equal(ours[n], ref[n]), n


def test_layer_scope_prunes_each_layer_by_the_same_fraction() -> None:
    model = small_cnn()
    prune_unstructured(model, 0.5, "layer")
    s = sparsity(model)
    for name, (zeros, total) in s.layers.items():
        assert zeros == round(0.5 * total), name


def test_random_masks_are_seeded_and_counted() -> None:
    def masks(seed: int) -> dict[str, torch.Tensor]:
        return random_masks(small_cnn(), 0.5, generator=torch.Generator().manual_seed(seed))

    a, b, c = masks(1), masks(1), masks(2)
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert any(not torch.equal(a[n], c[n]) for n in a)
    for m in a.values():
        assert int((~m).sum()) == round(0.5 * m.numel())
    mag = magnitude_masks(small_cnn(), 0.5, scope="layer")
    # a random half agrees with the magnitude half on about half the entries, not all
    agree = torch.cat([(a[n] == mag[n]).reshape(-1) for n in a]).float().mean()
    assert 0.35 < float(agree) < 0.65


def test_iterative_pruning_only_grows_the_masks() -> None:
    model = small_cnn()
    first = prune_unstructured(model, 0.5, "global")
    with torch.no_grad():  # training would move weights; pruned ones must stay pruned
        for m in model.modules():
            if parametrize.is_parametrized(m, "weight"):
                m.parametrizations["weight"].original.add_(1.0)
    second = prune_unstructured(model, 0.75, "global")
    for n in first:
        assert torch.all(second[n] <= first[n]), n  # kept now => kept before
    assert sparsity(model).overall == pytest.approx(0.75, abs=1e-3)
    assert all(torch.equal(second[n], masks_of(model)[n]) for n in second)


def test_sparsity_per_layer_and_overall() -> None:
    lin = nn.Sequential(nn.Linear(4, 3, bias=False), nn.Linear(3, 2, bias=False))
    with torch.no_grad():
        lin[0].weight.copy_(torch.tensor([[0.0, 1, 2, 0], [1, 1, 1, 1], [0, 0, 0, 5]]))
        lin[1].weight.copy_(torch.tensor([[1.0, 0, 1], [1, 1, 1]]))
    s = sparsity(lin)
    assert s.layers == {"0": (5, 12), "1": (1, 6)}
    assert s.overall == pytest.approx(6 / 18)
    assert s.of("0") == pytest.approx(5 / 12)


def test_make_permanent_leaves_plain_zeroed_weights() -> None:
    model = small_cnn()
    masks = prune_unstructured(model, 0.8, "global")
    x, _ = _batch()
    model.eval()
    out = model(x)
    make_permanent(model)
    assert not any(parametrize.is_parametrized(m) for m in model.modules())
    assert not any("parametrizations" in k or k.endswith("mask") for k in model.state_dict())
    torch.testing.assert_close(model(x), out, rtol=0, atol=0)
    plain = small_cnn()
    plain.load_state_dict(model.state_dict())  # loads into an unmasked model
    for n, m in plain.named_modules():
        if n in masks:
            assert torch.all(m.weight[~masks[n]] == 0)


def test_apply_masks_checks_names_and_shapes() -> None:
    model = small_cnn()
    with pytest.raises(ValueError, match="not a prunable layer"):
        apply_masks(model, {"nope": torch.ones(1)})
    with pytest.raises(ValueError, match="does not match"):
        apply_masks(model, {"head": torch.ones(3, 3, dtype=torch.bool)})


@pytest.mark.parametrize("amount", [-0.1, 1.0, 1.5])
def test_bad_amount_is_one_line_value_error(amount: float) -> None:
    with pytest.raises(ValueError, match=r"amount must be in \[0, 1\), got"):
        prune_unstructured(small_cnn(), amount)


def test_bad_method_and_missing_generator() -> None:
    with pytest.raises(ValueError, match="method must be one of"):
        prune_unstructured(small_cnn(), 0.5, "biggest")
    with pytest.raises(ValueError, match="explicit generator"):
        prune_unstructured(small_cnn(), 0.5, "random")
    with pytest.raises(TypeError, match="amount must be a number"):
        prune_unstructured(small_cnn(), "half")  # type: ignore[arg-type]


@given(amount=st.floats(0.0, 0.999), seed=st.integers(0, 3))
@settings(max_examples=25)
def test_global_masks_remove_exactly_round_amount_n(amount: float, seed: int) -> None:
    """Property: whatever the amount, exactly round(amount * N) weights go, and every removed
    |w| is <= every kept |w| (the definition of one global threshold)."""
    model = small_cnn(seed)
    masks = magnitude_masks(model, amount, scope="global")
    layers = {n: m.weight.detach().abs() for n, m in model.named_modules() if n in masks}
    kept = torch.cat([layers[n][masks[n]] for n in masks])
    gone = torch.cat([layers[n][~masks[n]] for n in masks])
    assert gone.numel() == round(amount * (kept.numel() + gone.numel()))
    if kept.numel() and gone.numel():
        assert gone.max() <= kept.min()
