"""The GAN tasks on the engine: alternating updates, d_steps, penalties, EMA, grids, resume."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from trainlab.data import load_dataset
from trainlab.errors import ConfigError
from trainlab.generative import eight_gaussians, mode_coverage, ring_centers
from trainlab.recipes import load_config
from trainlab.train import RunDir, Trainer
from trainlab.train.build import build_data

GAN = ["optim.name=adam", "optim.weight_decay=0", "sched.name=constant", "sched.warmup_epochs=0",
       "log.every_steps=0", "gan.width=8", "gan.z_dim=8", "gan.classifier=none"]  # fmt: skip


def _trainer(tmp_path: Path, name: str, *over: str, data=None) -> Trainer:
    config = load_config(overrides=[*GAN, *over, f"name={name}", f"runs_dir={tmp_path}"])
    run = RunDir.create(config.runs_dir, name)
    run.write_config(config.model_dump(mode="json"))
    return Trainer(config, data if data is not None else build_data(config), run)


def test_gan_alternates_two_optimizers_and_d_steps(tmp_path: Path) -> None:
    t = _trainer(tmp_path, "d2", "task.name=gan", "train.epochs=1", "gan.d_steps=2")
    g0 = {k: v.clone() for k, v in t.task.modules["g"].state_dict().items()}
    t.fit()
    per_epoch = t.updates_per_epoch
    assert t.updaters["d"].updates == per_epoch  # D every batch
    assert t.updaters["g"].updates == per_epoch // 2  # G every second batch
    assert set(t.updaters) == {"d", "g"}
    assert t.updaters["g"].optimizer.param_groups[0]["betas"] == (0.5, 0.999)
    g1 = t.task.modules["g"].state_dict()
    assert any(not torch.equal(g0[k], g1[k]) for k in g0)
    row = t.history[-1]
    assert math.isfinite(row["train_loss_d"]) and math.isfinite(row["train_loss_g"])
    assert "val_fid" in row  # pixel-space FID without a classifier


@pytest.mark.slow
def test_gan_resumes_bit_identically_with_ema_and_penalty(tmp_path: Path) -> None:
    over = ["task.name=gan", "train.epochs=2", "gan.ema_decay=0.9", "gan.penalty=r1"]
    full = _trainer(tmp_path, "full", *over)
    full.fit()
    cut = _trainer(tmp_path, "cut", *over[:1], "train.epochs=1", *over[2:])
    cut.fit()
    resumed = _trainer(tmp_path, "cut-2", *over)
    resumed.load_state_dict(torch.load(cut.run.last, weights_only=True))
    resumed.fit()
    for key in ("g", "d", "g_ema"):
        a, b = full.task.modules[key].state_dict(), resumed.task.modules[key].state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), key
    # the EMA differs from the live generator (it is really averaged)
    ema, live = full.task.modules["g_ema"].state_dict(), full.task.modules["g"].state_dict()
    assert any(not torch.equal(ema[k], live[k]) for k in live if live[k].is_floating_point())
    assert (full.run.plots / "samples_epoch001.png").is_file()
    assert (full.run.plots / "samples.png").is_file()


@pytest.mark.slow
@pytest.mark.parametrize(
    "over",
    [
        ["gan.loss=hinge", "gan.spectral_norm=true"],
        ["gan.loss=wasserstein", "gan.penalty=wgan-gp", "gan.d_steps=2"],
        ["gan.loss=minimax"],
    ],
)
def test_gan_variants_train_with_finite_losses(tmp_path: Path, over: list[str]) -> None:
    t = _trainer(tmp_path, "v", "task.name=gan", "train.epochs=1", *over)
    t.fit()
    assert all(math.isfinite(t.history[-1][k]) for k in ("train_loss_d", "train_loss_g", "val_fid"))


@pytest.mark.slow
def test_cgan_and_pix2pix_run_and_report_their_metrics(tmp_path: Path) -> None:
    cg = _trainer(tmp_path, "cg", "task.name=cgan", "train.epochs=1", "gan.classifier=auto",
                  "gan.classifier_epochs=3")  # fmt: skip
    s = cg.fit()
    assert cg.task.modules["g"].num_classes == 10
    assert 1.0 <= s["test"]["inception_score"] <= 10.0 and s["test"]["fid"] > 0
    assert bool(cg.task.modules["score"].ready)
    p2p = _trainer(tmp_path, "p2p", "task.name=pix2pix", "train.epochs=1", "gan.l1_weight=10")
    s = p2p.fit()
    assert 0 < s["test"]["l1"] < 1.5 and Path(s["plots"]["samples"]).is_file()


def test_bad_input_is_one_config_error(tmp_path: Path) -> None:
    x, _ = eight_gaussians(200, generator=torch.Generator().manual_seed(0))
    np.savez(tmp_path / "ring.npz", x=x.numpy())
    ring = load_dataset(str(tmp_path / "ring.npz"))
    assert not ring.labeled
    with pytest.raises(ConfigError, match="gan.arch = 'dcgan' needs images"):
        _trainer(tmp_path, "a", "task.name=gan", "gan.arch=dcgan", data=ring)
    with pytest.raises(ConfigError, match="needs class labels"):
        _trainer(tmp_path, "b", "task.name=cgan", data=ring)
    with pytest.raises(ConfigError, match="needs labels"):
        _trainer(tmp_path, "c", "task.name=supervised", data=ring)
    with pytest.raises(ConfigError, match="train.accumulate"):
        _trainer(tmp_path, "d", "task.name=gan", "train.accumulate=2")


def _ring_gan(tmp_path: Path, epochs: int, samples: int) -> tuple[Trainer, object]:
    x, _ = eight_gaussians(samples, generator=torch.Generator().manual_seed(0), std=0.05)
    np.savez(tmp_path / "ring.npz", x=x.numpy())
    over = ["task.name=gan", f"data.source={tmp_path / 'ring.npz'}", "data.normalize=false",
            f"train.epochs={epochs}", "optim.lr=1e-3", "data.batch_size=128", "gan.width=128"]  # fmt: skip
    t = _trainer(tmp_path, "ring", *over, data=None)
    t.fit()
    g = t.task._sampler().eval()
    with torch.no_grad():
        smp = g(torch.randn(2000, 8, generator=torch.Generator().manual_seed(1)))
    # within 3 std of a mode counts as high quality (std 0.05)
    return t, mode_coverage(smp, ring_centers(), threshold=0.15)
