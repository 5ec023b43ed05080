"""White-box evasion attacks: FGSM and PGD (L-inf and L2, random start, restarts).

The attack solves the notes' constrained problem (F3:3474-3500)

    delta* = argmax_{||delta||_p <= eps} L(theta, x + delta, y)

FGSM (Goodfellow et al. 2015) takes one step of the linearised loss,
L(x + delta) ~ L(x) + grad_x L^T delta, whose maximiser over the L-inf ball is

    x_adv = x + eps * sign(grad_x L(theta, x, y))                      (F3:3496)

PGD (Madry et al. 2018) repeats projected steps from a random point of the ball:

    L-inf: x <- P(x + alpha * sign(g)),   L2: x <- P(x + alpha * g / ||g||_2),

where P projects onto the eps-ball around the clean input and then onto the `bounds`
(clamping). Targeted attacks descend the loss of the target class instead (y = targets).

Budgets may be tensors broadcast against one sample (per-channel budgets, from
`trainlab.robust.budget.to_model_space`); the threat set is then {delta : ||delta / eps||_p
<= 1}, and the L2 step direction is g * eps / ||g * eps||_2, which is exactly the
steepest-ascent step of data space mapped into model space. With a plain number both reduce
to the textbook formulas.

Every attack runs inside `attack_mode(model)` (eval mode, frozen parameters, restored
afterwards; no gradient reaches the parameters' `.grad`), batched, on the inputs' device.
The default loss is cross-entropy summed over the batch (a sum, not a mean, so the input
gradient of each example does not shrink with the batch size; the signs are the same).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trainlab.robust.budget import (
    Bounds,
    Budget,
    check_bounds,
    check_budget,
    check_norm,
    check_steps,
)
from trainlab.robust.modes import attack_mode

Loss = Callable[[Tensor, Tensor], Tensor]


def _sum_ce(out: Tensor, y: Tensor) -> Tensor:
    return F.cross_entropy(out, y, reduction="sum")


def _check_xy(x: Tensor, y: Tensor) -> None:
    if not isinstance(x, Tensor) or not x.is_floating_point() or x.ndim < 2:
        got = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"x: expected a floating batch (N, ...), got {got}")
    if not isinstance(y, Tensor) or y.shape[0] != x.shape[0]:
        shown = str(tuple(y.shape)) if isinstance(y, Tensor) else type(y).__name__
        raise ValueError(f"y: expected {x.shape[0]} targets, one per input, got {shown}")


def _ascent(model: nn.Module, x: Tensor, y: Tensor, loss: Loss, targeted: bool) -> Tensor:
    """The direction that raises the attacker's objective: grad_x L (targeted: -grad_x L)."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        value = loss(model(x), y)
    (g,) = torch.autograd.grad(value, x)
    return g.neg_() if targeted else g


def _clamp(x: Tensor, bounds: tuple[Tensor, Tensor] | None) -> Tensor:
    if bounds is None:
        return x
    return torch.maximum(torch.minimum(x, bounds[1]), bounds[0])


def _per_example(values: Tensor, like: Tensor) -> Tensor:
    """Per-example scalars (N,) shaped (N, 1, ..., 1) to broadcast against the batch `like`."""
    return values.reshape(like.shape[0], *([1] * (like.ndim - 1)))


def _l2(t: Tensor) -> Tensor:
    """Per-example L2 norms of a batch, shaped (N, 1, ..., 1)."""
    return _per_example(t.flatten(1).norm(dim=1), t)


def fgsm(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eps: Budget,
    *,
    loss: Loss | None = None,
    targeted: bool = False,
    bounds: Bounds | None = None,
) -> Tensor:
    """x + eps * sign(grad_x L(model(x), y)), clamped to `bounds`; see the module docstring.

    `x` in the model's input space, `eps` in that space (a number or per-channel tensor),
    `bounds` (low, high) in that space or None; `targeted`: `y` are target classes and the
    step lowers their loss.
    """
    _check_xy(x, y)
    e = check_budget("eps", eps, x)
    b = check_bounds(bounds, x)
    with attack_mode(model):
        g = _ascent(model, x, y, loss or _sum_ce, targeted)
    return _clamp(x + e * g.sign(), b).detach()


