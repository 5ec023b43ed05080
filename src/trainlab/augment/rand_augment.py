"""RandAugment on a whole batch, different ops per image, no Python loop over images (F0:53-60).

Cubuk et al., 2020, "RandAugment: Practical automated data augmentation with a reduced
search space": each image gets ``num_ops`` operations drawn uniformly (with replacement)
from a pool, all at one shared magnitude M in [0, 10]; ``magnitude_std`` > 0 adds per-image,
per-op Gaussian noise to M (clipped to [0, 10]), as timm's ``mstd`` does.

Magnitude -> parameter (timm's "increasing" conventions, so M = 0 is the identity for every
op that has a magnitude): rotate +-30 M/10 degrees; shear +-0.3 M/10; translate
+-round(0.45 M/10 * size) pixels; brightness, color, contrast, sharpness factor
1 +- 0.9 M/10; solarize threshold 256 - int(256 M/10); posterize 8 - int(4 M/10) bits. The
sign is drawn per image and op. Deviation from timm: ops are always applied (timm applies
each with probability 0.5; the paper and torchvision always apply them, identity included).

How the batch is processed (PERF_NOTES.md): per round, the batch is sorted by drawn op once
(``argsort`` + one ``index_select``), so each op runs on a contiguous slice; all the
table-driven ops (autocontrast, equalize, solarize, posterize, brightness, contrast) sit
next to each other in that order and are applied with one gather of per-image tables;
geometric ops are integer index gathers. The permutation is undone once at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from trainlab._validate import check_in_range, check_int, check_nonnegative

from . import geometric as _g
from . import photometric as _c
from ._common import (
    SeededModule,
    check_generator,
    check_images,
    put_rows,
    take_rows,
)

OPS = (
    "identity",
    "autocontrast",
    "equalize",
    "solarize",
    "posterize",
    "brightness",
    "contrast",
    "color",
    "sharpness",
    "rotate",
    "shear_x",
    "shear_y",
    "translate_x",
    "translate_y",
)
LUT_OPS = tuple(_c.LUTS)  # the table-driven ops, adjacent in OPS
MAX_MAGNITUDE = 10.0


@dataclass(frozen=True)
class RandAugmentInfo:
    """What was applied: op names, and per image and round (N, num_ops) the op index into
    ``names``, the magnitude level and the sign."""

    names: tuple[str, ...]
    ops: Tensor
    levels: Tensor
    signs: Tensor


def op_parameter(name: str, level: Tensor, sign: Tensor, height: int, width: int) -> Tensor:
    """The parameter of op ``name`` at magnitude ``level`` (n,) in [0, 10] with ``sign`` (n,)."""
    m = level.double() / MAX_MAGNITUDE
    s = sign.double()
    if name == "rotate":
        return 30.0 * m * s
    if name in ("shear_x", "shear_y"):
        return 0.3 * m * s
    if name == "translate_x":
        return torch.round(0.45 * m * width) * s
    if name == "translate_y":
        return torch.round(0.45 * m * height) * s
    if name in ("brightness", "color", "contrast", "sharpness"):
        return 1.0 + 0.9 * m * s
    if name == "solarize":
        return 256.0 - torch.floor(256.0 * m)
    if name == "posterize":
        return 8.0 - torch.floor(4.0 * m)
    return m  # identity, autocontrast, equalize: no parameter


def _fill_units(x: Tensor, fill: float | tuple[float, ...]) -> Tensor:
    """``fill`` is given in levels 0..255; float images use level / 255."""
    f = torch.as_tensor(fill, dtype=torch.float64)
    return f if x.dtype == torch.uint8 else f / 255.0


def _run(x: Tensor, name: str, param: Tensor, fill: Tensor, out: Tensor | None = None) -> Tensor:
    if name == "identity":
        return x if out is None else out.copy_(x)
    if name in LUT_OPS:
        return _c.apply_lut(x, _lut(x, name, param), out=out)
    if name in ("color", "sharpness"):
        return getattr(_c, name)(x, param.to(x.device), out=out)
    return getattr(_g, name)(x, param, fill, out=out)


def _lut(x: Tensor, name: str, param: Tensor) -> Tensor:
    if name in ("autocontrast", "equalize"):
        return _c.LUTS[name](x)
    return _c.LUTS[name](x, param.to(x.device))


def _check_ops(ops: tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if ops is None:
        return OPS
    bad = [o for o in ops if o not in OPS]
    if bad or not ops:
        raise ValueError(f"ops: expected a non-empty subset of {OPS}, got {ops!r}")
    return tuple(o for o in OPS if o in set(ops))  # canonical order: table ops contiguous


def _check_args(
    num_ops: int, magnitude: float, magnitude_std: float, ops: tuple[str, ...] | list[str] | None
) -> tuple[int, float, float, tuple[str, ...]]:
    """The checks shared by :func:`rand_augment` and :class:`RandAugment`."""
    num_ops = check_int("num_ops", num_ops, lo=0)
    magnitude = check_in_range("magnitude", magnitude, 0.0, MAX_MAGNITUDE)
    magnitude_std = check_nonnegative("magnitude_std", magnitude_std)
    return num_ops, magnitude, magnitude_std, _check_ops(ops)


def apply_op(
    x: Tensor,
    name: str,
    magnitude: float,
    *,
    sign: int = 1,
    fill: float | tuple[float, ...] = 128,
) -> Tensor:
    """Apply one RandAugment op at ``magnitude`` (same for every image) with ``sign`` +-1."""
    xb, single = check_images(x)
    _check_ops([name])
    check_in_range("magnitude", magnitude, 0.0, MAX_MAGNITUDE)
    if sign not in (-1, 1):
        raise ValueError(f"sign: expected -1 or 1, got {sign!r}")
    n, _, h, w = xb.shape
    lev = torch.full((n,), float(magnitude), dtype=torch.float64)
    param = op_parameter(name, lev, torch.full((n,), float(sign)), h, w)
    out = _run(xb, name, param, _fill_units(xb, fill))
    out = out.clone() if out is xb else out
    return out[0] if single else out


def _apply_sorted(
    cur: Tensor, names: tuple[str, ...], choice: Tensor, lev: Tensor, sgn: Tensor, fill: Tensor
) -> None:
    """Apply op ``names[choice[i]]`` to image i, in place; ``cur`` is sorted by ``choice``."""
    _, _, h, w = cur.shape
    k = len(names)
    is_lut = [nm in LUT_OPS for nm in names]
    counts = torch.bincount(choice, minlength=k).tolist()
    starts = [sum(counts[:i]) for i in range(k + 1)]
    lut_slices = [i for i in range(k) if is_lut[i] and counts[i]]
    if lut_slices:  # all table ops of this round: one gather over one contiguous slice
        a, b = starts[lut_slices[0]], starts[lut_slices[-1] + 1]
        tables = [_lut(cur[starts[i] : starts[i + 1]], names[i],
                       op_parameter(names[i], lev[starts[i] : starts[i + 1]],
                                    sgn[starts[i] : starts[i + 1]], h, w))
                  for i in lut_slices]  # fmt: skip
        _c.apply_lut(cur[a:b], torch.cat(tables), out=cur[a:b])
    for i in range(k):
        s, e = starts[i], starts[i + 1]
        if e == s or is_lut[i] or names[i] == "identity":
            continue
        param = op_parameter(names[i], lev[s:e], sgn[s:e], h, w)
        _run(cur[s:e], names[i], param, fill, out=cur[s:e])  # in place, chunk by chunk


def rand_augment(
    x: Tensor,
    *,
    num_ops: int = 2,
    magnitude: float = 9.0,
    magnitude_std: float = 0.0,
    ops: tuple[str, ...] | list[str] | None = None,
    fill: float | tuple[float, ...] = 128,
    generator: torch.Generator,
    return_info: bool = False,
) -> Tensor | tuple[Tensor, RandAugmentInfo]:
    """RandAugment(N=num_ops, M=magnitude) on (N, C, H, W) or (C, H, W), uint8 or float in
    [0, 1]. ``fill`` (levels 0..255, one or per channel) colours the pixels that geometric
    ops uncover. The input is never modified."""
    check_generator(generator)
    xb, single = check_images(x)
    num_ops, magnitude, magnitude_std, names = _check_args(num_ops, magnitude, magnitude_std, ops)
    fill_t = _fill_units(xb, fill)
    n = xb.shape[0]
    dev, gdev = xb.device, generator.device
    k = len(names)
    rec_ops = torch.empty(n, num_ops, dtype=torch.long)
    rec_lev = torch.empty(n, num_ops, dtype=torch.float64)
    rec_sgn = torch.empty(n, num_ops)
    cur = xb
    spare: Tensor | None = None  # two batch buffers, reused round after round
    where = torch.arange(n)  # cur[i] is the image that started at index where[i]
    for r in range(num_ops):
        choice = torch.randint(0, k, (n,), generator=generator, device=gdev).cpu()
        lev = torch.full((n,), float(magnitude), dtype=torch.float64)
        if magnitude_std > 0:
            noise = torch.randn(n, generator=generator, device=gdev, dtype=torch.float64).cpu()
            lev = (lev + magnitude_std * noise).clamp(0.0, MAX_MAGNITUDE)
        sgn = torch.where(torch.rand(n, generator=generator, device=gdev).cpu() < 0.5, -1.0, 1.0)
        rec_ops[where, r], rec_lev[where, r], rec_sgn[where, r] = choice[:], lev, sgn
        order = torch.argsort(choice, stable=True)  # sort the batch by op: contiguous slices
        choice, lev, sgn, where = choice[order], lev[order], sgn[order], where[order]
        nxt = take_rows(cur, order.to(dev), out=spare)  # (n, C, H, W) in op order
        spare = cur if cur is not xb else None
        cur = nxt
        _apply_sorted(cur, names, choice, lev, sgn, fill_t)
    if num_ops == 0:
        out = xb.clone()
    else:
        out = spare if spare is not None else torch.empty_like(cur)
        put_rows(out, where.to(dev), cur)  # undo the sorting once
    out = out[0] if single else out
    if return_info:
        return out, RandAugmentInfo(names, rec_ops, rec_lev, rec_sgn)
    return out


class RandAugment(SeededModule):
    """Configured :func:`rand_augment` with its own generator (created on the first batch's
    device from ``seed``; its state is part of ``state_dict()``). Works on a batch on the
    training device or on single images (C, H, W) inside data-loader workers."""

    def __init__(
        self,
        num_ops: int = 2,
        magnitude: float = 9.0,
        *,
        magnitude_std: float = 0.0,
        ops: tuple[str, ...] | list[str] | None = None,
        fill: float | tuple[float, ...] = 128,
        seed: int = 0,
    ) -> None:
        super().__init__(seed)
        self.num_ops, self.magnitude, self.magnitude_std, self.ops = _check_args(
            num_ops, magnitude, magnitude_std, ops
        )
        self.fill = fill

    def forward(self, x: Tensor) -> Tensor:
        return rand_augment(  # type: ignore[return-value]
            x,
            num_ops=self.num_ops,
            magnitude=self.magnitude,
            magnitude_std=self.magnitude_std,
            ops=self.ops,
            fill=self.fill,
            generator=self.generator.get(x.device),
        )
