"""EWC: the Bernoulli Fisher example, the diagonal Fisher against a per-sample autograd loop,
BatchNorm statistics untouched, the penalty's value and the online decay."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from trainlab.continual import EWC, ewc_penalty, fisher_diagonal
from trainlab.data import Split


class Bernoulli(nn.Module):
    """p(y=1) = theta for every input: logits [log(1 - theta), log(theta)]."""

    def __init__(self, theta: float) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.tensor(theta, dtype=torch.float64))

    def forward(self, x):  # (B, 1) -> (B, 2)
        logits = torch.stack([torch.log1p(-self.theta), torch.log(self.theta)])
        return logits.expand(len(x), 2) + 0 * x


@pytest.mark.parametrize("n", [1, 7, 40])
def test_bernoulli_empirical_fisher_at_one_half(n):
    # d/dtheta log p(y) = y/theta - (1-y)/(1-theta) = +-2 at theta = 0.5, squared 4 for
    # every label, so n samples carry n * 4 = n / (theta (1 - theta)) = 4n
    y = torch.randint(0, 2, (n,), generator=torch.Generator().manual_seed(n))
    x = torch.zeros(n, 1, dtype=torch.float64)
    f = fisher_diagonal(Bernoulli(0.5), x, y, kind="empirical")["theta"]
    assert float(n * f) == pytest.approx(4 * n, rel=1e-12)
    assert float(n * f) == pytest.approx(n / (0.5 * 0.5), rel=1e-12)


def test_bernoulli_true_fisher():
    # E_y[(d log p(y)/d theta)^2] = theta/theta^2 + (1-theta)/(1-theta)^2 = 1/(theta(1-theta))
    theta = 0.3
    x = torch.zeros(5, 1, dtype=torch.float64)
    f = fisher_diagonal(Bernoulli(theta), x, torch.zeros(5, dtype=torch.long), kind="true")
    assert float(f["theta"]) == pytest.approx(1 / (theta * (1 - theta)), rel=1e-12)


def _bn_model() -> nn.Module:
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 4))
    m(torch.randn(32, 6))  # train mode: running statistics away from their init
    return m.double()


def _reference(model, x, y, kind, mask=None):
    """Per-sample autograd, one sample at a time, model in eval mode."""
    model.eval()
    total = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    for xi, yi in zip(x, y, strict=True):
        out = model(xi[None])[0]
        if mask is not None:
            out = out.masked_fill(~mask, float("-inf"))
        logp = F.log_softmax(out, -1)
        classes = [int(yi)] if kind == "empirical" else [k for k in range(4) if logp[k] > -1e30]
        for k in classes:
            grads = torch.autograd.grad(logp[k], list(model.parameters()), retain_graph=True)
            w = 1.0 if kind == "empirical" else float(logp[k].detach().exp())
            for (n, _), g in zip(model.named_parameters(), grads, strict=True):
                total[n] += w * g**2
    model.train()
    return {n: t / len(x) for n, t in total.items()}


@pytest.mark.parametrize("kind", ["empirical", "true"])
@pytest.mark.parametrize("masked", [False, True])
def test_fisher_matches_per_sample_autograd(kind, masked):
    model = _bn_model()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(10, 6, generator=g, dtype=torch.float64)
    mask = torch.tensor([False, True, True, False]) if masked else None
    y = (
        torch.randint(1, 3, (10,), generator=g)
        if masked
        else torch.randint(0, 4, (10,), generator=g)
    )
    got = fisher_diagonal(model, x, y, kind=kind, mask=mask, batch_size=4)
    ref = _reference(model, x, y, kind, mask)
    for n in ref:  # float64 both ways, summed in another order: rounding only
        torch.testing.assert_close(got[n], ref[n], rtol=1e-10, atol=1e-14)


def test_fisher_leaves_batchnorm_statistics_unchanged():
    model = _bn_model().float()
    bn = model[1]
    before = {k: v.clone() for k, v in bn.state_dict().items()}
    x = torch.randn(20, 6) * 3 + 2  # a very different batch: train mode would move the stats
    fisher_diagonal(model, x, torch.zeros(20, dtype=torch.long), kind="true")
    assert model.training  # the mode is restored
    for k, v in bn.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    model(x)  # the same data in train mode does change them (so the check can fail)
    assert not torch.equal(bn.running_mean, before["running_mean"])


def test_penalty_value():
    model = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 3.0]]))
    fisher = {"weight": torch.tensor([[2.0, 0.5]])}
    anchor = {"weight": torch.tensor([[0.0, 1.0]])}
    # 2 * (1 - 0)^2 + 0.5 * (3 - 1)^2 = 4
    assert float(ewc_penalty(model, fisher, anchor).detach()) == pytest.approx(4.0)
    ewc = EWC(3.0)
    ewc.fishers, ewc.anchors = [fisher, fisher], [anchor, anchor]
    assert float(ewc.penalty(model).detach()) == pytest.approx(
        0.5 * 3.0 * 8.0
    )  # lambda/2 * two tasks


def test_merged_penalty_equals_the_sum_over_tasks():
    # sum_k F_k (theta - a_k)^2, value and gradient, against the merged quadratic
    g = torch.Generator().manual_seed(0)
    model = nn.Linear(5, 3).double()
    fishers = [{n: torch.rand(p.shape, generator=g, dtype=torch.float64)
                for n, p in model.named_parameters()} for _ in range(4)]  # fmt: skip
    fishers[0]["bias"][0] = 0.0  # a parameter no task cares about (all F = 0) ...
    for f in fishers[1:]:
        f["bias"][0] = 0.0
    anchors = [{n: torch.randn(p.shape, generator=g, dtype=torch.float64)
                for n, p in model.named_parameters()} for _ in range(4)]  # fmt: skip
    ewc = EWC(2.0)
    ewc.fishers, ewc.anchors = fishers, anchors
    got = ewc.penalty(model)
    (got_grad,) = torch.autograd.grad(got, [model.weight])
    ref = 0.5 * 2.0 * sum(ewc_penalty(model, f, a) for f, a in zip(fishers, anchors, strict=True))
    (ref_grad,) = torch.autograd.grad(ref, [model.weight])
    # float64 throughout: the two forms differ by rounding only
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=0)
    torch.testing.assert_close(got_grad, ref_grad, rtol=1e-12, atol=1e-14)


def test_online_ewc_decays_the_running_fisher():
    model = Bernoulli(0.5)
    split = Split(torch.zeros(4, 1, dtype=torch.float64), torch.tensor([0, 1, 1, 0]))
    ewc = EWC(1.0, mode="online", gamma=0.25)
    for t in range(3):
        ewc.end_task(model, split, t, None, None)  # type: ignore[arg-type]
    # F = 4 each task: 4, then 0.25 * 4 + 4 = 5, then 0.25 * 5 + 4 = 5.25; one anchor
    assert len(ewc.fishers) == 1
    assert float(ewc.fishers[0]["theta"]) == pytest.approx(5.25)


@pytest.mark.parametrize(
    "kw, match",
    [({"lam": -1.0}, "ewc_lambda"), ({"lam": 1.0, "gamma": 0.0}, "ewc_gamma"),
     ({"lam": 1.0, "fisher": "exact"}, "ewc_fisher")],
)  # fmt: skip
def test_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        EWC(**kw)
