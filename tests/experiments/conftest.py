"""Small configs and data for the experiment tests: an MLP on the digits, one epoch."""

from __future__ import annotations

import pytest

from trainlab.data import Split
from trainlab.recipes import load_config
from trainlab.train import Callback
from trainlab.train.build import build_data

SMALL = ["model.name=mlp", "model.args.widths=[16]", "train.epochs=1", "log.every_steps=0"]


def small(recipe: str | None = None, *sets: str):
    values = {"recipe": recipe} if recipe else {}
    return load_config(None, [*SMALL, *sets], values=values)


class Sealed(Split):
    """A test split that fails the test if anything reads it (its tensors, length, a copy)."""

    def __getattribute__(self, name: str):
        if name in ("x", "y", "to"):
            raise AssertionError(f"the test split was read (.{name})")
        return super().__getattribute__(name)

    def __len__(self) -> int:
        raise AssertionError("the test split was read (len)")


@pytest.fixture(scope="module")
def digits():
    return build_data(small())


@pytest.fixture
def sealed(digits):
    from dataclasses import fields

    from trainlab.data import DataBundle

    kept = {f.name: getattr(digits, f.name) for f in fields(digits) if f.name != "test"}
    test = digits.test
    return DataBundle(**kept, test=Sealed(test.x, test.y))


class Cut(Exception):
    """What `CutAt` raises: an interruption in the middle of an experiment."""


class CutAt(Callback):
    def on_epoch_end(self, trainer, row) -> None:
        raise Cut


class Count(Callback):
    """Appends `what(trainer)` to `log` each time a trial starts training."""

    def __init__(self, log: list, what) -> None:
        self.log, self.what = log, what

    def on_fit_start(self, trainer) -> None:
        self.log.append(self.what(trainer))
