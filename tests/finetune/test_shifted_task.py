"""Fine-tuning methods on a shifted task: a model pretrained on the digits, fine-tuned on
the inverted digits (x -> 1 - x, which after standardization is x -> -x: every feature the
pretrained model relies on flips sign, so the frozen base is below chance there).

Budgets (epochs, lr) and thresholds are the measured ones below; the test split has 269
images, so one image is 0.37 points. Runs are seeded and single-threaded: deterministic.
"""

from __future__ import annotations

import copy

import pytest
import torch

import trainlab
from trainlab.data import load_dataset
from trainlab.finetune import apply_finetune
from trainlab.models import create_model
from trainlab.models.vit import VisionTransformer


@pytest.fixture(scope="module")
def splits():
    b = load_dataset("digits", seed=0)
    orig = tuple((s.x, s.y) for s in (b.train, b.val, b.test))
    shifted = tuple((-s.x, s.y) for s in (b.train, b.val, b.test))
    return orig, shifted


def _fit(model, data, epochs: int, lr: float) -> float:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # deterministic sums, and fair to the shared cores
    try:
        s = trainlab.fit(
            model, data[0], val=data[1], test=data[2], epochs=epochs, batch_size=64, lr=lr, seed=0
        )
    finally:
        torch.set_num_threads(threads)
    return 100 * s["test"]["acc"]


@torch.no_grad()
def _acc(model, split) -> float:
    model.eval()
    x, y = split
    return 100 * float((model(x).argmax(1) == y).float().mean())


@pytest.mark.slow
def test_lora_within_2_points_of_full_finetuning(splits) -> None:
    orig, shifted = splits
    torch.manual_seed(0)
    base = create_model("cnn", num_classes=10, in_shape=(1, 8, 8), widths=(16, 32, 64))
    assert _fit(base, orig, 10, 3e-3) > 97  # measured 100.0
    frozen = _acc(copy.deepcopy(base), shifted[2])
    full = _fit(copy.deepcopy(base), shifted, 6, 3e-3)  # measured 99.26
    lora_model = copy.deepcopy(base)
    s = apply_finetune(lora_model, "lora", targets=["features.*.conv"], r=8, alpha=16)
    assert s.by_method["lora"] < 0.25 * s.total  # 4,424 of 28,482 (with the 650 of the head)
    lora = _fit(lora_model, shifted, 6, 1e-2)  # measured 98.51
    assert frozen < 30  # measured 11.5: the shift defeats the pretrained model
    assert lora >= full - 2, (lora, full)


def _small_vit() -> VisionTransformer:
    torch.manual_seed(0)
    return VisionTransformer(
        (8, 8), 2, in_chans=1, num_classes=10, embed_dim=32, depth=2, num_heads=2
    )


@pytest.mark.slow
@pytest.mark.parametrize(("method", "kwargs"), [("adapter", {"bottleneck": 16}), ("prefix", {})])
def test_adapters_and_prefix_train_only_their_own_and_beat_the_frozen_base(
    splits, method: str, kwargs: dict
) -> None:
    orig, shifted = splits
    base = _small_vit()
    _fit(base, orig, 8, 3e-3)
    frozen = _acc(copy.deepcopy(base), shifted[2])
    model = copy.deepcopy(base)
    apply_finetune(model, method, **kwargs)  # the method's parameters and the head
    before = {k: v.clone() for k, v in model.state_dict().items()}
    acc = _fit(model, shifted, 8, 1e-2)
    after = model.state_dict()
    changed = {k for k in after if k not in before or not torch.equal(after[k], before[k])}
    prefix = {"adapter": ".adapter.", "prefix": "prefix_tuning."}[method]
    assert any(prefix in k for k in changed)
    assert all(prefix in k or k.startswith("head.") for k in changed), sorted(changed)[:5]
    print(method, frozen, acc)
    assert frozen < 10  # measured 1.9 (the base is below chance on the flipped inputs)
    assert acc > frozen + 15, (acc, frozen)  # measured: adapter 53.2, prefix 44.2


@pytest.mark.experiment
def test_every_method_on_the_shifted_task_vit() -> None:
    """Measured (D=64, seeded; 25 pretraining epochs, 8 fine-tuning epochs): on the shifted
    task frozen 2.2%, head-only 39.4, prefix 20.8, adapters 29.4, LoRA 51.7 (qkv, attn.proj,
    fc1, fc2), full 73.2. (An unseeded earlier init gave 1.9 / 51.3 / 49.8 / 54.3 / 79.2 /
    86.3: on a model this small, adapters and prefix against a linear probe depend on the
    init, so only the robust orderings are asserted.)"""
    b = load_dataset("digits", seed=0)
    orig = tuple((s.x, s.y) for s in (b.train, b.val, b.test))
    shifted = tuple((-s.x, s.y) for s in (b.train, b.val, b.test))
    torch.manual_seed(0)
    base = VisionTransformer(
        (8, 8), 2, in_chans=1, num_classes=10, embed_dim=64, depth=2, num_heads=4
    )
    assert _fit(base, orig, 25, 2e-3) > 90
    frozen = _acc(copy.deepcopy(base), shifted[2])
    acc = {}
    for method, kw, lr in [
        ("full", {}, 3e-3),
        ("lora", {"targets": ["qkv", "attn.proj", "fc1", "fc2"], "alpha": 16}, 1e-2),
        ("adapter", {"bottleneck": 16}, 1e-2),
        ("prefix", {"prefix_len": 8}, 1e-2),
        ("head", {}, 1e-2),
    ]:
        model = copy.deepcopy(base)
        apply_finetune(model, method, **kw)
        acc[method] = _fit(model, shifted, 8, lr)
    print(frozen, acc)
    assert acc["adapter"] > frozen + 15 and acc["prefix"] > frozen + 15
    assert acc["full"] > acc["lora"] > acc["head"] > frozen + 30
