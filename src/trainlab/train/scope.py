"""Process-wide settings a run needs, set for the run only and restored afterwards.

A run wants determinism flags (`train.deterministic`), its own random-number streams
(seeded from `seed`, continued across sessions through checkpoints) and, on CUDA, the
cuBLAS workspace setting. None of that may leak into the caller's process: a notebook that
calls `trainlab.fit` twice, or trains and then samples its own random numbers, must see
exactly what it would have seen without trainlab. `RunScope` swaps the run's state in on
`enter` and the caller's back on `exit`.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from trainlab.train.rng import rng_state, seed_everything, set_rng_state

_CUBLAS = "CUBLAS_WORKSPACE_CONFIG"


def _flags() -> dict[str, Any]:
    return {
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "cublas": os.environ.get(_CUBLAS),
    }


def _set_flags(f: dict[str, Any]) -> None:
    torch.use_deterministic_algorithms(f["deterministic"], warn_only=f["warn_only"])
    torch.backends.cudnn.benchmark = f["cudnn_benchmark"]
    torch.backends.cudnn.deterministic = f["cudnn_deterministic"]
    if f["cublas"] is None:
        os.environ.pop(_CUBLAS, None)
    else:
        os.environ[_CUBLAS] = f["cublas"]


def run_flags(deterministic: bool) -> dict[str, Any]:
    """The flags of a run: deterministic algorithms (warn-only, for ops without a
    deterministic kernel) and no cuDNN autotuning; or every one of them off."""
    return {
        "deterministic": deterministic,
        "warn_only": True,
        "cudnn_benchmark": not deterministic,
        "cudnn_deterministic": deterministic,
        "cublas": ":4096:8" if deterministic else os.environ.get(_CUBLAS),
    }


class RunScope:
    """The run's flags and RNG streams, swapped in by `enter()` and out by `exit()`.

    Created with the run's seed; `capture()` inside the scope records the streams' current
    state (for a checkpoint), `restore(state)` replaces them (on resume).
    """

    def __init__(self, seed: int, deterministic: bool) -> None:
        self.flags = run_flags(deterministic)
        saved = rng_state()
        seed_everything(seed)
        self.rng = rng_state()
        set_rng_state(saved)
        self._outer: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def __enter__(self) -> RunScope:
        self._outer.append((_flags(), rng_state()))
        _set_flags(self.flags)
        set_rng_state(self.rng)
        return self

    def __exit__(self, *exc: object) -> None:
        self.rng = rng_state()
        flags, rng = self._outer.pop()
        _set_flags(flags)
        set_rng_state(rng)

    @property
    def active(self) -> bool:
        return bool(self._outer)

    def capture(self) -> dict[str, Any]:
        """The run's RNG state now (live inside the scope, saved outside it)."""
        return rng_state() if self.active else self.rng

    def restore(self, state: dict[str, Any]) -> None:
        if self.active:
            set_rng_state(state)
        else:
            self.rng = state
