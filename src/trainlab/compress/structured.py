"""Structured (channel / neuron) pruning that makes the model physically smaller
(notes F3:4393-4506: removing whole neurons keeps the weight matrices dense, so the smaller
model is faster on ordinary hardware; unstructured masks are not).

    groups = channel_groups(model, example)        coupled channels (trainlab.compress.graph)
    score_c = sum over the group's producers of ||W_out[c]||_p   (p = 1 or 2; Li et al. 2017)
         or = sum over the group's BatchNorms of |gamma_c|       (network slimming, Liu et al. 2017)
    keep the round((1 - amount) * C) highest-scoring channels of every prunable group

`prune_channels` slices every member of each group (output filters, the next layers' input
channels, BatchNorm/LayerNorm parameters and statistics, depthwise convs with their `groups`,
layer-scale vectors, the classifier's inputs) and returns a new, plain `nn.Module` of the same
class with smaller tensors. `mask_channels` is its masked twin: the same model with the
removed channels' *readers* zeroed (the input slices of every consumer), which computes the
same function as the pruned model wherever the group has no LayerNorm (all of cnn and ResNet;
ConvNeXt's MLP hidden units; not ConvNeXt's LayerNorm'd residual stream, whose statistics
change with the channel set).

Supported: every model the channel analysis can trace (zoo: mlp, cnn, cnn1d, resnet18/34/50/101,
convnext_*; resnext's grouped 3x3 convs keep their channels, the rest of it is pruned).
Refused with `UnsupportedModel`: vit (attention reshapes heads), unet (concatenated skips).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from trainlab.compress.graph import ChannelGroup, UnsupportedModel, channel_groups
from trainlab.compress.masks import check_amount

IMPORTANCES = ("l1", "l2", "bn")


@dataclass
class ChannelPlan:
    """Which channels of each prunable group to keep (sorted indices)."""

    groups: list[ChannelGroup]
    keep: list[Tensor]

    @property
    def removed(self) -> int:
        return sum(g.size - len(k) for g, k in zip(self.groups, self.keep, strict=True))


def _norm(t: Tensor, p: int) -> Tensor:
    """Per output channel (dim 0) p-norm of `t`."""
    return t.detach().reshape(t.shape[0], -1).float().norm(p=p, dim=1)


def group_importance(model: nn.Module, group: ChannelGroup, importance: str = "l1") -> Tensor:
    """Score of each channel of `group` (higher is kept): see the module docstring."""
    if importance not in IMPORTANCES:
        raise ValueError(f"importance must be one of {', '.join(IMPORTANCES)}, got {importance!r}")
    mods = dict(model.named_modules())
    score = torch.zeros(group.size)
    if importance == "bn":
        bns = [
            n
            for k, n in group.members
            if k == "norm" and isinstance(mods[n], nn.modules.batchnorm._BatchNorm)
        ]
        if bns:
            for n in bns:
                score += mods[n].weight.detach().abs().float().cpu()
            return score
        importance = "l1"  # a group without BatchNorm (ConvNeXt): filter norms instead
    p = 1 if importance == "l1" else 2
    for kind, n in group.members:
        if kind in ("out", "dw"):
            score += _norm(mods[n].weight, p).cpu()
    return score


def plan_channels(
    model: nn.Module, example: Tensor, amount: float, importance: str = "l1"
) -> ChannelPlan:
    """Remove `round(amount * C)` channels of every prunable group (at least one kept)."""
    amount = check_amount(amount)
    for name, m in model.named_modules():
        if parametrize.is_parametrized(m):
            raise ValueError(f"{name}: the model has unstructured masks; call make_permanent first")
    groups = [g for g in channel_groups(model, example) if g.prunable]
    keep = []
    for g in groups:
        n_keep = max(1, g.size - round(amount * g.size))
        scores = group_importance(model, g, importance)
        keep.append(torch.sort(torch.topk(scores, n_keep).indices).values)
    return ChannelPlan(groups, keep)


def _param(t: Tensor, idx: Tensor, dim: int) -> nn.Parameter:
    return nn.Parameter(t.detach().index_select(dim, idx.to(t.device)).clone(), t.requires_grad)


def _slice_out(m: Any, idx: Tensor) -> None:
    m.weight = _param(m.weight, idx, 0)
    if getattr(m, "bias", None) is not None:
        m.bias = _param(m.bias, idx, 0)
    if isinstance(m, nn.Linear):
        m.out_features = len(idx)
    else:
        m.out_channels = len(idx)


def _slice_in(m: Any, idx: Tensor) -> None:
    m.weight = _param(m.weight, idx, 1)
    if isinstance(m, nn.Linear):
        m.in_features = len(idx)
    else:
        m.in_channels = len(idx)


def _slice_dw(m: Any, idx: Tensor) -> None:
    _slice_out(m, idx)
    m.in_channels = m.groups = len(idx)


def _slice_norm(m: Any, idx: Tensor) -> None:
    if getattr(m, "weight", None) is not None:
        m.weight = _param(m.weight, idx, 0)
        m.bias = _param(m.bias, idx, 0)
    if isinstance(m, nn.LayerNorm):
        m.normalized_shape = (len(idx),)
        return
    m.num_features = len(idx)
    for b in ("running_mean", "running_var"):
        if getattr(m, b, None) is not None:
            setattr(m, b, getattr(m, b).index_select(0, idx.to(getattr(m, b).device)).clone())


def _slice_param(model: nn.Module, target: str, idx: Tensor) -> None:
    owner, _, attr = target.rpartition(".")
    mod = model.get_submodule(owner) if owner else model
    setattr(mod, attr, _param(getattr(mod, attr), idx, 0))


_SLICERS = {"out": _slice_out, "in": _slice_in, "dw": _slice_dw, "norm": _slice_norm}


def prune_channels(model: nn.Module, plan: ChannelPlan) -> nn.Module:
    """A physically smaller copy of `model` without the channels `plan` removes."""
    new = copy.deepcopy(model)
    for g, keep in zip(plan.groups, plan.keep, strict=True):
        for kind, name in g.members:
            if kind == "param":
                _slice_param(new, name, keep)
            else:
                _SLICERS[kind](new.get_submodule(name), keep)
    return new


@torch.no_grad()
def mask_channels(model: nn.Module, plan: ChannelPlan) -> nn.Module:
    """A copy of `model` (same shapes) whose layers ignore the removed channels: every
    consumer's input slice of a removed channel is zeroed (see the module docstring)."""
    new = copy.deepcopy(model)
    for g, keep in zip(plan.groups, plan.keep, strict=True):
        drop = torch.ones(g.size, dtype=torch.bool)
        drop[keep] = False
        for kind, name in g.members:
            if kind == "in":
                w: Any = new.get_submodule(name).weight
                w[:, drop.to(w.device)] = 0
    return new


