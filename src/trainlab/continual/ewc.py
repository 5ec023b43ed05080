"""Elastic weight consolidation (Kirkpatrick et al. 2017; notes F3:4676-4700) and online EWC
(Schwarz et al. 2018, "Progress & Compress").

After task A the loss of a later task B gains a quadratic penalty

    L(theta) = L_B(theta) + lambda/2 * sum_j F_j (theta_j - theta*_A,j)^2

with F the diagonal of the Fisher information of task A at its solution theta*_A:

    F_j = E_x E_{y ~ p(y|x)} [ (d log p(y|x) / d theta_j)^2 ]     ("true" Fisher)

whose "empirical" variant uses the dataset's labels instead of the model's predictions
(y = y_i). Here the true Fisher is the exact expectation over the classes (sum_k p_k g_k^2,
no sampling). Both are computed from per-sample gradients (torch.func.vmap) with the model
in eval mode, so dropout is off and BatchNorm's running statistics are neither used from the
batch nor updated.

`EWC(mode="separate")` keeps one (F, theta*) per finished task and sums their penalties
(as one merged quadratic: `merge_penalties`);
`EWC(mode="online")` keeps one running Fisher F <- gamma * F + F_t, anchored at the latest
solution (gamma = 1: the Fisher of every task counts fully).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap
from torch.nn import functional as F

from trainlab._validate import check_positive_int
from trainlab.continual.method import (
    LossOf,
    Method,
    check_nonnegative,
    new_generator,
)
from trainlab.data import Split

FISHER_KINDS = ("empirical", "true")


def fisher_diagonal(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    kind: str = "empirical",
    mask: Tensor | None = None,
    batch_size: int = 128,
) -> dict[str, Tensor]:
    """The diagonal Fisher of `model`'s classifier p(y|x) = softmax(model(x)), averaged over
    the samples `x` (N, ...) with labels `y` (N,): one tensor per trainable parameter.

    `kind`: "empirical" (the labels' log-likelihood) or "true" (the expectation under the
    model's own predictive distribution). `mask` (K,) bool: only these outputs are the
    classifier (a task's head in task-incremental streams). Eval mode throughout; the
    model's mode is restored.
    """
    if kind not in FISHER_KINDS:
        raise ValueError(f"kind = {kind!r}: expected one of {', '.join(FISHER_KINDS)}")
    check_positive_int("batch_size", batch_size)
    if len(x) == 0 or len(x) != len(y):
        raise ValueError(
            f"x, y: expected the same non-zero number of samples, got {len(x)}, {len(y)}"
        )
    named = {n: p for n, p in model.named_parameters() if p.requires_grad}
    params = {n: p.detach() for n, p in named.items()}
    buffers = {n: b.detach() for n, b in model.named_buffers()}

    def log_probs(p: dict[str, Tensor], xi: Tensor) -> Tensor:  # (...) -> (K,)
        out = functional_call(model, (p, buffers), (xi.unsqueeze(0),)).squeeze(0)
        if out.dtype in (torch.float16, torch.bfloat16):
            out = out.float()
        if mask is not None:
            out = out.masked_fill(~mask.to(out.device), float("-inf"))
        return F.log_softmax(out, dim=-1)

    def score(p: dict[str, Tensor], xi: Tensor, k: Tensor) -> Tensor:
        return log_probs(p, xi).gather(0, k.reshape(1)).squeeze(0)  # log p(k | x)

    per_sample = vmap(grad(score), in_dims=(None, 0, 0))  # {name: (B, *shape)}
    total = {n: torch.zeros_like(p) for n, p in params.items()}  # in the params' dtype
    was = model.training
    model.eval()
    try:
        for start in range(0, len(x), batch_size):
            xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            if kind == "empirical":
                g = per_sample(params, xb, yb)
                for n in total:
                    total[n] += g[n].pow(2).sum(0)
                continue
            with torch.no_grad():
                probs = vmap(log_probs, in_dims=(None, 0))(params, xb).exp()  # (B, K)
            for k in range(probs.shape[1]):
                pk = probs[:, k]
                if not bool((pk > 0).any()):
                    continue  # a masked output: probability 0 for every sample
                g = per_sample(params, xb, torch.full_like(yb, k))
                for n in total:
                    w = pk.reshape(-1, *([1] * (g[n].ndim - 1)))
                    total[n] += (w * g[n].pow(2)).sum(0)
    finally:
        model.train(was)
    return {n: t / len(x) for n, t in total.items()}


def ewc_penalty(model: nn.Module, fisher: dict[str, Tensor], anchor: dict[str, Tensor]) -> Tensor:
    """sum_j F_j (theta_j - theta*_j)^2 over the parameters named in `fisher` (no lambda/2)."""
    terms = [
        (fisher[n] * (p - anchor[n]).pow(2)).sum()
        for n, p in model.named_parameters()
        if n in fisher
    ]
    return torch.stack(terms).sum()


def merge_penalties(
    fishers: list[dict[str, Tensor]], anchors: list[dict[str, Tensor]]
) -> tuple[dict[str, Tensor], dict[str, Tensor], Tensor]:
    """One quadratic equal to the sum of the per-task ones: with A = sum_k F_k and the
    Fisher-weighted anchor mu = sum_k F_k theta*_k / A,

        sum_k F_k (theta - theta*_k)^2 = A (theta - mu)^2 + sum_k F_k (theta*_k - mu)^2

    (expand both sides), so the penalty of T earlier tasks costs one task's per step; the
    constant (the last sum, >= 0) keeps the value exact. Returns (A, mu, constant); where
    A = 0, mu is the latest anchor (its weight is 0 anyway). Computed in float64."""
    weight: dict[str, Tensor] = {}
    centre: dict[str, Tensor] = {}
    const = torch.zeros((), dtype=torch.float64)
    for n in fishers[0]:
        f = torch.stack([fk[n].double() for fk in fishers])  # (T, *shape)
        a = torch.stack([ak[n].double() for ak in anchors])
        total = f.sum(0)
        mu = torch.where(total > 0, (f * a).sum(0) / total.clamp_min(1e-300), a[-1])
        const = const.to(total.device) + (f * (a - mu).pow(2)).sum()
        dtype = fishers[0][n].dtype
        weight[n], centre[n] = total.to(dtype), mu.to(dtype)
    return weight, centre, const.to(next(iter(weight.values())).dtype)


class EWC(Method):
    """The EWC penalty `lam / 2 * sum_tasks sum_j F_j (theta_j - theta*_j)^2` (see the
    module docstring). `fisher`: "empirical" or "true"; `mode`: "separate" (one penalty per
    earlier task) or "online" (one running Fisher with decay `gamma`); `samples`: training
    samples of the task the Fisher is averaged over (0: all; else a subset drawn with
    `seed + task`)."""

    name = "ewc"

    def __init__(
        self,
        lam: float,
        *,
        fisher: str = "empirical",
        mode: str = "separate",
        gamma: float = 1.0,
        samples: int = 0,
        batch_size: int = 128,
        seed: int = 0,
    ) -> None:
        self.lam = check_nonnegative("ewc_lambda", lam)
        if fisher not in FISHER_KINDS:
            raise ValueError(f"ewc_fisher = {fisher!r}: expected one of {', '.join(FISHER_KINDS)}")
        if mode not in ("separate", "online"):
            raise ValueError(f"mode = {mode!r}: expected 'separate' or 'online'")
        if not 0 < gamma <= 1:
            raise ValueError(f"ewc_gamma = {gamma!r}: expected a decay in (0, 1]")
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 0:
            raise ValueError(f"fisher_samples = {samples!r}: expected an int >= 0 (0: all)")
        self.kind, self.mode, self.gamma, self.samples = fisher, mode, float(gamma), samples
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.seed = seed
        if mode == "online":
            self.name = "online-ewc"
        self.fishers: list[dict[str, Tensor]] = []
        self.anchors: list[dict[str, Tensor]] = []
        self._merged: tuple[dict[str, Tensor], dict[str, Tensor], Tensor] | None = None

    def penalty(self, model: nn.Module) -> Tensor | None:
        if not self.fishers or self.lam == 0:
            return None
        if self._merged is None:
            self._merged = merge_penalties(self.fishers, self.anchors)
        weight, centre, const = self._merged
        return 0.5 * self.lam * (ewc_penalty(model, weight, centre) + const)

    def end_task(
        self, model: nn.Module, train: Split, task: int, loss_of: LossOf, mask: Tensor | None
    ) -> None:
        x, y = train.x, train.y
        if 0 < self.samples < len(x):
            idx = torch.randperm(len(x), generator=new_generator(self.seed + task))
            idx = idx[: self.samples].to(x.device)
            x, y = x[idx], y[idx]
        fisher = fisher_diagonal(model, x, y, kind=self.kind, mask=mask, batch_size=self.batch_size)
        anchor = {n: p.detach().clone() for n, p in model.named_parameters() if n in fisher}
        if self.mode == "online" and self.fishers:
            prev = self.fishers[0]
            fisher = {n: self.gamma * prev[n] + f for n, f in fisher.items()}
            self.fishers, self.anchors = [fisher], [anchor]
        else:
            self.fishers.append(fisher)
            self.anchors.append(anchor)
        self._merged = None

    def state_dict(self) -> dict[str, Any]:
        return {"fishers": self.fishers, "anchors": self.anchors}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.fishers = [dict(f) for f in state["fishers"]]
        self.anchors = [dict(a) for a in state["anchors"]]
        self._merged = None
