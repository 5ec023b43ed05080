"""`trainlab robustness RUN` (the robustness curve and an image grid) and the robust part of
`trainlab eval RUN --attack fgsm|pgd --eps E` (clean and robust accuracy, optionally a
black-box transfer attack crafted on `--proxy OTHER_RUN`).

Budgets are in the data's own units (before standardization); see docs/robust.md.
"""

from __future__ import annotations

import argparse
from typing import Any

from trainlab.cli._common import console, load_run, print_summary
from trainlab.errors import CheckpointError, ConfigError

DEFAULT_EPS = "0,0.05,0.1,0.15,0.2,0.25,0.3"


def add_attack_args(p: argparse.ArgumentParser) -> None:
    """`trainlab eval`'s attack options."""
    p.add_argument("--attack", choices=["fgsm", "pgd"], help="also report robust accuracy")
    p.add_argument("--eps", type=float, help="--attack: budget in the data's units")
    p.add_argument("--steps", type=int, default=10, help="--attack pgd: steps (default 10)")
    p.add_argument("--restarts", type=int, default=1, help="--attack pgd: random restarts")
    p.add_argument("--norm", choices=["linf", "l2"], default="linf", help="--attack: the norm")
    p.add_argument("--proxy", metavar="RUN_DIR", help="--attack: craft it on this run's model")


def register(sub: Any) -> None:
    r = sub.add_parser("robustness", help="a run's accuracy against eps under FGSM and PGD")
    r.add_argument("run_dir", metavar="RUN_DIR")
    r.add_argument(
        "--eps", default=DEFAULT_EPS, help=f"budgets, data units (default {DEFAULT_EPS})"
    )
    r.add_argument("--steps", type=int, default=10, help="PGD steps (default 10)")
    r.add_argument("--norm", choices=["linf", "l2"], default="linf")
    r.add_argument("--grid", type=int, default=8, metavar="N", help="examples in the grid")
    r.add_argument("--seed", type=int, default=0, help="PGD's random starts")
    r.set_defaults(func=cmd_robustness)


def _run_model(run_dir: str) -> tuple[Any, Any, dict[str, Any], Any]:
    """(run, config, checkpoint, model with the best (else last) checkpoint's weights)."""
    from trainlab.train import load_checkpoint
    from trainlab.train.build import build_model, resolve_device

    run, config = load_run(run_dir)
    path = run.best if run.best.is_file() else run.last
    state = load_checkpoint(path)
    meta = state["data"]
    if meta["task"] != "classification":
        raise ConfigError(f"{run.path}: attacks need a classification run, not {meta['task']}")
    model = build_model(config, meta["num_outputs"], tuple(meta["in_shape"]), task=meta["task"])
    model.load_state_dict(state["modules"]["model"])
    return run, config, state, model.to(resolve_device(config.train.device)).eval()


def _test_data(config: Any, run: Any) -> tuple[Any, Any]:
    """(DataBundle, test split) of the run's config."""
    from trainlab.data import Split
    from trainlab.train.build import build_data

    data = build_data(config)
    if not isinstance(data.test, Split):
        raise CheckpointError(f"{run.path}: the run's data has no in-memory test split")
    return data, data.test


def _check(args: argparse.Namespace, eps: list[float]) -> None:
    for v in eps:
        if not v >= 0:
            raise ConfigError(f"--eps {v}: expected a budget >= 0 (data units)")
    if args.steps < 1:
        raise ConfigError(f"--steps {args.steps}: expected an integer >= 1")
    if getattr(args, "restarts", 1) < 1:
        raise ConfigError(f"--restarts {args.restarts}: expected an integer >= 1")


def eval_attack(args: argparse.Namespace) -> int:
    """`trainlab eval RUN --attack ...`: clean and robust accuracy on the test split."""
    from trainlab.robust.config import input_space
    from trainlab.robust.evaluate import robust_accuracy

    if args.eps is None:
        raise ConfigError("--attack needs --eps E (the budget, in the data's units)")
    if args.data is not None:
        raise ConfigError("--attack evaluates the run's own test split; drop --data")
    _check(args, [args.eps])
    run, config, state, model = _run_model(args.run_dir)
    data, test = _test_data(config, run)
    proxy = None
    if args.proxy is not None:
        _, _, pstate, proxy = _run_model(args.proxy)
        if list(pstate["data"]["in_shape"]) != list(state["data"]["in_shape"]):
            raise ConfigError(f"--proxy {args.proxy}: its inputs differ from the target's")
    try:
        threat = input_space(data, config).threat(args.eps, norm=args.norm)
        metrics = robust_accuracy(
            model, test.x, test.y, threat, args.attack, steps=args.steps,
            restarts=args.restarts, batch_size=config.data.eval_batch_size, proxy=proxy,
        )  # fmt: skip
    except ValueError as e:
        raise ConfigError(str(e)) from None
    how = args.attack.upper() + (f"-{args.steps}" if args.attack == "pgd" else "")
    kind = f"transfer from {args.proxy}" if proxy is not None else "white-box"
    title = f"{how} {args.norm} eps={args.eps:g} ({kind}) on the test split of {run.path}"
    print_summary(console(), title, metrics, {"samples": len(test)})
    return 0


def cmd_robustness(args: argparse.Namespace) -> int:
    import torch

    from trainlab.robust.config import input_space
    from trainlab.robust.evaluate import attack, robustness_curve
    from trainlab.robust.report import plot_curve, plot_grid, write_curve_csv

    try:
        eps = [float(v) for v in str(args.eps).split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--eps {args.eps!r}: expected comma-separated numbers") from None
    if not eps:
        raise ConfigError("--eps: expected at least one budget")
    _check(args, eps)
    run, config, _, model = _run_model(args.run_dir)
    data, test = _test_data(config, run)
    space = input_space(data, config)
    methods = ["pgd"] if args.norm == "l2" else ["fgsm", "pgd"]
    rows = robustness_curve(
        model, test.x, test.y, space, eps, methods=methods, steps=args.steps, norm=args.norm,
        batch_size=config.data.eval_batch_size, seed=args.seed,
    )  # fmt: skip
    run.plots.mkdir(parents=True, exist_ok=True)
    csv_path, png = run.path / "robustness.csv", run.plots / "robustness.png"
    write_curve_csv(rows, csv_path)
    plot_curve(rows, png)
    files = {"curve (csv)": str(csv_path), "curve (png)": str(png)}
    if len(data.in_shape) == 3 and args.grid > 0:
        k = min(args.grid, len(test))
        device = next(model.parameters()).device
        x, y = test.x[:k].to(device), test.y[:k].to(device)
        top = max(eps)
        gen = torch.Generator(device).manual_seed(args.seed)
        adv = attack(model, x, y, space.threat(top, norm=args.norm), "pgd", steps=args.steps,
                     generator=gen)  # fmt: skip
        with torch.no_grad():
            pc, pa = model(x).argmax(1), model(adv).argmax(1)
        mean, std = space.mean.to(device), space.std.to(device)
        grid = run.plots / "adversarial_grid.png"
        plot_grid(x * std + mean, adv * std + mean, y, pc, pa, grid,
                  class_names=data.class_names,
                  title=f"PGD-{args.steps} {args.norm} eps={top:g} (data units)")  # fmt: skip
        files["image grid"] = str(grid)
    out = console()
    metrics = {f"{r['method']}@{r['eps']:g} acc": r["acc"] for r in rows}
    print_summary(out, f"robustness of {run.path} (test split, {len(test)} samples)", metrics,
                  files)  # fmt: skip
    return 0
