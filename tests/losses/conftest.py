"""Shared helpers for the loss tests: compare with a reference in value and gradient."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch


def _compare(
    ours: Callable[..., torch.Tensor],
    ref: Callable[..., torch.Tensor],
    inputs: list[torch.Tensor],
    *,
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> None:
    """ours(*inputs) == ref(*inputs) in value, and in the gradient of every floating input
    that requires grad, under a random upstream gradient (so 'none' is checked per element)."""
    a_in = [x.detach().clone().requires_grad_(x.requires_grad) for x in inputs]
    b_in = [x.detach().clone().requires_grad_(x.requires_grad) for x in inputs]
    a, b = ours(*a_in), ref(*b_in)
    assert a.shape == b.shape, (a.shape, b.shape)
    torch.testing.assert_close(a, b, rtol=rtol, atol=atol)
    g = torch.Generator().manual_seed(123)
    up = torch.rand(a.shape, generator=g, dtype=a.dtype) + 0.5
    wrt_a = [x for x in a_in if x.requires_grad]
    wrt_b = [x for x in b_in if x.requires_grad]
    if not wrt_a:
        return
    ga = torch.autograd.grad(a, wrt_a, up)
    gb = torch.autograd.grad(b, wrt_b, up)
    for x, y in zip(ga, gb, strict=True):
        torch.testing.assert_close(x, y, rtol=rtol, atol=atol)


@pytest.fixture
def compare() -> Callable[..., None]:
    return _compare


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)


REDUCTIONS = ("mean", "sum", "none")
