"""The `Scheduler` adapter: base lrs, lr_scale, construction, momentum, state dicts."""

from __future__ import annotations

import copy
import io
import warnings

import pytest
import torch
from torch.optim import lr_scheduler as L

from trainlab import schedules as S


def two_groups(opt_cls=torch.optim.SGD, **kw) -> torch.optim.Optimizer:
    p0, p1 = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))
    return opt_cls([{"params": [p0], "lr": 0.1}, {"params": [p1], "lr": 0.02}], **kw)


def test_each_group_base_lr_and_lr_scale() -> None:
    opt = two_groups(momentum=0.9)
    opt.param_groups[1]["lr_scale"] = 0.25  # layer-wise decay, as timm writes it
    sched = S.Scheduler(opt, S.cosine(10))
    f = S.cosine(10)
    for t in range(12):
        assert sched.get_last_lr() == pytest.approx([0.1 * f(t), 0.02 * 0.25 * f(t)], rel=1e-15)
        sched.step()


def test_lr_scale_read_at_every_step() -> None:
    """A freezing/unfreezing schedule may change lr_scale during the run."""
    opt = two_groups()
    sched = S.Scheduler(opt, S.constant())
    opt.param_groups[0]["lr_scale"] = 0.0
    sched.step()
    assert sched.get_last_lr() == [0.0, 0.02]


def test_construction_changes_nothing_but_the_lr() -> None:
    opt = two_groups(torch.optim.AdamW)
    x = torch.nn.Parameter(torch.ones(2))
    opt.add_param_group({"params": [x], "lr": 0.5})
    opt.zero_grad()
    for p in (x, *opt.param_groups[0]["params"], *opt.param_groups[1]["params"]):
        p.grad = torch.ones_like(p)
    opt.step()  # some state to disturb
    before = copy.deepcopy(opt.state_dict())
    step_fn = opt.step
    S.Scheduler(opt, S.warmup(S.cosine(100), 10, start_factor=0.1))
    after = opt.state_dict()
    assert opt.step == step_fn  # not wrapped (torch's schedulers wrap optimizer.step)
    for g0, g1 in zip(before["param_groups"], after["param_groups"], strict=True):
        assert g1["lr"] == pytest.approx(g0["lr"] * 0.1)
        assert {k: v for k, v in g0.items() if k != "lr"} == {
            k: v for k, v in g1.items() if k != "lr"
        }  # no 'initial_lr' or any other key added
    for k, st in before["state"].items():
        for name, v in st.items():
            assert torch.equal(torch.as_tensor(v), torch.as_tensor(after["state"][k][name]))


def test_initial_lr_left_by_a_torch_scheduler_is_the_base() -> None:
    opt = two_groups()
    ref = L.StepLR(opt, 1, gamma=0.5)
    opt.step()
    ref.step()  # lr halves, initial_lr stays
    sched = S.Scheduler(opt, S.constant())
    assert sched.base_lrs == [0.1, 0.02]
    assert sched.get_last_lr() == [0.1, 0.02]


def test_tensor_lr_stays_a_tensor() -> None:
    p = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.Adam([p], lr=torch.tensor(0.01), foreach=False)
    lr_tensor = opt.param_groups[0]["lr"]
    sched = S.Scheduler(opt, S.exponential(0.5))
    sched.step()
    assert opt.param_groups[0]["lr"] is lr_tensor
    assert float(lr_tensor) == pytest.approx(0.005)


def test_duck_typed_optimizer() -> None:
    """Any object with torch-style param_groups is driven (trainlab's optimizers too)."""

    class Opt:
        def __init__(self) -> None:
            self.param_groups = [{"lr": 1.0}, {"lr": 2.0, "lr_scale": 0.5}]

    sched = S.Scheduler(Opt(), S.step(1, 0.5))
    sched.step()
    assert sched.get_last_lr() == [0.5, 0.5]


@pytest.mark.parametrize("kind", ["sgd", "adamw"])
def test_one_cycle_momentum_equals_torch(kind: str) -> None:
    n = 200
    opt_a = two_groups(torch.optim.AdamW) if kind == "adamw" else two_groups(momentum=0.9)
    opt_b = copy.deepcopy(opt_a)
    ref = L.OneCycleLR(opt_a, [0.1, 0.02], n, three_phase=True)
    ours = S.Scheduler(
        opt_b, S.one_cycle(n, three_phase=True), momentum=S.one_cycle_momentum(n, three_phase=True)
    )
    key = "betas" if kind == "adamw" else "momentum"
    for _ in range(n):
        for ga, gb in zip(opt_a.param_groups, opt_b.param_groups, strict=True):
            ma = ga[key][0] if kind == "adamw" else ga[key]
            mb = gb[key][0] if kind == "adamw" else gb[key]
            assert mb == pytest.approx(ma, rel=1e-12)
            assert gb["lr"] == pytest.approx(ga["lr"], rel=1e-12)
        opt_a.step()
        opt_b.step()
        ref.step()
        ours.step()


