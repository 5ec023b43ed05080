"""Mixup and CutMix on a whole batch, with soft targets (F0:31-51).

Mixup (Zhang et al., 2018, "mixup: Beyond Empirical Risk Minimization"):
    x~ = lam * x_i + (1 - lam) * x_j,   y~ = lam * y_i + (1 - lam) * y_j,   lam ~ Beta(a, a).
CutMix (Yun et al., 2019, "CutMix"): paste the box B of x_j into x_i; the box has side
ratio sqrt(1 - lam) and a uniform centre, clipped to the image, and the label weight is
corrected to the area actually pasted: lam = 1 - |B| / (H W) (exactly).

The notes' examples (F0:39-40, F0:49): lam = 0.7 mixes [1, 0] and [0, 1] into [0.7, 0.3]; a
patch covering 25% of the image gives 0.75 * [cat] + 0.25 * [dog].

Compared with the usual implementations (timm's ``Mixup``): any batch size works (odd and 1
included: an element without a partner is paired with itself, which leaves it unchanged),
all randomness comes from an explicit generator, the input is never modified in place, and
label smoothing (PyTorch's ``(1 - e) * onehot + e / K`` by default, the notes' ``1 - e`` /
``e / (K - 1)`` with ``smoothing="notes"``) is applied here once, so the loss must then be a
soft-target cross-entropy *without* smoothing.

Modes: ``"batch"`` draws one lam / switch / box for the whole batch and pairs the images by
a random permutation; ``"pair"`` pairs the images two by two (a random matching) and each
pair shares one lam / switch / box, so together the pair holds both images exactly;
``"elem"`` draws everything per element with a random permutation as partners.
"""

from __future__ import annotations

import torch
from torch import Tensor

from trainlab._validate import check_nonnegative, check_probability

from ._common import (
    SeededModule,
    check_generator,
    check_images,
    rand,
    sample_beta,
)
from ._mix_apply import MixInfo, apply_mix
from .targets import SMOOTHING, mix_targets, soft_targets

MODES = ("batch", "pair", "elem")


def _partners(n: int, mode: str, generator: torch.Generator, device: torch.device) -> Tensor:
    perm = torch.randperm(n, generator=generator, device=generator.device)
    if mode != "pair":
        return perm.to(device)
    partner = torch.arange(n, device=generator.device)  # the odd one out keeps itself
    m = n - n % 2
    a, b = perm[0:m:2], perm[1:m:2]
    partner[a] = b
    partner[b] = a
    return partner.to(device)


def _group_ids(n: int, mode: str, partner: Tensor) -> Tensor:
    """Which random draw each element uses: 0 for all (batch), per pair, or per element."""
    idx = torch.arange(n, device=partner.device)
    if mode == "batch":
        return torch.zeros_like(idx)
    if mode == "pair":
        return torch.minimum(idx, partner)
    return idx


