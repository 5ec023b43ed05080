"""run_ablation: every rung for every seed, rows as they finish, resume, the report."""

from __future__ import annotations

import csv
import math
import statistics
from pathlib import Path

import pytest

from tests.experiments.conftest import Count, Cut, CutAt, small
from trainlab.errors import ConfigError
from trainlab.experiments.ablate import run_ablation
from trainlab.experiments.report import ablation_report, gain_vs_noise, rung_stats
from trainlab.recipes.ladder import build_ladder


def _rungs(steps=("adamw", "mixup")):
    a = small("classic").model_dump(mode="json")
    b = small("modern").model_dump(mode="json")
    return build_ladder(a, b, list(steps))


def _csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_an_interrupted_ablation_resumes_without_rerunning_finished_rungs(
    digits, tmp_path: Path
) -> None:
    rungs = _rungs()
    cut = lambda rung, seed: [CutAt()] if (rung.index, seed) == (1, 1) else []  # noqa: E731
    with pytest.raises(Cut):
        run_ablation(rungs, digits, tmp_path, [0, 1], callbacks=cut)
    done = [(int(r["rung"]), int(r["seed"])) for r in _csv(tmp_path / "ablation.csv")]
    assert done == [(0, 0), (0, 1), (1, 0)]
    ran: list = []
    skipped: list = []
    rows = run_ablation(
        rungs, digits, tmp_path, [0, 1],
        callbacks=lambda rung, seed: [Count(ran, lambda t: (t.config.seed, t.config.optim.name))],
        on_result=lambda rung, seed, r: skipped.append((rung.index, seed)) if r is None else None,
    )  # fmt: skip
    assert skipped == done  # the finished pairs were not trained again
    assert ran == [(1, "adamw"), (0, "adamw"), (1, "adamw")]  # (1,1), (2,0), (2,1); seed = s
    assert [(r["rung"], r["seed"]) for r in rows] == [(i, s) for i in range(3) for s in (0, 1)]
    assert {r["ingredient"] for r in rows} == {"(start)", "adamw", "mixup"}
    for name in ("ablation.csv", "ablation.png", "report.md"):
        assert (tmp_path / name).is_file()
    assert "| 2 | + mixup | 2 |" in (tmp_path / "report.md").read_text()


@pytest.mark.slow
def test_another_plan_in_the_same_folder_is_refused(digits, tmp_path: Path) -> None:
    run_ablation(_rungs(("adamw",)), digits, tmp_path, [0])
    with pytest.raises(ConfigError, match="holds another ablation"):
        run_ablation(_rungs(("mixup",)), digits, tmp_path, [0])


def _rows(values: dict[int, list[float]]) -> list[dict]:
    return [
        {
            "rung": r,
            "ingredient": "x" if r else "(start)",
            "seed": s,
            "val_acc": v + 0.01,
            "test_acc": v,
        }
        for r, vs in values.items()
        for s, v in enumerate(vs)
    ]


def test_rung_statistics_and_the_noise_test() -> None:
    rows = _rows({0: [0.90, 0.92, 0.91], 1: [0.95, 0.96, 0.94], 2: [0.96, 0.93, 0.95]})
    stats = rung_stats(rows)
    assert [s.n for s in stats] == [3, 3, 3]
    assert stats[1].test_mean == pytest.approx(0.95)
    assert stats[1].test_std == pytest.approx(statistics.stdev([0.95, 0.96, 0.94]))
    gain, se = gain_vs_noise(stats[0], stats[1])
    assert gain == pytest.approx(0.04)
    assert se == pytest.approx(math.sqrt(0.01**2 / 3 + 0.01**2 / 3))
    report = ablation_report(rows, {"from": "classic", "to": "modern"})
    lines = [ln for ln in report.splitlines() if ln.startswith("| ")]
    assert lines[3].endswith("| +4.00 | yes |")  # 0.04 > 2 * 0.0082
    assert lines[4].endswith("| -0.33 | no |")  # rung 2: 0.9467 - 0.95, well inside the noise
    one = ablation_report(_rows({0: [0.9], 1: [0.95]}), {})
    assert "n/a (one seed)" in one
