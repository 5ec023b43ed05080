"""Build the run's components from the config: model, optimizer, schedule, loss.

The only place where config sections meet component constructors; components themselves
know nothing of the config.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from trainlab.augment import (
    PerImageRandAugment,
    Placement,
    PlacementChoice,
    TrainAugment,
    augment_placement,
    measure_placement,
)
from trainlab.data import BatchLoader, DataBundle, Split, load_dataset
from trainlab.errors import ConfigError
from trainlab.models import create_model, list_models, model_accepts
from trainlab.optim import build_optimizer
from trainlab.recipes.schema import Config
from trainlab.regularize import WeightEMA
from trainlab.schedules import Schedule
from trainlab.schedules import build_schedule as build_schedule_from_kwargs


def build_data(config: Config) -> DataBundle:
    """The config's dataset, split with the run's seed and normalized (its training split
    poisoned when `robust.poison_rate` > 0), or the task's own data (`Task.build_data`)."""
    from trainlab.train.registry import task_class

    own = task_class(config.task.name).build_data(config)
    if own is not None:
        return own
    d = config.data
    data = load_dataset(
        d.source,
        target=d.target,
        task=d.task,
        split=d.split,
        seed=config.seed,
        image_size=d.image_size,
        normalize=d.normalize,
        layout=d.layout,
        lazy=d.lazy,
        stats_samples=d.stats_samples,
    )
    if config.robust.poison_rate > 0:  # a backdoored training split (trainlab.robust)
        from trainlab.robust.config import poison_bundle

        data = poison_bundle(data, config)
    return data


def model_name(config: Config, task: str) -> str:
    """`model.name`, with 'auto' resolved: `unet` for segmentation, `cnn` otherwise."""
    name = config.model.name
    if name == "auto":
        return "unet" if task == "segmentation" else "cnn"
    return name


def _rate_arg(
    name: str, key: str, value: float, args: dict[str, Any], why: str, *accepted: str
) -> None:
    """Pass `value` to the first constructor argument of `accepted` that model `name` takes."""
    for arg in accepted:
        if model_accepts(name, arg):
            args.setdefault(arg, value)
            return
    takers = [m for m in list_models() if any(model_accepts(m, a) for a in accepted)]
    raise ConfigError(
        f"{key} = {value}: model {name!r} {why}; expected the default, or one of "
        f"{', '.join(takers)}"
    )


def model_spec(
    config: Config,
    num_outputs: int,
    in_shape: tuple[int, ...],
    *,
    task: str = "classification",
    name: str | None = None,
    extra_args: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """(zoo name, keyword arguments) of the config's model: `create_model(name, **args)`
    builds it (what `trainlab export` records so the model can be rebuilt without trainlab's
    config)."""
    name = name or model_name(config, task)
    args = dict(config.model.args) | dict(extra_args or {})
    r = config.regularize
    if r.drop_path_rate > 0:
        _rate_arg(
            name, "regularize.drop_path_rate", r.drop_path_rate, args,
            "has no residual branches to drop", "drop_path_rate",
        )  # fmt: skip
    if r.dropout is not None:
        _rate_arg(
            name, "regularize.dropout", r.dropout, args, "has no dropout", "dropout", "drop_rate"
        )
    return name, {"num_classes": num_outputs, "in_shape": tuple(in_shape), **args}


def build_model(
    config: Config,
    num_outputs: int,
    in_shape: tuple[int, ...],
    *,
    task: str = "classification",
    name: str | None = None,
    extra_args: dict[str, Any] | None = None,
) -> nn.Module:
    """The config's model (or `name`) for `num_outputs` outputs and samples of `in_shape`,
    with `model.pretrained` loaded and `finetune.method` applied."""
    name, args = model_spec(
        config, num_outputs, in_shape, task=task, name=name, extra_args=extra_args
    )
    try:
        model = create_model(name, **args)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"model = {name!r} with args {config.model.args}: {e}") from None
    from trainlab.finetune.pretrained import prepare_model  # model.pretrained, finetune.*

    return prepare_model(model, config)


