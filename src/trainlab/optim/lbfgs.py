"""L-BFGS (Nocedal 1980; Liu & Nocedal 1989), a drop-in for torch.optim.LBFGS.

Quasi-Newton with a limited history of curvature pairs ``s_k = x_{k+1} - x_k``,
``y_k = g_{k+1} - g_k`` (kept when ``y.s > 1e-10``). The direction ``d = -H g`` comes from
the two-loop recursion with the initial scaling ``H_0 = (y.s / y.y) I``::

    q = -g;  for i newest..oldest: a_i = rho_i s_i.q;  q -= a_i y_i
    r = H_0 q;  for i oldest..newest: b_i = rho_i y_i.r;  r += (a_i - b_i) s_i
    d = r

The first step is ``t = min(1, 1/|g|_1) * lr``, later ones ``t = lr`` (fixed step, no line
search, as torch with ``line_search_fn=None``). Notes F4:134-206 list it among torch's
optimizers. It needs a ``closure`` that re-evaluates the loss, and one param group.
State (under the first parameter, torch's names): ``func_evals``, ``n_iter``, ``d``, ``t``,
``old_dirs``, ``old_stps``, ``ro``, ``H_diag``, ``prev_flat_grad``, ``prev_loss``, ``al``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from trainlab.optim.base import check_lr, check_nonneg


class LBFGS(torch.optim.Optimizer):
    """Same arguments and defaults as torch.optim.LBFGS (``line_search_fn``: only None)."""

    def __init__(self, params: Iterable[Any], lr: float | Tensor = 1.0, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:  # fmt: skip
        check_lr(lr)
        for name, v in (("max_iter", max_iter), ("history_size", history_size)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: expected an integer >= 1, got {v!r}")
        check_nonneg("tolerance_grad", tolerance_grad)
        check_nonneg("tolerance_change", tolerance_change)
        if line_search_fn is not None:
            raise ValueError(
                f"line_search_fn: trainlab's LBFGS supports only None, got {line_search_fn!r}"
            )
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = {"lr": lr, "max_iter": max_iter, "max_eval": max_eval,
                    "tolerance_grad": tolerance_grad, "tolerance_change": tolerance_change,
                    "history_size": history_size, "line_search_fn": line_search_fn}  # fmt: skip
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("params: LBFGS supports a single parameter group")
        self._params: list[Tensor] = self.param_groups[0]["params"]

    def _flat_grad(self) -> Tensor:
        views = [
            p.new_zeros(p.numel()) if p.grad is None else p.grad.reshape(-1) for p in self._params
        ]
        return torch.cat(views, 0)

    def _add(self, t: float, d: Tensor) -> None:
        offset = 0
        for p in self._params:
            n = p.numel()
            p.add_(d[offset : offset + n].view_as(p), alpha=t)
            offset += n

    @torch.no_grad()
    def step(self, closure: Callable[[], Any]) -> Any:  # type: ignore[override]
        """Up to ``max_iter`` L-BFGS iterations; returns the loss of the first evaluation."""
        if closure is None:
            raise ValueError("closure: LBFGS needs a closure that returns the loss")
        closure = torch.enable_grad()(closure)
        group = self.param_groups[0]
        lr = float(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        history = group["history_size"]

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        orig_loss = closure()
        loss = float(orig_loss)
        evals = 1
        state["func_evals"] += 1
        g = self._flat_grad()
        if g.abs().max() <= tol_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        dirs, stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag, prev_g = state.get("H_diag"), state.get("prev_flat_grad")
        prev_loss = state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d, dirs, stps, ro, h_diag = g.neg(), [], [], [], 1
            else:
                y = g.sub(prev_g)
                s = d.mul(t)
                ys = y.dot(s)
                if ys > 1e-10:  # keep only pairs with positive curvature
                    if len(dirs) == history:
                        dirs.pop(0), stps.pop(0), ro.pop(0)
                    dirs.append(y), stps.append(s), ro.append(1.0 / ys)
                    h_diag = ys / y.dot(y)
                al = state.setdefault("al", [None] * history)
                q = g.neg()
                for i in range(len(dirs) - 1, -1, -1):
                    al[i] = stps[i].dot(q) * ro[i]
                    q.add_(dirs[i], alpha=-al[i])
                d = r = torch.mul(q, h_diag)
                for i in range(len(dirs)):
                    be_i = dirs[i].dot(r) * ro[i]
                    r.add_(stps[i], alpha=al[i] - be_i)
            if prev_g is None:
                prev_g = g.clone(memory_format=torch.contiguous_format)
            else:
                prev_g.copy_(g)
            prev_loss = loss
            t = min(1.0, 1.0 / g.abs().sum()) * lr if state["n_iter"] == 1 else lr
            if g.dot(d) > -tol_change:  # not a descent direction
                break
            self._add(t, d)
            ls_evals = 0
            if n_iter != max_iter:
                loss = float(closure())
                g = self._flat_grad()
                ls_evals = 1
            evals += ls_evals
            state["func_evals"] += ls_evals
            if n_iter == max_iter or evals >= max_eval or g.abs().max() <= tol_grad:
                break
            if d.mul(t).abs().max() <= tol_change or abs(loss - prev_loss) < tol_change:
                break

        state.update(d=d, t=t, old_dirs=dirs, old_stps=stps, ro=ro, H_diag=h_diag,
                     prev_flat_grad=prev_g, prev_loss=prev_loss)  # fmt: skip
        return orig_loss
