"""The gradient reversal layer, the lambda schedule, domain shifts and the DANN task."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from trainlab.adapt import GradientReversal, apply_shift, dann_lambda, grad_reverse
from trainlab.cli import main


def test_gradient_reversal_is_identity_forward_and_minus_lambda_backward() -> None:
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 3, dtype=torch.float64)
    y = grad_reverse(x, 0.7)
    assert torch.equal(y, x)
    (y * w).sum().backward()
    torch.testing.assert_close(x.grad, -0.7 * w, rtol=0, atol=0)
    layer = GradientReversal(2.0)
    x.grad = None
    layer(x).sum().backward()
    assert torch.equal(x.grad, torch.full_like(x, -2.0))
    with pytest.raises(ValueError, match="lambda must be >= 0"):
        GradientReversal(-1.0)


def test_lambda_schedule_of_ganin() -> None:
    assert dann_lambda(0.0) == 0.0
    assert dann_lambda(1.0) == pytest.approx(2 / (1 + math.exp(-10)) - 1)
    assert dann_lambda(0.5) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert dann_lambda(2.0) == dann_lambda(1.0)  # progress is clipped
    vals = [dann_lambda(p / 10) for p in range(11)]
    assert vals == sorted(vals)


def test_shifts() -> None:
    x = torch.rand(5, 1, 8, 8)
    inv = apply_shift(x, "invert")
    torch.testing.assert_close(inv, x.min() + x.max() - x)
    torch.testing.assert_close(apply_shift(inv, "invert"), x)
    rot = apply_shift(x, "rotate", degrees=0.0)
    torch.testing.assert_close(rot, x, atol=1e-6, rtol=0)
    turned = apply_shift(x, "rotate", degrees=90.0)
    torch.testing.assert_close(
        turned[:, :, 1:-1, 1:-1], torch.rot90(x, 1, (2, 3))[:, :, 1:-1, 1:-1], atol=1e-5, rtol=0
    )
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    assert torch.equal(apply_shift(x, "noise", generator=g1), apply_shift(x, "noise", generator=g2))
    # texture (MNIST-M): lo + (hi - lo) |b - u| with u = x scaled to [0, 1] and b the seeded
    # 3x3 uniform field upsampled bilinearly; every value stays in [lo, hi]
    tex = apply_shift(x, "texture", generator=torch.Generator().manual_seed(3))
    coarse = torch.rand((5, 1, 3, 3), generator=torch.Generator().manual_seed(3))
    b = torch.nn.functional.interpolate(coarse, size=(8, 8), mode="bilinear")
    lo, hi = x.min(), x.max()
    torch.testing.assert_close(tex, lo + (hi - lo) * (b - (x - lo) / (hi - lo)).abs())
    assert float(tex.min()) >= float(lo) and float(tex.max()) <= float(hi) + 1e-6
    with pytest.raises(ValueError, match="shift 'blur'"):
        apply_shift(x, "blur")


def _dann(tmp_path: Path, name: str, *extra: str) -> int:
    argv = ["train", "--runs-dir", str(tmp_path), "--name", name, "--no-progress", "--model", "mlp"]
    argv += ["--set", "task.name=dann", "--set", "adapt.shift=invert", "--set", "train.epochs=2"]
    for kv in extra:
        argv += ["--set", kv]
    return main(argv)


@pytest.mark.slow
def test_dann_run_reports_target_accuracy_and_the_embedding(tmp_path: Path) -> None:
    import json

    assert _dann(tmp_path, "d") == 0
    summary = json.loads((tmp_path / "d" / "summary.json").read_text())
    assert {"acc", "target_acc"} <= set(summary["test"])
    assert summary["test"]["acc"] > 0.8  # the source task is learnt in two epochs
    assert (tmp_path / "d" / "plots" / "embedding.png").stat().st_size > 5000


def test_dann_config_errors(tmp_path: Path, capsys) -> None:
    assert _dann(tmp_path, "e", "adapt.shift=null") == 2
    assert "adapt.target" in capsys.readouterr().err
    assert _dann(tmp_path, "f", "adapt.target=x.npz") == 2
    assert "not both" in capsys.readouterr().err


def _target_gain(tmp_path: Path, seed: int, *extra: str) -> tuple[float, float, float, float]:
    """(source-only target acc, DANN target acc, source-only source acc, DANN source acc) of
    the dann-digits recipe at `seed`, each read from the run's test summary."""
    import json

    out = []
    for method in ("source_only", "dann"):
        name = f"{method}-{seed}-{len(extra)}"
        argv = ["train", "--recipe", "dann-digits", "--runs-dir", str(tmp_path), "--name", name]
        argv += ["--no-progress", "--set", f"seed={seed}", "--set", f"adapt.method={method}"]
        for kv in extra:
            argv += ["--set", kv]
        assert main(argv) == 0
        out.append(json.loads((tmp_path / name / "summary.json").read_text())["test"])
    return out[0]["target_acc"], out[1]["target_acc"], out[0]["acc"], out[1]["acc"]


