"""Tests of landau_lite.analysis.coercivity: shell theorem, subordination formula, constants, Monte-Carlo estimate."""

from __future__ import annotations

import math

import pytest
import torch

from landau_lite.analysis import coercivity as co
from landau_lite.closed_forms import maxwellian_collision_matrix, maxwellian_lambdas
from landau_lite.problems import BKW

torch.set_num_threads(1)
F64 = torch.float64


def maxwellian_profile(T):
    return lambda rho: (2 * math.pi * T) ** -1.5 * torch.exp(-0.5 * rho ** 2 / T)


@pytest.mark.parametrize("T", [0.3, 1.0, 2.5])
def test_shell_theorem_matches_closed_forms(T):
    r = torch.tensor([0.0, 1e-4, 0.2, 1.0, 2.7, 10.0, 300.0], dtype=F64)
    lp, lq = co.radial_collision_eigenvalues(r, maxwellian_profile(T), C=0.7, r_max=13 * math.sqrt(T))
    cp, cq = maxwellian_lambdas(r, T, C=0.7)
    assert torch.allclose(lp, cp, rtol=1e-12, atol=0)
    assert torch.allclose(lq, cq, rtol=1e-12, atol=0)


def test_radial_lambda_par_is_the_smaller_one():
    p = BKW(3)
    prof = lambda rho: p.density(torch.stack([rho, 0 * rho, 0 * rho], 1), p.t0)
    r = torch.linspace(0, 8, 41, dtype=F64)
    lp, lq = co.radial_collision_eigenvalues(r, prof)
    assert bool((lp <= lq * (1 + 1e-14)).all())
    assert abs(float(lp[0] - lq[0])) < 1e-14


@pytest.mark.parametrize("d", [2, 3])
def test_gaussian_formula_matches_maxwellian_closed_forms(d):
    g = torch.Generator().manual_seed(1)
    v = 2.0 * torch.randn(20, d, generator=g, dtype=F64)
    mean = torch.full((d,), 0.3, dtype=F64)
    a = co.gaussian_collision_matrix(v, mean, 1.7 * torch.eye(d, dtype=F64), C=0.5)
    ref = maxwellian_collision_matrix(v, 1.7, C=0.5, mean=mean)
    assert torch.allclose(a, ref, rtol=1e-10, atol=1e-13)


def test_gaussian_mixture_is_linear_and_matches_monte_carlo():
    mu = torch.tensor([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]], dtype=F64)
    S = torch.diag(torch.tensor([0.8, 0.2, 1.0], dtype=F64))
    v = torch.tensor([[0.0, 0.0, 0.0], [0.5, 1.0, -0.3], [3.0, 0.0, 0.0]], dtype=F64)
    a = co.gaussian_collision_matrix(v, mu, S, weights=torch.tensor([0.25, 0.75], dtype=F64))
    a1 = co.gaussian_collision_matrix(v, mu[0], S)
    a2 = co.gaussian_collision_matrix(v, mu[1], S)
    assert torch.allclose(a, 0.25 * a1 + 0.75 * a2, rtol=1e-13, atol=1e-15)
    g = torch.Generator().manual_seed(0)
    n = 60_000
    comp = (torch.rand(n, generator=g, dtype=F64) < 0.25).to(F64)[:, None]
    z = torch.randn(n, 3, generator=g, dtype=F64) @ torch.sqrt(S)
    x = z + comp * mu[0] + (1 - comp) * mu[1]
    m, se = co.collision_matrix_batch_means(v, x, gamma=-3.0, n_batches=20)
    assert bool(((m - a).abs() <= 5 * se + 1e-12).all())


def test_far_field_limit_along_rays():
    S = torch.diag(torch.tensor([1.8, 0.2, 1.0], dtype=F64))
    for e in torch.eye(3, dtype=F64):
        v = 500.0 * e[None]
        a = co.gaussian_collision_matrix(v, torch.zeros(3, dtype=F64), S)
        val = float(co.weighted_lambda_min(a, v))
        lim = float(co.far_field_limit(S, e))
        assert abs(val - lim) < 1e-3 * lim
    assert abs(float(co.coercivity_upper_bound(S)) - 1.2) < 1e-14
    lims = co.far_field_limit(S, torch.eye(3, dtype=F64), C=2.0)
    assert torch.allclose(lims, torch.tensor([2.4, 5.6, 4.0], dtype=F64))


@pytest.mark.parametrize("T", [0.1, 0.5, 1.0, 2.0])
def test_radial_constant_matches_closed_form_constant(T):
    c, r_star = co.coercivity_constant_radial(maxwellian_profile(T), r_max=13 * math.sqrt(T))
    assert abs(c - co.coercivity_constant_maxwellian(T)) < 1e-9 * c
    if T < 0.3:
        assert r_star == math.inf and abs(c - 2 * T) < 1e-9
    else:
        assert r_star == 0.0


