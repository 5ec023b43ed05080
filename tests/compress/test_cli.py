"""`trainlab prune`, `trainlab lottery` and `trainlab eval --early-exit`, in-process."""

from __future__ import annotations

import csv

import pytest
import torch

from tests.compress.conftest import tiny_config
from trainlab.cli import main
from trainlab.compress.runs import load_run_model, save_model_run
from trainlab.train import RunDir
from trainlab.train.build import build_data, build_model

TINY = ["--set", "model.args.widths=[8, 16]", "--set", "optim.lr=0.02"]


def _fake_run(tmp_path, name: str, *sets: str, checkpoint: bool = True) -> str:
    """A run directory with an untrained model's checkpoint (no training: fast)."""
    config = tiny_config(*sets)
    run = RunDir.create(tmp_path, name)
    data = build_data(config)
    if checkpoint:
        model = build_model(config, data.num_outputs, tuple(data.in_shape), task=data.task)
        save_model_run(run, config, model, data.meta(), {})
    else:
        run.write_config(config.model_dump(mode="json"))
    return str(run.path)


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("amount", ["1.0", "1.5", "-0.1"])
def test_amount_outside_range(tmp_path, capsys, amount: str) -> None:
    run = _fake_run(tmp_path, "r")
    assert main(["prune", run, "--amount", amount]) == 2
    assert f"--amount must be in [0, 1), got {float(amount):g}" in _one_error_line(capsys)


def test_run_without_checkpoints(tmp_path, capsys) -> None:
    run = _fake_run(tmp_path, "r", checkpoint=False)
    assert main(["prune", run, "--amount", "0.5"]) == 2
    assert "no checkpoint" in _one_error_line(capsys)


def test_unsupported_architecture_for_structured(tmp_path, capsys) -> None:
    run = _fake_run(tmp_path, "v", "model.name=vit_tiny", "model.args={}")
    assert main(["prune", run, "--amount", "0.5", "--structured", "--name", "x"]) == 2
    err = _one_error_line(capsys)
    assert "--structured: VisionTransformer: structured pruning does not know" in err
    assert not (tmp_path / "x").exists()  # refused before any run directory is made


def test_early_exit_eval_needs_an_early_exit_run(tmp_path, capsys) -> None:
    run = _fake_run(tmp_path, "r")
    assert main(["eval", run, "--early-exit"]) == 2
    assert "needs a run trained with task.name=early_exit" in _one_error_line(capsys)


def test_lottery_bad_rate(tmp_path, capsys) -> None:
    assert main(["lottery", _fake_run(tmp_path, "r"), "--rate", "1"]) == 2
    assert "--rate must be in [0, 1), got 1" in _one_error_line(capsys)


def _rows(path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_train_prune_lottery_and_early_exit_end_to_end(tmp_path) -> None:
    runs = ["--runs-dir", str(tmp_path), "--no-progress"]
    assert main(["train", "--epochs", "3", "--name", "base", *TINY, *runs]) == 0
    base = str(tmp_path / "base")
    # structured: a physically smaller model in a new run, read back without pickled code
    args = ["--amount", "0.5", "--structured", "--iterations", "2", "--finetune-epochs", "1",
            "--set", "optim.lr=0.01"]  # fmt: skip
    assert main(["prune", base, *args, "--name", "s", *runs]) == 0
    rows = _rows(tmp_path / "s" / "prune.csv")
    assert [r["iteration"] for r in rows] == ["0", "1", "2"]
    params = [int(r["params"]) for r in rows]
    assert params[0] > params[1] > params[2]
    assert (tmp_path / "s" / "plots" / "prune.png").stat().st_size > 0
    run = RunDir.open(tmp_path / "s")
    assert run.read_config()["optim"]["lr"] == 0.01  # the fine-tuning recipe, recorded
    model, _ = load_run_model(run, tiny_config())
    assert sum(p.numel() for p in model.parameters()) == params[2]
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    # unstructured: same shapes, so plain `trainlab eval` reads the result
    assert (
        main(["prune", base, "--amount", "0.8", "--finetune-epochs", "1", "--name", "u", *runs])
        == 0
    )
    rows = _rows(tmp_path / "u" / "prune.csv")
    assert float(rows[1]["sparsity"]) == pytest.approx(0.8, abs=1e-3)
    assert rows[0]["flops"] == rows[1]["flops"]  # masks do not change the dense FLOPs
    assert main(["eval", str(tmp_path / "u")]) == 0
    # lottery tickets
    assert main(["lottery", base, "--rounds", "1", "--epochs", "1", "--name", "l", *runs]) == 0
    assert len(_rows(tmp_path / "l" / "lottery.csv")) == 2
    assert (tmp_path / "l" / "plots" / "lottery.png").is_file()
    # early exit: train with the task, then the threshold sweep
    assert (
        main(
            [
                "train",
                "--epochs",
                "2",
                "--name",
                "ee",
                "--set",
                "task.name=early_exit",
                *TINY,
                *runs,
            ]
        )
        == 0
    )
    assert main(["eval", str(tmp_path / "ee"), "--early-exit", "entropy"]) == 0
    rows = _rows(tmp_path / "ee" / "early_exit_entropy.csv")
    assert rows[0]["threshold"] == "none (last exit)" and len(rows) == 13
    assert (tmp_path / "ee" / "plots" / "early_exit_entropy.png").is_file()
