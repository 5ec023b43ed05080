"""ResNet-18 and ConvNeXt-atto against timm's computation, on timm-layout weights from a file.

timm is a comparison library, not a dependency, so the reference is timm's forward written out
here as plain `torch.nn.functional` calls over the state_dict (timm 1.0 `resnet.py` BasicBlock,
`convnext.py` ConvNeXtBlock and NormMlpClassifierHead). The ConvNeXt reference takes timm's
*other* block form (permute to (B, H, W, C), `F.layer_norm`, `F.linear`), so the model's
LayerNorm2d + 1x1-conv path is checked against an independent computation, not against itself.
When timm imports (`source ../shared/tools/peer-env.sh`), the last test also compares with timm.

Weights are random (norm scales and layer scale near 1, running statistics away from 0/1) so
that every block changes the output; with ConvNeXt's 1e-6 layer-scale init a broken block
would go unnoticed.

Tolerance: float32 (unit roundoff u = 6e-8). The ConvNeXt paths sum the same products in
different orders (oneDNN 1x1 conv against a matmul); a dot product of length K then differs by
about sqrt(K) u relative (K <= 1280 here: ~2e-6), and LayerNorm renormalizes after every block,
so the error does not compound over depth. Measured: logits O(2), largest difference 2.1e-6
(ConvNeXt; 0 for ResNet, whose reference runs the same kernels), gradients 2.4e-6 of their
largest entry. `rtol = 1e-5, atol = 2e-5` leaves a 10x margin, while the negative control shows
that timm's tanh GELU (logits move by 4.9e-4) is caught. Against timm itself the outputs were
bit-identical (same kernels in the same order).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from trainlab.models import create_model, load_pretrained

TOL = {"rtol": 1e-5, "atol": 2e-5}
SHAPE = (3, 32, 32)  # convnext_atto: patch 2 at 32 px; resnet18: stem stride 2


def random_timm_state(model: torch.nn.Module, seed: int) -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            out[k] = v.clone()
        elif k.endswith("running_var") or k.endswith("gamma") or (v.dim() == 1 and ".weight" in k):
            out[k] = torch.rand(v.shape, generator=g) + 0.5  # norm scales, layer scale, variances
        elif v.dim() == 1:
            out[k] = 0.1 * torch.randn(v.shape, generator=g)  # biases, running means
        else:
            fan_in = v[0].numel() or 1
            out[k] = torch.randn(v.shape, generator=g) / fan_in**0.5
    return out


def _ln2d(x: Tensor, sd: dict[str, Tensor], p: str) -> Tensor:
    y = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), sd[p + ".weight"], sd[p + ".bias"], 1e-6)
    return y.permute(0, 3, 1, 2)


def convnext_reference(
    sd: dict[str, Tensor], x: Tensor, depths: tuple[int, ...], patch: int, gelu: str = "none"
) -> Tensor:
    """timm ConvNeXt, block form conv_mlp=False, on a state_dict of either MLP layout."""
    x = _ln2d(F.conv2d(x, sd["stem.0.weight"], sd["stem.0.bias"], stride=patch), sd, "stem.1")
    for i, depth in enumerate(depths):
        if i:
            p = f"stages.{i}.downsample."
            x = F.conv2d(_ln2d(x, sd, p + "0"), sd[p + "1.weight"], sd[p + "1.bias"], stride=2)
        for j in range(depth):
            p = f"stages.{i}.blocks.{j}."
            c = x.shape[1]
            y = F.conv2d(x, sd[p + "conv_dw.weight"], sd[p + "conv_dw.bias"], padding=3, groups=c)
            y = y.permute(0, 2, 3, 1)  # (B, H, W, C)
            y = F.layer_norm(y, (c,), sd[p + "norm.weight"], sd[p + "norm.bias"], 1e-6)
            y = F.linear(y, sd[p + "mlp.fc1.weight"].flatten(1), sd[p + "mlp.fc1.bias"])
            y = F.gelu(y, approximate=gelu)
            y = F.linear(y, sd[p + "mlp.fc2.weight"].flatten(1), sd[p + "mlp.fc2.bias"])
            x = x + (y * sd[p + "gamma"]).permute(0, 3, 1, 2)
    x = _ln2d(x.mean((2, 3), keepdim=True), sd, "head.norm").flatten(1)
    return F.linear(x, sd["head.fc.weight"], sd["head.fc.bias"])


def resnet18_reference(sd: dict[str, Tensor], x: Tensor, stem_stride: int, train: bool) -> Tensor:
    """timm ResNet-18 (BasicBlock, stride on the first 3x3, 1x1 conv + BN shortcut)."""

    def bn(x: Tensor, p: str) -> Tensor:
        mean, var = (sd[p + s].detach().clone() for s in (".running_mean", ".running_var"))
        return F.batch_norm(x, mean, var, sd[p + ".weight"], sd[p + ".bias"], train, 0.1, 1e-5)

    x = F.relu(bn(F.conv2d(x, sd["conv1.weight"], stride=min(stem_stride, 2), padding=3), "bn1"))
    if stem_stride == 4:
        x = F.max_pool2d(x, 3, 2, 1)
    for i in range(1, 5):
        for j in range(2):
            p = f"layer{i}.{j}."
            stride = 2 if i > 1 and j == 0 else 1
            y = F.relu(bn(F.conv2d(x, sd[p + "conv1.weight"], stride=stride, padding=1), p + "bn1"))
            y = bn(F.conv2d(y, sd[p + "conv2.weight"], padding=1), p + "bn2")
            if p + "downsample.0.weight" in sd:
                x = bn(
                    F.conv2d(x, sd[p + "downsample.0.weight"], stride=stride), p + "downsample.1"
                )
            x = F.relu(y + x)
    return F.linear(x.mean((2, 3)), sd["fc.weight"], sd["fc.bias"])


def _loaded(name: str, tmp_path, seed: int = 0, shape: tuple[int, ...] = SHAPE):
    model = create_model(name, num_classes=10, in_shape=shape)
    sd = random_timm_state(model, seed)
    torch.save(sd, tmp_path / f"{name}.pth")  # a timm-layout checkpoint on disk
    load_pretrained(model, tmp_path / f"{name}.pth")
    return model, sd


def _reference(name: str, model, sd: dict[str, Tensor], x: Tensor, train: bool) -> Tensor:
    if name == "resnet18":
        return resnet18_reference(sd, x, stem_stride=2, train=train)
    return convnext_reference(sd, x, depths=(2, 2, 6, 2), patch=model.stem[0].stride[0])


@pytest.mark.parametrize("name", ["resnet18", "convnext_atto"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_forward_matches_timm_reference(name: str, channels_last: bool, tmp_path) -> None:
    model, sd = _loaded(name, tmp_path)
    x = torch.randn(4, *SHAPE, generator=torch.Generator().manual_seed(1))
    if channels_last:
        model, x = (
            model.to(memory_format=torch.channels_last),
            x.to(memory_format=torch.channels_last),
        )
    with torch.no_grad():
        out = model.eval()(x)
        ref = _reference(name, model, sd, x, train=False)
    assert ref.abs().max() > 0.1  # logits of real size, not a vanishing output
    torch.testing.assert_close(out, ref, **TOL)


@pytest.mark.parametrize("name", ["resnet18", "convnext_atto"])
def test_training_gradients_match_timm_reference(name: str, tmp_path) -> None:
    """Train mode (batch statistics), channels_last; the in-place residual sums leave autograd's
    saved tensors intact, so every parameter's gradient equals the reference's."""
    model, sd = _loaded(name, tmp_path)
    model = model.to(memory_format=torch.channels_last).train()
    g = torch.Generator().manual_seed(2)
    x = torch.randn(8, *SHAPE, generator=g).to(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (8,), generator=g)
    F.cross_entropy(model(x), y).backward()
    leaves = {k: v.clone().requires_grad_(v.is_floating_point()) for k, v in sd.items()}
    F.cross_entropy(_reference(name, model, leaves, x, train=True), y).backward()
    for k, p in model.named_parameters():
        ref = leaves[k].grad
        scale = ref.abs().max().item()
        torch.testing.assert_close(p.grad / scale, ref / scale, **TOL, msg=k)


def test_negative_control_tanh_gelu_is_caught(tmp_path) -> None:
    """The tolerance is tight enough to see timm's gelu_tanh instead of its exact GELU."""
    model, sd = _loaded("convnext_atto", tmp_path)
    x = torch.randn(4, *SHAPE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        tanh = convnext_reference(sd, x, (2, 2, 6, 2), model.stem[0].stride[0], gelu="tanh")
        out = model.eval()(x)
    assert not torch.allclose(out, tanh, **TOL)


def _timm():
    try:
        import timm
    except Exception as e:  # not installed, or its torchvision failing to register operators
        pytest.skip(f"timm does not import here ({type(e).__name__})")
    return timm


@pytest.mark.parametrize("name", ["resnet18", "convnext_atto", "convnext_tiny"])
def test_forward_matches_timm_itself(name: str, tmp_path) -> None:
    """At 64 px trainlab's stems equal timm's fixed ones (4x4/4 patchify, 7x7/2 + maxpool)."""
    timm = _timm()
    model, sd = _loaded(name, tmp_path, shape=(3, 64, 64))
    ref_model = timm.create_model(name, num_classes=10).eval()
    ref_model.load_state_dict(sd)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), ref_model(x), **TOL)
