"""U-Net: per-pixel logits for any input size, parameter and FLOP counts by hand, gradients,
registry and `trainlab models show unet`."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from trainlab.cli import main
from trainlab.models import UNet, create_model, describe_model, list_models


def _block(a: int, b: int) -> int:
    """Two 3x3 conv (no bias) + batch norm (weight, bias): 9ab + 2b + 9bb + 2b."""
    return 9 * a * b + 2 * b + 9 * b * b + 2 * b


def _unet_params(c: int, k: int, w: tuple[int, ...]) -> int:
    d = len(w) - 1
    enc = _block(c, w[0]) + sum(_block(w[i - 1], w[i]) for i in range(1, d + 1))
    dec = sum(4 * w[i + 1] * w[i] + w[i] + _block(2 * w[i], w[i]) for i in range(d))
    return enc + dec + k * w[0] + k


def _unet_flops(c: int, k: int, w: tuple[int, ...], h: int, wd: int) -> int:
    """2 FLOPs per multiply-add: 3x3 convs 2*9*Cin*Cout*H*W at their level, transposed 2x2
    convs 2*4*Cin*Cout per input pixel, the 1x1 head 2*w0*K*H*W."""
    d, total = len(w) - 1, 0
    for i in range(d + 1):
        px = (h >> i) * (wd >> i)
        cin = c if i == 0 else w[i - 1]
        total += 2 * 9 * (cin * w[i] + w[i] * w[i]) * px  # encoder
        if i < d:
            total += 2 * 4 * w[i + 1] * w[i] * (h >> (i + 1)) * (wd >> (i + 1))  # up-conv
            total += 2 * 9 * (2 * w[i] * w[i] + w[i] * w[i]) * px  # decoder blocks
    return total + 2 * w[0] * k * h * wd


@pytest.mark.parametrize(
    ("c", "k", "widths"), [(1, 2, (16, 32, 64)), (3, 5, (8, 16)), (2, 3, (4, 8, 16, 32))]
)
def test_parameter_count_by_hand(c: int, k: int, widths: tuple[int, ...]) -> None:
    m = create_model("unet", num_classes=k, in_shape=(c, 16, 16), widths=widths)
    assert sum(p.numel() for p in m.parameters()) == _unet_params(c, k, widths)
    assert _unet_params(1, 2, (16, 32, 64)) == 117_090  # the default at 1 channel, 2 classes


@pytest.mark.parametrize(("h", "w"), [(13, 17), (32, 32), (1, 1), (8, 5)])
@pytest.mark.parametrize("upsample", ["transpose", "bilinear"])
def test_logits_per_pixel_for_any_size(h: int, w: int, upsample: str) -> None:
    torch.manual_seed(0)
    m = create_model(
        "unet", num_classes=4, in_shape=(3, h, w), widths=(4, 8, 16), upsample=upsample
    )
    x = torch.randn(2, 3, h, w)
    assert m(x).shape == (2, 4, h, w)
    m.eval()
    # padding happens at the bottom/right only: each sample's output is its own
    torch.testing.assert_close(m(x[:1]), m(x)[:1])


def test_gradients_reach_every_parameter_and_a_batch_is_learned() -> None:
    torch.manual_seed(0)
    m = create_model("unet", num_classes=3, in_shape=(1, 13, 17), widths=(8, 16))
    x = torch.randn(4, 1, 13, 17)
    y = (x[:, 0] > 0).long() + (x[:, 0] > 1).long()  # 3 classes from the pixel value
    loss = F.cross_entropy(m(x), y)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters())
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    for _ in range(60):
        opt.zero_grad()
        F.cross_entropy(m(x), y).backward()
        opt.step()
    m.eval()
    # a per-pixel threshold rule is easy: train pixel accuracy far above the 3-class rate
    assert (m(x).argmax(1) == y).float().mean() > 0.9


def test_flops_are_counted_for_transposed_convolutions() -> None:
    s = describe_model("unet", "1x32x32", num_classes=2)
    assert s.total_params == 117_090
    assert s.total_flops == _unet_flops(1, 2, (16, 32, 64), 32, 32)
    assert sum(r.flops for r in s.rows) == s.total_flops and min(r.flops for r in s.rows) >= 0
    up = [r for r in s.rows if r.kind == "ConvTranspose2d"]
    assert [r.flops for r in up] == [2 * 4 * 64 * 32 * 8 * 8, 2 * 4 * 32 * 16 * 16 * 16]
    bilinear = describe_model("unet", "1x32x32", num_classes=2, upsample="bilinear")
    # interpolation has no formula: named in the warning (aten.upsample_bilinear2d, or the
    # index/add/mul ops it decomposes into once torch's deterministic mode is on)
    assert set(bilinear.uncounted_ops) - set(s.uncounted_ops)


def test_registry_and_cli(capsys) -> None:
    assert "unet" in list_models() and isinstance(
        create_model("unet", num_classes=2, in_shape=(1, 8, 8)), UNet
    )
    assert main(["models", "show", "unet", "--input", "1x32x32", "--classes", "2"]) == 0
    out = capsys.readouterr().out
    assert "unet: 117,090 parameters" in out and "up.0.up" in out and "ConvTranspose2d" in out


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="unet needs image inputs"):
        create_model("unet", num_classes=2, in_shape=(8,))
    with pytest.raises(ValueError, match=r"unet widths=\(8,\); expected at least 2"):
        create_model("unet", num_classes=2, in_shape=(1, 8, 8), widths=(8,))
    with pytest.raises(ValueError, match="unet upsample='nearest'"):
        create_model("unet", num_classes=2, in_shape=(1, 8, 8), upsample="nearest")


def test_unet_trains_on_masks_from_the_cli(tmp_path, capsys) -> None:
    """`trainlab train` on an .npz of (N, H, W) masks: segmentation task, ce+dice by name,
    per-pixel metrics in the summary (a 1-epoch smoke run; learning is checked above)."""
    import json

    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 1, 12, 12)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    y[:, 0, 0] = 255  # unlabelled
    np.savez(tmp_path / "seg.npz", x=x, y=y)
    args = ["train", "--model", "unet", "--data", str(tmp_path / "seg.npz"), "--epochs", "1",
            "--no-progress", "--runs-dir", str(tmp_path / "runs"), "--name", "r",
            "--set", "model.args.widths=[4,8]", "--set", "loss.name=ce+dice"]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    summary = json.loads((tmp_path / "runs" / "r" / "summary.json").read_text())
    assert summary["data"]["task"] == "segmentation" and summary["primary_metric"] == "dice"
    assert set(summary["test"]) == {"loss", "pixel_acc", "dice", "iou"}
    assert np.isfinite(summary["test"]["loss"]) and 0 <= summary["test"]["dice"] <= 1
