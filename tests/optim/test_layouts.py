"""Memory layouts on the kernel paths (issue 22, item 2).

torch's fused kernels and trainlab's CPU kernels walk a parameter, its gradient and its state
as flat arrays. Any dense layout they share (contiguous, channels_last, a transpose) is
fine: the update is element-wise, so a channels_last run must equal the contiguous run
bitwise (torch's own kernels: to an ulp per step), through the kernel, not an eager path.
A parameter whose gradient has another layout goes to the foreach path: one multi-tensor
call for all such parameters, never one call per parameter (the single-tensor path).
"""

from __future__ import annotations

import pytest
import torch

import trainlab.optim as tl
from trainlab.optim import base, cpu_kernels
from trainlab.optim.fused import dense, same_layout

KERNELS = ["AdamW", "SGD", "Adagrad", "RMSprop", "NAdam", "ASGD", "Rprop"]
NEEDS_CC = {"RMSprop", "NAdam", "ASGD", "Rprop"}


def conv_weights(
    memory_format: torch.memory_format, dtype: torch.dtype = torch.float32
) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    ws = [
        torch.randn(s, generator=g, dtype=dtype)
        for s in ((16, 8, 3, 3), (32, 16, 1, 1), (4, 3, 5, 5))
    ]
    return [w.contiguous(memory_format=memory_format).requires_grad_() for w in ws]


def spy(monkeypatch) -> list[int]:  # type: ignore[no-untyped-def]
    """The length of the parameter list of each eager chain call, from now on."""
    calls: list[int] = []
    real = base.apply_chain

    def apply_chain(chain, params, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(params))
        return real(chain, params, *args, **kwargs)

    monkeypatch.setattr(base, "apply_chain", apply_chain)
    return calls


def test_dense_layouts() -> None:
    x = torch.randn(4, 3, 5, 5)
    assert dense(x) and dense(x.contiguous(memory_format=torch.channels_last))
    assert dense(torch.randn(3, 5).t()) and dense(torch.randn(1, 5)[:, :])
    assert not dense(x[:, :2])  # gaps between the rows
    assert not dense(torch.randn(5).expand(3, 5))  # each element three times
    cl = x.contiguous(memory_format=torch.channels_last)
    assert same_layout([cl, torch.zeros_like(cl)])
    assert not same_layout([cl, torch.zeros_like(x)])  # same shape, another layout


def run(name: str, memory_format: torch.memory_format) -> list[torch.Tensor]:
    """Five steps of ``name`` on conv weights in ``memory_format`` (gradients in the same
    format, as autograd makes them)."""
    ws = conv_weights(memory_format)
    kw = {"momentum": 0.9} if name in ("SGD", "RMSprop") else {}
    opt = getattr(tl, name)(ws, lr=1e-2, **kw)
    g = torch.Generator().manual_seed(1)
    for _ in range(5):
        for w in ws:
            w.grad = torch.randn(w.shape, generator=g).contiguous(memory_format=memory_format)
        opt.step()
    for w in ws:
        for v in opt.state[w].values():
            assert v.dim() == 0 or v.stride() == w.stride()  # the state kept the layout
    return [w.detach().contiguous() for w in ws]


@pytest.mark.parametrize("name", KERNELS)
def test_channels_last_takes_the_kernel_and_equals_contiguous(name: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    if name in NEEDS_CC and not cpu_kernels.available():
        pytest.skip("no C compiler here")
    calls = spy(monkeypatch)
    cl = run(name, torch.channels_last)
    assert calls == []  # every step went through a kernel
    plain = run(name, torch.contiguous_format)
    assert calls == []
    for a, b in zip(cl, plain, strict=True):
        if name in NEEDS_CC:  # built with -ffp-contract=off: the layout cannot change a bit
            assert torch.equal(a, b)
        else:  # torch's kernels use FMA in the vector body, not in the scalar tail: an
            # element that moves between the two may differ by an ulp per step (5 steps)
            assert ((a - b).abs() <= 8 * torch.finfo(a.dtype).eps * b.abs()).all()


@pytest.mark.parametrize("name", ["AdamW", "RMSprop"])
def test_other_layouts_take_one_foreach_call(name: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Two channels_last weights with contiguous gradients (and one matching pair): the two go
    to the foreach path together, one eager call of length 2, and match the single path
    (float64)."""
    if name in NEEDS_CC and not cpu_kernels.available():
        pytest.skip("no C compiler here")
    calls = spy(monkeypatch)
    ws = conv_weights(torch.channels_last, torch.float64)
    ref = [w.detach().clone().requires_grad_() for w in ws]
    opt, ref_opt = getattr(tl, name)(ws, lr=1e-2), getattr(tl, name)(ref, lr=1e-2, foreach=False)
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        for w, r in zip(ws, ref, strict=True):
            # contiguous: another layout than the 3x3 and 5x5 weights', the same as the
            # 1x1 weight's (for a 1x1 kernel channels_last and contiguous coincide)
            grad = torch.randn(w.shape, generator=g, dtype=torch.float64)
            w.grad, r.grad = grad, grad.clone()
        calls.clear()
        opt.step()
        assert calls == [2]
        ref_opt.step()
    for w, r in zip(ws, ref, strict=True):
        # the same formulas in another grouping of operations (kernel, foreach, single):
        # rounding only, a few ulps of float64 per step (the bound of test_cpu_kernels.py)
        assert torch.allclose(w, r, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", ["AdamW", "SGD", "Adagrad"])
def test_torch_kernels_get_contiguous_views(name: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """torch's fused CPU kernels are ~3x slower on strided tensors (a channels_last
    resnet18, benchmarks/optim_step.py --layouts): they get flat views of the same memory."""
    fn = {"AdamW": "_fused_adamw_", "SGD": "_fused_sgd_", "Adagrad": "_fused_adagrad_"}[name]
    real, seen = getattr(torch, fn), []

    def spy_kernel(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.extend(t.is_contiguous() for a in args if isinstance(a, list) for t in a)
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, fn, spy_kernel)
    run(name, torch.channels_last)
    assert seen and all(seen)
