"""The typed config: defaults, YAML files, --set overrides, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainlab.errors import ConfigError
from trainlab.recipes import Config, load_config, parse_override


def test_defaults_validate_and_round_trip() -> None:
    c = load_config()
    assert c == Config()
    assert Config.model_validate(c.model_dump(mode="json")) == c


def test_overrides_are_parsed_as_yaml_values() -> None:
    assert parse_override("optim.lr=3e-3") == (["optim", "lr"], 3e-3)
    assert parse_override("train.deterministic=false") == (["train", "deterministic"], False)
    assert parse_override("model.args.widths=[8, 16]") == (["model", "args", "widths"], [8, 16])
    c = load_config(overrides=["optim.lr=0.1", "model.name=mlp", "model.args.widths=[8]"])
    assert c.optim.lr == 0.1 and c.model.name == "mlp" and c.model.args == {"widths": [8]}


def test_file_then_overrides(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("optim:\n  lr: 0.5\n  name: sgd\ntrain:\n  epochs: 3\n")
    c = load_config(f, ["optim.lr=0.25"])
    assert (c.optim.name, c.optim.lr, c.train.epochs) == ("sgd", 0.25, 3)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.lr=-1", "optim.lr = -1: expected a number > 0"),
        ("optim.lr=0", "optim.lr = 0: expected a number > 0"),
        ("train.epochs=0", "train.epochs = 0: expected a number >= 1"),
        ("data.split=[0.5, 0.2, 0.2]", r"data.split = \[0.5, 0.2, 0.2\]: fractions must sum to 1"),
        ("model.name=resnet9000", "model.name = 'resnet9000': unknown model; expected one of"),
        ("optim.lrr=1", "optim.lrr = 1: unknown key; expected one of: name, lr,"),
        ("bogus=1", "bogus = 1: unknown key"),
        ("optim.lr=fast", "optim.lr = 'fast': expected a valid number"),
        ("optim.name=adamz", "optim.name = 'adamz': unknown optimizer; expected one of sgd, adam,"),
        ("train.device=gpu", "train.device = 'gpu': expected 'auto', 'cpu'"),
        ("optim.betas=[0.9, 1.5]", "optim.betas = .*each beta must be in"),
        ("nonsense", "expected KEY=VALUE"),
    ],
)
def test_bad_values_name_key_value_and_expectation(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=[override])


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML at line"):
        load_config(bad)
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(bad)
