"""`build_schedule` from plain keyword arguments, and the lr plot (PNG + CSV)."""

from __future__ import annotations

import csv
import math

import pytest
import torch

from trainlab import schedules as S

SPE, EPOCHS = 10, 20
TOTAL = SPE * EPOCHS


def build(name: str, **kw):
    kw.setdefault("epochs", EPOCHS)
    kw.setdefault("steps_per_epoch", SPE)
    return S.build_schedule(name, **kw)


def curve(f, n: int = TOTAL) -> list[float]:
    return [f(t) for t in range(n)]


def test_cosine_with_warmup_in_epochs_and_in_steps() -> None:
    a = build("cosine", warmup_epochs=2, min_factor=0.1)
    b = build("cosine", warmup_steps=20, min_factor=0.1)
    ref = S.warmup(S.cosine(TOTAL - 20, 0.1), 20)
    assert curve(a) == curve(b) == curve(ref)
    assert a(TOTAL - 1) == pytest.approx(0.1, rel=1e-3)


def test_milestones_in_epochs_count_from_the_run_start() -> None:
    f = build("multistep", milestones=[5, 15], gamma=0.1, warmup_epochs=1)
    assert f(0) < f(9) < f(10) == 1.0
    assert f(49) == 1.0 and f(50) == pytest.approx(0.1) and f(150) == pytest.approx(0.01)
    g = build("step", step_size=2.5, gamma=0.5)  # fractional epochs are fine
    assert g(24) == 1.0 and g(25) == 0.5


