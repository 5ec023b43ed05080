"""Shared test helpers: run the CLI as a user would, in a subprocess; and the hypothesis
profile (derandomized, no deadline: the suite draws the same examples on every run and
never depends on wall-clock time)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("trainlab", derandomize=True, deadline=None)
settings.load_profile("trainlab")

SRC = Path(__file__).resolve().parents[1] / "src"


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def run_cli(args: list[str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    """`python -m trainlab ARGS` in `cwd`, capturing text output."""
    return subprocess.run(
        [sys.executable, "-m", "trainlab", *args],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def popen_cli(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "trainlab", *args],
        cwd=cwd,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def cli(tmp_path: Path):
    """Run the CLI in a fresh folder: `cli(["train", ...])`."""
    return lambda args, **kw: run_cli(args, tmp_path, **kw)
