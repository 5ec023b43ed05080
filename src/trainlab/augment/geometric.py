"""Geometric operations of RandAugment as integer index gathers, with per-image parameters.

Each output pixel (x, y) reads the input pixel (floor(a (x + .5) + b (y + .5) + c),
floor(d (x + .5) + e (y + .5) + f)): Pillow's ``Image.transform(size, AFFINE, (a, b, c, d,
e, f), NEAREST)``, which timm's and torchvision's PIL RandAugment use. Pixels that land
outside the image take the fill colour. Bit-exact with Pillow at any size: the input
pixel is the one Pillow's C code picks with its own rounding (``_pillow_affine``; tested
at 18 x 22 and 224 x 224). The source is padded by one pixel of fill colour
and every out-of-range coordinate is clamped onto that ring, so the whole operation is one
``gather`` per chunk of 8 images (no masks, no ``grid_sample``; PERF_NOTES.md).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from . import _pillow_affine as _pa
from ._common import fill_values

_CHUNK = 8


def affine(
    x: Tensor,
    matrix: Tensor,
    fill: float | tuple[float, ...] | Tensor = 0,
    *,
    out: Tensor | None = None,
) -> Tensor:
    """Nearest-neighbour affine warp of a batch (n, C, H, W) by per-image ``matrix`` (n, 6)
    = (a, b, c, d, e, f), mapping output pixel centres to input coordinates (Pillow's
    convention). ``fill`` is in the image's units (levels for uint8). ``out`` may be ``x``:
    each chunk is copied into its padded source before it is overwritten."""
    n, ch, h, w = x.shape
    x = x.contiguous()
    out = torch.empty_like(x) if out is None else out
    fv = fill_values(x, fill, "fill")
    p = _pa.plan(matrix, h, w)
    # the padded source (k, C, H+2, W+2), reused by every chunk: its ring of fill colour is
    # written once, only the interiors are copied per chunk
    kmax = min(_CHUNK, n)
    src = fv.expand(kmax, ch, h + 2, w + 2).clone()
    off = torch.arange(kmax * ch, device=x.device, dtype=torch.int32).mul_((h + 2) * (w + 2))
    off = off.view(kmax, ch, 1)  # start of each plane in the flat padded source
    for s in range(0, n, _CHUNK):
        e = min(s + _CHUNK, n)
        k = e - s
        # x_in + 1 and y_in + 1: 0 and W + 1 (H + 1) are the fill ring
        xin, yin = _pa.source_maps(p, s, e, h, w, x.device)
        xin = xin.clamp_(0, w + 1)
        yin = yin.clamp_(0, h + 1)
        # flat index into the padded chunk (k, C, H+2, W+2), int32: index_select takes it,
        # gather would need int64 (measured several times slower)
        idx = torch.add(xin, yin, alpha=w + 2).to(torch.int32).expand(k, h, w).reshape(k, 1, h * w)
        idx = idx + off[:k]  # (k, C, HW)
        src[:k, :, 1:-1, 1:-1] = x[s:e]
        torch.index_select(src[:k].view(-1), 0, idx.view(-1), out=out[s:e].view(-1))
    return out


def shift(
    x: Tensor,
    dx: list[int],
    dy: list[int],
    fill: float | tuple[float, ...] | Tensor = 0,
    *,
    out: Tensor | None = None,
) -> Tensor:
    """Integer translation: out[i, :, y, x] = x[i, :, y + dy[i], x + dx[i]], fill outside.

    Equal to :func:`affine` with the matrix (1, 0, dx, 0, 1, dy) (for integers the pixel
    centres land exactly on input pixels), done as one slice copy and at most four fills
    per image instead of an index gather (measured ~2-3x faster). ``out`` may be ``x``.
    """
    n, c, h, w = x.shape
    out = torch.empty_like(x) if out is None else out
    fv = fill_values(x, fill, "fill")[0]  # (C, 1, 1)
    src = x.clone() if out.data_ptr() == x.data_ptr() else x
    for i in range(n):
        p, q = int(dx[i]), int(dy[i])
        o, si = out[i], src[i]
        xa, xb, ya, yb = max(0, -p), min(w, w - p), max(0, -q), min(h, h - q)
        if xa >= xb or ya >= yb:
            o.copy_(fv.expand(c, h, w))
            continue
        o[:, ya:yb, xa:xb] = si[:, ya + q : yb + q, xa + p : xb + p]
        for region in (o[:, :ya], o[:, yb:], o[:, ya:yb, :xa], o[:, ya:yb, xb:]):
            if region.numel():
                region.copy_(fv.expand_as(region))
    return out


def _per_image(v: float | Tensor, n: int) -> Tensor:
    return torch.as_tensor(v, dtype=torch.float64).reshape(-1).expand(n).cpu()


def _matrix(rows: list[Tensor]) -> Tensor:
    return torch.stack(rows, dim=1)  # (n, 6)


_IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)  # (a, b, c, d, e, f)
_B, _C, _D, _F = 1, 2, 3, 5  # the entries shear_x, translate_x, shear_y, translate_y set


def _identity_but(
    x: Tensor,
    slot: int,
    v: float | Tensor,
    fill: float | tuple[float, ...] | Tensor,
    out: Tensor | None,
) -> Tensor:
    """:func:`affine` by the identity matrix with entry ``slot`` set to the per-image ``v``;
    a translation by whole pixels (entry c or f) goes to :func:`shift` instead."""
    p = _per_image(v, x.shape[0])
    m = _matrix([p if i == slot else torch.full_like(p, e) for i, e in enumerate(_IDENTITY)])
    if slot in (_C, _F) and bool((p == p.round()).all()):
        d = m.long()
        return shift(x, d[:, _C].tolist(), d[:, _F].tolist(), fill, out=out)
    return affine(x, m, fill, out=out)


def rotate_matrix(angle: Tensor, height: int, width: int) -> Tensor:
    """Pillow's ``Image.rotate(angle)`` matrix (counter-clockwise degrees, about the centre),
    float64 (n, 6), computed as Pillow does in Python floats (angle mod 360, cos and sin
    rounded to 15 decimals) so that the affine warp picks Pillow's pixels exactly."""
    cx, cy = width / 2.0, height / 2.0
    rows = []
    for deg in angle.reshape(-1).tolist():
        t = -math.radians(deg % 360.0)
        cos, sin = round(math.cos(t), 15), round(math.sin(t), 15)
        rows.append((cos, sin, cos * -cx + sin * -cy + cx, -sin, cos, -sin * -cx + cos * -cy + cy))
    return torch.tensor(rows, dtype=torch.float64).reshape(-1, 6)