def prune_structured(
    model: nn.Module, example: Tensor, amount: float, importance: str = "l1"
) -> nn.Module:
    """`prune_channels(model, plan_channels(model, example, amount, importance))`."""
    return prune_channels(model, plan_channels(model, example, amount, importance))


def resize_to_state_dict(model: nn.Module, state: dict[str, Tensor]) -> nn.Module:
    """Shrink the layers of a freshly built `model` to the shapes of a pruned `state` dict
    (in place), so `model.load_state_dict(state)` then loads it: how a pruned checkpoint is
    read back without pickling code."""
    for name, m in model.named_modules():
        pre = f"{name}." if name else ""
        for key, t in list(m.named_parameters(recurse=False)) + list(
            m.named_buffers(recurse=False)
        ):
            full = pre + key
            if full in state and tuple(state[full].shape) != tuple(t.shape):
                new = torch.empty_like(state[full], device=t.device, dtype=t.dtype)
                if isinstance(t, nn.Parameter):
                    setattr(m, key, nn.Parameter(new, t.requires_grad))
                else:
                    setattr(m, key, new)
        w: Any = getattr(m, "weight", None)
        if isinstance(m, nn.modules.conv._ConvNd):
            depthwise = m.groups > 1 and m.groups == m.in_channels == m.out_channels
            m.out_channels = w.shape[0]
            m.in_channels = w.shape[0] if depthwise else w.shape[1] * m.groups
            if depthwise:
                m.groups = w.shape[0]
        elif isinstance(m, nn.Linear):
            m.out_features, m.in_features = w.shape
        elif isinstance(m, nn.LayerNorm) and w is not None:
            m.normalized_shape = (w.shape[0],)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm) and w is not None:
            m.num_features = w.shape[0]
    return model


__all__ = [
    "IMPORTANCES",
    "ChannelPlan",
    "UnsupportedModel",
    "group_importance",
    "mask_channels",
    "plan_channels",
    "prune_channels",
    "prune_structured",
    "resize_to_state_dict",
]
