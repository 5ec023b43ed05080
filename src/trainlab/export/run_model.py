"""A finished run's model, rebuilt from its config and a checkpoint, or from an export.

`load_run_model(path)` takes a run directory (its best checkpoint by default, the last one
with `weights="last"`, the EMA weights with `ema=True`) or a folder written by `trainlab
export` in safetensors format (`model.json` + `model.safetensors`: rebuilt from the zoo, no
trainlab config needed). Either way the result carries the data metadata the model was
trained with, so new inputs can be prepared the way its training data was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainlab.errors import CheckpointError, ConfigError
from trainlab.export.card import make_card, meta_of, read_card

CARD = "model.json"


@dataclass
class RunModel:
    """`model` (eval mode, CPU) with `meta` (DataBundle.meta() keys) and its `card`."""

    model: nn.Module
    meta: dict[str, Any]
    card: dict[str, Any]
    source: str  # the file the weights came from


def open_run(path: str | Path) -> tuple[Any, Any]:
    """(RunDir, validated Config) of an existing run directory; a bad config is a
    ConfigError naming the file."""
    from trainlab.recipes import validate
    from trainlab.train import RunDir

    run = RunDir.open(path)
    try:
        config = validate(run.read_config())
    except ConfigError as e:
        raise ConfigError(f"{run.config}: {e}") from None
    return run, config


def _ema_weights(state: dict[str, Any], weights: dict[str, Any]) -> dict[str, Any]:
    emas = [u["ema"] for u in state.get("updaters", {}).values() if u.get("ema") is not None]
    if not emas:
        raise ConfigError("--ema: the run kept no EMA of its weights (regularize.ema was off)")
    return dict(weights) | {k: v for k, v in emas[0]["shadow"].items() if k in weights}


def load_run_model(path: str | Path, *, weights: str = "best", ema: bool = False) -> RunModel:
    """The model of a run directory or of a safetensors export folder (see the module doc)."""
    from trainlab.models import create_model

    path = Path(path)
    if weights not in ("best", "last"):
        raise ConfigError(f"weights {weights!r}: expected 'best' or 'last'")
    if (path / CARD).is_file():
        card = read_card(path / CARD)
        file = path / card.get("weights", "model.safetensors")
        if not file.is_file() or file.suffix != ".safetensors":
            raise CheckpointError(f"{path}: no safetensors weights next to {CARD}")
        from safetensors.torch import load_file

        model = create_model(card["model"]["name"], **card["model"]["args"])
        _load(model, load_file(str(file)), file)
        return RunModel(model.eval(), meta_of(card), card, str(file))

    from trainlab.train import load_checkpoint
    from trainlab.train.build import build_model, model_spec

    run, config = open_run(path)
    if config.model.pretrained is not None:  # the checkpoint holds every weight already
        config = config.model_copy(deep=True)
        config.model.pretrained = None
    file = run.best if weights == "best" and run.best.is_file() else run.last
    if not file.is_file():
        raise CheckpointError(f"{run.path}: no checkpoint (checkpoints/best.pt or last.pt)")
    state = load_checkpoint(file)
    meta = state["data"]
    if "model" not in state["modules"]:
        raise CheckpointError(f"{file}: the run's task has no 'model' module to export")
    shape = tuple(meta["in_shape"])
    name, args = model_spec(config, meta["num_outputs"], shape, task=meta["task"])
    model = build_model(config, meta["num_outputs"], shape, task=meta["task"])
    params = state["modules"]["model"]
    _load(model, _ema_weights(state, params) if ema else params, file)
    card = make_card(
        name,
        args,
        meta,
        source_run=str(run.path),
        checkpoint=file.name + (" (EMA weights)" if ema else ""),
        epoch=int(state.get("epoch", 0)),
        target=config.data.target,
        finetune=config.finetune.model_dump(mode="json")
        if config.finetune.method != "full"
        else None,
    )
    return RunModel(model.eval(), meta, card, str(file))


def _load(model: nn.Module, weights: dict[str, torch.Tensor], file: Path) -> None:
    """Load `weights`, first shrinking the layers of a structurally pruned model's
    architecture to the checkpoint's shapes (`trainlab.compress`)."""
    from trainlab.compress.structured import resize_to_state_dict

    resize_to_state_dict(model, weights)
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(f"{file}: weights do not fit the model ({first})") from None
