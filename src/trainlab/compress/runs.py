"""Reading a run's model back, pruned or not, and writing a compressed model as a run.

A structurally pruned model has smaller tensors than its registered architecture builds:
`load_run_model` builds the architecture from the run's config and shrinks it to the
checkpoint's shapes (`resize_to_state_dict`) before loading, so nothing but tensors is ever
unpickled (`torch.load(weights_only=True)`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from trainlab.errors import CheckpointError
from trainlab.recipes.schema import Config
from trainlab.train.checkpoint import save_checkpoint
from trainlab.train.run_dir import RunDir


def run_checkpoint(run: RunDir) -> Path:
    """The run's best checkpoint, else its last; a CheckpointError when it has neither."""
    for path in (run.best, run.last):
        if path.is_file():
            return path
    raise CheckpointError(
        f"{run.path}: no checkpoint (checkpoints/best.pt or checkpoints/last.pt); "
        "train the run first"
    )


def load_run_model(run: RunDir, config: Config) -> tuple[nn.Module, dict[str, Any]]:
    """(model with the run's weights, the checkpoint's data description), pruned or not
    (`trainlab.export.load_run_model` resizes the architecture to the checkpoint)."""
    from trainlab.export.run_model import load_run_model as load

    run_checkpoint(run)  # the compress commands' own message for a run without checkpoints
    found = load(run.path)
    return found.model, found.meta


def save_model_run(
    run: RunDir, config: Config, model: nn.Module, meta: dict[str, Any], extra: dict[str, Any]
) -> None:
    """Write `config.yaml` and `checkpoints/best.pt` (the model's weights, the data
    description, `extra` under "compress"), which `load_run_model` reads back (and `trainlab
    eval` too, for a model of its architecture's shapes: an unstructured result)."""
    run.write_config(config.model_dump(mode="json"))
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {"modules": {"model": state}, "data": meta, "epoch": 0, "compress": extra}
    save_checkpoint(run.best, payload)
