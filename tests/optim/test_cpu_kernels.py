"""trainlab's multi-tensor CPU kernels (optim/cpu_kernels.c) against the single-tensor path.

The reference tests (test_reference.py) already run every optimizer's default path, which is
the kernel for RMSprop, Adadelta, Adamax, NAdam, ASGD and Rprop, against torch.optim. Here:
the options torch does not have (decoupled decay, eps inside the root), tensors larger than
a thread's share (so a thread boundary falls inside a tensor), one or two threads, float64
step counters, mixed dtypes in one group, tensors the kernel must not touch, and the build.
"""

from __future__ import annotations

import copy

import pytest
import torch

import trainlab.optim as tl
from trainlab.optim import cpu_kernels

pytestmark = pytest.mark.skipif(not cpu_kernels.available(), reason="no C compiler here")

CASES = {
    "RMSprop": [
        {},
        {"momentum": 0.9, "centered": True, "weight_decay": 0.1},
        {"centered": True, "maximize": True, "weight_decay": 0.1, "decoupled_weight_decay": True},
        {"eps_in_sqrt": True, "eps": 1e-3, "momentum": 0.5},
    ],
    "Adadelta": [{"weight_decay": 0.1}, {"lr": 0.5, "rho": 0.5, "maximize": True}],
    "Adamax": [
        {"weight_decay": 0.1},
        {
            "maximize": True,
            "betas": (0.5, 0.9),
            "weight_decay": 0.1,
            "decoupled_weight_decay": True,
        },
    ],
    "NAdam": [
        {"weight_decay": 0.1},
        {"weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True},
        {"momentum_decay": 0.01},
    ],
    "ASGD": [
        {"weight_decay": 0.1, "t0": 5},
        {"lambd": 1e-2, "alpha": 0.5, "maximize": True, "t0": 0},
        {"weight_decay": 0.1, "decoupled_weight_decay": True},  # t0 = 1e6: ax = w (streamed)
    ],
    "Rprop": [{}, {"etas": (0.3, 1.5), "step_sizes": (1e-4, 1.0), "maximize": True}],
}
PARAMS = [(n, kw) for n, kws in CASES.items() for kw in kws]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(PARAMS)]
#: sizes around a thread's share (GRAIN = 32768 elements) and not multiples of 16
SHAPES = [(70001,), (37, 3), (5,), (40000,)]


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()


def twins(name: str, kw: dict, dtype: torch.dtype, steps: int = 30, **first: object):
    """(kernel params, kernel optimizer, single-path params, single optimizer) after
    ``steps`` steps with the same gradients and an lr changed at every step."""
    g = torch.Generator().manual_seed(0)
    base = [torch.randn(s, generator=g, dtype=dtype) for s in SHAPES]
    a = [b.clone().requires_grad_() for b in base]
    b = [x.clone().requires_grad_() for x in base]
    oa = getattr(tl, name)(a, **kw, **first)
    ob = getattr(tl, name)(b, foreach=False, **kw)
    assert oa.path(oa.param_groups[0]) == "cpu_kernel"
    for _ in range(steps):
        for x, y in zip(a, b, strict=True):
            grad = torch.randn(x.shape, generator=g, dtype=dtype)
            x.grad, y.grad = grad.clone(), grad.clone()
        oa.step(), ob.step()
        for o in (oa, ob):
            o.param_groups[0]["lr"] *= 0.97
    return a, oa, b, ob


def assert_same(a, oa, b, ob, tol: float) -> None:  # type: ignore[no-untyped-def]
    for x, y in zip(a, b, strict=True):
        assert rel(x.detach(), y.detach()) <= tol
        mine, ref = oa.state[x], ob.state[y]
        assert set(mine) == set(ref)
        for key, val in ref.items():
            assert mine[key].dtype == val.dtype, key
            if val.dim() > 0:
                assert rel(mine[key], val) <= tol * 10, key
            else:  # step, eta, mu, mu_product: the same rounding as the eager path
                assert float(mine[key]) == pytest.approx(float(val), rel=1e-12), key