def _per_image_randaugment(config: Config, data: DataBundle) -> PerImageRandAugment:
    a = config.augment
    return PerImageRandAugment(
        a.randaugment_n,
        a.randaugment_m,
        magnitude_std=a.randaugment_mstd,
        mean=data.input_mean,
        std=data.input_std,
        seed=config.seed,
    )


def _measure_placement(config: Config, data: DataBundle, device: torch.device) -> PlacementChoice:
    """Batched RandAugment against the loader's worker path on the first training batch.

    Both paths are the ones the run would use, with throwaway state: a `TrainAugment` that
    only does RandAugment (its own generator, unrelated to the run's) and the per-image
    transform (stateless: one generator per image) mapped by a `BatchLoader` over
    `data.num_workers` threads, exactly as training maps it. The run's random streams are
    untouched, so an `auto` run equals the same run with the chosen placement set.
    """
    a = config.augment
    train = data.train
    assert isinstance(train, Split)  # measured on the in-memory path only
    n = min(config.data.batch_size, len(train))
    # (n, C, H, W) standardized images, as the loader yields them
    batch = Split(train.x[:n].to(device), train.y[:n].to(device))
    batched = TrainAugment(
        1,
        mean=data.input_mean,
        std=data.input_std,
        randaugment_n=a.randaugment_n,
        randaugment_m=a.randaugment_m,
        randaugment_mstd=a.randaugment_mstd,
        seed=config.seed,
    )
    loader = BatchLoader(
        batch,
        n,
        transform=_per_image_randaugment(config, data),
        num_workers=config.data.num_workers,
    )
    return measure_placement(lambda: batched(batch.x, batch.y), lambda: next(iter(loader)), n)


def resolve_placement(
    config: Config, data: DataBundle, device: torch.device, recorded: Placement | None = None
) -> PlacementChoice | None:
    """Where RandAugment runs (None: it is off, or the data are not images).

    A resumed run's `recorded` placement wins; then `augment.placement = batch | worker` is
    obeyed (`worker` needs a CPU and `data.num_workers > 0`); `auto` follows
    `augment_placement`'s rule and, on a CPU with workers, measures both paths once
    (`_measure_placement`).
    """
    a, workers = config.augment, config.data.num_workers
    if a.placement == "worker" and (workers == 0 or device.type != "cpu"):
        raise ConfigError(
            f"augment.placement = 'worker' needs data.num_workers > 0 on a CPU device; got "
            f"data.num_workers = {workers} on {device.type} (set augment.placement=batch or auto)"
        )
    if a.randaugment_n == 0 or len(data.in_shape) != 3:
        return None
    if recorded is not None:
        return PlacementChoice(recorded, "recorded by the run")
    if a.placement != "auto":
        return PlacementChoice(a.placement, "augment.placement")
    rule = augment_placement(device, workers)
    if rule is not None:
        why = "data.num_workers = 0" if device.type == "cpu" else f"on {device.type}"
        return PlacementChoice(rule, why)
    return _measure_placement(config, data, device)


def build_worker_transform(
    config: Config, data: DataBundle, placement: PlacementChoice | None
) -> PerImageRandAugment | None:
    """RandAugment per image in the loader's workers when `placement` says "worker";
    None: it runs batched on the device (or is off)."""
    if placement is None or placement.placement != "worker":
        return None
    return _per_image_randaugment(config, data)


