"""Which input pixel Pillow's NEAREST affine transform reads, reproduced exactly.

``Image.transform(size, AFFINE, (a, b, c, d, e, f), NEAREST)`` maps output pixel (x, y) to
input (a (x + .5) + b (y + .5) + c, d (x + .5) + e (y + .5) + f), but its C code
(libImaging/Geometry.c, ImagingTransformAffine) takes one of three paths, each with its own
rounding, and the pixel read differs from the exact formula wherever a coordinate lands
within rounding of an integer (a few dozen pixels of a 224 x 224 rotation):

* ``b == 0 and d == 0`` (ImagingScaleAffine): ``xo = c + a/2``, then ``xo += a`` per
  column (and ``yo = f + e/2``, ``yo += e`` per row), in doubles;
* four corners mapping inside +-32768: 16.16 fixed point, ``FIX(v) = floor(v 65536 + .5)``
  of a, b, d, e, ``c + a/2 + b/2`` and ``f + d/2 + e/2``, then integer sums, ``>> 16``;
* otherwise doubles again, ``xx = c + b/2 + a/2`` accumulated ``+= a`` per column from a
  row start accumulated ``+= b`` per row (and the same for y).

The fixed-point path, the one rotations and shears take, is evaluated here in int32 on the
images' device; the floating paths replay Pillow's additions in order (``cumsum`` in float64
on the CPU, which adds sequentially). Python floats are C doubles, so the coefficients are
Pillow's to the bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

SCALE, FIXED, FLOAT = 0, 1, 2


@dataclass
class AffinePlan:
    """Per image: the path Pillow takes, its coefficients (a, b, c', d, e, f') with the
    path's constant terms, and the 16.16 integers of the fixed-point rows (constants one
    unit, 65536, higher: the callers index a source padded by one pixel)."""

    kind: list[int]
    coef: list[tuple[float, ...]]
    ints: Tensor  # (n, 6) int32
    ints_ok: list[bool]  # fixed point and small enough slopes for int32 partial products


def plan(matrix: Tensor, h: int, w: int) -> AffinePlan:
    """The path and coefficients of each (a, b, c, d, e, f) row of ``matrix`` (n, 6)."""
    kinds: list[int] = []
    coefs: list[tuple[float, ...]] = []
    ints: list[tuple[int, ...]] = []
    ok: list[bool] = []
    for a, b, c, d, e, f in matrix.detach().reshape(-1, 6).tolist():
        inside = all(
            abs(a * px + b * py + c) < 32768.0 and abs(d * px + e * py + f) < 32768.0
            for px, py in ((0, 0), (w, h), (0, h), (w, 0))
        )
        q: tuple[int, ...] = (0, 0, 65536, 0, 0, 65536)
        coef: tuple[float, ...]
        if b == 0 and d == 0:
            kind, coef = SCALE, (a, b, c + a * 0.5, d, e, f + e * 0.5)
        elif inside:
            kind, coef = FIXED, (a, b, c + a * 0.5 + b * 0.5, d, e, f + d * 0.5 + e * 0.5)
            q = tuple(math.floor(v * 65536.0 + 0.5) + (65536 if i in (2, 5) else 0)
                      for i, v in enumerate(coef))  # fmt: skip
        else:
            kind, coef = FLOAT, (a, b, c + b * 0.5 + a * 0.5, d, e, f + e * 0.5 + d * 0.5)
        kinds.append(kind)
        coefs.append(coef)
        # every map value lies within +-2^31 by the corner check; slopes below 16384 / size
        # keep each partial product in int32 range too
        ok.append(kind == FIXED and max(abs(a), abs(b), abs(d), abs(e)) * max(h, w) < 16384)
        ints.append(q if ok[-1] else (0, 0, 65536, 0, 0, 65536))
    return AffinePlan(kinds, coefs, torch.tensor(ints, dtype=torch.int32).reshape(-1, 6), ok)


def source_maps(
    p: AffinePlan, s: int, e: int, h: int, w: int, device: torch.device
) -> tuple[Tensor, Tensor]:
    """x_in + 1 and y_in + 1 (the source padded by one pixel) for images s..e-1, unclamped:
    int32 of shape (k, H or 1, W or 1) on the fixed-point fast path, else float64 (k, H, W)."""
    if all(p.ints_ok[s:e]):
        m = p.ints[s:e].to(device).view(e - s, 6, 1, 1)
        xs = torch.arange(w, device=device, dtype=torch.int32).view(1, 1, w)
        ys = torch.arange(h, device=device, dtype=torch.int32).view(1, h, 1)
        a, b, c, d, ee, f = m.unbind(1)  # each (k, 1, 1)
        # a full (k, H, W) map only when b (or d) != 0, else (k, 1, W) (or (k, H, 1))
        xin = a * xs + (b * ys + c) if bool((b != 0).any()) else a * xs + c
        yin = ee * ys + (d * xs + f) if bool((d != 0).any()) else ee * ys + f
        return xin.bitwise_right_shift_(16), yin.bitwise_right_shift_(16)  # floor
    maps = [_replayed(p.kind[i], p.coef[i], h, w) for i in range(s, e)]
    xin = torch.stack([m[0] for m in maps]).floor_().add_(1).to(device)
    yin = torch.stack([m[1] for m in maps]).floor_().add_(1).to(device)
    return xin, yin


def _replayed(kind: int, m: tuple[float, ...], h: int, w: int) -> tuple[Tensor, Tensor]:
    """(H, W) float64 coordinates of one image, with Pillow's own additions in its order."""
    a, b, c, d, e, f = m
    if kind == FIXED:  # exact in float64: multiples of 2^-16 below 2^15
        q = [math.floor(v * 65536.0 + 0.5) / 65536.0 for v in m]
        xs = torch.arange(w, dtype=torch.float64).view(1, w)
        ys = torch.arange(h, dtype=torch.float64).view(h, 1)
        return q[0] * xs + (q[1] * ys + q[2]), q[4] * ys + (q[3] * xs + q[5])
    if kind == SCALE:
        xin = _running(c, a, w).view(1, w).expand(h, w)
        yin = _running(f, e, h).view(h, 1).expand(h, w)
        return xin, yin
    # FLOAT: each row starts from a start accumulated down the rows
    f64 = torch.float64
    xin = torch.cat([_running(c, b, h).view(h, 1), torch.full((h, w - 1), a, dtype=f64)], 1)
    yin = torch.cat([_running(f, e, h).view(h, 1), torch.full((h, w - 1), d, dtype=f64)], 1)
    return xin.cumsum(1), yin.cumsum(1)


def _running(start: float, step: float, n: int) -> Tensor:
    """start, start + step, (start + step) + step, ... (n values, added in order)."""
    steps = torch.full((n,), step, dtype=torch.float64)
    steps[0] = start
    return steps.cumsum(0)
