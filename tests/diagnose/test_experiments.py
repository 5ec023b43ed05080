"""Experiment-sized checks (python -m pytest -m experiment tests/diagnose); each has a fast
version in the default suite (test_landscape.py, test_report.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from trainlab.diagnose.landscape import flat_vs_sharp


@pytest.mark.experiment
def test_flat_vs_sharp_on_digits():
    # the notes' experiment (F3:456-487): the same MLP, SGD at one lr, batch 16 vs 1024 with
    # the same number of updates (15 epochs of batch 16 = 1230 updates = 615 epochs of 1024:
    # at equal epochs the large batch is merely under-trained, 69% test). Measured on seeds
    # 0, 1, 2: top Hessian eigenvalue 1.39 / 0.69 / 0.51 (batch 16) against 2.08 / 2.09 / 2.12
    # (batch 1024); test accuracy 97.4 / 98.0 / 97.6% against 97.6 / 97.4 / 97.0%. The large
    # batch is sharper on every seed and tests worse on average, by 0.3 points: the notes'
    # direction, a small effect on a small dataset (seed 0 alone goes the other way), so the
    # test asserts the mean. (The eps-sharpness disagrees on seed 0: 0.052 against 0.031.)
    from trainlab.data.digits import read_digits

    x, y = read_digits()
    x = torch.as_tensor(x, dtype=torch.float32).reshape(len(x), -1) / 16.0
    y = torch.as_tensor(y).long()
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    x, y = x[perm], y[perm]
    pairs = []
    for seed in (0, 1, 2):
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
        rows = flat_vs_sharp(
            model, (x[:1300], y[:1300]), (x[1300:], y[1300:]), batch_sizes=(16, 1024),
            epochs=15, equal_steps=True, seed=seed, optim__name="sgd", optim__lr=0.05,
            optim__weight_decay=0.0, sched__name="constant", sched__warmup_epochs=0,
            log__every_steps=0,
        )  # fmt: skip
        pairs.append(rows)
    for small, large in pairs:
        assert large["epochs"] == 615 and small["train_acc"] > 0.99, (small, large)
        assert large["top_eigenvalue"] > 1.4 * small["top_eigenvalue"], (small, large)
    mean = lambda k, i: sum(p[i][k] for p in pairs) / len(pairs)  # noqa: E731
    assert mean("top_eigenvalue", 1) > 2 * mean("top_eigenvalue", 0)
    assert mean("test_acc", 0) > mean("test_acc", 1)
