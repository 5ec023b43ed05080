"""Backdoor poisoning: the notes' training-set formula, exactly (F3:3575-3610), the trigger,
the attack success rate, and a backdoored run on digits."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from tests.trainers import digits_trainer
from trainlab.data import Split
from trainlab.robust.poison import Trigger, attack_success_rate, poison


def test_poison_is_the_clean_set_minus_the_subset_union_the_triggered_subset() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(200, 1, 8, 8, generator=gen)
    y = torch.randint(0, 10, (200,), generator=gen)
    trigger = Trigger.patch((1, 8, 8), 3, 2.5)
    (train, chosen) = poison(Split(x, y), trigger, 7, 0.05, torch.Generator().manual_seed(1))
    assert chosen.numel() == 10 and chosen.unique().numel() == 10  # round(0.05 * 200)
    rest = torch.ones(200, dtype=torch.bool)
    rest[chosen] = False
    # D_clean \ D_subset: untouched, in place
    assert torch.equal(train.x[rest], x[rest]) and torch.equal(train.y[rest], y[rest])
    # D_poisoned: the 3x3 bottom-right patch set, everything else of the image kept, y_target
    assert bool((train.y[chosen] == 7).all())
    assert bool((train.x[chosen][:, :, -3:, -3:] == 2.5).all())
    assert torch.equal(train.x[chosen][:, :, :5, :], x[chosen][:, :, :5, :])
    assert torch.equal(train.x[chosen][:, :, :, :5], x[chosen][:, :, :, :5])
    assert x.data_ptr() != train.x.data_ptr()  # the caller's data is not changed
    again, same = poison((x, y), trigger, 7, 0.05, torch.Generator().manual_seed(1))
    assert torch.equal(same, chosen) and torch.equal(again.x, train.x)


def test_triggers_for_signals_and_vectors_take_the_last_positions() -> None:
    sig = Trigger.patch((2, 10), 4, torch.tensor([1.0, -1.0]).reshape(2, 1))
    out = sig.apply(torch.zeros(3, 2, 10))
    assert out[:, 0, -4:].eq(1).all() and out[:, 1, -4:].eq(-1).all() and out[:, :, :6].eq(0).all()
    vec = Trigger.patch((6,), 2, torch.arange(6.0))
    assert vec.apply(torch.zeros(1, 6)).tolist() == [[0, 0, 0, 0, 4, 5]]
    with pytest.raises(ValueError, match="size = 9: larger than"):
        Trigger.patch((1, 8, 8), 9, 1.0)
    with pytest.raises(ValueError, match="rate = 1.5"):
        poison((torch.zeros(4, 6), torch.zeros(4)), vec, 0, 1.5, torch.Generator())


def test_attack_success_rate_counts_only_inputs_of_other_classes() -> None:
    class PatchDetector(nn.Module):  # predicts class 3 when the last feature is 1, else 0
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = torch.zeros(x.shape[0], 5) + self.w
            out[:, 3] = (x[:, -1] == 1).float() * 10
            out[:, 0] = 5
            return out

    x = torch.zeros(10, 4)
    y = torch.tensor([3, 3, 0, 1, 2, 0, 1, 2, 4, 4])
    m = PatchDetector()
    assert attack_success_rate(m, x, y, Trigger.patch((4,), 1, 1.0), 3) == 1.0
    assert attack_success_rate(m, x, y, Trigger.patch((4,), 1, 0.5), 3) == 0.0


SMALL = ["model.name=cnn", "model.args.widths=[32, 64]", "train.epochs=20", "log.every_steps=0"]


@pytest.mark.slow
def test_a_backdoored_run_keeps_clean_accuracy_and_obeys_the_trigger(tmp_path: Path) -> None:
    """Issue 17: at 5% poisoning, clean accuracy within 2 points of the clean run and an
    attack success rate above 90%. The clean run measures the trigger's baseline success (a
    clean model ignores it). Measured: clean run 99.3% test accuracy, attack success 0%;
    poisoned run (63 of 1,257 training images) 98.9%, attack success 97.1%. (12 epochs of
    a [16, 32] cnn reached only 85%: the backdoor needs the capacity and the epochs.)"""
    clean = digits_trainer(tmp_path, "clean", [*SMALL, "task.name=backdoor"]).fit()
    poisoned = ["task.name=backdoor", "robust.poison_rate=0.05", "robust.poison_target=0"]
    bad = digits_trainer(tmp_path, "bad", [*SMALL, *poisoned]).fit()
    print("clean", clean["test"], "\npoisoned", bad["test"])
    assert clean["test"]["acc"] > 0.97  # the clean recipe works (measured 0.993)
    assert clean["test"]["attack_success"] < 0.1
    assert bad["test"]["acc"] >= clean["test"]["acc"] - 0.02
    assert bad["test"]["attack_success"] > 0.9


def test_poisoning_config_errors_name_the_key(tmp_path: Path) -> None:
    from trainlab.errors import ConfigError

    with pytest.raises(ConfigError, match=r"robust.poison_target = 12: expected a class in 0..9"):
        digits_trainer(
            tmp_path, "e", [*SMALL, "robust.poison_rate=0.05", "robust.poison_target=12"]
        )
    from trainlab.recipes import load_config

    with pytest.raises(ConfigError, match="robust.poison_rate"):
        load_config(overrides=["robust.poison_rate=1.0"])
