"""Every trainlab optimizer against its torch.optim twin, step by step (issue 4).

200 steps; two param groups with different hyperparameters; a non-contiguous parameter; a
parameter whose grad is None on every third step; lr edited in param_groups every step;
a cross save/load of state_dicts (trainlab <-> torch) at step 100. Every execution path
(single-tensor, foreach, default) runs alongside.

Tolerance: max |a - b| / max |b| per tensor (parameters and state buffers). float64: 1e-10.
Every path computes torch's formulas with torch's operation order up to the grouping of a
few scalar factors (e.g. ``-lr * (1 / (1 - b1^t))`` for ``-(lr / (1 - b1^t))``), i.e. a few
ulps (2.2e-16) per step; measured worst over all cases and paths: 6.1e-15 (parameters) and
5.1e-15 (states) after 200 steps, so 1e-10 leaves four orders of magnitude and still catches
any difference in a formula. float32: 1e-5: the same ulp-level differences at 6e-8 each,
accumulated over 200 steps (measured worst: 2.4e-6, NAdam's two ``addcdiv`` passes against
torch's one). ``test_tiny_gradients_eps_placement`` adds gradients near 1e-6, where the
``eps`` terms are as large as the moments and any misplaced ``eps`` shows.
"""

from __future__ import annotations

import copy

import pytest
import torch

import trainlab.optim as tl

