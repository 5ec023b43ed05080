"""Joint training of early exits on the engine (trainlab.compress.exit_task)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tests.compress.conftest import tiny_config
from trainlab.compress.exit_task import EarlyExitTask, exit_outputs, joint_loss
from trainlab.compress.loop import with_epochs
from trainlab.errors import ConfigError
from trainlab.models.early_exit import default_thresholds, exit_flops, sweep
from trainlab.train import Trainer, create_task
from trainlab.train.build import build_data


def test_joint_loss_is_the_normalized_weighted_sum() -> None:
    g = torch.Generator().manual_seed(0)
    outs = [torch.randn(8, 5, generator=g) for _ in range(3)]
    y = torch.randint(0, 5, (8,), generator=g)
    w = torch.tensor([1.0, 2.0, 3.0])
    ref = sum(wk * F.cross_entropy(o, y) for wk, o in zip(w, outs, strict=True)) / 6
    torch.testing.assert_close(joint_loss(outs, y, F.cross_entropy, w), ref)


def test_task_is_registered_and_validates() -> None:
    assert isinstance(create_task("early_exit"), EarlyExitTask)
    with pytest.raises(ValueError, match="weights must be non-negative"):
        EarlyExitTask(weights=[1.0, -1.0])


def _fit(config, data, task, epochs):
    Trainer(with_epochs(config, epochs), data, None, task=task).fit()
    return task.net


def test_wrong_number_of_weights_is_a_config_error(digits) -> None:
    config, data = digits
    with pytest.raises(ConfigError, match="2 weights for 2 exits|3 weights for 2 exits"):
        _fit(config, data, EarlyExitTask(weights=[1.0, 1.0, 1.0]), 1)


def test_every_exit_learns(digits) -> None:
    """The tiny cnn (widths 8, 16) has two exits; after 6 epochs of joint training both are
    far above chance (10%); measured 40.9% (exit 1: 8 channels after one 3x3 conv, pooled)
    and 94.4% (the model's own head)."""
    config, data = digits
    net = _fit(config, data, EarlyExitTask(), 6)
    outs, y = exit_outputs(net, data.test)
    accs = [float((o.argmax(-1) == y).double().mean()) for o in outs]
    assert accs[0] > 0.3 and accs[1] > 0.85


@pytest.mark.slow
def test_early_exit_saves_30_percent_of_flops_for_at_most_one_point() -> None:
    """Done-when of issue 18, on the default digits cnn (widths 32, 64, 128; three exits),
    15 epochs of joint training. Measured: exits 44.6% / 99.6% / 100.0% accurate; max-softmax
    threshold 0.9 keeps 100.0% accuracy at 34.5% fewer FLOPs per sample (71% of the samples
    leave at the second exit), 0.8 keeps it at 42.2% fewer."""
    config = tiny_config(widths="[32, 64, 128]", lr=3e-3)
    data = build_data(config)
    net = _fit(config, data, EarlyExitTask(), 15)
    outs, y = exit_outputs(net, data.test)
    flops = exit_flops(net, data.in_shape)
    full = float((outs[-1].argmax(-1) == y).double().mean())
    points = sweep(outs, y, flops, default_thresholds("max_softmax"))
    good = [p for p in points if p.accuracy >= full - 0.01 and p.avg_flops <= 0.7 * flops[-1]]
    assert good, [(p.threshold, p.accuracy, p.avg_flops / flops[-1]) for p in points]
