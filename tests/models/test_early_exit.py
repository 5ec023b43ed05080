"""Early exit: heads on intermediate segments, threshold inference that really stops, the
sweep that simulates it, and the FLOPs of each exit (trainlab.models.early_exit)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from trainlab.models import create_model, summarize
from trainlab.models.early_exit import (
    backbone_segments,
    confidence_passes,
    early_exit_forward,
    exit_flops,
    heads,
    sweep,
)

ZOO = [
    ("cnn", (1, 8, 8), 3), ("cnn1d", (2, 32), 3), ("resnet18", (3, 32, 32), 4),
    ("convnext_atto", (3, 32, 32), 4), ("vit_tiny", (3, 32, 32), 4), ("mlp", (64,), 2),
]  # fmt: skip


def _x(shape: tuple[int, ...], n: int = 6) -> torch.Tensor:
    return torch.randn(n, *shape, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(("name", "shape", "exits"), ZOO)
def test_last_exit_is_the_model_and_segments_compose(name: str, shape: tuple, exits: int) -> None:
    torch.manual_seed(0)
    model = create_model(name, num_classes=5, in_shape=shape).eval()
    net = heads(model, 5, shape).eval()
    x = _x(shape)
    with torch.no_grad():
        outs = net(x)
        ref = model(x)
    assert len(outs) == net.num_exits == exits
    assert all(o.shape == (6, 5) for o in outs)
    torch.testing.assert_close(outs[-1], ref, rtol=0, atol=0)  # the same computation
    # the backbone's weights and names are the model's (the checkpoint keys are prefixed)
    assert {k for k in net.state_dict() if k.startswith("backbone.")} == {
        f"backbone.{k}" for k in model.state_dict()
    }


def test_segments_cover_the_forward_pass_of_a_cnn() -> None:
    model = create_model("cnn", num_classes=10, in_shape=(1, 8, 8))
    segs, _ = backbone_segments(model)
    assert [len(s) for s in segs] == [1, 2, 2]  # conv | pool, conv | pool, conv
    with pytest.raises(TypeError, match="no block structure known for Linear"):
        backbone_segments(nn.Linear(3, 2))


def test_exit_points_are_checked() -> None:
    model = create_model("resnet18", num_classes=3, in_shape=(3, 32, 32))
    assert heads(model, 3, (3, 32, 32), points=[1]).num_exits == 2
    with pytest.raises(ValueError, match=r"exit points must be in \[0, 2\]"):
        heads(model, 3, (3, 32, 32), points=[3])


def test_exit_flops_add_up_to_the_summary() -> None:
    """Stopping at the last exit costs the model's FLOPs plus every intermediate head's."""
    shape = (3, 32, 32)
    model = create_model("resnet18", num_classes=10, in_shape=shape)
    net = heads(model, 10, shape)
    flops = exit_flops(net, shape)
    head_flops = [2 * h[-1].in_features * h[-1].out_features for h in net.exits]  # GAP + fc
    assert flops[-1] == summarize(model, shape).total_flops + sum(head_flops)
    assert flops == sorted(flops) and flops[0] < 0.35 * flops[-1]


def test_confidence_criteria() -> None:
    logits = torch.log(torch.tensor([[0.98, 0.01, 0.01], [1 / 3, 1 / 3, 1 / 3]]))
    assert confidence_passes(logits, "max_softmax", 0.95).tolist() == [True, False]
    h0 = -(0.98 * math.log(0.98) + 2 * 0.01 * math.log(0.01))  # 0.112 nats
    assert confidence_passes(logits, "entropy", h0 + 1e-4).tolist() == [True, False]
    assert confidence_passes(logits, "entropy", h0 - 1e-4).tolist() == [False, False]
    assert confidence_passes(logits, "entropy", math.log(3) + 1e-4).tolist() == [True, True]
    with pytest.raises(ValueError, match="criterion must be one of"):
        confidence_passes(logits, "margin", 0.5)


@pytest.mark.parametrize("criterion", ["max_softmax", "entropy"])
def test_stopping_inference_agrees_with_the_sweep(criterion: str) -> None:
    """The inference that really drops samples from the batch gives the predictions and exit
    shares the sweep computes from all exits' outputs at once."""
    torch.manual_seed(0)
    shape = (1, 8, 8)
    net = heads(create_model("cnn", num_classes=4, in_shape=shape), 4, shape).eval()
    with torch.no_grad():
        for h in net.exits:  # sharpen the heads so that some samples exit at each level
            h[-1].weight.mul_(30)
    x, y = _x(shape, 64), torch.randint(0, 4, (64,), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        outs = net(x)
    flops = exit_flops(net, shape)
    p0 = outs[0].softmax(-1)  # the threshold: the median confidence of the first exit
    conf = p0.max(-1).values if criterion == "max_softmax" else -(p0 * p0.log()).sum(-1)
    t = float(conf.median())
    (point,) = sweep(outs, y, flops, [t], criterion)
    logits, where = early_exit_forward(net, x, t, criterion)
    share = torch.bincount(where, minlength=3).double() / 64
    assert point.exit_share == pytest.approx(share.tolist())
    assert 0.3 < share[0] < 0.7 and share[1:].sum() > 0.3  # a mix of exits, not a trivial case
    assert point.accuracy == pytest.approx(float((logits.argmax(-1) == y).double().mean()))
    assert point.avg_flops == pytest.approx(
        float(torch.tensor(flops, dtype=torch.float64)[where].mean())
    )
    for k in range(3):  # each sample's logits are those of its exit
        idx = where == k
        torch.testing.assert_close(logits[idx], outs[k][idx], rtol=1e-5, atol=1e-6)


def test_sweep_extremes() -> None:
    outs = [torch.tensor([[5.0, 0.0], [0.0, 5.0]]), torch.tensor([[0.0, 1.0], [0.0, 1.0]])]
    y = torch.tensor([0, 0])
    never, always = sweep(outs, y, [10, 100], [1.01, 0.0])
    assert (never.accuracy, never.avg_flops, never.exit_share) == (0.0, 100.0, [0.0, 1.0])
    assert (always.accuracy, always.avg_flops, always.exit_share) == (0.5, 10.0, [1.0, 0.0])
