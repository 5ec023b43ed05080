"""Where to run the image augmentations: batched on the training device, or per image in
data-loader workers.

On a GPU the batched ops run at memory speed and the workers would only add host work, so
they run on the device after batching. On a CPU-only machine the batched path and the
per-image path compete for the same cores: with data-loader workers the per-image ops run in
parallel with the training step (the same :class:`RandAugment` accepts a single (C, H, W)
image), so they go to the workers; without workers, the batched path is faster (one pass of
vectorized kernels over the batch instead of Python overhead per image).

Measured on a 2-core CPU (`python -m benchmarks.augment`, 128 float images of 224x224):
batched 575 img/s against 447 img/s for the loader's 2 worker threads, so workers pay off
only where cores are left over beside the training step; `data.num_workers` opts in.
"""

from __future__ import annotations

import torch


def augment_placement(device: str | torch.device, num_workers: int = 0) -> str:
    """``"batch"`` (augment the batch on ``device``) or ``"worker"`` (per image in workers)."""
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"num_workers: expected an int >= 0, got {num_workers!r}")
    dev = torch.device(device)
    if dev.type != "cpu":
        return "batch"
    return "worker" if num_workers > 0 else "batch"
