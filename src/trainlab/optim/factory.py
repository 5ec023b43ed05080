"""Build the optimizer a config names (the seam the trainer calls).

Returns trainlab's own optimizers (drop-ins for torch.optim). Given a module, parameters
are grouped by :func:`trainlab.optim.param_groups.param_groups` (no weight decay on 1-D
parameters and embeddings by default, optional layer-wise lr decay and per-module lrs).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn

from trainlab.optim.lbfgs import LBFGS
from trainlab.optim.optimizers import (
    ASGD,
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    NAdam,
    RMSprop,
    Rprop,
)
from trainlab.optim.param_groups import param_groups
from trainlab.optim.variants import NesterovLookaheadSGD, VelocitySGD

_CLASSES: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": SGD, "adam": Adam, "adamw": AdamW, "adagrad": Adagrad, "rmsprop": RMSprop,
    "adadelta": Adadelta, "adamax": Adamax, "nadam": NAdam, "asgd": ASGD, "rprop": Rprop,
    "lbfgs": LBFGS, "sgd_velocity": VelocitySGD, "sgd_lookahead": NesterovLookaheadSGD,
}  # fmt: skip
OPTIMIZERS = tuple(_CLASSES)
#: the names a training config may use (the engine passes L-BFGS its closure)
CONFIG_OPTIMIZERS = OPTIMIZERS
#: optimizers whose step re-evaluates the loss through a closure
CLOSURE_OPTIMIZERS = ("lbfgs",)

_USES = {  # which of the common arguments each optimizer takes
    # RMSprop's momentum (default 0) goes through `options`; the notes' SGD variants take
    # their 2-lambda-w penalty as `options: {l2: lambda}` (F2:13-22)
    "momentum": ("sgd", "sgd_velocity", "sgd_lookahead"),
    "nesterov": ("sgd",),
    "betas": ("adam", "adamw", "adamax", "nadam"),
    "eps": ("adam", "adamw", "adamax", "nadam", "adagrad", "rmsprop", "adadelta"),
    "weight_decay": ("sgd", "adam", "adamw", "adagrad", "rmsprop", "adadelta", "adamax",
                     "nadam", "asgd"),
}  # fmt: skip


def build_optimizer(
    params: Iterable[Any] | nn.Module,
    name: str,
    *,
    lr: float,
    weight_decay: float = 0.0,
    momentum: float = 0.9,
    nesterov: bool = False,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    decoupled_weight_decay: bool | None = None,
    no_decay_1d: bool = True,
    no_decay_embeddings: bool = True,
    no_decay: Sequence[str] = (),
    decay: Sequence[str] = (),
    layer_decay: float | None = None,
    num_layers: int | None = None,
    module_lrs: dict[str, float] | None = None,
    options: dict[str, Any] | None = None,
) -> torch.optim.Optimizer:
    """The trainlab optimizer ``name`` (one of ``OPTIMIZERS``) over ``params`` or a module.

    ``momentum``/``nesterov`` apply to the optimizers that take them, ``betas`` and ``eps``
    likewise; ``decoupled_weight_decay`` (None: the optimizer's default) chooses AdamW-style
    decay; ``options`` passes any other constructor argument (e.g. ``{"amsgrad": True}``).
    The grouping arguments apply when ``params`` is a module.
    """
    if name not in _CLASSES:
        raise ValueError(
            f"optim.name: unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZERS)}"
        )
    kw: dict[str, Any] = {"lr": lr}
    values = {"momentum": momentum, "nesterov": nesterov, "betas": tuple(betas), "eps": eps,
              "weight_decay": weight_decay}  # fmt: skip
    for arg, names in _USES.items():
        if name in names:
            kw[arg] = values[arg]
    if name == "sgd" and not momentum:
        kw["nesterov"] = False
    if decoupled_weight_decay is not None and name in _USES["weight_decay"]:
        kw["decoupled_weight_decay"] = decoupled_weight_decay
    kw.update(options or {})
    if isinstance(params, nn.Module):
        if name == "lbfgs":
            params = [p for p in params.parameters() if p.requires_grad]
        else:
            params = param_groups(
                params, lr=lr, weight_decay=kw.get("weight_decay", 0.0), no_decay_1d=no_decay_1d,
                no_decay_embeddings=no_decay_embeddings, no_decay=no_decay, decay=decay,
                layer_decay=layer_decay, num_layers=num_layers, module_lrs=module_lrs,
            )  # fmt: skip
    return _CLASSES[name](params, **kw)
