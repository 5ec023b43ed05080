"""The loss section of the config: name, args and terms, with one-line messages."""

from __future__ import annotations

import pytest

from trainlab.errors import ConfigError
from trainlab.recipes import load_config


def test_defaults_and_a_valid_weighted_sum() -> None:
    c = load_config()
    assert (c.loss.name, c.loss.args, c.loss.terms) == ("auto", {}, None)
    c = load_config(
        overrides=[
            "loss.terms=[{name: cross_entropy}, {name: dice, weight: 0.5, args: {smooth: 1}}]"
        ]
    )
    assert [(t.name, t.weight, t.args) for t in c.loss.terms] == [
        ("cross_entropy", 1.0, {}),
        ("dice", 0.5, {"smooth": 1}),
    ]
    assert load_config(overrides=["loss.name=huber", "loss.args={delta: 2}"]).loss.args == {
        "delta": 2
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["loss.name=focal"], "loss.name = 'focal': unknown loss 'focal'; expected one of: auto, "),
        (["loss.name=huber", "loss.args={beta: 1}"],
         r"loss.args = \{'beta': 1\}: loss 'huber' takes no argument 'beta'; accepted: delta"),
        (["loss.terms=[{name: mse, weight: 0}]"], "loss.terms.weight = 0: expected a number > 0"),
        (["loss.terms=[{name: mse, weight: -2}]"], "expected a number > 0"),
        (["loss.terms=[{name: nope}]"], "loss.terms.name = 'nope': unknown loss 'nope'"),
        (["loss.terms=[{name: dice, args: {smoot: 1}}]"],
         "loss 'dice' takes no argument 'smoot'; accepted: smooth, squared"),
        (["loss.name=dice", "loss.terms=[{name: dice}]"],
         "terms replace loss.name and loss.args; set name: auto"),
        (["loss.args={ignore_index: 3}", "loss.terms=[{name: dice}]"], "terms replace loss.name"),
        (["loss.terms=[]"], r"loss.terms = \[\]: expected at least one"),
        (["loss.terms=[{weight: 1}]"], "loss.terms.name"),
    ],
)  # fmt: skip
def test_bad_loss_settings_name_key_value_and_expectation(overrides, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as e:
        load_config(overrides=overrides)
    assert "\n" not in str(e.value)
