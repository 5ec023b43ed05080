"""The `trainlab` command as a user runs it: subprocesses, exit codes, run directories."""

from __future__ import annotations

import csv
import json
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.conftest import popen_cli, run_cli

from trainlab.cli import main

TINY = ["--set", "model.args.widths=[8, 16]", "--no-progress"]


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv") as f:
        return [{k: v for k, v in r.items() if k != "time"} for r in csv.DictReader(f)]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoints" / "last.pt", weights_only=True)["modules"]["model"]


@pytest.mark.slow
def test_train_writes_the_run_directory_and_reports_test_accuracy(tmp_path: Path) -> None:
    r = run_cli(["train", "--epochs", "2", "--name", "r", *TINY], tmp_path)
    assert r.returncode == 0, r.stderr
    run = tmp_path / "runs" / "r"
    assert "test_acc" in r.stdout and "runs/r" in r.stdout
    for name in ("config.yaml", "metrics.csv", "summary.json", "checkpoints/last.pt",
                 "checkpoints/best.pt", "plots/curves.png"):  # fmt: skip
        assert (run / name).is_file(), name
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs"] == 2
    # the test summary has every classification metric; the epoch rows only loss and acc
    assert {"loss", "acc", "f1_macro", "precision_macro", "recall_macro", "ece"} <= set(
        summary["test"]
    )
    assert (run / "plots" / "confusion.png").is_file() and "confusion.png" in r.stdout
    assert len(_rows(run)) == 2
    # eval of the finished run, on its own test split and on a user's file
    e = run_cli(["eval", str(run)], tmp_path)
    assert e.returncode == 0 and "acc" in e.stdout, e.stderr
    from trainlab.data import load_digits

    d = load_digits()
    np.savez(tmp_path / "more.npz", x=d.x[:50, 0], y=d.y[:50])
    e = run_cli(["eval", str(run), "--data", "more.npz"], tmp_path)
    assert e.returncode == 0 and "50" in e.stdout, e.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--set", "optim.lr=-1"], "optim.lr = -1: expected a number > 0"),
        (["train", "--epochs", "0"], "train.epochs = 0: expected a number >= 1"),
        (["train", "--set", "data.split=[0.5,0.3,0.3]"], "must sum to 1"),
        (["train", "--model", "nope"], "model.name = 'nope': unknown model"),
        (["train", "--set", "optim.typo=1"], "optim.typo = 1: unknown key"),
        (["train", "--data", "missing.npz"], "missing.npz: no such file"),
        (["train", "--config", "none.yaml"], "none.yaml: no such config file"),
        (["resume", "not_a_run"], "not_a_run: no such run directory"),
        (["eval", "."], "not a trainlab run"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_traceback(
    tmp_path: Path, args: list[str], message: str
) -> None:
    r = run_cli(args, tmp_path)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr + r.stdout
    assert message in r.stderr
    assert r.stderr.strip().count("\n") == 0  # one line


def test_in_process_errors_return_2(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--set", "train.label_smoothing=1.5"]) == 2
    assert "train.label_smoothing = 1.5" in capsys.readouterr().err
    assert main(["train", "--set", "model.args.bogus=1", "--epochs", "1"]) == 2
    assert "unexpected keyword argument 'bogus'" in capsys.readouterr().err
    assert main(["train", "--set", "regularize.drop_path_rate=0.1", "--model", "mlp"]) == 2
    assert "model 'mlp' has no residual branches to drop" in capsys.readouterr().err
    assert main(["train", "--print-config", "--set", "optim.lr=0.5"]) == 0
    assert "lr: 0.5" in capsys.readouterr().out
    assert main(["models", "m*"]) == 0 and "mlp" in capsys.readouterr().out


@pytest.mark.slow
def test_csv_regression_end_to_end(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    lines = ["rooms,area,city,price"]
    for _ in range(200):
        rooms, area, city = rng.integers(1, 6), rng.uniform(30, 150), rng.choice(["a", "b"])
        price = 1000 * area + 20000 * rooms + (50000 if city == "a" else 0) + rng.normal(0, 5000)
        lines.append(f"{rooms},{area:.1f},{city},{price:.2f}")
    (tmp_path / "houses.csv").write_text("\n".join(lines) + "\n")
    r = run_cli(
        ["train", "--data", "houses.csv", "--target", "price", "--model", "mlp", "--epochs", "30",
         "--set", "optim.lr=0.01", "--name", "h", "--no-progress"],
        tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "runs/h/summary.json").read_text())
    assert summary["data"]["task"] == "regression" and set(summary["test"]) >= {"rmse", "mae"}
    assert summary["test"]["rmse"] < 20000  # price std is ~ 50,000: the model learned it


def _wait_for_rows(run: Path, proc, rows: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (run / "metrics.csv").is_file() and len(_rows(run)) >= rows:
            return
        assert proc.poll() is None, "the run ended before it could be stopped"
        time.sleep(0.01)
    raise AssertionError("the run made no progress")


@pytest.mark.slow
@pytest.mark.parametrize("how", ["kill", "ctrl-c"])
def test_a_stopped_run_resumes_bit_identically(tmp_path: Path, how: str) -> None:
    args = ["train", "--epochs", "12", *TINY, "--set", "data.batch_size=16"]
    full = run_cli([*args, "--name", "full"], tmp_path)
    assert full.returncode == 0, full.stderr
    proc = popen_cli([*args, "--name", "cut"], tmp_path)
    run = tmp_path / "runs" / "cut"
    _wait_for_rows(run, proc, 2)
    proc.send_signal(signal.SIGKILL if how == "kill" else signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    if how == "kill":
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 130 and "trainlab resume" in out, err
    assert not (run / "summary.json").exists()
    assert len(_rows(run)) < 12
    r = run_cli(["resume", str(run), "--no-progress"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert _rows(run) == _rows(tmp_path / "runs" / "full")
    a, b = _weights(run), _weights(tmp_path / "runs" / "full")
    assert all(torch.equal(a[k], b[k]) for k in a)
    ja = json.loads((run / "summary.json").read_text())
    jb = json.loads((tmp_path / "runs/full/summary.json").read_text())
    assert ja["test"] == jb["test"]
