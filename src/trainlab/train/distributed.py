"""Data-parallel training across processes: who this process is, and what ranks agree on.

`torchrun` (or any launcher that sets `RANK`, `WORLD_SIZE`, `LOCAL_RANK` and the rendezvous
variables) starts one process per device. `init_from_env` (called by the `trainlab train`
and `trainlab resume` commands, the application, never by the engine itself) joins the
default process group: gloo on CPU, NCCL on CUDA. The engine then reads `Dist.current()`:

- the device is `cuda:LOCAL_RANK` on CUDA (passed explicitly; the process's current device
  is never changed), the given one on CPU;
- the training sampler shards the (seed, epoch) permutation by rank, so batch k of all ranks
  together is batch k of one process with the global `data.batch_size`;
- modules are wrapped in `DistributedDataParallel` while they train (`wrap_ddp`): their
  gradients are averaged over ranks during backward, so each rank's update is the
  single-process update of the global batch (the loss is a mean over the local B / world
  samples; the average of the ranks' means is the mean over the global batch);
- metrics are sums all-reduced over ranks (`RunningMetrics.all_reduce`, `all_mean`);
- objects (checkpoint parts, a run directory's name) travel over a gloo group (`objects`)
  also under NCCL, so no object collective needs a CUDA current device.

Every rank calls every collective of this module on the same path: the engine never calls
one from a branch that only rank 0 takes.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from trainlab.errors import ConfigError

#: how long a collective may wait for the other ranks before it fails (not hang forever)
DEFAULT_TIMEOUT_S = 600.0


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"environment {name}={raw!r}: expected an integer") from None


def launched() -> bool:
    """Whether a launcher (torchrun) started this process as one of several."""
    return _env_int("WORLD_SIZE", 1) > 1


def init_from_env(device: str = "auto", timeout_s: float = DEFAULT_TIMEOUT_S) -> bool:
    """Join the default process group torchrun describes in the environment (gloo on CPU,
    NCCL when `device` resolves to CUDA). Returns whether it initialized one (False: a
    single process, or a group already exists). Pair with `shutdown()`."""
    if not launched() or dist.is_initialized():
        return False
    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    backend = "nccl" if cuda else "gloo"
    kw: dict[str, Any] = {"timeout": datetime.timedelta(seconds=timeout_s)}
    if cuda:
        kw["device_id"] = torch.device("cuda", _env_int("LOCAL_RANK", 0))
    dist.init_process_group(backend, **kw)
    return True


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def session(device: str = "auto") -> Iterator[Dist]:
    """The job's process group for the duration of a command (a no-op in one process)."""
    own = init_from_env(device)
    try:
        yield Dist.current()
    finally:
        if own:
            shutdown()


# (the default group, the gloo group made beside it): one per default group, not per call
_OBJECT_GROUP: list[tuple[Any, Any]] = []


def _default_group() -> Any:
    return dist.group.WORLD


def _object_group() -> Any:
    """A gloo group for object collectives beside a non-gloo (NCCL) default group. It is made
    once per default process group: `new_group` is a collective that every rank must call,
    and each call makes another group that lives until the process group is destroyed."""
    world = _default_group()
    if _OBJECT_GROUP and _OBJECT_GROUP[0][0] is world:
        return _OBJECT_GROUP[0][1]
    group = dist.new_group(backend="gloo")
    _OBJECT_GROUP[:] = [(world, group)]
    return group


@dataclass
class Dist:
    """This process's place in the job: `rank` of `world_size`, `local_rank` on its node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    objects: Any = None  # a gloo group for object collectives (None: the default group)

    @classmethod
    def current(cls) -> Dist:
        """The default process group's view (one process when none is initialized)."""
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return cls()
        objects = _object_group() if dist.get_backend() != "gloo" else None
        return cls(dist.get_rank(), dist.get_world_size(), _env_int("LOCAL_RANK", 0), objects)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        """One device per local rank: `cuda` becomes `cuda:LOCAL_RANK` under a launcher."""
        if self.enabled and device.type == "cuda" and device.index is None:
            return torch.device("cuda", self.local_rank)
        return device

    def local_batch(self, batch_size: int, key: str = "data.batch_size") -> int:
        """The per-rank batch of a global `batch_size` (it must divide by the world size)."""
        if batch_size % self.world_size:
            raise ConfigError(
                f"{key} = {batch_size}: the global batch must divide by the number of "
                f"processes ({self.world_size})"
            )
        return batch_size // self.world_size

    # ------------------------------------------------------------------ collectives
    def any(self, flag: bool | torch.Tensor, device: torch.device) -> bool:
        """Whether `flag` is true on any rank (one all-reduce; the flag itself when alone)."""
        t = torch.as_tensor(flag, dtype=torch.int32, device=device).reshape(1).clone()
        if self.enabled:
            dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def all_mean(self, values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The mean over ranks of each scalar of `values` (the same keys on every rank)."""
        if not self.enabled or not values:
            return values
        keys = sorted(values)
        t = torch.stack([values[k].detach().to(torch.float64).reshape(()) for k in keys])
        dist.all_reduce(t)
        return {k: v / self.world_size for k, v in zip(keys, t, strict=True)}

    def all_sum(self, t: torch.Tensor) -> torch.Tensor:
        """`t` summed over ranks, in place."""
        if self.enabled:
            dist.all_reduce(t)
        return t

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's `obj`, in rank order, on every rank (`[obj]` alone)."""
        if not self.enabled:
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj, group=self.objects)
        return out

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's `obj` on every rank."""
        if not self.enabled:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0, group=self.objects)
        return box[0]

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier(group=self.objects)


