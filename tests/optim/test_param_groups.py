"""Parameter groups, layer-wise lr decay, per-module lrs, freezing (F2:38-93, F4:615-735)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import trainlab.optim as tl


class Tiny(nn.Module):
    def __init__(self, depth: int = 3) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)) for _ in range(depth)
        )
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x)
        for b in self.blocks:
            h = torch.relu(b(h))
        return self.head(h)


def _names(groups: list[dict], wd: float) -> set[str]:
    return {n for g in groups if g["weight_decay"] == wd for n in g["param_names"]}


def test_no_decay_on_1d_and_embeddings_with_overrides() -> None:
    m = Tiny()
    groups = tl.param_groups(m, lr=0.1, weight_decay=0.05)
    decayed = _names(groups, 0.05)
    assert decayed == {"blocks.0.0.weight", "blocks.1.0.weight", "blocks.2.0.weight", "head.weight"}
    assert "embed.weight" in _names(groups, 0.0) and "head.bias" in _names(groups, 0.0)
    groups = tl.param_groups(m, lr=0.1, weight_decay=0.05, decay=["embed.*"], no_decay=["head.*"])
    assert "embed.weight" in _names(groups, 0.05) and "head.weight" in _names(groups, 0.0)
    n = sum(len(g["params"]) for g in groups)
    assert n == len(list(m.parameters()))


def test_layer_wise_lr_decay() -> None:
    m = Tiny(depth=3)
    groups = tl.param_groups(m, lr=1.0, layer_decay=0.5, num_layers=3)
    scale = {n: g["lr_scale"] for g in groups for n in g["param_names"]}
    lr = {n: g["lr"] for g in groups for n in g["param_names"]}
    assert set(lr.values()) == {1.0}  # the base lr; trainlab's Scheduler applies lr_scale
    assert scale["head.weight"] == 1.0  # layer L+1
    assert scale["blocks.2.0.weight"] == 0.5  # layer 3 of 3
    assert scale["blocks.0.0.weight"] == 0.5**3
    assert scale["embed.weight"] == 0.5**4  # layer 0
    folded = tl.param_groups(m, lr=1.0, layer_decay=0.5, num_layers=3, fold_lr_scale=True)
    lr = {n: g["lr"] for g in folded for n in g["param_names"]}
    assert lr["embed.weight"] == pytest.approx(0.5**4) and lr["head.weight"] == 1.0
    assert all("lr_scale" not in g for g in folded)
    from trainlab.schedules import Scheduler, constant

    opt = tl.AdamW(groups)
    Scheduler(opt, constant())
    eff = {n: g["lr"] for g in opt.param_groups for n in g["param_names"]}
    assert eff["embed.weight"] == pytest.approx(0.5**4) and eff["head.weight"] == 1.0
    with pytest.raises(ValueError, match="num_layers"):
        tl.param_groups(m, lr=1.0, layer_decay=0.5)


def test_per_module_lrs_like_the_notes() -> None:
    """F4:652: one lr per layer."""
    m = Tiny()
    groups = tl.param_groups(
        m, lr=1e-3, module_lrs={"blocks.0": 1e-4, "blocks": 5e-4, "head": 1e-2}
    )
    lr = {n: g["lr"] for g in groups for n in g["param_names"]}
    assert lr["blocks.0.0.weight"] == 1e-4 and lr["blocks.1.0.bias"] == 5e-4
    assert lr["head.bias"] == 1e-2 and lr["embed.weight"] == 1e-3
    opt = tl.AdamW(groups, lr=1e-3)
    assert {g["lr"] for g in opt.param_groups} == {1e-4, 5e-4, 1e-2, 1e-3}


def _train_step(m: nn.Module, opt: torch.optim.Optimizer, gen: torch.Generator) -> None:
    x = torch.randint(0, 10, (8,), generator=gen)
    opt.zero_grad()
    m(x).square().mean().backward()
    opt.step()


def test_freezing_keeps_weights_state_and_running_stats_then_unfreezes() -> None:
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    m = Tiny()
    opt = tl.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=0.1)
    m.train()
    _train_step(m, opt, gen)  # every parameter now has a grad and a momentum buffer
    frozen = tl.freeze(m, ["blocks.0*"])
    assert "blocks.0.0.weight" in frozen and "blocks.1.0.weight" not in frozen
    block = m.blocks[0]
    before = {k: v.clone() for k, v in block.state_dict().items()}
    buf = opt.state[block[0].weight]["momentum_buffer"].clone()
    m.train()  # norm layers of frozen blocks stay in eval mode
    for _ in range(3):
        _train_step(m, opt, gen)
    for k, v in block.state_dict().items():
        assert torch.equal(v, before[k]), k  # weights and BatchNorm running stats
    assert block[0].weight.grad is None
    assert torch.equal(opt.state[block[0].weight]["momentum_buffer"], buf)
    assert not block[1].training and m.blocks[1][1].training
    tl.unfreeze(m, ["blocks.0*"], optimizer=opt)
    assert block[1].training and len(opt.param_groups) == 1  # already held: nothing added
    _train_step(m, opt, gen)
    assert not torch.equal(block[0].weight, before["0.weight"])
    assert not torch.equal(block[1].running_mean, before["1.running_mean"])


def test_a_stale_grad_would_move_a_frozen_parameter() -> None:
    """Why freeze() drops .grad: requires_grad=False alone leaves the old grad in place."""
    w = nn.Parameter(torch.ones(3))
    opt = tl.SGD([w], lr=0.1, momentum=0.9)
    w.grad = torch.ones(3)
    opt.step()
    w.requires_grad_(False)
    before = w.detach().clone()
    opt.step()  # the stale grad is still there
    assert not torch.equal(w.detach(), before)


def test_progressive_unfreezing_adds_a_param_group() -> None:
    gen = torch.Generator().manual_seed(0)
    m = Tiny()
    tl.freeze(m, ["blocks*"])
    opt = tl.AdamW(tl.param_groups(m, lr=1e-3, weight_decay=0.05))
    held = {id(p) for g in opt.param_groups for p in g["params"]}
    assert all(id(p) not in held for p in m.blocks.parameters())
    _train_step(m, opt, gen)
    tl.unfreeze(m, ["blocks.2"], optimizer=opt, lr=1e-4)
    assert opt.param_groups[-1]["lr"] == 1e-4
    assert len(opt.param_groups[-1]["params"]) == len(list(m.blocks[2].parameters()))
    w = m.blocks[2][0].weight.detach().clone()
    _train_step(m, opt, gen)
    assert not torch.equal(w, m.blocks[2][0].weight)
    assert m.blocks[1][0].weight.grad is None


def test_build_optimizer_names_and_groups() -> None:
    m = Tiny()
    classes = {"sgd_velocity": "velocitysgd", "sgd_lookahead": "nesterovlookaheadsgd"}
    for name in tl.OPTIMIZERS:
        opt = tl.build_optimizer(m, name, lr=0.01, weight_decay=0.1)
        assert type(opt).__name__.lower() == classes.get(name, name)
    opt = tl.build_optimizer(m, "adamw", lr=0.01, weight_decay=0.1)
    assert {g["weight_decay"] for g in opt.param_groups} == {0.0, 0.1}
    opt = tl.build_optimizer(list(m.parameters()), "sgd", lr=0.1, momentum=0.0, nesterov=True)
    assert opt.param_groups[0]["nesterov"] is False
    with pytest.raises(ValueError, match=r"optim\.name"):
        tl.build_optimizer(m, "adamwx", lr=0.1)
