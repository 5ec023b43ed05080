"""`trainlab continual` as a user runs it: the run directory, --compare, --resume, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from trainlab.cli import main

FAST = ["--model", "mlp", "--epochs", "1", "--no-progress", "--set", "data.batch_size=64"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tasks", "11"], "n_tasks = 11: expected an int in 1..10"),
        (["--method", "foo"], "continual.method = 'foo': unknown method"),
        (["--method", "ewc", "--set", "continual.ewc_lambda=-1"], "continual.ewc_lambda = -1"),
        (["--method", "gem", "--set", "continual.memory_size=0"], "continual.memory_size = 0"),
        (["--compare", "naive,foo"], "--compare = 'naive,foo'"),
        (["--scenario", "rotated", "--multi-head"], "only split tasks have task-specific"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys, args, message) -> None:
    code = main(["continual", *args, "--runs-dir", str(tmp_path), *FAST])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1, err
    assert not any(tmp_path.iterdir())  # no run directory left behind


def test_one_method_writes_the_run(tmp_path: Path, capsys) -> None:
    code = main(["continual", "--method", "replay", "--tasks", "2", "--name", "r",
                 "--runs-dir", str(tmp_path), *FAST])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    root = tmp_path / "r"
    for name in ("config.yaml", "R.csv", "metrics.json", "plots/R.png", "plots/stream.png"):
        assert (root / name).is_file(), name
    metrics = json.loads((root / "metrics.json").read_text())
    assert metrics["method"] == "replay" and len(metrics["R"]) == 2
    assert "ACC" in out and "BWT" in out


def test_resume_takes_no_other_settings(tmp_path: Path, capsys) -> None:
    assert main(["continual", "--resume", str(tmp_path), "--method", "gem"]) == 2
    assert "drop --method" in capsys.readouterr().err


@pytest.mark.slow
def test_compare_and_resume_in_a_subprocess(tmp_path: Path) -> None:
    args = ["continual", "--compare", "naive,gem", "--tasks", "2", "--name", "c", *FAST]
    done = run_cli(args, tmp_path)
    assert done.returncode == 0, done.stderr
    root = tmp_path / "runs" / "c"
    rows = (root / "compare.csv").read_text().splitlines()
    assert rows[0].startswith("method,ACC,BWT,FWT") and [r.split(",")[0] for r in rows[1:]] == [
        "naive",
        "gem",
    ]
    assert (root / "plots" / "compare.png").is_file()
    before = (root / "gem" / "R.csv").read_text()
    # a finished run resumes to the same results (every task is already done)
    assert main(["continual", "--resume", str(root), "--no-progress"]) == 0  # in-process
    assert (root / "gem" / "R.csv").read_text() == before


def test_an_mnist1d_style_npz_of_signals(tmp_path: Path, capsys) -> None:
    # MNIST-1D-style: 1-D signals (N, 1, 40) of 10 classes (noisy class templates)
    import numpy as np

    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 400)
    x = (rng.normal(size=(10, 40))[y] + 0.5 * rng.normal(size=(400, 40))).astype(np.float32)
    np.savez(tmp_path / "m1d.npz", x=x[:, None, :], y=y)
    args = ["continual", "--data", str(tmp_path / "m1d.npz"), "--scenario", "permuted",
            "--tasks", "2", "--method", "agem", "--name", "s", "--runs-dir", str(tmp_path),
            "--epochs", "1", "--no-progress"]  # fmt: skip
    assert main(args) == 0
    metrics = json.loads((tmp_path / "s" / "metrics.json").read_text())
    assert len(metrics["R"]) == 2 and len(metrics["R"][0]) == 2
    assert "rotated" not in capsys.readouterr().err
