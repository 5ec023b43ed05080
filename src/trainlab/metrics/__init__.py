"""Metrics accumulated over batches as sums of counts, chosen by task.

classification  ClassificationMetrics: loss, acc, top-k, precision/recall/F1 (macro,
                micro), ECE, confusion matrix (and a PNG of it)
multilabel      MultiLabelMetrics: hamming and subset accuracy, F1 (micro, macro)
regression      RegressionMetrics: loss, RMSE, MAE, R^2
segmentation    OverlapMetrics: pixel accuracy, Dice and IoU scores
any task        MeanMetrics: sample-weighted means of named scalars (losses)
"""

from trainlab.metrics.calibration import calibration_bins, expected_calibration_error
from trainlab.metrics.classification import ClassificationMetrics
from trainlab.metrics.confusion import (
    accumulate_confusion,
    confusion_matrix,
    precision_recall_f1,
    tp_fp_fn,
)
from trainlab.metrics.mean import MeanMetrics
from trainlab.metrics.multilabel import MultiLabelMetrics
from trainlab.metrics.overlap import OverlapMetrics
from trainlab.metrics.plot import save_confusion_matrix
from trainlab.metrics.regression import RegressionMetrics
from trainlab.metrics.running import RunningMetrics, metrics_for_task

__all__ = [
    "ClassificationMetrics",
    "MeanMetrics",
    "MultiLabelMetrics",
    "OverlapMetrics",
    "RegressionMetrics",
    "RunningMetrics",
    "accumulate_confusion",
    "calibration_bins",
    "confusion_matrix",
    "expected_calibration_error",
    "metrics_for_task",
    "precision_recall_f1",
    "save_confusion_matrix",
    "tp_fp_fn",
]
