"""Building a mixed batch from drawn Mixup/CutMix parameters (the image side of mixup.py)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ._common import take_rows

_CHUNK = 64  # images per chunk of the vectorized (non-CPU) path


@dataclass(frozen=True)
class MixInfo:
    """What a mix did, per element: target = lam * y + (1 - lam) * y[partner]."""

    lam: Tensor  # (N,) float64: weight of the element's own label (after box correction)
    partner: Tensor  # (N,) int64: index of the image mixed in
    cutmix: Tensor  # (N,) bool: CutMix (True) or Mixup (False)
    boxes: Tensor  # (N, 4) int64: (y0, y1, x0, x1) of the pasted box; empty box for mixup


def apply_mix(x: Tensor, info: MixInfo) -> Tensor:
    """Build the mixed batch described by ``info`` (out of place).

    CPU: when every element is CutMix with one shared box and the partners form a
    permutation (``"batch"`` and ``"pair"`` modes), one clone and then the box of the
    permuted batch written over it with a single ``index_copy_`` (no temporary the size of
    the batch; measured ~1.4x a clone, against ~2.1x for the per-image loop, whose small ops
    each wake the thread pool). Mixup stays one scalar-weight ``lerp`` per image (reads two
    images, writes one: measured 1.65-1.8x a clone, faster than a row gather + ``lerp_``).
    Otherwise one pass per image. Other devices: the vectorized form (no host
    synchronization, a few large kernels).
    """
    x = x.contiguous()
    if x.device.type != "cpu":
        return _apply_mix_vectorized(x, info)
    n = x.shape[0]
    cut = info.cutmix
    if n and bool(cut.all()) and bool((info.boxes == info.boxes[0]).all()):
        inv = _inverse_permutation(info.partner)
        if inv is not None:
            y0, y1, x0, x1 = info.boxes[0].tolist()
            out = x.clone()
            if y1 > y0 and x1 > x0:
                box = (slice(None), slice(None), slice(y0, y1), slice(x0, x1))
                out[box].index_copy_(0, inv, x[box])
            return out
    return _apply_mix_per_image(x, info)


def _inverse_permutation(partner: Tensor) -> Tensor | None:
    """``inv`` with ``inv[partner[i]] = i``, or None when ``partner`` is not a permutation."""
    n = partner.shape[0]
    inv = torch.full((n,), -1, dtype=torch.long, device=partner.device)
    inv[partner] = torch.arange(n, device=partner.device)
    return inv if bool((inv >= 0).all()) else None


def _apply_mix_per_image(x: Tensor, info: MixInfo) -> Tensor:
    out = torch.empty_like(x)
    lam, partner = info.lam.tolist(), info.partner.tolist()
    cut, boxes = info.cutmix.tolist(), info.boxes.tolist()
    for i, j in enumerate(partner):
        if j == i or lam[i] == 1.0:
            out[i].copy_(x[i])
        elif cut[i]:
            y0, y1, x0, x1 = boxes[i]
            out[i].copy_(x[i])
            out[i, :, y0:y1, x0:x1] = x[j, :, y0:y1, x0:x1]
        elif x.is_floating_point():
            torch.lerp(x[i], x[j], 1.0 - lam[i], out=out[i])
        else:  # uint8: mix in float32, round to the nearest level
            out[i] = torch.lerp(x[i].float(), x[j].float(), 1.0 - lam[i]).round_()
    return out


def _apply_mix_vectorized(x: Tensor, info: MixInfo) -> Tensor:
    n, _, h, w = x.shape
    out = torch.empty_like(x)
    dev = x.device
    ys = torch.arange(h, device=dev)
    xs = torch.arange(w, device=dev)
    wdtype = x.dtype if x.is_floating_point() else torch.float32
    any_cut = bool(info.cutmix.any())
    lam = info.lam.to(dev)
    for s in range(0, n, _CHUNK):
        e = min(s + _CHUNK, n)
        a = x[s:e]
        b = take_rows(x, info.partner[s:e].to(dev))
        wt = (1.0 - lam[s:e]).to(wdtype).view(-1, 1, 1, 1)  # (n, 1, 1, 1)
        if any_cut:
            bx = info.boxes[s:e].to(dev)
            rows = (ys >= bx[:, 0:1]) & (ys < bx[:, 1:2])  # (n, H)
            cols = (xs >= bx[:, 2:3]) & (xs < bx[:, 3:4])  # (n, W)
            inside = (rows.unsqueeze(2) & cols.unsqueeze(1)).unsqueeze(1)  # (n, 1, H, W)
            cut = info.cutmix[s:e].to(dev).view(-1, 1, 1, 1)
            wt = torch.where(cut, inside.to(wdtype), wt)
        if x.is_floating_point():
            torch.lerp(a, b, wt, out=out[s:e])
        else:
            out[s:e] = torch.lerp(a.float(), b.float(), wt).round_()
    return out