def test_unit_step_and_exponential_per_epoch() -> None:
    f = build("step", step_size=30, unit="step")
    assert f(29) == 1.0 and f(30) == pytest.approx(0.1)
    e = build("exponential", gamma=0.5)  # gamma per epoch, smooth per iteration
    assert e(SPE) == pytest.approx(0.5) and e(SPE // 2) == pytest.approx(0.5**0.5)
    e2 = build("exponential", gamma=0.5, staircase=True)
    assert e2(SPE - 1) == 1.0 and e2(SPE) == 0.5


def test_schedules_with_their_own_warmup() -> None:
    t = build("inverse_sqrt", warmup_steps=50, d_model=64)
    assert max(range(TOTAL), key=t) == 49
    r = build("resnet", milestones=[10, 15], warmup_epochs=1)
    assert r(0) == pytest.approx(0.1) and r(10) == 1.0 and r(100) == pytest.approx(0.1)
    oc = build("one_cycle", warmup_epochs=5)
    assert curve(oc) == curve(S.one_cycle(TOTAL, pct_start=0.25))
    assert curve(build("one_cycle")) == curve(S.one_cycle(TOTAL))


def test_restarts_clock_starts_after_warmup() -> None:
    f = build("cosine_restarts", t0=3, t_mult=2, peak_decay=0.5, warmup_epochs=1)
    assert f(10) == 1.0 and f(40) == 0.5 and f(100) == 0.25


def test_plateau_from_kwargs() -> None:
    rule = build("plateau", factor=0.5, patience=2, warmup_steps=5)
    assert isinstance(rule, S.ReduceOnPlateau)
    p = torch.nn.Parameter(torch.ones(1))
    sched = S.Scheduler(torch.optim.SGD([p], lr=1.0), rule)
    for _ in range(5):
        sched.step()
    assert sched.get_last_lr() == [1.0]


@pytest.mark.parametrize(
    "kwargs,param",
    [
        ({"name": "cosinus"}, "name"),
        ({"name": "cosine", "warmup_epochs": 20}, "warmup"),
        ({"name": "cosine", "warmup_steps": 500}, "warmup_steps"),
        ({"name": "cosine", "warmup_epochs": -1}, "warmup_epochs"),
        ({"name": "cosine", "gamma": 0.1}, "gamma"),
        ({"name": "step"}, "step_size"),
        ({"name": "step", "step_size": 0}, "step_size"),
        ({"name": "cosine_restarts", "t0": -2}, "t0"),
        ({"name": "inverse_sqrt"}, "warmup"),
        ({"name": "one_cycle", "pct_start": 0.3, "warmup_epochs": 1}, "pct_start"),
        ({"name": "cosine", "epochs": 0}, "epochs"),
        ({"name": "cosine", "steps_per_epoch": 0}, "steps_per_epoch"),
        ({"name": "cosine", "unit": "hour"}, "unit"),
        ({"name": "cosine", "warmup_kind": "cubic"}, "warmup_kind"),
        ({"name": "inverse_sqrt", "warmup_steps": 5, "warmup_kind": "exponential"}, "warmup_kind"),
        ({"name": "step", "step_size": "10"}, "step_size"),  # wrong type: still a ValueError
        ({"name": "cosine", "min_factor": None}, "min_factor"),
        ({"name": None}, "name"),
    ],
)
def test_bad_kwargs_name_the_parameter(kwargs: dict, param: str) -> None:
    with pytest.raises(ValueError, match=param):
        build(**kwargs)


def test_every_name_builds_with_its_params_listed() -> None:
    needs = {
        "step": {"step_size": 3},
        "multistep": {"milestones": [3]},
        "exponential": {"gamma": 0.9},
        "cosine_restarts": {"t0": 4},
        "resnet": {"milestones": [10]},
        "inverse_sqrt": {"warmup_steps": 10},
    }
    # (f(0), f(TOTAL - 1)) from each schedule's closed form (torch's defaults), times in
    # epochs converted to steps (SPE = 10): a wrong unit or default moves them by far more
    # than the 1e-12 relative rounding allowed
    last = TOTAL - 1
    ends = {
        "constant": (1.0, 1.0),
        "step": (1.0, 0.1 ** (last // 30)),
        "multistep": (1.0, 0.1),
        "exponential": (1.0, 0.9 ** (last / SPE)),
        "linear": (1 / 3, 1 / 3 + (2 / 3) * last / TOTAL),
        "polynomial": (1.0, 1 - last / TOTAL),
        "cosine": (1.0, 0.5 * (1 + math.cos(math.pi * last / TOTAL))),
        "cosine_restarts": (1.0, 0.5 * (1 + math.cos(math.pi * (last % 40) / 40))),
        "one_cycle": (1 / 25, 1 / 25 / 1e4),
        "inverse_sqrt": (0.1, math.sqrt(10 / (last + 1))),
        "resnet": (1.0, 0.1),
        "plateau": (1.0, 1.0),  # nothing observed: no reduction
    }
    assert set(ends) == set(S.SCHEDULE_NAMES)
    for name in S.SCHEDULE_NAMES:
        f = build(name, **needs.get(name, {}))
        assert (f(0), f(last)) == pytest.approx(ends[name], rel=1e-12), name
        assert set(needs.get(name, {})) - {"warmup_steps"} <= set(S.schedule_params(name))


def test_plot_lr_writes_png_and_csv(tmp_path) -> None:
    groups = [{"lr": 0.1, "name": "body"}, {"lr": 0.1, "lr_scale": 0.5, "name": "head"}]
    f = build("cosine", warmup_epochs=2)
    rows = S.plot_lr(f, groups, TOTAL, tmp_path / "lr.png", tmp_path / "lr.csv", epoch_steps=SPE)
    png = (tmp_path / "lr.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    with (tmp_path / "lr.csv").open() as fh:
        table = list(csv.reader(fh))
    assert table[0] == ["step", "epoch", "lr_body", "lr_head"]
    assert len(table) == TOTAL + 1 and len(rows) == TOTAL
    assert float(table[1 + 30][2]) == 0.1 * f(30)  # exact (repr round-trips)
    assert float(table[1 + 30][3]) == 0.1 * 0.5 * f(30)
    assert table[1 + 25][1] == "2.5"


def test_lr_table_matches_what_the_scheduler_sets() -> None:
    p0, p1 = torch.nn.Parameter(torch.ones(1)), torch.nn.Parameter(torch.ones(1))
    opt = torch.optim.SGD([{"params": [p0], "lr": 0.2}, {"params": [p1], "lr": 0.05}])
    f = build("one_cycle")
    rows = S.lr_table(f, opt, 50, steps_per_epoch=None)
    sched = S.Scheduler(opt, f)
    for r in rows:
        assert r[2:] == sched.get_last_lr()
        sched.step()


def test_plot_rejects_bad_input(tmp_path) -> None:
    with pytest.raises(ValueError, match="total_steps"):
        S.plot_lr(S.constant(), [{"lr": 0.1}], 0, tmp_path / "x.png")
    with pytest.raises(ValueError, match="param_groups"):
        S.plot_lr(S.constant(), [], 10, tmp_path / "x.png")
