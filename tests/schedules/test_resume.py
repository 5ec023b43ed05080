"""Property: stop anywhere, save, load into fresh objects, continue == never stopped.

The stop points are drawn at random and pushed onto the places where schedules used to
break on resume: the end of a warmup, a warm restart, a join's milestone and a plateau
reduction. The lr sequence and the parameters (through SGD with momentum, whose state is
saved too) must be bit-identical to the uninterrupted run.
"""

from __future__ import annotations

import io
import math

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trainlab import schedules as S

N = 240  # optimizer steps per run
EVERY = 8  # a validation (plateau observation) every EVERY steps


def build(p: dict):
    w, t0, mult, decay, join_at = p["w"], p["t0"], p["mult"], p["decay"], p["join_at"]
    spe = p["spe"]
    unit = spe or 1  # the schedule's time unit in steps
    main = S.join(
        [S.cosine_restarts(t0, t_mult=mult, peak_decay=decay, min_factor=0.01), S.exponential(0.9)],
        [join_at / unit],
    )
    sched = S.warmup(main, w / unit, kind=p["kind"])
    weight = torch.nn.Parameter(torch.linspace(-1, 1, 4))
    bias = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD(
        [{"params": [weight], "lr": 0.1}, {"params": [bias], "lr": 0.03, "lr_scale": 0.5}],
        momentum=0.9,
    )
    plateau = S.ReduceOnPlateau(factor=0.5, patience=1, cooldown=1) if p["plateau"] else None
    return opt, S.Scheduler(opt, sched, steps_per_epoch=spe, plateau=plateau), (weight, bias)


def metric(k: int) -> float:
    """Improves for 3 observations, then stalls (plateau reductions follow)."""
    return 1.0 / (1 + k) if k < 3 else 0.25 + 0.01 * (k % 2)


def advance(opt, sched, params, start: int, stop: int, lrs: list) -> None:
    for t in range(start, stop):
        lrs.append(tuple(sched.get_last_lr()))
        for i, q in enumerate(params):
            q.grad = torch.sin(q.detach() * 3 + t + i)
        opt.step()
        sched.step()
        if sched.plateau is not None and (t + 1) % EVERY == 0:
            sched.observe(metric((t + 1) // EVERY))


def stop_points(p: dict) -> list[int]:
    """Steps where something happens: warmup end, restarts, the join, plateau checks."""
    w, unit = p["w"], p["spe"] or 1
    pts = [w, w + p["join_at"]]
    pts += [w + round(r * unit) for r in S.restart_points(p["t0"], p["mult"], N / unit)]
    if p["plateau"]:
        pts += list(range(EVERY, N, EVERY))
    return [q for q in pts if 0 <= q <= N]


params_st = st.fixed_dictionaries(
    {
        "w": st.integers(0, 40),
        "t0": st.sampled_from([3, 5, 7.5, 10]),
        "mult": st.sampled_from([1, 2]),
        "decay": st.sampled_from([1.0, 0.7]),
        "join_at": st.integers(60, 150),
        "spe": st.sampled_from([None, 4, 7]),
        "kind": st.sampled_from(["linear", "exponential"]),
        "plateau": st.booleans(),
    }
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(p=params_st, data=st.data())
def test_resume_anywhere_equals_uninterrupted(p: dict, data: st.DataObject) -> None:
    # t0 in epochs when the scheduler runs in epochs; keep it a whole number of steps apart
    if p["spe"] is not None:
        p["t0"] = math.ceil(p["t0"] * 4 / p["spe"]) or 1
    stop = data.draw(
        st.one_of(
            st.integers(0, N),
            st.sampled_from(stop_points(p)).flatmap(lambda q: st.integers(q - 1, q + 1)),
        ).map(lambda q: min(max(q, 0), N)),
        label="stop",
    )
    load_optimizer_first = data.draw(st.booleans(), label="load_optimizer_first")

    opt, sched, params = build(p)
    full: list = []
    advance(opt, sched, params, 0, N, full)
    final = [q.detach().clone() for q in params]

    opt, sched, params = build(p)
    part: list = []
    advance(opt, sched, params, 0, stop, part)
    buf = io.BytesIO()
    torch.save(
        {
            "opt": opt.state_dict(),
            "sched": sched.state_dict(),
            "params": [q.detach() for q in params],
        },
        buf,
    )
    del opt, sched, params
    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)

    opt, sched, params = build(p)  # fresh objects, as a resumed process builds them
    with torch.no_grad():
        for q, saved in zip(params, ckpt["params"], strict=True):
            q.copy_(saved)
    if load_optimizer_first:
        opt.load_state_dict(ckpt["opt"])
        sched.load_state_dict(ckpt["sched"])
    else:
        sched.load_state_dict(ckpt["sched"])
        opt.load_state_dict(ckpt["opt"])
    advance(opt, sched, params, stop, N, part)

    assert part == full  # exact, not approximate
    for q, ref in zip(params, final, strict=True):
        assert torch.equal(q.detach(), ref)


def test_plateau_actually_reduces_in_the_property_setup() -> None:
    p = {
        "w": 5,
        "t0": 5,
        "mult": 1,
        "decay": 1.0,
        "join_at": 100,
        "spe": None,
        "kind": "linear",
        "plateau": True,
    }
    opt, sched, params = build(p)
    lrs: list = []
    advance(opt, sched, params, 0, N, lrs)
    assert sched.plateau.scale < 0.1  # several reductions happened
