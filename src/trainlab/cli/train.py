"""`trainlab train` and `trainlab resume`, in one process or under `torchrun`.

Under torchrun (`torchrun --nproc_per_node N -m trainlab train ...`) every process joins the
job's process group; rank 0 creates the run directory, writes every file and prints, the
others train silently. Exit codes: 0 done; 2 bad input (one line); 1 the run diverged or a
rank failed (one line per failing rank); 130 after Ctrl-C (SIGINT) and 143 after SIGTERM,
both with a checkpoint saved at the current step (`trainlab resume RUN` continues it).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import yaml

from trainlab.cli._common import (
    add_config_args,
    add_run_args,
    console,
    load,
    load_run,
    print_summary,
)
from trainlab.errors import CheckpointError, ConfigError


def register(sub: Any) -> None:
    t = sub.add_parser("train", help="train a model (default: the default recipe on digits)")
    add_config_args(t)
    t.add_argument("--recipe", metavar="NAME", help="start from a named recipe (trainlab recipes)")
    add_run_args(t)
    t.add_argument(
        "--target-data",
        metavar="PATH",
        help="domain adaptation: unlabelled target-domain data (.npz, folder, CSV) for "
        "task dann, which this implies (adapt.target)",
    )
    t.add_argument("--print-config", action="store_true", help="print the config and exit")
    t.set_defaults(func=cmd_train)

    r = sub.add_parser("resume", help="continue a stopped run from its last checkpoint")
    r.add_argument("run_dir", metavar="RUN_DIR")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.add_argument(
        "--allow-changed-data",
        action="store_true",
        help="resume even though the training data differ from those the run started on",
    )
    r.set_defaults(func=cmd_resume)


def fit(trainer: Any, out: Any) -> int:
    """Run `trainer.fit()` and print its test summary; 128 + the signal's number on a stop
    request (130 without one), 1 on divergence."""
    from trainlab.train import TrainingDiverged, TrainingInterrupted

    try:
        summary = trainer.fit()
    except TrainingInterrupted as e:
        out.print(
            f"[yellow]{e}; checkpoint saved.[/] Continue with: trainlab resume {trainer.run.path}"
        )
        return 128 + (e.signal or 2)
    except TrainingDiverged as e:
        console(stderr=True).print(f"trainlab: error: {e}")
        return 1
    print_summary(
        out,
        "test (best checkpoint, epoch {})".format(summary["best_epoch"]),
        {f"test_{k}": v for k, v in summary["test"].items()},
        {"train time": f"{summary['train_seconds']:.1f} s", "run directory": summary["run_dir"]}
        | dict(summary.get("plots") or {}),  # the task's test pictures
    )
    return 0


def _callbacks(config: Any, run: Any, reporter: Any) -> list[Any]:
    """The progress reporter and, unless `diagnose.enabled` is false, the gradient
    statistics (`diagnostics.csv`, read by `trainlab diagnose`)."""
    from trainlab.diagnose.grad_stats import GradStats

    stats = GradStats.from_config(config, run)
    return [reporter] + ([stats] if stats is not None else [])


def cmd_train(args: argparse.Namespace) -> int:
    config = load(args)
    if args.target_data is not None and config.task.name != "dann":
        if config.task.name != "supervised":
            raise ConfigError(
                f"--target-data is the target domain of task dann; the config's task is "
                f"{config.task.name!r}"
            )
        config.task.name = "dann"  # the default task: --target-data asks for adaptation
    if args.print_config:  # validated, and without importing torch
        print(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), end="")
        return 0
    from trainlab.train.distributed import session

    with session(config.train.device) as dist:
        return _per_rank(dist, lambda: _train(args, config, dist))


def _per_rank(dist: Any, run: Any) -> int:
    """`run()`; under torchrun a failure of this rank is one line naming the rank, exit 1
    (torchrun then stops the other ranks; a rank waiting on it fails in its collective)."""
    from trainlab.errors import UserError

    if not dist.enabled:
        return int(run())
    try:
        return int(run())
    except (UserError, KeyboardInterrupt):
        raise
    except Exception as e:
        text = str(e).strip().splitlines()[0] if str(e).strip() else ""
        print(f"trainlab: error: rank {dist.rank}: {type(e).__name__}: {text}", file=sys.stderr)
        return 1


def _outputs(args: argparse.Namespace, dist: Any, config: Any, run: Any) -> tuple[Any, list[Any]]:
    """The console and callbacks of this rank: rank 0 prints and keeps the gradient
    statistics, the others are silent."""
    from trainlab.train.progress import ConsoleReporter

    out = console()
    if not dist.is_main:
        out.quiet = True
        return out, []
    return out, _callbacks(
        config, run, ConsoleReporter(out, progress=False if args.no_progress else None)
    )


def _train(args: argparse.Namespace, config: Any, dist: Any) -> int:
    from trainlab.experiments import check_fits
    from trainlab.train import RunDir, Trainer
    from trainlab.train.build import build_data

    data = build_data(config)
    check_fits(config, data.in_shape)  # image augmentations on vector data: one clear error
    made: tuple[str | None, str | None] = (None, None)  # (path, error) of rank 0's run dir
    if dist.is_main:
        try:
            run = RunDir.create(config.runs_dir, config.name)
            run.write_config(config.model_dump(mode="json"))
            made = (str(run.path), None)
        except CheckpointError as e:
            made = (None, str(e))
    path, error = dist.broadcast(made)
    if error is not None:
        raise CheckpointError(error)
    run = RunDir(path)
    out, callbacks = _outputs(args, dist, config, run)
    return fit(Trainer(config, data, run, callbacks), out)


def cmd_resume(args: argparse.Namespace) -> int:
    from trainlab.train.distributed import session

    run, config = load_run(args.run_dir)
    with session(config.train.device) as dist:
        return _per_rank(dist, lambda: _resume(args, run, config, dist))


def _resume(args: argparse.Namespace, run: Any, config: Any, dist: Any) -> int:
    from trainlab.train import Trainer
    from trainlab.train.build import build_data
    from trainlab.train.checkpoint import load_newest_good, step_checkpoints

    if not run.last.is_file() and not step_checkpoints(run.checkpoints):
        raise CheckpointError(f"{run.path}: no checkpoint to resume from (checkpoints/last.pt)")
    _, state, warning = load_newest_good(run.last)
    out, callbacks = _outputs(args, dist, config, run)
    if warning is not None and dist.is_main:
        print(f"trainlab: warning: {warning}", file=sys.stderr)
    data = build_data(config)
    if not args.allow_changed_data and list(data.meta()["sizes"]) != list(state["data"]["sizes"]):
        raise CheckpointError(
            f"{config.data.source}: the data changed since the run started (split sizes "
            f"{data.meta()['sizes']}, checkpoint {state['data']['sizes']}); pass "
            "--allow-changed-data to resume anyway"
        )
    # the placement the run chose (maybe measured) is kept: the paths draw differently
    trainer = Trainer(config, data, run, callbacks, placement=state.get("augment_placement"))
    recorded = state.get("data_hash")
    if not args.allow_changed_data and recorded is not None and recorded != trainer.data_hash:
        raise CheckpointError(
            f"{config.data.source}: the training data changed since the run started "
            f"(fingerprint {trainer.data_hash[:12]}, recorded {recorded[:12]}); pass "
            "--allow-changed-data to resume anyway"
        )
    trainer.load_state_dict(state)
    out.print(
        f"resuming {run.path} at epoch {trainer.epoch + 1}, step {trainer.step}"
        if trainer.epoch < config.train.epochs
        else f"{run.path} already finished; testing its best checkpoint"
    )
    return fit(trainer, out)
