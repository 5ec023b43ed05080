"""AE, DAE and MAE: the MAE loss reads masked patches only; reconstruction beats the mean image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from trainlab.errors import ConfigError
from trainlab.generative.autoencoder import gaussian_corruption, masking_corruption
from trainlab.generative.mae import MaskedAutoencoder, random_masking, unpatchify
from trainlab.models.layers.stem import patchify
from trainlab.recipes import load_config
from trainlab.train import RunDir, Trainer
from trainlab.train.build import build_data

BASE = ["log.every_steps=0", "optim.lr=3e-3"]


def _trainer(tmp_path: Path, name: str, *over: str) -> Trainer:
    config = load_config(overrides=[*BASE, *over, f"name={name}", f"runs_dir={tmp_path}"])
    run = RunDir.create(config.runs_dir, name)
    return Trainer(config, build_data(config), run)


def test_patchify_round_trip_and_random_masking() -> None:
    x = torch.randn(3, 2, 8, 8)
    assert torch.equal(unpatchify(patchify(x, 2), 2, (2, 8, 8)), x)
    g = torch.Generator().manual_seed(0)
    kept, mask = random_masking(5, 16, 0.75, generator=g, device=torch.device("cpu"))
    assert kept.shape == (5, 4) and mask.sum(1).tolist() == [12] * 5
    assert not mask.gather(1, kept).any()  # kept patches are exactly the unmasked ones
    again, _ = random_masking(
        5, 16, 0.75, generator=torch.Generator().manual_seed(0), device=torch.device("cpu")
    )
    assert torch.equal(kept, again)
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="ratio"):
            random_masking(1, 16, bad, generator=g, device=torch.device("cpu"))


def test_mae_loss_ignores_the_visible_patches_outputs() -> None:
    torch.manual_seed(0)
    m = MaskedAutoencoder((1, 8, 8), 2, dim=16, depth=1, heads=2, decoder_dim=8)
    x = torch.randn(4, 1, 8, 8)
    kept, mask = random_masking(
        4, m.length, 0.75, generator=torch.Generator().manual_seed(1), device=torch.device("cpu")
    )
    pred = m(x, kept)
    base = m.loss(pred, x, mask)
    changed = pred.clone()
    changed[~mask] += 100.0  # every visible patch's output moved far away
    assert torch.equal(m.loss(changed, x, mask), base)
    target = patchify(x, 2)
    exact = changed.clone()
    exact[mask] = target[mask]  # perfect hidden patches, garbage visible ones: zero loss
    assert m.loss(exact, x, mask).item() == 0.0 < base.item()
    # and the loss is the MSE of the hidden patches, written out
    ref = ((pred - target) ** 2)[mask].mean()
    torch.testing.assert_close(base, ref)


def test_corruptions() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.ones(20000)
    noisy = gaussian_corruption(x, 0.5, generator=g)
    assert abs(float((noisy - x).std()) - 0.5) < 0.01  # 4.6 standard errors of a std estimate
    masked = masking_corruption(x, 0.3, generator=g)
    assert abs(float((masked == 0).double().mean()) - 0.3) < 0.015  # 4.6 s.e. of a proportion
    with pytest.raises(ValueError, match="prob"):
        masking_corruption(x, 1.0, generator=g)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("task", "epochs", "ratio"),
    # measured after 10 epochs: AE 0.16, DAE 0.21 of the mean image's error
    [("autoencoder", 4, 0.4), ("dae", 4, 0.5)],
)
def test_reconstruction_beats_the_mean_image(
    tmp_path: Path, task: str, epochs: int, ratio: float
) -> None:
    t = _trainer(tmp_path, task, f"task.name={task}", f"train.epochs={epochs}")
    s = t.fit()
    test = s["test"]
    assert test["mse"] < ratio * test["baseline_mse"], test
    assert Path(s["plots"]["reconstructions"]).is_file()


def test_unlabeled_npz_trains_an_autoencoder_and_mae_needs_images(tmp_path: Path) -> None:
    x = np.random.default_rng(0).random((120, 1, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "u.npz", x=x)
    t = _trainer(tmp_path, "u", "task.name=autoencoder", f"data.source={tmp_path / 'u.npz'}",
                 "train.epochs=1", "data.batch_size=16")  # fmt: skip
    assert not t.data.labeled
    assert "mse" in t.fit()["test"]
    np.savez(tmp_path / "v.npz", x=x.reshape(120, -1))
    with pytest.raises(ConfigError, match="needs images"):
        _trainer(tmp_path, "v", "task.name=mae", f"data.source={tmp_path / 'v.npz'}")


def test_mae_fits_one_batch_far_below_its_start() -> None:
    # the whole gradient path (visible-patch encoder, mask tokens, decoder): 60 Adam steps
    # on one fixed batch and mask; a model that does not learn stays at its start
    torch.manual_seed(0)
    m = MaskedAutoencoder((1, 8, 8), 2, dim=32, depth=2, heads=2, decoder_dim=16)
    x = torch.randn(16, 1, 8, 8)
    kept, mask = random_masking(
        16, m.length, 0.75, generator=torch.Generator().manual_seed(0), device=torch.device("cpu")
    )
    opt = torch.optim.Adam(m.parameters(), 3e-3)
    start = m.loss(m(x, kept), x, mask).item()
    for _ in range(60):
        opt.zero_grad()
        loss = m.loss(m(x, kept), x, mask)
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * start, (start, loss.item())


@pytest.mark.experiment
def test_mae_digits_recipe_beats_the_mean_image(tmp_path: Path) -> None:
    # budget: the mae-digits recipe (60 epochs); measured masked-patch MSE 0.385 against the
    # mean image's 0.515 (0.75 of it)
    recipe = Path(__file__).parents[2] / "src/trainlab/recipes/builtin/mae-digits.yaml"
    config = load_config(str(recipe), [f"runs_dir={tmp_path}", "name=mae"])
    s = Trainer(config, build_data(config), RunDir.create(tmp_path, "mae")).fit()
    assert s["test"]["mse"] < 0.85 * s["test"]["baseline_mse"], s["test"]
