"""What a fine-tuning run trains and saves: trainable counts, a per-method summary, and the
method's own weights (LoRA A/B, adapters, prefix) as a small state_dict.

`peft_state_dict(model)` holds the parameters the methods added plus every other parameter
that is trainable (e.g. a new classification head), under the model's own key names;
`load_peft_state_dict(model, state)` loads them into a model that the same method was applied
to (the base weights come from the pretrained file, as at training time).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from torch import Tensor, nn

from trainlab.finetune.adapters import Adapter
from trainlab.finetune.lora import LORA_LAYERS
from trainlab.finetune.prefix import PrefixTuning
from trainlab.finetune.targets import _matches
from trainlab.optim import freeze as _freeze
from trainlab.optim import unfreeze as _unfreeze


def trainable_parameters(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """`(name, parameter)` of every parameter with `requires_grad`."""
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


def _method_of(name: str, model: nn.Module) -> str | None:
    """Which method added parameter `name` ("lora", "adapter", "prefix"), or None."""
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        mod = model.get_submodule(".".join(parts[:i]))
        if isinstance(mod, LORA_LAYERS) and parts[i].startswith("lora_"):
            return "lora"
        if isinstance(mod, Adapter):
            return "adapter"
        if isinstance(mod, PrefixTuning):
            return "prefix"
    return None


def freeze_base(model: nn.Module, train: Sequence[str] = ()) -> list[str]:
    """Freeze the model except the parameters a method added and the modules matching
    `train` (globs or name suffixes, e.g. `["head"]`); returns the names left trainable.

    Frozen as the engine's `optim.freeze` freezes (`trainlab.optim.freeze`): no gradients,
    and the norm layers' running statistics pinned to eval mode, so a frozen BatchNorm keeps
    the pretrained statistics; the `train` modules are unfrozen again (their norms too)."""
    _freeze(model)
    keep_modules = [n for n, _ in model.named_modules() if n and any(_matches(n, t) for t in train)]
    if keep_modules:
        _unfreeze(model, keep_modules)
    keep = []
    for name, p in model.named_parameters():
        if _method_of(name, model) is not None:
            p.requires_grad_(True)
        if p.requires_grad:
            keep.append(name)
    return keep


@dataclass
class TrainableSummary:
    """Trainable / total parameter counts, split by what added them."""

    total: int
    trainable: int
    by_method: dict[str, int] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return self.trainable / self.total if self.total else 0.0

    def lines(self) -> list[str]:
        out = [f"trainable {self.trainable:,} / {self.total:,} ({100 * self.fraction:.2f}%)"]
        out += [f"  {k}: {v:,}" for k, v in self.by_method.items()]
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def trainable_summary(model: nn.Module) -> TrainableSummary:
    """Counts of all, trainable, and per method ('lora', 'adapter', 'prefix', 'base': the
    model's own trainable parameters such as a head)."""
    total = trainable = 0
    by: dict[str, int] = {}
    for name, p in model.named_parameters():
        total += p.numel()
        if p.requires_grad:
            trainable += p.numel()
            key = _method_of(name, model) or "base"
            by[key] = by.get(key, 0) + p.numel()
    return TrainableSummary(total, trainable, by)


def peft_state_dict(model: nn.Module) -> dict[str, Tensor]:
    """The method's weights (LoRA A/B, adapters, prefix) and every other trainable parameter,
    detached, under the model's key names: what a fine-tuned run needs beyond its base."""
    return {
        n: p.detach().clone()
        for n, p in model.named_parameters()
        if p.requires_grad or _method_of(n, model) is not None
    }


def load_peft_state_dict(model: nn.Module, state: Mapping[str, Tensor]) -> None:
    """Load `peft_state_dict` output into `model` (the same method applied); a key the
    model lacks or a shape that differs is a `ValueError` listing them."""
    own = dict(model.named_parameters())
    unexpected = sorted(k for k in state if k not in own)
    shapes = sorted(
        f"{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}"
        for k, v in state.items()
        if k in own and v.shape != own[k].shape
    )
    if unexpected or shapes:
        raise ValueError(
            "fine-tuning weights do not fit the model (was the same method applied?): "
            + "; ".join(
                [f"unexpected {unexpected[:10]}"] * bool(unexpected)
                + [f"shape mismatch {shapes[:10]}"] * bool(shapes)
            )
        )
    for k, v in state.items():
        own[k].data.copy_(v)