CASES = {
    "SGD": [
        {"lr": 0.05},
        {"lr": 0.05, "momentum": 0.9, "weight_decay": 1e-2},
        {"lr": 0.05, "momentum": 0.9, "dampening": 0.5, "maximize": True},
        {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-2},
    ],
    "Adam": [
        {"lr": 1e-2, "weight_decay": 0.1},
        {"lr": 1e-2, "amsgrad": True, "weight_decay": 0.1},
        {"lr": 1e-2, "maximize": True, "betas": (0.8, 0.99)},
    ],
    "AdamW": [{"lr": 1e-2, "weight_decay": 0.1}, {"lr": 1e-2, "amsgrad": True, "maximize": True}],
    "Adagrad": [
        {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.1},
        {"lr": 0.1, "maximize": True, "eps": 1e-6},
    ],
    "RMSprop": [
        {"lr": 1e-2},
        {"lr": 1e-2, "momentum": 0.9, "centered": True, "weight_decay": 0.1},
        {"lr": 1e-2, "centered": True, "maximize": True},
    ],
    "Adadelta": [{"weight_decay": 0.1}, {"lr": 0.5, "rho": 0.5, "maximize": True}],
    "Adamax": [{"weight_decay": 0.1}, {"maximize": True, "betas": (0.5, 0.9)}],
    "NAdam": [
        {"weight_decay": 0.1},
        {"weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True},
        {"momentum_decay": 0.01},
    ],
    "ASGD": [
        {"weight_decay": 0.1, "t0": 50},
        {"lambd": 1e-2, "alpha": 0.5, "maximize": True, "t0": 0},
    ],
    "Rprop": [{}, {"etas": (0.3, 1.5), "step_sizes": (1e-4, 1.0), "maximize": True}],
}
PARAMS = [(name, kw) for name, kws in CASES.items() for kw in kws]
TOL = {torch.float64: 1e-10, torch.float32: 1e-5}


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()


def make_params(dtype: torch.dtype) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [
        torch.randn(4, 3, generator=g, dtype=dtype),
        torch.randn(3, 5, generator=g, dtype=dtype).t(),  # non-contiguous
        torch.randn(6, generator=g, dtype=dtype),
        torch.randn(2, 2, generator=g, dtype=dtype),  # grad None every third step
    ]


def groups(ps: list[torch.Tensor], name: str, kw: dict) -> list[dict]:
    second: dict = {"params": ps[2:], "lr": kw.get("lr", 1e-2) * 0.5}
    if name != "Rprop":
        second["weight_decay"] = 0.05
    return [{"params": ps[:2]}, second]


def clones(base: list[torch.Tensor]) -> list[torch.Tensor]:
    return [b.clone().requires_grad_() if b.is_contiguous() else b.t().clone().t().requires_grad_()
            for b in base]  # fmt: skip


def run_twins(
    name: str,
    kw: dict,
    dtype: torch.dtype,
    paths: list[dict],
    steps: int = 200,
    grad_scale: float = 1.0,
):
    base = make_params(dtype)
    ref_ps = clones(base)
    ref = getattr(torch.optim, name)(groups(ref_ps, name, kw), foreach=False, **kw)
    ours = []
    for path in paths:
        ps = clones(base)
        ours.append((ps, getattr(tl, name)(groups(ps, name, kw), **kw, **path)))
    gen = torch.Generator().manual_seed(1)
    for step in range(steps):
        for i, p in enumerate(ref_ps):
            g = (
                None
                if (i == 3 and step % 3 == 1)
                else torch.randn(p.shape, generator=gen, dtype=dtype) * grad_scale
            )
            p.grad = None if g is None else g.clone()
            for ps, _ in ours:
                ps[i].grad = None if g is None else g.clone()
        for opt in [ref] + [o for _, o in ours]:
            opt.step()
            for group in opt.param_groups:
                group["lr"] *= 0.995
        if step == steps // 2:  # cross-load state dicts: ours (single path) <-> torch
            sd_ref = copy.deepcopy(ref.state_dict())
            sd_ours = copy.deepcopy(ours[0][1].state_dict())
            ref.load_state_dict(sd_ours)
            ours[0][1].load_state_dict(sd_ref)
    return ref_ps, ref, ours


# every option combination in float64; in float32 (same code, looser bound) the richest
# combination of each optimizer, to keep the suite inside its time budget
DTYPED = [(n, kw, torch.float64) for n, kw in PARAMS] + [
    (n, max(kws, key=len), torch.float32) for n, kws in CASES.items()
]
IDS = [f"{n}-{i}-{str(d)[6:]}" for i, (n, _, d) in enumerate(DTYPED)]


@pytest.mark.parametrize(("name", "kw", "dtype"), DTYPED, ids=IDS)
def test_matches_torch_twin(name: str, kw: dict, dtype: torch.dtype) -> None:
    paths = [{"foreach": False}, {"foreach": True}, {}]  # single, foreach, default
    ref_ps, ref, ours = run_twins(name, kw, dtype, paths)
    for ps, opt in ours:
        for p, q in zip(ps, ref_ps, strict=True):
            assert p.dtype == dtype
            assert rel(p.detach(), q.detach()) <= TOL[dtype], opt.path(opt.param_groups[0])
        for p, q in zip(ps, ref_ps, strict=True):
            mine, theirs = opt.state[p], ref.state[q]
            assert set(mine) == set(theirs)
            for key, val in theirs.items():
                if torch.is_tensor(val) and val.dim() > 0:
                    assert mine[key].dtype == val.dtype
                    assert rel(mine[key], val) <= TOL[dtype], key
                elif torch.is_tensor(val):
                    assert float(mine[key]) == pytest.approx(float(val), rel=TOL[dtype])


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "Adagrad"])
def test_default_uses_torch_fused_kernel(name: str) -> None:
    opt = getattr(tl, name)([torch.zeros(3, requires_grad=True)], lr=0.1)
    assert opt.path(opt.param_groups[0]) == "torch_fused"
    opt = getattr(tl, name)([torch.zeros(3, requires_grad=True)], lr=0.1, foreach=False)
    assert opt.path(opt.param_groups[0]) == "single"


