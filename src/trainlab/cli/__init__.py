"""The `trainlab` command.

The only package that parses arguments or prints for people. Each subcommand lives in a
module of its own (listed in COMMANDS) that defines `register(sub)`: it adds its parser to the
subparsers `sub` and sets `func`, the function that runs it and returns the exit code. Bad
input of any kind ends with one line on stderr naming what was wrong and what was expected,
exit code 2, and no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from trainlab import __version__
from trainlab.cli._common import Parser
from trainlab.errors import UserError

# the command modules, in the order `trainlab --help` lists them
COMMANDS = (
    "train",
    "eval",
    "predict",
    "export",
    "plot_lr",
    "models",
    "prune",
    "continual",
    "robustness",
    "explain",
    "rl",
    "diagnose",
    "recipes",
    "ablate",
    "tune",
)

EXAMPLES = """\
examples:
  trainlab train                                  the default recipe on the embedded digits
  trainlab train --model mlp --epochs 10          another model, fewer epochs
  trainlab train --data my.npz                    your arrays: x (N, ...), y (N,)
  trainlab train --data houses.csv --target price regression from a CSV
  trainlab train --data photos/                   an image folder photos/<class>/*.png
  trainlab train --set optim.lr=1e-3 --set optim.name=sgd
  trainlab train --print-config                   show the resolved config and exit
  trainlab train --recipe modern                  start from a named recipe (trainlab recipes)
  trainlab ablate --from classic --to modern --seeds 2
                                                  what each modern ingredient is worth
  trainlab tune --trials 20 --space optim.lr=log:1e-4:1e-1
                                                  search on the validation split (Optuna)
  trainlab resume runs/NAME                       continue a stopped run exactly
  trainlab eval runs/NAME --data other.npz        metrics of the best checkpoint
  trainlab diagnose runs/NAME                     why a run went wrong (diagnosis.md)
  trainlab plot-lr --set sched.name=step --set sched.params.step_size=10
                                                  look at the lr curve before training
  trainlab export runs/NAME --format onnx         the best weights outside trainlab
  trainlab predict runs/NAME --data new.npz       one row per sample
  torchrun --nproc_per_node 2 -m trainlab train   data parallel on 2 processes

Each command has its own --help; docs/ has a page per package.
"""


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="trainlab",
        description="Train, resume and evaluate models with the techniques of the notes.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"trainlab {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMANDS:
        importlib.import_module(f"trainlab.cli.{name}").register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except UserError as e:
        print(f"trainlab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("trainlab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
