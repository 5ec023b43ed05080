"""L-BFGS (Nocedal 1980; Liu & Nocedal 1989), a drop-in for torch.optim.LBFGS.

Quasi-Newton with a limited history of curvature pairs ``s_k = x_{k+1} - x_k``,
``y_k = g_{k+1} - g_k`` (kept when ``y.s > 1e-10``). The direction ``d = -H g`` comes from
the two-loop recursion with the initial scaling ``H_0 = (y.s / y.y) I``::

    q = -g;  for i newest..oldest: a_i = rho_i s_i.q;  q -= a_i y_i
    r = H_0 q;  for i oldest..newest: b_i = rho_i y_i.r;  r += (a_i - b_i) s_i
    d = r

The first step is ``t = min(1, 1/|g|_1) * lr``, later ones ``t = lr``; with
``line_search_fn="strong_wolfe"`` that is the first trial of a line search for a step
meeting the strong Wolfe conditions ``f(x + t d) <= f(x) + c1 t g.d`` and
``|g(x + t d).d| <= c2 |g.d|`` (Nocedal & Wright, Algorithms 3.5-3.6: bracketing, then
zoom with safeguarded cubic interpolation; c1 = 1e-4, c2 = 0.9, at most 25 evaluations). Notes F4:134-206 list it among torch's
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
    """Same arguments and defaults as torch.optim.LBFGS."""

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
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(
                f"line_search_fn: expected None or 'strong_wolfe', got {line_search_fn!r}"
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
            t = min(1.0, 1.0 / g.abs().sum()) * lr if state["n_iter"] == 1 else lr  # type: ignore[operator]
            if g.dot(d) > -tol_change:  # not a descent direction
                break
            gtd = g.dot(d)
            ls_evals = 0
            if group["line_search_fn"] == "strong_wolfe":
                x0 = [p.clone(memory_format=torch.contiguous_format) for p in self._params]

                def evaluate(
                    t: float, x0: list[Tensor] = x0, d: Tensor = d
                ) -> tuple[float, Tensor]:
                    self._add(t, d)
                    f = float(closure())
                    grad = self._flat_grad()
                    for p, x in zip(self._params, x0, strict=True):
                        p.copy_(x)
                    return f, grad

                loss, g, t, ls_evals = strong_wolfe(evaluate, t, d, loss, g, gtd)
                self._add(t, d)
            else:
                self._add(t, d)
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


def _cubic_min(x1: Any, f1: Any, g1: Any, x2: Any, f2: Any, g2: Any,
               bounds: tuple[Any, Any] | None = None) -> Any:  # fmt: skip
    """Minimiser of the cubic through (x1, f1, g1), (x2, f2, g2), clipped to ``bounds``
    (Nocedal & Wright eq. 3.59); the midpoint when the cubic has no minimum."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_sq = d1**2 - g1 * g2
    if d2_sq >= 0:
        d2 = d2_sq.sqrt()
        if x1 <= x2:
            pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(pos, lo), hi)
    return (lo + hi) / 2.0


def strong_wolfe(
    evaluate: Callable[[Any], tuple[float, Tensor]], t: Any, d: Tensor, f: float, g: Tensor,
    gtd: Tensor, c1: float = 1e-4, c2: float = 0.9, tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> tuple[float, Tensor, Any, int]:  # fmt: skip
    """Line search along ``d`` for a step meeting the strong Wolfe conditions.

    ``evaluate(t)`` returns ``(f(x + t d), grad(x + t d))``. Returns ``(f, g, t, evals)``.
    """
    d_norm = d.abs().max()
    g = g.clone(memory_format=torch.contiguous_format)
    f_new, g_new = evaluate(t)
    evals, ls_iter = 1, 0
    gtd_new = g_new.dot(d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    # bracketing: grow the step until an interval must contain a Wolfe point
    while ls_iter < max_ls:
        armijo_fails = f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev)
        if not armijo_fails and abs(gtd_new) <= -c2 * gtd:
            br, br_f, br_g, br_gtd, done = [t], [f_new], [g_new], [gtd_new], True
            break
        if armijo_fails or gtd_new >= 0:
            br, br_f, br_g, br_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new.clone()], [gtd_prev, gtd_new]  # fmt: skip
            break
        lo, hi = t + 0.01 * (t - t_prev), t * 10
        t_prev, t = t, _cubic_min(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(lo, hi))
        f_prev, g_prev, gtd_prev = f_new, g_new.clone(), gtd_new
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
    if ls_iter == max_ls:
        br, br_f, br_g, br_gtd = [0, t], [f, f_new], [g, g_new], [gtd, gtd_new]
    # zoom: shrink the bracket [low, high] by safeguarded cubic interpolation
    insuf_progress = False
    low, high = (0, 1) if br_f[0] <= br_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(br[1] - br[0]) * d_norm < tolerance_change:
            break
        t = _cubic_min(br[0], br_f[0], br_gtd[0], br[1], br_f[1], br_gtd[1])
        eps = 0.1 * (max(br) - min(br))
        if min(max(br) - t, t - min(br)) < eps:  # too close to an end: move inside
            if insuf_progress or t >= max(br) or t <= min(br):
                t = max(br) - eps if abs(t - max(br)) < abs(t - min(br)) else min(br) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= br_f[low]:
            br[high], br_f[high], br_g[high], br_gtd[high] = t, f_new, g_new.clone(), gtd_new
            low, high = (0, 1) if br_f[0] <= br_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (br[high] - br[low]) >= 0:
                br[high], br_f[high], br_g[high], br_gtd[high] = br[low], br_f[low], br_g[low], br_gtd[low]  # fmt: skip
            br[low], br_f[low], br_g[low], br_gtd[low] = t, f_new, g_new.clone(), gtd_new
    return br_f[low], br_g[low], br[low], evals
