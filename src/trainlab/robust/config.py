"""From a run's config and data to the robust package's objects: the input space (how the
run standardized its inputs and their range), the model-space threat, the backdoor trigger
and the poisoned training split. The only module of `trainlab.robust` that reads a config."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from trainlab.data import DataBundle, Split
from trainlab.errors import ConfigError
from trainlab.robust.budget import InputSpace
from trainlab.robust.poison import Trigger, poison

#: offset added to the run's seed for the poisoning draw (independent of the split's draw)
POISON_SEED_OFFSET = 7919


def input_space(data: DataBundle, config: Any) -> InputSpace:
    """The run's `InputSpace`: its statistics and `robust.bounds` (or the default range)."""
    train_x = data.train.x if isinstance(data.train, Split) else None
    try:
        return InputSpace.of(
            train_x, data.input_mean, data.input_std, data.in_shape, config.robust.bounds
        )
    except ValueError as e:
        raise ConfigError(f"robust.{e}") from None


def trigger_of(space: InputSpace, in_shape: tuple[int, ...], config: Any) -> Trigger:
    """The backdoor trigger of `config.robust` (value in data units, default the high bound)."""
    r = config.robust
    value = r.trigger_value if r.trigger_value is not None else space.high
    try:
        return Trigger.patch(in_shape, r.trigger_size, space.to_model(value))
    except ValueError as e:
        raise ConfigError(f"robust.trigger_{e}") from None


def poison_bundle(data: DataBundle, config: Any) -> DataBundle:
    """`data` with its training split poisoned as `config.robust` says (val/test stay clean)."""
    r = config.robust
    if data.task != "classification":
        raise ConfigError(f"robust.poison_rate = {r.poison_rate}: backdoors need classification")
    if not isinstance(data.train, Split):
        raise ConfigError(
            f"robust.poison_rate = {r.poison_rate}: needs the in-memory data path "
            "(data.lazy = false)"
        )
    if r.poison_target >= data.num_outputs:
        raise ConfigError(
            f"robust.poison_target = {r.poison_target}: expected a class in "
            f"0..{data.num_outputs - 1}"
        )
    trigger = trigger_of(input_space(data, config), data.in_shape, config)
    gen = torch.Generator().manual_seed(config.seed + POISON_SEED_OFFSET)
    train, _ = poison(data.train, trigger, r.poison_target, r.poison_rate, gen)
    return replace(data, train=train)
