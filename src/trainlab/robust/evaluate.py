"""Robust evaluation: clean and adversarial accuracy, black-box transfer, robustness curves.

`attack(model, x, y, threat, method)` runs FGSM or PGD with a model-space `Threat`;
`robust_accuracy` does it over a whole split, batch by batch. `transfer_accuracy` is the
notes' proxy-model flow for black-box attacks (F3:3452-3462): adversarial examples are
crafted white-box on a proxy model the attacker trained on similar data and submitted to
the target model, whose gradients are never used. `robustness_curve` sweeps eps.

PGD's step size, when not given, follows Madry et al.: alpha = 2.5 * eps / steps, so the
steps can reach the ball's boundary from anywhere inside it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from trainlab.models.fold import fold_batchnorm
from trainlab.robust.attacks import fgsm, pgd
from trainlab.robust.budget import InputSpace, Threat, check_steps

METHODS = ("fgsm", "pgd")


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method = {method!r}: expected one of {', '.join(METHODS)}")
    return method


def attack(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    threat: Threat,
    method: str = "pgd",
    *,
    steps: int = 10,
    restarts: int = 1,
    random_start: bool = True,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Adversarial inputs for `x` (model space) under `threat` by FGSM or PGD."""
    check_method(method)
    if not bool((threat.eps > 0).any()):  # a zero budget: the clean inputs
        return x.detach().clone()
    if method == "fgsm":
        if threat.norm != "linf":
            raise ValueError(f"norm = {threat.norm!r}: fgsm is the L-inf attack; use pgd")
        return fgsm(model, x, y, threat.eps, bounds=threat.bounds)
    check_steps("steps", steps)
    alpha = (
        threat.alpha if threat.alpha is not None else (2.5 * threat.eps / steps).clamp_min(1e-12)
    )
    return pgd(
        model,
        x,
        y,
        threat.eps,
        alpha,
        steps,
        norm=threat.norm,
        random_start=random_start,
        restarts=restarts,
        bounds=threat.bounds,
        generator=generator,
    )


def _batches(x: Tensor, y: Tensor, batch_size: int) -> Iterator[tuple[Tensor, Tensor]]:
    for i in range(0, x.shape[0], batch_size):
        yield x[i : i + batch_size], y[i : i + batch_size]


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def _correct(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    was = model.training
    model.eval()
    try:
        return (model(x).argmax(1) == y).sum()
    finally:
        model.train(was)


def robust_accuracy(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    threat: Threat,
    method: str = "pgd",
    *,
    steps: int = 10,
    restarts: int = 1,
    batch_size: int = 512,
    seed: int = 0,
    proxy: nn.Module | None = None,
) -> dict[str, float]:
    """{'clean_acc', 'robust_acc'} of `model` on (x, y) (model space), attacked batch by
    batch on the model's device. `proxy`: craft the attack on this model instead (a
    black-box transfer attack; then also 'proxy_robust_acc', the white-box accuracy of the
    proxy on its own adversarial examples)."""
    device = _device(model)
    # the same weights are attacked batch after batch: fold batch-norm once (same function)
    source = fold_batchnorm(proxy if proxy is not None else model)
    gen = torch.Generator(device).manual_seed(seed)
    clean = robust = own = torch.zeros((), dtype=torch.int64, device=device)
    for xb, yb in _batches(x, y, batch_size):
        xb, yb = xb.to(device), yb.to(device)
        adv = attack(source, xb, yb, threat, method, steps=steps, restarts=restarts,
                     generator=gen)  # fmt: skip
        clean = clean + _correct(model, xb, yb)
        robust = robust + _correct(model, adv, yb)
        if proxy is not None:
            own = own + _correct(proxy, adv, yb)
    n = max(int(x.shape[0]), 1)
    out = {"clean_acc": float(clean) / n, "robust_acc": float(robust) / n}
    if proxy is not None:
        out["proxy_robust_acc"] = float(own) / n
    return out


def transfer_accuracy(
    proxy: nn.Module,
    target: nn.Module,
    x: Tensor,
    y: Tensor,
    threat: Threat,
    method: str = "pgd",
    **kw: Any,
) -> dict[str, float]:
    """The black-box transfer attack: adversarial examples crafted on `proxy`, accuracy of
    `target` on them ('robust_acc'; 'clean_acc' is the target's clean accuracy)."""
    return robust_accuracy(target, x, y, threat, method, proxy=proxy, **kw)


def robustness_curve(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    space: InputSpace,
    eps_values: Sequence[float],
    *,
    methods: Sequence[str] = METHODS,
    steps: int = 10,
    norm: str = "linf",
    batch_size: int = 512,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Rows {'eps', 'method', 'acc'} of accuracy against the data-unit budget eps."""
    rows: list[dict[str, Any]] = []
    for method in methods:
        for eps in eps_values:
            threat = space.threat(float(eps), norm=norm)
            acc = robust_accuracy(
                model, x, y, threat, method, steps=steps, batch_size=batch_size, seed=seed
            )["robust_acc"]
            rows.append({"eps": float(eps), "method": method, "acc": acc})
    return rows
