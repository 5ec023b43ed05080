"""The troubleshooting flow on hand-made evidence (fast; the real runs are in test_report)."""

from __future__ import annotations

import math

from trainlab.diagnose.verdict import NEXT_STEPS, VERDICTS, decide, evidence

LN10 = math.log(10)


def hist(train, val=None, train_acc=None, val_acc=None):
    rows = []
    for i, t in enumerate(train):
        r = {"epoch": i + 1, "step": 10 * (i + 1), "train_loss": t}
        if val is not None:
            r["val_loss"] = val[i]
        if train_acc is not None:
            r["train_acc"] = train_acc[i]
        if val_acc is not None:
            r["val_acc"] = val_acc[i]
        rows.append(r)
    return rows


def layers(ratio_first_last=1.0, update=1e-3, steps=(5, 10)):
    out = []
    for s in steps:
        for name, g in (("net.0", ratio_first_last), ("net.2", 1.0)):
            out.append({"epoch": 1, "step": s, "layer": name, "grad_norm": g,
                        "weight_norm": 1.0, "update_ratio": update, "dead_frac": math.nan})  # fmt: skip
    return out


def run(history, steps=(), lay=(), interrupted=None):
    ev = evidence(history, steps, lay, task="classification", num_classes=10, val_size=270,
                  interrupted=interrupted)  # fmt: skip
    return decide(ev)


GOOD = dict(val=[1.0, 0.3, 0.15, 0.1, 0.1], train_acc=[0.7, 0.9, 0.96, 0.98, 0.98],
            val_acc=[0.7, 0.9, 0.95, 0.97, 0.97])  # fmt: skip


def test_healthy():
    v = run(hist([1.5, 0.4, 0.2, 0.1, 0.09], **GOOD), lay=layers())
    assert v.name == "healthy"
    assert v.next_steps == NEXT_STEPS["healthy"]


def test_diverged_from_nan_and_from_interrupt():
    assert run(hist([2.0, math.nan])).name == "diverged"
    v = run([], interrupted={"reason": "TrainingDiverged", "message": "nan", "epoch": 1})
    assert v.name == "diverged"
    assert any("TrainingDiverged" in r for r in v.reasons)


def test_diverged_when_far_worse_than_chance():
    # ln 10 = 2.30; never below 3 x that
    assert run(hist([50.0, 80.0, 200.0])).name == "diverged"
    assert run(hist([6.0, 5.0, 4.0])).name != "diverged"  # below 3 ln K once


def test_exploding_gradients():
    steps = [{"step": i, "loss": 1.0, "grad_norm": 1.0} for i in range(8)]
    steps += [{"step": 9, "loss": 1.0, "grad_norm": 5e3}]
    assert run(hist([1.5, 0.4, 0.2, 0.1, 0.09], **GOOD), steps).name == "exploding gradients"
    steps[-1]["grad_norm"] = 5e2  # 500x: below the 1e3 threshold
    assert run(hist([1.5, 0.4, 0.2, 0.1, 0.09], **GOOD), steps).name == "healthy"


def test_vanishing_only_when_the_loss_stays_high():
    high = hist([2.31, 2.30, 2.30, 2.30, 2.30])
    assert run(high, lay=layers(1e-5)).name == "vanishing gradients"
    v = run(hist([1.5, 0.4, 0.2, 0.1, 0.09], **GOOD), lay=layers(1e-5))
    assert v.name == "healthy" and any("first layer" in a for a in v.also)


def test_tiny_updates_mean_not_converged():
    v = run(hist([2.31, 2.30, 2.30, 2.30, 2.30]), lay=layers(update=1e-6))
    assert v.name == "not converged yet"


def test_noise_floor_when_validation_is_at_chance():
    v = run(hist([2.3, 2.2, 2.1, 2.0, 1.9], val=[2.3] * 5, train_acc=[0.1, 0.15, 0.2, 0.25, 0.3],
                 val_acc=[0.1, 0.11, 0.09, 0.1, 0.12]), lay=layers())  # fmt: skip
    assert v.name == "noisy labels / noise floor"
    # 0.1 + 3 sqrt(0.09 / 270) = 0.155: a best of 0.2 is signal, not noise
    v = run(hist([2.3, 2.2, 2.1, 2.0, 1.9], val=[2.3] * 5, val_acc=[0.1, 0.2, 0.1, 0.1, 0.1]),
            lay=layers())  # fmt: skip
    assert v.name != "noisy labels / noise floor"


def test_still_falling_is_not_converged_flat_is_underfitting_or_stalled():
    acc = dict(val_acc=[0.5] * 5)
    assert run(hist([2.0, 1.8, 1.6, 1.4, 1.2], **acc), lay=layers()).name == "not converged yet"
    decaying = [{"step": i, "loss": 1.2, "grad_norm": 1.0 / (i + 1)} for i in range(10)]
    flat = hist([2.0, 1.3, 1.2, 1.2, 1.2], **acc)
    assert run(flat, decaying, layers()).name == "underfitting (high bias)"
    steady = [{"step": i, "loss": 1.2, "grad_norm": 3.0} for i in range(10)]
    assert run(flat, steady, layers()).name == (
        "stalled at a saddle/plateau with a large gradient norm"
    )


def test_overfitting_by_gap_or_rising_val_loss():
    v = run(hist([1.0, 0.2, 0.05, 0.01, 0.001], val=[1.0, 0.8, 0.8, 0.8, 0.8],
                 train_acc=[0.8, 0.95, 0.99, 1.0, 1.0], val_acc=[0.7, 0.75, 0.78, 0.8, 0.8]))  # fmt: skip
    assert v.name == "overfitting (high variance)" and "gap 20.0%" in v.reasons[0]
    v = run(hist([1.0, 0.2, 0.05, 0.01, 0.001], val=[1.0, 0.3, 0.4, 0.5, 0.6]))
    assert v.name == "overfitting (high variance)"


def test_every_verdict_has_next_steps():
    assert set(NEXT_STEPS) == set(VERDICTS)
    assert all(NEXT_STEPS[v] for v in VERDICTS)


def test_verdict_reports_its_evidence():
    v = run(hist([1.5, 0.4, 0.2, 0.1, 0.09], **GOOD))
    d = v.as_dict()
    assert d["evidence"]["last_train_loss"] == 0.09 and d["verdict"] == "healthy"
