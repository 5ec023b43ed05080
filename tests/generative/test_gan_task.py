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


def _ring_loop(steps: int) -> object:
    """The task's MLP pair and losses in a plain loop on fresh ring samples (batch 256)."""
    from trainlab.generative import MLPDiscriminator, MLPGenerator
    from trainlab.generative.gan import d_loss, g_loss

    g = torch.Generator().manual_seed(0)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        gen, disc = MLPGenerator((2,), 8, 128, 3), MLPDiscriminator((2,), 128, 3)
    og = torch.optim.Adam(gen.parameters(), 1e-3, betas=(0.5, 0.999))
    od = torch.optim.Adam(disc.parameters(), 1e-3, betas=(0.5, 0.999))
    for _ in range(steps):
        x, _ = eight_gaussians(256, generator=g, std=0.05)
        fake = gen(torch.randn(256, 8, generator=g))
        od.zero_grad()
        d_loss("non_saturating", disc(x), disc(fake.detach())).backward()
        od.step()
        og.zero_grad()
        g_loss("non_saturating", disc(fake)).backward()
        og.step()
    with torch.no_grad():
        return mode_coverage(gen(torch.randn(2000, 8, generator=g)), ring_centers(), threshold=0.15)


@pytest.mark.slow
def test_ring_gan_spreads_over_the_modes_quickly() -> None:
    # measured: 8 of 8 modes after 1000 steps (high-quality share 0.09, rising to 0.8 by
    # 3000); a generator that does not learn sits near its init (0 modes)
    cov = _ring_loop(1000)
    assert cov.modes_covered >= 6, cov


@pytest.mark.experiment
def test_ring_gan_task_covers_at_least_7_of_8_modes(tmp_path: Path) -> None:
    # budget: 16,000 samples (11,200 train), batch 256, 60 epochs = 2,580 steps; measured
    # 8 of 8 modes, 23% of samples within 3 std of a mode, 161 s on 2 shared cores
    x, _ = eight_gaussians(16000, generator=torch.Generator().manual_seed(0), std=0.05)
    np.savez(tmp_path / "ring.npz", x=x.numpy())
    t = _trainer(tmp_path, "ring", "task.name=gan", f"data.source={tmp_path / 'ring.npz'}",
                 "data.normalize=false", "train.epochs=60", "optim.lr=1e-3", "data.batch_size=256",
                 "gan.width=128")  # fmt: skip
    t.fit()
    g = t.task._sampler().eval()
    with torch.no_grad():
        smp = g(torch.randn(2000, 8, generator=torch.Generator().manual_seed(1)))
    cov = mode_coverage(smp, ring_centers(), threshold=0.15)
    assert cov.modes_covered >= 7, cov


@pytest.mark.experiment
def test_gan_digits_recipe_reaches_inception_score_7(tmp_path: Path) -> None:
    # budget: the gan-digits recipe (cGAN, 100 epochs of 19 steps); measured IS 8.56 of 10,
    # the real test images 8.74 under the same classifier; the unconditional GAN (same
    # settings, 200 epochs, generator EMA 0.999) reached 4.92
    recipe = Path(__file__).parents[2] / "src/trainlab/recipes/builtin/gan-digits.yaml"
    config = load_config(str(recipe), [f"runs_dir={tmp_path}", "name=is"])
    t = Trainer(config, build_data(config), RunDir.create(tmp_path, "is"))
    s = t.fit()
    assert s["test"]["inception_score"] >= 7.0, s["test"]
    assert Path(s["plots"]["samples"]).is_file()
