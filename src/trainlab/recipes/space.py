"""Search spaces for `trainlab tune`: `KEY=SPEC` items (or a `space:` mapping in a config
file) naming config keys and the range each is drawn from. Torch-free.

    log:LOW:HIGH      a float, log-uniform on [LOW, HIGH] (0 < LOW < HIGH), e.g. optim.lr
    LOW:HIGH          a float, uniform on [LOW, HIGH] (LOW < HIGH), e.g. model.args.dropout
    int:LOW:HIGH      an integer, uniform on {LOW, ..., HIGH}
    choice:A,B,...    one of the listed values (each read as YAML: 64, true, adamw)

Every value a dimension can take must be a valid config: `check` validates a config with
each end (or each choice) set, so an unknown key or an impossible range fails before any
trial runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from trainlab.errors import ConfigError


@dataclass(frozen=True)
class Dimension:
    """One searched key: `kind` is 'float', 'log', 'int' or 'choice'."""

    key: str
    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()

    def ends(self) -> list[Any]:
        """The values that bound the dimension (each must be a valid config value)."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int":
            return [int(self.low or 0), int(self.high or 0)]
        return [self.low, self.high]

    def spec(self) -> str:
        if self.kind == "choice":
            return "choice:" + ",".join(str(c) for c in self.choices)
        prefix = "" if self.kind == "float" else f"{self.kind}:"
        return f"{prefix}{self.low:g}:{self.high:g}"


def _number(item: str, text: str, integer: bool = False) -> float:
    try:
        value = yaml.safe_load(text)
        if isinstance(value, str):
            value = float(value)  # YAML 1.1 reads 1e-4 as text
    except (ValueError, yaml.YAMLError):
        value = None
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and integer and float(value) != int(value):
        ok = False
    if not ok or not math.isfinite(float(value)):
        kind = "an integer" if integer else "a finite number"
        raise ConfigError(f"--space {item!r}: {text!r} is not {kind}")
    return float(value)


def parse_dimension(key: str, spec: str) -> Dimension:
    """`spec` (e.g. 'log:1e-4:1e-1') for config key `key`, checked for its own form."""
    item = f"{key}={spec}"
    key = key.strip()
    if not key or any(not part.strip() for part in key.split(".")):
        raise ConfigError(f"--space {item!r}: expected KEY=SPEC, e.g. optim.lr=log:1e-4:1e-1")
    if not isinstance(spec, str):
        raise ConfigError(
            f"space {key}: expected a text spec such as 'log:1e-4:1e-1', got {spec!r}"
        )
    parts = spec.strip().split(":")
    if parts[0] == "choice":
        raw = ":".join(parts[1:])
        choices = tuple(yaml.safe_load(c.strip()) for c in raw.split(",") if c.strip())
        if len(choices) < 2:
            raise ConfigError(
                f"--space {item!r}: choice needs at least two values, e.g. choice:a,b"
            )
        return Dimension(key, "choice", choices=choices)
    kind = parts[0] if parts[0] in ("log", "int") else "float"
    bounds = parts[1:] if kind != "float" else parts
    if len(bounds) != 2:
        raise ConfigError(
            f"--space {item!r}: expected log:LOW:HIGH, LOW:HIGH, int:LOW:HIGH or choice:A,B,..."
        )
    low, high = (_number(item, b, integer=kind == "int") for b in bounds)
    if low >= high:
        raise ConfigError(f"--space {item!r}: expected LOW < HIGH, got {low:g} >= {high:g}")
    if kind == "log" and low <= 0:
        raise ConfigError(f"--space {item!r}: a log range needs LOW > 0, got {low:g}")
    return Dimension(key, kind, low, high)


def parse_space(
    items: Iterable[str] = (), section: Mapping[str, Any] | None = None
) -> dict[str, Dimension]:
    """The `space:` section of a config file, then `--space KEY=SPEC` items (which win)."""
    dims: dict[str, Dimension] = {}
    if section is not None and not isinstance(section, Mapping):
        raise ConfigError(f"space: expected a mapping of KEY: SPEC, got {type(section).__name__}")
    for key, spec in (section or {}).items():
        dims[str(key)] = parse_dimension(str(key), spec)
    for item in items:
        key, sep, spec = item.partition("=")
        if not sep:
            raise ConfigError(f"--space {item!r}: expected KEY=SPEC, e.g. optim.lr=log:1e-4:1e-1")
        dim = parse_dimension(key, spec)
        dims[dim.key] = dim
    return dims


def check_space(dims: Mapping[str, Dimension], validate_with: Callable[[str, Any], None]) -> None:
    """Call `validate_with(key, value)` for each end of each dimension; what it raises
    (a ConfigError naming the key) is prefixed with the --space item."""
    if not dims:
        raise ConfigError("tune: no search space; pass --space KEY=SPEC (or a space: section)")
    for dim in dims.values():
        for value in dim.ends():
            try:
                validate_with(dim.key, value)
            except ConfigError as e:
                raise ConfigError(f"--space {dim.key}={dim.spec()}: {e}") from None
