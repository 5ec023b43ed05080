"""Every training loss by name (``loss.name`` / ``loss.terms`` in the config; F4:1003-1945).

Each entry declares the tasks it fits and the arguments it takes (``loss.args``):

name             tasks                         arguments
auto             every task: the default below those of the default
cross_entropy    classification, segmentation  class_weight, ignore_index
nll              classification, segmentation  class_weight, ignore_index
bce_with_logits  multilabel, classification    pos_weight
mse, l1          regression                    -
huber            regression                    delta
smooth_l1        regression                    beta
hinge            classification                margin, p, class_weight
soft_margin      multilabel                    -
dice             segmentation                  smooth, squared, class_weight, ignore_index,
                                               batch_dice
ce+dice          segmentation                  ce_weight, dice_weight, class_weight,
                                               ignore_index, smooth, squared, batch_dice

``auto`` is today's default per task (``build_loss``): cross-entropy for classification and
segmentation (per pixel: logits (N, K, H, W), targets (N, H, W), ``ignore_index=-100``,
the value ``trainlab.data`` gives unlabelled pixels), BCE-with-logits for multilabel, MSE
for regression. Aliases: ce, bce, l2/mse_loss, mae, smoothl1, multiclass_hinge/multi_margin,
dice_ce/ce_dice/dice+ce/cross_entropy+dice; argument aliases ``weight`` (class_weight)
and ``eps`` (smooth).

Label smoothing (``train.label_smoothing``, convention ``loss.smoothing``) is applied by
cross_entropy (and auto for classification, segmentation, multilabel) and bce_with_logits
(multilabel: ``y (1 - e) + e / 2``; classification: the one-hot row smoothed as
cross-entropy's); regression losses and Dice ignore it (as ``build_loss`` does for
regression); nll, hinge and soft_margin refuse it (they have no smoothed form). With
Mixup/CutMix (soft targets) only cross_entropy, auto and bce_with_logits fit.

nll is ``F.nll_loss`` on ``log_softmax(logits)`` (NLLLoss expects log-probabilities,
F4:1394; trainlab models return logits). dice is 1 - Dice of ``softmax(logits)`` against
the one-hot masks (``trainlab.losses.overlap``), ``smooth`` its epsilon; ce+dice is
``ce_weight * cross_entropy + dice_weight * dice`` (class_weight goes to the
cross-entropy only). hinge is the multi-class hinge (``F.multi_margin_loss``), soft_margin
``softplus(-(2 t - 1) f)`` over multi-hot t.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from trainlab.losses.adapters import NLLOfLogits, OneHotBCEWithLogits, SignedSoftMargin
from trainlab.losses.build import TASKS, build_loss
from trainlab.losses.classification import Smoothing
from trainlab.losses.margin import MultiClassHingeLoss
from trainlab.losses.overlap import DiceLoss
from trainlab.losses.regression import HuberLoss, L1Loss, MSELoss, SmoothL1Loss
from trainlab.losses.weighted import WeightedLoss

__all__ = [
    "LossContext",
    "LossSpec",
    "check_loss_args",
    "create_loss",
    "create_weighted_loss",
    "list_losses",
    "loss_spec",
]

_DEFAULT = {
    "classification": "cross_entropy",
    "segmentation": "cross_entropy",
    "multilabel": "bce_with_logits",
    "regression": "mse",
}
_ARG_ALIASES = {"weight": "class_weight", "eps": "smooth"}


@dataclass(frozen=True)
class LossContext:
    """What a loss needs to know besides its own arguments."""

    task: str
    num_classes: int | None = None
    label_smoothing: float = 0.0
    smoothing: Smoothing = "standard"
    check_targets: bool = True
    soft_targets_smoothed: bool = False  # Mixup/CutMix on: soft, already smoothed targets


Builder = Callable[[LossContext, dict[str, Any]], nn.Module]


@dataclass(frozen=True)
class LossSpec:
    """A named loss: the tasks it fits, the arguments it takes, and how it is built.

    ``smoothing``: 'applies' (uses train.label_smoothing), 'ignored', or 'refused' (an error
    when label smoothing > 0); ``soft_targets``: takes Mixup/CutMix probabilities.
    """

    name: str
    tasks: tuple[str, ...]
    args: tuple[str, ...]
    build: Builder
    aliases: tuple[str, ...] = ()
    smoothing: Literal["applies", "ignored", "refused"] = "applies"
    soft_targets: bool = False


# ---- argument readers (one-line ValueErrors naming the argument) --------------------------
def _number(args: dict[str, Any], key: str, default: float) -> float:
    v = args.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"argument {key}={v!r}; expected a finite number")
    return float(v)


def _integer(args: dict[str, Any], key: str, default: int) -> int:
    v = args.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"argument {key}={v!r}; expected an integer")
    return v


def _flag(args: dict[str, Any], key: str, default: bool) -> bool:
    v = args.get(key, default)
    if not isinstance(v, bool):
        raise ValueError(f"argument {key}={v!r}; expected true or false")
    return v


def _weights(args: dict[str, Any], key: str, count: int | None, what: str) -> Tensor | None:
    """A list of finite weights >= 0 (a single number for pos_weight), checked against count."""
    v = args.get(key)
    if v is None:
        return None
    values = [v] if key == "pos_weight" and isinstance(v, (int, float)) else v
    ok = isinstance(values, (list, tuple)) and values
    if not ok or any(
        isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0
        for w in values
    ):
        raise ValueError(f"argument {key}={v!r}; expected a non-empty list of numbers >= 0")
    if count is not None and len(values) not in ((1, count) if key == "pos_weight" else (count,)):
        raise ValueError(
            f"{key} has {len(values)} weights but the data has {count} {what}; expected one "
            f"weight per {what[:-1]}"
        )
    return torch.tensor(values, dtype=torch.float32)


def _class_weight(ctx: LossContext, args: dict[str, Any]) -> Tensor | None:
    return _weights(args, "class_weight", ctx.num_classes, "classes")


# ---- builders --------------------------------------------------------------------------
def _cross_entropy(ctx: LossContext, args: dict[str, Any]) -> nn.Module:
    return build_loss(
        ctx.task,
        label_smoothing=ctx.label_smoothing,
        smoothing=ctx.smoothing,
        class_weight=_class_weight(ctx, args),
        ignore_index=_integer(args, "ignore_index", -100),
        check_targets=ctx.check_targets,
        soft_targets_smoothed=ctx.soft_targets_smoothed,
    )


def _nll(ctx: LossContext, args: dict[str, Any]) -> nn.Module:
    return NLLOfLogits(
        _class_weight(ctx, args),
        ignore_index=_integer(args, "ignore_index", -100),
        check_targets=ctx.check_targets,
    )


def _bce(ctx: LossContext, args: dict[str, Any]) -> nn.Module:
    what = "labels" if ctx.task == "multilabel" else "classes"
    pos_weight = _weights(args, "pos_weight", ctx.num_classes, what)
    if ctx.task == "multilabel":
        return build_loss(ctx.task, label_smoothing=ctx.label_smoothing, pos_weight=pos_weight)
    return OneHotBCEWithLogits(
        pos_weight=pos_weight,
        label_smoothing=ctx.label_smoothing,
        smoothing=ctx.smoothing,
        soft_targets_smoothed=ctx.soft_targets_smoothed,
    )


def _hinge(ctx: LossContext, args: dict[str, Any]) -> nn.Module:
    return MultiClassHingeLoss(
        p=_integer(args, "p", 1),
        margin=_number(args, "margin", 1.0),
        weight=_class_weight(ctx, args),
    )


def _dice(ctx: LossContext, args: dict[str, Any]) -> nn.Module:
    return DiceLoss(
        squared=_flag(args, "squared", True),
        eps=_number(args, "smooth", 1e-5),
        weight=_class_weight(ctx, args),
        from_logits=True,
        batch_dice=_flag(args, "batch_dice", False),
        ignore_index=_integer(args, "ignore_index", -100),
    )


def _ce_dice(ctx: LossContext, args: dict[str, Any]) -> nn.Module:
    ce_args = {k: v for k, v in args.items() if k in ("class_weight", "ignore_index")}
    dice_args = {k: v for k, v in args.items() if k in ("ignore_index", "smooth", "squared", "batch_dice")}  # fmt: skip
    return WeightedLoss(
        [
            ("cross_entropy", _number(args, "ce_weight", 1.0), _cross_entropy(ctx, ce_args)),
            ("dice", _number(args, "dice_weight", 1.0), _dice(ctx, dice_args)),
        ]
    )


_SPECS: dict[str, LossSpec] = {}
_ALIASES: dict[str, str] = {}


def _register(spec: LossSpec) -> None:
    _SPECS[spec.name] = spec
    for alias in (spec.name, *spec.aliases):
        _ALIASES[alias] = spec.name


_CLS_SEG = ("classification", "segmentation")
_DICE_ARGS = ("smooth", "squared", "class_weight", "ignore_index", "batch_dice")
for _spec in (
    LossSpec("cross_entropy", _CLS_SEG, ("class_weight", "ignore_index"), _cross_entropy,
             ("ce", "crossentropy"), soft_targets=True),
    LossSpec("nll", _CLS_SEG, ("class_weight", "ignore_index"), _nll, ("nll_loss",),
             smoothing="refused"),
    LossSpec("bce_with_logits", ("multilabel", "classification"), ("pos_weight",), _bce,
             ("bce",), soft_targets=True),
    LossSpec("mse", ("regression",), (), lambda c, a: MSELoss(), ("l2", "mse_loss"),
             smoothing="ignored"),
    LossSpec("l1", ("regression",), (), lambda c, a: L1Loss(), ("mae", "l1_loss"),
             smoothing="ignored"),
    LossSpec("huber", ("regression",), ("delta",),
             lambda c, a: HuberLoss(_number(a, "delta", 1.0)), ("huber_loss",),
             smoothing="ignored"),
    LossSpec("smooth_l1", ("regression",), ("beta",),
             lambda c, a: SmoothL1Loss(_number(a, "beta", 1.0)), ("smoothl1", "smooth_l1_loss"),
             smoothing="ignored"),
    LossSpec("hinge", ("classification",), ("margin", "p", "class_weight"), _hinge,
             ("multiclass_hinge", "multi_margin"), smoothing="refused"),
    LossSpec("soft_margin", ("multilabel",), (),
             lambda c, a: SignedSoftMargin(check_targets=c.check_targets),
             ("soft_margin_loss",), smoothing="refused"),
    LossSpec("dice", ("segmentation",), _DICE_ARGS, _dice, ("dice_loss",), smoothing="ignored"),
    LossSpec("ce+dice", ("segmentation",), ("ce_weight", "dice_weight", *_DICE_ARGS),
             _ce_dice, ("dice_ce", "ce_dice", "dice+ce", "cross_entropy+dice")),
):  # fmt: skip
    _register(_spec)
_AUTO_ARGS = tuple(dict.fromkeys(a for n in _DEFAULT.values() for a in _SPECS[n].args))
_register(
    LossSpec("auto", TASKS, _AUTO_ARGS, lambda c, a: _SPECS[_DEFAULT[c.task]].build(c, a),
             soft_targets=True)
)  # fmt: skip


# ---- public API ------------------------------------------------------------------------
def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")


def list_losses(task: str | None = None) -> list[str]:
    """Loss names (canonical, sorted) that fit ``task`` (every loss when None)."""
    if task is not None:
        _check_task(task)
    return sorted(n for n, s in _SPECS.items() if task is None or task in s.tasks)


def loss_spec(name: str, task: str | None = None) -> LossSpec:
    """The entry for ``name`` (or an alias); ValueError when unknown or (with ``task``) when it
    does not fit the task. ``auto`` with a task resolves to that task's default."""
    if task is not None:
        _check_task(task)
    if not isinstance(name, str) or name.lower() not in _ALIASES:
        fits = f" the losses that fit task {task!r}" if task else ""
        raise ValueError(f"unknown loss {name!r}; expected one of{fits}: {', '.join(list_losses(task))}")  # fmt: skip
    spec = _SPECS[_ALIASES[name.lower()]]
    if task is None:
        return spec
    if task not in spec.tasks:
        raise ValueError(
            f"loss {spec.name!r} does not fit task {task!r}; it fits {', '.join(spec.tasks)} "
            f"(losses for {task}: {', '.join(list_losses(task))})"
        )
    return _SPECS[_DEFAULT[task]] if spec.name == "auto" else spec


