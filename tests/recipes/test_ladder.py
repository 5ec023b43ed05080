"""The ablation ladder from classic to modern (ConvNeXt, section 2.1)."""

from __future__ import annotations

import itertools

import pytest

from trainlab.errors import ConfigError
from trainlab.recipes import load_config
from trainlab.recipes.ladder import INGREDIENTS, build_ladder, diff_keys, leftover


def _tree(recipe: str, *sets: str) -> dict:
    return load_config(None, list(sets), values={"recipe": recipe}).model_dump(mode="json")


def test_classic_to_modern_follows_the_papers_order() -> None:
    rungs = build_ladder(_tree("classic"), _tree("modern"))
    assert [r.ingredient for r in rungs] == [
        None, "adamw", "epochs", "cosine", "mixup", "cutmix", "randaugment",
        "random_erasing", "stochastic_depth", "label_smoothing", "ema",
    ]  # fmt: skip
    assert [r.index for r in rungs] == list(range(len(rungs)))


def test_each_rung_differs_from_the_previous_by_exactly_one_ingredient() -> None:
    start, target = _tree("classic"), _tree("modern")
    rungs = build_ladder(start, target)
    assert rungs[0].config == start
    keys = {i.name: i.keys for i in INGREDIENTS}
    for prev, rung in itertools.pairwise(rungs):
        changed = diff_keys(prev.config, rung.config)
        assert changed and list(rung.changed) == changed
        mine = keys[rung.ingredient]
        assert all(any(k == c or k.startswith(c + ".") for c in mine) for k in changed), changed
    # the last rung is the target except for what no ingredient covers (the model)
    assert diff_keys(rungs[-1].config, target) == ["model.name", "recipe"]
    assert leftover(start, target) == ["model.name"]


def test_steps_pick_and_order_the_ingredients() -> None:
    rungs = build_ladder(_tree("classic"), _tree("modern"), ["ema", "adamw"])
    assert [r.ingredient for r in rungs] == [None, "ema", "adamw"]
    assert rungs[1].changed == ("regularize.ema_decay",)


def test_fixed_epochs_drop_the_epochs_rung() -> None:
    rungs = build_ladder(_tree("classic", "train.epochs=2"), _tree("modern", "train.epochs=2"))
    assert "epochs" not in [r.ingredient for r in rungs]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (["adamw", "mixupp"], r"--steps 'mixupp': unknown ingredient; expected some of adamw"),
        (["adamw", "adamw"], "named twice"),
    ],
)
def test_bad_steps_are_one_line(steps: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_ladder(_tree("classic"), _tree("modern"), steps)


def test_an_ingredient_the_recipes_share_is_refused() -> None:
    with pytest.raises(ConfigError, match="'ema': the two recipes agree"):
        build_ladder(_tree("classic"), _tree("notes-mnist"), ["ema"])
    with pytest.raises(ConfigError, match="differ in no ingredient"):
        build_ladder(_tree("classic"), _tree("classic"))
