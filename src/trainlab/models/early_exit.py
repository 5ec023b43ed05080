"""Early exit: classifier heads on intermediate blocks, and stopping at the first confident one
(notes F3:3152-3183; BranchyNet, Teerapittayanon et al. 2016).

A zoo model is cut into `segments` whose composition is its forward pass up to the head
(`backbone_segments`: the CNN's conv-norm-act blocks, ResNet's and ConvNeXt's stages, ViT's
blocks in four groups, the MLP's hidden layers). `heads(model, num_classes)` attaches a light
classifier after each intermediate segment (conv features: global average pool -> Linear;
tokens: LayerNorm -> Linear on the class token; vectors: Linear); the model's own head is
the last exit. Training (`trainlab.compress.EarlyExitTask`) minimizes the weighted sum of the
exits' losses. At inference a sample stops at the first exit k whose confidence passes:

    max_softmax:  max_c softmax(z_k)_c >= threshold
    entropy:      H(softmax(z_k)) = -sum_c p_c log p_c <= threshold   (nats)

Its cost is the FLOPs of segments 1..k and of heads 1..k (every exit it passed was
evaluated); `exit_flops` counts them with `torch.utils.flop_counter` (2 per multiply-add).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from trainlab.losses import logit_entropy

CRITERIA = ("max_softmax", "entropy")


class _Unsqueeze(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.unsqueeze(1) if x.ndim == 2 else x


class _VitEmbed(nn.Module):
    """ViT's tokens before the blocks: patches, class token, position embedding."""

    def __init__(self, vit: nn.Module) -> None:
        super().__init__()
        self.__dict__["vit"] = vit  # a reference, not a child (its weights are the model's)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, 1 + N, D)
        v: Any = self.vit
        x = v.patch_embed(x)
        cls = v.cls_token.expand(x.shape[0], -1, -1)
        return v.pos_drop(torch.cat((cls, x), dim=1) + v.pos_embed)


