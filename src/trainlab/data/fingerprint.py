"""A fingerprint of a training split: a SHA-256 that changes when the data change.

Recorded in every checkpoint when a run starts, and compared on resume (`trainlab resume`
refuses changed data unless `--allow-changed-data`): resuming on other data would silently
break the exact-resume guarantee (the (seed, epoch) order indexes other samples).

- An in-memory `Split`: every byte of `x` and `y` (after standardization, so the
  statistics are covered too), with dtypes and shapes.
- A lazy split (`SplitView` over an image folder or a `.npy` folder): the split's indices,
  targets and standardization statistics, plus each file's name, size and modification
  time (not the file contents: hashing terabytes at every start would cost minutes).
- Any other Dataset: its type and length only (a weak check; documented).
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import torch

from trainlab.data.bundle import Split


def _tensor(h: Any, t: Any) -> None:
    t = torch.as_tensor(t).detach().cpu().contiguous()
    h.update(f"{t.dtype}{tuple(t.shape)}".encode())
    h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())


def _files(h: Any, base: Any) -> None:
    paths = list(getattr(base, "files", None) or [])
    paths += [getattr(base, a) for a in ("x_path",) if getattr(base, a, None) is not None]
    for p in paths:
        st = os.stat(p)
        h.update(f"{os.fspath(p)}|{st.st_size}|{st.st_mtime_ns}\n".encode())


def fingerprint(split: Any) -> str:
    """The SHA-256 hex digest of a training split (see the module docstring)."""
    h = hashlib.sha256()
    if isinstance(split, Split):
        _tensor(h, split.x)
        _tensor(h, split.y)
        return h.hexdigest()
    h.update(f"{type(split).__name__}:{len(split)}".encode())
    if hasattr(split, "base") and hasattr(split, "y"):  # a lazy SplitView
        for name in ("indices", "y", "mean", "std"):
            value = getattr(split, name, None)
            if value is not None:
                _tensor(h, value)
        _files(h, split.base)
    return h.hexdigest()
