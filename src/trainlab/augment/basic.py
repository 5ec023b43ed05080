"""The basic augmentations, batched: random resized crop, horizontal flip, normalize.

random_resized_crop follows torchvision's ``RandomResizedCrop.get_params`` (Szegedy et al.,
2015, "Going deeper with convolutions"): up to 10 draws of an area fraction s ~ U(scale) and
log aspect ratio ~ U(log ratio), w = round(sqrt(s A r)), h = round(sqrt(s A / r)), accepted
when it fits; otherwise a centre crop with the ratio clamped to the range. Each crop is
resized with bilinear interpolation (``F.interpolate(mode="bilinear", align_corners=False,
antialias=False)`` semantics) written as two batched matrix products, out = R_y @ crop @ R_x^T,
so every image in the batch can have its own crop without a loop over images.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from trainlab._validate import check_interval, check_probability

from ._common import (
    channel_values,
    check_generator,
    check_images,
    put_rows,
    take_rows,
)


def crop_boxes(
    n: int,
    height: int,
    width: int,
    *,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    generator: torch.Generator,
    attempts: int = 10,
) -> Tensor:
    """Crop boxes (n, 4) = (top, height, left, width), torchvision's rule, batched."""
    gd = generator.device
    area = height * width
    s = torch.empty(n, attempts, dtype=torch.float64, device=gd)
    s.uniform_(scale[0], scale[1], generator=generator)
    lr = torch.empty(n, attempts, dtype=torch.float64, device=gd)
    lr.uniform_(math.log(ratio[0]), math.log(ratio[1]), generator=generator)
    r = lr.exp()
    ww = torch.round(torch.sqrt(s * area * r)).long()
    hh = torch.round(torch.sqrt(s * area / r)).long()
    ok = (ww > 0) & (ww <= width) & (hh > 0) & (hh <= height)
    first = torch.argmax(ok.int(), dim=1, keepdim=True)
    found = ok.any(dim=1)
    # fallback: the whole image, cropped to the nearest allowed ratio (centre)
    in_ratio = width / height
    if in_ratio < ratio[0]:
        fw, fh = width, round(width / ratio[0])
    elif in_ratio > ratio[1]:
        fh, fw = height, round(height * ratio[1])
    else:
        fw, fh = width, height
    hh = torch.where(found, hh.gather(1, first).squeeze(1), fh)
    ww = torch.where(found, ww.gather(1, first).squeeze(1), fw)
    u = torch.rand(n, 2, generator=generator, device=gd, dtype=torch.float64)
    top = torch.where(found, (u[:, 0] * (height - hh + 1)).floor().long(), (height - fh) // 2)
    left = torch.where(found, (u[:, 1] * (width - ww + 1)).floor().long(), (width - fw) // 2)
    return torch.stack([top, hh, left, ww], dim=1).cpu()


def _interp_matrix(start: Tensor, length: Tensor, size_in: int, size_out: int) -> Tensor:
    """Bilinear weights (n, size_out, size_in) sampling [start, start + length) at size_out
    points (align_corners=False, source index clamped at 0 as in torch's upsample)."""
    n = start.shape[0]
    o = torch.arange(size_out, dtype=torch.float64, device=start.device).view(1, -1)
    ln = length.double().view(-1, 1)
    src = ((o + 0.5) * (ln / size_out) - 0.5).clamp(min=0.0)  # (n, size_out)
    i0 = src.floor().long()
    frac = src - i0
    i0 = torch.minimum(i0, (length.view(-1, 1) - 1))
    i1 = torch.minimum(i0 + 1, length.view(-1, 1) - 1)
    mat = torch.zeros(n, size_out, size_in, dtype=torch.float64, device=start.device)
    st = start.view(-1, 1)
    mat.scatter_add_(2, (st + i0).unsqueeze(2), (1.0 - frac).unsqueeze(2))
    mat.scatter_add_(2, (st + i1).unsqueeze(2), frac.unsqueeze(2))
    return mat


def resize_crops(x: Tensor, boxes: Tensor, size: tuple[int, int]) -> Tensor:
    """Crop each image to its box (n, 4) = (top, height, left, width) and resize to ``size``
    bilinearly; uint8 results are rounded."""
    _n, _c, h, w = x.shape
    b = boxes.to(x.device)
    ry = _interp_matrix(b[:, 0], b[:, 1], h, size[0])  # (n, oh, H)
    rx = _interp_matrix(b[:, 2], b[:, 3], w, size[1])  # (n, ow, W)
    dt = x.dtype if x.is_floating_point() else torch.float32
    xf = x.to(dt)
    out = ry.to(dt).unsqueeze(1) @ xf @ rx.to(dt).transpose(1, 2).unsqueeze(1)  # (n, C, oh, ow)
    if x.dtype == torch.uint8:
        return out.round_().clamp_(0, 255).to(torch.uint8)
    return out


def random_resized_crop(
    x: Tensor,
    size: int | tuple[int, int],
    *,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    generator: torch.Generator,
    return_boxes: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """A random crop per image, resized to ``size`` (bilinear); (N, C, H, W) or (C, H, W)."""
    check_generator(generator)
    xb, single = check_images(x)
    sz = (size, size) if isinstance(size, int) else tuple(size)
    if len(sz) != 2 or not all(isinstance(v, int) and v > 0 for v in sz):
        raise ValueError(f"size: expected a positive int or (height, width), got {size!r}")
    scale = check_interval("scale", scale, 0.0, 1.0)
    ratio = check_interval("ratio", ratio, 0.0, math.inf)
    if scale[1] <= 0 or ratio[0] <= 0:
        raise ValueError(f"scale/ratio: expected positive ranges, got {scale!r}, {ratio!r}")
    n, _, h, w = xb.shape
    boxes = crop_boxes(n, h, w, scale=scale, ratio=ratio, generator=generator)
    out = resize_crops(xb, boxes, sz)
    out = out[0] if single else out
    return (out, boxes) if return_boxes else out


def horizontal_flip(
    x: Tensor, *, prob: float = 0.5, generator: torch.Generator, return_flipped: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    """Mirror each image left-right with probability ``prob`` (out of place)."""
    check_generator(generator)
    xb, single = check_images(x)
    check_probability("prob", prob)
    n = xb.shape[0]
    flip = torch.rand(n, generator=generator, device=generator.device).cpu() < prob
    out = xb.clone()
    idx = flip.nonzero().view(-1).to(xb.device)
    if idx.numel():
        put_rows(out, idx, take_rows(xb, idx).flip(-1))
    out = out[0] if single else out
    return (out, flip) if return_flipped else out


def normalize(
    x: Tensor,
    mean: float | tuple[float, ...] | Tensor,
    std: float | tuple[float, ...] | Tensor,
    *,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """(x - mean) / std per channel; uint8 images are first scaled to [0, 1] (x / 255)."""
    xb, single = check_images(x)
    c = xb.shape[1]
    m, s = channel_values(mean, c, "mean"), channel_values(std, c, "std")  # (C,) float64
    if not bool((s > 0).all()):
        raise ValueError(f"std: expected values > 0, got {s.tolist()}")
    out_dt = xb.dtype if xb.is_floating_point() else dtype
    xf = xb.to(out_dt) / 255.0 if xb.dtype == torch.uint8 else xb
    # x * (1/std) + (-mean/std): one fused pass, computed per channel in float64
    scale = (1.0 / s).to(dtype=out_dt, device=xb.device).view(1, c, 1, 1)
    shift = (-m / s).to(dtype=out_dt, device=xb.device).view(1, c, 1, 1)
    out = torch.addcmul(shift, xf, scale)
    return out[0] if single else out
