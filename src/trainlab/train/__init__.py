"""The Trainer and what it needs: checkpoints, run directories, callbacks, progress."""

from trainlab.train.callbacks import Callback
from trainlab.train.checkpoint import load_checkpoint, save_checkpoint
from trainlab.train.run_dir import RunDir
from trainlab.train.trainer import Trainer, TrainingDiverged, TrainingInterrupted

__all__ = [
    "Callback",
    "RunDir",
    "Trainer",
    "TrainingDiverged",
    "TrainingInterrupted",
    "load_checkpoint",
    "save_checkpoint",
]
