"""The full ablation of the issue (experiment-sized: minutes): classic -> modern on the
digits with the default model and two seeds, through the command a user runs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from trainlab.cli import main


@pytest.mark.experiment
def test_classic_to_modern_with_two_seeds(tmp_path: Path) -> None:
    args = ["ablate", "--from", "classic", "--to", "modern", "--seeds", "2"]
    assert main([*args, "--runs-dir", str(tmp_path), "--no-progress"]) == 0
    folder = tmp_path / "ablate-classic-modern"
    with open(folder / "ablation.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 11 * 2
    # rung 0 is the classic recipe's 5 epochs; one epoch of it reached 53.5% test (measured),
    # chance is 10%: five epochs must do better than one
    start = [float(r["test_acc"]) for r in rows if r["rung"] == "0"]
    assert min(start) > 0.535, start
    assert (folder / "ablation.png").is_file() and (folder / "report.md").is_file()
