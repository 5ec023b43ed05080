"""Named recipes: the files, their headers, how they combine with files and overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from trainlab.errors import ConfigError
from trainlab.recipes import Config, load_config
from trainlab.recipes.registry import (
    list_recipes,
    load_recipe,
    recipe_info,
    recipe_text,
    recipes_dir,
)

CORE = ["classic", "default", "modern", "notes-mnist", "transformer"]


def test_the_core_recipes_ship() -> None:
    assert set(CORE) <= set(list_recipes())


@pytest.mark.parametrize("name", sorted(p.stem for p in recipes_dir().glob("*.yaml")))
def test_every_recipe_file_has_its_header_and_validates(name: str) -> None:
    # every file of the folder is a recipe (other packages drop theirs there)
    info = recipe_info(name)
    assert info.description and info.source and info.version.isdigit(), info
    assert load_config(values={"recipe": name}).recipe == name


@pytest.mark.parametrize("name", [n for n in CORE if n != "default"])
def test_each_key_of_a_core_recipe_has_a_comment(name: str) -> None:
    # one comment per ingredient: every line that sets a scalar value carries one
    for line in recipe_text(name).splitlines():
        if line.startswith("#") or not line.strip() or line.rstrip().endswith(":"):
            continue
        if line.startswith("    "):  # a nested argument (milestones, widths) of a commented key
            continue
        assert "#" in line, f"{name}: {line!r} has no comment"


def test_a_dropped_in_file_is_a_recipe_without_code_changes(tmp_path: Path, monkeypatch) -> None:
    import trainlab.recipes.registry as registry

    folder = tmp_path / "builtin"
    folder.mkdir()
    for p in recipes_dir().glob("*.yaml"):
        (folder / p.name).write_text(p.read_text())
    (folder / "mine.yaml").write_text(
        "# description: mine\n# source: here\n# version: 3\ntrain:\n  epochs: 7  # why\n"
    )
    monkeypatch.setattr(registry, "recipes_dir", lambda: folder)
    assert "mine" in list_recipes()
    assert recipe_info("mine").version == "3"
    assert load_config(values={"recipe": "mine"}).train.epochs == 7


def test_default_is_the_defaults() -> None:
    got = load_config(values={"recipe": "default"}).model_dump()
    want = Config().model_dump()
    got.pop("recipe"), want.pop("recipe")
    assert got == want


def test_notes_mnist_reproduces_the_notes_script() -> None:
    # F4:2277-2440: SimpleNN 784-128-10 ReLU, optim.SGD(lr=0.01) (no momentum, no weight
    # decay), nn.CrossEntropyLoss, batch_size 64, 5 epochs, no scheduler
    c = load_config(values={"recipe": "notes-mnist"})
    assert (c.model.name, c.model.args) == ("mlp", {"widths": [128]})
    assert (c.optim.name, c.optim.lr, c.optim.momentum, c.optim.weight_decay) == (
        "sgd", 0.01, 0.0, 0.0,
    )  # fmt: skip
    assert (c.sched.name, c.sched.warmup_steps) == ("constant", 0)
    assert c.loss.name == "cross_entropy" and c.train.label_smoothing == 0
    assert (c.train.epochs, c.data.batch_size) == (5, 64)


def test_modern_holds_the_convnext_ingredients() -> None:
    # Liu et al. 2022, table 5: Mixup 0.8, CutMix 1.0, RandAugment (9, 0.5), erasing 0.25,
    # label smoothing 0.1, AdamW wd 0.05, cosine, stochastic depth, EMA
    c = load_config(values={"recipe": "modern"})
    a, r = c.augment, c.regularize
    assert (a.mixup_alpha, a.cutmix_alpha, a.erasing_prob) == (0.8, 1.0, 0.25)
    assert (a.randaugment_m, a.randaugment_mstd) == (9, 0.5) and a.randaugment_n > 0
    assert (c.optim.name, c.optim.weight_decay, c.sched.name) == ("adamw", 0.05, "cosine")
    assert c.train.label_smoothing == 0.1 and r.drop_path_rate > 0 and r.ema_decay > 0
    assert c.model.name.startswith("convnext")
    classic = load_config(values={"recipe": "classic"})
    assert classic.model.name.startswith("resnet")
    assert (classic.optim.name, classic.optim.momentum, classic.optim.weight_decay) == (
        "sgd", 0.9, 1e-4,
    )  # fmt: skip
    t = load_config(values={"recipe": "transformer"})
    assert (t.optim.name, t.sched.name) == ("adam", "inverse_sqrt")


def test_file_and_overrides_go_over_the_recipe(tmp_path: Path) -> None:
    f = tmp_path / "run.yaml"
    f.write_text(yaml.safe_dump({"recipe": "modern", "optim": {"lr": 1e-4}}))
    c = load_config(f, ["augment.mixup_alpha=0.2"])
    assert c.recipe == "modern" and c.optim.lr == 1e-4 and c.optim.name == "adamw"
    assert c.augment.mixup_alpha == 0.2 and c.augment.cutmix_alpha == 1.0
    # --recipe (a value) wins over the file's recipe, and --set recipe= over both
    assert load_config(f, values={"recipe": "classic"}).optim.name == "sgd"
    assert load_config(f, ["recipe=notes-mnist"]).model.name == "mlp"


def test_an_unknown_recipe_is_one_line() -> None:
    with pytest.raises(ConfigError, match=r"recipe = 'modrn': unknown recipe; expected one of"):
        load_config(values={"recipe": "modrn"})
    with pytest.raises(ConfigError, match="unknown recipe"):
        load_recipe("nope")


def test_the_recipe_files_are_package_data() -> None:
    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).resolve().parents[2]
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["trainlab"]
    src = root / "src" / "trainlab"
    files = sorted((src / "recipes" / "builtin").glob("*.yaml"))
    assert len(files) >= len(CORE)
    assert all(any(f in src.glob(g) for g in globs) for f in files)
    extras = pyproject["project"]["optional-dependencies"]
    assert any(d.startswith("optuna") for d in extras["tune"])
    assert any(d.startswith("optuna") for d in extras["dev"])
