"""`trainlab.fit`: the engine from a notebook, on the user's own model and data.

    summary = trainlab.fit(model, (x_train, y_train), val=(x_val, y_val), epochs=10,
                           optim__lr=1e-3)

`model` is trained in place (its best-on-val weights are in it at the end unless
`restore_best=False`). `train`, `val`, `test` may each be a `torch.utils.data.Dataset`
(items `(x, y)`), a `DataLoader` (its dataset, batch size, workers and collate function are
used; the engine's own sampler keeps the order a pure function of (seed, epoch)), a pair
`(x, y)` of tensors or NumPy arrays (the in-memory fast path; a `TensorDataset` of two
tensors is taken the same way), or a path as `trainlab train --data` takes (then `val` and
`test` default to its splits). User data is used as given: no standardization.

`overrides` set any config key: `optim__lr=1e-3` (double underscore for the dot),
`epochs=10` and `batch_size=32` as shortcuts, or a nested dict `optim={"lr": 1e-3}`.
Nothing global outlives the call: determinism flags, RNG streams, signal handlers and
the matplotlib backend are as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from trainlab.data import DataBundle, Split, check_sample
from trainlab.data.normalize import identity_stats
from trainlab.recipes import load_config
from trainlab.recipes.load import deep_merge, set_path
from trainlab.train.callbacks import Callback
from trainlab.train.run_dir import RunDir
from trainlab.train.supervised import SupervisedTask
from trainlab.train.task import Task
from trainlab.train.trainer import Trainer

_SHORTCUTS = {"epochs": "train.epochs", "batch_size": "data.batch_size", "lr": "optim.lr",
              "seed": "seed", "device": "train.device", "precision": "train.precision"}  # fmt: skip


def _config_tree(overrides: Mapping[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, value in overrides.items():
        dotted = _SHORTCUTS.get(key, key.replace("__", "."))
        if isinstance(value, Mapping) and "." not in dotted:
            tree = deep_merge(tree, {dotted: dict(value)})
        else:
            set_path(tree, dotted.split("."), value)
    return tree


def _as_tensor(a: Any, what: str) -> Tensor:
    if isinstance(a, Tensor):
        return a.detach()
    if isinstance(a, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(a))
    raise TypeError(f"{what}: expected a tensor or a NumPy array, got {type(a).__name__}")


def _as_split(data: Any, what: str) -> Split | Dataset | None:
    """A user's data as the in-memory `Split` (tensors) or a `Dataset` (lazy path)."""
    if data is None:
        return None
    if isinstance(data, DataLoader):
        return data.dataset
    if isinstance(data, TensorDataset) and len(data.tensors) == 2:
        data = data.tensors
    if isinstance(data, tuple | list) and len(data) == 2:
        x, y = _as_tensor(data[0], f"{what}[0] (x)"), _as_tensor(data[1], f"{what}[1] (y)")
        if len(x) != len(y):
            raise ValueError(f"{what}: x has {len(x)} samples but y has {len(y)}")
        if not x.is_floating_point():
            raise TypeError(f"{what}: x must be floating point, got {x.dtype}")
        if y.is_floating_point():
            y = y.float().reshape(len(y), -1) if y.ndim == 1 else y.float()
        else:
            y = y.long()
        return Split(x.float(), y)
    if isinstance(data, Dataset):
        return data
    raise TypeError(
        f"{what}: expected a Dataset, a DataLoader, an (x, y) pair of tensors or arrays, or "
        f"a path; got {type(data).__name__}"
    )


def _first_sample(split: Split | Dataset) -> tuple[Tensor, Tensor]:
    if isinstance(split, Split):
        return split.x[0], split.y[0]
    sample = split[0]
    check_sample(sample, split, 0)
    x, y = sample
    return torch.as_tensor(x), torch.as_tensor(y)