def _canonical_args(spec: LossSpec, args: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(args, Mapping):
        raise ValueError(f"loss {spec.name!r}: args={args!r}; expected a mapping of name: value")
    out: dict[str, Any] = {}
    for key, value in args.items():
        canon = _ARG_ALIASES.get(key, key)
        if canon not in spec.args:
            accepted = ", ".join(spec.args) or "none"
            raise ValueError(f"loss {spec.name!r} takes no argument {key!r}; accepted: {accepted}")
        if canon in out:
            raise ValueError(f"loss {spec.name!r}: {canon!r} given twice (as {key!r} too)")
        out[canon] = value
    return out


def check_loss_args(name: str, args: Mapping[str, Any]) -> None:
    """ValueError unless ``name`` is a known loss and it takes every key of ``args`` (for
    ``auto``: the arguments of any task's default); what a config can check without a task."""
    _canonical_args(loss_spec(name), args)


def create_loss(
    name: str,
    task: str,
    *,
    args: Mapping[str, Any] | None = None,
    num_classes: int | None = None,
    label_smoothing: float = 0.0,
    smoothing: Smoothing = "standard",
    check_targets: bool = True,
    soft_targets_smoothed: bool = False,
) -> nn.Module:
    """The loss ``name`` for ``task`` with its ``args`` (see the module docstring).

    ``num_classes`` (classes or labels) checks the length of class_weight / pos_weight;
    ``soft_targets_smoothed`` says Mixup/CutMix produce (already smoothed) soft targets.
    Every mistake is a one-line ValueError: unknown name (listing the names that fit the
    task), a loss that does not fit the task, an unknown argument (listing the accepted
    ones), a bad argument value, label smoothing or soft targets a loss cannot take.
    """
    spec = loss_spec(name, task)
    shown = "auto" if str(name).lower() == "auto" else spec.name
    kwargs = _canonical_args(spec, args or {})
    if spec.smoothing == "refused" and label_smoothing:
        raise ValueError(
            f"loss {shown!r} has no label smoothing (train.label_smoothing={label_smoothing:g}); "
            "set it to 0 or use cross_entropy"
        )
    if soft_targets_smoothed and not spec.soft_targets:
        raise ValueError(
            f"loss {shown!r} takes class indices, but Mixup/CutMix make soft targets; use "
            "cross_entropy or bce_with_logits"
        )
    ctx = LossContext(
        task, num_classes, label_smoothing if spec.smoothing == "applies" else 0.0, smoothing,
        check_targets, soft_targets_smoothed,
    )  # fmt: skip
    try:
        return spec.build(ctx, kwargs)
    except (TypeError, ValueError) as e:
        raise ValueError(f"loss {shown!r}: {e}") from None


def create_weighted_loss(
    terms: Sequence[Mapping[str, Any]], task: str, **options: Any
) -> WeightedLoss:
    """``sum_i weight_i * loss_i`` over ``terms`` = [{name, weight (default 1), args}, ...];
    ``options`` are :func:`create_loss`'s keywords, shared by every term."""
    if not terms:
        raise ValueError("loss terms is empty; expected at least one {name, weight, args}")
    built = []
    for i, term in enumerate(terms):
        unknown = set(term) - {"name", "weight", "args"}
        if unknown or "name" not in term:
            raise ValueError(
                f"loss term {i} has keys {sorted(term)}; expected name, weight and args"
            )
        loss = create_loss(term["name"], task, args=term.get("args") or {}, **options)
        built.append((loss_spec(term["name"], task).name, term.get("weight", 1.0), loss))
    return WeightedLoss(built)
