"""augment.placement in the trainer: explicit values obeyed, `auto` measured on a CPU with
workers and equal to the explicit run it picks, a resumed run keeping its recorded choice.

Timings are never real here: `measure_placement` gets a fake clock, so which path wins is
decided by the test while both paths still run on real images.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from tests.trainers import StopAt

import trainlab.train.build as build
from trainlab.augment import PerImageRandAugment, PlacementChoice, measure_placement
from trainlab.cli import main
from trainlab.errors import ConfigError
from trainlab.recipes import load_config
from trainlab.recipes.schema import Config
from trainlab.train import RunDir, Trainer, TrainingInterrupted, load_checkpoint
from trainlab.train.rng import rng_state

# (start, end) of the timed batch run, then of the timed worker run
CLOCKS = {"batch": (0.0, 1.0, 1.0, 3.0), "worker": (0.0, 3.0, 3.0, 4.0)}


@pytest.fixture
def images(tmp_path: Path) -> Path:
    """96 random 3x16x16 images in 3 classes: 67 train images, 4 steps of 16 per epoch."""
    rng = np.random.default_rng(0)
    path = tmp_path / "images.npz"
    x = rng.random((96, 3, 16, 16), dtype=np.float32)
    np.savez(path, x=x, y=rng.integers(0, 3, 96))
    return path


def _config(images: Path, *overrides: str) -> Config:
    return load_config(
        overrides=[
            f"data.source={images}",
            f"runs_dir={images.parent / 'runs'}",
            "model.args.widths=[8]",
            "train.epochs=2",
            "data.batch_size=16",
            "data.num_workers=2",
            "augment.randaugment_n=2",
            "augment.hflip=0.5",
            "augment.placement=auto",  # these tests are about auto (the default is batch)
            *overrides,
        ]
    )


def _trainer(config: Config, name: str | None = None, callbacks=(), **kw: Any) -> Trainer:
    run = None
    if name is not None:
        run = RunDir.create(config.runs_dir, name)
        run.write_config(config.model_copy(update={"name": name}).model_dump(mode="json"))
    return Trainer(config, build.build_data(config), run, callbacks, **kw)


def _favor(monkeypatch: pytest.MonkeyPatch, winner: str) -> list[PlacementChoice]:
    """Make the measurement pick `winner` (both paths still run); returns its choices."""
    made: list[PlacementChoice] = []

    def fake(batched: Callable, per_image: Callable, n: int) -> PlacementChoice:
        made.append(measure_placement(batched, per_image, n, timer=iter(CLOCKS[winner]).__next__))
        return made[-1]

    monkeypatch.setattr(build, "measure_placement", fake)
    return made


def _never_measure(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kw: Any) -> PlacementChoice:
        raise AssertionError("the placement was measured")

    monkeypatch.setattr(build, "measure_placement", fail)


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_explicit_placements_and_the_rule_need_no_measurement(
    images: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _never_measure(monkeypatch)
    data = build.build_data(_config(images))
    cpu = torch.device("cpu")

    def resolve(*overrides: str, device: torch.device = cpu) -> PlacementChoice | None:
        return build.resolve_placement(_config(images, *overrides), data, device)

    assert resolve("augment.placement=batch") == PlacementChoice("batch", "augment.placement")
    assert resolve("augment.placement=worker") == PlacementChoice("worker", "augment.placement")
    assert resolve("data.num_workers=0") == PlacementChoice("batch", "data.num_workers = 0")
    assert resolve(device=torch.device("cuda")) == PlacementChoice("batch", "on cuda")
    assert resolve("augment.randaugment_n=0") is None  # nothing to place
    trainer = _trainer(_config(images, "augment.placement=worker"))
    assert isinstance(trainer.worker_transform, PerImageRandAugment)
    assert trainer.train_loader.transform is trainer.worker_transform
    assert trainer.augment is not None and trainer.augment.rand_augment is None  # flip only
    trainer = _trainer(_config(images, "augment.placement=batch"))
    assert trainer.worker_transform is None and trainer.train_loader.transform is None
    assert trainer.augment is not None and trainer.augment.rand_augment is not None


@pytest.mark.parametrize(
    ("overrides", "device"),
    [(["data.num_workers=0"], "cpu"), ([], "cuda")],
)
def test_worker_needs_loader_workers_on_a_cpu(
    images: Path, overrides: list[str], device: str
) -> None:
    config = _config(images, "augment.placement=worker", *overrides)
    data = build.build_data(config)
    with pytest.raises(ConfigError, match=r"augment\.placement.*data\.num_workers") as e:
        build.resolve_placement(config, data, torch.device(device))
    assert "\n" not in str(e.value)


def test_worker_without_workers_exits_2_with_one_line(
    images: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["train", "--data", str(images), "--set", "augment.placement=worker", "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "augment.placement = 'worker'" in err and "data.num_workers = 0" in err


@pytest.mark.parametrize("winner", ["batch", "worker"])
def test_auto_equals_the_explicit_run_of_the_placement_it_measured(
    images: Path, monkeypatch: pytest.MonkeyPatch, winner: str
) -> None:
    made = _favor(monkeypatch, winner)
    auto = _trainer(_config(images))
    auto_rng = rng_state()
    assert [c.placement for c in made] == [winner] and auto.placement == made[0]
    assert (auto.worker_transform is not None) == (winner == "worker")
    explicit = _trainer(_config(images, f"augment.placement={winner}"))
    assert len(made) == 1  # explicit: not measured
    explicit_rng = rng_state()  # the measurement drew nothing from the global generators
    assert torch.equal(auto_rng["torch"], explicit_rng["torch"])
    assert auto_rng["python"] == explicit_rng["python"]
    assert torch.equal(auto_rng["numpy"]["key"], explicit_rng["numpy"]["key"])
    sa, se = auto.fit(), explicit.fit()
    assert sa["test"] == se["test"]
    drop_time = [{k: v for k, v in row.items() if k != "time"} for row in auto.history]
    assert drop_time == [{k: v for k, v in row.items() if k != "time"} for row in explicit.history]
    assert _same(_weights(auto.model), _weights(explicit.model))


def test_resume_keeps_the_recorded_placement(
    images: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """A run that measured "worker" is resumed where a new measurement would say "batch":
    both the CLI (which never measures again) and `Trainer.resume` keep "worker", and end
    with the weights of the uninterrupted run."""
    full = _trainer(_config(images, "augment.placement=worker"))
    full.fit()
    _favor(monkeypatch, "worker")
    for name in ("cli", "api"):
        with pytest.raises(TrainingInterrupted):
            _trainer(_config(images), name, [StopAt(5)]).fit()  # mid-epoch 2
    run_dir = Path(_config(images).runs_dir)
    assert load_checkpoint(run_dir / "cli" / "checkpoints" / "last.pt")["augment_placement"] == (
        "worker"
    )

    _never_measure(monkeypatch)
    assert main(["resume", str(run_dir / "cli"), "--no-progress"]) == 0
    assert "augment placement: worker (recorded by the run)" in capsys.readouterr().out
    resumed = load_checkpoint(run_dir / "cli" / "checkpoints" / "last.pt")
    assert resumed["augment_placement"] == "worker" and resumed["step"] == full.step
    assert _same(resumed["modules"]["model"], _weights(full.model))

    made = _favor(monkeypatch, "batch")
    api = Trainer(_config(images), build.build_data(_config(images)), RunDir.open(run_dir / "api"))
    assert api.placement is not None and api.placement.placement == "batch" and len(made) == 1
    api.resume()
    assert api.placement == PlacementChoice("worker", "recorded by the run")
    assert isinstance(api.train_loader.transform, PerImageRandAugment)
    api.fit()
    assert _same(_weights(api.model), _weights(full.model))
