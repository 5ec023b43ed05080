"""Mixup / CutMix: properties, the notes' examples (F0:31-51), modes, batch sizes, errors."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trainlab.augment import Mixup, cutmix, mix, mixup, soft_targets

FAST = settings(max_examples=30, deadline=None)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_note_example_mixup_lambda_07() -> None:
    # F0:37-40: lam = 0.7, cat [1, 0] and dog [0, 1] -> new label [0.7, 0.3]
    a, b = torch.full((3, 4, 4), 10.0), torch.full((3, 4, 4), 20.0)
    x, t = mixup(torch.stack([a, b]), torch.tensor([0, 1]), num_classes=2, lam=0.7)
    torch.testing.assert_close(t[0], torch.tensor([0.7, 0.3]))
    torch.testing.assert_close(x[0], 0.7 * a + 0.3 * b)


def test_note_example_cutmix_quarter_patch() -> None:
    # F0:49: a dog patch covering 25% of the image -> 0.75 * [cat] + 0.25 * [dog]
    cat, dog = torch.zeros(3, 8, 8), torch.ones(3, 8, 8)
    x, t = cutmix(torch.stack([cat, dog]), torch.tensor([0, 1]), num_classes=2, box=(2, 6, 0, 4))
    torch.testing.assert_close(t[0], torch.tensor([0.75, 0.25]))
    assert x[0].mean().item() == pytest.approx(0.25)
    assert torch.equal(x[0, :, 2:6, 0:4], dog[:, 2:6, 0:4])


@FAST
@given(
    n=st.integers(1, 9),
    k=st.integers(2, 6),
    mode=st.sampled_from(["batch", "pair", "elem"]),
    mixup_alpha=st.sampled_from([0.0, 0.2, 1.0]),
    cutmix_alpha=st.sampled_from([0.0, 0.5, 1.0]),
    smoothing=st.sampled_from([0.0, 0.1]),
    seed=st.integers(0, 10_000),
)
def test_targets_sum_to_one_and_carry_lambda(
    n: int, k: int, mode: str, mixup_alpha: float, cutmix_alpha: float, smoothing: float, seed: int
) -> None:
    g = _gen(seed)
    x = torch.rand(n, 3, 7, 6, generator=g)
    y = torch.randint(0, k, (n,), generator=g)
    out, t, info = mix(x, y, num_classes=k, mixup_alpha=mixup_alpha, cutmix_alpha=cutmix_alpha,
                       mode=mode, label_smoothing=smoothing, generator=g, return_info=True)  # fmt: skip
    assert out.shape == x.shape and t.shape == (n, k)
    torch.testing.assert_close(t.sum(1), torch.ones(n))
    onehot = soft_targets(y, k, label_smoothing=smoothing)
    lam = info.lam.float().unsqueeze(1)
    torch.testing.assert_close(t, lam * onehot + (1 - lam) * onehot[info.partner])
    # the images carry the same weights: mixup is a lerp; cutmix pastes exactly the box
    for i in range(n):
        j = int(info.partner[i])
        if info.cutmix[i]:
            y0, y1, x0, x1 = info.boxes[i].tolist()
            area = (y1 - y0) * (x1 - x0)
            assert info.lam[i].item() == 1 - area / (7 * 6)  # exact, not approximate
            ref = x[i].clone()
            ref[:, y0:y1, x0:x1] = x[j, :, y0:y1, x0:x1]
            assert torch.equal(out[i], ref)
        else:
            li = info.lam[i].float()
            torch.testing.assert_close(out[i], torch.lerp(x[i], x[j], 1 - li))


@FAST
@given(n=st.integers(1, 9), seed=st.integers(0, 10_000), alpha=st.sampled_from([0.3, 1.0, 4.0]))
def test_cutmix_weight_equals_pasted_area(n: int, seed: int, alpha: float) -> None:
    g = _gen(seed)
    x = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 2, 9, 11).contiguous()
    y = torch.arange(n) % 3
    out, _t, info = cutmix(x, y, num_classes=3, alpha=alpha, mode="elem", generator=g,
                          return_info=True)  # fmt: skip
    for i in range(n):
        j = int(info.partner[i])
        if j == i:
            continue
        pasted = (out[i, 0] == j).sum().item() / (9 * 11)  # share of pixels from the partner
        assert pasted == pytest.approx(1 - info.lam[i].item(), abs=1e-12)


def test_modes_share_draws_as_specified() -> None:
    g = _gen(3)
    x, y = torch.rand(8, 3, 6, 6), torch.arange(8) % 4
    _, _, info = mix(x, y, num_classes=4, mode="batch", generator=g, return_info=True)
    assert info.lam.unique().numel() == 1 and info.cutmix.unique().numel() == 1
    _, _, info = mix(x, y, num_classes=4, mode="pair", generator=g, return_info=True)
    p = info.partner
    assert torch.equal(p[p], torch.arange(8))  # a matching: partners of partners
    assert torch.equal(info.lam, info.lam[p]) and torch.equal(info.boxes, info.boxes[p])
    _, _, info = mix(x, y, num_classes=4, mode="elem", mixup_alpha=1.0, cutmix_alpha=0.0,
                     generator=g, return_info=True)  # fmt: skip
    assert info.lam.unique().numel() == 8


def test_pair_mode_keeps_both_images() -> None:
    g = _gen(5)
    x = torch.rand(6, 3, 8, 8)
    out, _, info = mix(x, torch.arange(6), num_classes=6, mode="pair", cutmix_alpha=1.0,
                       mixup_alpha=0.0, generator=g, return_info=True)  # fmt: skip
    for i in range(6):
        j = int(info.partner[i])
        torch.testing.assert_close(out[i] + out[j], x[i] + x[j])


@pytest.mark.parametrize("n", [1, 3])
def test_odd_and_single_batches_and_single_image(n: int) -> None:
    g = _gen(0)
    x, y = torch.rand(n, 3, 5, 5), torch.zeros(n, dtype=torch.long)
    for mode in ("batch", "pair", "elem"):
        out, t = mix(x, y, num_classes=2, mode=mode, generator=g)
        assert out.shape == x.shape and torch.allclose(t.sum(1), torch.ones(n))
    out, t = mix(x[0], torch.tensor(1), num_classes=2, generator=g)
    assert out.shape == (3, 5, 5) and torch.equal(t, torch.tensor([0.0, 1.0]))


def test_uint8_soft_targets_input_and_no_inplace() -> None:
    g = _gen(1)
    x = torch.randint(0, 256, (4, 3, 6, 6), dtype=torch.uint8)
    x0 = x.clone()
    soft = torch.softmax(torch.randn(4, 5), 1)
    out, t, info = mix(x, soft, mixup_alpha=1.0, cutmix_alpha=0.0, generator=g, return_info=True)
    assert out.dtype == torch.uint8 and torch.equal(x, x0)
    lam = info.lam[0].item()
    ref = (lam * x.float() + (1 - lam) * x[info.partner].float()).round()
    assert (out.float() - ref).abs().max() <= 1  # rounding of the float mix
    torch.testing.assert_close(t.sum(1), torch.ones(4))


def test_label_smoothing_applied_once() -> None:
    # PyTorch convention (SCOPE.md): (1 - e) * onehot + e / K, K = 3, e = 0.1
    t = soft_targets(torch.tensor([0]), 3, label_smoothing=0.1)
    torch.testing.assert_close(t, torch.tensor([[0.9333333, 0.0333333, 0.0333333]]))
    _, tm = mixup(torch.rand(2, 1, 2, 2), torch.tensor([0, 0]), num_classes=3, lam=0.6,
                  label_smoothing=0.1)  # fmt: skip
    torch.testing.assert_close(tm, t.expand(2, 3))  # same class mixed: smoothing not doubled


def test_notes_smoothing_convention() -> None:
    # SCOPE.md / F4:1369: 1 - e on the class and e / (K - 1) elsewhere: [0.9, 0.05, 0.05]
    t = soft_targets(torch.tensor([0]), 3, label_smoothing=0.1, smoothing="notes")
    torch.testing.assert_close(t, torch.tensor([[0.9, 0.05, 0.05]]))
    g = _gen(0)
    _, tm = mix(torch.rand(4, 1, 4, 4), torch.tensor([0, 1, 2, 0]), num_classes=3,
                label_smoothing=0.1, smoothing="notes", generator=g)  # fmt: skip
    torch.testing.assert_close(tm.sum(1), torch.ones(4))
    with pytest.raises(ValueError, match="smoothing"):
        soft_targets(torch.tensor([0]), 3, label_smoothing=0.1, smoothing="timm")


def test_mixed_soft_targets_with_torch_cross_entropy() -> None:
    logits = torch.randn(4, 3)
    _, t = mixup(torch.rand(4, 1, 2, 2), torch.tensor([0, 1, 2, 0]), num_classes=3, lam=0.7)
    ref = -(t * torch.log_softmax(logits, 1)).sum(1).mean()
    torch.testing.assert_close(torch.nn.functional.cross_entropy(logits, t), ref)


def test_same_seed_same_output_and_module_state_roundtrip() -> None:
    x, y = torch.rand(6, 3, 8, 8), torch.arange(6) % 3
    a = mix(x, y, num_classes=3, mode="elem", generator=_gen(7))
    b = mix(x, y, num_classes=3, mode="elem", generator=_gen(7))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    m = Mixup(3, mode="elem", seed=11)
    m(x, y)
    state = m.state_dict()
    expected = m(x, y)
    m2 = Mixup(3, mode="elem", seed=0)
    m2.load_state_dict(state)
    got = m2(x, y)
    assert torch.equal(expected[0], got[0]) and torch.equal(expected[1], got[1])


def test_beta_lambda_distribution() -> None:
    # E[lam] = 1/2 and Var[lam] = 1 / (4 (2a + 1)) for Beta(a, a); 4,000 draws
    from trainlab.augment._common import sample_beta

    for a in (0.2, 1.0, 3.0):
        lam = sample_beta((4000,), a, _gen(0), torch.device("cpu"))
        assert ((lam >= 0) & (lam <= 1)).all()
        assert lam.mean().item() == pytest.approx(0.5, abs=0.03)
        assert lam.var().item() == pytest.approx(1 / (4 * (2 * a + 1)), rel=0.1)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"mixup_alpha": -0.1}, "mixup_alpha"),
        ({"cutmix_alpha": -1.0}, "cutmix_alpha"),
        ({"switch_prob": 1.5}, "switch_prob"),
        ({"prob": -0.1}, "prob"),
        ({"mode": "batchwise"}, "mode"),
        ({"label_smoothing": 2.0}, "label_smoothing"),
    ],
)
def test_bad_parameters_raise(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name}:"):
        mix(torch.rand(2, 3, 4, 4), torch.tensor([0, 1]), num_classes=2, generator=_gen(0),
            **kwargs)  # fmt: skip
    with pytest.raises(ValueError, match=rf"^{name}:"):
        Mixup(2, **kwargs)


def test_bad_inputs_raise() -> None:
    g = _gen(0)
    with pytest.raises(ValueError, match=r"^y: expected 1 targets"):  # (C, H, W) is one image
        mix(torch.rand(2, 4, 4), torch.tensor([0, 1]), num_classes=2, generator=g)
    with pytest.raises(ValueError, match=r"^x: .*rank 2"):
        mix(torch.rand(4, 4), torch.tensor([0]), num_classes=2, generator=g)
    with pytest.raises(ValueError, match=r"^x: expected dtype"):
        mix(torch.zeros(2, 3, 4, 4, dtype=torch.int32), torch.tensor([0, 1]), num_classes=2,
            generator=g)  # fmt: skip
    with pytest.raises(ValueError, match="num_classes"):
        mix(torch.rand(2, 3, 4, 4), torch.tensor([0, 1]), generator=g)
    with pytest.raises(ValueError, match="y"):
        mix(torch.rand(2, 3, 4, 4), torch.tensor([0, 5]), num_classes=2, generator=g)
    with pytest.raises(TypeError, match="generator"):
        mix(torch.rand(2, 3, 4, 4), torch.tensor([0, 1]), num_classes=2, generator=None)
    with pytest.raises(ValueError, match="lam"):
        mixup(torch.rand(2, 3, 4, 4), torch.tensor([0, 1]), num_classes=2, lam=1.5)
    with pytest.raises(ValueError, match="box"):
        cutmix(torch.rand(2, 3, 4, 4), torch.tensor([0, 1]), num_classes=2, box=(0, 5, 0, 2))


@pytest.mark.parametrize("dtype", [torch.float32, torch.uint8])
def test_vectorized_path_equals_per_image_path(dtype: torch.dtype) -> None:
    from trainlab.augment._mix_apply import _apply_mix_per_image, _apply_mix_vectorized
    from trainlab.augment.mixup import _draw

    g = _gen(2)
    x = (torch.rand(9, 3, 10, 12, generator=g) * 255).to(dtype)
    info = _draw(x, mode="elem", prob=0.9, mixup_alpha=0.5, cutmix_alpha=1.0, switch_prob=0.5,
                 generator=g)  # fmt: skip
    a, b = _apply_mix_per_image(x, info), _apply_mix_vectorized(x, info)
    torch.testing.assert_close(a.float(), b.float(), atol=1.0 if dtype == torch.uint8 else 1e-6,
                               rtol=0)  # fmt: skip


@pytest.mark.parametrize("mode", ["batch", "pair"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.uint8])
def test_whole_batch_cutmix_path_equals_per_image_path(mode: str, dtype: torch.dtype) -> None:
    # the CPU CutMix fast path (clone + index_copy_ of the shared box) matches the loop
    from trainlab.augment._mix_apply import _apply_mix_per_image, apply_mix
    from trainlab.augment.mixup import _draw

    for seed in range(4):
        g = _gen(seed)
        x = (torch.rand(7, 3, 10, 12, generator=g) * 255).to(dtype)
        info = _draw(x, mode=mode, prob=1.0, mixup_alpha=0.0, cutmix_alpha=1.0, switch_prob=0.5,
                     generator=g)  # fmt: skip
        assert bool(info.cutmix.all())
        assert torch.equal(_apply_mix_per_image(x, info), apply_mix(x, info))


def test_cutmix_shared_box_with_repeated_partner_pastes_from_that_partner() -> None:
    # partner not a permutation: the whole-batch path does not apply, the result is still exact
    x = torch.arange(3 * 2 * 4 * 4, dtype=torch.float32).reshape(3, 2, 4, 4)
    out, _ = cutmix(x, torch.tensor([0, 1, 2]), num_classes=3, box=(1, 3, 0, 2),
                    partner=torch.tensor([2, 2, 0]))  # fmt: skip
    for i, j in enumerate([2, 2, 0]):
        ref = x[i].clone()
        ref[:, 1:3, 0:2] = x[j, :, 1:3, 0:2]
        assert torch.equal(out[i], ref)
