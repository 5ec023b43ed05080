"""Packaging: core dependencies, package data, and the lint tools pinned alike everywhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _pins(requirements: list[str]) -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^;\s]+)", "\n".join(requirements), re.M))


def test_core_dependencies() -> None:
    deps = PYPROJECT["project"]["dependencies"]
    names = {re.split(r"[<>=!~ ;\[]", d)[0].lower() for d in deps}
    assert "scikit-learn" not in names  # only [dev]: the digits ship as package data
    assert "pillow>=9.1" in [d.split("#")[0].strip().lower() for d in deps]  # Image.Resampling
    dev = PYPROJECT["project"]["optional-dependencies"]["dev"]
    assert any(d.startswith("scikit-learn") for d in dev)


def test_package_data_holds_every_data_file() -> None:
    globs = PYPROJECT["tool"]["setuptools"]["package-data"]["trainlab"]
    src = ROOT / "src" / "trainlab"
    for name in ("data/digits.npz", "data/digits_CREDIT.txt", "py.typed", "optim/cpu_kernels.c"):
        assert (src / name).is_file(), name
        assert any((src / name) in src.glob(g) for g in globs), name


def test_lint_tools_pinned_alike_in_dev_ci_and_pre_commit() -> None:
    dev = _pins(PYPROJECT["project"]["optional-dependencies"]["dev"])
    assert set(dev) >= {"ruff", "mypy"}
    ci = (ROOT / ".ci" / "run").read_text()
    ci_pins = dict(re.findall(r"\b(ruff|mypy)==([0-9][^\s\"']*)", ci))
    assert ci_pins == {"ruff": dev["ruff"], "mypy": dev["mypy"]}
    assert re.search(r"^mypy$", ci, re.M)  # the type check runs
    # the last line runs the README's test command, verbatim
    command = ci.rstrip("\n").splitlines()[-1]
    assert command.startswith('pip install -e ".[dev]" && python -m pytest')
    assert f"\n{command}\n" in (ROOT / "README.md").read_text()
    hooks = (ROOT / ".pre-commit-config.yaml").read_text()
    assert f"ruff=={dev['ruff']}" in hooks and f"mypy=={dev['mypy']}" in hooks
    for command in ("entry: ruff check .", "entry: ruff format --check .", "entry: mypy"):
        assert command in hooks
