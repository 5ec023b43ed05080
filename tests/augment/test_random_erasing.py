"""Random erasing (F0:62-65): boxes follow the configured ranges, fills, determinism, errors."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trainlab.augment import RandomErasing, random_erasing


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    a0=st.floats(0.01, 0.3),
    da=st.floats(0.0, 0.4),
    r0=st.floats(0.2, 1.0),
    dr=st.floats(0.0, 3.0),
    count=st.sampled_from([1, 2, (1, 3)]),
    mode=st.sampled_from(["const", "rand", "pixel"]),
)
def test_boxes_follow_area_and_aspect_ranges(
    seed: int, a0: float, da: float, r0: float, dr: float, count: object, mode: str
) -> None:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(6, 3, 20, 24, generator=g) + 2.0  # erased pixels are easy to spot
    area, aspect = (a0, a0 + da), (r0, r0 + dr)
    out, boxes = random_erasing(x, prob=0.9, area=area, aspect=aspect, count=count, mode=mode,
                                value=-5.0, generator=g, return_boxes=True)  # fmt: skip
    changed = out != x
    expect = torch.zeros_like(changed)
    for i in range(6):
        for t, h, left, w in boxes[i].tolist():
            if h == 0:
                continue
            assert area[0] - 1e-12 <= h * w / (20 * 24) <= area[1] + 1e-12
            assert aspect[0] - 1e-12 <= h / w <= aspect[1] + 1e-12
            assert t >= 0 and t + h <= 20 and left >= 0 and left + w <= 24
            expect[i, :, t : t + h, left : left + w] = True
    assert not (changed & ~expect).any()  # nothing outside the boxes changed
    if mode == "const":
        assert (out[expect] == -5.0).all()


def test_probability_and_count() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(400, 1, 16, 16)
    _, boxes = random_erasing(x, prob=0.25, generator=g, return_boxes=True)
    erased = (boxes[:, 0, 1] > 0).float().mean().item()
    assert 0.15 < erased < 0.32  # 0.25 minus the rare draws that never fit
    _, boxes = random_erasing(x[:50], prob=1.0, count=3, area=(0.02, 0.1), generator=g,
                              return_boxes=True)  # fmt: skip
    assert (boxes[:, :, 1] > 0).sum(1).float().mean() > 2.5
    assert torch.equal(random_erasing(x, prob=0.0, generator=g), x)


def test_fill_modes_uint8_float_single_image_and_seed() -> None:
    g = torch.Generator().manual_seed(1)
    u8 = torch.full((4, 3, 32, 32), 7, dtype=torch.uint8)
    out, boxes = random_erasing(u8, prob=1.0, mode="pixel", generator=g, return_boxes=True)
    t, h, left, w = boxes[0, 0].tolist()
    patch = out[0, :, t : t + h, left : left + w].float()
    assert out.dtype == torch.uint8 and patch.std() > 30  # uniform levels per pixel
    out, boxes = random_erasing(u8, prob=1.0, mode="rand", generator=g, return_boxes=True)
    t, h, left, w = boxes[1, 0].tolist()
    patch = out[1, :, t : t + h, left : left + w]
    assert (patch == patch[:, :1, :1]).all()  # one colour per box
    one = random_erasing(torch.rand(3, 16, 16), prob=1.0, generator=g)
    assert one.shape == (3, 16, 16)
    x = torch.rand(5, 3, 16, 16)
    a = random_erasing(x, prob=0.5, generator=torch.Generator().manual_seed(9))
    b = random_erasing(x, prob=0.5, generator=torch.Generator().manual_seed(9))
    assert torch.equal(a, b)


def test_module_state_roundtrip() -> None:
    x = torch.rand(5, 3, 16, 16)
    m = RandomErasing(0.7, seed=2)
    m(x)
    st = m.state_dict()
    want = m(x)
    m2 = RandomErasing(0.7)
    m2.load_state_dict(st)
    assert torch.equal(m2(x), want)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"prob": 1.1}, "prob"),
        ({"prob": -0.1}, "prob"),
        ({"area": (0.5, 0.2)}, "area"),
        ({"area": (0.1, 1.5)}, "area"),
        ({"aspect": (0.0, 2.0)}, "aspect"),
        ({"count": -1}, "count"),
        ({"mode": "noise"}, "mode"),
    ],
)
def test_bad_parameters_raise(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name}:"):
        random_erasing(torch.rand(2, 3, 8, 8), generator=torch.Generator(), **kwargs)


def test_bad_images_raise() -> None:
    with pytest.raises(ValueError, match=r"^x:"):
        random_erasing(torch.rand(8, 8), generator=torch.Generator())
    with pytest.raises(ValueError, match=r"^x: expected dtype"):
        random_erasing(torch.zeros(1, 3, 8, 8, dtype=torch.bool), generator=torch.Generator())
