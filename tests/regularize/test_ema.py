"""Weight EMA: closed form on a toy sequence, warmup, buffers, eval swap, checkpointing."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from trainlab.regularize import WeightEMA


def _toy() -> nn.Module:
    m = nn.Sequential(nn.Linear(2, 1, bias=True), nn.BatchNorm1d(1))
    with torch.no_grad():
        m[0].weight.fill_(0.0)
        m[0].bias.fill_(0.0)
    return m


def test_constant_decay_matches_closed_form() -> None:
    d, seq = 0.9, [1.0, 2.0, -1.0, 4.0, 0.5, 3.0]
    m = _toy()
    ema = WeightEMA(m, decay=d)  # ema_0 = w_0 = 0
    for w in seq:
        with torch.no_grad():
            m[0].weight.fill_(w)
        ema.update(m)
    t = len(seq)
    closed = d**t * 0.0 + sum((1 - d) * d ** (t - k) * w for k, w in enumerate(seq, start=1))
    assert ema.shadow["0.weight"][0, 0].item() == pytest.approx(closed, rel=1e-6)
    assert ema.step == t


@pytest.mark.parametrize("warmup", ["tf", "power"])
def test_warmup_decay_matches_closed_form(warmup: str) -> None:
    seq = [3.0, -2.0, 5.0, 1.0, 7.0]
    m = _toy()
    ema = WeightEMA(m, decay=0.99, warmup=warmup)
    ds = [ema.current_decay(t) for t in range(1, len(seq) + 1)]
    if warmup == "tf":
        assert ds == pytest.approx([min(0.99, (1 + t) / (10 + t)) for t in range(1, 6)])
    else:
        assert ds == pytest.approx([min(0.99, 1 - (1 + t) ** -0.75) for t in range(1, 6)])
    for w in seq:
        with torch.no_grad():
            m[0].weight.fill_(w)
        ema.update(m)
    # ema_t = sum_k (1 - d_k) prod_{j > k} d_j w_k  (+ prod d_j * w_0, w_0 = 0)
    closed = 0.0
    for k, w in enumerate(seq):
        prod = 1.0
        for j in range(k + 1, len(seq)):
            prod *= ds[j]
        closed += (1 - ds[k]) * prod * w
    assert ema.shadow["0.weight"][0, 0].item() == pytest.approx(closed, rel=1e-6)


def test_buffers_copied_swap_and_state_roundtrip() -> None:
    m = _toy()
    ema = WeightEMA(m, decay=0.5)
    m.train()
    m(torch.randn(16, 2))  # moves the BatchNorm running statistics
    with torch.no_grad():
        m[0].weight.fill_(2.0)
    ema.update(m)
    assert torch.equal(ema.shadow["1.running_mean"], m[1].running_mean)  # copied
    assert ema.shadow["0.weight"][0, 0].item() == pytest.approx(1.0)  # averaged
    live = m[0].weight.detach().clone()
    with ema.swapped(m):
        assert m[0].weight[0, 0].item() == pytest.approx(1.0)
    assert torch.equal(m[0].weight, live)
    buf = io.BytesIO()
    torch.save(ema.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    ema2 = WeightEMA(_toy(), decay=0.1)
    ema2.load_state_dict(state)
    assert ema2.decay == 0.5 and ema2.step == 1
    assert torch.equal(ema2.shadow["0.weight"], ema.shadow["0.weight"])
    target = _toy()
    ema2.copy_to(target)
    assert target[0].weight[0, 0].item() == pytest.approx(1.0)


def test_average_buffers_option() -> None:
    m = _toy()
    ema = WeightEMA(m, decay=0.5, average_buffers=True)
    with torch.no_grad():
        m[1].running_var.fill_(3.0)
    ema.update(m)
    assert ema.shadow["1.running_var"].item() == pytest.approx(2.0)  # (1 + 3) / 2
    assert ema.shadow["1.num_batches_tracked"].dtype == torch.long


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"decay": 1.5}, "decay"), ({"warmup": "cosine"}, "warmup"), ({"warmup_power": 0}, "warmup")],
)
def test_bad_parameters_raise(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        WeightEMA(_toy(), **kwargs)
