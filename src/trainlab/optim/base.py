"""`ChainOptimizer`: a `torch.optim.Optimizer` whose update is a chain of transforms.

Subclasses only say which chain a param group means (:meth:`ChainOptimizer.make_chain`);
this class owns what torch.optim's optimizers share: param groups, lazy state with
torch.optim's buffer names (so ``state_dict()`` moves both ways between a trainlab
optimizer and its torch twin), ``lr`` read from the group at every step, ``closure``, and the
choice of execution path:

- ``"single"`` (``foreach=False``): the chain runs on one parameter at a time (the reference);
- ``"chunked"``: the chain runs on runs of parameters of about ``CHUNK_BYTES`` (one large
  tensor, or several small ones), so data stays in cache between the ops while small
  tensors share the Python overhead: the fastest eager path on CPU;
- ``"foreach"`` (``foreach=True``): the chain runs once over all parameters of a group;
- ``"fused"`` (``fused=True``): one pass over memory per step. ``"torch_fused"``: torch's
  fused kernel when the chain is one torch has (Adam, AdamW, SGD, Adagrad); on CPU
  ``"cpu_kernel"``: trainlab's hand-written multi-tensor kernel when the chain is RMSprop,
  Adadelta, Adamax, NAdam, ASGD or Rprop (see :mod:`trainlab.optim.cpu_kernels`); otherwise
  ``"compiled"``: the chain compiled by ``torch.compile`` (see :mod:`trainlab.optim.compiled`).

Default (``foreach=None, fused=None``): torch's fused kernel when the chain has one; else, on
CPU, trainlab's CPU kernel when the chain has one (and a C compiler built it), the compiled
chain for other groups of at least ``AUTO_COMPILE_NUMEL`` elements (when a compiler works)
and ``"chunked"`` below that; ``"foreach"`` on other devices. ``fused=False`` keeps a group
eager. The kernels take any dense layout (contiguous, channels_last, ...) that the gradient
and state share with the parameter; a parameter a kernel cannot take (a gapped view, a
gradient or state of another layout or dtype) is updated by the foreach path in the same step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from trainlab._validate import check_positive as check_positive  # re-export: optimizers.py
from trainlab.optim import compiled as _compiled
from trainlab.optim import cpu_kernels as _cpu
from trainlab.optim import fused as _fused
from trainlab.optim.transforms import Context, Transform

#: the execution paths `ChainOptimizer.path` may return
PATHS = ("torch_fused", "cpu_kernel", "compiled", "chunked", "foreach", "single")


def check_lr(lr: Any) -> None:
    if isinstance(lr, Tensor):
        if lr.numel() != 1:
            raise ValueError(f"lr: expected a 1-element tensor, got shape {tuple(lr.shape)}")
        lr = lr.item()
    if not isinstance(lr, (int, float)) or isinstance(lr, bool):
        raise TypeError(f"lr: expected a float or a tensor, got {type(lr).__name__}")
    if not lr >= 0.0:
        raise ValueError(f"lr: expected >= 0, got {lr}")


def check_nonneg(name: str, v: Any) -> None:
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not v >= 0.0:
        raise ValueError(f"{name}: expected a number >= 0, got {v!r}")


def check_unit(name: str, v: Any) -> None:
    """A coefficient in [0, 1)."""
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0.0 <= v < 1.0:
        raise ValueError(f"{name}: expected a number in [0, 1), got {v!r}")


def check_betas(betas: Any) -> None:
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"betas: expected a pair (beta1, beta2), got {betas!r}")
    for i, b in enumerate(betas):
        check_unit(f"betas[{i}]", float(b) if isinstance(b, Tensor) else b)


class ChainOptimizer(torch.optim.Optimizer):
    """Base class; subclasses define ``make_chain(group)`` and pass their defaults."""

    #: whether the state holds torch.optim's per-parameter ``step`` counter
    has_step: bool = True

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        check_lr(defaults["lr"])
        if defaults.get("differentiable"):
            raise ValueError("differentiable: True is not supported by trainlab optimizers")
        if defaults.get("fused") and defaults.get("foreach"):
            raise ValueError("fused and foreach: expected at most one of them to be True")
        defaults.setdefault("foreach", None)
        defaults.setdefault("fused", None)
        defaults.setdefault("maximize", False)
        defaults.setdefault("differentiable", False)
        defaults.setdefault("capturable", False)
        super().__init__(params, defaults)
        #: seconds spent compiling chains (path "fused" without a torch kernel)
        self.compile_time_s = 0.0

    #: what a subclass provides: the transform chain a param group stands for, with the
    #: hyperparameters read from the group (called at every step)
    #: (a staticmethod, so a compiled step can call it without the optimizer object)
    make_chain: Callable[[dict[str, Any]], Transform]

    def __setstate__(self, state: dict[str, Any]) -> None:
        # groups saved by a torch.optim twin lack trainlab-only keys: fill in the defaults
        super().__setstate__(state)
        for group in self.param_groups:
            for key, val in self.defaults.items():
                group.setdefault(key, val)

    # -- execution ------------------------------------------------------------------------
    def path(self, group: dict[str, Any], chain: Transform | None = None) -> str:
        """The execution path a group resolves to: ``torch_fused``, ``cpu_kernel``,
        ``compiled``, ``chunked``, ``foreach`` or ``single``."""
        return self._resolve(group, self.make_chain(group) if chain is None else chain)[0]

    def _resolve(self, group: dict[str, Any], chain: Transform) -> tuple[str, Any]:
        """``(path, kernel)``: ``kernel`` is what :func:`fused.torch_kernel` or
        :func:`cpu_kernels.match` found for the kernel paths, else None."""
        params = group["params"]
        on_cpu = all(p.is_cpu for p in params)
        default = group["foreach"] is None and group["fused"] is None
        if params and (group["fused"] or default):
            torch_found = _fused.torch_kernel(chain, params)
            if torch_found is not None:
                return "torch_fused", torch_found
            cpu_found = _cpu.match(chain) if on_cpu else None
            if cpu_found is not None and _cpu.available():
                return "cpu_kernel", cpu_found
        if group["fused"]:
            return "compiled", None
        if default:
            numel = sum(p.numel() for p in params)
            if on_cpu and numel >= AUTO_COMPILE_NUMEL and _compiled.compile_available():
                return "compiled", None
        if group["foreach"] is None:
            return ("chunked" if on_cpu else "foreach"), None
        return ("foreach" if group["foreach"] else "single"), None

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = []
            for p in params:
                if p.grad.is_sparse:
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
                if torch.is_complex(p):
                    raise TypeError(f"{type(self).__name__}: complex parameters not supported")
                grads.append(p.grad)
            self._step_group(group, params, grads)
        return loss

    def _step_group(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor]) -> None:
        chain = self.make_chain(group)
        path, kernel = self._resolve(group, chain)
        on_device = path in ("torch_fused", "compiled")
        states = [self.state[p] for p in params]
        for p, st in zip(params, states, strict=True):
            if not st:
                if self.has_step:
                    st["step"] = _step_tensor(p, on_device)
                chain.init(p, st)
        if kernel is not None:
            # the kernels walk a parameter, its grad and its state as flat arrays, so they need
            # one dense layout (contiguous, channels_last, ...; a transposed parameter with a
            # contiguous grad is updated wrongly by torch 2.13's fused SGD): other tensors take
            # the foreach path (one pass of multi-tensor ops over all of them) instead
            if path == "torch_fused":
                ok = [_fused.kernel_safe(*x) for x in zip(params, grads, states, strict=True)]
            else:
                ok = _cpu.kernel_safe(kernel[0], kernel[1], params, grads, states)
            parts = _fused.split_by(ok, params, grads, states)
            if True in parts:
                self._run_kernel(path, kernel, group, *parts[True])
            if False not in parts:
                return
            params, grads, states = parts[False]
            path = "foreach"
        steps = [st["step"] for st in states] if self.has_step else []
        if steps:
            torch._foreach_add_(steps, 1)
        if path == "compiled":
            try:
                self.compile_time_s += _compiled.run_compiled(
                    self.make_chain, group, params, grads, states, steps
                )
                return
            except _compiled.CannotCompile as err:  # raised before any tensor changed
                if group["fused"]:
                    raise
                _compiled.compile_failed(err)
                path = "chunked"
        if path == "foreach":
            apply_chain(chain, params, grads, states, steps, group["lr"])
        else:
            for i, j in _chunks(params, CHUNK_BYTES if path == "chunked" else 0):
                apply_chain(chain, params[i:j], grads[i:j], states[i:j], steps[i:j], group["lr"])

    def _run_kernel(
        self,
        path: str,
        kernel: Any,
        group: dict[str, Any],
        params: list[Tensor],
        grads: list[Tensor],
        states: list[dict[str, Any]],
    ) -> None:
        """One step through torch's fused kernel or one of trainlab's CPU kernels."""
        name, info = kernel
        if path == "torch_fused":
            _fused.run_torch_kernel(name, info, group, params, grads, states)
            return
        _cpu.run(name, info, group, params, grads, states)  # increments the steps itself


#: a default (``fused=None``) CPU group without a torch or trainlab kernel is compiled from this many
#: elements on: there the compiled step was 1.5-3x faster than torch's for-loop (see
#: benchmarks/optim_step.py), which repays a cold compile (20-50 s, a few s from the cache)
#: within a few thousand steps; smaller groups use the eager "chunked" path
AUTO_COMPILE_NUMEL = 4 * 1024 * 1024

#: the "chunked" path runs the chain over runs of parameters of about this many bytes, so a
#: chunk's parameter, gradient and state stay in the core's L2 cache between the ops
CHUNK_BYTES = 256 * 1024


def _chunks(params: list[Tensor], max_bytes: int) -> list[tuple[int, int]]:
    """``[(start, stop)]`` covering ``params``: one tensor each, or runs of up to
    ``max_bytes`` (a tensor larger than that is a run of its own)."""
    out, start, size = [], 0, 0
    for i, p in enumerate(params):
        nbytes = p.numel() * p.element_size()
        if i > start and size + nbytes > max_bytes:
            out.append((start, i))
            start, size = i, 0
        size += nbytes
    out.append((start, len(params)))
    return out


def _step_tensor(p: Tensor, on_device: bool) -> Tensor:
    dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
    if on_device:
        return torch.zeros((), dtype=torch.float32, device=p.device)
    return torch.tensor(0.0, dtype=dtype)


def apply_chain(
    chain: Transform,
    params: list[Tensor],
    grads: list[Tensor],
    states: list[dict[str, Any]],
    steps: list[Tensor],
    lr: float | Tensor,
    *,
    defer_lr: bool = True,
) -> None:
    """Run ``chain`` on ``grads`` and apply the result: ``param += update``."""
    leaves = chain.flat()
    ctx = Context(params, states, steps, lr)
    ctx.defer_lr = defer_lr and leaves[-1].name == "scale_by_lr"
    if ctx.defer_lr and len(leaves) > 1:
        ctx.defer_div = leaves[-2].update
        if leaves[-2].name == "add_decayed_weights" and len(leaves) > 2:
            # decoupled decay just before the lr scales the weights itself (w *= 1 - lr wd,
            # as torch's AdamW), so the transform before it may still leave a quotient
            ctx.decay_in_place, ctx.defer_div = leaves[-2].update, leaves[-3].update
    if defer_lr:  # eager: the last transform that changes the updates may write the params
        last = [t for t in leaves if t.name != "average_iterates"]
        ctx.final = last[-1].update if last and last[-1].name != "scale_by_lr" else None
    updates = chain.update(list(grads), ctx)
    if ctx.applied:
        pass
    elif ctx.quotient is not None:  # param += alpha * factor * u / den, in one pass
        den, factors = ctx.quotient
        if factors is None:
            torch._foreach_addcdiv_(params, updates, den, value=ctx.alpha)
        else:
            torch._foreach_addcdiv_(params, updates, den, [ctx.alpha * f for f in factors])
    elif ctx.alpha is not None:
        torch._foreach_add_(params, updates, alpha=ctx.alpha)
    else:
        torch._foreach_add_(params, updates)
    if chain.after is not None:
        chain.after(ctx)
