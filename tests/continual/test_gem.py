"""GEM's projection (the notes' example, F3:4702-4728), its exact dual QP against
scipy's NNLS, feasibility as a property, and A-GEM's closed form."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import nnls

from trainlab.continual import project_agem, project_gem, solve_dual


def test_notes_example():
    # g = [1, 0], one memory gradient g1 = [-1, 1]: <g, g1> = -1 < 0, so g is projected on
    # the plane <g', g1> = 0: g' = g - (<g, g1> / |g1|^2) g1 = [1, 0] + 0.5 [-1, 1]
    g = torch.tensor([1.0, 0.0], dtype=torch.float64)
    g1 = torch.tensor([[-1.0, 1.0]], dtype=torch.float64)
    out = project_gem(g, g1)
    torch.testing.assert_close(out, torch.tensor([0.5, 0.5], dtype=torch.float64))
    torch.testing.assert_close(project_agem(g, g1[0]), out)  # one constraint: the same


def test_feasible_gradient_is_kept():
    g = torch.tensor([1.0, 2.0, 3.0])
    mem = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, -0.1]])
    assert project_gem(g, mem) is g
    assert project_agem(g, mem[0]) is g


def test_margin_asks_for_a_strict_decrease():
    g = torch.tensor([1.0, 0.0], dtype=torch.float64)
    g1 = torch.tensor([[-1.0, 1.0]], dtype=torch.float64)
    out = project_gem(g, g1, margin=0.5)
    assert float(g1[0] @ out) == pytest.approx(0.5, abs=1e-12)


@st.composite
def problems(draw):
    k = draw(st.integers(1, 6))
    p = draw(st.integers(2, 12))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    g = rng.normal(size=p)
    mem = rng.normal(size=(k, p))
    if draw(st.booleans()) and k > 1:  # a duplicated constraint: G G^T singular
        mem[1] = mem[0]
    return torch.tensor(g), torch.tensor(mem)


@given(problems())
def test_projection_is_feasible_and_optimal(problem):
    g, mem = problem
    out = project_gem(g, mem)
    # feasibility: no memory gradient has a negative inner product with g' (to rounding)
    assert bool((mem @ out >= -1e-9 * (1 + mem.norm(dim=1) * out.norm())).all())
    # optimality: the dual is NNLS min_v ||G^T v + g|| (v >= 0), and g' = g + G^T v
    v, _ = nnls(mem.numpy().T, -g.numpy(), maxiter=1000)
    ref = g.numpy() + mem.numpy().T @ v
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-8)


def test_dual_kkt_conditions():
    rng = np.random.default_rng(3)
    mem = torch.tensor(rng.normal(size=(5, 20)))
    g = -mem.sum(0)  # violates every constraint
    q = mem @ g
    v = solve_dual(mem @ mem.T, q)
    grad = mem @ mem.T @ v + q  # = G g'
    assert bool((v >= 0).all())
    assert bool((grad >= -1e-10).all())
    assert float((v * grad).abs().max()) < 1e-10  # complementary slackness


def test_agem_closed_form():
    g = torch.tensor([2.0, -1.0, 0.5], dtype=torch.float64)
    ref = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64)  # <g, ref> = 1 >= 0: kept
    assert project_agem(g, ref) is g
    ref = torch.tensor([-1.0, 1.0, 0.0], dtype=torch.float64)  # <g, ref> = -3, |ref|^2 = 2
    out = project_agem(g, ref)
    torch.testing.assert_close(out, g + 1.5 * ref)
    assert float(out @ ref) == pytest.approx(0.0, abs=1e-12)


def test_bad_memory_shape():
    with pytest.raises(ValueError, match="memory_grads"):
        project_gem(torch.zeros(3), torch.zeros(2, 4))


def _loss_of(model):
    return lambda x, y, t: torch.nn.functional.cross_entropy(model(x), y)


def test_gem_method_projects_the_model_gradient():
    from trainlab.continual import GEM
    from trainlab.data import Split

    g = torch.Generator().manual_seed(0)
    with torch.random.fork_rng():  # a seeded init (it came from whatever ran before), one
        torch.manual_seed(1)  # whose gradient violates a memory's constraint
        model = torch.nn.Linear(4, 3).double()
    gem = GEM(8, seed=0)
    for t in range(3):  # three finished tasks, 8 memories each
        gem.end_task(model, Split(torch.randn(20, 4, generator=g).double(),
                                  torch.randint(0, 3, (20,), generator=g)), t, None, None)  # fmt: skip
    x, y = torch.randn(16, 4, generator=g).double(), torch.randint(0, 3, (16,), generator=g)
    loss_of = _loss_of(model)
    params = list(model.parameters())
    loss_of(-3 * x, y, None).backward()  # a gradient far from the memories'
    g0 = torch.cat([p.grad.reshape(-1) for p in params])
    mem = torch.stack([
        torch.cat([d.reshape(-1) for d in torch.autograd.grad(
            loss_of(gem.memory.x[i], gem.memory.y[i], None), params)])
        for i in range(3)
    ])  # fmt: skip
    gem.project(params, loss_of)
    g1 = torch.cat([p.grad.reshape(-1) for p in params])
    torch.testing.assert_close(g1, project_gem(g0, mem))
    assert bool((mem @ g1 >= -1e-10).all())
    assert bool((mem @ g0 < 0).any())  # the gradient did violate a constraint
