"""Learning-rate schedules as pure functions of the step, and the adapter that applies them.

A schedule is `f(t) -> factor of the base lr`; `Scheduler(optimizer, schedule)` applies it
to every param group once per optimizer step. Because the schedules are pure functions of
the step, a resumed run continues exactly where it stopped.

    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = Scheduler(opt, warmup(cosine(total_steps - 500), 500))
    for batch in loader:
        ...; opt.step(); sched.step()          # every iteration, never per epoch

Where the notes and the standard implementations differ (trainlab follows the standard):

- F3:715 says the Transformer warmup starts "from 0"; the formula is undefined at step 0,
  so the step count starts at 1 (`inverse_sqrt`), as in the paper's code and fairseq.
- F4:917-929 shows warm restarts stepped per batch with the same code as StepLR's, i.e.
  `scheduler.step()` after the epoch loop; per batch it belongs inside the batch loop.
  Here the Scheduler always steps per iteration; `steps_per_epoch` turns epochs into
  fractions of steps (torch's `step(epoch + i / iters)`).
- F4:838 decays the restart peak; torch's CosineAnnealingWarmRestarts cannot
  (`cosine_restarts(peak_decay=...)`), and its float logarithm misplaces some exact restart
  epochs (T_0 = 1, T_mult = 3 at epoch 121), which `cosine_restarts` does not.
- F4:950 loads the scheduler after the optimizer; torch's docs ask for the opposite
  (build the scheduler before loading the optimizer). `Scheduler` works in either order.
- torch's CosineAnnealingLR rises again after T_max (its formula is periodic); `cosine`
  stays at its floor. torch's ReduceLROnPlateau eps is in lr units, ours in factor units.
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
