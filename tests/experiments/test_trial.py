"""run_trial: the engine without the test split, weights chosen on val, tested once."""

from __future__ import annotations

import pytest

from tests.experiments.conftest import small
from trainlab.errors import ConfigError
from trainlab.experiments import check_fits, run_trial
from trainlab.train import Trainer


def test_the_sealed_split_is_armed(sealed) -> None:
    # the control: the plain engine reads the test split (sizes, the final test), so a
    # trial that handed it the data as it is would fail the tests below
    with pytest.raises(AssertionError, match="the test split was read"):
        Trainer(small(), sealed).fit()


def test_a_trial_without_test_never_reads_it(sealed) -> None:
    result = run_trial(small(), sealed, test=False)
    assert result.test is None and result.weights == "best"
    # the best-on-val checkpoint: its val metric is the best epoch's
    assert result.val == max(row["val_acc"] for row in result.history)


@pytest.mark.slow
def test_the_tested_weights_are_the_best_on_val(digits) -> None:
    config = small(None, "train.epochs=3")
    result = run_trial(config, digits)
    trainer = Trainer(config, digits)
    summary = trainer.fit()  # the engine's own test of its best-on-val checkpoint
    assert result.test == summary["test"]["acc"]
    assert result.best_epoch == summary["best_epoch"]


@pytest.mark.slow
def test_with_ema_the_choice_between_best_and_ema_is_made_on_val(digits) -> None:
    result = run_trial(small(None, "train.epochs=3", "regularize.ema_decay=0.9"), digits)
    best = max(row["val_acc"] for row in result.history)
    ema = result.history[-1]["val_ema_acc"]
    assert result.val == max(best, ema)
    assert result.weights == ("ema" if ema > best else "best")


def test_image_augmentations_on_vectors_are_one_clear_error() -> None:
    config = small("modern")
    check_fits(config, (1, 8, 8))  # images: fine
    with pytest.raises(ConfigError, match=r"recipe 'modern' asks for image augmentations") as e:
        check_fits(config, (64,))
    assert "augment.mixup_alpha" in str(e.value) and "shape (64,)" in str(e.value)
    check_fits(small("classic"), (64,))  # no image augmentation: fine
