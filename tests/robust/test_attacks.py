"""FGSM and PGD against their closed forms, the eps-ball and bounds invariants, the model's
state after an attack, and the one-line errors for bad input (notes F3:3474-3500)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from trainlab.robust import attack_mode, fgsm, pgd, to_model_space


def _linear(d: int = 12, k: int = 5, seed: int = 0) -> nn.Linear:
    torch.manual_seed(seed)
    return nn.Linear(d, k)


def _closed_form_grad(model: nn.Linear, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """d/dx sum_i CE(W x_i + b, y_i) = (softmax(W x_i + b) - onehot(y_i)) W, in float64."""
    w, b = model.weight.double(), model.bias.double()
    p = torch.softmax(x.double() @ w.T + b, dim=1)
    return (p - F.one_hot(y, w.shape[0]).double()) @ w


@pytest.mark.parametrize("targeted", [False, True])
def test_fgsm_is_x_plus_eps_sign_of_the_closed_form_gradient(targeted: bool) -> None:
    model = _linear()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(64, 12, generator=gen)
    y = torch.randint(0, 5, (64,), generator=gen)
    g = _closed_form_grad(model, x, y)
    # float32 autograd and the float64 closed form agree on every sign when no component
    # is near zero (relative error of the float32 gradient ~1e-6)
    assert g.abs().min() > 1e-4
    step = -g.sign() if targeted else g.sign()
    expected = x + 0.3 * step.float()
    assert torch.equal(fgsm(model, x, y, 0.3, targeted=targeted), expected)


def test_fgsm_raises_the_loss_of_the_linear_model_as_the_linearisation_predicts() -> None:
    model = _linear()
    x = torch.randn(32, 12, generator=torch.Generator().manual_seed(2))
    y = torch.zeros(32, dtype=torch.int64)
    eps = 1e-3
    adv = fgsm(model, x, y, eps)
    with torch.no_grad():
        before = F.cross_entropy(model(x), y, reduction="sum")
        after = F.cross_entropy(model(adv), y, reduction="sum")
    predicted = eps * _closed_form_grad(model, x, y).detach().abs().sum()  # grad^T eps sign(grad)
    # second-order term: eps^2 * ||W||^2 * N / 2 bounds the error; ~1e-4 relative here
    assert float(after - before) == pytest.approx(float(predicted), rel=2e-2)


def _cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.2),
        nn.Flatten(), nn.Linear(4 * 8 * 8, 10),
    )  # fmt: skip


def _images(n: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 8, 8, generator=gen), torch.randint(0, 10, (n,), generator=gen)


@pytest.mark.parametrize("eps", [0.05, torch.tensor([0.2]).reshape(1, 1, 1)])
def test_pgd_with_one_step_alpha_eps_and_no_random_start_equals_fgsm(eps) -> None:
    model = _cnn().eval()
    x, y = _images()
    a = fgsm(model, x, y, eps, bounds=(0.0, 1.0))
    b = pgd(model, x, y, eps, eps, 1, random_start=False, bounds=(0.0, 1.0))
    assert torch.equal(a, b)
    assert not torch.equal(a, x)


@settings(max_examples=30)
@given(
    eps=st.floats(0.0, 0.5),
    alpha_frac=st.floats(0.05, 2.0),
    steps=st.integers(1, 4),
    norm=st.sampled_from(["linf", "l2"]),
    random_start=st.booleans(),
    restarts=st.integers(1, 2),
    per_channel=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_every_perturbation_stays_in_the_eps_ball_and_the_bounds(
    eps, alpha_frac, steps, norm, random_start, restarts, per_channel, seed
) -> None:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 4))
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(6, 2, 6, 6, generator=gen) * 2 - 1
    y = torch.randint(0, 4, (6,), generator=gen)
    e = torch.tensor([eps, eps / 3]).reshape(2, 1, 1) if per_channel else eps
    low, high = (
        torch.tensor([-1.0, -1.0]).reshape(2, 1, 1),
        torch.tensor([1.0, 0.9]).reshape(2, 1, 1),
    )
    x = torch.minimum(x, high)
    alpha = max(eps * alpha_frac, 1e-3)
    adv = pgd(model, x, y, e, alpha, steps, norm=norm, random_start=random_start,
              restarts=restarts, bounds=(low, high), generator=gen)  # fmt: skip
    assert bool(((adv >= low) & (adv <= high)).all())  # clamped: exactly inside
    delta = adv - x
    et = torch.as_tensor(e).expand_as(x[0])
    # the ball's edge x +- eps is itself rounded: one float32 ulp of |x| <= 1 is 1.2e-7
    if norm == "linf":
        assert bool((delta.abs() <= et + 2.4e-7).all())
    else:
        ratio = torch.where(et > 0, delta / et.clamp_min(1e-30), torch.zeros_like(delta))
        assert bool((ratio.flatten(1).norm(dim=1) <= 1 + 1e-5).all())
        assert bool((delta[:, et == 0] == 0).all())


def test_an_attack_leaves_mode_statistics_grads_and_flags_as_it_found_them() -> None:
    model = _cnn().train()
    model[0].bias.requires_grad_(False)  # a partly frozen model stays partly frozen
    model[5].eval()  # and a submodule's own mode is kept
    x, y = _images()
    model(x).sum().backward()  # some gradients already accumulated, to be left alone
    grads = {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()}
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    modes = {n: m.training for n, m in model.named_modules()}
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    for run in (
        lambda: fgsm(model, x, y, 0.1),
        lambda: pgd(model, x, y, 0.1, 0.03, 3, restarts=2),
        lambda: pgd(model, x, y, 0.5, 0.2, 2, norm="l2"),
    ):
        adv = run()
        assert not adv.requires_grad
        assert {n: m.training for n, m in model.named_modules()} == modes
        assert {n: p.requires_grad for n, p in model.named_parameters()} == flags
        for n, p in model.named_parameters():
            assert (p.grad is None) == (grads[n] is None)
            assert p.grad is None or torch.equal(p.grad, grads[n])
        # eval mode during the attack: batch-norm's running statistics did not move
        assert all(torch.equal(b, buffers[n]) for n, b in model.named_buffers())


def test_attack_mode_restores_even_when_the_block_raises() -> None:
    model = _cnn().train()
    with pytest.raises(RuntimeError), attack_mode(model):
        assert not model.training and not any(p.requires_grad for p in model.parameters())
        raise RuntimeError("boom")
    assert model.training and all(p.requires_grad for p in model.parameters())


def test_restarts_keep_the_worst_case_of_each_example() -> None:
    model = _cnn(3).eval()
    x, y = _images(64, 3)
    args = (model, x, y, 0.15, 0.05, 3)
    both = pgd(*args, restarts=2, generator=torch.Generator().manual_seed(5))
    gen = torch.Generator().manual_seed(5)  # the same two draws, one restart at a time
    first, second = pgd(*args, generator=gen), pgd(*args, generator=gen)
    assert not torch.equal(first, second)
    with torch.no_grad():
        fooled = [(model(a).argmax(1) != y) for a in (first, second, both)]
        ce = [F.cross_entropy(model(a), y, reduction="none") for a in (first, second, both)]
    take = (fooled[1] & ~fooled[0]) | ((fooled[1] == fooled[0]) & (ce[1] > ce[0]))
    assert torch.equal(both, torch.where(take.reshape(-1, 1, 1, 1), second, first))
    assert bool((fooled[2] >= fooled[0]).all() and (fooled[2] >= fooled[1]).all())


def test_l2_pgd_in_model_space_equals_pgd_in_data_space_through_the_standardization() -> None:
    """Per-channel std: eps / std (and alpha / std) in model space takes exactly the steps
    data-space PGD takes on model(standardize(x)) (module docstring of budget.py)."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 3, 3), nn.Tanh(), nn.Flatten(), nn.Linear(3 * 4 * 4, 4))
    mean = torch.tensor([0.2, 0.6]).reshape(2, 1, 1)
    std = torch.tensor([0.5, 2.0]).reshape(2, 1, 1)
    gen = torch.Generator().manual_seed(0)
    xd = torch.rand(8, 2, 6, 6, generator=gen)
    y = torch.randint(0, 4, (8,), generator=gen)
    data_model = nn.Sequential(_Standardize(mean, std), net)
    for norm in ("l2", "linf"):
        want = pgd(data_model, xd, y, 0.5, 0.2, 4, norm=norm, random_start=False, bounds=(0.0, 1.0))
        t = to_model_space(0.5, mean, std, alpha=0.2, bounds=(0.0, 1.0), norm=norm)
        got = pgd(net, (xd - mean) / std, y, t.eps, t.alpha, 4, norm=norm, random_start=False,
                  bounds=t.bounds)  # fmt: skip
        # float32 rounding of the affine map, a few ulps of values ~1
        torch.testing.assert_close(got * std + mean, want, atol=2e-6, rtol=0)