# Digits -> noisy digits (Gaussian noise of 0.3 x the pixel range; no target label is used
# for training or for choosing the checkpoint). Measured with the dann-digits recipe through
# the CLI (the seed also draws the train/val/test split), target test accuracy for seeds
# 0-7: source-only 70.6 73.2 75.5 65.4 72.9 76.6 76.2 72.5% (72.9% on average), DANN with the
# entropy term 87.0 84.4 85.1 88.1 86.3 84.0 87.4 84.4% (85.8%): +16.4 +11.2 +9.7 +22.7 +13.4
# +7.4 +11.2 +11.9 points, +13.0 on average, at similar source test accuracy (DANN 96.3-99.6%,
# source-only 98.1-100%, within 1.9 points on every seed). Seed 0 is deterministic on CPU.
@pytest.mark.slow
def test_dann_raises_target_accuracy_by_ten_points_over_source_only(tmp_path: Path) -> None:
    so, da, so_src, da_src = _target_gain(tmp_path, seed=0)
    assert da - so >= 0.10, (so, da)
    assert abs(da_src - so_src) <= 0.02 and da_src >= 0.97  # at similar source accuracy


@pytest.mark.experiment
def test_dann_gain_over_seeds_and_without_the_entropy_term(tmp_path: Path) -> None:
    """Seeds 1-7: the mean gain is at least 10 points and every seed gains at least 5 (two
    of the seven measured below 10: +9.7 and +7.4). Plain DANN (adapt.entropy = 0, 60 epochs)
    on seeds 1-3: a mean gain of at least 5 points."""
    runs = [_target_gain(tmp_path, seed) for seed in range(1, 8)]
    gains = [da - so for so, da, _, _ in runs]
    assert sum(gains) / len(gains) >= 0.10 and min(gains) >= 0.05, runs
    assert all(abs(a - b) <= 0.02 for _, _, a, b in runs), runs
    plain = [_target_gain(tmp_path, s, "adapt.entropy=0", "train.epochs=60") for s in (1, 2, 3)]
    assert sum(da - so for so, da, _, _ in plain) / 3 >= 0.05, plain


def test_source_and_target_npz_files_through_the_cli(tmp_path: Path, capsys) -> None:
    """`--data source.npz --target-data target.npz`: task dann on two files, the target
    standardized with the source's statistics and split 70/30 into pool and test set."""
    import json

    import numpy as np

    from trainlab.data.digits import read_digits

    x, y = read_digits()
    x = x.reshape(-1, 1, 8, 8).astype(np.float32)
    np.savez(tmp_path / "source.npz", x=x[:900], y=y[:900])
    np.savez(tmp_path / "target.npz", x=16.0 - x[900:], y=y[900:])  # inverted, labelled
    argv = ["train", "--data", str(tmp_path / "source.npz"), "--target-data"]
    argv += [str(tmp_path / "target.npz"), "--runs-dir", str(tmp_path), "--name", "f"]
    argv += ["--no-progress", "--model", "mlp", "--epochs", "1"]
    assert main(argv) == 0
    s = json.loads((tmp_path / "f" / "summary.json").read_text())
    assert s["task"] == "dann" and "target_acc" in s["test"]
    assert "target: " in (tmp_path / "f" / "config.yaml").read_text()
    capsys.readouterr()
    bad = [*argv[:-2], "--set", "task.name=mae", "--name", "g"]
    assert main(bad) == 2
    assert "--target-data is the target domain of task dann" in capsys.readouterr().err


def test_prediction_entropy_is_the_mean_shannon_entropy() -> None:
    from trainlab.losses import logit_entropy as prediction_entropy  # what DANN calls

    assert float(prediction_entropy(torch.zeros(3, 10))) == pytest.approx(math.log(10))
    logits = torch.tensor([[0.0, math.log(3.0)], [20.0, -20.0]])  # p = (1/4, 3/4) and ~(1, 0)
    h = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert float(prediction_entropy(logits)) == pytest.approx(h / 2, rel=1e-6)
