"""The engine: the Trainer loop, tasks and their step services, checkpoints, run directories,
callbacks, progress; `fit` is its notebook face."""

from trainlab.train.callbacks import Callback
from trainlab.train.checkpoint import load_checkpoint, save_checkpoint
from trainlab.train.registry import create_task, list_tasks, register_task
from trainlab.train.run_dir import RunDir
from trainlab.train.step import Precision, Step
from trainlab.train.supervised import SupervisedTask
from trainlab.train.task import OptimizerSpec, Task, TaskContext
from trainlab.train.trainer import Trainer, TrainingDiverged, TrainingInterrupted

__all__ = [
    "Callback",
    "OptimizerSpec",
    "Precision",
    "RunDir",
    "Step",
    "SupervisedTask",
    "Task",
    "TaskContext",
    "Trainer",
    "TrainingDiverged",
    "TrainingInterrupted",
    "create_task",
    "list_tasks",
    "load_checkpoint",
    "register_task",
    "save_checkpoint",
]
