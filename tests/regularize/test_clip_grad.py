"""Gradient clipping against torch.nn.utils.clip_grad_norm_ / clip_grad_value_."""

from __future__ import annotations

import pytest
import torch

from trainlab.regularize import clip_grad_norm, clip_grad_value


def _params(seed: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    shapes = [(3, 4), (5,), (2, 2, 2), (1,)]
    a = [torch.randn(s, generator=g, requires_grad=True) for s in shapes]
    for p in a:
        p.grad = torch.randn(p.shape, generator=g) * 3
    b = [p.detach().clone().requires_grad_(True) for p in a]
    for p, q in zip(a, b, strict=True):
        q.grad = p.grad.clone()
    return a, b


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.1, 1.0, 1e6])
def test_clip_by_norm_matches_torch(norm_type: float, max_norm: float) -> None:
    ours, ref = _params(int(max_norm * 10) % 97)
    total = clip_grad_norm(ours, max_norm, norm_type)
    total_ref = torch.nn.utils.clip_grad_norm_(ref, max_norm, norm_type)
    torch.testing.assert_close(total, total_ref)
    for p, q in zip(ours, ref, strict=True):
        torch.testing.assert_close(p.grad, q.grad)


def test_clip_by_value_matches_torch_and_skips_missing_grads() -> None:
    ours, ref = _params(1)
    ours[1].grad = None
    ref[1].grad = None
    clip_grad_value(ours, 0.5)
    torch.nn.utils.clip_grad_value_(ref, 0.5)
    for p, q in zip(ours, ref, strict=True):
        assert (p.grad is None and q.grad is None) or torch.equal(p.grad, q.grad)


def test_nonfinite_and_bad_arguments() -> None:
    ours, _ = _params(2)
    ours[0].grad[0, 0] = float("nan")
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm(ours, 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm(ours, -1.0)
    with pytest.raises(ValueError, match="norm_type"):
        clip_grad_norm(ours, 1.0, norm_type=0)
    with pytest.raises(ValueError, match="clip_value"):
        clip_grad_value(ours, -0.1)
    assert clip_grad_norm([torch.zeros(2, requires_grad=True)], 1.0).item() == 0.0