@pytest.mark.parametrize("name", ["RMSprop", "Adadelta", "Adamax", "NAdam", "ASGD", "Rprop"])
def test_default_without_torch_kernel_is_the_cpu_kernel(name: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from trainlab.optim import cpu_kernels

    opt = getattr(tl, name)([torch.zeros(3, requires_grad=True)])
    expected = "cpu_kernel" if cpu_kernels.available() else "chunked"
    assert opt.path(opt.param_groups[0]) == expected
    fused = opt.param_groups[0] | {"fused": True}
    assert opt.path(fused) == ("cpu_kernel" if cpu_kernels.available() else "compiled")
    monkeypatch.setattr(cpu_kernels, "available", lambda: False)  # no C compiler here
    assert opt.path(opt.param_groups[0]) == "chunked"
    assert opt.path(fused) == "compiled"


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Rprop"])
def test_tensor_lr_and_scheduler(name: str) -> None:
    kw = {"momentum": 0.9} if name in ("SGD", "RMSprop") else {}
    a = [torch.ones(5, requires_grad=True)]
    b = [torch.ones(5, requires_grad=True)]
    oa = getattr(tl, name)(a, lr=torch.tensor(0.01), **kw)
    ob = getattr(torch.optim, name)(b, lr=torch.tensor(0.01), foreach=False, **kw)
    sa = torch.optim.lr_scheduler.CosineAnnealingLR(oa, 10)
    sb = torch.optim.lr_scheduler.CosineAnnealingLR(ob, 10)
    for k in range(10):
        a[0].grad = torch.full((5,), float(k) - 4.5)
        b[0].grad = torch.full((5,), float(k) - 4.5)
        oa.step(), ob.step(), sa.step(), sb.step()
    assert torch.is_tensor(oa.param_groups[0]["lr"])
    assert rel(a[0].detach(), b[0].detach()) <= 1e-6


#: optimizers with an eps, the options that move it (centered: under the root with the
#: centred variance; Adadelta: eps in both roots)
EPS_CASES = [
    ("Adam", {"lr": 1e-3}),
    ("Adam", {"lr": 1e-3, "amsgrad": True}),
    ("AdamW", {"lr": 1e-3, "weight_decay": 0.0}),
    ("Adagrad", {"lr": 0.1}),
    ("RMSprop", {"lr": 1e-3}),
    ("RMSprop", {"lr": 1e-3, "centered": True, "momentum": 0.5}),
    ("Adadelta", {}),
    ("Adamax", {}),
    ("NAdam", {}),
]


@pytest.mark.parametrize(("name", "kw"), EPS_CASES, ids=[f"{n}-{i}" for i, (n, _) in
                                                          enumerate(EPS_CASES)])  # fmt: skip
def test_tiny_gradients_eps_placement(name: str, kw: dict) -> None:
    """Gradients ~1e-6 (float64, no weight decay, 50 steps): sqrt(v) ~ 1e-6 is as large as
    torch's eps (1e-8 outside the root; Adadelta's 1e-6 inside it), so an eps moved into or
    out of a root changes the step by 1 % to 100x. Every path must still match torch to
    1e-10 (see the module docstring); the notes' eps-inside-the-root variant must not."""
    g = torch.Generator().manual_seed(3)
    base = [torch.randn(s, generator=g, dtype=torch.float64) for s in ((7, 5), (40,), (3,))]
    ref_ps = [b.clone().requires_grad_() for b in base]
    ref = getattr(torch.optim, name)(ref_ps, foreach=False, **kw)
    variants = [{"foreach": False}, {"foreach": True}, {}]
    if name in ("RMSprop", "Adagrad"):
        variants.append({"eps_in_sqrt": True})
    ours = [[b.clone().requires_grad_() for b in base] for _ in variants]
    opts = [getattr(tl, name)(ps, **kw, **v) for ps, v in zip(ours, variants, strict=True)]
    for _ in range(50):
        grads = [torch.randn(b.shape, generator=g, dtype=torch.float64) * 1e-6 for b in base]
        for ps in [ref_ps, *ours]:
            for p, gr in zip(ps, grads, strict=True):
                p.grad = gr.clone()
        for opt in [ref, *opts]:
            opt.step()
    moved = max(rel(p.detach() - b, q.detach() - b)
                for p, q, b in zip(ours[0], ref_ps, base, strict=True))  # fmt: skip
    for ps, v, opt in zip(ours, variants, opts, strict=True):
        # the displacement from the start, not the weights: the steps are small
        err = max(rel(p.detach() - b, q.detach() - b)
                  for p, q, b in zip(ps, ref_ps, base, strict=True))  # fmt: skip
        if "eps_in_sqrt" in v:
            assert err > 1e-2, "eps inside the root should change the steps here"
        else:
            assert err <= 1e-10, (v, opt.path(opt.param_groups[0]))
    assert moved <= 1e-10
