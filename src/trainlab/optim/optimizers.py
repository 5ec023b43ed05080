"""torch.optim-compatible optimizers, each a three-line chain of transforms.

Same constructor arguments and defaults as the torch.optim class of the same name, plus
``decoupled_weight_decay`` wherever there is weight decay: False adds ``wd * w`` to the
gradient first (L2, torch's default), True applies it after the algorithm's scaling, just
before the learning rate (``w <- w - lr * wd * w``, AdamW-style; notes F0:324-384, F1).
``Adam(..., decoupled_weight_decay=True)`` is ``AdamW(...)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import Tensor

from trainlab.optim import transforms as T
from trainlab.optim.base import (
    ChainOptimizer,
    check_betas,
    check_nonneg,
    check_positive,
)
from trainlab.optim.core import _own, add_, is_zero
from trainlab.optim.transforms import Transform

Params = Iterable[Any]


def _head(group: dict[str, Any]) -> list[Transform]:
    return [T.scale(-1.0)] if group["maximize"] else []


def _decayed(group: dict[str, Any], core: list[Transform], lr: bool = True) -> Transform:
    """``[maximize] [wd] core [lr]`` or, decoupled, ``[maximize] core wd [lr]``."""
    wd = T.add_decayed_weights(group["weight_decay"])
    body = [*core, wd] if group["decoupled_weight_decay"] else [wd, *core]
    return T.chain(*_head(group), *body, *([T.scale_by_lr()] if lr else []))


def _common(kw: dict[str, Any]) -> dict[str, Any]:
    kw = {k: v for k, v in kw.items() if k not in ("self", "params", "__class__")}
    for name in ("eps", "weight_decay"):
        if name in kw:
            (check_positive if name == "eps" else check_nonneg)(name, kw[name])
    return kw


class SGD(ChainOptimizer):
    """SGD with momentum/dampening/Nesterov (torch.optim.SGD; notes F4:562-612):
    ``chain(add_decayed_weights(wd), trace(momentum, dampening, nesterov), scale_by_lr())``."""

    has_step = False

    def __init__(self, params: Params, lr: float | Tensor = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:  # fmt: skip
        check_nonneg("momentum", momentum)
        check_nonneg("dampening", dampening)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov: requires momentum > 0 and dampening == 0")
        super().__init__(params, _common(locals()))

    @staticmethod
    def make_chain(group: dict[str, Any]) -> Transform:
        tr = T.trace(group["momentum"], group["dampening"], group["nesterov"])
        return _decayed(group, [tr])


class Adam(ChainOptimizer):
    """Adam (torch.optim.Adam): ``chain(add_decayed_weights(wd), scale_by_adam(b1, b2, eps,
    amsgrad), scale_by_lr())``; decoupled: ``scale_by_adam`` before ``add_decayed_weights``."""

    def __init__(self, params: Params, lr: float | Tensor = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:  # fmt: skip
        check_betas(betas)
        super().__init__(params, _common(locals()))

    @staticmethod
    def make_chain(group: dict[str, Any]) -> Transform:
        b1, b2 = (T.value(b) for b in group["betas"])
        return _decayed(group, [T.scale_by_adam(b1, b2, group["eps"], group["amsgrad"])])


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter 2019; torch.optim.AdamW): Adam with decoupled decay,
    ``chain(scale_by_adam(...), add_decayed_weights(wd), scale_by_lr())``."""

    def __init__(self, params: Params, lr: float | Tensor = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = True) -> None:  # fmt: skip
        check_betas(betas)
        ChainOptimizer.__init__(self, params, _common(locals()))


class Adagrad(ChainOptimizer):
    """Adagrad (torch.optim.Adagrad; notes F4:212-232): ``chain(add_decayed_weights(wd),
    scale_by_adagrad(lr_decay, eps, initial_accumulator_value), scale_by_lr())``.
    ``eps_in_sqrt=True``: the notes' ``g / sqrt(G + eps)`` (F4:225)."""

    def __init__(self, params: Params, lr: float | Tensor = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False, eps_in_sqrt: bool = False) -> None:  # fmt: skip
        check_nonneg("lr_decay", lr_decay)
        check_nonneg("initial_accumulator_value", initial_accumulator_value)
        super().__init__(params, _common(locals()))
        # torch.optim.Adagrad creates its state eagerly; so do we (same state_dict at step 0)
        for group in self.param_groups:
            chain = self.make_chain(group)
            for p in group["params"]:
                st = self.state[p]
                st["step"] = _initial_step(p, self.path(group))
                chain.init(p, st)

    @staticmethod
    def make_chain(group: dict[str, Any]) -> Transform:
        core = T.scale_by_adagrad(group["lr_decay"], group["eps"],
                                  group["initial_accumulator_value"],
                                  eps_in_sqrt=group["eps_in_sqrt"])  # fmt: skip
        return _decayed(group, [core])


def _initial_step(p: Tensor, path: str) -> Tensor:
    from trainlab.optim.base import _step_tensor

    return _step_tensor(p, path in ("torch_fused", "compiled"))


