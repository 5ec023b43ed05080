"""Gradient episodic memory (Lopez-Paz & Ranzato 2017; notes F3:4702-4728) and A-GEM
(Chaudhry et al. 2019).

GEM keeps `memory_size` training samples of every finished task. At each step of task k,
with g the current gradient and g_i the gradient of the loss on task i's memory (i < k):

    minimize_{g'} 1/2 ||g - g'||^2   subject to   <g', g_i> >= 0  for all i < k

g' = g when g already satisfies every constraint. Else, with G the (k, p) matrix of the g_i,
the dual is the small QP over v (k,) (Lagrange multipliers; the paper's eq. 11-12):

    minimize_{v >= 0} 1/2 v^T (G G^T) v + (G g - margin)^T v,     g' = g + G^T v

solved here exactly by an active-set method (Lawson & Hanson's NNLS algorithm applied to
the QP: the KKT conditions v >= 0, G g' >= margin, v_i (G g' - margin)_i = 0 hold to
rounding). `margin` >= 0 is the paper's gamma (> 0 asks for a strict decrease).

A-GEM replaces the k constraints by one, on the gradient g_ref of a random batch drawn from
the memories of all earlier tasks; its projection is closed-form:

    g' = g - (<g, g_ref> / <g_ref, g_ref>) g_ref   if <g, g_ref> < 0, else g
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from trainlab._validate import check_positive_int
from trainlab.continual.method import (
    LossOf,
    Method,
    check_nonnegative,
    flat_grad,
    new_generator,
    set_flat_grad,
)
from trainlab.data import Split


def solve_dual(p: Tensor, q: Tensor, *, tol: float = 1e-12, max_iter: int = 500) -> Tensor:
    """argmin_{v >= 0} 1/2 v^T P v + q^T v for a symmetric PSD `p` (k, k), `q` (k,), in
    float64 (Lawson-Hanson active set: v grows one constraint at a time and every inner
    solve is an exact least-squares solve on the active set)."""
    p, q = p.double(), q.double()
    k = len(q)
    scale = float(p.diagonal().abs().max()) if k else 1.0
    eps = tol * max(scale, 1.0)
    v = torch.zeros(k, dtype=torch.float64, device=p.device)
    active = torch.zeros(k, dtype=torch.bool, device=p.device)
    for _ in range(max_iter):
        w = -(p @ v + q)  # the negative gradient; KKT: w <= 0 off the active set
        w_free = torch.where(active, torch.full_like(w, -torch.inf), w)
        j = int(torch.argmax(w_free))
        if not bool(w_free[j] > eps):
            break
        active[j] = True
        while True:
            idx = active.nonzero().squeeze(1)
            s = torch.zeros_like(v)
            sol = torch.linalg.lstsq(p[idx][:, idx], -q[idx].unsqueeze(1)).solution.squeeze(1)
            s[idx] = sol
            if bool((sol > 0).all()):
                v = s
                break
            # step from v towards s until the first active coordinate reaches 0
            bad = idx[sol <= 0]
            alpha = torch.min(v[bad] / (v[bad] - s[bad]).clamp_min(1e-300))
            v = v + alpha * (s - v)
            active &= v > eps
            v = torch.where(active, v, torch.zeros_like(v))
            if not bool(active.any()):
                break
    return v


def project_gem(g: Tensor, memory_grads: Tensor, *, margin: float = 0.0) -> Tensor:
    """The GEM projection of `g` (p,) against the rows g_i of `memory_grads` (k, p): the
    closest g' to g with <g', g_i> >= margin for every i (g itself when it satisfies them)."""
    if memory_grads.ndim != 2 or memory_grads.shape[1] != g.numel():
        raise ValueError(
            f"memory_grads: expected (k, {g.numel()}), got {tuple(memory_grads.shape)}"
        )
    gm = memory_grads.double()
    g64 = g.reshape(-1).double()
    dots = gm @ g64  # (k,)
    if len(dots) == 0 or bool((dots >= margin).all()):
        return g
    v = solve_dual(gm @ gm.T, dots - margin)
    return (g64 + gm.T @ v).to(g.dtype).reshape(g.shape)


def project_agem(g: Tensor, g_ref: Tensor) -> Tensor:
    """A-GEM: `g` minus its component along `g_ref` when <g, g_ref> < 0, else `g`."""
    dot = torch.dot(g.reshape(-1), g_ref.reshape(-1))
    if not bool(dot < 0):
        return g
    return g - (dot / torch.dot(g_ref.reshape(-1), g_ref.reshape(-1))) * g_ref


class EpisodicMemory:
    """`size` training samples of each finished task (a seeded draw from its split)."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = check_positive_int("memory_size", size)
        self.seed = seed
        self.x: list[Tensor] = []
        self.y: list[Tensor] = []

    def add(self, train: Split, task: int) -> None:
        n = min(self.size, len(train))
        idx = torch.randperm(len(train), generator=new_generator(self.seed + task))[:n]
        idx = idx.to(train.x.device)
        self.x.append(train.x[idx].clone())
        self.y.append(train.y[idx].clone())

    def __len__(self) -> int:
        return len(self.x)

    def task_ids(self, i: int) -> Tensor:
        return torch.full((len(self.y[i]),), i, dtype=torch.int64, device=self.y[i].device)

    def state_dict(self) -> dict[str, Any]:
        return {"x": list(self.x), "y": list(self.y)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.x, self.y = list(state["x"]), list(state["y"])


def _memory_grad(params: list[Tensor], loss: Tensor) -> Tensor:
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return torch.cat(
        [
            (g if g is not None else torch.zeros_like(p)).reshape(-1)
            for g, p in zip(grads, params, strict=True)
        ]
    )


class GEM(Method):
    """GEM with `memory_size` samples per task and the exact dual QP (module docstring)."""

    name = "gem"

    def __init__(self, memory_size: int, *, margin: float = 0.0, seed: int = 0) -> None:
        self.memory = EpisodicMemory(memory_size, seed)
        self.margin = check_nonnegative("gem_margin", margin)

    def project(self, params: list[Tensor], loss_of: LossOf) -> None:
        if not len(self.memory):
            return
        g = flat_grad(params)
        mem = self.memory
        rows = [
            _memory_grad(params, loss_of(mem.x[i], mem.y[i], mem.task_ids(i)))
            for i in range(len(mem))
        ]
        out = project_gem(g, torch.stack(rows), margin=self.margin)
        if out is not g:  # a constraint was violated: the projected gradient replaces g
            set_flat_grad(params, out)

    def end_task(
        self, model: nn.Module, train: Split, task: int, loss_of: LossOf, mask: Tensor | None
    ) -> None:
        self.memory.add(train, task)

    def state_dict(self) -> dict[str, Any]:
        return {"memory": self.memory.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.memory.load_state_dict(state["memory"])


class AGEM(GEM):
    """A-GEM: one constraint, on a batch of `batch_size` samples drawn (with a generator
    seeded by `seed`, checkpointed) from the memories of every earlier task."""

    name = "agem"

    def __init__(self, memory_size: int, *, batch_size: int = 64, seed: int = 0) -> None:
        super().__init__(memory_size, seed=seed)
        self.batch_size = check_positive_int("agem_batch", batch_size)
        self.generator = new_generator(seed)

    def project(self, params: list[Tensor], loss_of: LossOf) -> None:
        mem = self.memory
        if not len(mem):
            return
        x, y = torch.cat(mem.x), torch.cat(mem.y)
        t = torch.cat([mem.task_ids(i) for i in range(len(mem))])
        n = min(self.batch_size, len(x))
        idx = torch.randperm(len(x), generator=self.generator)[:n].to(x.device)
        g_ref = _memory_grad(params, loss_of(x[idx], y[idx], t[idx]))
        g = flat_grad(params)
        out = project_agem(g, g_ref)
        if out is not g:
            set_flat_grad(params, out)

    def state_dict(self) -> dict[str, Any]:
        return super().state_dict() | {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.generator.set_state(state["generator"])
