"""Continual learning (notes F3:4509-4728): task streams from any dataset, the accuracy
matrix with ACC/BWT/FWT, and the methods as components of an engine task: naive
fine-tuning, EWC (separate and online), GEM (exact dual QP), A-GEM and experience replay."""

from trainlab.continual.ewc import EWC, ewc_penalty, fisher_diagonal, merge_penalties
from trainlab.continual.gem import AGEM, GEM, EpisodicMemory, project_agem, project_gem, solve_dual
from trainlab.continual.method import Method
from trainlab.continual.metrics import (
    average_accuracy,
    backward_transfer,
    forward_transfer,
    stream_metrics,
)
from trainlab.continual.registry import create_method, method_from_config
from trainlab.continual.replay import Replay, ReservoirBuffer
from trainlab.continual.runner import StreamResult, build_stream, run_stream
from trainlab.continual.streams import (
    SCENARIOS,
    Experience,
    TaskStream,
    make_stream,
    permuted_tasks,
    rotated_tasks,
    split_tasks,
)
from trainlab.continual.task import ContinualTask

__all__ = [
    "AGEM",
    "EWC",
    "GEM",
    "SCENARIOS",
    "ContinualTask",
    "EpisodicMemory",
    "Experience",
    "Method",
    "Replay",
    "ReservoirBuffer",
    "StreamResult",
    "TaskStream",
    "average_accuracy",
    "backward_transfer",
    "build_stream",
    "create_method",
    "ewc_penalty",
    "fisher_diagonal",
    "forward_transfer",
    "make_stream",
    "merge_penalties",
    "method_from_config",
    "permuted_tasks",
    "project_agem",
    "project_gem",
    "rotated_tasks",
    "run_stream",
    "solve_dual",
    "split_tasks",
    "stream_metrics",
]