def test_line_concentration_collapses_the_constant():
    vals = []
    for eps in (1e-1, 1e-2, 1e-3):
        S = torch.diag(torch.tensor([1.0, eps, eps], dtype=F64))
        r = torch.tensor([0.0, 2.0, 10.0, 100.0], dtype=F64)
        v = r[:, None] * torch.tensor([[1.0, 0.0, 0.0]], dtype=F64)
        a = co.gaussian_collision_matrix(v, torch.zeros(3, dtype=F64), S)
        w = co.weighted_lambda_min(a, v)
        assert float(w.min()) <= 2 * eps * 1.01
        vals.append(float(co.coercivity_upper_bound(S)))
    assert vals == sorted(vals, reverse=True) and vals[-1] < 3e-3


# ----------------------------------------------------------------------------------------------
# the Maxwellian constant: table of values and the closed form min(lambda(0), (d-1) C T)
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("d,table", [
    (3, {0.1: 0.2000, 0.25: 0.5000, 0.5: 0.7523, 1.0: 0.5319, 2.0: 0.3761}),
    (2, {0.1: 0.1000, 0.25: 0.2500, 0.5: 0.5000, 1.0: 0.6267, 2.0: 0.4431}),
])
def test_coercivity_constants_table(d, table):
    for T, c in table.items():
        got = co.coercivity_constant_maxwellian(T, d=d)
        assert got == pytest.approx(c, abs=6e-5)
        lam0 = float(maxwellian_lambdas(torch.zeros(1, dtype=F64), T, d=d)[0])
        assert got == pytest.approx(min(lam0, (d - 1) * T), rel=1e-9)
        # it is a lower bound of lambda_min <v>^3 on a random set of radii
        r = torch.rand(2000, generator=torch.Generator().manual_seed(0), dtype=F64) * 20
        lp, lq = maxwellian_lambdas(r, T, d=d)
        assert float((torch.minimum(lp, lq) * (1 + r * r) ** 1.5).min()) >= got * (1 - 1e-12)
    assert co.coercivity_constant_maxwellian(1.0, d=d, C=0.5) == pytest.approx(0.5 * co.coercivity_constant_maxwellian(1.0, d=d))


def test_coercivity_constant_on_grid():
    v = torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 2.0], [3.0, 0.0, 0.0]], dtype=F64)
    a = torch.stack([torch.eye(3, dtype=F64), 0.01 * torch.eye(3, dtype=F64), torch.diag(torch.tensor([2.0, 0.5, 1.0],
                                                                                                    dtype=F64))])
    # lambda_min <v>^3 at the three points: 1, 0.01 * 10^1.5 = 0.316, 0.5 * 10^1.5 = 15.8 -> the minimum is the second
    assert float(co.coercivity_constant_on_grid(a, v, gamma=-3.0)) == pytest.approx(0.01 * 10 ** 1.5, rel=1e-14)
    # Maxwell molecules: no weight
    assert float(co.coercivity_constant_on_grid(a, v, gamma=0.0)) == pytest.approx(0.01, rel=1e-14)
    with pytest.raises(ValueError, match="shape"):
        co.coercivity_constant_on_grid(a[:2], v, gamma=-3.0)


def test_dtype_and_validation():
    v = torch.zeros(2, 3, dtype=torch.float32)
    a = co.gaussian_collision_matrix(v, torch.zeros(3), torch.eye(3))
    assert a.dtype == torch.float32 and a.shape == (2, 3, 3)
    lp, _ = co.radial_collision_eigenvalues(torch.zeros(2, dtype=torch.float32), maxwellian_profile(1.0))
    assert lp.dtype == torch.float32
    with pytest.raises(ValueError, match="r must be >= 0"):
        co.radial_collision_eigenvalues(torch.tensor([-1.0], dtype=F64), maxwellian_profile(1.0))
    with pytest.raises(TypeError, match="profile"):
        co.radial_collision_eigenvalues(torch.tensor([1.0], dtype=F64), 3.0)
    with pytest.raises(ValueError, match="positive definite"):
        co.gaussian_collision_matrix(torch.zeros(1, 3, dtype=F64), torch.zeros(3, dtype=F64),
                                     torch.diag(torch.tensor([1.0, 0.0, 1.0], dtype=F64)))
    with pytest.raises(ValueError, match="weights"):
        co.gaussian_collision_matrix(torch.zeros(1, 3, dtype=F64), torch.zeros(2, 3, dtype=F64),
                                     torch.eye(3, dtype=F64), weights=torch.tensor([0.3, 0.3], dtype=F64))
    with pytest.raises(ValueError, match="means"):
        co.gaussian_collision_matrix(torch.zeros(1, 3, dtype=F64), torch.zeros(2, dtype=F64), torch.eye(3, dtype=F64))
    with pytest.raises(ValueError, match="direction must be non-zero"):
        co.far_field_limit(torch.eye(3, dtype=F64), torch.zeros(3, dtype=F64))
    with pytest.raises(ValueError, match="n_batches"):
        co.collision_matrix_batch_means(torch.zeros(1, 3, dtype=F64), torch.zeros(5, 3, dtype=F64), gamma=-3.0,
                                        n_batches=10)
    with pytest.raises(ValueError, match="step"):
        co.gaussian_collision_matrix(torch.zeros(1, 3, dtype=F64), torch.zeros(3, dtype=F64), torch.eye(3, dtype=F64),
                                     step=2.0)
