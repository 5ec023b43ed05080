"""Adapters and prefix tuning against their definitions, and the notes' and hand counts."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from trainlab.finetune import (
    Adapter,
    apply_adapters,
    apply_finetune,
    apply_prefix,
    trainable_summary,
)
from trainlab.models import create_model
from trainlab.models.layers import MultiHeadSelfAttention, attention, causal_mask


def test_note_adapter_count_768_64() -> None:
    # F3:2907-2957: d = 768 -> m = 64 -> d, with biases: 2 * 768 * 64 + 64 + 768 = 99,136
    assert sum(p.numel() for p in Adapter(768, 64).parameters()) == 99_136


def test_adapter_starts_as_identity_and_is_the_bottleneck() -> None:
    torch.manual_seed(0)
    a = Adapter(16, 4)
    h = torch.randn(3, 5, 16)
    torch.testing.assert_close(a(h), h, rtol=0, atol=0)  # W_up = 0, b_up = 0
    with torch.no_grad():
        a.up.weight.normal_()
    expected = h + F.gelu(h @ a.down.weight.T + a.down.bias) @ a.up.weight.T + a.up.bias
    torch.testing.assert_close(a(h), expected)


D, DEPTH, K, HEADS = 192, 12, 10, 3


@pytest.fixture(scope="module")
def vit_tiny_base() -> torch.nn.Module:
    return create_model("vit_tiny", num_classes=K, in_shape=(3, 224, 224))


@pytest.mark.parametrize(
    ("method", "kwargs", "by_method"),
    [
        # LoRA r=8 on qkv (192 -> 576) of 12 blocks: 12 * 8 * (192 + 576)
        ("lora", {"r": 8}, {"lora": 12 * 8 * (D + 3 * D)}),
        # adapters after attn and mlp of 12 blocks: 24 * (2 * 192 * 64 + 64 + 192)
        ("adapter", {"bottleneck": 64}, {"adapter": 24 * (2 * D * 64 + 64 + D)}),
        # P (8 x 192) + 12 layers x (MLP_k, MLP_v), each 192 -> 32 -> 192 with biases
        ("prefix", {"prefix_len": 8}, {"prefix": 8 * D + 12 * 2 * (2 * D * 32 + 32 + D)}),
        ("head", {}, {}),
    ],
)
def test_vit_tiny_trainable_counts(
    vit_tiny_base: torch.nn.Module, method: str, kwargs: dict, by_method: dict
) -> None:
    model = copy.deepcopy(vit_tiny_base)
    total0 = sum(p.numel() for p in model.parameters())
    s = apply_finetune(model, method, **kwargs)
    head = D * K + K  # the classifier trains with every partial method
    assert s.by_method == {**by_method, "base": head}
    assert s.trainable == sum(by_method.values()) + head
    assert s.total == total0 + sum(by_method.values())
    print(method, *s.lines())


def test_adapted_vit_starts_as_base_and_trains_only_adapters() -> None:
    model = create_model("vit_tiny", num_classes=K, in_shape=(3, 16, 16), depth=2)
    x = torch.randn(2, 3, 16, 16)
    ref = model(x)
    names = apply_adapters(model, bottleneck=8)
    assert sorted(names) == ["blocks.0.attn", "blocks.0.mlp", "blocks.1.attn", "blocks.1.mlp"]
    torch.testing.assert_close(model(x), ref, rtol=0, atol=0)


def test_prefix_attention_equals_concatenated_keys_and_values() -> None:
    torch.manual_seed(0)
    attn = MultiHeadSelfAttention(8, 2)
    kp, vp = torch.randn(3, 8), torch.randn(3, 8)
    attn.prefix = lambda: (kp, vp)
    x = torch.randn(2, 5, 8)
    for causal in (False, True):
        q, k, v = attn.qkv(x).reshape(2, 5, 3, 2, 4).permute(2, 0, 3, 1, 4)
        # step 4: K = [K_p; K_x], V = [V_p; V_x], per head
        kk = torch.cat((kp.reshape(3, 2, 4).transpose(0, 1).expand(2, -1, -1, -1), k), 2)
        vv = torch.cat((vp.reshape(3, 2, 4).transpose(0, 1).expand(2, -1, -1, -1), v), 2)
        mask = None
        if causal:  # the prefix is visible to every query; the tokens stay causal
            mask = torch.cat((torch.ones(5, 3, dtype=torch.bool), causal_mask(5)), 1)
        ref = attn.proj(attention(q, kk, vv, mask).transpose(1, 2).reshape(2, 5, 8))
        torch.testing.assert_close(attn(x, causal=causal), ref)


def test_prefix_on_decoder_and_bad_models() -> None:
    dec = create_model("text_decoder", num_classes=1, in_shape=(11,))
    apply_finetune(dec, "prefix", prefix_len=4, prefix_hidden=8)
    s = trainable_summary(dec)
    assert s.by_method == {"prefix": 4 * 64 + 2 * 2 * (2 * 64 * 8 + 8 + 64)}
    ids = torch.randint(4, 17, (2, 11))
    y = ids.clone()
    y[:, 6] = 5
    # the prefix keeps the decoder causal: positions before 6 do not see token 6
    torch.testing.assert_close(dec(ids)[:, :6], dec(y)[:, :6])
    dec(ids).sum().backward()
    grads = {n for n, p in dec.named_parameters() if p.grad is not None}
    assert grads and all(n.startswith("prefix_tuning.") for n in grads)
    cnn = create_model("cnn", num_classes=10, in_shape=(1, 8, 8))
    with pytest.raises(ValueError, match="prefix tuning needs attention layers"):
        apply_prefix(cnn)
    with pytest.raises(ValueError, match="bottleneck: expected an int > 0"):
        apply_adapters(dec, bottleneck=0)
    with pytest.raises(ValueError, match="finetune.method = 'bogus'"):
        apply_finetune(cnn, "bogus")
