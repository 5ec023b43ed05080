"""`trainlab diagnose` on runs made broken on purpose (tiny MLPs on the embedded digits,
a few epochs each), and its answers to bad input.

Each run is the smallest that still shows its failure; the figures they produced when the
thresholds were set (machine shared, same seeds) are in docs/diagnose.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from trainlab.cli import main
from trainlab.diagnose.report import diagnose_run

COMMON = "--no-progress --model mlp --set diagnose.every_steps=5 --set log.every_steps=5"

CASES = {  # name: (train arguments, the verdicts accepted)
    # adamw 3e-3 with warmup + cosine: the default recipe on a small MLP
    "healthy": ("--epochs 6 --set model.args.widths=[64]", {"healthy"}),
    "lr_high": (
        "--epochs 2 --set model.args.widths=[64] --set optim.lr=50 --set sched.warmup_epochs=0",
        {"diverged", "exploding gradients"},
    ),
    "lr_low": (
        "--epochs 2 --set model.args.widths=[64] --set optim.lr=1e-6",
        {"not converged yet", "underfitting (high bias)"},
    ),
    # 5% of the digits (~90 samples) for a 256-wide MLP without weight decay
    "overfit": (
        "--epochs 15 --set model.args.widths=[256] --set data.split=[0.05,0.475,0.475] "
        "--set data.batch_size=16 --set optim.weight_decay=0",
        {"overfitting (high variance)"},
    ),
    # 8 sigmoid layers, plain SGD (Adam would rescale the small gradients away)
    "vanish": (
        "--epochs 2 --set model.args.widths=[32,32,32,32,32,32,32,32] "
        "--set model.args.act=sigmoid --set optim.name=sgd --set optim.lr=0.05",
        {"vanishing gradients"},
    ),
    "random": (
        "--data RANDOM --epochs 4 --set model.args.widths=[64]",
        {"noisy labels / noise floor"},
    ),
}


def train(root: Path, name: str, args: str) -> int:
    words = [str(root / "random.npz") if a == "RANDOM" else a for a in args.split()]
    return main(["train", "--runs-dir", str(root), "--name", name, *COMMON.split(), *words])


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    from trainlab.data.digits import read_digits

    root = tmp_path_factory.mktemp("runs")
    x, y = read_digits()
    labels = np.random.default_rng(0).permutation(y)  # the same labels, shuffled
    np.savez(root / "random.npz", x=x.astype(np.float32), y=labels)
    return root


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_broken_run_gets_its_verdict(root, name, capsys):
    args, expected = CASES[name]
    assert train(root, name, args) == 0
    capsys.readouterr()
    result = diagnose_run(root / name, curvature=False)
    assert result["verdict"] in expected, result["evidence"]
    assert result["reasons"] and result["next_steps"]
    assert (root / name / "diagnosis.md").read_text().count(result["verdict"]) >= 1


@pytest.mark.slow
def test_full_report_with_curvature_and_json(root, capsys):
    args, _ = CASES["healthy"]
    name = "healthy_json"
    assert train(root, name, args) == 0
    capsys.readouterr()
    assert main(["diagnose", str(root / name), "--json", "--iters", "15", "--top-k", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["verdict"] == "healthy"
    curv = result["curvature"]
    assert len(curv["top_eigenvalues"]) == 2
    assert curv["top_eigenvalues"][0] >= curv["top_eigenvalues"][1] > curv["min_eigenvalue"]
    assert curv["trace"]["low"] <= curv["trace"]["mean"] <= curv["trace"]["high"]
    for f in ("loss", "grad_norms", "spectrum", "landscape"):
        assert (root / name / "diagnose" / f"{f}.png").stat().st_size > 1000
    assert result["not_computed"] == []


@pytest.mark.slow
def test_run_that_diverged_in_its_first_epoch(root, capsys):
    name = "nan_first_epoch"
    args = "--epochs 3 --set model.args.widths=[64] --set optim.name=sgd --set optim.lr=1e8"
    rc = train(root, name, args + " --set sched.warmup_epochs=0")
    assert rc == 1  # the CLI's answer to a diverged run
    assert not (root / name / "checkpoints" / "last.pt").exists()
    capsys.readouterr()
    assert main(["diagnose", str(root / name), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["verdict"] == "diverged"
    assert result["curvature"] is None
    assert any(m.startswith("checkpoints: none") for m in result["not_computed"])
    assert any(m.startswith("metrics.csv") for m in result["not_computed"])
    assert "TrainingDiverged" in result["evidence"]["interrupted"]
    assert (root / name / "diagnosis.md").is_file()


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["diagnose", str(empty)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"trainlab: error: {empty}: not a trainlab run (no config.yaml)"
    assert main(["diagnose", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"trainlab: error: {tmp_path / 'missing'}: no such run directory"
    assert main(["diagnose", str(empty), "--iters", "0"]) == 2
    assert "--iters = 0: expected a positive integer" in capsys.readouterr().err


@pytest.mark.slow
def test_top_k_larger_than_parameters(tmp_path, capsys):
    assert main(["train", "--runs-dir", str(tmp_path), "--name", "tiny", "--no-progress",
                 "--model", "mlp", "--epochs", "1", "--set", "model.args.widths=[2]"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["diagnose", str(tmp_path / "tiny"), "--top-k", "100000"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    # 64*2 + 2 + 2*10 + 10 = 160 parameters
    assert err == ["trainlab: error: --top-k = 100000: larger than the number of parameters (160)"]