class _Call(nn.Module):
    """`fn(x)` of a bound method (a model's own head), without owning its module."""

    fn: Callable[[Tensor], Tensor]

    def __init__(self, fn: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.__dict__["fn"] = fn

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(x)


def _split(seq: Sequence[nn.Module], ends: Sequence[int]) -> list[nn.Module]:
    out: list[nn.Module] = []
    start = 0
    for e in ends:
        out.append(nn.Sequential(*seq[start : e + 1]))
        start = e + 1
    return out


def backbone_segments(model: nn.Module) -> tuple[list[nn.Module], nn.Module]:
    """(segments, final head) with `head(seg_n(...seg_1(x)))` = `model(x)` in eval mode.

    Supported: CNN, CNN1d, ResNet, ConvNeXt, VisionTransformer, MLP; a `TypeError` otherwise.
    """
    from trainlab.models.cnn import CNN
    from trainlab.models.cnn1d import CNN1d
    from trainlab.models.convnext import ConvNeXt
    from trainlab.models.layers import ConvNormAct
    from trainlab.models.mlp import MLP
    from trainlab.models.resnet import ResNet
    from trainlab.models.vit import VisionTransformer

    m = model
    if isinstance(m, CNN):
        feats = list(m.features)
        ends = [i for i, b in enumerate(feats) if isinstance(b, ConvNormAct)]
        ends[-1] = len(feats) - 1
        return _split(feats, ends), nn.Sequential(m.pool, m.drop, m.head)
    if isinstance(m, CNN1d):
        first = nn.Sequential(_Unsqueeze(), m.stem, m.stages[0])
        return [first, *list(m.stages)[1:]], nn.Sequential(m.pool, m.drop, m.head)
    if isinstance(m, ResNet):
        stem = nn.Sequential(m.conv1, m.bn1, m.act1, m.maxpool, m.layer1)
        return [stem, m.layer2, m.layer3, m.layer4], nn.Sequential(m.global_pool, m.drop, m.fc)
    if isinstance(m, ConvNeXt):
        return [nn.Sequential(m.stem, m.stages[0]), *list(m.stages)[1:]], m.head
    if isinstance(m, VisionTransformer):
        blocks, n = list(m.blocks), len(m.blocks)
        ends = sorted({max(0, round(n * q / 4) - 1) for q in (1, 2, 3, 4)})
        segs = _split(blocks, ends)
        segs[0] = nn.Sequential(_VitEmbed(m), segs[0])
        return segs, _Call(lambda x: m.forward_head(m.norm(x)))
    if isinstance(m, MLP):
        body = list(m.net)[:-1]  # Flatten, (Linear, act, [Dropout]) per hidden width
        ends = [
            i
            for i in range(1, len(body))
            if i + 1 == len(body) or isinstance(body[i + 1], nn.Linear)
        ]
        return _split(body, ends), m.net[-1]
    raise TypeError(
        f"early exit: no block structure known for {type(m).__name__}; supported: CNN, CNN1d, "
        "ResNet, ConvNeXt, VisionTransformer, MLP"
    )


def exit_head(features: Tensor, num_classes: int, *, tokens: bool = False) -> nn.Module:
    """A light classifier for features of this shape: (B, C, *spatial) -> global average pool
    + Linear; `tokens` (B, 1 + N, D) -> class token, LayerNorm, Linear; (B, D) -> Linear."""
    if tokens:
        d = features.shape[-1]
        return nn.Sequential(_ClassToken(), nn.LayerNorm(d, eps=1e-6), nn.Linear(d, num_classes))
    if features.ndim in (3, 4, 5):
        pool = {3: nn.AdaptiveAvgPool1d, 4: nn.AdaptiveAvgPool2d, 5: nn.AdaptiveAvgPool3d}
        c = features.shape[1]
        return nn.Sequential(pool[features.ndim](1), nn.Flatten(1), nn.Linear(c, num_classes))
    return nn.Linear(features.shape[-1], num_classes)


class _ClassToken(nn.Module):
    def forward(self, x: Tensor) -> Tensor:  # (B, 1 + N, D) -> (B, D)
        return x[:, 0]


class EarlyExitNetwork(nn.Module):
    """`backbone` (the zoo model, its weights and names unchanged) with `exits[k]` after
    segment `points[k]`; `forward` returns every exit's logits, the model's own head last."""

    _segments: list[nn.Module]  # references into backbone, not children
    _head: nn.Module

    def __init__(
        self, backbone: nn.Module, points: Sequence[int], exits: Sequence[nn.Module]
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.exits = nn.ModuleList(exits)
        self.points = list(points)
        segs, head = backbone_segments(backbone)
        self.__dict__["_segments"] = segs  # references into backbone, not children
        self.__dict__["_head"] = head

    @property
    def num_exits(self) -> int:
        return len(self.exits) + 1

    def forward(self, x: Tensor) -> list[Tensor]:
        outs, heads = [], dict(zip(self.points, self.exits, strict=True))
        for i, seg in enumerate(self._segments):
            x = seg(x)
            if i in heads:
                outs.append(heads[i](x))
        outs.append(self._head(x))
        return outs


def heads(
    model: nn.Module,
    num_classes: int,
    in_shape: Sequence[int],
    points: Sequence[int] | None = None,
) -> EarlyExitNetwork:
    """Attach exit heads to `model` after the segments `points` (default: every segment but
    the last, whose exit is the model's own head)."""
    segs, _ = backbone_segments(model)
    n = len(segs)
    points = list(range(n - 1)) if points is None else sorted({int(p) for p in points})
    if any(not 0 <= p < n - 1 for p in points):
        raise ValueError(
            f"exit points must be in [0, {n - 2}] (the model has {n} segments), got {points}"
        )
    from trainlab.models.vit import VisionTransformer

    tokens = isinstance(model, VisionTransformer)
    p = next(model.parameters())
    x = torch.zeros(1, *in_shape, device=p.device, dtype=p.dtype)
    found = []
    was = model.training
    model.eval()
    with torch.no_grad():
        for i, seg in enumerate(segs):
            x = seg(x)
            if i in points:
                found.append(exit_head(x, num_classes, tokens=tokens).to(p.device))
    model.train(was)
    return EarlyExitNetwork(model, points, found)


@torch.no_grad()
def exit_flops(net: EarlyExitNetwork, in_shape: Sequence[int]) -> list[int]:
    """FLOPs per sample of stopping at each exit (segments and heads evaluated up to it)."""
    p = next(net.parameters())
    x = torch.zeros(1, *in_shape, device=p.device, dtype=p.dtype)
    heads_at = dict(zip(net.points, net.exits, strict=True))
    was = net.training
    net.eval()
    total, out = 0, []
    for i, seg in enumerate(net._segments):
        with FlopCounterMode(display=False) as c:
            x = seg(x)
        total += c.get_total_flops()
        if i in heads_at:
            with FlopCounterMode(display=False) as c:
                heads_at[i](x)
            total += c.get_total_flops()
            out.append(total)
    with FlopCounterMode(display=False) as c:
        net._head(x)
    net.train(was)
    return [*out, total + c.get_total_flops()]


def confidence_passes(logits: Tensor, criterion: str, threshold: float) -> Tensor:
    """(B,) bool: the exit is confident enough (see the module docstring)."""
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(CRITERIA)}, got {criterion!r}")
    if criterion == "max_softmax":
        return F.log_softmax(logits.float(), dim=-1).max(dim=-1).values.exp() >= threshold
    return logit_entropy(logits, reduction="none") <= threshold


@torch.no_grad()
def early_exit_forward(
    net: EarlyExitNetwork, x: Tensor, threshold: float, criterion: str = "max_softmax"
) -> tuple[Tensor, Tensor]:
    """Inference that really stops: (logits (B, K), exit index (B,)). Samples that pass an
    exit leave the batch; the others continue through the next segment."""
    heads_at = dict(zip(net.points, net.exits, strict=True))
    active = torch.arange(x.shape[0], device=x.device)
    logits: Tensor | None = None
    where = torch.full((x.shape[0],), net.num_exits - 1, dtype=torch.long, device=x.device)
    k = 0
    for i, seg in enumerate(net._segments):
        x = seg(x)
        if i in heads_at:
            z = heads_at[i](x)
            if logits is None:
                logits = z.new_zeros(where.shape[0], z.shape[1])
            done = confidence_passes(z, criterion, threshold)
            logits[active[done]] = z[done]
            where[active[done]] = k
            active, x = active[~done], x[~done]
            k += 1
            if active.numel() == 0:
                return logits, where
    z = net._head(x)
    if logits is None:
        logits = z.new_zeros(where.shape[0], z.shape[1])
    logits[active] = z
    return logits, where


@dataclass
class ExitPoint:
    """One threshold of a sweep: accuracy, mean FLOPs per sample, share of samples per exit."""

    threshold: float
    accuracy: float
    avg_flops: float
    exit_share: list[float]


def sweep(
    outputs: Sequence[Tensor],
    targets: Tensor,
    flops: Sequence[int],
    thresholds: Sequence[float],
    criterion: str = "max_softmax",
) -> list[ExitPoint]:
    """Accuracy and mean FLOPs of threshold inference, from every exit's logits (E x (N, K))
    computed once: each sample takes the first exit that passes (the last one otherwise)."""
    if len(outputs) != len(flops):
        raise ValueError(f"{len(outputs)} exits' outputs but {len(flops)} FLOP counts")
    n, cost = targets.shape[0], torch.tensor(flops, dtype=torch.float64)
    rows = []
    for t in thresholds:
        passes = torch.stack(
            [confidence_passes(o, criterion, t) for o in outputs[:-1]]
            + [torch.ones(n, dtype=torch.bool, device=targets.device)]
        )  # (E, N)
        first = passes.to(torch.int8).argmax(dim=0)  # (N,) the first exit that passes
        preds = torch.stack([o.argmax(-1) for o in outputs])  # (E, N)
        chosen = preds.gather(0, first.unsqueeze(0)).squeeze(0)
        share = torch.bincount(first.cpu(), minlength=len(outputs)).double() / n
        rows.append(ExitPoint(
            float(t), float((chosen == targets).double().mean()), float(cost[first.cpu()].mean()),
            [round(float(s), 6) for s in share],
        ))  # fmt: skip
    return rows


def default_thresholds(criterion: str) -> list[float]:
    """The sweep `trainlab eval --early-exit` runs: max-softmax levels, or entropies (nats)."""
    if criterion == "max_softmax":
        return [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999]
    return [2.0, 1.5, 1.0, 0.7, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01, 0.001]
