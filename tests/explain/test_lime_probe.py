"""LIME recovers the inputs a synthetic model uses; probes; activation maximization; and no
method leaves the model changed."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from trainlab.explain import (
    grid_segments,
    integrated_gradients,
    lime,
    maximize_activation,
    probe,
    saliency,
    smoothgrad,
)


class _UsesFeatures(nn.Module):
    """logit_1 = 3 x_0 - 2 x_3, logit_0 = 0: only features 0 and 3 matter."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = 3 * x[:, 0] - 2 * x[:, 3]
        return torch.stack([torch.zeros_like(s), s], dim=1)


def test_lime_recovers_the_features_a_model_uses() -> None:
    x = torch.tensor([0.5, 1.0, -1.0, -0.5, 2.0, 0.3])
    e = lime(_UsesFeatures(), x, 1, samples=2000, generator=torch.Generator().manual_seed(0))
    top = e.weights.abs().argsort(descending=True)[:2].tolist()
    assert sorted(top) == [0, 3]
    # removing x_0 = 0.5 lowers the logit, removing x_3 = -0.5 lowers it too (-2 * -0.5 > 0)
    assert e.weights[0] > 0 and e.weights[3] > 0
    assert e.weights[[1, 2, 4, 5]].abs().max() < 0.1 * e.weights[[0, 3]].abs().min()
    assert e.r2 > 0.8
    again = lime(_UsesFeatures(), x, 1, samples=2000, generator=torch.Generator().manual_seed(0))
    assert torch.equal(e.weights, again.weights)


def test_lime_on_images_finds_the_patch() -> None:
    class TopLeft(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            s = 4 * x[:, :, :2, :2].mean((1, 2, 3))
            return torch.stack([-s, s], dim=1)

    x = torch.ones(1, 6, 6)
    seg = grid_segments((1, 6, 6), 2)
    assert seg.shape == (6, 6) and int(seg.max()) == 8 and seg[0, 0] == 0 and seg[5, 5] == 8
    e = lime(TopLeft(), x, 1, patch=2, samples=500, generator=torch.Generator().manual_seed(1))
    assert int(e.weights.argmax()) == 0
    assert e.attributions.shape == (6, 6) and float(e.attributions[0, 0]) == pytest.approx(
        float(e.weights[0])
    )


def test_probe_decodes_a_linear_label_but_not_a_random_one() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(600, 10, generator=g)
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 2))
    y = (x[:, 0] + x[:, 1] > 0).long()
    r = probe(model, "0", (x[:400], y[:400]), (x[400:], y[400:]))
    assert r.accuracy > 0.95 and r.features == 32
    noise = torch.randint(0, 2, (600,), generator=g)
    r = probe(model, "0", (x[:400], noise[:400]), (x[400:], noise[400:]))
    assert r.accuracy < 0.65  # 200 test samples: chance is 0.5 +- 0.035
    with pytest.raises(ValueError, match="closest: 0"):
        probe(model, "00", (x, y), (x, y))


def test_activation_maximization_finds_the_weight_direction() -> None:
    torch.manual_seed(0)
    lin = nn.Linear(8, 3)
    x, hist = maximize_activation(lin, "", 2, (8,), steps=400, lr=0.05, l2=0.05,
                                  generator=torch.Generator().manual_seed(0))  # fmt: skip
    # maximize w.x - l2 |x|^2: x* = w / (2 l2)
    cos = torch.nn.functional.cosine_similarity(x, lin.weight[2].detach(), dim=0)
    assert cos > 0.99 and hist[-1] > hist[0]


def test_no_method_changes_the_model() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5),
        nn.Flatten(), nn.Linear(4 * 6 * 6, 3),
    )  # fmt: skip
    model.train()
    model[3].eval()  # a mixed state must come back as it was
    before = {k: v.clone() for k, v in model.state_dict().items()}
    modes = [m.training for m in model.modules()]
    x = torch.randn(2, 1, 6, 6)
    g = torch.Generator().manual_seed(0)
    saliency(model, x)
    smoothgrad(model, x, samples=3, generator=g)
    integrated_gradients(model, x, steps=4)
    lime(model, x[0], samples=20, generator=g)
    probe(model, "2", (x, torch.tensor([0, 1])), (x, torch.tensor([0, 1])), iterations=5)
    maximize_activation(model, "0", 1, (1, 6, 6), steps=3, generator=g)
    assert [m.training for m in model.modules()] == modes
    assert all(p.grad is None for p in model.parameters())
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k  # BatchNorm running statistics included
