"""The compiled path: a transform chain compiled by ``torch.compile`` into one graph.

For chains without a torch or trainlab kernel (the notes' variants, and every chain off the
CPU without a torch kernel) the same transform code is traced with every hyperparameter
that can change between steps as a tensor input: the step counts, ``lr``, and each non-zero
number of the param group (``momentum``, ``betas``, ``eps``, ``weight_decay``, ...) as a 0-d
float64 tensor (:func:`hyper`). So a schedule changing any of them does not recompile. A
hyperparameter that is 0 stays a Python number in the compile key, because it changes the
chain's structure (no decay, no momentum); so do booleans and strings.

- One compiled function per (optimizer, static group values), at most :data:`CACHE_SIZE`
  (least recently used evicted), with dynamo's recompile limits set to
  :data:`RECOMPILE_LIMIT` per call (``torch._dynamo.config.recompile_limit`` since torch 2.7,
  ``cache_size_limit`` before; both are detected, so ``torch>=2.4`` stands). Run with torch
  2.14.1 (where this was written); CI installs 2.13.0. Older versions are not tested.
- ``fullgraph=True``: the whole step is one graph, compiled before any tensor is changed,
  so a compile failure (:class:`CannotCompile`) can be answered by running the step
  eagerly; a failure while the compiled step runs is raised as it is.
- Inductor's cache is inductor's default (or ``$TORCHINDUCTOR_CACHE_DIR`` if the user sets
  it); trainlab sets no environment variable.
"""

from __future__ import annotations

import collections
import functools
import logging
import shutil
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from trainlab.optim.transforms import Transform

log = logging.getLogger("trainlab.optim")

#: compiled step functions kept (one per optimizer and static hyperparameters)
CACHE_SIZE = 32
#: dynamo's per-function recompile limit while a step runs (new parameter shapes, a
#: hyperparameter that becomes 0, ...): beyond it the step fails to compile and runs eagerly
RECOMPILE_LIMIT = 64
_SKIP = ("params", "lr", "param_names", "initial_lr")


class CannotCompile(RuntimeError):
    """torch.compile could not compile the step (raised before any tensor was changed)."""


def hyper(v: Any) -> Any:
    """A group value as the compiled step sees it: a non-zero number (or 1-element tensor)
    as a 0-d float64 tensor, a tuple/list elementwise, anything else (bools, strings, None,
    zeros) unchanged."""
    if isinstance(v, (list, tuple)):
        return tuple(hyper(x) for x in v)
    if isinstance(v, Tensor) and v.numel() == 1 and v.is_floating_point():
        v = float(v.item())
    if isinstance(v, (int, float)) and not isinstance(v, bool) and v != 0:
        return torch.tensor(float(v), dtype=torch.float64)
    return v


def _static(v: Any) -> Any:
    """What the compile key keeps of a group value: the value where :func:`hyper` keeps it,
    else a marker (the tensor's value is an input, not part of the key)."""
    if isinstance(v, (list, tuple)):
        return tuple(_static(x) for x in v)
    return "<tensor>" if isinstance(v, Tensor) else v


def _has_tensor(v: Any) -> bool:
    return isinstance(v, Tensor) or (isinstance(v, tuple) and any(map(_has_tensor, v)))


@functools.lru_cache(maxsize=CACHE_SIZE)
def _compiled(make_chain: Callable[[dict[str, Any]], Transform], static: tuple) -> Callable:
    from trainlab.optim.base import apply_chain

    group = dict(static)  # the "<tensor>" markers are replaced by the inputs in hps

    def run(params, grads, states, steps, lr, hps):
        chain = make_chain({**group, **hps, "lr": lr})
        apply_chain(chain, params, grads, states, steps, lr, defer_lr=False)

    return torch.compile(run, dynamic=False, fullgraph=True)


def dynamo_limits(config: Any = None) -> dict[str, Any]:
    """The recompile-limit settings this torch has (renamed in torch 2.7), at our bound."""
    config = torch._dynamo.config if config is None else config
    out: dict[str, Any] = {}
    for names in (("recompile_limit", "cache_size_limit"),
                  ("accumulated_recompile_limit", "accumulated_cache_size_limit")):  # fmt: skip
        name = next((n for n in names if hasattr(config, n)), None)
        if name is not None:
            out[name] = RECOMPILE_LIMIT * (1 if name.startswith(("recompile", "cache")) else 8)
    return out


def _compile_errors() -> tuple[type[BaseException], ...]:
    """The exceptions torch.compile raises while tracing or compiling (not while running)."""
    import torch._dynamo.exc as dexc

    # FailOnRecompileLimitHit (fullgraph=True beyond RECOMPILE_LIMIT) is a plain Exception
    names = ("TorchDynamoException", "FailOnRecompileLimitHit")
    return tuple(getattr(dexc, n) for n in names if hasattr(dexc, n))


_SEEN: collections.OrderedDict[Any, None] = collections.OrderedDict()
_BROKEN: list[str] = []


@functools.cache
def _has_compiler() -> bool:
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
    """One step of the chain compiled; returns the seconds spent compiling (0 if cached).
    Raises :class:`CannotCompile` when torch.compile fails (no tensor changed yet)."""
    hps = {k: hyper(v) for k, v in group.items() if k not in _SKIP}
    static = tuple(sorted((k, _static(v)) for k, v in hps.items()))
    hps = {k: v for k, v in hps.items() if _has_tensor(v)}
    lr = group["lr"]
    lr_t = lr if isinstance(lr, Tensor) else torch.tensor(float(lr), dtype=torch.float64)
    fn = _compiled(make_chain, static)
    sig = (make_chain, static, tuple(sorted(states[0])), len(params),
           tuple((tuple(p.shape), tuple(p.stride()), p.dtype, p.device) for p in params))  # fmt: skip
    first = sig not in _SEEN
    t0 = time.perf_counter()
    try:
        with torch._dynamo.config.patch(**dynamo_limits()):
            fn(params, grads, states, steps, lr_t, hps)
    except _compile_errors() as err:
        raise CannotCompile(f"torch.compile of the {make_chain.__qualname__} step: {err}") from err
    if not first:
        return 0.0
    _SEEN[sig] = None
    while len(_SEEN) > 8 * CACHE_SIZE:
        _SEEN.popitem(last=False)
    seconds = time.perf_counter() - t0
    log.info("compiled the %s step for %d tensors in %.1f s", make_chain.__qualname__,
             len(params), seconds)  # fmt: skip
    return seconds
