"""Tasks by name: `task.name` in the config picks one, `task.args` are its keywords.

Three sources, so a new task never needs a change in `trainlab.train`:

- trainlab's own tasks, in the table below (`supervised` and the packages' tasks: `gan`,
  `adversarial`, `continual`, `dann`, `rl`, ...; imported only when created);
- the `trainlab.tasks` entry-point group of any installed package, e.g. in a
  ``pyproject.toml``: ``[project.entry-points."trainlab.tasks"] mytask =
  "mypackage.tasks:MyTask"``;
- `register_task(name)` in user code (a decorator), before the config is validated.

Listing names imports nothing heavy; a task's module is imported when it is created.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from trainlab.train.task import Task

T = TypeVar("T", bound="type[Task]")

_BUILTIN = {
    "supervised": "trainlab.train.supervised:SupervisedTask",
    "dann": "trainlab.adapt.dann:DANNTask",
    "rl": "trainlab.rl.task:RLTask",
    "early_exit": "trainlab.compress.exit_task:EarlyExitTask",
    "continual": "trainlab.continual.task:ContinualTask",
    "adversarial": "trainlab.robust.task:AdversarialTask",
    "backdoor": "trainlab.robust.task:BackdoorTask",
    "sft": "trainlab.finetune.sft:SFTTask",
    "mlm": "trainlab.selfsup.mlm:MLMTask",
    "gan": "trainlab.generative.gan:GANTask",
    "cgan": "trainlab.generative.gan:ConditionalGANTask",
    "pix2pix": "trainlab.generative.pix2pix:PairedGANTask",
    "autoencoder": "trainlab.generative.autoencoder:AutoencoderTask",
    "dae": "trainlab.generative.autoencoder:DenoisingAutoencoderTask",
    "mae": "trainlab.generative.mae:MAETask",
    "simclr": "trainlab.selfsup.simclr:SimCLRTask",
}
_REGISTERED: dict[str, Any] = {}
ENTRY_POINT_GROUP = "trainlab.tasks"


def _entry_points() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _table() -> dict[str, Any]:
    return {**_BUILTIN, **_entry_points(), **_REGISTERED}


def register_task(name: str) -> Callable[[T], T]:
    """Class decorator: make the Task subclass reachable as `task.name = name`."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"register_task: expected an identifier-like name, got {name!r}")

    def decorate(cls: T) -> T:
        from trainlab.train.task import Task

        if not (isinstance(cls, type) and issubclass(cls, Task)):
            raise TypeError(f"register_task({name!r}): expected a Task subclass, got {cls!r}")
        if name in _BUILTIN and cls.__module__ + ":" + cls.__qualname__ != _BUILTIN[name]:
            raise ValueError(f"register_task: {name!r} is a built-in task")
        cls.name = name
        _REGISTERED[name] = cls
        return cls

    return decorate


def list_tasks() -> list[str]:
    """Every task name (built-in, installed packages', registered), sorted."""
    return sorted(_table())


def task_class(name: str) -> type[Task]:
    table = _table()
    if name not in table:
        raise ValueError(
            f"task.name: unknown task {name!r}; expected one of {', '.join(sorted(table))}"
        )
    entry = table[name]
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = getattr(importlib.import_module(module), attr)
        entry.name = name
    return entry


def create_task(name: str, **args: Any) -> Task:
    """An instance of task `name` with keyword `args` (a ValueError names a bad argument)."""
    cls = task_class(name)
    try:
        return cls(**args)
    except TypeError as e:
        raise ValueError(f"task {name!r} with args {args}: {e}") from None
