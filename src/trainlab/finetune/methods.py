"""One entry point for every fine-tuning method: `apply_finetune(model, method, ...)`.

=========  ==========================================================================
method     what trains
=========  ==========================================================================
full       every parameter (plain fine-tuning from the pretrained weights)
head       only the classifier (`train`, default the model's `head` / `fc` /
           `classifier`): a linear probe on the frozen features (notes F3:2804-2830)
lora       LoRA A/B on the `targets` layers (default `qkv`), plus `train`
adapter    Houlsby adapters after the `targets` sublayers (default `attn`, `mlp`), plus
           `train`
prefix     the prefix and its reparameterization MLPs on every attention layer, plus
           `train`
=========  ==========================================================================

Progressive unfreezing is `method: full` with the engine's `optim.freeze` / `optim.unfreeze`
(the `finetune-progressive` recipe).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from trainlab.finetune.adapters import apply_adapters
from trainlab.finetune.lora import apply_lora
from trainlab.finetune.params import TrainableSummary, freeze_base, trainable_summary
from trainlab.finetune.prefix import apply_prefix
from trainlab.recipes.schema_finetune import METHODS

HEAD_NAMES = ("head", "fc", "classifier")


def default_train(model: nn.Module) -> list[str]:
    """The classifier trained with every partial method: the first of `head`, `fc`,
    `classifier` that the model has (none for a language model)."""
    for name in HEAD_NAMES:
        if isinstance(getattr(model, name, None), nn.Module):
            return [name]
    return []


def apply_finetune(
    model: nn.Module,
    method: str,
    *,
    targets: Sequence[str] | None = None,
    r: int = 8,
    alpha: float = 8.0,
    dropout: float = 0.0,
    bottleneck: int = 64,
    prefix_len: int = 8,
    prefix_hidden: int = 32,
    train: Sequence[str] | None = None,
    seed: int = 0,
) -> TrainableSummary:
    """Apply `method` to `model` in place and freeze what it does not train; returns the
    trainable counts. `train`: module patterns trained in full besides the method (default
    `default_train(model)`; `[]` for none)."""
    if method not in METHODS:
        raise ValueError(f"finetune.method = {method!r}: expected one of {', '.join(METHODS)}")
    keep = default_train(model) if train is None else list(train)
    if method == "full":
        return trainable_summary(model)
    kw: dict[str, Any] = {} if targets is None else {"targets": list(targets)}
    if method == "head" and not keep:
        raise ValueError(
            f"finetune.method = 'head': {type(model).__name__} has no head/fc/classifier "
            "module; name the trained modules in finetune.train"
        )
    if method == "lora":
        apply_lora(model, r=r, alpha=alpha, dropout=dropout, seed=seed, **kw)
    elif method == "adapter":
        apply_adapters(model, bottleneck=bottleneck, **kw)
    elif method == "prefix":
        apply_prefix(model, prefix_len, prefix_hidden, seed=seed)
    freeze_base(model, keep)
    return trainable_summary(model)
