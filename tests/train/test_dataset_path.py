"""The Dataset + DataLoader path through the engine: worker processes, a user's Dataset in
`trainlab.fit`, and a run killed with SIGKILL that resumes bit-identically."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

import trainlab


def _npy_folder(root: Path, n: int = 240) -> Path:
    """x.npy (n, 1, 8, 8) float32 images of 4 classes (a bright quadrant each) and y.npy."""
    g = np.random.default_rng(0)
    y = np.arange(n) % 4
    x = g.normal(0, 0.5, (n, 1, 8, 8)).astype(np.float32)
    for k in range(4):
        r, c = divmod(k, 2)
        x[y == k, 0, 4 * r : 4 * r + 4, 4 * c : 4 * c + 4] += 1.5
    root.mkdir(parents=True, exist_ok=True)
    np.save(root / "x.npy", x)
    np.save(root / "y.npy", y)
    return root


class Quadrants(Dataset):
    """A user's Dataset: (C, H, W) float tensors and int labels, made on the fly."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed = n, seed

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        g = torch.Generator().manual_seed(self.seed * 100_000 + i)
        k = i % 4
        x = 0.5 * torch.randn(1, 8, 8, generator=g)
        r, c = divmod(k, 2)
        x[0, 4 * r : 4 * r + 4, 4 * c : 4 * c + 4] += 1.5
        return x, k


def test_fit_trains_on_a_custom_dataset_with_worker_processes() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 4))
    summary = trainlab.fit(model, Quadrants(192, 0), val=Quadrants(64, 1), test=Quadrants(64, 2),
                           epochs=4, batch_size=16, data__num_workers=2, optim__lr=1e-2)  # fmt: skip
    # the quadrant is 3 sigma brighter than the noise: a trained MLP gets nearly every image
    assert summary["test"]["acc"] >= 0.9


class _BadItems(Quadrants):
    def __getitem__(self, i: int):
        return {"image": torch.zeros(1, 8, 8)}


def test_a_dataset_returning_the_wrong_types_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="_BadItems"):
        trainlab.fit(nn.Linear(64, 4), _BadItems(32, 0), epochs=1)


def _cli(*args: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(trainlab.__file__).parents[1])}
    return subprocess.Popen([sys.executable, "-m", "trainlab", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip


def _modules(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoints" / "last.pt", weights_only=True)["modules"]["model"]


@pytest.mark.slow
def test_kill_9_and_resume_is_bit_identical_on_the_worker_process_path(tmp_path: Path) -> None:
    data = _npy_folder(tmp_path / "quad")
    common = ["--data", str(data), "--model", "mlp", "--epochs", "3", "--no-progress",
              "--set", "data.lazy=true", "--set", "data.num_workers=2",
              "--set", "data.batch_size=16", "--set", "checkpoint.every_steps=1",
              "--set", "log.every_steps=1"]  # fmt: skip
    full = _cli("train", "--name", "full", *common, cwd=tmp_path)
    _, err = full.communicate(timeout=300)
    assert full.returncode == 0, err.decode()
    cut = _cli("train", "--name", "cut", *common, cwd=tmp_path)
    last = tmp_path / "runs" / "cut" / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # kill once a mid-run checkpoint exists
        if last.is_file() and torch.load(last, weights_only=True)["step"] >= 12:
            break
        time.sleep(0.05)
    os.killpg(cut.pid, signal.SIGKILL)  # the trainer and its worker processes, no cleanup
    cut.communicate()
    killed_at = torch.load(last, weights_only=True)["step"]
    assert 12 <= killed_at < 3 * (168 // 16)
    resumed = _cli("resume", str(tmp_path / "runs" / "cut"), "--no-progress", cwd=tmp_path)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err.decode()
    a, b = _modules(tmp_path / "runs" / "full"), _modules(tmp_path / "runs" / "cut")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    steps_full = (tmp_path / "runs" / "full" / "metrics_steps.csv").read_text().splitlines()
    steps_cut = (tmp_path / "runs" / "cut" / "metrics_steps.csv").read_text().splitlines()
    drop_rate = lambda lines: [",".join(r.split(",")[:-1]) for r in lines]  # noqa: E731
    assert drop_rate(steps_full) == drop_rate(steps_cut)  # samples/s is wall-clock
