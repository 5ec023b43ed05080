"""The timing loop every benchmark shares: rounds of one call per case, shuffled per round."""

from __future__ import annotations

import random
import time
from collections.abc import Callable


def shuffled_rounds(
    runs: dict[str, Callable[[], object]],
    repeats: int,
    *,
    seed: int,
    clock: Callable[[], float] = time.perf_counter,
    sync: Callable[[], object] | None = None,
) -> dict[str, list[float]]:
    """`repeats` rounds of one call of each of `runs`, in an order shuffled every round by a
    generator seeded with `seed` (a drift in the machine's speed spreads over every case);
    the times of each case by `clock`. `sync` (e.g. `torch.cuda.synchronize`) runs before
    and after each call, so asynchronous work is inside its time."""
    times: dict[str, list[float]] = {k: [] for k in runs}
    rng = random.Random(seed)
    for _ in range(repeats):
        order = list(runs)
        rng.shuffle(order)
        for k in order:
            if sync is not None:
                sync()
            t = clock()
            runs[k]()
            if sync is not None:
                sync()
            times[k].append(clock() - t)
    return times