class RMSprop(ChainOptimizer):
    """RMSprop (torch.optim.RMSprop; notes F4:341-363): ``chain(add_decayed_weights(wd),
    scale_by_rms(alpha, eps, centered), trace(momentum, zero_init=True), scale_by_lr())``.
    ``eps_in_sqrt=True``: the notes' ``g / sqrt(v + eps)`` (F4:351)."""

    def __init__(self, params: Params, lr: float | Tensor = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False, eps_in_sqrt: bool = False) -> None:  # fmt: skip
        check_nonneg("alpha", alpha)
        check_nonneg("momentum", momentum)
        super().__init__(params, _common(locals()))

    @staticmethod
    def make_chain(group: dict[str, Any]) -> Transform:
        core = [T.scale_by_rms(group["alpha"], group["eps"], group["centered"],
                               eps_in_sqrt=group["eps_in_sqrt"])]  # fmt: skip
        if not is_zero(group["momentum"]):
            core.append(T.trace(group["momentum"], zero_init=True))
        return _decayed(group, core)


class Adadelta(ChainOptimizer):
    """Adadelta (torch.optim.Adadelta; notes F4:234-336): ``chain(add_decayed_weights(wd),
    scale_by_adadelta(rho, eps), scale_by_lr())`` (lr default 1.0 scales the step)."""

    def __init__(self, params: Params, lr: float | Tensor = 1.0, rho: float = 0.9,
                 eps: float = 1e-6, weight_decay: float = 0.0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False, differentiable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False) -> None:  # fmt: skip
        if not isinstance(rho, (int, float)) or not 0.0 <= rho <= 1.0:
            raise ValueError(f"rho: expected a number in [0, 1], got {rho!r}")
        super().__init__(params, _common(locals()))

    @staticmethod
    def make_chain(group: dict[str, Any]) -> Transform:
        return _decayed(group, [T.scale_by_adadelta(group["rho"], group["eps"])])


class Adamax(ChainOptimizer):
    """Adamax (torch.optim.Adamax; notes F4:433-475): ``chain(add_decayed_weights(wd),
    scale_by_adamax(b1, b2, eps), scale_by_lr())``."""

    def __init__(self, params: Params, lr: float | Tensor = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, capturable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False) -> None:  # fmt: skip
        check_betas(betas)
        super().__init__(params, _common(locals()))

    @staticmethod
    def make_chain(group: dict[str, Any]) -> Transform:
        b1, b2 = group["betas"]
        return _decayed(group, [T.scale_by_adamax(b1, b2, group["eps"])])


class NAdam(ChainOptimizer):
    """NAdam (torch.optim.NAdam): ``chain(add_decayed_weights(wd), scale_by_nadam(b1, b2,
    eps, momentum_decay), scale_by_lr())``; decoupled (NAdamW) puts the decay after."""

    def __init__(self, params: Params, lr: float | Tensor = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None) -> None:  # fmt: skip
        check_betas(betas)
        check_nonneg("momentum_decay", momentum_decay)
        super().__init__(params, _common(locals()))

    @staticmethod
    def make_chain(group: dict[str, Any]) -> Transform:
        b1, b2 = group["betas"]
        core = T.scale_by_nadam(b1, b2, group["eps"], group["momentum_decay"])
        return _decayed(group, [core])


class ASGD(ChainOptimizer):
    """ASGD (torch.optim.ASGD; notes F4:531-560): ``chain(add_decayed_weights(wd),
    scale_by_asgd(lambd, alpha), average_iterates(t0))``; the lr enters through the decaying
    step size ``eta`` (no ``scale_by_lr``). Decoupled: the decay comes after ``eta``."""

    def __init__(self, params: Params, lr: float | Tensor = 1e-2, lambd: float = 1e-4,
                 alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0.0,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False) -> None:  # fmt: skip
        check_nonneg("lambd", lambd)
        check_nonneg("alpha", alpha)
        check_nonneg("t0", t0)
        super().__init__(params, _common(locals()))

    @staticmethod
    def make_chain(group: dict[str, Any]) -> Transform:
        core = T.scale_by_asgd(group["lambd"], group["alpha"], group["lr"])
        wd = group["weight_decay"]
        if group["decoupled_weight_decay"]:
            body = [core, _lr_weight_decay(wd)]
        else:
            body = [T.add_decayed_weights(wd), core]
        return T.chain(*_head(group), *body, T.average_iterates(group["t0"]))


def _lr_weight_decay(weight_decay: float) -> Transform:
    """``u <- u - lr * wd * w``: decoupled decay after an update that already holds its
    step size (ASGD's eta)."""

    def update(u: T.Tensors, ctx: T.Context) -> T.Tensors:
        if is_zero(weight_decay):
            return u
        return add_(_own(u, ctx), ctx.params, -T.value(ctx.lr) * weight_decay)

    return Transform("lr_weight_decay", update, hparams={"weight_decay": weight_decay})


class Rprop(ChainOptimizer):
    """Rprop (torch.optim.Rprop): ``chain(scale_by_rprop(etas, step_sizes))``; the lr only
    seeds the per-element step sizes."""

    def __init__(self, params: Params, lr: float | Tensor = 1e-2,
                 etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50.0), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:  # fmt: skip
        if not (
            isinstance(etas, (tuple, list)) and len(etas) == 2 and 0.0 < etas[0] < 1.0 < etas[1]
        ):
            raise ValueError(
                f"etas: expected (eta_minus, eta_plus) with 0 < eta_minus < 1 < eta_plus, got {etas!r}"
            )
        if not (isinstance(step_sizes, (tuple, list)) and len(step_sizes) == 2):
            raise ValueError(f"step_sizes: expected a pair (min, max), got {step_sizes!r}")
        super().__init__(params, _common(locals()))

    @staticmethod
    def make_chain(group: dict[str, Any]) -> Transform:
        core = T.scale_by_rprop(tuple(group["etas"]), tuple(group["step_sizes"]), group["lr"])
        return T.chain(*_head(group), core)