class _Standardize(nn.Module):
    def __init__(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.mean, self.std = mean, std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def test_to_model_space_maps_eps_and_bounds_through_the_standardization() -> None:
    mean = torch.tensor([0.5, 0.25]).reshape(2, 1, 1)
    std = torch.tensor([0.25, 0.5]).reshape(2, 1, 1)
    t = to_model_space(0.125, mean, std, alpha=0.0625, bounds=(0.0, 1.0))
    assert t.eps.flatten().tolist() == [0.5, 0.25]
    assert t.alpha is not None and t.alpha.flatten().tolist() == [0.25, 0.125]
    assert t.bounds is not None
    assert t.bounds[0].flatten().tolist() == [-2.0, -0.5]
    assert t.bounds[1].flatten().tolist() == [2.0, 1.5]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m, x, y: fgsm(m, x, y, -0.1), r"eps = -0.1: expected a finite value >= 0"),
        (lambda m, x, y: pgd(m, x, y, 0.1, 0.0, 3), r"alpha = 0.0: expected a finite value > 0"),
        (lambda m, x, y: pgd(m, x, y, 0.1, -1.0, 3), r"alpha = -1.0"),
        (lambda m, x, y: pgd(m, x, y, 0.1, 0.1, 0), r"steps = 0: expected an integer >= 1"),
        (lambda m, x, y: pgd(m, x, y, 0.1, 0.1, 2.5), r"steps = 2.5"),
        (lambda m, x, y: pgd(m, x, y, 0.1, 0.1, 2, restarts=0), r"restarts = 0"),
        (lambda m, x, y: pgd(m, x, y, 0.1, 0.1, 2, norm="l1"), r"norm = 'l1': expected one of"),
        (lambda m, x, y: fgsm(m, x + 2, y, 0.1, bounds=(0.0, 1.0)), r"x: inputs outside the bou"),
        (lambda m, x, y: pgd(m, x, y, 0.1, 0.1, 2, bounds=(1.0, 0.0)), r"expected low <= high"),
        (lambda m, x, y: fgsm(m, x, y[:3], 0.1), r"y: expected 16 targets"),
        (lambda m, x, y: to_model_space(-1.0, torch.zeros(1), torch.ones(1)), r"eps = -1.0"),
    ],
)
def test_bad_input_is_a_one_line_value_error_naming_the_argument(call, match) -> None:
    model = _cnn().eval()
    x, y = _images()
    with pytest.raises(ValueError, match=match) as info:
        call(model, x, y)
    assert "\n" not in str(info.value)
