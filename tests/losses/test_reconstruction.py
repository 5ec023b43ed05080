"""Masked reconstruction losses for denoising / masked autoencoders (F4:1782-1876)."""

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck

from trainlab.losses import (
    MaskedReconstructionLoss,
    masked_bce_loss,
    masked_bce_with_logits_loss,
    masked_l1_loss,
    masked_mse_loss,
    masked_reconstruction_loss,
)

REFS = {
    "mse": F.mse_loss,
    "l1": F.l1_loss,
    "bce": F.binary_cross_entropy,
    "bce_with_logits": F.binary_cross_entropy_with_logits,
}


def _inputs(gen, kind, shape=(3, 4, 5)):
    x = torch.randn(shape, generator=gen)
    if kind == "bce":
        x = torch.sigmoid(x)
    y = torch.rand(shape, generator=gen)
    return x.requires_grad_(), y


@pytest.mark.parametrize("kind", list(REFS))
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_equals_torch_on_selected_elements(compare, gen, kind, reduction):
    # the masked loss is the ordinary loss of the selected elements only (F4:1840-1848)
    x, y = _inputs(gen, kind)
    m = torch.rand(3, 4, 5, generator=gen) < 0.6
    compare(lambda a, b: masked_reconstruction_loss(a, b, m, kind=kind, reduction=reduction),
            lambda a, b: REFS[kind](a[m], b[m], reduction=reduction), [x, y])  # fmt: skip


@pytest.mark.parametrize("kind", list(REFS))
def test_none_and_full_mask(compare, gen, kind):
    x, y = _inputs(gen, kind)
    full = torch.ones(3, 4, 5, dtype=torch.bool)
    for reduction in ("mean", "sum", "none"):
        compare(lambda a, b, r=reduction: masked_reconstruction_loss(a, b, full, kind=kind, reduction=r),
                lambda a, b, r=reduction: REFS[kind](a, b, reduction=r), [x, y])  # fmt: skip
    m = torch.rand(3, 4, 5, generator=gen) < 0.5
    none = masked_reconstruction_loss(x, y, m, kind=kind, reduction="none")
    torch.testing.assert_close(none, REFS[kind](x, y, reduction="none") * m)


def test_mae_patch_mask_is_per_patch_mean_over_masked_patches(gen):
    # MAE: loss per patch = mean over its D values, then mean over the masked patches
    pred, target = torch.randn(2, 6, 4, generator=gen), torch.randn(2, 6, 4, generator=gen)
    mask = torch.tensor([[1, 0, 1, 1, 0, 0], [0, 0, 1, 0, 1, 1]])  # (B, L), 1 = hidden patch
    per_patch = ((pred - target) ** 2).mean(-1)
    expected = (per_patch * mask).sum() / mask.sum()
    torch.testing.assert_close(masked_mse_loss(pred, target, mask), expected)


def test_denoising_corruption_mask(gen):
    # F4:1818-1822: mask = rand > rate; x_corrupted = x * mask; score the dropped entries
    x = torch.rand(4, 8, generator=gen)
    keep = torch.rand(4, 8, generator=gen) > 0.3
    recon = torch.rand(4, 8, generator=gen)
    dropped = ~keep
    torch.testing.assert_close(masked_l1_loss(recon, x, dropped), (recon - x)[dropped].abs().mean())


def test_empty_mask_gives_zero_and_zero_gradient(gen):
    x, y = _inputs(gen, "mse")
    empty = torch.zeros(3, 4, 5, dtype=torch.bool)
    for fn in (masked_mse_loss, masked_l1_loss, masked_bce_with_logits_loss):
        loss = fn(x, y, empty)
        assert loss.item() == 0.0
        (g,) = torch.autograd.grad(loss, x)
        assert torch.equal(g, torch.zeros_like(g))
    assert masked_bce_loss(torch.sigmoid(x), y, empty).item() == 0.0


@pytest.mark.parametrize("kind", list(REFS))
def test_gradcheck_float_mask(gen, kind):
    x = torch.rand(2, 3, generator=gen, dtype=torch.float64) * 0.8 + 0.1
    x.requires_grad_()
    y = torch.rand(2, 3, generator=gen, dtype=torch.float64)
    m = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)  # broadcasts over the batch
    assert gradcheck(lambda a: masked_reconstruction_loss(a, y, m, kind=kind), (x,))


def test_module_and_bad_inputs(gen):
    x, y = _inputs(gen, "mse")
    m = torch.rand(3, 4, generator=gen) < 0.5
    torch.testing.assert_close(MaskedReconstructionLoss("l1")(x, y, m), masked_l1_loss(x, y, m))
    with pytest.raises(ValueError, match=r"mask of shape \(4, 3\).*\(3, 4, 5\)"):
        masked_mse_loss(x, y, torch.ones(4, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="kind='ssim'"):
        MaskedReconstructionLoss("ssim")
