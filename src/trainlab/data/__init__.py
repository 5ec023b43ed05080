"""Datasets: embedded (`digits`), user files (.npz, .csv, .npy folders, image folders),
splits, loaders (in-memory `BatchLoader`, worker-process `DatasetLoader`), samplers that
resume mid-epoch and shard by rank; the embedded text corpus `arith` and its tokenizer
(`trainlab.data.text`).

Tasks (`TASKS`): classification, regression, multilabel ((N, C) multi-hot `y`) and
segmentation ((N, H, W) masks, unlabelled pixels `IGNORE_VALUE` -> `IGNORE_INDEX`).
"""

from trainlab.data.bundle import DataBundle, RawData, Split
from trainlab.data.check import check_sample
from trainlab.data.dataset_loader import DatasetLoader, make_loader
from trainlab.data.digits import EMBEDDED, load_digits
from trainlab.data.image_folder import ImageFolderDataset
from trainlab.data.lazy import SplitView
from trainlab.data.load import load_dataset, load_for_eval, read_source
from trainlab.data.loader import BatchLoader
from trainlab.data.npy import NpyDataset
from trainlab.data.order import EpochBatchSampler, epoch_order
from trainlab.data.split import split_indices
from trainlab.data.targets import IGNORE_INDEX, IGNORE_VALUE, TASKS, infer_task
from trainlab.data.text import TOKENIZER, CharTokenizer, answer_mask, arithmetic_pairs

__all__ = [
    "EMBEDDED",
    "IGNORE_INDEX",
    "IGNORE_VALUE",
    "TASKS",
    "TOKENIZER",
    "BatchLoader",
    "CharTokenizer",
    "DataBundle",
    "DatasetLoader",
    "EpochBatchSampler",
    "ImageFolderDataset",
    "NpyDataset",
    "RawData",
    "Split",
    "SplitView",
    "answer_mask",
    "arithmetic_pairs",
    "check_sample",
    "epoch_order",
    "infer_task",
    "load_dataset",
    "load_digits",
    "load_for_eval",
    "make_loader",
    "read_source",
    "split_indices",
]
