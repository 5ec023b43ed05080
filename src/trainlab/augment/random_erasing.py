"""Random Erasing on a batch (F0:62-65).

Zhong et al., 2020, "Random Erasing Data Augmentation": with probability ``prob`` an image
gets rectangles erased; each has an area fraction s ~ U(area) of the image and an aspect
ratio r = h / w with log r ~ U(log aspect), h = round(sqrt(s H W r)), w = round(sqrt(s H W / r)),
and a uniform position; up to ``attempts`` draws are made per rectangle until one fits.
Deviations from timm/torchvision, on purpose: a drawn box whose *rounded* area or aspect ratio
leaves the configured ranges counts as a failed attempt, so erased boxes always follow the
ranges exactly; the area range is per box (timm divides it by the count).

Fill: ``"const"`` (``value``, one or per channel), ``"rand"`` (one random colour per box) or
``"pixel"`` (random per pixel). Random values are standard normal for float images (they are
meant for normalized tensors, as in timm) and uniform levels 0..255 for uint8 images.

All sizes and positions for the whole batch are drawn at once; the boxes are then written by
slicing, touching only the erased pixels (a mask over the whole batch would cost a full pass).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from trainlab._validate import check_int, check_interval, check_probability

from ._common import (
    SeededModule,
    check_generator,
    check_images,
    fill_values,
)

FILL_MODES = ("const", "rand", "pixel")


def _check_count(count: int | tuple[int, int]) -> tuple[int, int]:
    lo, hi = (count, count) if isinstance(count, int) else tuple(count)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (lo, hi)) or not (
        0 <= lo <= hi
    ):
        raise ValueError(f"count: expected an int >= 0 or a pair (min, max), got {count!r}")
    return lo, hi


def _check_args(
    prob: float,
    area: tuple[float, float],
    aspect: tuple[float, float],
    count: int | tuple[int, int],
    mode: str,
) -> tuple[float, tuple[float, float], tuple[float, float], tuple[int, int]]:
    """The checks shared by :func:`random_erasing` and :class:`RandomErasing`."""
    prob = check_probability("prob", prob)
    area = check_interval("area", area, 0.0, 1.0)
    if area[1] <= 0:
        raise ValueError(f"area: expected max > 0, got {area!r}")
    aspect = check_interval("aspect", aspect, 0.0, math.inf)
    if aspect[0] <= 0:
        raise ValueError(f"aspect: expected 0 < min <= max, got {aspect!r}")
    cnt = _check_count(count)
    if mode not in FILL_MODES:
        raise ValueError(f"mode: expected one of {FILL_MODES}, got {mode!r}")
    return prob, area, aspect, cnt


def draw_boxes(
    n: int,
    height: int,
    width: int,
    *,
    prob: float,
    area: tuple[float, float],
    aspect: tuple[float, float],
    count: tuple[int, int],
    attempts: int,
    generator: torch.Generator,
) -> Tensor:
    """Boxes (n, max_count, 4) = (top, height, left, width); height 0 where nothing is erased."""
    gd = generator.device
    m = count[1]
    if m == 0 or n == 0:
        return torch.zeros(n, m, 4, dtype=torch.long)
    apply = torch.rand(n, generator=generator, device=gd) < prob
    k = torch.randint(count[0], count[1] + 1, (n,), generator=generator, device=gd)
    active = apply.unsqueeze(1) & (torch.arange(m, device=gd) < k.unsqueeze(1))  # (n, m)
    total = height * width
    s = torch.empty(n, m, attempts, dtype=torch.float64, device=gd)
    s.uniform_(area[0], area[1], generator=generator)
    logr = torch.empty(n, m, attempts, dtype=torch.float64, device=gd)
    logr.uniform_(math.log(aspect[0]), math.log(aspect[1]), generator=generator)
    r = logr.exp()
    hh = torch.round(torch.sqrt(s * total * r)).long()
    ww = torch.round(torch.sqrt(s * total / r)).long()
    real_s = (hh * ww).double() / total
    real_r = hh.double() / ww.clamp(min=1).double()
    ok = (hh >= 1) & (ww >= 1) & (hh < height) & (ww < width)
    ok &= (real_s >= area[0]) & (real_s <= area[1]) & (real_r >= aspect[0]) & (real_r <= aspect[1])
    first = torch.argmax(ok.int(), dim=2, keepdim=True)  # first fitting attempt
    found = ok.any(dim=2) & active
    hh = torch.where(found, hh.gather(2, first).squeeze(2), 0)
    ww = torch.where(found, ww.gather(2, first).squeeze(2), 0)
    u = torch.rand(n, m, 2, generator=generator, device=gd, dtype=torch.float64)
    top = (u[..., 0] * (height - hh + 1)).floor().long().clamp(max=height - 1)
    left = (u[..., 1] * (width - ww + 1)).floor().long().clamp(max=width - 1)
    top, left = torch.where(found, top, 0), torch.where(found, left, 0)
    return torch.stack([top, hh, left, ww], dim=2).cpu()


def _random(shape: tuple[int, ...], x: Tensor, generator: torch.Generator) -> Tensor:
    gd = generator.device
    if x.dtype == torch.uint8:
        v = torch.randint(0, 256, shape, generator=generator, device=gd, dtype=torch.uint8)
    else:
        v = torch.randn(shape, generator=generator, device=gd, dtype=x.dtype)
    return v.to(x.device)


def random_erasing(
    x: Tensor,
    *,
    prob: float = 0.25,
    area: tuple[float, float] = (0.02, 1 / 3),
    aspect: tuple[float, float] = (0.3, 1 / 0.3),
    count: int | tuple[int, int] = 1,
    mode: str = "pixel",
    value: float | tuple[float, ...] = 0.0,
    attempts: int = 10,
    generator: torch.Generator,
    return_boxes: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Erase random rectangles of (N, C, H, W) or (C, H, W) images, out of place.

    ``return_boxes`` also returns the boxes (N, max_count, 4) = (top, height, left, width),
    height 0 for a box not erased.
    """
    check_generator(generator)
    xb, single = check_images(x)
    prob, area, aspect, cnt = _check_args(prob, area, aspect, count, mode)
    check_int("attempts", attempts, lo=1)
    n, c, h, w = xb.shape
    const = fill_values(xb, value, "value")[0]  # (C, 1, 1)
    boxes = draw_boxes(n, h, w, prob=prob, area=area, aspect=aspect, count=cnt,
                       attempts=attempts, generator=generator)  # fmt: skip
    out = xb.clone()
    for i, j in (boxes[:, :, 1] > 0).nonzero().tolist():  # only the erased boxes
        t, bh, lf, bw = boxes[i, j].tolist()
        if mode == "const":
            fill = const
        elif mode == "rand":
            fill = _random((c, 1, 1), xb, generator)
        else:
            fill = _random((c, bh, bw), xb, generator)
        out[i, :, t : t + bh, lf : lf + bw] = fill
    out = out[0] if single else out
    return (out, boxes[0] if single else boxes) if return_boxes else out


class RandomErasing(SeededModule):
    """Configured :func:`random_erasing` with its own generator (state in ``state_dict()``)."""

    def __init__(
        self,
        prob: float = 0.25,
        *,
        area: tuple[float, float] = (0.02, 1 / 3),
        aspect: tuple[float, float] = (0.3, 1 / 0.3),
        count: int | tuple[int, int] = 1,
        mode: str = "pixel",
        value: float | tuple[float, ...] = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__(seed)
        self.prob, self.area, self.aspect, self.count = _check_args(prob, area, aspect, count, mode)
        self.mode, self.value = mode, value

    def forward(self, x: Tensor) -> Tensor:
        return random_erasing(  # type: ignore[return-value]
            x,
            prob=self.prob,
            area=self.area,
            aspect=self.aspect,
            count=self.count,
            mode=self.mode,
            value=self.value,
            generator=self.generator.get(x.device),
        )
