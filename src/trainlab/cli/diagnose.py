"""`trainlab diagnose RUN`: why a run went wrong, by the notes' troubleshooting flow."""

from __future__ import annotations

import argparse
import json
from typing import Any

from trainlab.cli._common import console


def register(sub: Any) -> None:
    d = sub.add_parser(
        "diagnose",
        help="why a run went wrong: verdict, evidence, next steps, curvature, plots",
    )
    d.add_argument("run_dir", metavar="RUN_DIR")
    d.add_argument("--json", action="store_true", help="print the verdict and evidence as JSON")
    d.add_argument("--top-k", type=int, default=3, metavar="K", help="Hessian eigenvalues (3)")
    d.add_argument(
        "--iters", type=int, default=30, metavar="N", help="Lanczos steps per estimate (30)"
    )
    d.add_argument(
        "--samples", type=int, default=256, metavar="N", help="training samples for curvature"
    )
    d.add_argument("--seed", type=int, default=0, help="seed of the random probe vectors")
    d.add_argument("--no-curvature", action="store_true", help="skip the Hessian and the landscape")
    d.set_defaults(func=cmd_diagnose)


def cmd_diagnose(args: argparse.Namespace) -> int:
    from trainlab.diagnose.report import diagnose_run
    from trainlab.errors import ConfigError

    for name in ("iters", "samples"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name} = {getattr(args, name)}: expected a positive integer")
    result = diagnose_run(
        args.run_dir,
        curvature=not args.no_curvature,
        k=args.top_k,
        iters=args.iters,
        samples=args.samples,
        seed=args.seed,
    )
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return 0
    out = console()
    out.print(f"[bold]verdict: {result['verdict']}[/]", soft_wrap=True)
    for r in result["reasons"]:
        out.print(f"  - {r}", soft_wrap=True)
    out.print("[bold]next steps[/]")
    for i, s in enumerate(result["next_steps"], 1):
        out.print(f"  {i}. {s}", soft_wrap=True)
    curv = result["curvature"]
    if curv:
        out.print(
            f"curvature: {curv['critical_point']}, top eigenvalue "
            f"{curv['top_eigenvalues'][0]:.4g}, smallest {curv['min_eigenvalue']:.4g}",
            soft_wrap=True,
        )
    for m in result["not_computed"]:
        out.print(f"[yellow]not computed:[/] {m}", soft_wrap=True)
    out.print(f"report: {result['run_dir']}/diagnosis.md", soft_wrap=True)
    return 0
