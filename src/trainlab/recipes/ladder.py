"""The ablation ladder: from one recipe to another, one ingredient per rung.

ConvNeXt's roadmap (Liu et al. 2022, section 2.1 and figure 2; the notes F0 part 2) starts
from the classic ResNet recipe and adds the modern ingredients one at a time, measuring each
step (ResNet-50: 76.1% -> 78.8% on ImageNet). An ingredient is a named group of config keys;
a rung sets one ingredient's keys to the target recipe's values, so consecutive rungs differ
by exactly that ingredient. The model is not an ingredient: every rung trains the same model
(the paper's training-technique steps all train ResNet-50). Torch-free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from trainlab.errors import ConfigError


@dataclass(frozen=True)
class Ingredient:
    name: str
    description: str
    keys: tuple[str, ...]  # dotted config keys ("optim" means the whole section)


# the paper's order (section 2.1): optimizer, longer training, schedule, augmentations,
# regularization; EMA last
INGREDIENTS: tuple[Ingredient, ...] = (
    Ingredient("adamw", "AdamW (the optimizer and its lr, weight decay)", ("optim",)),
    Ingredient("epochs", "longer training", ("train.epochs",)),
    Ingredient("cosine", "warmup + cosine schedule", ("sched",)),
    Ingredient("mixup", "Mixup", ("augment.mixup_alpha", "augment.mix_prob", "augment.mode")),
    Ingredient("cutmix", "CutMix", ("augment.cutmix_alpha", "augment.switch_prob")),
    Ingredient(
        "randaugment",
        "RandAugment",
        ("augment.randaugment_n", "augment.randaugment_m", "augment.randaugment_mstd"),
    ),
    Ingredient(
        "random_erasing",
        "Random Erasing",
        ("augment.erasing_prob", "augment.erasing_mode", "augment.erasing_count"),
    ),
    Ingredient("stochastic_depth", "stochastic depth", ("regularize.drop_path_rate",)),
    Ingredient("label_smoothing", "label smoothing", ("train.label_smoothing", "loss.smoothing")),
    Ingredient("ema", "weight EMA", ("regularize.ema_decay", "regularize.ema_warmup")),
)
INGREDIENT_NAMES = tuple(i.name for i in INGREDIENTS)


@dataclass(frozen=True)
class Rung:
    """One step of the ladder: `config` (a resolved config tree) with `ingredient` added
    (None for the starting recipe) and the keys it changed."""

    index: int
    ingredient: str | None
    config: dict[str, Any]
    changed: tuple[str, ...]


def get_key(tree: dict[str, Any], key: str) -> Any:
    node: Any = tree
    for part in key.split("."):
        node = node[part]
    return node


def _set_key(tree: dict[str, Any], key: str, value: Any) -> None:
    *head, last = key.split(".")
    node = tree
    for part in head:
        node = node[part]
    node[last] = value


def _copy(tree: dict[str, Any]) -> dict[str, Any]:
    return {k: _copy(v) if isinstance(v, dict) else v for k, v in tree.items()}


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{dotted key: value} of every leaf (a dict value under `args`/`params` is a leaf too)."""
    out: dict[str, Any] = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v and k not in ("args", "params", "options"):
            out |= flatten(v, key + ".")
        else:
            out[key] = v
    return out


def diff_keys(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The dotted leaf keys where two config trees differ."""
    fa, fb = flatten(a), flatten(b)
    return sorted(k for k in fa.keys() | fb.keys() if fa.get(k) != fb.get(k))


def ingredient(name: str) -> Ingredient:
    for ing in INGREDIENTS:
        if ing.name == name:
            return ing
    raise ConfigError(
        f"--steps {name!r}: unknown ingredient; expected some of {', '.join(INGREDIENT_NAMES)}"
    )


def differing(start: dict[str, Any], target: dict[str, Any]) -> list[str]:
    """The ingredients whose keys differ between two resolved config trees, in ladder order."""
    return [
        i.name for i in INGREDIENTS if any(get_key(start, k) != get_key(target, k) for k in i.keys)
    ]


def build_ladder(
    start: dict[str, Any], target: dict[str, Any], steps: Sequence[str] | None = None
) -> list[Rung]:
    """Rung 0 is `start`; each next rung copies the previous one and sets one ingredient's
    keys to `target`'s values. `steps` names the ingredients in the order to add them
    (default: every ingredient that differs, in the paper's order); naming one that does not
    differ, or one twice, is a ConfigError."""
    names = list(steps) if steps is not None else differing(start, target)
    if steps is not None:
        for name in names:
            ingredient(name)
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise ConfigError(f"--steps: ingredient {name!r} is named twice")
            seen.add(name)
        same = [n for n in names if n not in differing(start, target)]
        if same:
            raise ConfigError(
                f"--steps {same[0]!r}: the two recipes agree on this ingredient; expected some "
                f"of {', '.join(differing(start, target)) or '(none differ)'}"
            )
    if not names:
        raise ConfigError("ablate: the two recipes differ in no ingredient; nothing to add")
    rungs = [Rung(0, None, _copy(start), ())]
    for i, name in enumerate(names, start=1):
        tree = _copy(rungs[-1].config)
        ing = ingredient(name)
        for key in ing.keys:
            value = get_key(target, key)
            _set_key(tree, key, _copy(value) if isinstance(value, dict) else value)
        rungs.append(Rung(i, name, tree, tuple(diff_keys(rungs[-1].config, tree))))
    return rungs


def leftover(start: dict[str, Any], target: dict[str, Any]) -> list[str]:
    """Keys that differ between the recipes but belong to no ingredient (kept from `start`)."""

    def covered(key: str) -> bool:
        return any(key == c or key.startswith(c + ".") for i in INGREDIENTS for c in i.keys)

    skip = ("name", "runs_dir", "recipe")
    return [k for k in diff_keys(start, target) if not covered(k) and k not in skip]
