"""The notes' troubleshooting flow as a function: from a run's numbers to one verdict.

F3:189-198 (the flow): 1. has the training loss come down? no -> optimization (lr,
optimizer, more epochs); 2. training loss low but test loss high -> overfitting
(regularization, augmentation, dropout); 3. both high -> optimize more, or a more expressive
model (bias); 4. stuck at a floor -> check for a noise floor. F3:257-311 and 966-1021 name the
causes: bias (the hypothesis space), optimization error, noise, variance; F3:313-345 and
1973-2037 vanishing/exploding gradients; F3:541-567 a stall with a large gradient norm.

`evidence(...)` reduces the run's logs to named numbers; `decide(evidence)` walks the flow in
this order and returns the first verdict whose test holds (`VERDICTS`), the numbers that
triggered it and the next steps in the notes' terms. The thresholds are stated beside each
test; they are rules of thumb, not theorems, and the evidence is always reported with them.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

VERDICTS = (
    "diverged",
    "exploding gradients",
    "vanishing gradients",
    "not converged yet",
    "noisy labels / noise floor",
    "stalled at a saddle/plateau with a large gradient norm",
    "underfitting (high bias)",
    "overfitting (high variance)",
    "healthy",
)

NEXT_STEPS = {
    "diverged": [
        "lower the learning rate (optim.lr) by 10x",
        "add a warmup (sched.warmup_epochs) so the first steps are small",
        "clip the gradient norm (regularize.clip_grad_norm = 1.0)",
        "add normalization layers (batch/layer norm) to keep activations in range",
    ],
    "exploding gradients": [
        "clip the gradient norm (regularize.clip_grad_norm = 1.0)",
        "lower the learning rate or add a warmup",
        "use normalization and a careful initialization (He/Xavier); residual connections",
    ],
    "vanishing gradients": [
        "use ReLU-family activations instead of sigmoid/tanh in deep stacks",
        "add normalization (batch norm / layer norm) between layers",
        "add residual connections (a ResNet-style model)",
        "use an adaptive optimizer (Adam/AdamW) and He initialization",
    ],
    "not converged yet": [
        "train longer (train.epochs): the training loss is still falling",
        "raise the learning rate if the update/weight ratio is far below 1e-3",
        "use a schedule with a higher peak (one_cycle, warmup + cosine) or Adam/AdamW",
    ],
    "noisy labels / noise floor": [
        "check the labels: the validation accuracy is at chance level, so the inputs carry "
        "no learnable signal about them (or the labels are shuffled/noisy)",
        "clean the data (mislabelled samples, duplicates with different labels)",
        "set expectations by the noise level; more data only helps if the noise is random",
    ],
    "stalled at a saddle/plateau with a large gradient norm": [
        "use momentum or an adaptive optimizer (Adam/AdamW) to cross the ravine",
        "lower the learning rate or decay it (the steps bounce between the walls)",
        "add normalization to improve the conditioning",
    ],
    "underfitting (high bias)": [
        "a bigger model (more width or depth) or a better-suited architecture (a CNN for images)",
        "less regularization (weight decay, dropout, augmentation)",
        "train longer or with a tuned learning rate once the model is large enough",
    ],
    "overfitting (high variance)": [
        "more data or data augmentation (augment.*)",
        "more regularization: weight decay, dropout, label smoothing, stochastic depth",
        "early stopping on the validation loss (early_stop.patience)",
        "a smaller model",
    ],
    "healthy": [
        "nothing is wrong by these measures; to go further, tune the recipe (lr, schedule, "
        "augmentation) against the validation split",
    ],
}


@dataclass
class Verdict:
    """The primary verdict, the numbers behind it, what to do, and the other findings."""

    name: str
    reasons: list[str]
    next_steps: list[str]
    evidence: dict[str, Any]
    also: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.name,
            "reasons": self.reasons,
            "next_steps": self.next_steps,
            "also": self.also,
            "evidence": self.evidence,
        }


def _finite(xs: Sequence[float]) -> list[float]:
    return [x for x in xs if isinstance(x, float | int) and math.isfinite(x)]


def _col(rows: Sequence[dict[str, Any]], key: str) -> list[float]:
    return [float(r[key]) for r in rows if r.get(key) not in (None, "")]


def evidence(
    history: Sequence[dict[str, Any]],
    steps: Sequence[dict[str, Any]] = (),
    layers: Sequence[dict[str, Any]] = (),
    *,
    task: str | None = None,
    num_classes: int | None = None,
    val_size: int | None = None,
    interrupted: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Named numbers of a run: `history` (metrics.csv rows), `steps` (metrics_steps rows),
    `layers` (diagnostics.csv rows), the data's task and class count, the validation size,
    and what ended the run early (`interrupted.json`, or None)."""
    ev: dict[str, Any] = {"epochs": len(history), "task": task, "num_classes": num_classes}
    tl, vl = _col(history, "train_loss"), _col(history, "val_loss")
    step_loss = _col(steps, "loss")
    gnorm = _col(steps, "grad_norm")
    ev["nonfinite"] = bool(
        any(not math.isfinite(x) for x in tl + vl + step_loss + gnorm)
        or (interrupted or {}).get("reason") == "TrainingDiverged"
    )
    if interrupted:
        ev["interrupted"] = f"{interrupted.get('reason')}: {interrupted.get('message')}"
    if tl:
        ev |= {"first_train_loss": tl[0], "last_train_loss": tl[-1], "min_train_loss": min(tl)}
        k = max(1, len(tl) // 5)  # the last fifth of the run
        if len(tl) > k and math.isfinite(tl[-1 - k]) and tl[-1 - k] > 0:
            ev["late_loss_drop"] = (tl[-1 - k] - tl[-1]) / tl[-1 - k]  # relative, over k epochs
    if vl:
        best = min(range(len(vl)), key=lambda i: vl[i] if math.isfinite(vl[i]) else math.inf)
        ev |= {"last_val_loss": vl[-1], "min_val_loss": vl[best], "min_val_loss_epoch": best + 1}
    for split in ("train", "val"):
        acc = _col(history, f"{split}_acc")
        if acc:
            ev[f"last_{split}_acc"], ev[f"best_{split}_acc"] = acc[-1], max(_finite(acc) or [0.0])
    if task == "classification" and num_classes:
        ev["chance_loss"], ev["chance_acc"] = math.log(num_classes), 1.0 / num_classes
        if val_size:  # 3 binomial standard deviations above chance
            p = 1.0 / num_classes
            ev["chance_acc_upper"] = p + 3 * math.sqrt(p * (1 - p) / val_size)
    fin = _finite(gnorm)
    if len(fin) >= 2:
        early = statistics.median(fin[: max(1, len(fin) // 5)])
        ev["grad_norm_early"], ev["grad_norm_late"], ev["grad_norm_max"] = early, fin[-1], max(fin)
        ev["grad_norm_growth"] = max(fin) / max(early, 1e-30)
    if not math.isfinite(max(gnorm, default=0.0)):
        ev["grad_norm_growth"] = math.inf
    ev |= _layer_evidence(layers)
    return ev


def _layer_evidence(layers: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Median over statistics steps of the first layer's grad norm over the last's (the
    layers in parameter order: input side first), and the median update/weight ratio."""
    by_step: dict[int, list[dict[str, Any]]] = {}
    for r in layers:
        if isinstance(r.get("grad_norm"), float) and not math.isnan(r["grad_norm"]):
            by_step.setdefault(int(r["step"]), []).append(r)
    out: dict[str, Any] = {}
    ratios, updates = [], []
    for rows in by_step.values():
        first, last = rows[0]["grad_norm"], rows[-1]["grad_norm"]
        if len(rows) >= 2 and math.isfinite(first) and math.isfinite(last) and last > 0:
            ratios.append(first / last)
        updates += [r["update_ratio"] for r in rows if math.isfinite(r["update_ratio"])]
    if ratios:
        out["first_last_grad_ratio"] = statistics.median(ratios)
        out["layers"] = len(next(iter(by_step.values())))
    if updates:
        out["update_ratio_median"] = statistics.median(updates)
    dead = [r["dead_frac"] for r in layers if isinstance(r.get("dead_frac"), float)
            and math.isfinite(r["dead_frac"])]  # fmt: skip
    if dead:
        out["dead_relu_max"] = max(dead)
    return out


def _fmt(x: Any) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def _fitted(ev: dict[str, Any]) -> bool | None:
    """The training loss came down: below a quarter of the chance loss ln K
    (classification) or of the first epoch's loss (otherwise)."""
    last = ev.get("last_train_loss")
    ref = ev.get("chance_loss") or ev.get("first_train_loss")
    if last is None or ref is None or not math.isfinite(last):
        return None
    return last < 0.25 * ref


def decide(ev: dict[str, Any]) -> Verdict:
    """The first verdict of the flow (module docstring) whose test holds."""
    g = ev.get
    fitted = _fitted(ev)
    also = []
    if g("dead_relu_max", 0.0) > 0.5:
        also.append(f"up to {g('dead_relu_max'):.0%} of a ReLU layer's units are dead")
    ratio = g("first_last_grad_ratio")
    if ratio is not None and ratio < 1e-3 and fitted:
        also.append(f"the first layer's gradients are {ratio:.2g}x the last layer's")

    def out(name: str, *reasons: str) -> Verdict:
        return Verdict(name, list(reasons), NEXT_STEPS[name], ev, also)

    growth = g("grad_norm_growth")
    if g("nonfinite"):
        why = ["the loss or the gradient norm became NaN/Inf"]
        if g("interrupted"):
            why.append(f"the run stopped: {g('interrupted')}")
        if growth is not None:
            why.append(f"the gradient norm grew {_fmt(growth)}x over its early median")
        return out("diverged", *why)
    chance = g("chance_loss")
    if chance and g("min_train_loss") is not None and g("min_train_loss") > 3 * chance:
        # never better than 3x the loss of a uniform prediction: the weights ran away
        return out("diverged", f"the lowest training loss {_fmt(g('min_train_loss'))} is "
                   f"over 3x the chance loss ln K = {_fmt(chance)}")  # fmt: skip
    if growth is not None and growth >= 1e3:  # three orders of magnitude: not noise
        return out("exploding gradients",
                   f"the gradient norm grew {_fmt(growth)}x over its early median "
                   f"(max {_fmt(g('grad_norm_max'))})")  # fmt: skip
    if ratio is not None and ratio < 1e-3 and fitted is False:
        # 1e-3: sigmoid's slope is at most 1/4, so ~5 saturating layers already give this
        return out("vanishing gradients",
                   f"the first layer's gradient norm is {_fmt(ratio)}x the last layer's "
                   f"(median over {g('layers')} layers' statistics)",
                   f"the training loss is still {_fmt(g('last_train_loss'))}")  # fmt: skip
    upd = g("update_ratio_median")
    if fitted is False and upd is not None and upd < 1e-4:
        # healthy runs move the weights by ~1e-3 of their norm per step
        return out("not converged yet",
                   f"the median update/weight ratio is {_fmt(upd)} (healthy: ~1e-3): the "
                   "learning rate is too low",
                   f"the training loss is {_fmt(g('last_train_loss'))}, the first epoch's "
                   f"{_fmt(g('first_train_loss'))}")  # fmt: skip
    upper = g("chance_acc_upper")
    if upper is not None and g("best_val_acc") is not None and g("best_val_acc") <= upper:
        return out("noisy labels / noise floor",
                   f"the best validation accuracy {_fmt(g('best_val_acc'))} is within 3 "
                   f"binomial sd of chance ({_fmt(g('chance_acc'))}; bound {_fmt(upper)})",
                   f"while the training loss went {_fmt(g('first_train_loss'))} -> "
                   f"{_fmt(g('last_train_loss'))}")  # fmt: skip
    if fitted is False:
        drop = g("late_loss_drop")
        loss = f"the training loss is {_fmt(g('last_train_loss'))}"
        ref = f" (chance ln K = {_fmt(chance)})" if chance else ""
        if drop is not None and drop > 0.05:  # still falling > 5% over the last fifth
            return out("not converged yet", loss + ref,
                       f"it fell {drop:.1%} over the last fifth of the epochs")  # fmt: skip
        early, late = g("grad_norm_early"), g("grad_norm_late")
        if early is not None and late is not None and late >= early:
            return out("stalled at a saddle/plateau with a large gradient norm",
                       loss + ref + " and flat", f"the gradient norm did not decay "
                       f"({_fmt(early)} early, {_fmt(late)} at the end)")  # fmt: skip
        return out("underfitting (high bias)", loss + ref + " and no longer falling",
                   f"it changed {drop or 0.0:.1%} over the last fifth of the epochs")  # fmt: skip
    gap = None
    if g("last_train_acc") is not None and g("last_val_acc") is not None:
        gap = float(g("last_train_acc") or 0.0) - float(g("last_val_acc") or 0.0)
    vl, vmin = g("last_val_loss"), g("min_val_loss")
    rising = vl is not None and vmin is not None and vl > 1.25 * vmin
    if (gap is not None and gap > 0.1) or (rising and fitted):
        why = []
        if gap is not None:
            why.append(f"train accuracy {_fmt(g('last_train_acc'))} vs validation "
                       f"{_fmt(g('last_val_acc'))} (gap {gap:.1%})")  # fmt: skip
        if rising:
            why.append(f"the validation loss rose from {_fmt(vmin)} (epoch "
                       f"{g('min_val_loss_epoch')}) to {_fmt(vl)}")  # fmt: skip
        return out("overfitting (high variance)", *why)
    why = [f"training loss {_fmt(g('last_train_loss'))}"]
    if g("last_val_acc") is not None:
        why.append(f"validation accuracy {_fmt(g('last_val_acc'))}, gap "
                   f"{_fmt(gap if gap is not None else math.nan)}")  # fmt: skip
    return out("healthy", *why)
