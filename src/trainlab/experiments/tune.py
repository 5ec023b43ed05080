"""Hyperparameter search on the validation split with Optuna (`pip install trainlab[tune]`).

    search: TPE (seeded) proposes a config; the engine trains it on a view of the data with
            no test split; its best validation metric is the objective; median pruning
            stops a trial whose epoch metric falls below the median of earlier trials at
            the same epoch (after `n_warmup_steps` epochs, once 5 trials have finished)
    then:   the best config is retrained once (a run directory, `best/`) and evaluated on
            the test split once

The notes (F3:938-964): hyperparameters are chosen on the validation set; the test set stays
sealed until the choice is made, else it leaks into the choice and its score is optimistic.

The study lives in `tune.db` (SQLite) in the tune folder, so an interrupted search resumes:
finished and pruned trials are kept, a trial cut off mid-way is run again with the same
parameters, and the search continues until `trials` trials have finished. (TPE's own random
stream restarts from the seed on resume, so a resumed search may propose other points than
an uninterrupted one.)
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from trainlab.data import DataBundle
from trainlab.errors import ConfigError
from trainlab.experiments.report import tune_chart
from trainlab.experiments.trial import check_fits, run_trial
from trainlab.recipes import validate
from trainlab.recipes.load import set_path
from trainlab.recipes.schema import Config
from trainlab.recipes.space import Dimension, check_space
from trainlab.train import Callback, Trainer, TrainingDiverged
from trainlab.train.build import model_name


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ConfigError(
            "trainlab tune needs Optuna: pip install 'trainlab[tune]' (or pip install optuna)"
        ) from None
    return optuna


def apply_params(base: Config, params: Mapping[str, Any]) -> Config:
    """`base` with each dotted key of `params` set, validated (a ConfigError names a key)."""
    tree = base.model_dump(mode="json")
    for key, value in params.items():
        set_path(tree, key.split("."), value)
    return validate(tree)


def space_checker(base: Config, task: str) -> Callable[[str, Any], None]:
    """What `check_space` calls: the config with `key = value` must validate, and a
    `model.args.NAME` must be an argument the model takes."""

    def check(key: str, value: Any) -> None:
        config = apply_params(base, {key: value})
        parts = key.split(".")
        if parts[:2] == ["model", "args"] and len(parts) == 3:
            from trainlab.models import model_accepts

            name = model_name(config, task)
            if not model_accepts(name, parts[2]):
                raise ConfigError(f"model.args.{parts[2]}: model {name!r} takes no such argument")

    return check


def _suggest(trial: Any, dim: Dimension) -> Any:
    if dim.kind == "choice":
        return trial.suggest_categorical(dim.key, list(dim.choices))
    if dim.kind == "int":
        return trial.suggest_int(dim.key, int(dim.low or 0), int(dim.high or 0))
    return trial.suggest_float(dim.key, dim.low, dim.high, log=dim.kind == "log")


class _Pruning(Callback):
    """Reports the epoch's validation metric to the trial; stops the trial when the pruner
    says so (optuna.TrialPruned propagates out of Trainer.fit)."""

    def __init__(self, trial: Any, optuna: Any, warmup: int) -> None:
        self.trial, self.optuna, self.warmup = trial, optuna, warmup

    def on_fit_start(self, trainer: Trainer) -> None:
        probe = trainer.task.metrics(trainer.device)
        self.key = f"val_{trainer.primary}"
        self.sign = 1.0 if getattr(probe, "higher_is_better", True) else -1.0

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        if self.key not in row:
            return
        self.trial.report(self.sign * float(row[self.key]), int(row["epoch"]))
        if self.trial.should_prune():
            raise self.optuna.TrialPruned(f"pruned at epoch {row['epoch']}")


@dataclass(frozen=True)
class TuneResult:
    metric: str
    best_value: float
    best_params: dict[str, Any]
    best_config: Config
    test: dict[str, float]
    rows: list[dict[str, Any]]
    out_dir: Path


def _open_study(out: Path, base: Config, space: Mapping[str, Dimension], seed: int) -> Any:
    optuna = _optuna()
    plan = {"base": base.model_dump(mode="json"), "space": {k: d.spec() for k, d in space.items()}}
    plan = json.loads(json.dumps(plan))
    path = out / "tune.json"
    if path.is_file() and json.loads(path.read_text()) != plan:
        raise ConfigError(
            f"{out}: holds another search (its tune.json differs); pass another --name to "
            "start a new one, or rerun that search's own command to resume it"
        )
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plan, indent=1))
    return optuna.create_study(
        study_name="tune",
        storage=f"sqlite:///{out / 'tune.db'}",
        load_if_exists=True,
        direction="maximize",  # the objective is the metric signed so that higher is better
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1),
    )


def _requeue_cut_trials(study: Any) -> None:
    """Trials a kill left RUNNING, or an interruption left FAIL, run again (same params)."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    for t in trials:
        if t.state == TrialState.RUNNING:  # the process died with it: it is not running
            study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
    kept = [t.params for t in study.get_trials(deepcopy=False) if t.state != TrialState.FAIL]
    for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        if t.params and t.params not in kept:
            study.enqueue_trial(t.params)
            kept.append(t.params)