@pytest.mark.parametrize(("name", "kw"), PARAMS, ids=IDS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_kernel_matches_single_tensor_path(name: str, kw: dict, dtype: torch.dtype) -> None:
    a, oa, b, ob = twins(name, kw, dtype)
    assert_same(a, oa, b, ob, 1e-12 if dtype == torch.float64 else 1e-5)


@pytest.mark.parametrize("name", list(CASES))
def test_one_thread_equals_two_threads_bitwise(name: str) -> None:
    """Element-wise updates do not depend on how the range is split between threads."""
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = twins(name, CASES[name][-1], torch.float32, steps=5)[0]
        torch.set_num_threads(2)
        two = twins(name, CASES[name][-1], torch.float32, steps=5)[0]
    finally:
        torch.set_num_threads(threads)
    for x, y in zip(one, two, strict=True):
        assert torch.equal(x, y)


def test_float64_step_counters_and_torch_state_dicts() -> None:
    """Under a float64 default dtype the 0-d state (step, eta, mu, mu_product) is float64."""
    default = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float64)
        for name in ("NAdam", "ASGD", "Adamax"):
            a, oa, b, ob = twins(name, {"weight_decay": 0.1}, torch.float64)
            assert oa.state[a[0]]["step"].dtype == torch.float64
            assert_same(a, oa, b, ob, 1e-12)
    finally:
        torch.set_default_dtype(default)
    # a torch.optim state_dict (float32 step) continues in the kernel like in torch
    p, q = torch.randn(50000).requires_grad_(), None
    q = p.detach().clone().requires_grad_()
    ref, ours = torch.optim.NAdam([p]), None  # foreach=None: the loaded group keeps defaults
    for _ in range(3):
        p.grad = torch.ones(50000)
        ref.step()
    ours = tl.NAdam([q])
    q.data.copy_(p.detach())
    ours.load_state_dict(copy.deepcopy(ref.state_dict()))  # (loading shares the tensors)
    for _ in range(3):
        p.grad, q.grad = torch.full((50000,), 0.5), torch.full((50000,), 0.5)
        ref.step(), ours.step()
    assert ours.path(ours.param_groups[0]) == "cpu_kernel"
    assert rel(q.detach(), p.detach()) <= 1e-6
    assert float(ours.state[q]["step"]) == 6.0


def test_mixed_dtypes_in_one_group() -> None:
    p32 = torch.randn(1000).requires_grad_()
    p64 = torch.randn(1000, dtype=torch.float64).requires_grad_()
    r32, r64 = p32.detach().clone().requires_grad_(), p64.detach().clone().requires_grad_()
    oa, ob = (
        tl.Adamax([p32, p64], weight_decay=0.1),
        tl.Adamax([r32, r64], foreach=False, weight_decay=0.1),
    )
    for k in range(10):
        for x, y in ((p32, r32), (p64, r64)):
            x.grad = torch.full_like(x, 0.1 * k - 0.3)
            y.grad = x.grad.clone()
        oa.step(), ob.step()
    assert rel(p32.detach(), r32.detach()) <= 1e-6
    assert rel(p64.detach(), r64.detach()) <= 1e-14


def test_tensors_the_kernel_cannot_take_go_to_the_foreach_path() -> None:
    """Non-contiguous parameters, expanded (stride-0) gradients, gradients of another dtype
    and missing state are updated by the foreach path; the rest by the kernel."""
    base = [torch.randn(40, 30).t(), torch.randn(3, 1000), torch.randn(1000), torch.randn(500)]
    a = [x.clone().requires_grad_() for x in base]
    assert not a[0].is_contiguous()
    b = [x.detach().clone().requires_grad_() for x in a]
    oa, ob = (
        tl.RMSprop(a, lr=1e-2, momentum=0.9),
        tl.RMSprop(b, lr=1e-2, momentum=0.9, foreach=False),
    )
    for k in range(5):
        grads = [torch.randn(30, 40).t().t(), torch.randn(1000).expand(3, 1000), torch.randn(1000),
                 torch.randn(500)]  # fmt: skip
        for x, y, g in zip(a, b, grads, strict=True):
            x.grad, y.grad = g.clone() if g.stride()[0] else g, g.clone()
        if k == 3:  # a momentum buffer removed: that parameter cannot use the kernel
            del oa.state[a[3]]["momentum_buffer"], ob.state[b[3]]["momentum_buffer"]
        oa.step(), ob.step()
    assert a[1].grad.stride() == (0, 1)
    safe = cpu_kernels.kernel_safe(*cpu_kernels.match(oa.make_chain(oa.param_groups[0])), a,
                                   [x.grad for x in a], [oa.state[x] for x in a])  # fmt: skip
    assert safe == [False, False, True, True]
    for x, y in zip(a, b, strict=True):
        assert rel(x.detach(), y.detach()) <= 1e-6


def test_chains_without_a_kernel_are_not_matched() -> None:
    from trainlab.optim import transforms as T

    assert cpu_kernels.match(T.chain(T.scale_by_rms(), T.scale_by_lr())) is not None
    assert cpu_kernels.match(T.chain(T.scale_by_rms(), T.trace(0.9), T.scale_by_lr())) is None
    assert cpu_kernels.match(T.chain(T.scale_by_adamax(), T.scale(0.5), T.scale_by_lr())) is None
    assert cpu_kernels.match(T.chain(T.scale_by_adam(), T.scale_by_lr())) is None  # torch's
    assert cpu_kernels.match(T.chain(T.scale_by_nadam())) is None  # no learning rate


def test_a_missing_compiler_turns_the_kernels_off(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """(The build itself is tested in test_kernel_build.py.)"""
    from trainlab.optim import kernel_build

    monkeypatch.setenv("TRAINLAB_CACHE_DIR", str(tmp_path))
    cpu_kernels.library.cache_clear()
    try:
        monkeypatch.setattr(kernel_build, "compiler", lambda: None)
        assert not cpu_kernels.available()
        opt = tl.RMSprop([torch.zeros(3, requires_grad=True)])
        assert opt.path(opt.param_groups[0]) == "chunked"
    finally:
        cpu_kernels.library.cache_clear()
