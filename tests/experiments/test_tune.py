"""trainlab tune's search: never the test split, resumable, pruning, the best config."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.experiments.conftest import Count, Cut, CutAt, small
from trainlab.errors import ConfigError
from trainlab.experiments.tune import _Pruning, apply_params, search, space_checker, tune
from trainlab.recipes.space import check_space, parse_space

optuna = pytest.importorskip("optuna")
SPACE = parse_space(["optim.lr=log:1e-3:3e-2"])


@pytest.fixture(autouse=True)
def _quiet_optuna():
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    yield
    optuna.logging.set_verbosity(level)


@pytest.mark.slow
def test_the_search_never_reads_the_test_split(sealed, tmp_path: Path) -> None:
    # `sealed` fails on any read of its test split (test_trial shows the engine reads it)
    study = search(small(), sealed, SPACE, tmp_path, trials=3)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(done) == 3
    assert all(1e-3 <= t.params["optim.lr"] <= 3e-2 for t in done)
    assert all(0 < t.user_attrs["val"] <= 1 for t in done)


@pytest.mark.slow
def test_an_interrupted_search_resumes(digits, tmp_path: Path) -> None:
    cut = lambda n: [CutAt()] if n == 1 else []  # noqa: E731
    with pytest.raises(Cut):
        search(small(), digits, SPACE, tmp_path, trials=3, callbacks=cut)
    first = optuna.load_study(study_name="tune", storage=f"sqlite:///{tmp_path / 'tune.db'}")
    states = [t.state.name for t in first.trials]
    assert states == ["COMPLETE", "FAIL"]
    cut_lr = first.trials[1].params["optim.lr"]
    ran: list = []
    study = search(
        small(),
        digits,
        SPACE,
        tmp_path,
        trials=3,
        callbacks=lambda n: [Count(ran, lambda t: t.config.optim.lr)],
    )
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(done) == 3  # trial 0 kept, the cut one rerun with its params, one new
    assert len(ran) == 2 and ran[0] == pytest.approx(cut_lr)
    assert done[1].params["optim.lr"] == cut_lr
    # the same folder with another space is another search: refused
    with pytest.raises(ConfigError, match="holds another search"):
        search(small(), digits, parse_space(["optim.lr=log:1e-4:1e-3"]), tmp_path, trials=3)


@pytest.mark.slow
def test_tune_writes_its_files_and_tests_the_best_config_once(digits, tmp_path: Path) -> None:
    result = tune(small(), digits, SPACE, tmp_path, trials=2)
    for name in ("tune.csv", "tune.png", "best.yaml", "tune.db", "best/summary.json"):
        assert (tmp_path / name).is_file(), name
    with open(tmp_path / "tune.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["state"] for r in rows] == ["COMPLETE", "COMPLETE"]
    best = max(rows, key=lambda r: float(r["value"]))
    assert float(best["optim.lr"]) == pytest.approx(result.best_params["optim.lr"])
    assert result.best_value == pytest.approx(float(best["value"]))
    # best.yaml is a config that trains the best trial's params
    from trainlab.recipes import load_config

    assert load_config(tmp_path / "best.yaml").optim.lr == pytest.approx(float(best["optim.lr"]))
    # the retrain is the same config and seed as the best trial: the same val metric, and
    # its test metric is the run's own (best/summary.json)
    import json

    summary = json.loads((tmp_path / "best" / "summary.json").read_text())
    assert summary["best_val_acc"] == pytest.approx(result.best_value)
    assert result.test["acc"] == summary["test"]["acc"]


class _Trial:
    def __init__(self, prune: bool) -> None:
        self.prune = prune
        self.reported: list = []

    def report(self, value: float, step: int) -> None:
        self.reported.append((step, value))

    def should_prune(self) -> bool:
        return self.prune


class _Trainer:
    primary, device = "rmse", "cpu"

    class task:
        @staticmethod
        def metrics(device):
            class M:
                higher_is_better = False

            return M()


def test_pruning_reports_the_signed_epoch_metric_and_stops_the_trial() -> None:
    keep, stop = _Trial(False), _Trial(True)
    for trial in (keep, stop):
        cb = _Pruning(trial, optuna, 1)
        cb.on_fit_start(_Trainer())
        if trial.prune:
            with pytest.raises(optuna.TrialPruned):
                cb.on_epoch_end(_Trainer(), {"epoch": 2, "val_rmse": 0.5})
        else:
            cb.on_epoch_end(_Trainer(), {"epoch": 2, "val_rmse": 0.5})
    assert keep.reported == stop.reported == [(2, -0.5)]  # lower rmse is better: negated


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("optim.nope=0:1", "optim.nope = 0.0: unknown key; expected one of"),
        ("optim.lr=log:1e-4:2", None),  # valid: lr has no upper bound
        ("optim.momentum=0.5:1.5", "optim.momentum = 1.5: expected a number < 1"),
        ("model.args.nope=0:1", "model 'mlp' takes no such argument"),
    ],
)
def test_space_keys_are_checked_against_the_config(digits, item: str, message) -> None:
    check = space_checker(small(), digits.task)
    if message is None:
        check_space(parse_space([item]), check)
        return
    with pytest.raises(ConfigError, match=message):
        check_space(parse_space([item]), check)


def test_apply_params_sets_dotted_keys() -> None:
    c = apply_params(small(), {"optim.lr": 0.02, "model.args.dropout": 0.25})
    assert c.optim.lr == 0.02 and c.model.args == {"widths": [16], "dropout": 0.25}