def _random_start(x: Tensor, eps: Tensor, norm: str, generator: torch.Generator) -> Tensor:
    """A uniform draw from the eps-ball around x (L2: uniform in volume)."""
    if norm == "linf":
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return x + (2 * u - 1) * eps
    d = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    n = x[0].numel()
    r = torch.rand((x.shape[0],), generator=generator, device=x.device, dtype=x.dtype)
    d = d / _l2(d).clamp_min(1e-12) * _per_example(r.pow(1.0 / n), x)
    return x + d * eps


def _projector(
    x: Tensor, eps: Tensor, norm: str, bounds: tuple[Tensor, Tensor] | None
) -> Callable[[Tensor], Tensor]:
    """P: onto the eps-ball around x, then onto the bounds (in place on its argument).

    L-inf: the ball and the bounds are both boxes, so P is one clamp to their intersection
    [max(x - eps, low), min(x + eps, high)], computed once per attack (non-empty: x lies in
    the bounds). L2: rescale delta = adv - x to ||delta / eps||_2 <= 1, then clamp.
    """
    if norm == "linf":
        lo, hi = x - eps, x + eps
        if bounds is not None:
            lo, hi = torch.maximum(lo, bounds[0]), torch.minimum(hi, bounds[1])
        return lambda adv: adv.clamp_(lo, hi)
    # components with a zero budget may not move (and must not divide by zero)
    moves = eps > 0
    safe = torch.where(moves, eps, 1.0)

    def l2(adv: Tensor) -> Tensor:
        delta = torch.where(moves, adv - x, 0.0)
        adv = x + delta * (1.0 / _l2(delta / safe).clamp_min(1e-12)).clamp_max(1.0)
        return _clamp(adv, bounds)

    return l2


def _step(g: Tensor, alpha: Tensor, eps: Tensor, norm: str) -> Tensor:
    """The ascent step (in place on the fresh gradient `g`)."""
    if norm == "linf":
        return g.sign_().mul_(alpha)
    scaled = g.mul_(eps)
    return scaled.mul_(alpha / _l2(scaled).clamp_min(1e-12))


def pgd(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eps: Budget,
    alpha: Budget,
    steps: int,
    *,
    norm: str = "linf",
    random_start: bool = True,
    targeted: bool = False,
    restarts: int = 1,
    loss: Loss | None = None,
    bounds: Bounds | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Projected gradient descent on the loss (Madry et al. 2018); see the module docstring.

    `steps` projected steps of size `alpha` inside the `norm` ball of radius `eps` (both in
    the model's input space) and the `bounds`; `random_start`: begin at a uniform point of
    the ball (drawn with `generator`; None: a generator seeded with 0, so the call is
    reproducible); `restarts`: run the attack that many times and keep, per example, the
    worst case (a restart that fools the model beats one that does not; between two that
    both do or both do not, the higher cross-entropy wins).
    """
    _check_xy(x, y)
    check_norm(norm)
    e = check_budget("eps", eps, x)
    a = check_budget("alpha", alpha, x, positive=True)
    check_steps("steps", steps)
    check_steps("restarts", restarts)
    b = check_bounds(bounds, x)
    loss = loss or _sum_ce
    x = x.detach()
    if random_start and generator is None:
        generator = torch.Generator(x.device).manual_seed(0)
    project = _projector(x, e, norm, b)
    best: Tensor | None = None
    with attack_mode(model):
        for _ in range(restarts):
            adv = x
            if random_start:
                assert generator is not None
                adv = project(_random_start(x, e, norm, generator))
            for _ in range(steps):
                g = _ascent(model, adv, y, loss, targeted)
                adv = project(adv + _step(g, a, e, norm))
            if restarts == 1:
                return adv.detach()
            best = adv if best is None else _worse(model, best, adv, y, targeted)
    assert best is not None
    return best.detach()


@torch.no_grad()
def _worse(model: nn.Module, old: Tensor, new: Tensor, y: Tensor, targeted: bool) -> Tensor:
    """Per example, the adversarial input of `old` and `new` that is worse for the model."""
    scores = []
    for adv in (old, new):
        out = model(adv)
        ce = F.cross_entropy(out, y, reduction="none")
        hit = out.argmax(1) == y
        fooled = hit if targeted else ~hit
        scores.append((fooled, -ce if targeted else ce))
    (f0, l0), (f1, l1) = scores
    take = (f1 & ~f0) | ((f1 == f0) & (l1 > l0))
    return torch.where(_per_example(take, old), new, old)
