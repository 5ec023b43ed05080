"""The `adapt` section: domain adaptation (trainlab.adapt), read by the `dann` task."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from trainlab.recipes.section import Section


class AdaptConfig(Section):
    """Where the target domain comes from and how DANN weighs the domain game."""

    method: Literal["dann", "source_only"] = Field(
        "dann", description="dann, or source_only: the same networks without the domain loss"
    )
    target: str | None = Field(
        None,
        description="target-domain data (.npz / folder / CSV with the source's input shape); "
        "labels only measure adaptation",
    )
    shift: Literal["invert", "rotate", "noise", "scale", "texture"] | None = Field(
        None, description="or make the target domain from the source data by this shift"
    )
    degrees: float = Field(30.0, description="shift=rotate: the angle")
    sigma: float = Field(0.3, gt=0, description="shift=noise: std as a fraction of the range")
    factor: float = Field(0.5, description="shift=scale: x * factor + offset")
    offset: float = 0.0
    gamma: float = Field(10.0, gt=0, description="lambda_p = 2 / (1 + exp(-gamma p)) - 1")
    domain_weight: float = Field(1.0, ge=0, description="weight of the domain loss")
    entropy: float = Field(
        0.0,
        ge=0,
        description="dann: weight of the mean prediction entropy on target samples "
        "(entropy minimization: push the boundary out of the target's dense regions)",
    )
    feature_dim: int = Field(64, gt=0, description="the feature extractor's output size")
    hidden: int = Field(64, gt=0, description="the domain classifier's hidden width")

    @model_validator(mode="after")
    def _one_target(self) -> AdaptConfig:
        if self.target is not None and self.shift is not None:
            raise ValueError("give adapt.target (a file) or adapt.shift, not both")
        return self
