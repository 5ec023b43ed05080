"""Learning-rate schedules as pure functions of the step, and the adapter that applies them."""

from trainlab.schedules.functions import Schedule, constant, cosine, warmup
from trainlab.schedules.scheduler import Scheduler

__all__ = ["Schedule", "Scheduler", "constant", "cosine", "warmup"]
