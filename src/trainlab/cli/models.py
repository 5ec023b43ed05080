"""`trainlab models`: the registered models, or one model's parameters and FLOPs."""

from __future__ import annotations

import argparse
from typing import Any

from trainlab.errors import ConfigError


def register(sub: Any) -> None:
    m = sub.add_parser(
        "models",
        help="list the registered models, or `models show NAME` for parameters and FLOPs",
        epilog="examples:\n  trainlab models 'resnet*'\n"
        "  trainlab models show convnext_tiny --input 3x224x224 --depth 2",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    m.add_argument("pattern", nargs="?", default="*", help="shell pattern, e.g. 'resnet*'")
    m.add_argument("name", nargs="?", help="with `show`: the model to summarize")
    m.add_argument("--input", default="3x224x224", help="`show`: one sample's shape, CxHxW")
    m.add_argument("--classes", type=int, default=1000, help="`show`: number of classes")
    m.add_argument("--depth", type=int, help="`show`: aggregate rows to this module depth")
    m.set_defaults(func=cmd_models)


def cmd_models(args: argparse.Namespace) -> int:
    from trainlab.models import describe_model, list_models

    if args.pattern == "show":
        if args.name not in list_models():
            raise ConfigError(
                f"models show {args.name!r}: unknown model; expected one of "
                + ", ".join(list_models())
            )
        try:
            summary = describe_model(
                args.name, args.input, num_classes=args.classes, depth=args.depth
            )
        except (TypeError, ValueError) as e:
            raise ConfigError(f"models show {args.name} --input {args.input}: {e}") from e
        print(summary.table())
        return 0

    names = list_models(args.pattern)
    if not names:
        raise ConfigError(f"no model matches {args.pattern!r}; `trainlab models` lists them all")
    print("\n".join(names))
    return 0
