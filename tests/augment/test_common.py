"""Internal helpers: row gathers over reinterpreted rows, Beta sampling for tiny alphas."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainlab.augment._common import put_rows, sample_beta, take_rows
from trainlab.augment.geometric import affine, shift


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float16, torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(5, 3, 4, 4), (5, 3, 5, 5), (5, 1, 3, 3), (5, 1, 1, 1)])
def test_take_and_put_rows_match_indexing(dtype: torch.dtype, shape: tuple[int, ...]) -> None:
    x = (torch.rand(shape) * 255).to(dtype)
    idx = torch.tensor([4, 0, 0, 2])
    assert torch.equal(take_rows(x, idx), x[idx])
    assert take_rows(x, torch.tensor([], dtype=torch.long)).shape == (0, *shape[1:])
    buf = torch.empty((4, *shape[1:]), dtype=dtype)
    assert take_rows(x, idx, out=buf) is buf and torch.equal(buf, x[idx])
    out, ref, p = torch.zeros_like(x), torch.zeros_like(x), torch.randperm(5)
    put_rows(out, p, x)
    ref[p] = x
    assert torch.equal(out, ref)


def test_beta_is_finite_and_symmetric_for_tiny_alpha() -> None:
    g = torch.Generator().manual_seed(0)
    lam = sample_beta((2000,), 0.02, g, torch.device("cpu"))
    assert torch.isfinite(lam).all() and ((lam >= 0) & (lam <= 1)).all()
    assert (lam < 0.01).float().mean() > 0.4 and (lam > 0.99).float().mean() > 0.4  # U-shaped


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_integer_shift_equals_affine_gather(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(6, 3, 7, 9, generator=g) * 255).to(dtype)
    dx, dy = [0, 3, -4, 9, -12, 1], [2, 0, -1, -7, 0, 8]
    m = torch.tensor([[1.0, 0.0, p, 0.0, 1.0, q] for p, q in zip(dx, dy, strict=True)])
    fill = (10.0, 20.0, 30.0)
    ref = affine(x, m, fill)
    assert torch.equal(shift(x, dx, dy, fill), ref)
    y = x.clone()
    assert torch.equal(shift(y, dx, dy, fill, out=y), ref)  # in place


@pytest.mark.parametrize("size", [(224, 224), (37, 301)])
def test_affine_picks_pillows_pixels_on_each_of_its_paths(size: tuple[int, int]) -> None:
    # Pillow's three NEAREST paths (augment/_pillow_affine.py): scale (b = d = 0, doubles
    # accumulated per column; the closed form missed 3,584 pixels of the 1.3 x 0.7 scale
    # below), 16.16 fixed point (int32 here; with slopes too large for int32, float64), and
    # the double fallback when a corner maps beyond +-32768
    from PIL import Image

    h, w = size
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(2, 3, h, w, generator=g) * 255).to(torch.uint8)
    fill = (128, 64, 32)
    matrices = [
        (1.0, 0.0, 3.3, 0.0, 1.0, -7.71),  # scale path, fractional translation
        (1.3, 0.0, -20.25, 0.0, 0.7, 10.5),  # scale path, scaling
        (0.7, 0.3, -5.0, -0.3, 0.7, 60.1),  # fixed point (a rotation-like matrix)
        (1.0, 0.15, 3.7, -0.2, 1.05, 2.2),  # fixed point (shears)
        (80.0, 0.1, 0.0, 0.0, 1.0, 0.0),  # fixed point, slope too large for int32 sums
        (1.0, 0.2, -40000.5, 0.1, 1.0, 3.0),  # corners beyond +-32768: double fallback
    ]
    for m in matrices:
        ours = affine(x, torch.tensor([m, m], dtype=torch.float64), fill)
        for i in range(2):
            im = Image.fromarray(x[i].permute(1, 2, 0).numpy())
            ref = im.transform(im.size, Image.AFFINE, m, resample=Image.NEAREST, fillcolor=fill)
            assert torch.equal(ours[i], torch.from_numpy(np.array(ref)).permute(2, 0, 1)), m
