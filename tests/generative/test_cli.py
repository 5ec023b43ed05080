"""`trainlab train --set task.name=...` for the generative tasks: run directory, pictures,
resume; bad input answered with one line and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from trainlab.cli import main

FAST = ["--no-progress", "--set", "gan.width=8", "--set", "gan.z_dim=8", "--set", "gan.classifier=none",
        "--set", "data.batch_size=128", "--set", "log.every_steps=0"]  # fmt: skip


def test_gan_from_the_command_line_writes_grids_and_resumes(tmp_path: Path, capsys) -> None:
    rc = main(
        [
            "train",
            "--set",
            "task.name=gan",
            "--epochs",
            "2",
            "--runs-dir",
            str(tmp_path),
            "--name",
            "g",
            *FAST,
        ]
    )
    assert rc == 0
    run = tmp_path / "g"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["task"] == "gan" and summary["test"]["fid"] > 0
    assert (run / "plots" / "samples_epoch001.png").is_file() and (
        run / "plots" / "samples.png"
    ).is_file()
    capsys.readouterr()
    assert main(["resume", str(run), "--no-progress"]) == 0
    assert "already finished" in " ".join(capsys.readouterr().out.split())  # rich wraps lines


def test_flat_image_folder_is_unlabeled_data_for_an_autoencoder(tmp_path: Path) -> None:
    from PIL import Image

    folder = tmp_path / "flat"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(folder / f"{i}.png")
    rc = main(["train", "--data", str(folder), "--set", "data.image_size=8", "--set", "task.name=autoencoder",
               "--epochs", "1", "--runs-dir", str(tmp_path), "--name", "a", *FAST[:1], "--set", "data.batch_size=8"])  # fmt: skip
    assert rc == 0
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["data"]["train"] == 28 and "mse" in summary["test"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "task.name=diffusion"], "task.name"),
        (
            ["--set", "task.name=gan", "--set", "gan.arch=dcgan", "--data", "VECTORS"],
            "needs images",
        ),
        (["--set", "task.name=mae", "--set", "ae.mask_ratio=1.5"], "ae.mask_ratio"),
        (["--set", "task.name=mae", "--set", "ae.mask_ratio=0"], "ae.mask_ratio"),
        (["--set", "task.name=simclr", "--set", "simclr.temperature=0"], "simclr.temperature"),
        (["--set", "task.name=simclr", "--set", "simclr.temperature=-0.1"], "simclr.temperature"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys, args: list[str], message: str
) -> None:
    vectors = tmp_path / "v.npz"
    np.savez(vectors, x=np.zeros((40, 3), np.float32))
    args = [str(vectors) if a == "VECTORS" else a for a in args]
    rc = main(["train", *args, "--epochs", "1", "--runs-dir", str(tmp_path), *FAST])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and message in err and len(err.splitlines()) == 1, err
