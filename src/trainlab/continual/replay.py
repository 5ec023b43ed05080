"""Experience replay with a reservoir buffer (Chaudhry et al. 2019, "On tiny episodic
memories in continual learning"; reservoir sampling: Vitter 1985, algorithm R).

The buffer holds at most `capacity` samples of the stream. The n-th sample seen (0-based)
is stored while n < capacity; after that it replaces the slot j drawn uniformly from
0..n when j < capacity, else it is dropped, so every sample seen so far is in the buffer
with the same probability capacity / (n + 1). Each training step trains on the current
batch concatenated with `batch_size` samples drawn from the buffer (one mean loss).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from trainlab._validate import check_positive_int
from trainlab.continual.method import Method, new_generator


class ReservoirBuffer:
    """At most `capacity` (x, y, task) samples, a uniform sample of everything added;
    `generator` draws the slots and the replayed batches (its state is in `state_dict`)."""

    def __init__(self, capacity: int, generator: torch.Generator) -> None:
        self.capacity = check_positive_int("memory_size", capacity)
        self.generator = generator
        self.seen = 0
        self.x: Tensor | None = None  # (capacity, ...) once the first batch arrives
        self.y: Tensor | None = None
        self.t: Tensor | None = None

    def __len__(self) -> int:
        return min(self.seen, self.capacity)

    def add(self, x: Tensor, y: Tensor, t: Tensor) -> None:
        """Offer the samples of a batch, in order, to the reservoir."""
        if self.x is None:
            self.x = x.new_zeros((self.capacity, *x.shape[1:]))
            self.y = y.new_zeros((self.capacity, *y.shape[1:]))
            self.t = t.new_zeros((self.capacity,))
        assert self.y is not None and self.t is not None
        n = len(x)
        counts = torch.arange(self.seen, self.seen + n, dtype=torch.float64)  # n-th seen
        draws = torch.rand(n, generator=self.generator, dtype=torch.float64)
        slots = torch.where(
            counts < self.capacity, counts, torch.floor(draws * (counts + 1))
        ).long()  # a uniform slot in 0..n once the buffer is full
        self.seen += n
        keep = (slots < self.capacity).nonzero().squeeze(1).tolist()
        final: dict[int, int] = {}
        for i in keep:  # a later sample that draws the same slot overwrites an earlier one
            final[int(slots[i])] = i
        if not final:
            return
        dst = torch.tensor(list(final), device=x.device)
        src = torch.tensor(list(final.values()), device=x.device)
        self.x[dst] = x[src].detach()
        self.y[dst] = y[src]
        self.t[dst] = t[src]

    def sample(self, n: int) -> tuple[Tensor, Tensor, Tensor]:
        """`n` samples drawn without replacement (all of them when fewer are stored)."""
        assert self.x is not None and self.y is not None and self.t is not None
        size = len(self)
        idx = torch.randperm(size, generator=self.generator)[: min(n, size)].to(self.x.device)
        return self.x[idx], self.y[idx], self.t[idx]

    def state_dict(self) -> dict[str, Any]:
        return {
            "seen": self.seen,
            "x": self.x,
            "y": self.y,
            "t": self.t,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.seen = int(state["seen"])
        self.x, self.y, self.t = state["x"], state["y"], state["t"]
        self.generator.set_state(state["generator"])


class Replay(Method):
    """Experience replay: `batch_size` buffer samples beside every batch; the buffer is a
    reservoir of `memory_size` samples over the whole stream, seeded by `seed`."""

    name = "replay"

    def __init__(self, memory_size: int, *, batch_size: int = 64, seed: int = 0) -> None:
        self.buffer = ReservoirBuffer(memory_size, new_generator(seed))
        self.batch_size = check_positive_int("replay_batch", batch_size)

    def extra_batch(self) -> tuple[Tensor, Tensor, Tensor] | None:
        if not len(self.buffer):
            return None
        return self.buffer.sample(self.batch_size)

    def observe(self, x: Tensor, y: Tensor, t: Tensor) -> None:
        self.buffer.add(x, y, t)

    def state_dict(self) -> dict[str, Any]:
        return {"buffer": self.buffer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.buffer.load_state_dict(state["buffer"])
