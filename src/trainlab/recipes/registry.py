"""Named, versioned recipes: partial configs shipped as YAML files in `recipes/builtin/`.

A recipe is a YAML mapping of config keys that override the defaults (`trainlab train
--recipe NAME`, or `recipe: NAME` in a config file), opened by a comment block that says
what it is and where it comes from::

    # description: the ResNet recipe: SGD momentum 0.9, step decay, wd 1e-4
    # source: He et al. 2016; the notes F3:704-709
    # version: 1

followed by the keys, each with a comment naming the ingredient. Every `*.yaml` file of
the folder is a recipe named after the file, so a package adds one by dropping a file
there (no code change). Torch-free: listing and reading recipes imports nothing heavy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from trainlab.errors import ConfigError

_HEADER = re.compile(r"^#\s*(description|source|version)\s*:\s*(.*?)\s*$")


@dataclass(frozen=True)
class RecipeInfo:
    """A recipe's name and the fields of its leading comment block."""

    name: str
    description: str
    source: str
    version: str
    path: Path


def recipes_dir() -> Path:
    """The folder of the built-in recipes (package data)."""
    return Path(str(resources.files("trainlab.recipes").joinpath("builtin")))


def _paths() -> dict[str, Path]:
    return {p.stem: p for p in sorted(recipes_dir().glob("*.yaml"))}


def list_recipes() -> list[str]:
    """Every recipe name, sorted."""
    return sorted(_paths())


def recipe_path(name: str) -> Path:
    """The YAML file of recipe `name` (a ConfigError lists the known ones)."""
    paths = _paths()
    if not isinstance(name, str) or name not in paths:
        raise ConfigError(f"recipe = {name!r}: unknown recipe; expected one of {', '.join(paths)}")
    return paths[name]


def recipe_text(name: str) -> str:
    """The recipe file as written: its header, keys and one comment per ingredient."""
    return recipe_path(name).read_text(encoding="utf-8")


def recipe_info(name: str) -> RecipeInfo:
    """Name, description, source and version read from the recipe's leading comments."""
    path = recipe_path(name)
    fields = {"description": "", "source": "", "version": ""}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            if line.strip():
                break  # the header ends at the first key
            continue
        m = _HEADER.match(line)
        if m and not fields[m.group(1)]:
            fields[m.group(1)] = m.group(2)
    return RecipeInfo(name, fields["description"], fields["source"], fields["version"], path)


def load_recipe(name: str) -> dict[str, Any]:
    """The recipe's keys (a partial config tree; not yet validated)."""
    path = recipe_path(name)
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        raise ConfigError(f"recipe {name!r} ({path}): invalid YAML") from None
    if tree is None:
        return {}
    if not isinstance(tree, dict):
        raise ConfigError(f"recipe {name!r} ({path}): expected a mapping of config keys")
    if "recipe" in tree:
        raise ConfigError(f"recipe {name!r} ({path}): a recipe cannot name another recipe")
    return tree
