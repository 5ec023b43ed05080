"""Which modules a fine-tuning method wraps: name patterns matched against `named_modules`.

A pattern is a shell-style glob (`fnmatch`) over the full dotted name (`blocks.0.attn.qkv`)
or, to be convenient, a suffix: `qkv` matches every module whose name ends in `.qkv`
(peft's convention for target names). A pattern that matches no module of a usable type is
a `ValueError` that lists the closest names, so a typo is answered in one line.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Sequence

from torch import nn


def _matches(name: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(name, "*." + pattern)


def match_modules(
    model: nn.Module,
    targets: Sequence[str],
    kinds: tuple[type[nn.Module], ...],
    *,
    what: str = "targets",
) -> list[tuple[str, nn.Module]]:
    """`(name, module)` of every module of a type in `kinds` whose name matches a pattern of
    `targets`; each pattern must match at least one."""
    if isinstance(targets, str) or not targets:
        raise ValueError(f"{what}: expected a non-empty list of name patterns, got {targets!r}")
    usable = [(n, m) for n, m in model.named_modules() if n and isinstance(m, kinds)]
    chosen: dict[str, nn.Module] = {}
    for pattern in targets:
        found = [(n, m) for n, m in usable if _matches(n, pattern)]
        if not found:
            names = [n for n, _ in usable]
            leaves = sorted({n.rsplit(".", 1)[-1] for n in names})
            close = difflib.get_close_matches(pattern, names + leaves, n=5, cutoff=0.3)
            kind = "/".join(k.__name__ for k in kinds)
            hint = ", ".join(close or leaves[:8] or ["(none)"])
            raise ValueError(
                f"{what}: pattern {pattern!r} matches no {kind} module of "
                f"{type(model).__name__}; close names: {hint}"
            )
        chosen.update(found)
    return list(chosen.items())


def set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    """Replace the submodule at dotted `name` with `module`."""
    parent_name, _, leaf = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, leaf, module)
