"""Numerics: extreme logits stay finite, half precision accumulates in float32."""

import pytest
import torch

import trainlab.losses as L

BIG = 1e4


def _finite_with_grad(fn, *inputs):
    xs = [x.clone().requires_grad_() for x in inputs]
    out = fn(*xs)
    out = torch.cat([o.reshape(-1) for o in out]) if isinstance(out, tuple) else out
    assert torch.isfinite(out).all(), out
    grads = torch.autograd.grad(out.sum(), xs)
    for g in grads:
        assert torch.isfinite(g).all(), g
    return out


def test_classification_losses_at_logits_1e4():
    x = torch.tensor([[BIG, -BIG, 0.0], [-BIG, -BIG, BIG]])
    y = torch.tensor([1, 2])
    soft = torch.tensor([[0.2, 0.8, 0.0], [0.0, 0.5, 0.5]])
    for smoothing in ("standard", "notes"):
        out = _finite_with_grad(lambda a, s=smoothing: L.cross_entropy(a, y, label_smoothing=0.1,
                                                                        smoothing=s), x)  # fmt: skip
        assert out.item() > 1e3  # a confident mistake costs ~1e4, not inf
        _finite_with_grad(lambda a, s=smoothing: L.cross_entropy(a, soft, label_smoothing=0.1,
                                                                 smoothing=s), x)  # fmt: skip
    z = torch.tensor([BIG, -BIG, BIG, -BIG])
    t = torch.tensor([0.0, 1.0, 1.0, 0.0])
    for fused in (True, False):
        out = _finite_with_grad(lambda a, f=fused: L.binary_cross_entropy_with_logits(
            a, t, pos_weight=torch.tensor(3.0), reduction="none", fused=f), z)  # fmt: skip
        assert out.tolist() == [BIG, 3 * BIG, 0.0, 0.0]
    pm = t * 2 - 1
    assert _finite_with_grad(lambda a: L.soft_margin_loss(a, pm, reduction="none"), z).tolist() == [
        BIG, BIG, 0.0, 0.0]  # fmt: skip
    _finite_with_grad(lambda a: L.hinge_loss(a, pm), z)
    _finite_with_grad(lambda a: L.multiclass_hinge_loss(a, y, p=2), x)


def test_other_losses_at_logits_1e4():
    z = torch.tensor([BIG, -BIG, 0.0])
    _finite_with_grad(lambda r, f: L.discriminator_loss(r, f), z, -z)
    _finite_with_grad(lambda r, f: L.gan_value(r, f, reduction="none"), z, z)
    _finite_with_grad(L.generator_loss_minimax, z)
    _finite_with_grad(L.generator_loss_nonsaturating, z)
    _finite_with_grad(L.hinge_discriminator_loss, z, z)
    seg = torch.tensor([[[BIG, -BIG], [-BIG, BIG]]])  # (1, 2, 2) logits
    _finite_with_grad(lambda a: L.dice_loss(a, torch.tensor([[0, 1]]), from_logits=True), seg)
    _finite_with_grad(
        lambda a: L.dice_loss(a[:, :1], torch.tensor([[0, 1]]), from_logits=True), seg
    )
    logits = torch.tensor([[BIG, 0.0, -BIG]])
    p = torch.tensor([[0.5, 0.5, 0.0]])
    _finite_with_grad(lambda a: L.kl_divergence(p, a.log_softmax(-1), log_q=True), logits)
    _finite_with_grad(lambda a: L.cross_entropy_of(p, a.log_softmax(-1), log_q=True), logits)
    mask = torch.tensor([[True, False, True]])
    _finite_with_grad(lambda a: L.masked_bce_with_logits_loss(a, p, mask), logits)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_accumulates_in_float32(dtype):
    # 300 errors of 300: each square (9e4) overflows float16 (max 65504); float32 sums do not
    x = torch.full((300,), 300.0, dtype=dtype)
    zero = torch.zeros(300, dtype=dtype)
    for fn, expected in [(L.mse_loss, 9e4), (L.l1_loss, 300.0), (L.huber_loss, 299.5)]:
        for fused in (True, False):
            out = fn(x, zero, fused=fused)
            assert out.dtype == torch.float32
            assert out.item() == pytest.approx(expected)
    assert L.mse_loss(x, zero, reduction="sum").item() == pytest.approx(300 * 9e4)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_matches_float32_of_same_values(gen, dtype):
    x = (torch.randn(64, 10, generator=gen) * 4).to(dtype)
    y = torch.randint(0, 10, (64,), generator=gen)
    out = L.cross_entropy(x, y, label_smoothing=0.1)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, L.cross_entropy(x.float(), y, label_smoothing=0.1))
    xb = x.clone().requires_grad_()
    L.cross_entropy(xb, y).backward()
    assert xb.grad.dtype == dtype and torch.isfinite(xb.grad.float()).all()
    t = torch.rand(64, 10, generator=gen).round().to(dtype)
    torch.testing.assert_close(L.binary_cross_entropy_with_logits(x, t),
                               L.binary_cross_entropy_with_logits(x.float(), t.float()))  # fmt: skip
    p = torch.softmax(x.float(), 1).to(dtype)
    torch.testing.assert_close(L.dice_loss(p.unsqueeze(-1), y.unsqueeze(-1)),
                               L.dice_loss(p.float().unsqueeze(-1), y.unsqueeze(-1)))  # fmt: skip