def rank_seed(seed: int, rank: int) -> int:
    """The seed of rank `rank`'s random streams: `seed` on rank 0 (a one-process run's),
    offset by a large prime per rank, so that ranks draw different dropout masks and
    augmentations."""
    return seed + 1_000_003 * rank


def wrap_ddp(modules: dict[str, nn.Module], device: torch.device) -> dict[str, nn.Module]:
    """Each module with trainable parameters in `DistributedDataParallel` (the others as
    they are). Constructing DDP broadcasts rank 0's parameters and buffers: a collective
    every rank makes, in the order of `modules`.

    BatchNorm: on CUDA its layers become `SyncBatchNorm` (statistics over the global batch;
    the same parameters and buffers, so checkpoints and optimizers are unchanged). gloo on a
    CPU has no SyncBatchNorm: each rank normalizes with its own half-batch statistics, and
    DDP broadcasts rank 0's running statistics at every forward, so the checkpointed ones
    are rank 0's (a 2-process run then differs slightly from one process)."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    out: dict[str, nn.Module] = {}
    for k, m in modules.items():
        if any(p.requires_grad for p in m.parameters()):
            ids = [device.index] if device.type == "cuda" else None
            if device.type == "cuda":
                m = nn.SyncBatchNorm.convert_sync_batchnorm(m)  # children replaced in place
            out[k] = DDP(m, device_ids=ids)
        else:
            out[k] = m
    return out


def no_sync(modules: dict[str, nn.Module]) -> Any:
    """A context where no DDP module of `modules` averages gradients (accumulation batches:
    the gradients add up locally and are averaged once, on the batch that ends the cycle)."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    stack = contextlib.ExitStack()
    for m in modules.values():
        if isinstance(m, DDP):
            stack.enter_context(m.no_sync())
    return stack


def to_cpu(obj: Any) -> Any:
    """`obj` (tensors in dicts, lists, tuples) with every tensor on the CPU."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(to_cpu(v) for v in obj)
    return obj


def _summed(states: list[Any]) -> Any:
    """Key-wise sum of metric states / `[sum, count]` pairs (a state's `_size` is kept)."""
    first = states[0]
    if isinstance(first, dict):
        return {k: first[k] if k == "_size" else _summed([s[k] for s in states]) for k in first}
    if isinstance(first, list | tuple):
        return type(first)(_summed([s[i] for s in states]) for i in range(len(first)))
    if isinstance(first, torch.Tensor | int | float) and not isinstance(first, bool):
        return sum(states[1:], first)
    return first


def _zeroed(state: Any) -> Any:
    if isinstance(state, dict):
        return {k: v if k == "_size" else _zeroed(v) for k, v in state.items()}
    if isinstance(state, list | tuple):
        return type(state)(_zeroed(v) for v in state)
    if isinstance(state, torch.Tensor):
        return torch.zeros_like(state)
    return type(state)(0) if isinstance(state, int | float) else state


def local_state(ranks: list[dict[str, Any]], rank: int, world_size: int) -> dict[str, Any]:
    """This rank's part of a checkpoint saved by `len(ranks)` processes.

    The same world size: rank r's own state. Another world size (the global batch is
    unchanged, so batch k of the epoch is still the same samples): the partial epoch's
    metric sums (`train_metrics`, `logged`) go to rank 0 whole (summed over the saved
    ranks) and are zero elsewhere, so their all-reduced totals are unchanged; rank r keeps
    saved rank r's random streams and task state where it existed, else rank 0's task
    state and `rng = None` (the caller keeps its freshly seeded streams).
    """
    if len(ranks) == world_size:
        return ranks[rank]
    mine = dict(ranks[min(rank, len(ranks) - 1)])
    mine["rng"] = ranks[rank]["rng"] if rank < len(ranks) else None
    for key in ("train_metrics", "logged"):
        parts = [r[key] for r in ranks]
        if parts[0] is None or not parts[0]:
            mine[key] = parts[0]
            continue
        total = _summed(parts)
        mine[key] = total if rank == 0 else _zeroed(total)
    return mine
