"""Metrics accumulated over batches (sums of counts), chosen by task."""

from trainlab.metrics.running import (
    ClassificationMetrics,
    RegressionMetrics,
    RunningMetrics,
    metrics_for_task,
)

__all__ = ["ClassificationMetrics", "RegressionMetrics", "RunningMetrics", "metrics_for_task"]
