"""The fused execution path: one pass over memory per step.

1. :func:`torch_kernel` recognises a chain that torch has a fused kernel for, by its
   transforms and their order, and :func:`run_torch_kernel` runs that kernel
   (``torch._fused_adam_``, ``_fused_adamw_``, ``_fused_sgd_``, ``_fused_adagrad_``)::

       [scale(-1)] [add_decayed_weights] scale_by_adam [.]              scale_by_lr -> adam
       [scale(-1)]                       scale_by_adam add_decayed_weights scale_by_lr -> adamw
       [scale(-1)] [add_decayed_weights] [trace]                        scale_by_lr -> sgd
       [scale(-1)] [add_decayed_weights] scale_by_adagrad               scale_by_lr -> adagrad

2. Any other chain is compiled with ``torch.compile`` (:func:`run_compiled`): the same
   transform code is traced with step counts and ``lr`` as tensors, so a schedule changing
   ``lr`` does not recompile. One graph per (optimizer, static hyperparameters, parameter
   shapes); the time of each first compile is returned (and logged), and inductor's cache
   lives in ``$TORCHINDUCTOR_CACHE_DIR`` (default ``~/.cache/trainlab/inductor``).
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from trainlab.optim.transforms import Transform, value

log = logging.getLogger("trainlab.optim")

_FUSED_DEVICES = ("cpu", "cuda", "xpu")
_FUSED_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _significant(chain: Transform) -> list[Transform]:
    """Leaves of the chain without the ones that are the identity for these values."""
    out = []
    for t in chain.flat():
        hp = t.hparams
        if t.name == "add_decayed_weights" and hp["weight_decay"] == 0:
            continue
        if t.name == "trace" and hp["momentum"] == 0:
            continue
        out.append(t)
    return out


def torch_kernel(chain: Transform, params: list[Tensor]) -> tuple[str, dict[str, Any]] | None:
    """``(kernel, arguments)`` when torch has a fused kernel equal to ``chain``, else None."""
    if not all(p.device.type in _FUSED_DEVICES and p.dtype in _FUSED_DTYPES for p in params):
        return None
    ts = _significant(chain)
    hp: dict[str, Any] = {"maximize": False, "weight_decay": 0.0}
    if ts and ts[0].name == "scale" and ts[0].hparams["factor"] == -1.0:
        hp["maximize"] = True
        ts = ts[1:]
    if not ts or ts[-1].name != "scale_by_lr" or ts[-1].hparams["lr"] is not None:
        return None
    names = [t.name for t in ts[:-1]]
    if names == ["scale_by_adam", "add_decayed_weights"]:
        kernel, ts = "adamw", ts[:-1]
        hp["weight_decay"] = ts[1].hparams["weight_decay"]
    else:
        if names and names[0] == "add_decayed_weights":
            hp["weight_decay"] = ts[0].hparams["weight_decay"]
            ts, names = ts[1:], names[1:]
        if names == ["scale_by_adam"]:
            kernel = "adam"
        elif names == ["scale_by_adagrad"] and not ts[0].hparams["eps_in_sqrt"]:
            kernel = "adagrad"  # initial_accumulator_value only sets the state's start
        elif names in ([], ["trace"]):
            kernel = "sgd"
            if names and ts[0].hparams["zero_init"]:
                return None
        else:
            return None
    core = {t.name: t.hparams for t in ts}
    if "scale_by_adam" in core:
        a = core["scale_by_adam"]
        hp.update(beta1=a["b1"], beta2=a["b2"], eps=a["eps"], amsgrad=a["amsgrad"])
    if "scale_by_adagrad" in core:
        a = core["scale_by_adagrad"]
        hp.update(lr_decay=a["lr_decay"], eps=a["eps"])
    if kernel == "sgd":
        tr = core.get("trace", {"momentum": 0.0, "dampening": 0.0, "nesterov": False})
        hp.update(momentum=tr["momentum"], dampening=tr["dampening"], nesterov=tr["nesterov"])
    return kernel, hp


def kernel_safe(param: Tensor, grad: Tensor, state: dict[str, Any]) -> bool:
    """Whether torch's fused kernel updates this parameter correctly: parameter, grad and
    state buffers all contiguous."""
    tensors = [param, grad, *(v for v in state.values() if torch.is_tensor(v) and v.dim() > 0)]
    return all(t.is_contiguous() for t in tensors)


def _by_device_dtype(params: list[Tensor]) -> dict[tuple[Any, Any], list[int]]:
    out: dict[tuple[Any, Any], list[int]] = {}
    for i, p in enumerate(params):
        out.setdefault((p.device, p.dtype), []).append(i)
    return out


def _kernel_steps(params: list[Tensor], states: list[dict[str, Any]]) -> list[Tensor]:
    """Fused kernels want float32 step counters on the parameter's device."""
    for p, s in zip(params, states, strict=True):
        st = s["step"]
        if st.dtype != torch.float32 or st.device != p.device:
            s["step"] = st.to(device=p.device, dtype=torch.float32)
    return [s["step"] for s in states]


