"""The engine's public Task API: tasks other than supervised learning train, checkpoint and
resume bit-exactly through the Trainer without any change to trainlab.train."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from tests.trainers import StopAt
from torch import nn
from torch.nn import functional as F

from trainlab.data import DataBundle, Split
from trainlab.metrics import MeanMetrics
from trainlab.recipes import load_config
from trainlab.train import (
    OptimizerSpec,
    RunDir,
    Step,
    Task,
    TaskContext,
    Trainer,
    TrainingInterrupted,
    create_task,
    list_tasks,
    register_task,
)


def _points(n: int = 256, seed: int = 0) -> DataBundle:
    """2-D points on a ring (the GAN's target) with no labels: y holds zero columns."""
    g = torch.Generator().manual_seed(seed)
    angle = torch.rand(n, generator=g) * 6.2832
    x = torch.stack([angle.cos(), angle.sin()], 1) + 0.05 * torch.randn(n, 2, generator=g)
    none = torch.zeros(n, 0)
    parts = [Split(x[i::3], none[i::3]) for i in range(3)]
    return DataBundle(*parts, task="unlabelled", num_outputs=0, in_shape=(2,),
                      class_names=None, source="ring", input_mean=torch.zeros(2),
                      input_std=torch.ones(2))  # fmt: skip


@register_task("toy_gan")
class ToyGAN(Task):
    """Two modules, two optimizers (different lrs), alternating D then G updates; the
    generator's noise comes from the global torch RNG, which the engine checkpoints."""

    def __init__(self, noise: int = 4) -> None:
        super().__init__()
        self.noise = noise

    def setup(self, ctx: TaskContext) -> None:
        self.modules = {
            "g": nn.Sequential(nn.Linear(self.noise, 16), nn.ReLU(), nn.Linear(16, 2)),
            "d": nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1)),
        }

    def optimizers(self) -> dict[str, OptimizerSpec]:
        return {
            "d": OptimizerSpec(self.modules["d"], {"lr": 2e-3, "betas": (0.5, 0.999)}),
            "g": OptimizerSpec(self.modules["g"], {"lr": 1e-3, "betas": (0.5, 0.999)}),
        }

    def _losses(self, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        g, d = self.modules["g"], self.modules["d"]
        fake = g(torch.randn(real.shape[0], self.noise, device=real.device))
        ones, zeros = torch.ones(len(real), 1), torch.zeros(len(real), 1)
        d_loss = F.binary_cross_entropy_with_logits(d(real), ones) + (
            F.binary_cross_entropy_with_logits(d(fake.detach()), zeros)
        )
        g_loss = F.binary_cross_entropy_with_logits(d(fake), ones)
        return d_loss, g_loss

    def training_step(self, batch: Any, step: Step) -> None:
        real, _ = batch
        d_loss, g_loss = self._losses(real)
        step.backward(d_loss, "d")
        step.update("d")
        step.zero_grad("g")
        step.backward(g_loss, "g")
        step.update("g")
        step.log("d_loss", d_loss)
        step.log("g_loss", g_loss)

    def validation_step(self, batch: Any, metrics: MeanMetrics) -> None:  # type: ignore[override]
        real, _ = batch
        d_loss, g_loss = self._losses(real)
        metrics.add("loss", d_loss + g_loss, len(real))
        metrics.add("g_loss", g_loss, len(real))


class Denoise(Task):
    """Self-supervised: no labels; an autoencoder learns to remove noise it adds itself.
    Its extra state (a running count of samples) is checkpointed through state_dict."""

    def setup(self, ctx: TaskContext) -> None:
        self.modules = {"net": nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))}
        self.seen = 0

    def training_step(self, batch: Any, step: Step) -> None:
        x, _ = batch
        noisy = x + 0.1 * torch.randn_like(x)
        loss = F.mse_loss(self.modules["net"](noisy), x)
        step.backward(loss)
        step.update()
        step.log("loss", loss)
        self.seen += len(x)

    def validation_step(self, batch: Any, metrics: MeanMetrics) -> None:  # type: ignore[override]
        x, _ = batch
        metrics.add("loss", F.mse_loss(self.modules["net"](x), x), len(x))

    def state_dict(self) -> dict[str, Any]:
        return {"seen": self.seen}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.seen = int(state["seen"])


def _config(tmp_path: Path, *overrides: str):
    return load_config(
        overrides=[
            f"runs_dir={tmp_path}",
            "train.epochs=3",
            "data.batch_size=16",
            "optim.weight_decay=0",
            *overrides,
        ]
    )


