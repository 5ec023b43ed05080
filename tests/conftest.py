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


def pytest_configure(config: pytest.Config) -> None:
    """Under `pytest -n N` each worker gets its share of the cores as torch threads: N
    workers with torch's default of one thread per core oversubscribe the machine (measured:
    the transformer recipe test took 29 s beside another worker, 8 s alone)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


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
