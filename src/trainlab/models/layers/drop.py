"""Drop path (stochastic depth) for the models: `trainlab.regularize.drop_path`, plus stages.

The function, the module and the linear-in-depth rates live in `trainlab.regularize`
(F0:69-78: `"linear"` = timm/ConvNeXt's `linspace(0, rate, L)`, `"paper"` = Huang et al.'s
`l / L * rate`); they are re-exported here so every building block is found in
`trainlab.models.layers`. `split_by_stage` cuts the flat per-block list into the stages of
a multi-stage network (ResNet, ConvNeXt), since the rule runs over all blocks at once.
"""

from __future__ import annotations

from collections.abc import Sequence

from trainlab.regularize.drop_path import DropPath, drop_path, drop_path_rates


def split_by_stage(rates: Sequence[float], depths: Sequence[int]) -> list[list[float]]:
    """Split a flat list of per-block rates into per-stage lists of `depths` lengths."""
    if sum(depths) != len(rates):
        raise ValueError(f"depths {tuple(depths)} sum to {sum(depths)}, not {len(rates)} rates")
    out, start = [], 0
    for d in depths:
        out.append(list(rates[start : start + d]))
        start += d
    return out


def stage_drop_path_rates(
    rate: float, depths: Sequence[int], rule: str = "linear"
) -> list[list[float]]:
    """Per-stage lists of per-block rates, the rule running over all `sum(depths)` blocks."""
    return split_by_stage(drop_path_rates(rate, sum(depths), rule=rule), depths)


__all__ = ["DropPath", "drop_path", "drop_path_rates", "split_by_stage", "stage_drop_path_rates"]
