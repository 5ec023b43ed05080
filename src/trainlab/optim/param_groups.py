"""Parameter groups: which parameters decay, which learning rate each gets, and freezing.

- No weight decay on 1-D parameters (biases, norm weights) and embeddings by default
  (nanoGPT's ``p.dim() >= 2`` rule; timm's ``param_groups_weight_decay``); name patterns
  (``fnmatch``) override either way.
- Layer-wise learning-rate decay (BEiT, ConvNeXt fine-tuning): layer ``i`` of ``L`` gets
  ``lr_scale = layer_decay ** (L + 1 - i)``; the stem/embeddings are layer 0, the head
  ``L + 1`` (scale 1). As in timm, each group carries its base ``lr`` and ``lr_scale``, which
  :class:`trainlab.schedules.Scheduler` multiplies in at every step. Without that scheduler
  (torch's schedulers ignore ``lr_scale``) pass ``fold_lr_scale=True``: then
  ``lr = base_lr * lr_scale`` and the key is left out, so nothing applies it twice.
- Per-module learning rates (notes F4:652): ``module_lrs={"head": 1e-3, "body": 1e-4}`` by
  name prefix.
- Freezing (notes F2:38-93) done right: :func:`freeze` sets ``requires_grad=False`` *and*
  drops ``.grad`` (an optimizer still updates a parameter whose stale grad is kept, through
  momentum or weight decay), and keeps frozen norm layers in eval mode so their running
  statistics do not move; :func:`unfreeze` undoes it and adds parameters the optimizer does
  not hold yet with ``add_param_group``. Parameters that are frozen but still in the
  optimizer get no grad, so their optimizer state does not change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from fnmatch import fnmatch
from typing import Any

import torch
from torch import nn

_BLOCK = re.compile(r"(?:^|\.)(?:blocks|layers|layer|stages|encoder\.layer|h)\.(\d+)(?:\.|$)")
_STEM = ("stem", "embed", "patch_embed", "pos_embed", "cls_token", "tok_embeddings", "wte", "wpe")


def _match(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch(name, pat) for pat in patterns)


def embedding_names(model: nn.Module) -> set[str]:
    """Names of the weights of every ``nn.Embedding`` / ``nn.EmbeddingBag`` in ``model``."""
    out = set()
    for mname, mod in model.named_modules():
        if isinstance(mod, (nn.Embedding, nn.EmbeddingBag)):
            out.add(f"{mname}.weight" if mname else "weight")
    return out


def layer_id(name: str, num_layers: int) -> int:
    """Default layer index for layer-wise lr decay: ``stem``/embeddings -> 0, the ``i``-th
    block (``blocks.i``, ``layers.i``, ``stages.i``, ...) -> ``i + 1``, anything else (head,
    final norm) -> ``num_layers + 1``."""
    if name.split(".")[0] in _STEM or any(name.startswith(s + ".") or name == s for s in _STEM):
        return 0
    m = _BLOCK.search(name)
    if m:
        return min(int(m.group(1)) + 1, num_layers)
    return num_layers + 1


def param_groups(
    model: nn.Module,
    *,
    lr: float,
    weight_decay: float = 0.0,
    no_decay_1d: bool = True,
    no_decay_embeddings: bool = True,
    no_decay: Sequence[str] = (),
    decay: Sequence[str] = (),
    layer_decay: float | None = None,
    num_layers: int | None = None,
    layer_id_fn: Callable[[str, int], int] = layer_id,
    module_lrs: dict[str, float] | None = None,
    fold_lr_scale: bool = False,
) -> list[dict[str, Any]]:
    """Groups for a torch optimizer over ``model``'s trainable parameters.

    Each group has ``params``, ``param_names``, ``weight_decay``, ``lr`` and ``lr_scale``
    (``lr * lr_scale`` is the group's effective lr; see the module docstring);
    parameters sharing (decay, lr) share a group. ``decay``/``no_decay`` are fnmatch
    patterns on parameter names (``decay`` wins). ``layer_decay`` needs ``num_layers`` (the
    number of blocks). ``module_lrs`` maps a name prefix to an absolute lr (longest prefix
    wins) and is combined with ``lr_scale``.
    """
    if not lr >= 0:
        raise ValueError(f"lr: expected >= 0, got {lr!r}")
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay: expected >= 0, got {weight_decay!r}")
    if layer_decay is not None:
        if not 0 < layer_decay <= 1:
            raise ValueError(f"layer_decay: expected a number in (0, 1], got {layer_decay!r}")
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(
                f"num_layers: expected an int >= 1 with layer_decay, got {num_layers!r}"
            )
    emb = embedding_names(model) if no_decay_embeddings else set()
    prefixes = sorted((module_lrs or {}).items(), key=lambda kv: -len(kv[0]))
    groups: dict[tuple[float, float, float], dict[str, Any]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        skip = (no_decay_1d and p.ndim <= 1) or name in emb or _match(name, no_decay)
        wd = weight_decay if (_match(name, decay) or not skip) else 0.0
        base = lr
        for prefix, plr in prefixes:
            if name == prefix or name.startswith(prefix.rstrip(".") + "."):
                base = plr
                break
        scale = 1.0
        if layer_decay is not None:
            assert num_layers is not None
            scale = layer_decay ** (num_layers + 1 - layer_id_fn(name, num_layers))
        new: dict[str, Any] = {"params": [], "param_names": [], "weight_decay": wd}
        new.update({"lr": base * scale} if fold_lr_scale else {"lr": base, "lr_scale": scale})
        g = groups.setdefault((wd, base, scale), new)
        g["params"].append(p)
        g["param_names"].append(name)
    return list(groups.values())


_NORMS = (
    nn.modules.batchnorm._BatchNorm,
    nn.GroupNorm,
    nn.LayerNorm,
    nn.modules.instancenorm._InstanceNorm,
)
_HOOKS = "_trainlab_frozen_norm_hooks"


def _keep_eval(module: nn.Module, args: Any) -> None:
    module.training = False


def _selected(model: nn.Module, patterns: Sequence[str] | None) -> list[tuple[str, nn.Module]]:
    mods = [(n, m) for n, m in model.named_modules()]
    if patterns is None:
        return mods
    return [(n, m) for n, m in mods if _match(n, patterns)]


def freeze(model: nn.Module, patterns: Sequence[str] | None = None) -> list[str]:
    """Freeze the modules whose names match ``patterns`` (all of ``model`` if None).

    Their parameters get ``requires_grad=False`` and ``grad=None``; their norm layers are
    pinned to eval mode (running statistics frozen, even under ``model.train()``).
    Returns the names of the parameters frozen.
    """
    frozen = []
    for mname, mod in _selected(model, patterns):
        for pname, p in mod.named_parameters():
            p.requires_grad_(False)
            p.grad = None
            frozen.append(f"{mname}.{pname}" if mname else pname)
        for sub in mod.modules():
            if isinstance(sub, _NORMS) and not hasattr(sub, _HOOKS):
                sub.training = False
                setattr(sub, _HOOKS, sub.register_forward_pre_hook(_keep_eval))
    return sorted(set(frozen))


def unfreeze(
    model: nn.Module,
    patterns: Sequence[str] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    **group_options: Any,
) -> list[str]:
    """Undo :func:`freeze` for the matching modules. Parameters that ``optimizer`` does not
    hold yet are added with ``optimizer.add_param_group({"params": ..., **group_options})``
    (progressive unfreezing). Norm layers follow ``model.training`` again."""
    names, new, new_names = [], [], []
    held = {id(p) for g in optimizer.param_groups for p in g["params"]} if optimizer else set()
    for mname, mod in _selected(model, patterns):
        for pname, p in mod.named_parameters():
            if not p.requires_grad:
                p.requires_grad_(True)
                names.append(f"{mname}.{pname}" if mname else pname)
            if optimizer is not None and id(p) not in held:
                held.add(id(p))
                new.append(p)
                new_names.append(f"{mname}.{pname}" if mname else pname)
        for sub in mod.modules():
            handle = sub.__dict__.pop(_HOOKS, None)
            if handle is not None:
                handle.remove()
                sub.training = model.training
    if optimizer is not None and new:
        group = {"params": new, **group_options}
        if "param_names" in optimizer.param_groups[0]:  # torch: all groups named, or none
            group["param_names"] = new_names
        optimizer.add_param_group(group)
    return sorted(set(names))
