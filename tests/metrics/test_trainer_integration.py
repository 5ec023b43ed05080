"""End to end: the trainer builds its loss from the `loss` config section and reports
the task's metrics, with the confusion matrix saved in the run directory."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from trainlab.data import load_dataset
from trainlab.errors import ConfigError
from trainlab.losses import MixedTargetCrossEntropy, smooth_labels
from trainlab.recipes import load_config
from trainlab.train import RunDir, Trainer

TINY = ["model.name=mlp", "model.args.widths=[16]", "train.epochs=1", "data.batch_size=128"]


def _trainer(tmp_path: Path, *overrides: str) -> Trainer:
    config = load_config(overrides=[*TINY, "name=t", f"runs_dir={tmp_path}", *overrides])
    data = load_dataset("digits", seed=config.seed)
    return Trainer(config, data, RunDir.create(config.runs_dir, config.name))


@pytest.mark.slow
def test_loss_section_and_metrics_reach_the_trainer(tmp_path: Path) -> None:
    weights = [1.0 + i / 10 for i in range(10)]
    t = _trainer(
        tmp_path,
        "train.label_smoothing=0.1",
        "loss.smoothing=notes",
        f"loss.class_weight={weights}",
    )
    loss = t.loss_fn
    assert isinstance(loss, MixedTargetCrossEntropy) and loss.smoothing == "notes"
    x, y = torch.randn(4, 10), torch.tensor([0, 3, 9, 3])
    w = torch.tensor(weights)
    q = smooth_labels(y, 10, 0.1, smoothing="notes")  # 0.9 on the class, 0.1/9 elsewhere
    expected = -(q * w * x.log_softmax(1)).sum(1).sum() / w[y].sum()
    torch.testing.assert_close(loss(x, y), expected)
    summary = t.fit()
    assert {"acc", "top5_acc", "f1_macro", "f1_micro", "ece"} <= set(summary["test"])
    assert summary["test"]["f1_micro"] == pytest.approx(summary["test"]["acc"])
    assert set(t.history[0]) >= {"train_loss", "train_acc", "val_loss", "val_acc"}
    assert "val_f1_macro" not in t.history[0]  # epoch rows stay short
    png = tmp_path / "t" / "plots" / "confusion.png"
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_class_weight_must_match_the_classes(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="3 weights but the data has 10 classes"):
        _trainer(tmp_path, "loss.class_weight=[1, 2, 3]")
    with pytest.raises(ConfigError):
        load_config(overrides=["loss.smoothing=timm"])
    with pytest.raises(ConfigError):
        load_config(overrides=["loss.class_weight=[1, -2]"])


def test_standard_smoothing_is_torch(tmp_path: Path) -> None:
    t = _trainer(tmp_path, "train.label_smoothing=0.2")
    x, y = torch.randn(5, 10), torch.randint(0, 10, (5,))
    torch.testing.assert_close(t.loss_fn(x, y), F.cross_entropy(x, y, label_smoothing=0.2))


@pytest.mark.slow
def test_multilabel_data_trains_with_a_named_loss(tmp_path: Path) -> None:
    """(N, C) 0/1 labels: multilabel task, soft_margin by name, F1 as the primary metric;
    labels that are a linear function of x are learned far above the all-zero baseline."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6)).astype(np.float32)
    y = (x[:, :3] > 0).astype(np.int64)  # label j is x_j > 0
    np.savez(tmp_path / "ml.npz", x=x, y=y)
    config = load_config(
        overrides=["model.name=mlp", "model.args.widths=[16]", "train.epochs=6",
                   "data.batch_size=32", "optim.lr=0.05", "loss.name=soft_margin", "name=t",
                   f"runs_dir={tmp_path}"]
    )  # fmt: skip
    data = load_dataset(str(tmp_path / "ml.npz"), seed=config.seed)
    assert data.task == "multilabel" and data.num_outputs == 3
    t = Trainer(config, data, RunDir.create(config.runs_dir, config.name))
    result = t.fit()
    assert t.primary == "f1_micro"
    # all-zero predictions give F1 0, a coin ~0.5; measured 0.94 here (0.97 after 10 epochs)
    assert result["test"]["f1_micro"] > 0.85
