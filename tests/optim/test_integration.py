"""trainlab.optim behind the config and the trainer (issue 4, item 6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tests.conftest import run_cli

import trainlab.optim as tl
from trainlab.errors import ConfigError
from trainlab.recipes import load_config
from trainlab.train.build import build_optimizer_from_config


def test_config_builds_trainlab_optimizers_with_groups_and_options() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LayerNorm(8), torch.nn.Linear(8, 2))
    cfg = load_config(overrides=["optim.name=rmsprop", "optim.weight_decay=0.1",
                                 "optim.options={centered: true, momentum: 0.5}"])  # fmt: skip
    opt = build_optimizer_from_config(cfg, model)
    assert isinstance(opt, tl.RMSprop)
    assert opt.defaults["centered"] is True and opt.defaults["momentum"] == 0.5
    assert {g["weight_decay"] for g in opt.param_groups} == {0.0, 0.1}  # no decay on 1-D
    cfg = load_config(overrides=["optim.name=sgd", "optim.decoupled_weight_decay=true",
                                 "optim.no_decay_1d=false"])  # fmt: skip
    opt = build_optimizer_from_config(cfg, model)
    assert isinstance(opt, tl.SGD) and opt.defaults["decoupled_weight_decay"] is True
    assert len(opt.param_groups) == 1
    cfg = load_config(overrides=["optim.name=adam", "optim.options={amsgradd: true}"])
    with pytest.raises(ConfigError, match="amsgradd"):
        build_optimizer_from_config(cfg, model)


def test_cli_unknown_optimizer_exits_2_with_one_line(tmp_path: Path) -> None:
    r = run_cli(["train", "--set", "optim.name=adamz"], tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "optim.name = 'adamz': unknown optimizer" in lines[0]


@pytest.mark.slow
def test_trainlab_train_with_a_trainlab_optimizer(tmp_path: Path) -> None:
    r = run_cli(["train", "--epochs", "2", "--name", "o", "--no-progress",
                 "--set", "model.args.widths=[8, 16]", "--set", "optim.name=nadam",
                 "--set", "optim.lr=0.01"], tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "runs/o/summary.json").read_text())
    assert summary["test"]["acc"] > 0.2  # digits, 10 classes: chance is 0.1
