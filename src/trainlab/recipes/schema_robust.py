"""The `robust` config section (trainlab.robust): adversarial training and data poisoning.

Budgets are in the data's own units, before standardization (digits: [0, 1] = pixel / 16, so
eps = 0.25 is 4 of the 16 grey levels); trainlab maps them through the run's standardization
(per channel eps / std; bounds (low - mean) / std). Torch-free, like the whole schema.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from trainlab.recipes.section import Section


class RobustConfig(Section):
    """`task.name = adversarial` trains on adversarial examples (`method`: 'pgd', Madry et al.
    2018, or 'fgsm', fast FGSM with a random start, Wong et al. 2020); `poison_rate` > 0
    trains on a backdoored training split (notes F3:3560-3640)."""

    method: Literal["pgd", "fgsm"] = Field(
        "pgd", description="adversarial training: 'pgd' (Madry) or 'fgsm' (fast, random start)"
    )
    eps: float = Field(0.25, ge=0, description="perturbation budget, in the data's units")
    alpha: float | None = Field(
        None,
        gt=0,
        description="attack step, in the data's units; default 2.5 * eps / steps (pgd), "
        "1.25 * eps (fgsm)",
    )
    steps: int = Field(7, ge=1, description="PGD steps per training batch")
    norm: Literal["linf", "l2"] = Field("linf", description="the perturbation norm")
    mix: float = Field(
        1.0,
        ge=0,
        le=1,
        description="fraction of each training batch replaced by its adversarial examples "
        "(1: all adversarial, Madry; 0.5: half clean, half adversarial)",
    )
    bounds: tuple[float, float] | None = Field(
        None,
        description="input range [low, high] in the data's units; default: the pixel range "
        "for images, the training split's per-feature min/max for vectors and signals",
    )
    poison_rate: float = Field(
        0.0, ge=0, lt=1, description="backdoor: fraction of the training split poisoned (0: off)"
    )
    poison_target: int = Field(0, ge=0, description="backdoor: the attacker's target class")
    trigger_size: int = Field(3, ge=1, description="backdoor: side of the square trigger patch")
    trigger_value: float | None = Field(
        None, description="backdoor: the trigger's value in data units; default: the bounds' high"
    )

    @field_validator("bounds")
    @classmethod
    def _ordered(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and v[0] > v[1]:
            raise ValueError(f"expected [low, high] with low <= high, got {list(v)}")
        return v
