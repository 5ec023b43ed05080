"""One intra-op thread for the model tests.

The shapes here are tiny (batch 4, 8x8), so a second thread gains nothing, and on a shared,
oversubscribed machine OpenMP barriers waiting for a descheduled thread made some tests
10-40x slower. The previous setting is restored afterwards, so other packages' tests in
the same session are unaffected.
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
