"""Experiment-sized checks (python -m pytest -m experiment tests/diagnose); each has a fast
version in the default suite (test_landscape.py, test_report.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from trainlab.diagnose.landscape import flat_vs_sharp


@pytest.mark.experiment
def test_flat_vs_sharp_on_digits():
    # the notes' experiment (F3:456-487): the same MLP, SGD at one lr, batch 16 vs 1024, the
    # same 15 epochs; the large batch lands in a sharper minimum (Keskar et al. 2017 report
    # several-fold larger top eigenvalues) and does not test better
    from trainlab.data.digits import read_digits

    x, y = read_digits()
    x = torch.as_tensor(x, dtype=torch.float32).reshape(len(x), -1) / 16.0
    y = torch.as_tensor(y).long()
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    x, y = x[perm], y[perm]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    small, large = flat_vs_sharp(
        model, (x[:1300], y[:1300]), (x[1300:], y[1300:]), batch_sizes=(16, 1024), epochs=15,
        optim__name="sgd", optim__lr=0.05, optim__weight_decay=0.0, sched__name="constant",
        sched__warmup_epochs=0, log__every_steps=0,
    )  # fmt: skip
    assert large["top_eigenvalue"] > 1.5 * small["top_eigenvalue"], (small, large)
    assert small["test_acc"] >= large["test_acc"], (small, large)