def build_augment(
    config: Config, data: DataBundle, *, batch_randaugment: bool = True
) -> TrainAugment | None:
    """The config's batch augmentation (None when every `augment.*` is off);
    `batch_randaugment=False` leaves RandAugment to the loader's workers."""
    a = config.augment
    aug = TrainAugment(
        max(int(data.num_outputs), 1),
        mean=data.input_mean,
        std=data.input_std,
        hflip=a.hflip,
        randaugment_n=a.randaugment_n if batch_randaugment else 0,
        randaugment_m=a.randaugment_m,
        randaugment_mstd=a.randaugment_mstd,
        erasing_prob=a.erasing_prob,
        erasing_mode=a.erasing_mode,
        erasing_count=a.erasing_count,
        mixup_alpha=a.mixup_alpha,
        cutmix_alpha=a.cutmix_alpha,
        switch_prob=a.switch_prob,
        mix_prob=a.mix_prob,
        mix_mode=a.mode,
        label_smoothing=config.train.label_smoothing,
        smoothing=config.loss.smoothing,
        seed=config.seed,
    )
    if not aug.active:
        return None
    if len(data.in_shape) != 3:
        raise ConfigError(
            f"augment.*: image augmentations need images (C, H, W); this data has samples of "
            f"shape {tuple(data.in_shape)} (set data.layout=images or turn augment.* off)"
        )
    if data.task == "segmentation":
        raise ConfigError(
            "augment.*: the batch augmentations transform images, not their masks, so they "
            "would misalign a segmentation's targets; turn augment.* off for segmentation"
        )
    if aug.mixes and data.task != "classification":
        raise ConfigError(
            f"augment.mixup_alpha / augment.cutmix_alpha: mixing needs a classification task, "
            f"got {data.task!r}"
        )
    return aug


def build_ema(config: Config, model: nn.Module) -> WeightEMA | None:
    r = config.regularize
    if r.ema_decay <= 0:
        return None
    return WeightEMA(model, r.ema_decay, warmup=None if r.ema_warmup == "none" else r.ema_warmup)


def build_optimizer_from_config(
    config: Config, model: nn.Module, overrides: dict[str, Any] | None = None
) -> torch.optim.Optimizer:
    """The config's `optim` section (with `overrides` of its keys) over `model`."""
    o = config.optim
    if overrides:
        unknown = sorted(set(overrides) - set(type(o).model_fields))
        if unknown:
            raise ConfigError(
                f"optimizer overrides {unknown}: not keys of optim; expected some of "
                + ", ".join(type(o).model_fields)
            )
        o = type(o).model_validate(o.model_dump() | overrides)
    try:
        return build_optimizer(
            model,
            o.name,
            lr=o.lr,
            weight_decay=o.weight_decay,
            momentum=o.momentum,
            nesterov=o.nesterov,
            betas=o.betas,
            eps=o.eps,
            decoupled_weight_decay=o.decoupled_weight_decay,
            no_decay_1d=o.no_decay_1d,
            no_decay_embeddings=o.no_decay_embeddings,
            no_decay=o.no_decay,
            decay=o.decay,
            layer_decay=o.layer_decay,
            num_layers=o.num_layers,
            module_lrs=o.module_lrs,
            options=o.options,
        )
    except (TypeError, ValueError) as e:
        raise ConfigError(f"optim = {o.name!r} with options {o.options}: {e}") from None


def build_schedule(config: Config, steps_per_epoch: int) -> Schedule:
    """The lr factor as a function of the optimizer step, over the whole run.

    A `ReduceOnPlateau` (sched.name = plateau) is also a Schedule; the Scheduler built on
    it exposes `.plateau`, which the Trainer feeds with the validation metric.
    """
    s = config.sched
    total = config.train.epochs * steps_per_epoch
    warm_epochs, warm_steps = s.warmup_epochs, s.warmup_steps
    if warm_epochs is None and warm_steps is None:  # the default warmup
        own = s.name in ("one_cycle", "resnet")  # their warmup is part of their shape
        warm_steps = 0 if own else min(steps_per_epoch, total - 1)
    params = dict(s.params)
    if s.min_factor != 0:
        params["min_factor"] = s.min_factor
    try:
        return build_schedule_from_kwargs(
            s.name,
            epochs=config.train.epochs,
            steps_per_epoch=steps_per_epoch,
            warmup_epochs=warm_epochs or 0.0,
            warmup_steps=warm_steps,
            warmup_kind=s.warmup_kind,
            warmup_start_factor=s.warmup_start_factor,
            unit=s.unit,
            **params,
        )
    except ValueError as e:
        raise ConfigError(f"sched ({s.name}): {e}") from None


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device = {name!r}: CUDA is not available on this machine")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"train.device = {name!r}: MPS is not available on this machine")
    return device
