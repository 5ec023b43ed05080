"""Datasets: embedded (`digits`), user files (.npz, .csv, image folders), splits, loaders."""

from trainlab.data.bundle import DataBundle, RawData, Split
from trainlab.data.digits import EMBEDDED, load_digits
from trainlab.data.load import load_dataset, load_for_eval, read_source
from trainlab.data.loader import BatchLoader
from trainlab.data.split import split_indices

__all__ = [
    "EMBEDDED",
    "BatchLoader",
    "DataBundle",
    "RawData",
    "Split",
    "load_dataset",
    "load_digits",
    "load_for_eval",
    "read_source",
    "split_indices",
]
