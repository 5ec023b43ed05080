"""`trainlab eval` of a run whose task is not `supervised` reports that task's own metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from trainlab.cli import main
from trainlab.metrics.mean import MeanMetrics
from trainlab.train import register_task
from trainlab.train.supervised import SupervisedTask


@register_task("eval_probe_task")
class _ProbeTask(SupervisedTask):
    """Supervised training; validation reports only the mean squared logit."""

    def metrics(self, device: torch.device, *, detailed: bool = False) -> Any:
        return MeanMetrics(device)

    def validation_step(self, batch: Any, metrics: Any) -> None:
        x, _ = batch
        out = self.model(self._inputs(x))
        metrics.add("sq_logit", out.pow(2).mean(), len(out))


def test_eval_uses_the_tasks_metrics(tmp_path: Path, capsys) -> None:
    argv = ["train", "--runs-dir", str(tmp_path), "--name", "p", "--no-progress"]
    argv += ["--set", "train.epochs=1", "--set", "task.name=eval_probe_task"]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert "sq_logit" in out and "eval_probe_task" in out
    assert "test_acc" not in out and " acc " not in out
