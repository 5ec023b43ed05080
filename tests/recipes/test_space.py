"""`--space KEY=SPEC` parsing (torch-free) for trainlab tune."""

from __future__ import annotations

import pytest

from trainlab.errors import ConfigError
from trainlab.recipes.space import Dimension, check_space, parse_space


def test_the_four_kinds() -> None:
    items = ["optim.lr=log:1e-4:1e-1", "model.args.dropout=0:0.5"]
    dims = parse_space([*items, "data.batch_size=int:16:128", "optim.name=choice:sgd,adamw"])
    assert dims["optim.lr"] == Dimension("optim.lr", "log", 1e-4, 1e-1)
    assert dims["model.args.dropout"] == Dimension("model.args.dropout", "float", 0.0, 0.5)
    assert dims["data.batch_size"].ends() == [16, 128]
    assert dims["optim.name"].choices == ("sgd", "adamw")


def test_space_section_then_items() -> None:
    dims = parse_space(["optim.lr=log:1e-3:1e-2"], {"optim.lr": "log:1e-5:1e-1", "seed": "int:0:3"})
    assert (dims["optim.lr"].low, dims["seed"].kind) == (1e-3, "int")


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("optim.lr=log:0:1", "a log range needs LOW > 0, got 0"),
        ("optim.lr=0.5:0.1", "expected LOW < HIGH, got 0.5 >= 0.1"),
        ("optim.lr=0.1:0.1", "expected LOW < HIGH"),
        ("optim.lr=log:1e-3", "expected log:LOW:HIGH"),
        ("optim.lr=a:b", "'a' is not a finite number"),
        ("data.batch_size=int:1.5:4", "is not an integer"),
        ("optim.lr", "expected KEY=SPEC"),
        ("optim.name=choice:sgd", "at least two values"),
    ],
)
def test_malformed_specs_are_one_line(item: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as e:
        parse_space([item])
    assert "\n" not in str(e.value) and item.split("=")[0] in str(e.value)


def test_check_space_validates_both_ends() -> None:
    seen = []
    check_space(parse_space(["optim.lr=log:1e-4:1e-1"]), lambda k, v: seen.append((k, v)))
    assert seen == [("optim.lr", 1e-4), ("optim.lr", 1e-1)]

    def refuse(key: str, value: object) -> None:
        raise ConfigError(f"{key} = {value}: nope")

    with pytest.raises(ConfigError, match=r"--space optim.lr=log:0.0001:0.1: optim.lr = 0.0001"):
        check_space(parse_space(["optim.lr=log:1e-4:1e-1"]), refuse)
    with pytest.raises(ConfigError, match="no search space"):
        check_space({}, refuse)