def _run(tmp_path: Path, name: str, task: Task, *overrides: str, callbacks=()) -> Trainer:
    config = _config(tmp_path, f"name={name}", *overrides)
    run = RunDir.create(config.runs_dir, config.name)
    run.write_config(config.model_dump(mode="json"))
    return Trainer(config, _points(), run, callbacks, task=task)


def _states(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {
        f"{k}.{n}": t for k, m in trainer.task.modules.items() for n, t in m.state_dict().items()
    }


@pytest.mark.parametrize("make", [lambda: create_task("toy_gan"), Denoise], ids=["gan", "selfsup"])
def test_tasks_train_and_resume_bit_exactly_mid_epoch(tmp_path: Path, make) -> None:
    full = _run(tmp_path, "full", make(), "checkpoint.every_steps=2")
    summary = full.fit()
    assert summary["epochs"] == 3 and summary["steps"] == 3 * (85 // 16)
    # stop in the middle of epoch 2 (5 steps per epoch), then continue in a new Trainer
    with pytest.raises(TrainingInterrupted):
        _run(tmp_path, "cut", make(), callbacks=[StopAt(7)]).fit()
    config = _config(tmp_path, "name=cut")
    resumed = Trainer(config, _points(), RunDir.open(tmp_path / "cut"), task=make())
    resumed.resume()
    assert resumed.step == 7 and resumed.batch_in_epoch == 2
    resumed.fit()
    a, b = _states(full), _states(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [r | {"time": 0} for r in full.history] == [r | {"time": 0} for r in resumed.history]
    if isinstance(full.task, Denoise):
        assert resumed.task.seen == full.task.seen == 3 * 5 * 16


def test_gan_task_updates_both_modules_with_their_own_lr(tmp_path: Path) -> None:
    t = _run(tmp_path, "gan", create_task("toy_gan"), "train.epochs=1")
    g0 = [p.detach().clone() for p in t.task.modules["g"].parameters()]
    d0 = [p.detach().clone() for p in t.task.modules["d"].parameters()]
    t.fit()
    assert set(t.updaters) == {"d", "g"}
    assert t.updaters["d"].optimizer.defaults["lr"] == 2e-3
    assert t.updaters["g"].optimizer.param_groups[0]["betas"] == (0.5, 0.999)
    assert t.updaters["d"].updates == t.updaters["g"].updates == 5
    for before, p in zip(g0 + d0, [*t.task.modules["g"].parameters(),
                                   *t.task.modules["d"].parameters()], strict=True):  # fmt: skip
        assert not torch.equal(before, p)
    row = t.history[0]
    assert {"lr_d", "lr_g", "train_d_loss", "train_g_loss", "val_loss", "val_g_loss"} <= set(row)


def test_registered_tasks_are_reachable_by_name_from_the_config(tmp_path: Path) -> None:
    assert {"supervised", "toy_gan"} <= set(list_tasks())
    config = _config(tmp_path, "task.name=toy_gan", "task.args.noise=3", "train.epochs=1")
    t = Trainer(config, _points(), None)
    assert isinstance(t.task, ToyGAN) and t.task.noise == 3
    t.fit()


def test_bad_task_names_and_args_are_one_line_errors(tmp_path: Path) -> None:
    from trainlab.errors import ConfigError

    with pytest.raises(ConfigError, match="task.name = 'nope'.*expected one of"):
        _config(tmp_path, "task.name=nope")
    with pytest.raises(ValueError, match="task 'toy_gan' with args"):
        create_task("toy_gan", bogus=1)
    with pytest.raises(TypeError, match="expected a Task subclass"):
        register_task("thing")(int)  # type: ignore[arg-type]


def test_step_checks_its_arguments(tmp_path: Path) -> None:
    t = _run(tmp_path, "args", create_task("toy_gan"), "train.epochs=1")
    step = Step(t.updaters, t.precision, t.clipping, epoch=0, batch=0, index=0, micro=0,
                cycle=1, device=t.device)  # fmt: skip
    with pytest.raises(ValueError, match="several optimizers; name one of 'd', 'g'"):
        step.update()
    with pytest.raises(ValueError, match="unknown optimizer 'x'"):
        step.update("x")
    with pytest.raises(TypeError, match="scalar loss tensor"):
        step.backward(torch.ones(3), "d")
    with pytest.raises(ValueError, match="expected a scalar"):
        step.log("v", torch.ones(2))
