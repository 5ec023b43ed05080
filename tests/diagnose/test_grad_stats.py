"""Per-layer gradient statistics: the functional core, and the callback on real runs."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import trainlab.diagnose.grad_stats as gs
from trainlab import fit
from trainlab.diagnose.grad_stats import GradStats, dead_units, layer_norms, read_diagnostics

SGD = {  # plain SGD at a constant lr: w_after - w_before = -lr * g exactly
    "optim__name": "sgd",
    "optim__momentum": 0.0,
    "optim__weight_decay": 0.0,
    "sched__name": "constant",
    "sched__warmup_epochs": 0,
    "log__every_steps": 0,
}


def data(n: int = 96, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    return x, (x[:, 0] > 0).long()


def test_layer_norms_sum_squares_per_layer():
    a, b, c = torch.tensor([3.0, 4.0]), torch.tensor([12.0]), torch.tensor([1.0, 1.0])
    got = layer_norms([a, b, c], torch.tensor([0, 0, 1]), 2)
    torch.testing.assert_close(got, torch.tensor([13.0, math.sqrt(2)], dtype=torch.float64))


def test_dead_units_features_and_channels():
    out = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])  # (B, F): unit 0 never fires
    assert dead_units(out).tolist() == [True, False, False]
    maps = torch.zeros(2, 2, 3, 3)
    maps[1, 1, 2, 2] = 0.5  # channel 1 fires once, somewhere
    assert dead_units(maps).tolist() == [True, False]


def test_callback_rows_match_the_sgd_update(tmp_path):
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2))
    path = tmp_path / "diag.csv"
    lr = 0.05
    fit(model, data(), callbacks=[GradStats(path, 2)], epochs=2, batch_size=16,
        optim__lr=lr, **SGD)  # fmt: skip
    rows = read_diagnostics(path)
    norms = [r for r in rows if not math.isnan(r["grad_norm"])]
    # 6 updates per epoch, 12 in all: statistics at 2, 4, ..., 12 for the two Linear layers
    assert sorted({r["step"] for r in norms}) == [2, 4, 6, 8, 10, 12]
    assert {r["layer"] for r in norms} == {"0", "2"}
    for r in norms:  # ||dw|| = lr ||g||: the update ratio ties the three columns together
        assert r["update_ratio"] * r["weight_norm"] == pytest.approx(lr * r["grad_norm"], rel=1e-4)
        assert r["grad_norm"] > 0
    dead = [r for r in rows if not math.isnan(r["dead_frac"])]
    assert {r["layer"] for r in dead} == {"1"} and len(dead) == 6


def test_dead_relu_fraction_is_measured(tmp_path):
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2))
    with torch.no_grad():
        model[0].weight.mul_(0.01)
        model[0].bias[:4] = -100.0  # these four never fire (and get no gradient)
        model[0].bias[4:] = 100.0  # these always do
    path = tmp_path / "diag.csv"
    fit(model, data(), callbacks=[GradStats(path, 3)], epochs=1, batch_size=16, optim__lr=1e-3,
        **SGD)  # fmt: skip
    dead = [r["dead_frac"] for r in read_diagnostics(path) if r["layer"] == "1"]
    assert dead == [0.5, 0.5]


def test_no_tensor_work_on_other_steps(tmp_path, monkeypatch):
    calls = []
    real = gs.layer_norms
    monkeypatch.setattr(gs, "layer_norms", lambda *a: calls.append(1) or real(*a))
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2))
    cb = GradStats(tmp_path / "d.csv", 4)
    hooks = []
    orig = cb._arm
    monkeypatch.setattr(cb, "_arm", lambda t: (orig(t), hooks.append(len(cb._hooks)))[0])
    fit(model, data(), callbacks=[cb], epochs=2, batch_size=16, **SGD)
    # 12 updates, statistics at 4, 8, 12: three norms each (grads, weights, update), none else
    assert len(calls) == 9
    assert max(hooks) == 1  # the ReLU hook exists only while a statistics step runs


def test_bad_every_steps():
    with pytest.raises(ValueError, match="every_steps: expected a positive integer, got 0"):
        GradStats("x.csv", 0)
