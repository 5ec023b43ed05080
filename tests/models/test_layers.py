"""Building blocks against their references (torch.nn, the formulas) and the notes' counts."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from trainlab.models.layers import (
    BasicBlock,
    Bottleneck,
    ConvNeXtBlock,
    DepthwiseSeparableConv,
    DropPath,
    LayerNorm2d,
    MultiHeadSelfAttention,
    PatchEmbed,
    TransformerBlock,
    adapt_stride,
    attention,
    conv_nd,
    conv_norm_act,
    conv_params,
    depthwise_conv,
    drop_path,
    drop_path_rates,
    grouped_conv,
    patchify,
    split_by_stage,
    stage_drop_path_rates,
)


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


# --- convolution parameter counts, notes F0:155-182 -------------------------------------------


def test_notes_conv_counts_f0_155_182() -> None:
    standard = conv_nd(256, 256, 3)
    grouped = grouped_conv(256, 256, 3, groups=32)
    dw = depthwise_conv(256, 3)
    assert n_params(standard) == 589_824 == conv_params(256, 256, 3)
    assert n_params(grouped) == 18_432 == conv_params(256, 256, 3, groups=32) == 589_824 // 32
    assert n_params(dw) == 2_304 == conv_params(256, 256, 3, groups=256)


def test_depthwise_separable_params_and_shape() -> None:
    m = DepthwiseSeparableConv(256, 128, 3, norm=None, act=None)
    # depthwise 256*9 + pointwise 256*128, each with bias since no norm follows
    assert n_params(m) == 256 * 9 + 256 + 256 * 128 + 128
    assert m(torch.randn(2, 256, 5, 5)).shape == (2, 128, 5, 5)


def test_grouped_conv_is_split_transform_merge() -> None:
    """A grouped conv equals `groups` independent convs on channel slices, concatenated."""
    g = torch.Generator().manual_seed(0)
    conv = grouped_conv(8, 12, 3, groups=4, bias=True)
    x = torch.randn(2, 8, 6, 6, generator=g)
    w, b = conv.weight, conv.bias
    parts = [
        F.conv2d(x[:, 2 * i : 2 * i + 2], w[3 * i : 3 * i + 3], b[3 * i : 3 * i + 3], padding=1)
        for i in range(4)
    ]
    torch.testing.assert_close(conv(x), torch.cat(parts, 1))


def test_conv_validation() -> None:
    with pytest.raises(ValueError, match="groups=3 must divide"):
        grouped_conv(8, 8, 3, groups=3)
    with pytest.raises(ValueError, match="dims"):
        conv_nd(4, 4, 3, dims=4)
    with pytest.raises(ValueError, match="unknown activation"):
        conv_norm_act(3, 4, act="swish2")


def test_conv_norm_act_1d_and_2d() -> None:
    m2 = conv_norm_act(3, 8, stride=2)
    assert m2(torch.randn(2, 3, 8, 8)).shape == (2, 8, 4, 4)
    assert m2.conv.bias is None  # BN follows
    m1 = conv_norm_act(3, 8, dims=1, kernel_size=5)
    assert m1(torch.randn(2, 3, 10)).shape == (2, 8, 10)


# --- LayerNorm2d ---------------------------------------------------------------------------


def test_layernorm2d_matches_layernorm_over_channels() -> None:
    ln2d = LayerNorm2d(6)
    nn.init.normal_(ln2d.weight)
    nn.init.normal_(ln2d.bias)
    x = torch.randn(2, 6, 4, 5)
    ref = F.layer_norm(x.permute(0, 2, 3, 1), (6,), ln2d.weight, ln2d.bias, 1e-6)
    torch.testing.assert_close(ln2d(x), ref.permute(0, 3, 1, 2))
    torch.testing.assert_close(ln2d(x.to(memory_format=torch.channels_last)), ln2d(x))


# --- drop path (stochastic depth), F0:69-78 ------------------------------------------------


def test_drop_path_identity_in_eval_and_at_zero() -> None:
    x = torch.randn(8, 3, 4, 4)
    m = DropPath(0.5).eval()
    assert torch.equal(m(x), x)
    assert torch.equal(drop_path(x, 0.0, training=True), x)


def test_drop_path_preserves_expectation() -> None:
    """E[drop_path(x)] = x: the mean over 200k samples is within 5 standard errors."""
    p, n = 0.3, 200_000
    g = torch.Generator().manual_seed(1)
    x = torch.ones(n, 2)
    y = drop_path(x, p, training=True, generator=g)
    kept = y[:, 0] != 0
    assert torch.equal(y[:, 0], y[:, 1])  # one draw per sample, shared by its features
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1 / (1 - p)))
    se = math.sqrt(p / (1 - p) / n)  # std of x*m/(1-p) is sqrt(p/(1-p))
    assert abs(y.mean().item() - 1.0) < 5 * se
    assert abs((~kept).float().mean().item() - p) < 5 * math.sqrt(p * (1 - p) / n)


def test_drop_path_reproducible_with_generator() -> None:
    x = torch.randn(64, 5)
    a = drop_path(x, 0.5, True, generator=torch.Generator().manual_seed(3))
    b = drop_path(x, 0.5, True, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_stage_drop_path_rates_linear_and_paper() -> None:
    lin = stage_drop_path_rates(0.2, [2, 3])
    flat = torch.tensor([r for stage in lin for r in stage], dtype=torch.float64)
    torch.testing.assert_close(flat, torch.linspace(0, 0.2, 5, dtype=torch.float64))
    assert [len(s) for s in lin] == [2, 3]
    assert stage_drop_path_rates(0.2, [4], "paper") == [pytest.approx([0.05, 0.1, 0.15, 0.2])]
    assert drop_path_rates(0.3, 1) == [0.0]
    with pytest.raises(ValueError, match="rule"):
        stage_drop_path_rates(0.1, [3], "cosine")
    with pytest.raises(ValueError, match="sum to 3"):
        split_by_stage([0.0, 0.1], [1, 2])
    with pytest.raises(ValueError, match="probability"):
        DropPath(-0.1)


# --- attention and the Transformer block ---------------------------------------------------


def test_attention_formula() -> None:
    q, k, v = torch.randn(3, 2, 4, 5, 8).unbind(0)
    ref = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(8), -1) @ v
    torch.testing.assert_close(attention(q, k, v), ref)
    torch.testing.assert_close(F.scaled_dot_product_attention(q, k, v), ref)


def test_mhsa_matches_nn_multiheadattention() -> None:
    torch.manual_seed(0)
    dim, heads = 12, 3
    ours = MultiHeadSelfAttention(dim, heads)
    ref = nn.MultiheadAttention(dim, heads, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(ours.qkv.weight)
        ref.in_proj_bias.copy_(ours.qkv.bias)
        ref.out_proj.weight.copy_(ours.proj.weight)
        ref.out_proj.bias.copy_(ours.proj.bias)
    x = torch.randn(2, 7, dim)
    torch.testing.assert_close(ours(x), ref(x, x, x, need_weights=False)[0])
    # and the literal per-head formula
    q, k, v = ours.qkv(x).reshape(2, 7, 3, heads, 4).permute(2, 0, 3, 1, 4)
    manual = ours.proj(attention(q, k, v).transpose(1, 2).reshape(2, 7, dim))
    torch.testing.assert_close(ours(x), manual)
    with pytest.raises(ValueError, match="num_heads"):
        MultiHeadSelfAttention(10, 3)


def test_transformer_block_is_prenorm_residual() -> None:
    torch.manual_seed(0)
    blk = TransformerBlock(8, 2).eval()
    x = torch.randn(2, 5, 8)
    h = x + blk.attn(blk.norm1(x))
    torch.testing.assert_close(blk(x), h + blk.mlp(blk.norm2(h)))


# --- residual blocks -----------------------------------------------------------------------


def test_bottleneck_widths_and_cardinality() -> None:
    res = Bottleneck(256, 64)  # ResNet-50 stage 1: 256 -> 64 -> 64 -> 256
    nxt = Bottleneck(256, 64, cardinality=32, base_width=4)  # ResNeXt 32x4d: width 128
    assert res.conv2.weight.shape == (64, 64, 3, 3)
    assert nxt.conv2.weight.shape == (128, 4, 3, 3) and nxt.conv2.groups == 32
    assert res.downsample is None
    x = torch.randn(2, 256, 6, 6)
    assert nxt(x).shape == x.shape


def test_basic_block_shortcut_and_zero_init() -> None:
    blk = BasicBlock(8, 16, stride=2)
    # the projection shortcut: a strided 1x1 conv 8 -> 16 and its BatchNorm
    conv, bn = blk.downsample
    assert conv.weight.shape == (16, 8, 1, 1) and conv.stride == (2, 2) and conv.bias is None
    assert isinstance(bn, nn.BatchNorm2d) and bn.num_features == 16
    assert blk(torch.randn(2, 8, 6, 6)).shape == (2, 16, 3, 3)
    same = BasicBlock(8, 8).eval()
    same.zero_init_last()
    x = torch.rand(2, 8, 4, 4)  # non-negative: act(0 + x) == x
    torch.testing.assert_close(same(x), x)


def test_convnext_block_conv_mlp_equals_linear_mlp() -> None:
    """The two timm variants compute the same function; only weight shapes differ."""
    torch.manual_seed(0)
    lin = ConvNeXtBlock(16, ls_init_value=0.5).eval()
    conv = ConvNeXtBlock(16, ls_init_value=0.5, conv_mlp=True).eval()
    sd = {k: v.reshape(conv.state_dict()[k].shape) for k, v in lin.state_dict().items()}
    conv.load_state_dict(sd)
    x = torch.randn(2, 16, 5, 5)
    torch.testing.assert_close(conv(x), lin(x), rtol=1e-4, atol=1e-5)
    assert lin.mlp.fc1.weight.shape == (64, 16) and conv.mlp.fc1.weight.shape == (64, 16, 1, 1)
    assert lin.conv_dw.groups == 16 and lin.conv_dw.kernel_size == (7, 7)


# --- stems -----------------------------------------------------------------------------------


def test_patch_embed_is_patchify_then_linear() -> None:
    pe = PatchEmbed(3, 10, patch_size=4)
    x = torch.randn(2, 3, 8, 12)
    ref = patchify(x, 4) @ pe.proj.weight.flatten(1).T + pe.proj.bias
    torch.testing.assert_close(pe(x), ref, rtol=1e-4, atol=1e-5)
    assert pe(x).shape == (2, 6, 10)


@pytest.mark.parametrize(
    ("size", "standard", "min_out", "expected"),
    [(224, 4, 16, 4), (64, 4, 16, 4), (32, 4, 16, 2), (8, 4, 16, 1), (224, 16, 8, 16),
     (64, 16, 8, 8), (32, 16, 8, 4), (8, 16, 8, 1)],
)  # fmt: skip
def test_adapt_stride(size: int, standard: int, min_out: int, expected: int) -> None:
    assert adapt_stride(size, standard, min_out) == expected


@settings(max_examples=30, deadline=None)
@given(p=st.floats(0.0, 0.95), seed=st.integers(0, 2**31 - 1))
def test_drop_path_each_sample_is_zero_or_rescaled(p: float, seed: int) -> None:
    """Property: every sample is either dropped entirely or kept and scaled by 1/(1-p)."""
    x = torch.randn(16, 3, 2, 2, generator=torch.Generator().manual_seed(seed)) + 5.0
    y = drop_path(x, p, training=True, generator=torch.Generator().manual_seed(seed))
    for xi, yi in zip(x, y, strict=True):
        assert torch.all(yi == 0) or torch.allclose(yi, xi / (1 - p))


@pytest.mark.parametrize("k", [3, 5, 7])
@pytest.mark.parametrize(("h", "w"), [(1, 1), (2, 2), (2, 5), (3, 1), (4, 4), (9, 9)])
@pytest.mark.parametrize("groups", [1, 6])
def test_same_conv2d_equals_padded_conv_with_gradients(k: int, h: int, w: int, groups: int) -> None:
    """Cropping only drops taps that multiply zero padding: same output, same gradients
    (zero on the cropped-off taps). float64, so any difference above 1e-12 is a real one."""
    from trainlab.models.layers import same_conv2d

    g = torch.Generator().manual_seed(k * 100 + h * 10 + w)
    x = torch.randn(2, 6, h, w, generator=g, dtype=torch.float64).requires_grad_()
    wt = torch.randn(12, 6 // groups, k, k, generator=g, dtype=torch.float64).requires_grad_()
    b = torch.randn(12, generator=g, dtype=torch.float64).requires_grad_()
    gy = torch.randn(2, 12, h, w, generator=g, dtype=torch.float64)
    out = same_conv2d(x, wt, b, groups)
    grads = torch.autograd.grad(out, (x, wt, b), gy)
    ref = F.conv2d(x, wt, b, padding=k // 2, groups=groups)
    ref_grads = torch.autograd.grad(ref, (x, wt, b), gy)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    for a, r in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, r, rtol=1e-12, atol=1e-12)


def test_same_conv2d_crops_only_unreachable_taps(monkeypatch) -> None:
    """A 7x7 on a 2x2 map keeps its central 3x3 (offsets -1..1); on 4x4 and up, all 7x7."""
    from trainlab.models.layers import SameConv2d

    conv = SameConv2d(4, 4, 7, groups=4)
    seen: list[tuple[int, ...]] = []
    conv2d = F.conv2d

    def spy(x, weight, *args, **kwargs):
        seen.append(tuple(weight.shape[-2:]))
        return conv2d(x, weight, *args, **kwargs)

    monkeypatch.setattr(F, "conv2d", spy)  # the module's F is torch.nn.functional
    assert conv(torch.randn(1, 4, 2, 2)).shape == (1, 4, 2, 2)
    assert conv(torch.randn(1, 4, 4, 4)).shape == (1, 4, 4, 4)
    assert conv(torch.randn(1, 4, 1, 3)).shape == (1, 4, 1, 3)
    assert seen == [(3, 3), (7, 7), (1, 5)]
    assert dict(conv.named_parameters()).keys() == {"weight", "bias"}  # nn.Conv2d's keys