def search(
    base: Config,
    data: DataBundle,
    space: Mapping[str, Dimension],
    out_dir: Path | str,
    *,
    trials: int,
    callbacks: Callable[[int], Sequence[Callback]] = lambda number: (),
    on_trial: Callable[[dict[str, Any]], None] = lambda row: None,
) -> Any:
    """Run trials until `trials` have finished (completed or pruned); returns the study.
    Trials see `data` without its test split (`run_trial(..., test=False)`)."""
    if trials < 1:
        raise ConfigError(f"--trials {trials}: expected at least 1")
    check_fits(base, data.in_shape)
    check_space(space, space_checker(base, data.task))
    optuna = _optuna()
    from optuna.trial import TrialState

    out = Path(out_dir)
    study = _open_study(out, base, space, base.seed)
    _requeue_cut_trials(study)
    finished = len(
        study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    )

    def objective(trial: Any) -> float:
        params = {key: _suggest(trial, dim) for key, dim in space.items()}
        config = apply_params(base, params)
        cbs = [_Pruning(trial, optuna, 1), *callbacks(trial.number)]
        try:
            result = run_trial(config, data, cbs, test=False)
        except TrainingDiverged as e:
            trial.set_user_attr("note", f"diverged: {e}")
            on_trial({"trial": trial.number, "state": "PRUNED", "params": params})
            raise optuna.TrialPruned(str(e)) from None
        except optuna.TrialPruned:
            on_trial({"trial": trial.number, "state": "PRUNED", "params": params})
            raise
        trial.set_user_attr("metric", result.metric)
        trial.set_user_attr("higher_is_better", result.higher_is_better)
        trial.set_user_attr("val", result.val)
        trial.set_user_attr("seconds", round(result.seconds, 3))
        on_trial({"trial": trial.number, "state": "COMPLETE", "params": params,
                  "metric": result.metric, "val": result.val, "seconds": result.seconds})  # fmt: skip
        return result.val if result.higher_is_better else -result.val

    if finished < trials:
        study.optimize(objective, n_trials=trials - finished)
    return study


def trial_rows(study: Any, space: Mapping[str, Dimension]) -> list[dict[str, Any]]:
    """One row per trial: number, state, the validation metric (unsigned), params, time."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        last = max(t.intermediate_values) if t.intermediate_values else None
        value = t.user_attrs.get("val")
        if value is None and last is not None:  # pruned: its last reported epoch metric
            sign = 1.0 if t.user_attrs.get("higher_is_better", True) else -1.0
            value = sign * t.intermediate_values[last]
        row = {"trial": t.number, "state": t.state.name, "value": value, "epochs": last}
        row |= {k: t.params.get(k) for k in space}
        row["seconds"] = t.user_attrs.get("seconds")
        rows.append(row)
    return rows


def write_outputs(study: Any, space: Mapping[str, Dimension], base: Config, out: Path) -> Any:
    """tune.csv, tune.png and best.yaml; returns the best trial."""
    rows = trial_rows(study, space)
    with (out / "tune.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    best = study.best_trial
    metric = best.user_attrs["metric"]
    importance: dict[str, float] = {}
    try:
        import optuna

        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=base.seed)
        importance = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (ValueError, RuntimeError, ImportError):  # too few finished trials
        importance = {}
    tune_chart(
        rows, metric, bool(best.user_attrs["higher_is_better"]), importance, out / "tune.png"
    )
    config = apply_params(base, best.params).model_dump(mode="json")
    config["name"] = None
    header = (
        f"# best of {len(rows)} trials of trainlab tune (trial {best.number}): "
        f"val {metric} = {best.user_attrs['val']:.6g}\n"
        + "".join(f"#   {k} = {v!r}\n" for k, v in best.params.items())
        + "# train it with: trainlab train --config best.yaml\n"
    )
    (out / "best.yaml").write_text(header + yaml.safe_dump(config, sort_keys=False))
    return best


def retrain_best(config: Config, data: DataBundle, out: Path, callbacks: Sequence[Callback]) -> Any:
    """Train the best config once in `out/best` (resumed if cut off) and test it once:
    the test split's only use in the whole search. Returns the engine's summary."""
    from trainlab.train import RunDir, load_checkpoint

    path = out / "best"
    if (path / "summary.json").is_file():
        return json.loads((path / "summary.json").read_text())
    config = apply_params(config, {"name": "best", "runs_dir": str(out)})
    if (path / "checkpoints" / "last.pt").is_file():
        run = RunDir.open(path)
        trainer = Trainer(config, data, run, callbacks)
        trainer.load_state_dict(load_checkpoint(run.last))
    else:
        run = RunDir.create(out, "best")
        run.write_config(config.model_dump(mode="json"))
        trainer = Trainer(config, data, run, callbacks)
    return trainer.fit()


def tune(
    base: Config,
    data: DataBundle,
    space: Mapping[str, Dimension],
    out_dir: Path | str,
    *,
    final_callbacks: Sequence[Callback] = (),
    **search_args: Any,
) -> TuneResult:
    """`search` (with `search_args`: trials, callbacks, on_trial), then the outputs, then
    `retrain_best` (the one test evaluation) with `final_callbacks`."""
    out = Path(out_dir)
    study = search(base, data, space, out, **search_args)
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise ConfigError("tune: no trial completed (all were pruned or diverged)")
    best = write_outputs(study, space, base, out)
    config = apply_params(base, best.params)
    summary = retrain_best(config, data, out, final_callbacks)
    return TuneResult(
        best.user_attrs["metric"],
        float(best.user_attrs["val"]),
        dict(best.params),
        config,
        dict(summary["test"]),
        trial_rows(study, space),
        out,
    )
