"""`trainlab eval RUN --attack ...` and `trainlab robustness RUN`, in-process on a tiny run."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from trainlab.cli import main

TINY = ["--set", "model.args.widths=[8, 16]", "--set", "log.every_steps=0"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    args = ["train", "--model", "cnn", "--epochs", "12", "--runs-dir", str(root), "--name", "r",
            "--no-progress", *TINY]  # fmt: skip
    assert main(args) == 0
    return root / "r"


def _pct(text: str, key: str) -> float:
    line = next(ln for ln in text.splitlines() if key in ln)
    return float(line.split("│")[2].strip().rstrip("%")) / 100


@pytest.mark.slow
def test_eval_attack_reports_clean_and_robust_accuracy(run_dir: Path, capsys) -> None:
    assert main(["eval", str(run_dir), "--attack", "pgd", "--eps", "0.25", "--steps", "3"]) == 0
    out = capsys.readouterr().out
    assert "PGD-3 linf eps=0.25 (white-box)" in out
    clean, robust = _pct(out, "clean_acc"), _pct(out, "robust_acc")
    assert clean > 0.8 and robust < clean - 0.3  # a standard model: a large drop
    assert main(["eval", str(run_dir), "--attack", "fgsm", "--eps", "0",
                 "--proxy", str(run_dir)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "transfer from" in out and _pct(out, "robust_acc") == _pct(out, "clean_acc")


@pytest.mark.slow
def test_robustness_writes_the_curve_and_the_grid(run_dir: Path, capsys) -> None:
    assert main(["robustness", str(run_dir), "--eps", "0,0.1,0.25", "--steps", "2",
                 "--grid", "4"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    with open(run_dir / "robustness.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["method"], float(r["eps"])) for r in rows] == [
        (m, e) for m in ("fgsm", "pgd") for e in (0.0, 0.1, 0.25)
    ]
    acc = {(r["method"], float(r["eps"])): float(r["acc"]) for r in rows}
    assert acc[("fgsm", 0.0)] == acc[("pgd", 0.0)] > acc[("pgd", 0.25)]
    for name in ("robustness.png", "adversarial_grid.png"):
        png = run_dir / "plots" / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "image grid" in out and "pgd@0.25 acc" in out


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["eval", "{run}", "--attack", "pgd"], "--attack needs --eps"),
        (["eval", "{run}", "--attack", "pgd", "--eps", "-1"], "--eps -1.0: expected a budget >= 0"),
        (["eval", "{run}", "--attack", "pgd", "--eps", "1", "--steps", "0"], "--steps 0"),
        (["robustness", "{run}", "--eps", "0,x"], "expected comma-separated numbers"),
    ],
)
def test_bad_attack_arguments_are_one_line_errors(run_dir: Path, capsys, args, match) -> None:
    assert main([a.format(run=run_dir) for a in args]) == 2
    err = capsys.readouterr().err.strip()
    assert match in err and len(err.splitlines()) == 1
