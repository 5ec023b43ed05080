"""summarize: FLOPs = 2 x multiply-adds, rows add up, uncounted operators named."""

from __future__ import annotations

import pytest
import torch

from trainlab.models import create_model, parse_shape, summarize


def test_mlp_flops_are_twice_the_macs() -> None:
    m = create_model("mlp", num_classes=10, in_shape=(1, 28, 28), widths=(128,))
    s = summarize(m, (1, 28, 28))
    assert s.total_flops == 2 * (784 * 128 + 128 * 10)
    assert s.total_params == 101_770
    assert [r.name for r in s.rows] == ["net.1", "net.3"]


def test_conv_flops_count_groups() -> None:
    """A 3x3 conv 256->256 on 8x8 costs params * 64 MACs; 32 groups cost 32x less (F0:155-182)."""
    from trainlab.models.layers import conv_nd

    for groups, params in ((1, 589_824), (32, 18_432), (256, 2_304)):
        s = summarize(conv_nd(256, 256, 3, groups=groups), (256, 8, 8))
        assert s.total_flops == 2 * params * 64


@pytest.mark.parametrize("name", ["resnet18", "convnext_atto", "vit_tiny"])
def test_rows_add_up_to_totals(name: str) -> None:
    with torch.device("meta"):
        m = create_model(name, num_classes=10, in_shape=(3, 32, 32))
    for depth in (None, 1, 2):
        s = summarize(m, "3x32x32", depth=depth)
        assert sum(r.params for r in s.rows) == s.total_params
        assert sum(r.flops for r in s.rows) == s.total_flops > 0


def test_attention_matmuls_are_counted() -> None:
    """vit_tiny at 224: 1.26 G MACs including the attention products (published 1.3 G)."""
    with torch.device("meta"):
        m = create_model("vit_tiny", num_classes=1000, in_shape=(3, 224, 224))
    s = summarize(m, "3x224x224", depth=3)
    attn = next(r for r in s.rows if r.name == "blocks.0.attn")
    n, d = 197, 192
    qkv_proj = 2 * n * d * 4 * d  # qkv (3 d^2) + proj (d^2), x2 FLOPs per MAC
    assert attn.flops == qkv_proj + 2 * 2 * n * n * d  # + QK^T and AV
    assert abs(s.macs - 1.26e9) / 1.26e9 < 0.01


def test_table_text_and_warning() -> None:
    with torch.device("meta"):
        m = create_model("resnet18", num_classes=1000, in_shape=(3, 224, 224))
    s = summarize(m, "3x224x224", name="resnet18")
    text = s.table()
    assert "resnet18: 11,689,512 parameters" in text
    assert "FLOPs = 2 x multiply-adds" in text
    assert "layer1.0.conv1" in text
    assert "aten.native_batch_norm" in s.uncounted_ops
    assert text.splitlines()[-1].startswith("warning:")


def test_parse_shape() -> None:
    assert parse_shape("3x224x224") == (3, 224, 224)
    assert parse_shape("20") == (20,)
    for bad in ("3xx4", "a", "0x4", ""):
        with pytest.raises(ValueError, match="3x224x224"):
            parse_shape(bad)
    with pytest.raises(ValueError, match="depth"):
        summarize(create_model("mlp", num_classes=2, in_shape=(4,)), (4,), depth=0)


def test_describe_model_on_meta_for_the_cli() -> None:
    from trainlab.models import describe_model

    s = describe_model("convnext_tiny", "3x224x224", depth=2)
    assert s.total_params == 28_589_128
    assert abs(s.macs - 4.5e9) / 4.5e9 < 0.02
    assert "stages.2" in s.table()
    small = describe_model("resnet18", "3x32x32", num_classes=10)
    assert small.total_params == 11_689_512 - 1000 * 513 + 10 * 513