def run_torch_kernel(
    chain: Transform,
    group: dict[str, Any],
    params: list[Tensor],
    grads: list[Tensor],
    states: list[dict[str, Any]],
) -> None:
    """One step of ``chain`` through torch's fused kernel (state initialised by the caller)."""
    found = torch_kernel(chain, params)
    if found is None:
        raise ValueError(f"no torch fused kernel for the chain {[t.name for t in chain.flat()]}")
    kernel, hp = found
    lr = float(value(group["lr"]))
    for idx in _by_device_dtype(params).values():
        ps, gs, ss = [params[i] for i in idx], [grads[i] for i in idx], [states[i] for i in idx]
        if kernel in ("adam", "adamw"):
            steps = _kernel_steps(ps, ss)
            torch._foreach_add_(steps, 1)
            fn = torch._fused_adam_ if kernel == "adam" else torch._fused_adamw_
            vmax = [s["max_exp_avg_sq"] for s in ss] if hp["amsgrad"] else []
            fn(ps, gs, [s["exp_avg"] for s in ss], [s["exp_avg_sq"] for s in ss], vmax, steps,
               lr=lr, beta1=hp["beta1"], beta2=hp["beta2"], weight_decay=hp["weight_decay"],
               eps=hp["eps"], amsgrad=hp["amsgrad"], maximize=hp["maximize"])  # fmt: skip
        elif kernel == "adagrad":
            steps = _kernel_steps(ps, ss)
            torch._foreach_add_(steps, 1)
            torch._fused_adagrad_(ps, gs, [s["sum"] for s in ss], steps, lr=lr,
                                  lr_decay=hp["lr_decay"], weight_decay=hp["weight_decay"],
                                  eps=hp["eps"], maximize=hp["maximize"])  # fmt: skip
        else:
            _sgd(ps, gs, ss, lr, hp)


def _sgd(ps: list[Tensor], gs: list[Tensor], ss: list[dict[str, Any]], lr: float, hp: dict) -> None:
    kw = {k: hp[k] for k in ("weight_decay", "momentum", "dampening", "nesterov", "maximize")}
    if hp["momentum"] == 0:
        torch._fused_sgd_(ps, gs, [], lr=lr, is_first_step=False, **kw)
        return
    # the kernel's first step (buffer <- grad) is all-or-nothing: split new from old buffers
    new = [s.get("momentum_buffer") is None for s in ss]
    for first in (True, False):
        idx = [i for i, n in enumerate(new) if n == first]
        if not idx:
            continue
        if first:
            for i in idx:
                ss[i]["momentum_buffer"] = torch.empty_like(gs[i])
        bufs = [ss[i]["momentum_buffer"] for i in idx]
        torch._fused_sgd_([ps[i] for i in idx], [gs[i] for i in idx], bufs, lr=lr,
                          is_first_step=first, **kw)  # fmt: skip


# --------------------------------------------------------------------------- compiled


def _freeze(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(v)
    if isinstance(v, Tensor):
        return float(v.item())
    return v


@functools.cache
def _compiled(make_chain: Callable[[dict[str, Any]], Transform], static: tuple) -> Callable:
    from trainlab.optim.base import apply_chain

    group = dict(static)

    def run(params, grads, states, steps, lr):
        chain = make_chain({**group, "lr": lr})
        apply_chain(chain, params, grads, states, steps, lr, defer_lr=False)

    return torch.compile(run, dynamic=False)


_SEEN: set[Any] = set()
_BROKEN: list[str] = []


@functools.cache
def _has_compiler() -> bool:
    import shutil

    return any(shutil.which(c) for c in ("g++", "c++", "clang++"))


def compile_available() -> bool:
    """Whether the compiled path can be chosen by default (a C++ compiler is present and
    no compile has failed in this process)."""
    return not _BROKEN and _has_compiler()


def compile_failed(err: Exception) -> None:
    """Record a failed compile: defaults stay eager for the rest of the process."""
    _BROKEN.append(repr(err))
    log.warning("torch.compile of an optimizer step failed (%r); using the eager path", err)


def run_compiled(
    make_chain: Callable[[dict[str, Any]], Transform],
    group: dict[str, Any],
    params: list[Tensor],
    grads: list[Tensor],
    states: list[dict[str, Any]],
    steps: list[Tensor],
) -> float:
    """One step of the chain compiled; returns the seconds spent compiling (0 if cached)."""
    os.environ.setdefault(
        "TORCHINDUCTOR_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache/trainlab/inductor")
    )
    skip = ("params", "lr", "param_names", "initial_lr")
    static = tuple(sorted((k, _freeze(v)) for k, v in group.items() if k not in skip))
    lr = group["lr"]
    lr_t = lr if isinstance(lr, Tensor) else torch.tensor(float(lr), dtype=torch.float64)
    fn = _compiled(make_chain, static)
    sig = (make_chain, static, tuple(sorted(states[0])), len(params),
           tuple((tuple(p.shape), tuple(p.stride()), p.dtype, p.device) for p in params))  # fmt: skip
    first = sig not in _SEEN
    t0 = time.perf_counter()
    with torch._dynamo.config.patch(recompile_limit=512, accumulated_recompile_limit=4096):
        fn(params, grads, states, steps, lr_t)
    if not first:
        return 0.0
    _SEEN.add(sig)
    seconds = time.perf_counter() - t0
    log.info("compiled the %s step for %d tensors in %.1f s", make_chain.__qualname__,
             len(params), seconds)  # fmt: skip
    return seconds
