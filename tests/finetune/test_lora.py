"""LoRA against its definition (notes F3:3049-3150): counts, B = 0 start, merge round trip,
gradients and optimizer state on A and B only, bad input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from trainlab.finetune import (
    LoRAConv2d,
    LoRALinear,
    apply_finetune,
    apply_lora,
    load_peft_state_dict,
    merge_lora,
    peft_state_dict,
    unload_lora,
    unmerge_lora,
)
from trainlab.models import create_model


def test_note_count_r8_on_768x768() -> None:
    # F3: r (d + k) trainable instead of d k: 8 * (768 + 768) = 12,288
    layer = LoRALinear(nn.Linear(768, 768), r=8, alpha=8)
    trainable = sum(p.numel() for p in layer.parameters() if p.requires_grad)
    assert trainable == 12_288
    assert not layer.base.weight.requires_grad and not layer.base.bias.requires_grad


def _with_nonzero_b(layer: LoRALinear | LoRAConv2d, seed: int = 1) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        layer.lora_B.copy_(torch.randn(layer.lora_B.shape, generator=g))


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_initial_output_equals_base_and_formula(kind: str) -> None:
    torch.manual_seed(0)
    base = nn.Linear(12, 7) if kind == "linear" else nn.Conv2d(3, 5, 3, stride=2, padding=1)
    x = torch.randn(4, 12) if kind == "linear" else torch.randn(2, 3, 9, 9)
    ref = base(x)
    cls = LoRALinear if kind == "linear" else LoRAConv2d
    layer = cls(base, r=4, alpha=8, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(layer(x), ref, rtol=0, atol=0)  # B = 0: exactly the base
    _with_nonzero_b(layer)
    # h = W0 x + (alpha / r) B A x with the delta folded into one weight
    w = base.weight + 2.0 * (layer.lora_B.flatten(1) @ layer.lora_A.flatten(1)).reshape(
        base.weight.shape
    )
    if kind == "linear":
        expected = torch.nn.functional.linear(x, w, base.bias)
    else:
        expected = torch.nn.functional.conv2d(x, w, base.bias, stride=2, padding=1)
    torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_merge_unmerge_round_trip(kind: str) -> None:
    torch.manual_seed(0)
    base = nn.Linear(32, 16) if kind == "linear" else nn.Conv2d(4, 6, 3, padding=1)
    x = torch.randn(8, 32) if kind == "linear" else torch.randn(2, 4, 8, 8)
    w0 = base.weight.detach().clone()
    cls = LoRALinear if kind == "linear" else LoRAConv2d
    layer = cls(base, r=4, alpha=16)
    _with_nonzero_b(layer)
    with torch.no_grad():
        layer.lora_B.mul_(0.1)
    unmerged = layer(x)
    layer.merge()
    # merged: the LoRA path is skipped and the base weight holds W0 + (alpha/r) B A;
    # both compute the same sums in another order: float32 rounding, ~1e-7 relative
    torch.testing.assert_close(layer(x), unmerged, rtol=1e-6, atol=1e-6)
    layer.unmerge()
    torch.testing.assert_close(layer.base.weight, w0, rtol=0, atol=1e-6)
    torch.testing.assert_close(layer(x), unmerged, rtol=1e-6, atol=1e-6)


def test_vit_merge_unload_and_only_ab_train() -> None:
    model = create_model("vit_tiny", num_classes=10, in_shape=(3, 32, 32), depth=2)
    x = torch.randn(2, 3, 32, 32)
    base_out = model(x)
    apply_finetune(model, "lora", targets=["qkv", "attn.proj"], r=8, alpha=16, train=[])
    torch.testing.assert_close(model(x), base_out, rtol=0, atol=0)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_A" in n or ".lora_B" in n for n in trainable)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model(x).square().mean().backward()
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None}
    assert with_grad == trainable
    opt.step()
    assert {id(p) for p in opt.state} == {id(p) for p in model.parameters() if p.requires_grad}
    tuned = model(x)
    assert not torch.allclose(tuned, base_out)
    assert merge_lora(model) == 4  # qkv and proj of 2 blocks
    torch.testing.assert_close(model(x), tuned, rtol=1e-5, atol=1e-6)
    unmerge_lora(model)
    torch.testing.assert_close(model(x), tuned, rtol=1e-5, atol=1e-6)
    plain = unload_lora(model)
    assert not any("lora" in k or ".base." in k for k in plain.state_dict())
    fresh = create_model("vit_tiny", num_classes=10, in_shape=(3, 32, 32), depth=2)
    fresh.load_state_dict(plain.state_dict())  # the original architecture's keys
    torch.testing.assert_close(fresh(x), tuned, rtol=1e-5, atol=1e-6)


def test_peft_state_dict_round_trip() -> None:
    torch.manual_seed(0)
    model = create_model("vit_tiny", num_classes=5, in_shape=(3, 16, 16), depth=1)
    pretrained = {k: v.clone() for k, v in model.state_dict().items()}
    apply_finetune(model, "lora", r=4)
    for p in model.parameters():
        if p.requires_grad:
            with torch.no_grad():
                p.add_(torch.randn_like(p))
    state = peft_state_dict(model)
    assert set(state) == {"blocks.0.attn.qkv.lora_A", "blocks.0.attn.qkv.lora_B"} | {
        "head.weight",
        "head.bias",
    }
    other = create_model("vit_tiny", num_classes=5, in_shape=(3, 16, 16), depth=1)
    other.load_state_dict(pretrained)
    apply_finetune(other, "lora", r=4, seed=3)
    load_peft_state_dict(other, state)
    x = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(other(x), model(x))
    with pytest.raises(ValueError, match="unexpected"):
        load_peft_state_dict(other, {"nope.lora_A": torch.zeros(1)})


def test_bad_input() -> None:
    model = create_model("vit_tiny", num_classes=10, in_shape=(3, 32, 32), depth=1)
    with pytest.raises(ValueError, match=r"pattern 'qvk' matches no .*close names: .*qkv"):
        apply_lora(model, targets=["qvk"])
    with pytest.raises(ValueError, match="r: expected an int > 0, got 0"):
        apply_lora(model, r=0)
    with pytest.raises(ValueError, match="alpha: expected a number > 0, got -1"):
        apply_lora(model, alpha=-1)
    with pytest.raises(ValueError, match="groups=1"):
        LoRAConv2d(nn.Conv2d(4, 4, 3, groups=2))
