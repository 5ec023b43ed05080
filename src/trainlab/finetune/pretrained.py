"""Prepare a model for fine-tuning from the config: load `model.pretrained`, then apply
`finetune.method` (what `trainlab.train.build.build_model` calls after creating a model).

`model.pretrained` may be a run directory (its `checkpoints/best.pt`, else `last.pt`), a
trainlab checkpoint, a state_dict `.pt` file or a `.safetensors` file; the keys must fit
the model (`trainlab.models.load_pretrained`: the missing, unexpected and wrongly shaped
keys are listed) except those matching `finetune.exclude`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from torch import nn

from trainlab.errors import ConfigError
from trainlab.finetune.methods import apply_finetune
from trainlab.models.weights import WeightsMismatchError, load_pretrained

if TYPE_CHECKING:
    from trainlab.recipes.schema import Config


def weights_file(path: str | Path) -> Path:
    """The file behind `path`: itself, or a run directory's best (else last) checkpoint."""
    p = Path(path)
    if p.is_dir():
        for name in ("best.pt", "last.pt"):
            if (p / "checkpoints" / name).is_file():
                return p / "checkpoints" / name
        raise FileNotFoundError(f"{p} is a folder without checkpoints/best.pt or last.pt")
    if not p.is_file():
        raise FileNotFoundError(f"no file or run directory at {str(p)!r}")
    return p


def prepare_model(model: nn.Module, config: Config) -> nn.Module:
    """`model` with `model.pretrained` loaded and `finetune.method` applied (in place);
    bad input is a one-line `ConfigError`."""
    f = config.finetune
    if config.model.pretrained is not None:
        try:
            load_pretrained(model, weights_file(config.model.pretrained), exclude=f.exclude)
        except (FileNotFoundError, WeightsMismatchError) as e:
            msg = " ".join(str(e).split())  # the key lists on one line
            raise ConfigError(f"model.pretrained = {config.model.pretrained!r}: {msg}") from None
    if f.method == "full":
        return model
    try:
        apply_finetune(
            model,
            f.method,
            targets=f.targets,
            r=f.r,
            alpha=f.alpha,
            dropout=f.dropout,
            bottleneck=f.bottleneck,
            prefix_len=f.prefix_len,
            prefix_hidden=f.prefix_hidden,
            train=f.train,
            seed=config.seed,
        )
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return model
