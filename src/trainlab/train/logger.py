"""Per-step scalars: `metrics_steps.csv` (or `.jsonl`) and, optionally, TensorBoard events.

Every `log.every_steps` updates the engine writes one row: epoch, step, each optimizer's
lr, what the task logged for that batch (loss, grad norm, ...) and samples/s since the
previous row. Values are read from the device only for those rows. Rows are appended and
flushed as they come; on resume the file is cut back to the checkpoint's step first, so a
resumed run's file equals an uninterrupted run's. TensorBoard (an optional extra: `pip
install trainlab[tensorboard]`) gets the same step scalars plus every epoch row.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainlab.errors import ConfigError


class StepLogger:
    """Append-only step rows in `path` (csv or jsonl) plus an optional TensorBoard writer."""

    def __init__(self, path: Path | None, fmt: str = "csv", tensorboard: Path | None = None):
        self.path, self.fmt = path, fmt
        self._fields: list[str] | None = None
        self._tb = None
        if tensorboard is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise ConfigError(
                    "log.tensorboard = true needs the tensorboard package: "
                    "pip install 'trainlab[tensorboard]' (or set log.tensorboard=false)"
                ) from None
            self._tb = SummaryWriter(str(tensorboard))

    def truncate(self, step: int) -> None:
        """Drop rows after `step` (a resumed run rewrites them exactly)."""
        if self.path is None or not self.path.is_file():
            return
        if self.fmt == "jsonl":
            lines = self.path.read_text(encoding="utf-8").splitlines()
            rows = [json.loads(line) for line in lines if line.strip()]
            kept = [r for r in rows if r["step"] <= step]
            self.path.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
            return
        self._fields = _header(self.path)
        self._rewrite(self._fields, lambda r: int(r["step"]) <= step)

    def write(self, row: dict[str, Any]) -> None:
        if self._tb is not None:
            for k, v in row.items():
                if k not in ("epoch", "step") and isinstance(v, float) and math.isfinite(v):
                    self._tb.add_scalar(f"step/{k}", v, row["step"])
        if self.path is None:
            return
        if self.fmt == "jsonl":
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
            return
        new = self._fields is None and not self.path.is_file()
        if self._fields is None:
            self._fields = list(row) if new else _header(self.path)
        extra = [k for k in row if k not in self._fields]
        if extra:  # a value appeared (e.g. a grad norm after clipping was turned on)
            self._fields = self._fields + extra
            self._rewrite(self._fields)
        with self.path.open("a", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self._fields, lineterminator="\n")
            if new:
                writer.writeheader()
            writer.writerow(row)

    def _rewrite(
        self, fields: list[str], keep: Callable[[dict[str, str]], bool] | None = None
    ) -> None:
        """Rewrite the csv with columns `fields`, keeping the rows `keep` accepts."""
        assert self.path is not None
        rows = csv.DictReader(io.StringIO(self.path.read_text(encoding="utf-8")))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(r for r in rows if keep is None or keep(r))
        self.path.write_text(buf.getvalue(), encoding="utf-8")

    def epoch(self, row: dict[str, Any]) -> None:
        if self._tb is None:
            return
        for k, v in row.items():
            if k not in ("epoch", "step") and isinstance(v, float) and math.isfinite(v):
                self._tb.add_scalar(f"epoch/{k}", v, row["epoch"])
        self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def _header(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as f:
        return next(csv.reader(f), [])


def read_steps(path: Path) -> list[dict[str, Any]]:
    """The rows of a step log (csv or jsonl) with numbers as floats."""
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    rows = []
    for r in csv.DictReader(io.StringIO(text)):
        rows.append({k: float(v) if v not in ("", None) else math.nan for k, v in r.items()})
    return rows
