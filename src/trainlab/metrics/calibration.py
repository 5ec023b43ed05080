"""Expected calibration error (Guo et al. 2017, "On Calibration of Modern Neural Networks").

Samples are put in ``n_bins`` equal-width bins of their confidence (the top softmax
probability) over (0, 1]; with n_b samples in bin b, mean confidence conf_b and accuracy
acc_b,

    ECE = sum_b (n_b / n) |acc_b - conf_b| = (1 / n) sum_b |correct_b - confidence_sum_b|

so the state to accumulate (and to all-reduce) is three sums per bin. An empty bin adds 0;
with no samples at all the ECE is 0.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["calibration_bins", "expected_calibration_error"]


def calibration_bins(
    confidence: Tensor, correct: Tensor, n_bins: int = 15, *, weight: Tensor | None = None
) -> Tensor:
    """(3, n_bins) float64: per-bin sample count, confidence sum and correct count.

    Bin b holds confidences in (b / n_bins, (b + 1) / n_bins]; a confidence of exactly 0
    goes to the first bin. ``weight`` (0/1 per sample) drops samples without indexing.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins={n_bins}; expected a positive integer")
    conf = confidence.detach().reshape(-1).double()
    idx = (torch.ceil(conf * n_bins).long() - 1).clamp(0, n_bins - 1)
    out = torch.zeros(3, n_bins, dtype=torch.float64, device=conf.device)
    w = torch.ones_like(conf) if weight is None else weight.detach().reshape(-1).double()
    out[0].index_add_(0, idx, w)
    out[1].index_add_(0, idx, conf * w)
    out[2].index_add_(0, idx, correct.detach().reshape(-1).double() * w)
    return out


def expected_calibration_error(bins: Tensor) -> float:
    """ECE from the sums of :func:`calibration_bins` (possibly summed over batches)."""
    n = float(bins[0].sum())
    if n == 0:
        return 0.0
    return float((bins[2] - bins[1]).abs().sum()) / n
