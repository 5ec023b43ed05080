"""Drop path / stochastic depth (F0:69-78): identity in eval, expectation preserved."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trainlab.regularize import DropPath, drop_path, drop_path_rates


def test_identity_in_eval_and_at_zero() -> None:
    x = torch.randn(8, 4, 3, 3)
    assert drop_path(x, 0.5, training=False) is x
    assert drop_path(x, 0.0, training=True) is x
    m = DropPath(0.3).eval()
    assert torch.equal(m(x), x)


@settings(max_examples=20, deadline=None)
@given(p=st.floats(0.05, 0.9), seed=st.integers(0, 1000))
def test_survivors_scaled_and_expectation_preserved(p: float, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    n = 20_000
    x = torch.randn(n, 3, generator=g).abs() + 0.5
    out = drop_path(x, p, training=True, generator=g)
    kept = (out != 0).all(1)
    dropped = (out == 0).all(1)
    assert bool((kept | dropped).all())  # whole samples are dropped
    torch.testing.assert_close(out[kept], x[kept] / (1 - p))
    # E[mask] = 1: the kept fraction is 1 - p within 5 standard errors
    se = (p * (1 - p) / n) ** 0.5
    assert abs(kept.float().mean().item() - (1 - p)) < 5 * se
    ones = drop_path(torch.ones(n, 1), p, training=True, generator=g)
    assert abs(ones.mean().item() - 1.0) < 5 * se / (1 - p)


def test_module_train_mode_generator_and_no_scaling() -> None:
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    x = torch.ones(64, 2)
    a = DropPath(0.5, generator=g1).train()(x)
    b = DropPath(0.5, generator=g2).train()(x)
    assert torch.equal(a, b) and set(a.unique().tolist()) == {0.0, 2.0}
    c = drop_path(x, 0.5, training=True, scale_by_keep=False, generator=g1)
    assert set(c.unique().tolist()) <= {0.0, 1.0}
    assert drop_path(x, 1.0, training=True).abs().sum() == 0
    assert "drop_prob=0.500" in repr(DropPath(0.5))


def test_linear_rates_over_depth() -> None:
    torch.testing.assert_close(
        torch.tensor(drop_path_rates(0.1, 5)), torch.linspace(0, 0.1, 5), rtol=0, atol=1e-12
    )
    assert drop_path_rates(0.4, 4, rule="paper") == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert drop_path_rates(0.3, 1) == [0.0] and drop_path_rates(0.3, 0) == []


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_bad_probability_raises(bad: float) -> None:
    with pytest.raises(ValueError, match="drop_prob"):
        DropPath(bad)
    with pytest.raises(ValueError, match="drop_prob"):
        drop_path(torch.ones(2), bad, training=True)
    with pytest.raises(ValueError, match="rule"):
        drop_path_rates(0.1, 3, rule="quadratic")
