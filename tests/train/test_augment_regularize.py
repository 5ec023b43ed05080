"""The trainer with trainlab.augment and trainlab.regularize switched on from the config."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tests.trainers import StopAt, digits_trainer

from trainlab.data import load_dataset
from trainlab.errors import ConfigError
from trainlab.recipes import load_config
from trainlab.train import RunDir, Trainer, TrainingInterrupted
from trainlab.train.callbacks import Callback

SMALL = ["model.name=cnn", "model.args.widths=[8, 16]", "train.epochs=2", "data.batch_size=64"]
RECIPE = [
    "augment.hflip=0.5",
    "augment.randaugment_n=2",
    "augment.randaugment_m=5",
    "augment.erasing_prob=0.25",
    "augment.mixup_alpha=0.8",
    "augment.cutmix_alpha=1.0",
    "augment.mode=elem",
    "train.label_smoothing=0.1",
    "regularize.ema_decay=0.9",
    "regularize.ema_warmup=tf",
    "regularize.clip_grad_norm=1.0",
]


def _trainer(tmp_path: Path, name: str, overrides=(), callbacks=()) -> Trainer:
    return digits_trainer(tmp_path, name, [*SMALL, *RECIPE, *overrides], callbacks)


@pytest.mark.slow
def test_modern_recipe_trains_evaluates_ema_and_resumes_exactly(tmp_path: Path) -> None:
    full = _trainer(tmp_path, "full")
    assert full.augment is not None and full.augment.mixes and full.ema is not None
    # smoothing lives in the soft targets: the training loss does not apply it again
    logits, soft = torch.randn(4, 10), torch.softmax(torch.randn(4, 10), dim=1)
    plain = -(soft * torch.log_softmax(logits, dim=1)).sum(1).mean()
    torch.testing.assert_close(full.task.train_loss_fn(logits, soft), plain)
    hard = torch.tensor([1, 2, 3, 4])
    torch.testing.assert_close(  # hard targets (evaluation) are still smoothed
        full.loss_fn(logits, hard),
        torch.nn.functional.cross_entropy(logits, hard, label_smoothing=0.1),
    )
    summary = full.fit()
    row = full.history[-1]
    assert "val_ema_acc" in row and "val_ema_loss" in row
    assert summary["test"]["acc"] > 0.1
    stopped = _trainer(tmp_path, "stopped", callbacks=[StopAt(9)])
    with pytest.raises(TrainingInterrupted):
        stopped.fit()
    config = load_config(overrides=[*SMALL, *RECIPE, "name=stopped", f"runs_dir={tmp_path}"])
    resumed = Trainer(config, load_dataset("digits"), RunDir.open(tmp_path / "stopped"))
    resumed.resume()
    resumed.fit()
    wf, wr = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(wf[k], wr[k]) for k in wf)  # augmentation RNG resumed exactly
    assert all(torch.equal(full.ema.shadow[k], resumed.ema.shadow[k]) for k in wf)


def test_augment_needs_images_and_mixing_needs_classes() -> None:
    from types import SimpleNamespace

    from trainlab.train.build import build_augment

    def data(shape: tuple[int, ...], task: str) -> SimpleNamespace:
        return SimpleNamespace(in_shape=shape, task=task, num_outputs=3,
                               input_mean=torch.zeros(1), input_std=torch.ones(1))  # fmt: skip

    config = load_config(overrides=["augment.hflip=0.5"])
    with pytest.raises(ConfigError, match="augment"):
        build_augment(config, data((64,), "classification"))  # type: ignore[arg-type]
    assert build_augment(config, data((1, 8, 8), "classification")) is not None  # type: ignore[arg-type]
    config = load_config(overrides=["augment.mixup_alpha=0.2"])
    with pytest.raises(ConfigError, match="mixup_alpha"):
        build_augment(config, data((1, 8, 8), "regression"))  # type: ignore[arg-type]
    assert build_augment(load_config(), data((64,), "regression")) is None  # type: ignore[arg-type]


def test_drop_path_rate_reaches_the_model_constructor(tmp_path: Path) -> None:
    config = load_config(overrides=[*SMALL, "regularize.drop_path_rate=0.1",
                                    f"runs_dir={tmp_path}"])  # fmt: skip
    with pytest.raises(ConfigError, match="drop_path_rate"):  # cnn has no residual blocks
        Trainer(config, load_dataset("digits"))


def test_worker_randaugment_resumes_bit_identically(tmp_path) -> None:
    """augment.placement=worker: RandAugment runs per image in the loader's threads, seeded
    by (seed, epoch, index), so a stop/resume mid-epoch replays it exactly."""
    from trainlab.augment import PerImageRandAugment
    from trainlab.train.build import build_data

    over = ["model.args.widths=[8]", "train.epochs=2", "augment.randaugment_n=2",
            "data.num_workers=2", "augment.placement=worker", f"runs_dir={tmp_path}"]  # fmt: skip

    def trainer(name: str, callbacks=()) -> Trainer:
        config = load_config(overrides=[*over, f"name={name}"])
        run = RunDir.create(config.runs_dir, name)
        run.write_config(config.model_dump(mode="json"))
        return Trainer(config, build_data(config), run, callbacks)

    class StopAt(Callback):
        def on_step_end(self, t, loss, batch_size) -> None:
            if t.step == 25:
                t.request_stop()

    full = trainer("full")
    assert isinstance(full.worker_transform, PerImageRandAugment)
    assert full.augment is None  # nothing left for the batched pipeline
    full.fit()
    cut = trainer("cut", [StopAt()])
    with pytest.raises(TrainingInterrupted):
        cut.fit()
    config = load_config(overrides=[*over, "name=cut"])
    resumed = Trainer(config, build_data(config), RunDir.open(tmp_path / "cut"))
    resumed.resume()
    resumed.fit()
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
