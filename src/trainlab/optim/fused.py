"""The fused execution path: one pass over memory per step.

1. :func:`torch_kernel` recognises a chain that torch has a fused kernel for, by its
   transforms and their order, and :func:`run_torch_kernel` runs that kernel
   (``torch._fused_adam_``, ``_fused_adamw_``, ``_fused_sgd_``, ``_fused_adagrad_``)::

       [scale(-1)] [add_decayed_weights] scale_by_adam [.]              scale_by_lr -> adam
       [scale(-1)]                       scale_by_adam add_decayed_weights scale_by_lr -> adamw
       [scale(-1)] [add_decayed_weights] [trace]                        scale_by_lr -> sgd
       [scale(-1)] [add_decayed_weights] scale_by_adagrad               scale_by_lr -> adagrad

2. Any other chain is compiled with ``torch.compile`` (:mod:`trainlab.optim.compiled`).

:func:`chain_form` reads a chain's structure (shared with :mod:`trainlab.optim.cpu_kernels`);
:func:`kernel_safe` says which parameters a kernel may update as flat arrays.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from trainlab.optim.transforms import Transform, value

log = logging.getLogger("trainlab.optim")

_FUSED_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _significant(chain: Transform) -> list[Transform]:
    """Leaves of the chain without the ones that are the identity for these values."""
    out = []
    for t in chain.flat():
        hp = t.hparams
        if t.name in ("add_decayed_weights", "lr_weight_decay") and hp["weight_decay"] == 0:
            continue
        if t.name == "trace" and hp["momentum"] == 0:
            continue
        out.append(t)
    return out


@dataclass(frozen=True)
class ChainForm:
    """A chain read as ``[scale(-1)] [L2 decay] core [decoupled decay] [scale_by_lr()] tail``.

    ``decay`` is the name of the weight-decay transform (None without decay), ``lr`` whether
    the chain ends with the group's learning rate, ``tail`` the transforms that run after the
    update (ASGD's ``average_iterates``)."""

    maximize: bool
    weight_decay: float
    decoupled: bool
    decay: str | None
    core: tuple[Transform, ...]
    lr: bool
    tail: tuple[Transform, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.core)


_DECAYS = ("add_decayed_weights", "lr_weight_decay")


def chain_form(chain: Transform) -> ChainForm:
    """Read ``chain`` as a :class:`ChainForm` (identity transforms dropped)."""
    ts = _significant(chain)
    tail: list[Transform] = []
    while ts and ts[-1].name == "average_iterates":
        tail.insert(0, ts.pop())
    maximize = bool(ts) and ts[0].name == "scale" and ts[0].hparams["factor"] == -1.0
    if maximize:
        ts = ts[1:]
    lr = bool(ts) and ts[-1].name == "scale_by_lr" and ts[-1].hparams["lr"] is None
    if lr:
        ts = ts[:-1]
    decay, decoupled, wd = None, False, 0.0
    if ts and ts[0].name in _DECAYS:
        decay, wd, ts = ts[0].name, ts[0].hparams["weight_decay"], ts[1:]
    elif ts and ts[-1].name in _DECAYS:
        decay, decoupled, wd, ts = ts[-1].name, True, ts[-1].hparams["weight_decay"], ts[:-1]
    return ChainForm(maximize, wd, decoupled, decay, tuple(ts), lr, tuple(tail))


def torch_kernel(chain: Transform, params: list[Tensor]) -> tuple[str, dict[str, Any]] | None:
    """``(kernel, arguments)`` when torch has a fused kernel equal to ``chain``, else None."""
    if not all((p.is_cpu or p.is_cuda or p.is_xpu) and p.dtype in _FUSED_DTYPES for p in params):
        return None
    form = chain_form(chain)
    if not form.lr or form.tail or form.decay not in (None, "add_decayed_weights"):
        return None
    names, core = form.names, {t.name: t.hparams for t in form.core}
    hp: dict[str, Any] = {"maximize": form.maximize, "weight_decay": form.weight_decay}
    if names == ("scale_by_adam",):
        kernel = "adamw" if form.decoupled else "adam"
        a = core["scale_by_adam"]
        hp.update(beta1=a["b1"], beta2=a["b2"], eps=a["eps"], amsgrad=a["amsgrad"])
    elif form.decoupled:
        return None
    elif names == ("scale_by_adagrad",) and not core["scale_by_adagrad"]["eps_in_sqrt"]:
        kernel = "adagrad"  # initial_accumulator_value only sets the state's start
        a = core["scale_by_adagrad"]
        hp.update(lr_decay=a["lr_decay"], eps=a["eps"])
    elif names in ((), ("trace",)):
        kernel = "sgd"
        tr = core.get("trace", {"momentum": 0.0, "dampening": 0.0, "nesterov": False})
        if tr.get("zero_init"):
            return None
        hp.update(momentum=tr["momentum"], dampening=tr["dampening"], nesterov=tr["nesterov"])
    else:
        return None
    return kernel, hp


def dense(t: Tensor) -> bool:
    """Whether ``t`` covers its memory exactly: its ``numel`` elements are a gapless range of
    its storage, each once (contiguous, channels_last, a transpose, ... but not a slice with
    gaps nor an expanded, stride-0 view)."""
    if t.is_contiguous():
        return True
    expected = 1
    dims = [d for d in zip(t.shape, t.stride(), strict=True) if d[0] != 1]
    for size, stride in sorted(dims, key=_stride):
        if stride != expected:
            return False
        expected *= size
    return True


def _stride(dim: tuple[int, int]) -> int:
    return dim[1]


def same_layout(tensors: list[Tensor]) -> bool:
    """Whether the ``tensors`` (a parameter, its gradient and its state buffers) can be
    updated as flat arrays, element ``i`` of one belonging with element ``i`` of the others:
    all of one shape and one set of strides, and :func:`dense`."""
    first = tensors[0]
    shape, strides = first.shape, first.stride()
    return dense(first) and all(t.shape == shape and t.stride() == strides for t in tensors[1:])


def kernel_safe(param: Tensor, grad: Tensor, state: dict[str, Any]) -> bool:
    """Whether torch's fused kernel updates this parameter correctly: it walks the parameter,
    the gradient and the state buffers as flat arrays, so they must share one dense layout
    (:func:`same_layout`; e.g. all channels_last)."""
    return same_layout(
        [param, grad, *(v for v in state.values() if torch.is_tensor(v) and v.dim() > 0)]
    )


def split_by(keys: Iterable[Hashable], *lists: list) -> dict[Any, tuple[list, ...]]:
    """``lists`` (of equal length) cut into sublists by ``keys`` (one per element), in the
    order the keys first appear: ``{key: (sublist of each list)}``; with a single key, the
    lists themselves."""
    index: dict[Any, list[int]] = {}
    for i, k in enumerate(keys):
        index.setdefault(k, []).append(i)
    if len(index) == 1:
        return {next(iter(index)): lists}
    return {k: tuple([xs[i] for i in idx] for xs in lists) for k, idx in index.items()}


def _kernel_steps(params: list[Tensor], states: list[dict[str, Any]]) -> list[Tensor]:
    """Fused kernels want float32 step counters on the parameter's device."""
    for p, s in zip(params, states, strict=True):
        st = s["step"]
        if st.dtype != torch.float32 or st.device != p.device:
            s["step"] = st.to(device=p.device, dtype=torch.float32)
    return [s["step"] for s in states]


def flat(t: Tensor) -> Tensor:
    """A 1-D contiguous view of a :func:`dense` tensor's memory (``t`` if contiguous): an
    element-wise kernel may update it in place of ``t`` (element i of the parameter, its
    gradient and its state correspond, as they share one layout)."""
    return t if t.is_contiguous() else t.as_strided((t.numel(),), (1,), t.storage_offset())


def _flats(states: list[dict[str, Any]], name: str) -> list[Tensor]:
    return [flat(s[name]) for s in states]


def run_torch_kernel(
    kernel: str,
    hp: dict[str, Any],
    group: dict[str, Any],
    params: list[Tensor],
    grads: list[Tensor],
    states: list[dict[str, Any]],
) -> None:
    """One step of torch's fused ``kernel`` with the arguments ``hp`` found by
    :func:`torch_kernel` (state initialised by the caller; all :func:`kernel_safe`). Tensors
    in a non-contiguous dense layout (channels_last, ...) are passed as flat views of their
    memory (:func:`flat`), which the kernels update at contiguous speed (torch's own path
    for strided tensors was 3x slower on a channels_last resnet18)."""
    lr = float(value(group["lr"]))
    devices_dtypes = ((p.device, p.dtype) for p in params)
    for ps, gs, ss in split_by(devices_dtypes, params, grads, states).values():
        if kernel == "sgd":  # (creates momentum buffers in the gradients' layout first)
            _sgd(ps, gs, ss, lr, hp)
            continue
        ps, gs = list(map(flat, ps)), list(map(flat, gs))
        if kernel in ("adam", "adamw"):
            steps = _kernel_steps(ps, ss)
            torch._foreach_add_(steps, 1)
            fn = torch._fused_adam_ if kernel == "adam" else torch._fused_adamw_
            vmax = _flats(ss, "max_exp_avg_sq") if hp["amsgrad"] else []
            fn(ps, gs, _flats(ss, "exp_avg"), _flats(ss, "exp_avg_sq"), vmax, steps,
               lr=lr, beta1=hp["beta1"], beta2=hp["beta2"], weight_decay=hp["weight_decay"],
               eps=hp["eps"], amsgrad=hp["amsgrad"], maximize=hp["maximize"])  # fmt: skip
        elif kernel == "adagrad":
            steps = _kernel_steps(ps, ss)
            torch._foreach_add_(steps, 1)
            torch._fused_adagrad_(ps, gs, _flats(ss, "sum"), steps, lr=lr,
                                  lr_decay=hp["lr_decay"], weight_decay=hp["weight_decay"],
                                  eps=hp["eps"], maximize=hp["maximize"])  # fmt: skip


def _sgd(ps: list[Tensor], gs: list[Tensor], ss: list[dict[str, Any]], lr: float, hp: dict) -> None:
    kw = {k: hp[k] for k in ("weight_decay", "momentum", "dampening", "nesterov", "maximize")}
    if hp["momentum"] == 0:
        torch._fused_sgd_(list(map(flat, ps)), list(map(flat, gs)), [], lr=lr,
                          is_first_step=False, **kw)  # fmt: skip
        return
    # the kernel's first step (buffer <- grad) is all-or-nothing: split new from old buffers
    parts = split_by((s.get("momentum_buffer") is None for s in ss), ps, gs, ss)
    for first in (True, False):
        if first not in parts:
            continue
        p_, g_, s_ = parts[first]
        if first:
            for s, g in zip(s_, g_, strict=True):
                s["momentum_buffer"] = torch.empty_like(g)
        bufs = _flats(s_, "momentum_buffer")
        torch._fused_sgd_(list(map(flat, p_)), list(map(flat, g_)), bufs, lr=lr,
                          is_first_step=first, **kw)  # fmt: skip