def rotate(
    x: Tensor,
    angle: float | Tensor,
    fill: float | tuple[float, ...] | Tensor = 0,
    *,
    out: Tensor | None = None,
) -> Tensor:
    """Rotate counter-clockwise by ``angle`` degrees about the centre (Pillow ``rotate``)."""
    n, _, h, w = x.shape
    return affine(x, rotate_matrix(_per_image(angle, n), h, w), fill, out=out)


def shear_x(
    x: Tensor,
    factor: float | Tensor,
    fill: float | tuple[float, ...] | Tensor = 0,
    *,
    out: Tensor | None = None,
) -> Tensor:
    """x_in = x + factor * y (Pillow AFFINE (1, factor, 0, 0, 1, 0), as in timm)."""
    return _identity_but(x, _B, factor, fill, out)


def shear_y(
    x: Tensor,
    factor: float | Tensor,
    fill: float | tuple[float, ...] | Tensor = 0,
    *,
    out: Tensor | None = None,
) -> Tensor:
    """y_in = factor * x + y (Pillow AFFINE (1, 0, 0, factor, 1, 0), as in timm)."""
    return _identity_but(x, _D, factor, fill, out)


def translate_x(
    x: Tensor,
    pixels: float | Tensor,
    fill: float | tuple[float, ...] | Tensor = 0,
    *,
    out: Tensor | None = None,
) -> Tensor:
    """x_in = x + pixels (content moves left for positive ``pixels``; Pillow AFFINE)."""
    return _identity_but(x, _C, pixels, fill, out)


def translate_y(
    x: Tensor,
    pixels: float | Tensor,
    fill: float | tuple[float, ...] | Tensor = 0,
    *,
    out: Tensor | None = None,
) -> Tensor:
    """y_in = y + pixels (content moves up for positive ``pixels``; Pillow AFFINE)."""
    return _identity_but(x, _F, pixels, fill, out)
