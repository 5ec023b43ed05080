"""Datasets: embedded (`digits`), user files (.npz, .csv, image folders), splits, loaders.

Tasks (`TASKS`): classification, regression, multilabel ((N, C) multi-hot `y`) and
segmentation ((N, H, W) masks, unlabelled pixels `IGNORE_VALUE` -> `IGNORE_INDEX`).
"""

from trainlab.data.bundle import DataBundle, RawData, Split
from trainlab.data.digits import EMBEDDED, load_digits
from trainlab.data.load import load_dataset, load_for_eval, read_source
from trainlab.data.loader import BatchLoader
from trainlab.data.split import split_indices
from trainlab.data.targets import IGNORE_INDEX, IGNORE_VALUE, TASKS, infer_task

__all__ = [
    "EMBEDDED",
    "IGNORE_INDEX",
    "IGNORE_VALUE",
    "TASKS",
    "BatchLoader",
    "DataBundle",
    "RawData",
    "Split",
    "infer_task",
    "load_dataset",
    "load_digits",
    "load_for_eval",
    "read_source",
    "split_indices",
]
