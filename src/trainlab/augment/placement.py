"""Where to run RandAugment: batched on the training device ("batch"), or image by image in
the data loader's worker threads ("worker", :class:`PerImageRandAugment`).

The rule (``augment.placement = auto``):

- on an accelerator (CUDA, MPS, ...): ``batch``. The batched ops run on the device at memory
  speed; workers would only add host work (per-image kernels launched from CPU threads).
  This is the design's reasoning, not a measurement: no GPU was at hand to time it.
- on a CPU without data-loader workers (``data.num_workers = 0``): ``batch``. Both paths then
  run on the training thread, and one pass of vectorized kernels over the batch beats the
  Python overhead paid per image.
- on a CPU with workers: whichever is faster *on this machine*, measured once when the
  trainer is built (:func:`measure_placement`): the batched and the per-image path compete
  for the same cores, so the answer depends on the core count and on what else runs.

Measured on a 2-core CPU: ``python -m benchmarks.augment`` (RandAugment(2, 9) on 128 float
images of 224x224) gave batched 575 img/s against 447 img/s for the loader's 2 worker
threads; the trainer's own measurement (RandAugment(2, 9) on 44 standardized 3x32x32
images, ``trainlab train --data img64.npz --set data.num_workers=2 --set
augment.randaugment_n=2``) printed ``augment placement: batch (9,567 img/s) over worker
(733 img/s)``: on small images the per-image Python overhead dominates. Workers may pay off
where cores are left over beside the training step and images are large.

The two placements draw different augmentations (one generator over the batch against one
generator per (seed, epoch, image)), so a resumed run keeps the placement its first session
chose; it is recorded in the checkpoint and never measured again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch

from trainlab._validate import check_int

Placement = Literal["batch", "worker"]


def augment_placement(device: str | torch.device, num_workers: int = 0) -> Placement | None:
    """The placement the rule decides without measuring: ``"batch"`` on an accelerator and on
    a CPU without workers; ``None`` on a CPU with ``num_workers > 0``, where only a
    measurement (:func:`measure_placement`) can tell."""
    check_int("num_workers", num_workers, lo=0)
    if torch.device(device).type != "cpu" or num_workers == 0:
        return "batch"
    return None


@dataclass(frozen=True)
class PlacementChoice:
    """A resolved placement and why; with both rates (images/s) when it was measured."""

    placement: Placement
    reason: str = "measured"
    batch_rate: float | None = None
    worker_rate: float | None = None

    def __str__(self) -> str:
        """One line for the run header, e.g. ``augment placement: batch (612 img/s) over
        worker (451 img/s)``."""
        if self.batch_rate is None or self.worker_rate is None:
            return f"augment placement: {self.placement} ({self.reason})"
        rates = {"batch": self.batch_rate, "worker": self.worker_rate}
        other = "worker" if self.placement == "batch" else "batch"
        return (
            f"augment placement: {self.placement} ({rates[self.placement]:,.0f} img/s) "
            f"over {other} ({rates[other]:,.0f} img/s)"
        )


def measure_placement(
    batched: Callable[[], object],
    per_image: Callable[[], object],
    num_images: int,
    *,
    timer: Callable[[], float] = time.perf_counter,
) -> PlacementChoice:
    """Time the two paths on the same ``num_images`` images and pick the faster.

    ``batched()`` augments the whole batch at once; ``per_image()`` augments it image by
    image in the loader's worker threads. Each runs once as a warm-up (first-call
    allocations, thread start-up), then once timed with ``timer``; the rate is
    ``num_images`` over that time. A tie goes to ``batch``, which needs no threads.

    What is measured is the augmentation's own throughput, not its overlap with the
    training step (the loader prepares the next batch while the step runs): on a machine
    whose cores the step already fills, that overlap buys little.
    """
    if num_images < 1:
        raise ValueError(f"num_images: expected an int >= 1, got {num_images!r}")
    batched()
    per_image()
    seconds = []
    for path in (batched, per_image):
        t0 = timer()
        path()
        seconds.append(max(timer() - t0, 1e-9))
    batch_rate, worker_rate = (num_images / s for s in seconds)
    placement: Placement = "worker" if worker_rate > batch_rate else "batch"
    return PlacementChoice(placement, "measured", batch_rate, worker_rate)
