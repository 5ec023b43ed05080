"""SimCLR on digits without labels: its frozen encoder's linear probe beats a random-init one.

The digits are easy: a linear probe on a random-init CNN's features with every training
label already scores about 98% (measured), so the comparison that shows what pre-training
learned uses few labels: the probe is fitted on `PER_CLASS` labelled images per class (the
semi-supervised protocol of the SimCLR paper, 1% / 10% labels) and scored on the test split.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from trainlab.errors import ConfigError
from trainlab.recipes import load_config
from trainlab.selfsup import linear_probe, two_views
from trainlab.selfsup.simclr import strip_head
from trainlab.train import RunDir, Trainer
from trainlab.train.build import build_data, build_model

PER_CLASS = 5
BASE = ["task.name=simclr", "log.every_steps=0", "data.batch_size=128", "simclr.temperature=0.2"]


def _few_labels(x: torch.Tensor, y: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    idx = torch.cat([torch.nonzero(y == c).view(-1)[:k] for c in range(int(y.max()) + 1)])
    return x[idx], y[idx]


def _probe_gap(tmp_path: Path, epochs: int) -> tuple[float, float, float]:
    config = load_config(
        overrides=[*BASE, f"train.epochs={epochs}", f"runs_dir={tmp_path}", "name=s"]
    )
    data = build_data(config)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        random_enc, _ = strip_head(
            build_model(config, data.num_outputs, data.in_shape, task="classification")
        )
    t = Trainer(config, data, RunDir.create(tmp_path, "s"))
    s = t.fit()
    few = _few_labels(data.train.x, data.train.y, PER_CLASS)
    test = (data.test.x, data.test.y)
    pre = linear_probe(t.task.encoder(), few, test)
    rand = linear_probe(random_enc, few, test)
    return pre, rand, s["test"]["probe_acc"]


def test_two_views_differ_and_are_seeded() -> None:
    x = torch.randn(8, 1, 8, 8)
    a1, a2 = two_views(x, generator=torch.Generator().manual_seed(0))
    b1, _ = two_views(x, generator=torch.Generator().manual_seed(0))
    assert a1.shape == x.shape and torch.equal(a1, b1) and not torch.allclose(a1, a2)


@pytest.mark.slow
def test_simclr_short_run_beats_random_init_with_few_labels(tmp_path: Path) -> None:
    pre, rand, full = _probe_gap(tmp_path, epochs=3)
    # measured: pre-trained 0.818, random init 0.773 with 5 labels per class; full probe 0.989
    assert pre > rand + 0.03, (pre, rand)
    assert full >= 0.85  # the probe with every training label (the task's own metric)


@pytest.mark.experiment
def test_simclr_probe_at_least_85_percent_and_above_random_init(tmp_path: Path) -> None:
    # budget: 30 epochs of batch 128; measured 0.874 (5 labels per class) against the
    # random-init encoder's 0.773, and 0.996 with every training label
    pre, rand, full = _probe_gap(tmp_path, epochs=30)
    assert full >= 0.85 and pre >= 0.85 and pre > rand + 0.05, (pre, rand, full)


def test_simclr_needs_images_and_a_positive_temperature(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="simclr.temperature"):
        load_config(overrides=["simclr.temperature=0"])
    config = load_config(overrides=[*BASE, "model.name=mlp", "train.epochs=1"])
    with pytest.raises(ConfigError, match="linear `head`"):
        Trainer(config, build_data(config))
