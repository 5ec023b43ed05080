"""Resolve a config: defaults <- YAML file <- command-line overrides, then validate.

Every problem becomes one `ConfigError` line naming the key, the value and what was
expected, e.g. `optim.lr = -1: expected a number > 0`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from trainlab.errors import ConfigError
from trainlab.recipes.schema import Config

_SCIENTIFIC = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")


def parse_override(item: str) -> tuple[list[str], Any]:
    """`a.b.c=value` -> (['a', 'b', 'c'], value parsed as YAML: 3e-3, true, [1, 2], text)."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. optim.lr=3e-3")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        value = text
    if isinstance(value, str) and _SCIENTIFIC.match(value):  # YAML 1.1 reads 3e-3 as text
        value = float(value)
    return [k.strip() for k in key.split(".")], value


def set_path(tree: dict[str, Any], path: list[str], value: Any) -> None:
    node = tree
    for i, k in enumerate(path[:-1]):
        child = node.setdefault(k, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{'.'.join(path[: i + 1])} is a value, not a section")
        node = child
    node[path[-1]] = value


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k != "args":
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def read_yaml(path: Path | str) -> dict[str, Any]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: unreadable config file ({e})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: invalid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys, got {type(data).__name__}")
    return data


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed in the section that holds `loc`'s last key."""
    model: type[BaseModel] = Config
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        ann = field.annotation if field is not None else None
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return []
        model = ann
    return list(model.model_fields)


def _expected(err: ErrorDetails) -> str:
    kind, ctx = err["type"], err.get("ctx", {})
    if kind == "extra_forbidden":
        return "unknown key; expected one of: " + ", ".join(_fields_at(err["loc"]))
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<"}
    bounds |= {"less_than_equal": "<="}
    for name, op in bounds.items():
        if kind == name:
            return f"expected a number {op} {next(iter(ctx.values()))}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    msg = str(err["msg"])
    return "expected " + msg.removeprefix("Input should be ") if msg.startswith("Input") else msg


def format_validation_error(e: ValidationError) -> str:
    lines = []
    for err in e.errors():
        key = ".".join(str(p) for p in err["loc"] if not isinstance(p, int)) or "config"
        value = err.get("input")
        shown = "(missing)" if err["type"] == "missing" else repr(value)
        lines.append(f"{key} = {shown}: {_expected(err)}")
    return "; ".join(lines)


def validate(tree: dict[str, Any]) -> Config:
    try:
        return Config.model_validate(tree)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e)) from None


def load_config(
    file: Path | str | dict[str, Any] | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    base: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
) -> Config:
    """Defaults (or `base`), then the recipe, then the YAML `file` (or its tree, read), then `values` ({dotted
    key: value}, taken as they are: the CLI's --name/--data/--target shortcuts, which must
    stay strings), then `--set` overrides (YAML-parsed), validated.

    The recipe is the last `recipe` key given (`--set recipe=`, then `values`, then the
    file): its keys go under the file's, so everything the user wrote overrides it."""
    tree: dict[str, Any] = dict(base) if base is not None else {}
    top = dict(file) if isinstance(file, dict) else read_yaml(file) if file is not None else {}
    sets = [parse_override(item) for item in overrides]
    recipe = top.get("recipe")
    recipe = (values or {}).get("recipe", recipe)
    for path, value in sets:
        if path == ["recipe"]:
            recipe = value
    if recipe is not None:
        from trainlab.recipes.registry import load_recipe

        tree = deep_merge(tree, load_recipe(recipe) | {"recipe": recipe})
    tree = deep_merge(tree, top)
    for key, value in (values or {}).items():
        set_path(tree, key.split("."), value)
    for path, value in sets:
        set_path(tree, path, value)
    return validate(tree)
