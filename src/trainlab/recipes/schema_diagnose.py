"""The `diagnose` config section: the gradient statistics taken during training."""

from __future__ import annotations

from pydantic import Field

from trainlab.recipes.section import Section


class DiagnoseConfig(Section):
    """Per-layer gradient statistics written to `diagnostics.csv` (see trainlab.diagnose)."""

    enabled: bool = Field(
        True, description="take per-layer gradient statistics during `trainlab train`"
    )
    every_steps: int = Field(
        50, ge=1, description="take them every N updates (no host sync on the other steps)"
    )
    dead_relu: bool = Field(
        True, description="also the fraction of ReLU units that output 0 on the whole batch"
    )