def cut_boxes(
    lam: Tensor, height: int, width: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """CutMix boxes for weights ``lam`` (G,): returns boxes (G, 4) = (y0, y1, x0, x1) and the
    corrected lam = 1 - box area / (H W).

    Side lengths int(H sqrt(1 - lam)), int(W sqrt(1 - lam)); centre uniform over the pixels;
    the box is clipped to the image (as in the CutMix paper and timm's ``rand_bbox``).
    """
    dev = lam.device
    cut = torch.sqrt(1.0 - lam)
    ch = (height * cut).floor().long()
    cw = (width * cut).floor().long()
    g = lam.shape[0]
    gd = generator.device
    cy = torch.randint(0, height, (g,), generator=generator, device=gd).to(dev)
    cx = torch.randint(0, width, (g,), generator=generator, device=gd).to(dev)
    y0 = (cy - ch // 2).clamp(0, height)
    y1 = (cy + ch // 2).clamp(0, height)
    x0 = (cx - cw // 2).clamp(0, width)
    x1 = (cx + cw // 2).clamp(0, width)
    boxes = torch.stack([y0, y1, x0, x1], dim=1)
    return boxes, box_lam(boxes, height, width)


def box_lam(boxes: Tensor, height: int, width: int) -> Tensor:
    """1 - pasted area / image area, exactly (float64)."""
    area = (boxes[:, 1] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 2])
    return 1.0 - area.double() / float(height * width)


def _beta_or_one(g: int, alpha: float, generator: torch.Generator, device: torch.device) -> Tensor:
    """(g,) float64 draws of Beta(alpha, alpha), or ones (no draw) when ``alpha`` is 0."""
    if alpha > 0:
        return sample_beta((g,), alpha, generator, device)
    return torch.ones(g, dtype=torch.float64, device=device)


def _draw(
    x: Tensor,
    *,
    mode: str,
    prob: float,
    mixup_alpha: float,
    cutmix_alpha: float,
    switch_prob: float,
    generator: torch.Generator,
) -> MixInfo:
    n, _, h, w = x.shape
    dev = x.device
    partner = _partners(n, mode, generator, dev)
    gid = _group_ids(n, mode, partner)
    g = n if mode != "batch" else 1
    apply = rand((g,), generator, dev) < prob
    if mixup_alpha > 0 and cutmix_alpha > 0:
        use_cut = rand((g,), generator, dev) < switch_prob
    else:
        use_cut = torch.full((g,), cutmix_alpha > 0, device=dev)
    lam_mix = _beta_or_one(g, mixup_alpha, generator, dev)
    lam_cut = _beta_or_one(g, cutmix_alpha, generator, dev)
    boxes, lam_cut = cut_boxes(lam_cut, h, w, generator)
    lam = torch.where(use_cut, lam_cut, lam_mix)
    lam = torch.where(apply, lam, torch.ones_like(lam))
    use_cut &= apply
    boxes = torch.where(use_cut.unsqueeze(1), boxes, torch.zeros_like(boxes))
    return MixInfo(lam=lam[gid], partner=partner, cutmix=use_cut[gid], boxes=boxes[gid])


def _check_mix_args(
    mixup_alpha: float, cutmix_alpha: float, switch_prob: float, prob: float, mode: str
) -> None:
    """The checks shared by :func:`mix` and :class:`Mixup`."""
    check_nonnegative("mixup_alpha", mixup_alpha)
    check_nonnegative("cutmix_alpha", cutmix_alpha)
    check_probability("switch_prob", switch_prob)
    check_probability("prob", prob)
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")


def mix(
    x: Tensor,
    y: Tensor,
    *,
    num_classes: int | None = None,
    mixup_alpha: float = 0.8,
    cutmix_alpha: float = 1.0,
    switch_prob: float = 0.5,
    prob: float = 1.0,
    mode: str = "batch",
    label_smoothing: float = 0.0,
    smoothing: str = "standard",
    generator: torch.Generator,
    return_info: bool = False,
) -> tuple[Tensor, Tensor] | tuple[Tensor, Tensor, MixInfo]:
    """Mixup or CutMix a batch (chosen with ``switch_prob`` = P(CutMix) when both alphas > 0).

    ``x``: (N, C, H, W) or (C, H, W), uint8 or float; ``y``: class indices (N,) or
    probabilities (N, K). Returns the mixed images and soft targets (N, K); with
    ``return_info`` also the :class:`MixInfo`. An alpha of 0 disables that method;
    ``prob`` is the probability of mixing at all (per batch, pair or element).
    """
    _check_mix_args(mixup_alpha, cutmix_alpha, switch_prob, prob, mode)
    check_generator(generator)
    xb, single, t = _prepare(x, y, num_classes, label_smoothing, smoothing)
    if mixup_alpha == 0 and cutmix_alpha == 0:
        prob = 0.0
    info = _draw(
        xb,
        mode=mode,
        prob=prob,
        mixup_alpha=mixup_alpha,
        cutmix_alpha=cutmix_alpha,
        switch_prob=switch_prob,
        generator=generator,
    )
    return _finish(xb, single, t, info, return_info)


def _prepare(
    x: Tensor,
    y: Tensor,
    num_classes: int | None,
    label_smoothing: float,
    smoothing: str = "standard",
) -> tuple[Tensor, bool, Tensor]:
    """The images as a batch (N, C, H, W), whether it was one image, and soft targets (N, K)."""
    xb, single = check_images(x)
    t = soft_targets(
        _batch_targets(y, single),
        num_classes,
        label_smoothing=label_smoothing,
        smoothing=smoothing,
        dtype=_tdtype(x),
    )
    if t.shape[0] != xb.shape[0]:
        raise ValueError(f"y: expected {xb.shape[0]} targets, got {t.shape[0]}")
    return xb, single, t


def _finish(
    xb: Tensor, single: bool, t: Tensor, info: MixInfo, return_info: bool
) -> tuple[Tensor, Tensor] | tuple[Tensor, Tensor, MixInfo]:
    """Mix the images and the targets as ``info`` says; a single image comes back as one."""
    out, tm = apply_mix(xb, info), mix_targets(t, info.lam, info.partner)
    if single:
        out, tm = out[0], tm[0]
    return (out, tm, info) if return_info else (out, tm)


def _batch_targets(y: Tensor, single: bool) -> Tensor:
    """The targets of a single image (a class index, or probabilities (K,)) as a batch of 1."""
    if not isinstance(y, Tensor):
        raise TypeError(f"y: expected a torch.Tensor, got {type(y).__name__}")
    if single and (y.dim() == 0 or (y.dim() == 1 and y.is_floating_point())):
        return y.reshape(1, -1) if y.is_floating_point() else y.reshape(1)
    return y


def _tdtype(x: Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _explicit(
    x: Tensor,
    y: Tensor,
    num_classes: int | None,
    lam: float | Tensor,
    partner: Tensor | None,
    label_smoothing: float,
) -> tuple[Tensor, bool, Tensor, Tensor, Tensor]:
    xb, single, t = _prepare(x, y, num_classes, label_smoothing)
    n = xb.shape[0]
    lam_t = torch.as_tensor(lam, dtype=torch.float64, device=xb.device).expand(n).clone()
    if not bool(((lam_t >= 0) & (lam_t <= 1)).all()):
        raise ValueError(f"lam: expected values in [0, 1], got {lam!r}")
    if partner is None:
        partner = torch.arange(n - 1, -1, -1, device=xb.device)  # the batch reversed
    partner = partner.to(xb.device).long()
    if partner.shape != (n,) or (n and (int(partner.min()) < 0 or int(partner.max()) >= n)):
        raise ValueError(f"partner: expected {n} indices in [0, {n}), got {partner.tolist()}")
    return xb, single, t, lam_t, partner


def mixup(
    x: Tensor,
    y: Tensor,
    *,
    num_classes: int | None = None,
    lam: float | Tensor | None = None,
    alpha: float = 1.0,
    partner: Tensor | None = None,
    mode: str = "batch",
    label_smoothing: float = 0.0,
    generator: torch.Generator | None = None,
    return_info: bool = False,
) -> tuple[Tensor, Tensor] | tuple[Tensor, Tensor, MixInfo]:
    """Mixup: x~ = lam x + (1 - lam) x[partner], y~ = lam y + (1 - lam) y[partner].

    With ``lam`` given (a float or a per-element tensor) the mix is deterministic (partner
    defaults to the reversed batch); otherwise lam ~ Beta(alpha, alpha) and the partners are
    drawn with ``generator`` according to ``mode``.
    """
    if lam is None:
        gen = check_generator(generator)
        return mix(
            x,
            y,
            num_classes=num_classes,
            mixup_alpha=alpha,
            cutmix_alpha=0.0,
            mode=mode,
            label_smoothing=label_smoothing,
            generator=gen,
            return_info=return_info,
        )
    xb, single, t, lam_t, partner = _explicit(x, y, num_classes, lam, partner, label_smoothing)
    n = xb.shape[0]
    info = MixInfo(
        lam_t,
        partner,
        torch.zeros(n, dtype=torch.bool, device=xb.device),
        torch.zeros(n, 4, dtype=torch.long, device=xb.device),
    )
    return _finish(xb, single, t, info, return_info)


def cutmix(
    x: Tensor,
    y: Tensor,
    *,
    num_classes: int | None = None,
    box: tuple[int, int, int, int] | Tensor | None = None,
    alpha: float = 1.0,
    partner: Tensor | None = None,
    mode: str = "batch",
    label_smoothing: float = 0.0,
    generator: torch.Generator | None = None,
    return_info: bool = False,
) -> tuple[Tensor, Tensor] | tuple[Tensor, Tensor, MixInfo]:
    """CutMix: paste ``box`` = (y0, y1, x0, x1) of x[partner] into x; label weight
    lam = 1 - box area / image area, exactly.

    With ``box`` given (one box, or (N, 4) boxes) the result is deterministic (partner
    defaults to the reversed batch); otherwise lam ~ Beta(alpha, alpha) sets the box size and
    everything is drawn with ``generator`` according to ``mode``.
    """
    if box is None:
        gen = check_generator(generator)
        return mix(
            x,
            y,
            num_classes=num_classes,
            mixup_alpha=0.0,
            cutmix_alpha=alpha,
            mode=mode,
            label_smoothing=label_smoothing,
            generator=gen,
            return_info=return_info,
        )
    xb, single, t, _, partner = _explicit(x, y, num_classes, 1.0, partner, label_smoothing)
    n, _, h, w = xb.shape
    boxes = torch.as_tensor(box, dtype=torch.long, device=xb.device).reshape(-1, 4).expand(n, 4)
    y0, y1, x0, x1 = boxes.unbind(1)
    if not bool(((y0 >= 0) & (y0 <= y1) & (y1 <= h) & (x0 >= 0) & (x0 <= x1) & (x1 <= w)).all()):
        raise ValueError(f"box: expected (y0, y1, x0, x1) inside a {h}x{w} image, got {box!r}")
    lam_t = box_lam(boxes, h, w)
    info = MixInfo(lam_t, partner, torch.ones(n, dtype=torch.bool, device=xb.device), boxes)
    return _finish(xb, single, t, info, return_info)


class Mixup(SeededModule):
    """Configured Mixup/CutMix with its own generator: ``x, y_soft = Mixup(...)(x, y)``.

    Arguments as in :func:`mix`. The generator is created on the first batch's device from
    ``seed``; its state travels in ``state_dict()`` so a resumed run mixes identically.
    """

    def __init__(
        self,
        num_classes: int,
        *,
        mixup_alpha: float = 0.8,
        cutmix_alpha: float = 1.0,
        switch_prob: float = 0.5,
        prob: float = 1.0,
        mode: str = "batch",
        label_smoothing: float = 0.1,
        smoothing: str = "standard",
        seed: int = 0,
    ) -> None:
        super().__init__(seed)
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes: expected a positive int, got {num_classes!r}")
        _check_mix_args(mixup_alpha, cutmix_alpha, switch_prob, prob, mode)
        check_probability("label_smoothing", label_smoothing)
        self.num_classes, self.mode = num_classes, mode
        self.mixup_alpha, self.cutmix_alpha = float(mixup_alpha), float(cutmix_alpha)
        self.switch_prob, self.prob = float(switch_prob), float(prob)
        self.label_smoothing = float(label_smoothing)
        if smoothing not in SMOOTHING:
            raise ValueError(f"smoothing: expected one of {SMOOTHING}, got {smoothing!r}")
        self.smoothing = smoothing

    def forward(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        return mix(  # type: ignore[return-value]
            x,
            y,
            num_classes=self.num_classes,
            mixup_alpha=self.mixup_alpha,
            cutmix_alpha=self.cutmix_alpha,
            switch_prob=self.switch_prob,
            prob=self.prob,
            mode=self.mode,
            label_smoothing=self.label_smoothing,
            smoothing=self.smoothing,
            generator=self.generator.get(x.device),
        )
