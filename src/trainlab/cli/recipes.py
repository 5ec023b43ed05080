"""`trainlab recipes` (the named recipes) and `trainlab recipes show NAME` (one as YAML)."""

from __future__ import annotations

import argparse
from typing import Any

from trainlab.cli._common import console


def register(sub: Any) -> None:
    r = sub.add_parser("recipes", help="list the named recipes, or show one as YAML")
    rsub = r.add_subparsers(dest="recipes_command", metavar="COMMAND")
    s = rsub.add_parser("show", help="print a recipe's YAML, a comment per ingredient")
    s.add_argument("recipe", metavar="NAME")
    r.set_defaults(func=cmd_recipes)


def cmd_recipes(args: argparse.Namespace) -> int:
    from trainlab.recipes.registry import list_recipes, recipe_info, recipe_text

    if getattr(args, "recipes_command", None) == "show":
        print(recipe_text(args.recipe), end="")
        return 0
    from rich.table import Table

    table = Table(show_lines=False)
    for col in ("recipe", "version", "description"):
        table.add_column(col, overflow="fold")
    for name in list_recipes():
        info = recipe_info(name)
        table.add_row(name, info.version, info.description)
    out = console()
    out.print(table)
    out.print("trainlab recipes show NAME: the YAML and its sources; trainlab train --recipe NAME")
    return 0
