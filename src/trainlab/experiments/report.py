"""What an ablation or a search writes for people: statistics over seeds, the Markdown
report and the charts (matplotlib's object API: the process's pyplot state is untouched).

The gain of an ingredient is the change of the mean test metric from the previous rung. It
exceeds the seed noise when |gain| > 2 * se, se = sqrt(s_prev^2 / n_prev + s^2 / n) (the
standard error of a difference of two means, sample standard deviations s over n seeds:
about a 95% two-sided test for normal noise); with one seed there is no noise estimate.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RungStats:
    rung: int
    ingredient: str
    n: int
    val_mean: float
    val_std: float
    test_mean: float
    test_std: float


def _std(xs: list[float]) -> float:
    return statistics.stdev(xs) if len(xs) > 1 else math.nan


def metric_name(rows: list[dict[str, Any]]) -> str:
    return next(k for k in rows[0] if k.startswith("val_"))[4:]


def rung_stats(rows: list[dict[str, Any]]) -> list[RungStats]:
    """Mean and sample standard deviation over seeds, per rung, in rung order."""
    metric = metric_name(rows)
    out = []
    for rung in sorted({r["rung"] for r in rows}):
        mine = [r for r in rows if r["rung"] == rung]
        val = [float(r[f"val_{metric}"]) for r in mine]
        test = [float(r[f"test_{metric}"]) for r in mine]
        out.append(
            RungStats(
                rung, mine[0]["ingredient"], len(mine), statistics.fmean(val), _std(val),
                statistics.fmean(test), _std(test),
            )
        )  # fmt: skip
    return out


def gain_vs_noise(prev: RungStats, cur: RungStats) -> tuple[float, float]:
    """(gain of the mean test metric, its standard error; nan with a single seed)."""
    gain = cur.test_mean - prev.test_mean
    se = math.sqrt(prev.test_std**2 / prev.n + cur.test_std**2 / cur.n)
    return gain, se


def _pct(metric: str, v: float) -> str:
    if math.isnan(v):
        return "n/a"
    return f"{100 * v:.2f}" if metric.endswith("acc") else f"{v:.4f}"


def ablation_report(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The Markdown report: the plan, then a row per rung with mean ± std over seeds."""
    metric = metric_name(rows)
    unit = " (%)" if metric.endswith("acc") else ""
    stats = rung_stats(rows)
    lines = [f"# Ablation: {meta.get('from', '?')} -> {meta.get('to', '?')}", ""]
    lines += [f"- {k}: {v}" for k, v in meta.items() if k not in ("from", "to")]
    lines += [
        f"- metric: {metric}{unit}; mean ± sample std over seeds; selection on validation, "
        "the test metric reported, never used to choose",
        "- gain: change of the mean test metric from the previous rung; 'yes' when |gain| > "
        "2 standard errors of the difference (seed noise)",
        "",
        f"| rung | ingredient | seeds | val {metric} | test {metric} | gain | exceeds noise |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    prev = None
    for s in stats:
        val = f"{_pct(metric, s.val_mean)} ± {_pct(metric, s.val_std)}"
        test = f"{_pct(metric, s.test_mean)} ± {_pct(metric, s.test_std)}"
        gain, verdict = "", ""
        if prev is not None:
            g, se = gain_vs_noise(prev, s)
            gain = ("+" if g >= 0 else "") + _pct(metric, g)
            verdict = "n/a (one seed)" if math.isnan(se) else ("yes" if abs(g) > 2 * se else "no")
        name = s.ingredient if s.rung == 0 else f"+ {s.ingredient}"
        lines.append(f"| {s.rung} | {name} | {s.n} | {val} | {test} | {gain} | {verdict} |")
        prev = s
    if len(stats) > 1:
        total, se = gain_vs_noise(stats[0], stats[-1])
        lines += ["", f"Total gain (rung 0 -> {stats[-1].rung}): {_pct(metric, total)}"
                  + ("" if math.isnan(se) else f" (2 se = {_pct(metric, 2 * se)})")]  # fmt: skip
    return "\n".join(lines) + "\n"


def _figure(width: float, height: float, panels: int = 1) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), constrained_layout=True)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(1, panels)


def ablation_chart(rows: list[dict[str, Any]], path: Path) -> None:
    """ConvNeXt's figure 2 style: one horizontal bar per rung (mean test metric), the spread
    over seeds as an error bar, the ingredient named on each bar, val means as dots."""
    metric = metric_name(rows)
    stats = rung_stats(rows)
    scale = 100.0 if metric.endswith("acc") else 1.0
    fig, ax = _figure(8, 0.5 * len(stats) + 1.5)
    ys = list(range(len(stats)))[::-1]
    test = [scale * s.test_mean for s in stats]
    err = [0.0 if math.isnan(s.test_std) else scale * s.test_std for s in stats]
    ax.barh(ys, test, xerr=err, color="#7aa6d6", capsize=3, label="test (mean ± std)")
    ax.plot([scale * s.val_mean for s in stats], ys, "o", color="#d6617a", label="val (mean)")
    lo = min(min(test), *(scale * s.val_mean for s in stats))
    hi = max(t + e for t, e in zip(test, err, strict=True))
    pad = max(0.05 * (hi - lo), 1e-3 * max(abs(hi), 1.0))
    ax.set_xlim(lo - 4 * pad, hi + pad)
    for y, s in zip(ys, stats, strict=True):
        label = s.ingredient if s.rung == 0 else f"+ {s.ingredient}"
        ax.text(lo - 3.8 * pad, y, label, va="center", fontsize=9)
    ax.set_yticks(ys, [str(s.rung) for s in stats])
    ax.set_ylabel("rung")
    ax.set_xlabel(f"{metric}{' (%)' if scale == 100 else ''}; {stats[0].n} seed(s)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.savefig(path, dpi=110)


def tune_chart(
    rows: list[dict[str, Any]],
    metric: str,
    higher_is_better: bool,
    importance: dict[str, float],
    path: Path,
) -> None:
    """Left: the validation metric of each trial (pruned ones hollow, at their last epoch)
    and the best-so-far line over completed trials; right: the parameter importances."""
    fig, (ax, bx) = _figure(11, 4, 2)
    done = [r for r in rows if r["state"] == "COMPLETE" and r["value"] is not None]
    cut = [r for r in rows if r["state"] == "PRUNED" and r["value"] is not None]
    ax.plot([r["trial"] for r in done], [r["value"] for r in done], "o", label="completed")
    ax.plot([r["trial"] for r in cut], [r["value"] for r in cut], "o", mfc="none", label="pruned")
    best, xs, ys = None, [], []
    for r in sorted(done, key=lambda r: r["trial"]):
        v = r["value"]
        if best is None or (v > best if higher_is_better else v < best):
            best = v
        xs.append(r["trial"])
        ys.append(best)
    ax.step(xs, ys, where="post", color="black", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"val {metric}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if importance:
        names = list(importance)[::-1]
        bx.barh(names, [importance[n] for n in names], color="#7aa6d6")
        bx.set_xlabel("importance (fANOVA)")
    else:
        bx.text(0.5, 0.5, "importance needs more completed trials", ha="center", va="center")
        bx.set_axis_off()
    bx.set_title("parameter importance")
    fig.savefig(path, dpi=110)
