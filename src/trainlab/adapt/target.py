"""The target domain of a DANN run: unlabelled training inputs and a labelled test set.

Made either from a file (`adapt.target`: its samples split 70/30 by a seeded permutation
into the unlabelled pool and the test set) or from the source data by a shift
(`adapt.shift`: the source's training inputs shifted are the pool, its test inputs shifted
the test set, so no target test image was seen in any form). Both are standardized with the
source's training statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from trainlab.adapt.shift import apply_shift
from trainlab.data.normalize import standardize
from trainlab.errors import ConfigError


@dataclass
class TargetDomain:
    train_x: Tensor  # unlabelled: what DANN adapts to
    test_x: Tensor
    test_y: Tensor | None  # None: the target file had no labels (no target accuracy)


def _raw(split: Any, mean: Tensor, std: Tensor) -> Tensor:
    if not hasattr(split, "x"):
        raise ConfigError("adapt: DANN needs in-memory data (not data.lazy)")
    return split.x.cpu() * std + mean


def target_domain(config: Any, data: Any) -> TargetDomain:
    """The target domain the config names, prepared with the source's statistics."""
    a = config.adapt
    mean, std = data.input_mean.cpu(), data.input_std.cpu()
    if a.shift is not None:
        g = torch.Generator().manual_seed(config.seed + 104729)
        kw = {"degrees": a.degrees, "sigma": a.sigma, "factor": a.factor, "offset": a.offset}
        if data.test is None:
            raise ConfigError("adapt.shift: the source data has no test split to shift")
        moved = [
            apply_shift(_raw(s, mean, std), a.shift, generator=g, **kw)
            for s in (data.train, data.test)
        ]
        return TargetDomain(
            standardize(moved[0], mean, std), standardize(moved[1], mean, std), data.test.y.cpu()
        )
    if a.target is None:
        raise ConfigError(
            "task dann: set adapt.target (a file) or adapt.shift (invert, rotate, ...)"
        )
    from trainlab.data.inputs import label_names, read_inputs

    found = read_inputs(a.target, data.meta())
    x = standardize(torch.as_tensor(found.x), mean, std)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(config.seed))
    cut = int(0.7 * len(x))
    if cut < 1 or cut == len(x):
        raise ConfigError(f"adapt.target {a.target}: too few samples ({len(x)}) to split 70/30")
    y = None
    if found.y is not None:
        names = data.class_names or []
        labels = label_names(found)
        unknown = sorted(set(labels) - set(names))
        if unknown:
            raise ConfigError(
                f"adapt.target {a.target}: labels {unknown[:5]} are not source classes"
            )
        y = torch.tensor([names.index(v) for v in labels])[perm[cut:]]
    return TargetDomain(x[perm[:cut]], x[perm[cut:]], y)
