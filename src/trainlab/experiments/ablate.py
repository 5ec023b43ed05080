"""The ablation ladder run through the engine: every rung for every seed, resumable.

`run_ablation(rungs, data, out_dir, seeds)` trains each (rung, seed) with `run_trial`
(selection on validation, the test metric reported once, never used to choose) and appends
one row to `out_dir/ablation.csv` as soon as it finishes, so an interrupted ablation run
again with the same plan skips the finished pairs. `ablation.json` holds the plan (every
rung's config); a different plan in the same folder is refused. At the end it writes
`ablation.png` and `report.md` (`trainlab.experiments.report`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from trainlab.data import DataBundle
from trainlab.errors import ConfigError
from trainlab.experiments.report import ablation_chart, ablation_report
from trainlab.experiments.trial import TrialResult, run_trial
from trainlab.recipes import validate
from trainlab.recipes.ladder import Rung
from trainlab.train import Callback

CSV_NAME, PLAN_NAME = "ablation.csv", "ablation.json"


def _plan(rungs: Sequence[Rung]) -> list[dict[str, Any]]:
    return [{"rung": r.index, "ingredient": r.ingredient, "config": r.config} for r in rungs]


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The finished trials of `ablation.csv` (numbers as floats, rung and seed as ints)."""
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["rung"], row["seed"] = int(row["rung"]), int(row["seed"])
        for k in row:
            if k.startswith(("val_", "test_")) or k == "seconds":
                row[k] = float(row[k])
    return rows


def _append(path: Path, row: dict[str, Any]) -> None:
    new = not path.is_file()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)
        f.flush()


def open_plan(out_dir: Path, rungs: Sequence[Rung], meta: dict[str, Any]) -> None:
    """Write the plan, or check that the folder's plan is this one (resume)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / PLAN_NAME
    plan = {"meta": meta, "rungs": _plan(rungs)}
    plan = json.loads(json.dumps(plan))  # tuples as lists, as read back
    if path.is_file():
        old = json.loads(path.read_text())
        if old["rungs"] != plan["rungs"]:
            raise ConfigError(
                f"{out_dir}: holds another ablation (its {PLAN_NAME} differs); pass another "
                "--name to start a new one, or rerun that ablation's own command to resume it"
            )
        return
    path.write_text(json.dumps(plan, indent=1))


def run_ablation(
    rungs: Sequence[Rung],
    data: DataBundle,
    out_dir: Path | str,
    seeds: Sequence[int],
    *,
    meta: dict[str, Any] | None = None,
    callbacks: Callable[[Rung, int], Sequence[Callback]] = lambda rung, seed: (),
    on_result: Callable[[Rung, int, TrialResult | None], None] = lambda rung, seed, r: None,
) -> list[dict[str, Any]]:
    """Train every (rung, seed) not yet in `ablation.csv`, in ladder order; returns all rows.

    A rung's seed `s` trains with `seed = config.seed + s` (the data split stays the one
    `data` was cut with, so the spread over seeds is the training's). `on_result` is called
    after each pair (with None for a pair already finished)."""
    out = Path(out_dir)
    open_plan(out, rungs, dict(meta or {}))
    path = out / CSV_NAME
    done = {(r["rung"], r["seed"]) for r in read_rows(path)}
    for rung in rungs:
        for seed in seeds:
            if (rung.index, seed) in done:
                on_result(rung, seed, None)
                continue
            tree = dict(rung.config) | {"seed": int(rung.config.get("seed", 0)) + seed}
            result = run_trial(validate(tree), data, callbacks(rung, seed))
            _append(
                path,
                {
                    "rung": rung.index,
                    "ingredient": rung.ingredient or "(start)",
                    "seed": seed,
                    f"val_{result.metric}": result.val,
                    f"test_{result.metric}": result.test,
                    "weights": result.weights,
                    "seconds": round(result.seconds, 3),
                },
            )
            on_result(rung, seed, result)
    rows = [r for r in read_rows(path) if r["seed"] in set(seeds)]
    ablation_chart(rows, out / "ablation.png")
    (out / "report.md").write_text(ablation_report(rows, dict(meta or {})), encoding="utf-8")
    return rows