def _task_of(y: Tensor) -> str:
    """The task of one sample's target (not `trainlab.data.infer_task`, which reads a whole
    file's `y` and calls (N, C) floats multi-label: here a float vector is a multi-output
    regression, as the model passed in produces it)."""
    if y.is_floating_point():
        return "regression"
    if y.ndim == 2:
        return "segmentation"
    return "classification"


def _bundle(train: Any, val: Any, test: Any, model: nn.Module | None) -> DataBundle:
    tr = _as_split(train, "train")
    assert tr is not None
    va, te = _as_split(val, "val"), _as_split(test, "test")
    x0, y0 = _first_sample(tr)
    kind = _task_of(y0)
    if kind == "classification" and isinstance(tr, Split):
        outputs = int(tr.y.max()) + 1
    elif kind == "regression":
        outputs = int(y0.numel())
    elif model is not None:  # the model says how many classes (one forward on one sample)
        with torch.no_grad():
            was = model.training
            model.eval()
            param = next(model.parameters(), None)
            dev = param.device if param is not None else torch.device("cpu")
            outputs = int(model(x0.unsqueeze(0).to(dev)).shape[1])
            model.train(was)
    else:
        raise ValueError("train: a Dataset of classes needs a model to tell the class count")
    mean, std = identity_stats(tuple(x0.shape) or (1,))  # user data is used as given
    return DataBundle(
        train=tr,
        val=va,
        test=te,
        task=kind,
        num_outputs=outputs,
        in_shape=tuple(x0.shape),
        class_names=None,
        source=type(train).__name__,
        input_mean=mean,
        input_std=std,
    )


def fit(
    model: nn.Module | str | None,
    train: Any,
    val: Any = None,
    test: Any = None,
    *,
    loss: Callable[[Tensor, Tensor], Tensor] | None = None,
    optimizer: str | Callable[..., torch.optim.Optimizer] | None = None,
    task: Task | None = None,
    callbacks: list[Callback] | None = None,
    run_dir: bool = False,
    restore_best: bool = True,
    **overrides: Any,
) -> dict[str, Any]:
    """Train `model` on `train` (see the module docstring); returns the run's summary.

    `model`: an `nn.Module` (trained in place), a registered model name, or None with a
    `task` that builds its own modules. `loss`: any module or callable `(output, target) ->
    scalar` (default: the task's loss from the config). `optimizer`: a name
    (`optim.name`) or a factory `params -> torch.optim.Optimizer`. `run_dir=True` writes a
    run directory under `runs_dir` (config, metrics, checkpoints, plots) as the CLI does.
    """
    if isinstance(optimizer, str):
        overrides = {**overrides, "optim__name": optimizer}
        optimizer = None
    if optimizer is not None and not callable(optimizer):
        raise TypeError(
            f"optimizer: expected a name or a callable params -> Optimizer, got "
            f"{type(optimizer).__name__}"
        )
    tree = _config_tree(overrides)
    if isinstance(train, DataLoader):  # its batch size and workers, unless overridden
        data_keys = tree.setdefault("data", {})
        if train.batch_size is not None:
            data_keys.setdefault("batch_size", train.batch_size)
        data_keys.setdefault("num_workers", train.num_workers)
    if isinstance(model, str):
        set_path(tree, ["model", "name"], model)
        model = None
    if model is not None and not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module or a name, got {type(model).__name__}")
    if isinstance(train, str | Path):
        set_path(tree, ["data", "source"], str(train))
    config = load_config(base=tree)
    if isinstance(train, str | Path):
        from trainlab.train.build import build_data

        data = build_data(config)
    else:
        data = _bundle(train, val, test, model)
    if task is None:
        task = SupervisedTask(model, loss, optimizer)
    elif model is not None or loss is not None or optimizer is not None:
        raise ValueError("fit: pass either task=... or model/loss/optimizer, not both")
    run = None
    if run_dir:
        run = RunDir.create(config.runs_dir, config.name)
        run.write_config(config.model_dump(mode="json"))
    trainer = Trainer(config, data, run, callbacks or [], task=task, restore_best=restore_best)
    return trainer.fit()
