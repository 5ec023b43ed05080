"""The `continual` config section (torch-free): the task stream and the method that learns it
(`trainlab continual`, `trainlab.continual`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from trainlab.recipes.section import Section, one_of

METHODS = ("naive", "ewc", "online-ewc", "gem", "agem", "replay")


class ContinualConfig(Section):
    """A stream of tasks cut from `data.source`, trained for `train.epochs` epochs each."""

    method: str = Field("naive", description="naive | ewc | online-ewc | gem | agem | replay")
    scenario: Literal["split", "permuted", "rotated"] = Field(
        "split", description="split: class groups; permuted: pixel permutations; rotated"
    )
    tasks: int = Field(5, ge=1, description="number of tasks in the stream")
    classes_per_task: int | None = Field(
        None, ge=1, description="split: classes per task (instead of `tasks`)"
    )
    multi_head: bool = Field(
        False, description="split: score each task on its own classes (task-incremental)"
    )
    shuffle_classes: bool = Field(False, description="split: a seeded class order")
    max_degrees: float = Field(180.0, description="rotated: task t turns t*max/tasks degrees")
    ewc_lambda: float = Field(1e4, ge=0, description="EWC penalty weight lambda")
    ewc_fisher: Literal["empirical", "true"] = Field(
        "empirical", description="Fisher from the labels or from the model's predictions"
    )
    ewc_gamma: float = Field(1.0, gt=0, le=1, description="online-ewc: Fisher decay")
    fisher_samples: int = Field(0, ge=0, description="samples for the Fisher (0: all)")
    memory_size: int = Field(
        50, ge=1, description="gem/agem: samples kept per task; replay: buffer capacity"
    )
    gem_margin: float = Field(0.0, ge=0, description="gem: the QP margin gamma")
    replay_batch: int = Field(64, ge=1, description="replay/agem: memory samples per step")

    @field_validator("method")
    @classmethod
    def _method(cls, v: str) -> str:
        return one_of(v, METHODS, "method")
