"""The notes' variants, each against the note's own formula."""

from __future__ import annotations

import pytest
import torch

import trainlab.optim as tl
from trainlab.optim import transforms as T
from trainlab.optim.base import apply_chain
from trainlab.optim.variants import add_l2_penalty

H = torch.tensor([[3.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
B = torch.tensor([1.0, -2.0], dtype=torch.float64)


def grad(w: torch.Tensor) -> torch.Tensor:
    """Gradient of the quadratic 0.5 w^T H w - b^T w."""
    return H @ w - B


def test_velocity_momentum_matches_note_formula_and_torch_for_constant_lr() -> None:
    """F4:70 / F3:495: v <- beta v - eta g; theta <- theta + v."""
    lr, beta = 0.1, 0.9
    w = torch.tensor([1.0, 1.0], dtype=torch.float64, requires_grad=True)
    w_t = w.detach().clone().requires_grad_()
    opt, ref = (
        tl.VelocitySGD([w], lr=lr, momentum=beta),
        torch.optim.SGD([w_t], lr=lr, momentum=beta),
    )
    theta, v = w.detach().clone(), torch.zeros(2, dtype=torch.float64)
    for _ in range(30):
        g = grad(theta)
        v = beta * v - lr * g
        theta = theta + v
        w.grad, w_t.grad = grad(w.detach()), grad(w_t.detach())
        opt.step(), ref.step()
    assert torch.allclose(w.detach(), theta, rtol=1e-12, atol=1e-12)
    assert torch.allclose(w.detach(), w_t.detach(), rtol=1e-12, atol=1e-12)


def test_velocity_momentum_differs_from_torch_after_an_lr_change() -> None:
    """The velocity keeps the old lr inside it; torch's buffer does not (SCOPE.md)."""
    w = torch.ones(2, dtype=torch.float64, requires_grad=True)
    w_t = w.detach().clone().requires_grad_()
    opt, ref = (
        tl.VelocitySGD([w], lr=0.1, momentum=0.9),
        torch.optim.SGD([w_t], lr=0.1, momentum=0.9),
    )
    for k in range(4):
        if k == 2:
            for o in (opt, ref):
                o.param_groups[0]["lr"] = 0.01
        w.grad, w_t.grad = grad(w.detach()), grad(w_t.detach())
        opt.step(), ref.step()
    assert (w.detach() - w_t.detach()).abs().max() > 1e-3


def test_nesterov_lookahead_matches_note_formula_and_torch_nesterov() -> None:
    """F4:101-114: theta~ = theta - eta beta v; v = beta v + grad(theta~); theta -= eta v."""
    lr, beta = 0.1, 0.9
    w = torch.tensor([1.0, -1.0], dtype=torch.float64, requires_grad=True)
    w_t = w.detach().clone().requires_grad_()
    opt = tl.NesterovLookaheadSGD([w], lr=lr, momentum=beta)
    ref = torch.optim.SGD([w_t], lr=lr, momentum=beta, nesterov=True)
    theta, v = w.detach().clone(), torch.zeros(2, dtype=torch.float64)
    for _ in range(30):
        look = theta - lr * beta * v
        v = beta * v + grad(look)
        theta = theta - lr * v
        w.grad, w_t.grad = grad(w.detach()), grad(w_t.detach())
        opt.step(), ref.step()
    assert torch.allclose(opt.state[w]["theta"], theta, rtol=1e-12, atol=1e-12)
    assert torch.allclose(w.detach(), theta - lr * beta * v, rtol=1e-12, atol=1e-12)
    assert torch.allclose(w.detach(), w_t.detach(), rtol=1e-10, atol=1e-12)


def test_l2_penalty_gradient_is_two_lambda_w() -> None:
    """F2:22: w <- w - eta (dL/dw + 2 lambda w); torch's weight_decay is lambda' = 2 lambda."""
    lam, lr = 0.05, 0.1
    w = torch.tensor([1.0, -3.0], dtype=torch.float64)
    g = torch.tensor([0.2, 0.4], dtype=torch.float64)
    p = w.clone()
    apply_chain(T.chain(add_l2_penalty(lam), T.scale_by_lr()), [p], [g], [{}], [], lr)
    assert torch.allclose(p, w - lr * (g + 2 * lam * w), rtol=0, atol=1e-15)
    # the same as autograd on loss + lam * sum(w^2)
    q = w.clone().requires_grad_()
    ((q * g).sum() + lam * (q**2).sum()).backward()
    assert torch.allclose(p, w - lr * q.grad, rtol=0, atol=1e-15)
    ref = w.clone().requires_grad_()
    ref.grad = g.clone()
    torch.optim.SGD([ref], lr=lr, weight_decay=2 * lam).step()
    assert torch.allclose(p, ref.detach(), rtol=0, atol=1e-15)


@pytest.mark.parametrize("name", ["Adagrad", "RMSprop"])
def test_eps_inside_sqrt(name: str) -> None:
    """F4:225 (Adagrad) and F4:351 (RMSprop): theta -= eta g / sqrt(G + eps)."""
    eps, lr, beta = 0.5, 0.1, 0.9  # a large eps makes the two placements clearly differ
    w = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64, requires_grad=True)
    kw = {"lr": lr, "eps": eps, "eps_in_sqrt": True}
    opt = getattr(tl, name)([w], **(kw | ({"alpha": beta} if name == "RMSprop" else {})))
    theta, acc = w.detach().clone(), torch.zeros(3, dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        g = torch.randn(3, generator=gen, dtype=torch.float64)
        acc = acc + g**2 if name == "Adagrad" else beta * acc + (1 - beta) * g**2
        theta = theta - lr * g / torch.sqrt(acc + eps)
        w.grad = g
        opt.step()
    assert torch.allclose(w.detach(), theta, rtol=1e-12, atol=1e-14)
    outside = getattr(torch.optim, name)([torch.zeros(1)], eps=eps)  # torch: eps outside
    assert outside.defaults["eps"] == eps
    assert opt.path(opt.param_groups[0]) != "torch_fused"  # no torch kernel for this chain
