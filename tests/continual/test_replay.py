"""The reservoir buffer: capacity, uniform inclusion (Vitter's algorithm R), exact state."""

from __future__ import annotations

import torch

from trainlab.continual import Replay, ReservoirBuffer


def _feed(buf: ReservoirBuffer, n: int, batch: int) -> None:
    for start in range(0, n, batch):
        ids = torch.arange(start, min(start + batch, n))
        buf.add(ids.float()[:, None], ids, torch.zeros_like(ids))


def test_fills_in_order_then_keeps_capacity():
    buf = ReservoirBuffer(10, torch.Generator().manual_seed(0))
    _feed(buf, 7, 3)
    assert len(buf) == 7 and buf.seen == 7
    assert buf.y[:7].tolist() == list(range(7))
    _feed(buf, 100, 16)  # 100 more (ids 0..99 again are fine: only counts matter)
    assert len(buf) == 10 and buf.seen == 107


def test_inclusion_is_uniform():
    # every one of n = 60 samples is kept with probability capacity / n = 1/6; over 600
    # seeded runs each count is Binomial(600, 1/6): mean 100, sd 9.1; 5 sd either side
    counts = torch.zeros(60)
    for seed in range(600):
        buf = ReservoirBuffer(10, torch.Generator().manual_seed(seed))
        _feed(buf, 60, 8)
        counts[buf.y] += 1
    assert counts.sum() == 6000
    assert float(counts.min()) > 100 - 5 * 9.13 and float(counts.max()) < 100 + 5 * 9.13
    # the first 10 (stored at once) and the last 10 (seen last) are not favoured
    assert abs(float(counts[:10].mean()) - 100) < 15 and abs(float(counts[-10:].mean()) - 100) < 15


def test_state_round_trip_continues_identically():
    a = Replay(8, batch_size=4, seed=3)
    _feed(a.buffer, 30, 5)
    state = {k: v.clone() if torch.is_tensor(v) else v for k, v in a.state_dict()["buffer"].items()}
    b = Replay(8, batch_size=4, seed=99)
    b.load_state_dict({"buffer": state})
    for r in (a, b):
        _feed(r.buffer, 20, 5)
    xa, ya, _ = a.extra_batch()
    xb, yb, _ = b.extra_batch()
    assert torch.equal(a.buffer.y, b.buffer.y) and torch.equal(ya, yb) and torch.equal(xa, xb)