def test_epochs_are_fractions_of_steps() -> None:
    opt = two_groups()
    sched = S.Scheduler(opt, S.from_lambda(lambda e: 1.0 / (1.0 + e)), steps_per_epoch=4)
    for _ in range(6):
        sched.step()
    assert sched.epoch == 1.5
    assert sched.get_last_lr()[0] == pytest.approx(0.1 / 2.5)


def _roundtrip(state: dict) -> dict:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


@pytest.mark.parametrize("optimizer_first", [True, False])
def test_state_dict_roundtrip_either_load_order(optimizer_first: bool) -> None:
    make = lambda: S.join([S.linear(0.1, 1.0, 5), S.cosine_restarts(7, 2, 0.5)], [5])  # noqa: E731
    opt = two_groups(momentum=0.9)
    opt.param_groups[1]["lr_scale"] = 0.5
    sched = S.Scheduler(opt, make(), plateau=S.ReduceOnPlateau(patience=0, factor=0.5))
    for t in range(23):
        sched.step()
        if t % 5 == 4:
            sched.observe(1.0)
    saved = _roundtrip({"opt": opt.state_dict(), "sched": sched.state_dict()})
    opt2 = two_groups(momentum=0.9)
    opt2.param_groups[1]["lr_scale"] = 0.5
    if optimizer_first:  # the group lr is now the scheduled one, not the base
        opt2.load_state_dict(saved["opt"])
    sched2 = S.Scheduler(opt2, make(), plateau=S.ReduceOnPlateau(patience=0, factor=0.5))
    if not optimizer_first:
        opt2.load_state_dict(saved["opt"])
    sched2.load_state_dict(saved["sched"])
    assert sched2.base_lrs == [0.1, 0.02]
    for _ in range(40):
        assert sched2.get_last_lr() == sched.get_last_lr()
        sched.step()
        sched2.step()


def test_load_state_dict_rejects_mismatches() -> None:
    opt = two_groups()
    state = S.Scheduler(opt, S.constant(), steps_per_epoch=10).state_dict()
    with pytest.raises(ValueError, match="steps_per_epoch"):
        S.Scheduler(two_groups(), S.constant()).load_state_dict(state)
    p = torch.nn.Parameter(torch.ones(1))
    with pytest.raises(ValueError, match="param groups"):
        S.Scheduler(torch.optim.SGD([p], lr=0.1), S.constant(), steps_per_epoch=10).load_state_dict(
            state
        )
    with pytest.raises(ValueError, match="plateau"):
        S.Scheduler(
            two_groups(), S.constant(), steps_per_epoch=10, plateau=S.ReduceOnPlateau()
        ).load_state_dict(state)
    with pytest.warns(UserWarning, match="different schedule"):
        S.Scheduler(two_groups(), S.cosine(10), steps_per_epoch=10).load_state_dict(state)


def test_user_lambda_reprs_do_not_warn_on_resume() -> None:
    state = S.Scheduler(two_groups(), lambda t: 1.0).state_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        S.Scheduler(two_groups(), lambda t: 1.0).load_state_dict(state)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="one schedule per group"):
        S.Scheduler(two_groups(), [S.constant()])
    with pytest.raises(ValueError, match="steps_per_epoch"):
        S.Scheduler(two_groups(), S.constant(), steps_per_epoch=0)
    with pytest.raises(TypeError, match="schedule"):
        S.Scheduler(two_groups(), 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="observe"):
        S.Scheduler(two_groups(), S.constant()).observe(1.0)
    with pytest.raises(ValueError, match="momentum"):
        S.Scheduler(
            torch.optim.Adagrad([torch.nn.Parameter(torch.ones(1))]),
            S.constant(),
            momentum=S.constant(0.9),
        )


def test_plateau_with_a_warmup_base() -> None:
    opt = two_groups()
    rule = S.ReduceOnPlateau(factor=0.5, patience=0, base=S.warmup(S.constant(), 4))
    sched = S.Scheduler(opt, rule)
    assert sched.get_last_lr()[0] == pytest.approx(0.02)
    for _ in range(4):
        sched.step()
    assert sched.get_last_lr()[0] == pytest.approx(0.1)
    sched.observe(1.0)
    sched.observe(1.0)  # no improvement, patience 0: halve
    assert sched.get_last_lr() == pytest.approx([0.05, 0.01])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensor_lr_is_written_in_place() -> None:
    p = torch.nn.Parameter(torch.ones(4, device="cuda"))
    opt = torch.optim.Adam([p], lr=torch.tensor(0.01, device="cuda"), capturable=True)
    lr = opt.param_groups[0]["lr"]
    sched = S.Scheduler(opt, S.step(1, 0.5))
    p.grad = torch.ones_like(p)
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] is lr and lr.device.type == "cuda"
    assert sched.get_last_lr() == [pytest.approx(0.005)]
