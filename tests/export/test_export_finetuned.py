"""Exporting a LoRA fine-tuned run: merged into the base architecture, or the LoRA weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from trainlab.cli import main
from trainlab.export import load_run_model, read_card
from trainlab.export.formats import run_exported

FAST = ["--no-progress", "--set", "train.epochs=1"]


@pytest.mark.slow
def test_lora_run_exports_merged_and_adapter_only(tmp_path: Path) -> None:
    assert main(["train", "--runs-dir", str(tmp_path), "--name", "base", *FAST]) == 0
    lora = ["--set", "finetune.method=lora", "--set", "finetune.targets=[features.*.conv]"]
    lora += ["--set", f"model.pretrained={tmp_path / 'base'}"]
    assert main(["train", "--runs-dir", str(tmp_path), "--name", "ft", *FAST, *lora]) == 0
    run = tmp_path / "ft"
    found = load_run_model(run)  # LoRA wrappers, as trained
    x = torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = found.model(x)
    out = tmp_path / "merged"
    assert (
        main(["export", str(run), "--out", str(out), "--format", "safetensors", "--format", "onnx"])
        == 0
    )
    card = read_card(out / "model.json")
    assert card["merged"] == "lora" and card["finetune"] is None
    assert card["model"]["name"] == "cnn"
    merged = load_run_model(out)  # the plain zoo model, no trainlab config
    assert not any("lora" in k for k in merged.model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(merged.model(x), want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(
        run_exported("onnx", out / "model.onnx", x), want, rtol=1e-5, atol=1e-5
    )
    # the LoRA weights alone: A and B of every wrapped conv, plus the trainable head
    only = tmp_path / "adapter"
    assert main(["export", str(run), "--out", str(only), "--adapter-only"]) == 0
    weights = load_file(str(only / "adapter.safetensors"))
    assert weights and all("lora" in k or "head" in k or "classifier" in k for k in weights), list(
        weights
    )
    assert sum(v.numel() for v in weights.values()) < 0.5 * sum(
        v.numel() for v in merged.model.state_dict().values()
    )
    # a run that was not fine-tuned has no adapter weights
    assert (
        main(["export", str(tmp_path / "base"), "--adapter-only", "--out", str(tmp_path / "x")])
        == 2
    )
