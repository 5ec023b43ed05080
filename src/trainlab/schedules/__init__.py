"""Learning-rate schedules as pure functions of the step, and the adapter that applies them.

A schedule is `f(t) -> factor of the base lr`; `Scheduler(optimizer, schedule)` applies it
to every param group once per optimizer step. Because the schedules are pure functions of
the step, a resumed run continues exactly where it stopped.
"""

from trainlab.schedules.build import SCHEDULE_NAMES, build_schedule, schedule_params
from trainlab.schedules.combinators import join, warmup
from trainlab.schedules.functions import (
    NamedSchedule,
    Schedule,
    constant,
    cosine,
    exponential,
    from_lambda,
    linear,
    multistep,
    polynomial,
    step,
)
from trainlab.schedules.one_cycle import one_cycle, one_cycle_momentum
from trainlab.schedules.plateau import ReduceOnPlateau
from trainlab.schedules.plot import lr_table, plot_lr
from trainlab.schedules.recipes import inverse_sqrt, resnet
from trainlab.schedules.restarts import cosine_restarts, restart_points
from trainlab.schedules.scheduler import Scheduler

__all__ = [
    "SCHEDULE_NAMES",
    "NamedSchedule",
    "ReduceOnPlateau",
    "Schedule",
    "Scheduler",
    "build_schedule",
    "constant",
    "cosine",
    "cosine_restarts",
    "exponential",
    "from_lambda",
    "inverse_sqrt",
    "join",
    "linear",
    "lr_table",
    "multistep",
    "one_cycle",
    "one_cycle_momentum",
    "plot_lr",
    "polynomial",
    "resnet",
    "restart_points",
    "schedule_params",
    "step",
    "warmup",
]
