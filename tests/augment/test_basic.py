"""Random resized crop (against F.interpolate), horizontal flip, normalize."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from trainlab.augment import horizontal_flip, normalize, random_resized_crop, resize_crops


@pytest.mark.parametrize("size", [(7, 9), (40, 33)])
def test_resize_crops_matches_interpolate(size: tuple[int, int]) -> None:
    x = torch.rand(3, 2, 20, 30, dtype=torch.float64)
    boxes = torch.tensor([[2, 10, 3, 17], [0, 20, 0, 30], [5, 7, 9, 4]])
    out = resize_crops(x, boxes, size)
    for i, (t, h, left, w) in enumerate(boxes.tolist()):
        crop = x[i : i + 1, :, t : t + h, left : left + w]
        ref = F.interpolate(crop, size=size, mode="bilinear", align_corners=False)
        torch.testing.assert_close(out[i], ref[0])


def test_random_resized_crop_boxes_follow_ranges() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (64, 3, 32, 40), dtype=torch.uint8)
    out, boxes = random_resized_crop(x, 16, scale=(0.2, 0.8), ratio=(0.5, 2.0), generator=g,
                                     return_boxes=True)  # fmt: skip
    assert out.shape == (64, 3, 16, 16) and out.dtype == torch.uint8
    t, h, left, w = boxes.unbind(1)
    assert ((t >= 0) & (t + h <= 32) & (left >= 0) & (left + w <= 40)).all()
    s = (h * w).double() / (32 * 40)
    assert s.min() > 0.15 and s.max() < 0.85  # the area range, up to rounding of h and w
    r = w.double() / h
    assert r.min() > 0.5 / 1.2 and r.max() < 2.0 * 1.2
    ref = F.interpolate(x[:1, :, t[0] : t[0] + h[0], left[0] : left[0] + w[0]].float(), size=16,
                        mode="bilinear", align_corners=False).round()  # fmt: skip
    assert (out[0].float() - ref[0]).abs().max() <= 1
    one = random_resized_crop(x[0], (8, 12), generator=g)
    assert one.shape == (3, 8, 12)
    a = random_resized_crop(x, 16, generator=torch.Generator().manual_seed(4))
    b = random_resized_crop(x, 16, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b)


def test_random_resized_crop_fallback_is_centre_crop() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 10, 100)  # ratio 10 is far outside (3/4, 4/3) -> fallback
    _, boxes = random_resized_crop(x, 5, scale=(0.99, 1.0), generator=g, return_boxes=True)
    assert boxes.tolist()[0] == [0, 10, (100 - 13) // 2, 13]
    assert math.isclose(13 / 10, 4 / 3, abs_tol=0.05)


def test_horizontal_flip() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(50, 3, 4, 5)
    out, flipped = horizontal_flip(x, prob=0.5, generator=g, return_flipped=True)
    assert 10 < int(flipped.sum()) < 40
    for i in range(50):
        assert torch.equal(out[i], x[i].flip(-1) if flipped[i] else x[i])
    assert torch.equal(horizontal_flip(x, prob=0.0, generator=g), x)
    assert torch.equal(horizontal_flip(x[0], prob=1.0, generator=g), x[0].flip(-1))


def test_normalize() -> None:
    x = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    ref = (x.float() / 255 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(
        1, 3, 1, 1
    )
    torch.testing.assert_close(normalize(x, mean, std), ref)
    xf = torch.rand(3, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(normalize(xf, 0.5, 0.25), (xf - 0.5) / 0.25)
    with pytest.raises(ValueError, match=r"^std:"):
        normalize(x, mean, (0.2, 0.0, 0.2))
    with pytest.raises(ValueError, match=r"^mean:"):
        normalize(x, (0.1, 0.2), std)


@pytest.mark.parametrize(
    ("kwargs", "name"), [({"scale": (0.9, 0.1)}, "scale"), ({"ratio": (2.0, 1.0)}, "ratio")]
)
def test_bad_parameters_raise(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name}:"):
        random_resized_crop(torch.rand(1, 3, 8, 8), 4, generator=torch.Generator(), **kwargs)
    with pytest.raises(ValueError, match=r"^size:"):
        random_resized_crop(torch.rand(1, 3, 8, 8), 0, generator=torch.Generator())
    with pytest.raises(ValueError, match=r"^prob:"):
        horizontal_flip(torch.rand(1, 3, 8, 8), prob=2.0, generator=torch.Generator())
