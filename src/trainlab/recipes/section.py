"""The base of every config section, for the core schema and the packages' own sections.

A package with settings of its own (robust, finetune, gan, ...) defines one `Section`
subclass in a torch-free module `trainlab/recipes/schema_<package>.py` and `Config` gains one
field for it, so `--print-config` and config validation never import torch.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict


def one_of(value: str, names: Sequence[str], what: str) -> str:
    """`value` if it is one of `names`, else a ValueError listing them."""
    if value not in names:
        raise ValueError(f"unknown {what}; expected one of " + ", ".join(names))
    return value


class Section(BaseModel):
    """Unknown keys are errors that name the key; assignments are validated; no inf/nan."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)
