"""Hand-written multi-tensor CPU kernels for the chains torch has no fused CPU kernel for.

torch.optim has fused CPU kernels for Adam, AdamW, SGD and Adagrad only. For RMSprop,
Adadelta, Adamax, NAdam, ASGD and Rprop, ``cpu_kernels.c`` (next to this file) holds one
kernel each that updates all parameters of a group in a single pass over memory and a single
OpenMP parallel region: each parameter, gradient and state element is read once and written
once, the concatenated parameters are split evenly between threads (no barrier per tensor),
and the Python overhead is one call per group instead of one per tensor and op. ASGD's
average ``ax = w`` (while ``mu = 1``) is written with non-temporal stores, so it costs one
write instead of a read plus a write.

The C source is compiled on first use with the system C compiler (about a second), once for
float32 and once for float64, linked against the OpenMP runtime torch has loaded (so the
kernels share torch's threads and ``torch.set_num_threads``), and cached in
``$TRAINLAB_CACHE_DIR/kernels`` (default ``~/.cache/trainlab/kernels``); see
:mod:`trainlab.optim.kernel_build` for the flags, the cache key and the checks made before
a library is loaded. Where no compiler works, :func:`available` is False and the
optimizers use the compiled chain (``torch.compile``) or the eager paths instead.

:func:`match` recognises a chain by its transforms (see :func:`trainlab.optim.fused.chain_form`);
:func:`run` executes one step. The formulas are the transforms' (their docstrings give the
update rules and references) in the same order of operations; the tests compare every kernel
with the single-tensor path and with torch.optim.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import operator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from trainlab.optim import kernel_build
from trainlab.optim.fused import ChainForm, chain_form, dense, split_by
from trainlab.optim.transforms import Transform, value

log = logging.getLogger("trainlab.optim")

SOURCE = Path(__file__).with_name("cpu_kernels.c")
_DTYPES = {torch.float32: "_f32", torch.float64: "_f64"}

#: below this many elements per thread a kernel runs on fewer threads (ATen's grain size)
GRAIN = 32768

# --------------------------------------------------------------------------- building

#: the last :func:`library` call: ``seconds`` spent compiling (0.0 when the cached library was
#: loaded), the library's ``path``, the ``openmp`` runtime it links and the last ``error``
BUILD: dict[str, Any] = {"seconds": 0.0, "path": None, "openmp": None, "error": None}


@functools.cache
def library() -> ctypes.CDLL | None:
    """The compiled kernels (built on first use, then loaded from the cache), or None."""
    return kernel_build.load(SOURCE, "optim", BUILD)


def available() -> bool:
    """Whether the kernels can run here (a C compiler built them)."""
    return library() is not None


# --------------------------------------------------------------------------- ctypes layout

_P = ctypes.c_void_p


class _Common(ctypes.Structure):
    _fields_ = [("p", _P), ("g", _P), ("step", _P), ("s1", _P), ("s2", _P), ("n", ctypes.c_int64),
                ("numel", _P), ("lr", ctypes.c_double), ("weight_decay", ctypes.c_double),
                ("maximize", ctypes.c_int), ("decoupled", ctypes.c_int),
                ("step_f64", ctypes.c_int), ("scalar_f64", ctypes.c_int), ("coef", _P)]  # fmt: skip


def _args(pointers: str, doubles: str, ints: str = "") -> type[ctypes.Structure]:
    """A kernel's argument struct: the common part, then its buffer pointers, its double and
    int hyperparameters, in the order the C struct declares them."""
    fields = [("c", _Common), *((n, _P) for n in pointers.split())]
    fields += [(n, ctypes.c_double) for n in doubles.split()]
    fields += [(n, ctypes.c_int) for n in ints.split()]
    return type("Args", (ctypes.Structure,), {"_fields_": fields})


_ARGS: dict[str, type[ctypes.Structure]] = {
    "rmsprop": _args(
        "square_avg grad_avg momentum_buffer", "alpha eps momentum", "centered eps_in_sqrt"
    ),
    "adadelta": _args("square_avg acc_delta", "rho eps"),
    "adamax": _args("exp_avg exp_inf", "b1 b2 eps"),
    "nadam": _args("exp_avg exp_avg_sq", "b1 b2 eps momentum_decay"),
    "asgd": _args("ax", "lambd alpha t0"),
    "rprop": _args("prev step_size", "eta_minus eta_plus step_min step_max"),
}

#: the 0-d state scalars besides ``step`` that a kernel reads and writes (C's s1, s2)
_SCALARS: dict[str, tuple[str, ...]] = {"nadam": ("mu_product",), "asgd": ("eta", "mu")}

# --------------------------------------------------------------------------- matching

_DECAY = "add_decayed_weights"


def _rmsprop_core(core: tuple[Transform, ...]) -> bool:
    if [t.name for t in core] == ["scale_by_rms"]:
        return True
    if [t.name for t in core] != ["scale_by_rms", "trace"]:
        return False
    tr = core[1].hparams
    return tr["zero_init"] and tr["dampening"] == 0 and not tr["nesterov"]


#: kernels whose chain is a single adaptive transform between the decay and the lr
_SIMPLE: dict[tuple[str, ...], str] = {
    ("scale_by_adadelta",): "adadelta",
    ("scale_by_adamax",): "adamax",
    ("scale_by_nadam",): "nadam",
}


def match(chain: Transform) -> tuple[str, ChainForm] | None:
    """``(kernel, form)`` when a kernel computes ``chain``, else None."""
    form = chain_form(chain)
    names = tuple(t.name for t in form.core)
    if form.lr and not form.tail and form.decay in (None, _DECAY):
        if _rmsprop_core(form.core):
            return "rmsprop", form
        kernel = _SIMPLE.get(names)
        return (kernel, form) if kernel else None
    tail = tuple(t.name for t in form.tail)
    if names == ("scale_by_asgd",) and not form.lr and tail == ("average_iterates",):
        decay_ok = form.decay is None or form.decay == (
            "lr_weight_decay" if form.decoupled else _DECAY
        )
        return ("asgd", form) if decay_ok else None
    if names == ("scale_by_rprop",) and not form.lr and not form.tail and form.decay is None:
        return "rprop", form
    return None


#: the state buffers each kernel reads and writes (torch.optim's names)
def buffers(kernel: str, form: ChainForm) -> tuple[str, ...]:
    if kernel == "rmsprop":
        hp = form.core[0].hparams
        return (("square_avg",) + (("grad_avg",) if hp["centered"] else ())
                + (("momentum_buffer",) if len(form.core) > 1 else ()))  # fmt: skip
    return {"adadelta": ("square_avg", "acc_delta"), "adamax": ("exp_avg", "exp_inf"),
            "nadam": ("exp_avg", "exp_avg_sq"), "asgd": ("ax",),
            "rprop": ("prev", "step_size")}[kernel]  # fmt: skip


_dtype, _is_cpu = operator.attrgetter("dtype"), operator.attrgetter("is_cpu")


def kernel_safe(
    kernel: str,
    form: ChainForm,
    params: list[Tensor],
    grads: list[Tensor],
    states: list[dict[str, Any]],
) -> list[bool]:
    """Per parameter: whether the kernel can update it: on the CPU, float32 or float64, dense
    (:func:`trainlab.optim.fused.dense`: contiguous, channels_last, ...), its gradient and
    state buffers of the same strides, dtype and size, and its ``step`` (and
    the kernel's other 0-d scalars, all of one dtype) one-element float32 or float64 CPU
    tensors. (The check runs on whole lists first; per parameter only when that fails.)"""
    names, extra = buffers(kernel, form), _SCALARS.get(kernel, ())
    if _all_safe(names, extra, params, grads, states):
        return [True] * len(params)
    return [
        _all_safe(names, extra, [p], [g], [s])
        for p, g, s in zip(params, grads, states, strict=True)
    ]


def _all_safe(
    names: tuple[str, ...],
    extra: tuple[str, ...],
    params: list[Tensor],
    grads: list[Tensor],
    states: list[dict[str, Any]],
) -> bool:
    """:func:`kernel_safe` for all of ``params`` at once (one dtype among all tensors)."""
    try:
        rows = [params, grads, *([s[b] for s in states] for b in names)]
        flat = [t for row in rows for t in row]
        shapes = list(map(Tensor.size, params))
        strides = list(map(Tensor.stride, params))
        return (
            all(map(dense, params)) and all(map(_is_cpu, flat))
            and all(list(map(Tensor.stride, row)) == strides for row in rows[1:])
            and len(dtypes := set(map(_dtype, flat))) == 1 and dtypes <= _DTYPES.keys()
            and all(list(map(Tensor.size, row)) == shapes for row in rows[1:])
            and _scalars_ok([s["step"] for s in states])
            and _scalars_ok([s[c] for c in extra for s in states])
        )  # fmt: skip
    except (KeyError, TypeError, AttributeError):  # a buffer missing or not a tensor
        return False


def _scalars_ok(xs: list[Tensor]) -> bool:
    """One-element CPU tensors of one dtype, float32 or float64 (an empty list is fine)."""
    return not xs or (
        all(map(_is_cpu, xs)) and set(map(Tensor.numel, xs)) == {1}
        and len(dtypes := set(map(_dtype, xs))) == 1 and dtypes <= _DTYPES.keys()
    )  # fmt: skip


# --------------------------------------------------------------------------- running


def _ptrs(ts: list[Tensor]) -> ctypes.Array:
    return (ctypes.c_void_p * len(ts))(*map(Tensor.data_ptr, ts))


def _threads(total: int) -> int:
    return max(1, min(torch.get_num_threads(), total // GRAIN))


def run(
    kernel: str,
    form: ChainForm,
    group: dict[str, Any],
    params: list[Tensor],
    grads: list[Tensor],
    states: list[dict[str, Any]],
) -> None:
    """One step of ``kernel`` over ``params`` (all :func:`kernel_safe`, state initialised);
    the kernel also increments the ``step`` counters. One call per combination of the
    parameters' dtype and the dtypes of their 0-d scalars."""
    lib = library()
    if lib is None:
        raise RuntimeError("trainlab's CPU optimizer kernels are not available here")
    extra = _SCALARS.get(kernel, ())
    keys = ((p.dtype, s["step"].dtype, *(s[c].dtype for c in extra))
            for p, s in zip(params, states, strict=True))  # fmt: skip
    for ps, gs, ss in split_by(keys, params, grads, states).values():
        _call(lib, kernel, form, group, ps, gs, ss)


def _call(
    lib: ctypes.CDLL,
    kernel: str,
    form: ChainForm,
    group: dict[str, Any],
    params: list[Tensor],
    grads: list[Tensor],
    states: list[dict[str, Any]],
) -> None:
    keep: list[Any] = []  # what the C code points into, alive until it returns

    def arr(ts: list[Tensor]) -> int:
        keep.append(ts)
        keep.append(a := _ptrs(ts))
        return ctypes.addressof(a)

    numels = [p.numel() for p in params]
    numel = (ctypes.c_int64 * len(numels))(*numels)
    extra = [[s[c] for s in states] for c in _SCALARS.get(kernel, ())]
    s1, s2 = [arr(x) for x in extra] + [0] * (2 - len(extra))
    steps = [s["step"] for s in states]
    f64 = torch.float64
    common = _Common(arr(params), arr(grads), arr(steps), s1, s2, len(params),
                     ctypes.addressof(numel), float(value(group["lr"])), form.weight_decay,
                     int(form.maximize), int(form.decoupled), int(steps[0].dtype == f64),
                     int(bool(extra) and extra[0][0].dtype == f64), None)  # fmt: skip
    fields: dict[str, Any] = {b: arr([s[b] for s in states]) for b in buffers(kernel, form)}
    # the struct's hyperparameters by name, from the chain's transforms (ASGD's t0 from
    # average_iterates, RMSprop's momentum from trace: 0 without one)
    hp = {"momentum": 0.0, **{k: v for t in (*form.core, *form.tail) for k, v in t.hparams.items()}}
    if kernel == "rprop":
        hp["eta_minus"], hp["eta_plus"] = hp["etas"]
        hp["step_min"], hp["step_max"] = hp["step_sizes"]
    struct = _ARGS[kernel]
    fields.update({f[0]: hp[f[0]] for f in struct._fields_[1:] if f[1] is not _P})
    args = struct(common, **fields)
    fn = getattr(lib, kernel + _DTYPES[params[0].dtype])
    if fn(ctypes.byref(args), _threads(sum(numels))) != 0:
        raise MemoryError(f"{kernel} kernel: could not allocate its per-tensor coefficients")
