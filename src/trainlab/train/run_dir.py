"""The run directory: `runs/<name>/` with the resolved config, metrics, summary,
checkpoints and plots. Every file is written atomically."""

from __future__ import annotations

import csv
import io
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from trainlab.errors import CheckpointError
from trainlab.train.checkpoint import atomic_write_text


class RunDir:
    """Paths and writers of one run's directory."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    config = property(lambda self: self.path / "config.yaml")
    metrics = property(lambda self: self.path / "metrics.csv")
    summary = property(lambda self: self.path / "summary.json")
    sessions = property(lambda self: self.path / "run.json")
    checkpoints = property(lambda self: self.path / "checkpoints")
    last = property(lambda self: self.path / "checkpoints" / "last.pt")
    best = property(lambda self: self.path / "checkpoints" / "best.pt")
    plots = property(lambda self: self.path / "plots")
    curves = property(lambda self: self.path / "plots" / "curves.png")
    confusion = property(lambda self: self.path / "plots" / "confusion.png")

    @classmethod
    def create(cls, runs_dir: Path | str, name: str | None) -> RunDir:
        """A new, empty run directory; `name` defaults to a timestamp (made unique)."""
        runs_dir = Path(runs_dir)
        if name is not None:
            path = runs_dir / name
            if path.exists() and any(path.iterdir()):
                raise CheckpointError(
                    f"{path}: a run with this name exists; continue it with "
                    f"`trainlab resume {path}` or choose another --name"
                )
        else:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path, k = runs_dir / stamp, 1
            while path.exists():
                path, k = runs_dir / f"{stamp}-{k}", k + 1
        try:
            (path / "checkpoints").mkdir(parents=True, exist_ok=True)
            (path / "plots").mkdir(exist_ok=True)
        except OSError as e:
            raise CheckpointError(f"{path}: cannot create the run directory ({e})") from None
        return cls(path)

    @classmethod
    def open(cls, path: Path | str) -> RunDir:
        """An existing run directory; an error names what is missing."""
        run = cls(path)
        if not run.path.is_dir():
            raise CheckpointError(f"{run.path}: no such run directory")
        if not run.config.is_file():
            raise CheckpointError(f"{run.path}: not a trainlab run (no config.yaml)")
        return run

    def read_config(self) -> dict[str, Any]:
        try:
            data = yaml.safe_load(self.config.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as e:
            raise CheckpointError(f"{self.config}: unreadable config ({e})") from None
        if not isinstance(data, dict):
            raise CheckpointError(f"{self.config}: expected a mapping of config keys")
        return data

    def write_config(self, config: dict[str, Any]) -> None:
        atomic_write_text(self.config, yaml.safe_dump(config, sort_keys=False))

    def write_metrics(self, rows: list[dict[str, Any]]) -> None:
        """The whole history as CSV (rewritten, so a resumed run never duplicates rows)."""
        if not rows:
            return
        fields = list(dict.fromkeys(k for row in rows for k in row))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.metrics, buf.getvalue())

    def write_summary(self, summary: dict[str, Any]) -> None:
        atomic_write_text(self.summary, json.dumps(summary, indent=2) + "\n")

    def record_session(self) -> None:
        """Append this process's versions, command line and git commit to `run.json`
        (one entry per session: the first `train`, then each `resume`)."""
        entries: list[dict[str, Any]] = []
        if self.sessions.is_file():
            try:
                entries = list(json.loads(self.sessions.read_text(encoding="utf-8"))["sessions"])
            except (OSError, ValueError, KeyError, TypeError):
                entries = []
        entries.append(environment())
        atomic_write_text(self.sessions, json.dumps({"sessions": entries}, indent=2) + "\n")


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def environment() -> dict[str, Any]:
    """Versions, command line and git commit (of the working directory) of this process."""
    import torch

    from trainlab import __version__

    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "argv": list(sys.argv),
        "cwd": str(Path.cwd()),
        "trainlab": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": _git_commit(),
    }
