"""Architectures: published parameter counts and FLOPs, timm layout, small inputs, training."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from trainlab.models import count_params, create_model, list_models, summarize


def on_meta(name: str, **kw: object) -> nn.Module:
    """Big models where only shapes matter: nothing allocated, nothing computed."""
    with torch.device("meta"):
        return create_model(name, num_classes=1000, in_shape=(3, 224, 224), **kw)


# Published counts (papers / timm model cards, 1000 classes, 224x224).
PUBLISHED = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnext50_32x4d": 25_028_904,
    "convnext_tiny": 28_589_128,
    "convnext_small": 50_223_688,
    "convnext_base": 88_591_464,
    "vit_tiny": 5_717_416,
    "vit_small": 22_050_664,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_parameter_counts(name: str) -> None:
    assert count_params(on_meta(name)) == PUBLISHED[name]


@pytest.mark.parametrize(
    ("name", "published_macs"),
    [("resnet50", 4.1e9), ("convnext_tiny", 4.5e9), ("vit_small", 4.6e9)],
)
def test_flops_within_2_percent_of_twice_published_macs(name: str, published_macs: float) -> None:
    s = summarize(on_meta(name), "3x224x224")
    assert abs(s.total_flops - 2 * published_macs) / (2 * published_macs) < 0.02


def test_mlp_counts_from_the_notes() -> None:
    """784-128-10 (F4:2250-2260), 784-256-128-10 (F4:2129-2135), 784-128-64-10 (F4:2224-2230)."""
    for widths, expected in (((128,), 101_770), ((256, 128), 235_146), ((128, 64), 109_386)):
        m = create_model("mlp", num_classes=10, in_shape=(1, 28, 28), widths=widths)
        assert count_params(m) == expected


def test_registry_lists_every_family() -> None:
    names = list_models()
    for n in ("mlp", "cnn", "cnn1d", "resnet18", "resnet34", "resnet50", "resnet101",
              "resnext50_32x4d", "vit_tiny", "vit_small"):  # fmt: skip
        assert n in names
    assert list_models("convnext_*") == sorted(
        f"convnext_{v}" for v in ("atto", "femto", "pico", "nano", "tiny", "small", "base")
    )


# --- timm state_dict layout (keys and shapes written from the timm source layout) ----------


def test_resnet50_timm_layout() -> None:
    sd = on_meta("resnet50").state_dict()
    expect = {
        "conv1.weight": (64, 3, 7, 7),
        "bn1.running_var": (64,),
        "layer1.0.conv1.weight": (64, 64, 1, 1),
        "layer1.0.conv2.weight": (64, 64, 3, 3),
        "layer1.0.conv3.weight": (256, 64, 1, 1),
        "layer1.0.bn3.weight": (256,),
        "layer1.0.downsample.0.weight": (256, 64, 1, 1),
        "layer1.0.downsample.1.num_batches_tracked": (),
        "layer2.0.conv2.weight": (128, 128, 3, 3),
        "layer4.2.conv3.weight": (2048, 512, 1, 1),
        "fc.weight": (1000, 2048),
        "fc.bias": (1000,),
    }
    for k, shape in expect.items():
        assert tuple(sd[k].shape) == shape, k
    assert len(sd) == 320  # 161 parameters + 159 BN buffers, as timm/torchvision
    assert "layer1.1.downsample.0.weight" not in sd


def test_resnext_grouped_weight_shapes() -> None:
    sd = on_meta("resnext50_32x4d").state_dict()
    assert tuple(sd["layer1.0.conv2.weight"].shape) == (128, 4, 3, 3)
    assert tuple(sd["layer4.0.conv2.weight"].shape) == (1024, 32, 3, 3)


def test_convnext_timm_layout() -> None:
    sd = on_meta("convnext_tiny").state_dict()
    expect = {
        "stem.0.weight": (96, 3, 4, 4),
        "stem.1.weight": (96,),
        "stages.0.blocks.0.conv_dw.weight": (96, 1, 7, 7),
        "stages.0.blocks.0.norm.weight": (96,),
        "stages.0.blocks.0.mlp.fc1.weight": (384, 96),
        "stages.0.blocks.0.mlp.fc2.weight": (96, 384),
        "stages.0.blocks.0.gamma": (96,),
        "stages.1.downsample.0.weight": (96,),
        "stages.1.downsample.1.weight": (192, 96, 2, 2),
        "stages.2.blocks.8.mlp.fc2.bias": (384,),
        "head.norm.weight": (768,),
        "head.fc.weight": (1000, 768),
    }
    for k, shape in expect.items():
        assert tuple(sd[k].shape) == shape, k
    assert not any(k.startswith("stages.0.downsample") for k in sd)
    atto = on_meta("convnext_atto").state_dict()  # timm: conv_mlp=True for atto..nano
    assert tuple(atto["stages.0.blocks.0.mlp.fc1.weight"].shape) == (160, 40, 1, 1)


def test_vit_timm_layout() -> None:
    sd = on_meta("vit_small").state_dict()
    expect = {
        "cls_token": (1, 1, 384),
        "pos_embed": (1, 197, 384),
        "patch_embed.proj.weight": (384, 3, 16, 16),
        "blocks.0.norm1.weight": (384,),
        "blocks.0.attn.qkv.weight": (1152, 384),
        "blocks.0.attn.proj.weight": (384, 384),
        "blocks.11.mlp.fc1.weight": (1536, 384),
        "blocks.11.mlp.fc2.weight": (384, 1536),
        "norm.weight": (384,),
        "head.weight": (1000, 384),
    }
    for k, shape in expect.items():
        assert tuple(sd[k].shape) == shape, k
    assert len(sd) == 4 + 12 * 12 + 4


# --- small inputs and a few training steps for every model ---------------------------------

BIG = {"resnet101", "convnext_small", "convnext_base", "convnext_tiny", "vit_small"}
DENSE = {"unet"}  # per-pixel outputs (B, K, H, W)
TOKENS = {"text_encoder", "text_decoder"}  # token-id inputs: tests/finetune/test_text.py


def _shape(name: str) -> tuple[int, ...]:
    return (2, 24) if name == "cnn1d" else (3, 8, 8)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.slow) if n in BIG else n
        for n in list_models()
        if n not in TOKENS
    ],
)
def test_every_model_trains_at_8x8(name: str) -> None:
    torch.manual_seed(0)
    shape = _shape(name)
    kw = {} if name in ("mlp", "cnn", "cnn1d", *DENSE) else {"drop_path_rate": 0.1}
    model = create_model(name, num_classes=3, in_shape=shape, **kw)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(4, *shape), torch.tensor([0, 1, 2, 0])
    if name in DENSE:  # per-pixel logits (4, 3, 8, 8) and class masks (4, 8, 8)
        y = y[:, None, None].expand(4, *shape[1:]).contiguous()
    before = [p.detach().clone() for p in model.parameters()]
    for _ in range(2):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        assert torch.isfinite(loss)
    moved = sum(not torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))
    assert moved > 0.5 * len(before)
    model.eval()
    assert model(x).shape == ((4, 3, *shape[1:]) if name in DENSE else (4, 3))


@pytest.mark.parametrize("name", ["resnet18", "convnext_atto", "vit_tiny"])
@pytest.mark.parametrize("side", [8, 16, 32, 64])
def test_image_models_accept_8_to_64(name: str, side: int) -> None:
    with torch.device("meta"):
        m = create_model(name, num_classes=10, in_shape=(3, side, side))
        assert m(torch.empty(2, 3, side, side)).shape == (2, 10)


@pytest.mark.parametrize("name", ["resnet18", "convnext_atto", "vit_tiny", "cnn"])
def test_channels_last_gives_same_output(name: str) -> None:
    torch.manual_seed(0)
    m = create_model(name, num_classes=4, in_shape=(3, 16, 16)).eval()
    x = torch.randn(2, 3, 16, 16)
    ref = m(x)
    m = m.to(memory_format=torch.channels_last)
    torch.testing.assert_close(
        m(x.to(memory_format=torch.channels_last)), ref, rtol=1e-4, atol=1e-4
    )


def test_small_model_overfits_a_batch() -> None:
    torch.manual_seed(0)
    m = create_model("convnext_atto", num_classes=4, in_shape=(3, 16, 16), ls_init_value=1.0)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    x, y = torch.randn(8, 3, 16, 16), torch.arange(8) % 4
    losses = []
    for _ in range(8):
        loss = F.cross_entropy(m(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_stem_adaptation() -> None:
    r = create_model("resnet18", num_classes=2, in_shape=(3, 32, 32))
    assert r.conv1.stride == (2, 2) and isinstance(r.maxpool, nn.Identity)
    r = create_model("resnet18", num_classes=2, in_shape=(3, 224, 224), stem_stride=1)
    assert r.conv1.stride == (1, 1)
    assert create_model("convnext_atto", num_classes=2, in_shape=(3, 8, 8)).stem[0].stride == (1, 1)
    v = create_model("vit_tiny", num_classes=2, in_shape=(3, 32, 32))
    assert v.patch_embed.patch_size == 4 and v.pos_embed.shape == (1, 65, 192)


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ValueError, match="in_shape=\\(C, H, W\\)"):
        create_model("resnet18", num_classes=2, in_shape=(3, 32))
    with pytest.raises(ValueError, match="sides >= 8"):
        create_model("convnext_atto", num_classes=2, in_shape=(3, 4, 4))
    with pytest.raises(ValueError, match="cnn1d needs signals"):
        create_model("cnn1d", num_classes=2, in_shape=(3, 8, 8))
    with pytest.raises(ValueError, match="stem_stride"):
        create_model("resnet18", num_classes=2, in_shape=(3, 8, 8), stem_stride=3)
    with pytest.raises(ValueError, match="drop_path_rate"):
        create_model("vit_tiny", num_classes=2, in_shape=(3, 8, 8), drop_path_rate=1.5)
    with pytest.raises(TypeError):
        create_model("resnet18", num_classes=2, in_shape=(3, 8, 8), bogus=1)


def test_drop_path_rates_follow_linear_rule_in_models() -> None:
    m = create_model("convnext_atto", num_classes=2, in_shape=(3, 8, 8), drop_path_rate=0.3)
    rates = [getattr(b.drop_path, "drop_prob", 0.0) for s in m.stages for b in s.blocks]
    torch.testing.assert_close(
        torch.tensor(rates, dtype=torch.float64), torch.linspace(0, 0.3, 12, dtype=torch.float64)
    )
    v = create_model("vit_tiny", num_classes=2, in_shape=(3, 8, 8), drop_path_rate=0.12,
                     drop_path_rule="paper")  # fmt: skip
    assert v.blocks[0].drop_path1.drop_prob == pytest.approx(0.01)
    assert v.blocks[11].drop_path2.drop_prob == pytest.approx(0.12)


def test_mlp_and_cnn_accept_any_input_shape() -> None:
    for shape in ((1, 8, 8), (20,), (3, 16)):
        assert create_model("mlp", num_classes=4, in_shape=shape)(torch.randn(2, *shape)).shape == (
            2,
            4,
        )
    for shape in ((1, 8, 8), (3, 16)):
        assert create_model("cnn", num_classes=4, in_shape=shape)(torch.randn(2, *shape)).shape == (
            2,
            4,
        )


def test_cnn1d_reads_vectors_as_one_channel_signals() -> None:
    m = create_model("cnn1d", num_classes=3, in_shape=(20,))
    assert m(torch.randn(2, 20)).shape == (2, 3)
