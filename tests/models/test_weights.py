"""load_pretrained: round trips, wrapped checkpoints, clear errors, no code execution."""

from __future__ import annotations

import pytest
import torch

from trainlab.models import WeightsMismatchError, create_model, load_pretrained


def _pair(name: str, shape=(3, 16, 16), classes: int = 5):
    torch.manual_seed(0)
    a = create_model(name, num_classes=classes, in_shape=shape).eval()
    torch.manual_seed(1)
    b = create_model(name, num_classes=classes, in_shape=shape).eval()
    return a, b


@pytest.mark.parametrize("name", ["resnet18", "convnext_atto", "vit_tiny", "cnn1d"])
def test_round_trip_gives_identical_outputs(name: str, tmp_path) -> None:
    shape = (2, 24) if name == "cnn1d" else (3, 16, 16)
    a, b = _pair(name, shape)
    path = tmp_path / "w.pt"
    torch.save(a.state_dict(), path)
    x = torch.randn(2, *shape)
    assert not torch.allclose(a(x), b(x))
    report = load_pretrained(b, path)
    assert report["missing"] == report["unexpected"] == report["mismatched"] == []
    torch.testing.assert_close(b(x), a(x))


def test_wrapped_and_prefixed_checkpoints(tmp_path) -> None:
    a, b = _pair("resnet18")
    sd = {f"module.{k}": v for k, v in a.state_dict().items()}
    torch.save({"epoch": 3, "model": sd}, tmp_path / "ckpt.pt")
    load_pretrained(b, tmp_path / "ckpt.pt")
    x = torch.randn(1, 3, 16, 16)
    torch.testing.assert_close(b(x), a(x))


def test_mismatch_error_lists_missing_unexpected_and_shapes(tmp_path) -> None:
    a, _ = _pair("resnet18")
    b = create_model("resnet18", num_classes=7, in_shape=(3, 16, 16))
    sd = a.state_dict()
    sd.pop("layer1.0.conv1.weight")
    sd["extra.weight"] = torch.zeros(1)
    torch.save(sd, tmp_path / "w.pt")
    before = b.conv1.weight.detach().clone()
    with pytest.raises(WeightsMismatchError) as e:
        load_pretrained(b, tmp_path / "w.pt")
    msg = str(e.value)
    assert "missing (1): layer1.0.conv1.weight" in msg
    assert "unexpected (1): extra.weight" in msg
    assert "fc.weight: file (5, 512) vs model (7, 512)" in msg
    assert torch.equal(b.conv1.weight, before)  # strict failure loads nothing


def test_exclude_head_for_fine_tuning(tmp_path) -> None:
    a, _ = _pair("convnext_atto")
    torch.save(a.state_dict(), tmp_path / "w.pt")
    b = create_model("convnext_atto", num_classes=9, in_shape=(3, 16, 16))
    report = load_pretrained(b, tmp_path / "w.pt", exclude=["head.fc.*"])
    assert report["excluded"] == ["head.fc.bias", "head.fc.weight"]
    assert torch.equal(b.stem[0].weight, a.stem[0].weight)


def test_non_strict_returns_report(tmp_path) -> None:
    a, _ = _pair("resnet18")
    b = create_model("resnet18", num_classes=7, in_shape=(3, 16, 16))
    torch.save(a.state_dict(), tmp_path / "w.pt")
    report = load_pretrained(b, tmp_path / "w.pt", strict=False)
    assert report["mismatched"] == [
        "fc.bias: file (5,) vs model (7,)",
        "fc.weight: file (5, 512) vs model (7, 512)",
    ]
    assert torch.equal(b.conv1.weight, a.conv1.weight)


def test_vit_pos_embed_resampled_to_new_grid(tmp_path) -> None:
    a = create_model("vit_tiny", num_classes=5, in_shape=(3, 32, 32))  # grid 8x8
    b = create_model("vit_tiny", num_classes=5, in_shape=(3, 64, 64), patch_size=4)  # 16x16
    torch.save(a.state_dict(), tmp_path / "w.pt")
    load_pretrained(b, tmp_path / "w.pt")
    assert b.pos_embed.shape == (1, 257, 192)
    torch.testing.assert_close(b.cls_token, a.cls_token)
    assert b(torch.randn(1, 3, 64, 64)).shape == (1, 5)


def test_refuses_pickled_code_and_missing_files(tmp_path) -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("executed",))

    torch.save({"state_dict": Evil()}, tmp_path / "evil.pt")
    m = create_model("mlp", num_classes=2, in_shape=(4,))
    with pytest.raises(WeightsMismatchError, match="cannot be read as weights"):
        load_pretrained(m, tmp_path / "evil.pt")
    with pytest.raises(FileNotFoundError, match="no file"):
        load_pretrained(m, tmp_path / "absent.pt")
