"""Adversarial training on the engine: exact resume with the attack's generator in the
checkpoint, the clean/adversarial mix, and robust accuracy gained on digits (issue 17)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.trainers import StopAt
from tests.trainers import digits_trainer as trainer
from trainlab.recipes import load_config
from trainlab.robust.config import input_space
from trainlab.robust.evaluate import robust_accuracy
from trainlab.robust.task import AdversarialTask
from trainlab.train import RunDir, Trainer, TrainingInterrupted
from trainlab.train.build import build_data

TINY = ["model.name=cnn", "model.args.widths=[8, 16]", "train.epochs=2", "log.every_steps=0",
        "task.name=adversarial", "robust.steps=2"]  # fmt: skip


def _weights(t: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in t.model.state_dict().items()}


@pytest.mark.parametrize("method", ["pgd", "fgsm"])
def test_adversarial_training_resumes_bit_exactly_mid_epoch(tmp_path: Path, method: str) -> None:
    over = [*TINY, f"robust.method={method}"]
    full = trainer(tmp_path, "full", over)
    full.fit()
    assert isinstance(full.task, AdversarialTask)
    with pytest.raises(TrainingInterrupted):
        trainer(tmp_path, "cut", over, [StopAt(7)]).fit()  # mid epoch 1 (19 steps each)
    config = load_config(overrides=[*over, "name=cut", f"runs_dir={tmp_path}"])
    resumed = Trainer(config, build_data(config), RunDir.open(tmp_path / "cut"))
    resumed.resume()
    assert resumed.step == 7
    resumed.fit()
    a, b = _weights(full), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(full.task.generator.get_state(), resumed.task.generator.get_state())


def test_without_the_generator_state_a_resumed_run_differs(tmp_path: Path) -> None:
    """The checkpointed generator matters: a resume that draws fresh starts diverges."""
    full = trainer(tmp_path, "full", TINY)
    full.fit()
    with pytest.raises(TrainingInterrupted):
        trainer(tmp_path, "cut", TINY, [StopAt(7)]).fit()
    config = load_config(overrides=[*TINY, "name=cut", f"runs_dir={tmp_path}"])
    resumed = Trainer(config, build_data(config), RunDir.open(tmp_path / "cut"))
    resumed.resume()
    resumed.task.generator.manual_seed(12345)
    resumed.fit()
    a, b = _weights(full), _weights(resumed)
    assert not all(torch.equal(a[k], b[k]) for k in a)


def test_mix_zero_is_standard_training_and_mix_half_attacks_the_first_half(tmp_path: Path) -> None:
    std = trainer(tmp_path, "std", [*TINY[:4], "train.epochs=1"])
    mix0 = trainer(tmp_path, "mix0", [*TINY, "train.epochs=1", "robust.mix=0"])
    std.fit(), mix0.fit()
    a, b = _weights(std), _weights(mix0)
    assert all(torch.equal(a[k], b[k]) for k in a)
    half = trainer(tmp_path, "half", [*TINY, "robust.mix=0.5"])
    x, y = half.data.train.x[:10], half.data.train.y[:10]
    out = half.task.train_inputs(x, y)
    assert torch.equal(out[5:], x[5:])
    eps = half.task.eps  # 0.25 / std in model space
    delta = (out[:5] - x[:5]).abs()
    assert bool((delta.flatten(1).amax(1) > 0).all()) and bool((delta <= eps + 1e-6).all())


def _robust(t: Trainer, eps: float = 0.25) -> dict[str, float]:
    threat = input_space(t.data, t.config).threat(eps)
    test = t.data.test
    return robust_accuracy(t.model, test.x, test.y, threat, "pgd", steps=10)


@pytest.mark.slow
def test_pgd_training_raises_pgd_accuracy_fast_variant(tmp_path: Path) -> None:
    """Fast version of the experiment below: 8 epochs of a small CNN. Measured: standard
    95.5% clean, 0.0% under PGD-10 at eps = 0.25 (4 of 16 grey levels); PGD-3 training
    79.6% clean, 8.6% robust."""
    small = ["model.name=cnn", "model.args.widths=[16, 32]", "train.epochs=8",
             "log.every_steps=0"]  # fmt: skip
    std = trainer(tmp_path, "std", small)
    std.fit()
    adv = trainer(tmp_path, "adv", [*small, "task.name=adversarial", "robust.steps=3"])
    adv.fit()
    s, a = _robust(std), _robust(adv)
    print("standard", s, "pgd-at", a)
    assert s["clean_acc"] > 0.9 and s["robust_acc"] < 0.05  # a large drop: 97% -> ~0%
    assert a["robust_acc"] >= s["robust_acc"] + 0.05


@pytest.mark.experiment
def test_pgd_training_gains_20_points_of_robust_accuracy_and_fast_fgsm_most_of_it(
    tmp_path: Path,
) -> None:
    """Issue 17 on digits at eps = 0.25 (4 of the 16 grey levels), PGD-10 evaluation, cnn
    widths [32, 64], 20 epochs. Measured (shared 2-core CPU): standard 99.3% clean, 0.0%
    robust, 12 s of training; PGD-7 training 87.7% clean, 27.5% robust, 70 s; fast FGSM
    training 92.6% clean, 22.3% robust, 27 s (81% of PGD's gain at 38% of its time)."""
    base = ["model.name=cnn", "model.args.widths=[32, 64]", "train.epochs=20",
            "log.every_steps=0"]  # fmt: skip
    runs = {}
    for name, extra in {
        "standard": [],
        "pgd": ["task.name=adversarial", "robust.steps=7"],
        "fgsm": ["task.name=adversarial", "robust.method=fgsm"],
    }.items():
        t = trainer(tmp_path, name, [*base, *extra])
        t.fit()
        runs[name] = _robust(t)
    print(runs)
    std, pgd_at, fast = (runs[k]["robust_acc"] for k in ("standard", "pgd", "fgsm"))
    assert runs["standard"]["clean_acc"] > 0.95 and std < 0.05
    assert pgd_at >= std + 0.20
    assert fast - std >= 0.6 * (pgd_at - std)
