"""Tests of landau_lite.analysis.continuity: the continuity form by quadrature and from particles.

Wrong answers these tests catch: a sign or a factor (C twice, d - 1 instead of 2) in the closed-form drift of a
Maxwellian, which the polar quadrature must not share; a weak-form rate with the wrong sign or scale; a BKW
dissipation that is not -dH/dt.
"""

from __future__ import annotations

import math

import pytest
import torch

from landau_lite import closed_forms as cf
from landau_lite import problems
from landau_lite.analysis import continuity as ct
from landau_lite.analysis import divergences as dv
from landau_lite.analysis import quadrature as qd

torch.set_num_threads(1)
F64 = torch.float64


@pytest.mark.parametrize("d", [2, 3])
def test_collision_coefficients_match_the_maxwellian_closed_forms(d):
    T, C = 1.3, 0.7
    Mx = problems.Maxwellian(d, T=T)
    v = Mx.sample(12, generator=torch.Generator().manual_seed(3)).to(F64)
    v[0] = 0.0
    a, b = ct.collision_coefficients(v, lambda w: Mx.density(w, 0.0), C=C, r_max=8 + 14 * math.sqrt(T), n_angles=32)
    a_cf, b_cf = cf.maxwellian_collision_matrix(v, T, C=C), cf.maxwellian_drift(v, T, C=C)
    assert float((a - a_cf).abs().max() / a_cf.abs().max()) < 1e-10
    assert float((b - b_cf).abs().max() / b_cf.abs().max()) < 1e-10
    # a wrong closed form would be far off: the drift with the opposite sign, or C counted twice
    assert float((b + b_cf).abs().max() / b_cf.abs().max()) > 1.0
    assert float((C * b_cf - b).abs().max() / b_cf.abs().max()) > 0.2
    # U[M_T] = -abar grad log M_T + bbar = 0 from the quadrature values alone
    U = -(a @ Mx.score(v, 0.0)[..., None])[..., 0] + b
    assert float(U.abs().max() / b.abs().max()) < 1e-9


def test_collision_coefficients_of_maxwell_molecules_are_moments():
    # gamma = 0: abar[f](v) = C[(|v - u|^2 + tr S) I - (v - u)(v - u)^T - S] for any f with mean u, covariance S
    S = torch.diag(torch.tensor([1.8, 0.2, 1.0], dtype=F64))
    u = torch.tensor([0.3, -0.2, 0.1], dtype=F64)
    prec, logdet = torch.linalg.inv(S), torch.logdet(S)

    def g(w):
        y = w - u
        return torch.exp(-0.5 * (y @ prec * y).sum(1) - 0.5 * logdet) / (2 * math.pi) ** 1.5

    v = torch.tensor([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]], dtype=F64)
    a, b = ct.collision_coefficients(v, g, gamma=0.0, C=0.25, r_max=18.0, n_angles=48)
    assert torch.allclose(a, cf.maxwell_molecules_collision_matrix(v, u, S, C=0.25), rtol=1e-9, atol=1e-11)
    assert torch.allclose(b, cf.maxwell_molecules_drift(v, u, C=0.25), rtol=1e-9, atol=1e-11)


def test_weak_form_rates_of_maxwell_molecules():
    # d/dt Sigma = 4C (tr Sigma I - d Sigma) for gamma = 0; phi = v_k^2 gives the diagonal
    g = torch.Generator().manual_seed(0)
    p = problems.AnisotropicGaussian(3)
    x = p.sample(60_000, generator=g).to(F64)
    s = p.score(x, p.t0)
    grads = torch.stack([2 * x[:, k:k + 1] * torch.eye(3, dtype=F64)[k] for k in range(3)], dim=1)
    rate, se = ct.weak_form_rate(x, s, grads, gamma=0.0, C=p.C, backend="moments")
    S0 = p.reference(p.t0)["cov"]
    exact = 4 * p.C * (torch.trace(S0) - 3 * torch.diagonal(S0))
    assert rate.shape == se.shape == (3,)
    assert bool(((rate - exact).abs() < 4 * se).all()) and float(se.max()) < 0.05
    # momentum (phi = v_k) and energy (phi = |v|^2) are conserved by the pair form for any samples
    r_mom, _ = ct.weak_form_rate(x, s, torch.eye(3, dtype=F64).expand(x.shape[0], 3, 3), gamma=0.0, C=p.C,
                                 backend="moments")
    r_ene, _ = ct.weak_form_rate(x, s, 2 * x, gamma=0.0, C=p.C, backend="moments")
    assert float(r_mom.abs().max()) < 1e-12 and abs(float(r_ene)) < 1e-12


def test_bkw_dissipation_is_minus_the_entropy_rate():
    p = problems.BKW(3)
    quad = qd.radial_quadrature(3, 14.0, panels=32, power=3.0)
    H = lambda t: float(dv.entropy(lambda v: p.log_density(v, t), quad, log_densities=True))
    h, t = 1e-4, 6.5
    dHdt = (-H(t + 2 * h) + 8 * H(t + h) - 8 * H(t - h) + H(t - 2 * h)) / (12 * h)
    assert ct.bkw_dissipation(p, t) == pytest.approx(-dHdt, rel=1e-7)


def test_validation():
    M = lambda w: torch.exp(-(w * w).sum(1))
    with pytest.raises(ValueError, match="v.shape"):
        ct.collision_coefficients(torch.zeros(2, 4, dtype=F64), M)
    with pytest.raises(TypeError, match="density"):
        ct.collision_coefficients(torch.zeros(2, 3, dtype=F64), "M")
    with pytest.raises(ValueError, match="gamma"):
        ct.collision_coefficients(torch.zeros(2, 3, dtype=F64), M, gamma=-4.5)
    with pytest.raises(ValueError, match="density must return"):
        ct.collision_coefficients(torch.zeros(1, 3, dtype=F64), lambda w: w)
    x = torch.randn(40, 3, dtype=F64)
    with pytest.raises(ValueError, match="grad_phi"):
        ct.weak_form_rate(x, x, torch.zeros(40, 2, dtype=F64), gamma=0.0)
    with pytest.raises(ValueError, match="n_batches"):
        ct.weak_form_rate(x[:5], x[:5], x[:5], gamma=0.0, n_batches=3)
    with pytest.raises(TypeError, match="BKW"):
        ct.bkw_dissipation(problems.Maxwellian(3), 1.0)
    with pytest.raises(ValueError, match="t"):
        ct.bkw_dissipation(problems.BKW(3), 1.0)          # before the critical time
