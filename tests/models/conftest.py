"""One intra-op thread for the model tests, and the global RNG restored after each.

The shapes here are tiny (batch 4, 8x8), so a second thread gains nothing, and on a shared,
oversubscribed machine OpenMP barriers waiting for a descheduled thread made some tests
10-40x slower. The previous setting is restored afterwards, so other packages' tests in
the same session are unaffected.

Model constructors draw their initial weights from torch's global generator, so the tests
seed it (`torch.manual_seed`); each test runs inside `torch.random.fork_rng`, which puts
the CPU (and CUDA) generator states back afterwards, so no test leaves its seed behind.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _restore_global_rng() -> Iterator[None]:
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        yield
