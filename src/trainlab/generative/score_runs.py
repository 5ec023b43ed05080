"""Where a GAN run's score net comes from: trained here ('auto') or a supervised run's.

`auto_classifier`: a small CNN (widths 32, 64; an MLP for vectors) created with its own
seed (the process's RNG is untouched), trained later by `fit_classifier` on the training
split. `run_classifier`: the best checkpoint of a trainlab supervised run on data of the
same sample shape and classes, with the affine map between the two runs' standardizations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from trainlab.data import DataBundle, Split
from trainlab.errors import ConfigError
from trainlab.generative.classifier import ScoreNet
from trainlab.models import create_model

__all__ = ["auto_classifier", "run_classifier", "train_split"]


def auto_classifier(data: DataBundle, seed: int) -> ScoreNet:
    image = len(data.in_shape) == 3
    args: dict[str, Any] = {"widths": (32, 64)} if image else {"widths": (128, 128)}
    name = "cnn" if image else "mlp"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = create_model(name, num_classes=data.num_outputs, in_shape=data.in_shape, **args)
    return ScoreNet(net, name=f"{name} trained on the training split (gan.classifier = auto)")


def train_split(data: DataBundle, device: torch.device) -> tuple[Tensor, Tensor]:
    if not isinstance(data.train, Split):
        raise ConfigError(
            "gan.classifier = 'auto' trains on the in-memory training split; with "
            "data.lazy = true pass gan.classifier = RUN_DIR (or 'none')"
        )
    return data.train.x.to(device), data.train.y.to(device)


def run_classifier(run_dir: str, data: DataBundle) -> ScoreNet:
    from trainlab.recipes import validate
    from trainlab.train import RunDir, load_checkpoint
    from trainlab.train.build import build_model

    where = f"gan.classifier = {run_dir!r}"
    if not Path(run_dir).is_dir():
        raise ConfigError(f"{where}: not a run directory (or use 'auto' or 'none')")
    run = RunDir.open(run_dir)
    config = validate(run.read_config())
    state: dict[str, Any] = load_checkpoint(run.best if run.best.is_file() else run.last)
    meta = state["data"]
    if meta["task"] != "classification" or "model" not in state["modules"]:
        raise ConfigError(f"{where}: expected a supervised classification run")
    if tuple(meta["in_shape"]) != tuple(data.in_shape):
        raise ConfigError(
            f"{where}: the run's samples have shape {tuple(meta['in_shape'])}, this data's "
            f"{tuple(data.in_shape)}"
        )
    if data.labeled and meta["class_names"] != data.class_names:
        raise ConfigError(f"{where}: classes {meta['class_names']} differ from {data.class_names}")
    net = build_model(config, meta["num_outputs"], tuple(meta["in_shape"]), task="classification")
    net.load_state_dict(state["modules"]["model"])
    # this run's standardized x -> raw -> the classifier run's standardization
    scale = data.input_std / meta["input_std"]
    shift = (data.input_mean - meta["input_mean"]) / meta["input_std"]
    score = ScoreNet(
        net, scale=scale.float(), shift=shift.float(), name=f"the classifier of {run_dir}"
    )
    score.ready.fill_(True)  # type: ignore[operator]
    return score
