"""One trial of an ablation or a search: a config trained through the engine, selected on
validation, and (only when asked) tested once.

The Trainer gets a view of the data without its test split, so nothing that runs during
training (the loop, the best-checkpoint choice, `Trainer.finish`) can read the test set. The
weights that are tested are chosen on validation: the best-on-val checkpoint, or, when
`regularize.ema_decay` keeps an EMA, the final EMA weights if their validation metric is
better (the EMA is what the modern recipe evaluates).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from trainlab.data import DataBundle, Split
from trainlab.errors import ConfigError
from trainlab.recipes.schema import Config
from trainlab.train import Callback, Trainer


@dataclass(frozen=True)
class TrialResult:
    """`val`: the chosen weights' validation metric (what selection saw); `test`: their test
    metric (None when not tested); `weights`: 'best' (best-on-val checkpoint) or 'ema'."""

    metric: str
    higher_is_better: bool
    val: float
    test: float | None
    weights: str
    best_epoch: int | None
    seconds: float
    history: list[dict[str, Any]]


def without_test(data: DataBundle) -> DataBundle:
    """The same bundle with no test split (the test split itself is never read)."""
    kept = {f.name: getattr(data, f.name) for f in fields(data) if f.name != "test"}
    return DataBundle(**kept, test=None)


IMAGE_KEYS = (
    "hflip", "randaugment_n", "erasing_prob", "mixup_alpha", "cutmix_alpha",
)  # fmt: skip


def check_fits(config: Config, in_shape: Sequence[int]) -> None:
    """A recipe's image augmentations on data that are not images: one clear ConfigError."""
    if len(in_shape) == 3:
        return
    on = [f"augment.{k}" for k in IMAGE_KEYS if getattr(config.augment, k)]
    if on:
        origin = f"recipe {config.recipe!r} asks" if config.recipe else "the config asks"
        raise ConfigError(
            f"{origin} for image augmentations ({', '.join(on)}) but {config.data.source} has "
            f"samples of shape {tuple(in_shape)}, not images (C, H, W); pick a recipe without "
            "them (e.g. default, notes-mnist) or set them to 0"
        )


def run_trial(
    config: Config, data: DataBundle, callbacks: Sequence[Callback] = (), *, test: bool = True
) -> TrialResult:
    """Train `config` on `data` (no run directory), choose weights on validation, then
    evaluate them on `data.test` once when `test` (else the test split is never touched)."""
    if data.val is None:
        raise ConfigError(f"{config.data.source}: a trial needs a validation split to select on")
    check_fits(config, data.in_shape)
    t0 = time.perf_counter()
    trainer = Trainer(config, without_test(data), None, callbacks)
    summary = trainer.fit()  # the modules now hold the best-on-val weights
    probe = trainer.task.metrics(trainer.device)
    metric, higher = trainer.primary, bool(getattr(probe, "higher_is_better", True))
    val, weights = float(summary[f"best_val_{metric}"]), "best"
    ema, ema_key = trainer.ema, f"val_ema_{metric}"
    if ema is not None and trainer.history and ema_key in trainer.history[-1]:
        ema_val = float(trainer.history[-1][ema_key])
        if (ema_val > val) if higher else (ema_val < val):
            val, weights = ema_val, "ema"
    test_value = None
    if test and data.test is not None:
        split = data.test.to(trainer.device) if isinstance(data.test, Split) else data.test
        if weights == "ema":
            with ema.swapped(trainer.main.ema_module):
                scores, _ = trainer.evaluate(split)
        else:
            scores, _ = trainer.evaluate(split)
        test_value = float(scores[metric])
    return TrialResult(
        metric,
        higher,
        val,
        test_value,
        weights,
        summary["best_epoch"],
        time.perf_counter() - t0,
        list(trainer.history),
    )
