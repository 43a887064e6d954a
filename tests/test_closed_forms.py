"""Tests of landau_lite.closed_forms against independent quadratures, particle sums and Monte-Carlo values."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from numpy.polynomial.hermite_e import hermegauss
from numpy.polynomial.legendre import leggauss

from landau_lite.closed_forms import (
    maxwell_covariance,
    maxwell_fourth_moment,
    maxwell_molecules_collision_matrix,
    maxwell_molecules_drift,
    maxwellian_collision_matrix,
    maxwellian_drift,
    maxwellian_lambdas,
)
from landau_lite.kernel import CollisionKernel

torch.set_num_threads(1)
F64 = torch.float64


# ----------------------------------------------------------------------------------------------
# independent quadratures of abar[M_T] and bbar[M_T] (gamma = -3), v = (r, 0, ...)
# In polar coordinates around v the integrands are smooth: A(z) dz = |z|^{-1} Pi(w) rho^{d-1} drho dw.
# ----------------------------------------------------------------------------------------------

def _gl(n: int, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    x, w = leggauss(n)
    return (x + 1) * (b - a) / 2 + a, w * (b - a) / 2


def _quad_lambdas(r: float, T: float, d: int) -> tuple[float, float, float]:
    """(lambda_par, lambda_perp, b_par) of the Maxwellian M_T at |v| = r, C = 1, by Gauss-Legendre."""
    rho, wr = _gl(300, 0.0, r + 14.0 * math.sqrt(T))
    if d == 3:
        mu, wm = _gl(300, -1.0, 1.0)
        R, MU = np.meshgrid(rho, mu, indexing="ij")
        W = np.outer(wr, wm)
        M = np.exp(-(r * r + R * R - 2 * r * R * MU) / (2 * T)) / (2 * np.pi * T) ** 1.5
        lpar = 2 * np.pi * np.sum(W * R * M * (1 - MU ** 2))
        lperp = 2 * np.pi * np.sum(W * R * M * (1 + MU ** 2) / 2)
        # bbar = -(d-1) int M(v - z) z / |z|^3 dz = -2 int drho int dOmega M(v - rho w) w
        bpar = -2 * 2 * np.pi * np.sum(W * M * MU)
        return lpar, lperp, bpar
    phi, wp = _gl(400, 0.0, 2 * np.pi)
    R, PH = np.meshgrid(rho, phi, indexing="ij")
    W = np.outer(wr, wp)
    M = np.exp(-((r - R * np.cos(PH)) ** 2 + (R * np.sin(PH)) ** 2) / (2 * T)) / (2 * np.pi * T)
    lpar = np.sum(W * M * np.sin(PH) ** 2)
    lperp = np.sum(W * M * np.cos(PH) ** 2)
    bpar = -np.sum(W * M * np.cos(PH) / R)
    return lpar, lperp, bpar


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("r,T", [(0.0, 1.0), (0.05, 0.3), (1.0, 1.3), (2.5, 2.0), (4.0, 0.5), (9.0, 1.0)])
def test_lambdas_and_drift_match_quadrature(d, r, T):
    lp, lq, bp = _quad_lambdas(r, T, d)
    C = 0.37
    rr = torch.tensor([r], dtype=F64)
    lam_par, lam_perp = maxwellian_lambdas(rr, T, d=d, C=C)
    assert float(lam_par) == pytest.approx(C * lp, rel=1e-9)
    assert float(lam_perp) == pytest.approx(C * lq, rel=1e-9)
    v = torch.zeros(1, d, dtype=F64)
    v[0, 0] = r
    b = maxwellian_drift(v, T, C=C)
    assert float(b[0, 0]) == pytest.approx(C * bp, rel=1e-8, abs=1e-12)
    assert torch.all(b[0, 1:] == 0)


def test_lambdas_values_at_one_point():
    # T = 1.3, r = 1: lambda_par = 0.3723, lambda_perp = 0.4334 (the Monte-Carlo table of chapter 3 agrees)
    lp, lq = maxwellian_lambdas(torch.tensor([1.0], dtype=F64), 1.3)
    assert float(lp) == pytest.approx(0.3723, abs=5e-5)
    assert float(lq) == pytest.approx(0.4334, abs=5e-5)


@pytest.mark.parametrize("T", [0.3, 1.0, 2.7])
def test_lambdas_origin_limit_continuity_and_gradient(T):
    lam0_3 = 2.0 / 3.0 * math.sqrt(2.0 / (math.pi * T))
    lam0_2 = math.sqrt(math.pi / (8.0 * T))
    for d, lam0 in ((3, lam0_3), (2, lam0_2)):
        r = torch.tensor([0.0, 1e-12, 1e-6], dtype=F64, requires_grad=True)
        lp, lq = maxwellian_lambdas(r, T, d=d)
        assert torch.allclose(lp, torch.full_like(lp, lam0), rtol=1e-10)
        assert torch.allclose(lq, torch.full_like(lq, lam0), rtol=1e-10)
        (g,) = torch.autograd.grad((lp + lq).sum(), r)
        assert torch.isfinite(g).all() and float(g.abs().max()) < 1e-5
    # the 3-D formula switches to its Taylor series at x = r / sqrt(2T) = 0.5: no jump there
    rc = 0.5 * math.sqrt(2.0 * T)
    r = torch.tensor([rc * (1 - 1e-12), rc * (1 + 1e-12)], dtype=F64)
    lp, lq = maxwellian_lambdas(r, T, d=3)
    assert float(abs(lp[0] / lp[1] - 1)) < 2e-12 and float(abs(lq[0] / lq[1] - 1)) < 2e-12


def test_lambdas_asymptotics_and_float32():
    T = 0.8
    r = torch.tensor([30.0, 300.0, 3000.0], dtype=F64)
    for d in (2, 3):
        lp, lq = maxwellian_lambdas(r, T, d=d)
        # lambda_par ~ (d-1) T / r^3, lambda_perp ~ 1 / r
        assert torch.allclose(lp * r ** 3, torch.full_like(r, (d - 1) * T), rtol=2e-3)
        assert torch.allclose(lq * r, torch.ones_like(r), rtol=2e-3)
        lp32, lq32 = maxwellian_lambdas(r.float(), T, d=d)
        assert lp32.dtype == torch.float32
        assert torch.allclose(lp32.double(), lp, rtol=1e-5) and torch.allclose(lq32.double(), lq, rtol=1e-5)


@pytest.mark.parametrize("d", [2, 3])
def test_maxwellian_matrix_structure_and_stationarity(d):
    g = torch.Generator().manual_seed(1)
    T, C = 1.7, 0.25
    u = torch.randn(d, generator=g, dtype=F64)
    v = u + 2.0 * torch.randn(50, d, generator=g, dtype=F64)
    v[0] = u                                                 # the centre itself
    a = maxwellian_collision_matrix(v, T, C=C, mean=u)
    assert a.shape == (50, d, d) and a.dtype == F64
    assert torch.allclose(a, a.transpose(1, 2))
    y = v - u
    r = y.norm(dim=1)
    lp, lq = maxwellian_lambdas(r, T, d=d, C=C)
    # y is an eigenvector with eigenvalue lambda_par, and the trace is lambda_par + (d-1) lambda_perp
    assert torch.allclose(torch.einsum("mij,mj->mi", a, y), lp[:, None] * y, atol=1e-14)
    assert torch.allclose(torch.diagonal(a, dim1=1, dim2=2).sum(1), lp + (d - 1) * lq)
    assert torch.allclose(a[0], lp[0] * torch.eye(d, dtype=F64))
    # U[M_T] = -abar grad log M_T + bbar = 0
    score = -y / T
    U = -torch.einsum("mij,mj->mi", a, score) + maxwellian_drift(v, T, C=C, mean=u)
    assert float(U.abs().max()) < 1e-14
    # the mean is a shift, C a factor
    a1 = maxwellian_collision_matrix(y, T, d=d)
    assert torch.allclose(a, C * a1)


def test_maxwellian_matrix_against_particle_sum():
    """Monte-Carlo check with landau_lite.velocity.collision_matrix (a finite-variance estimate for gamma=-3)."""
    velocity = pytest.importorskip("landau_lite.velocity")
    g = torch.Generator().manual_seed(7)
    T, n = 1.3, 100_000
    x = math.sqrt(T) * torch.randn(n, 3, generator=g, dtype=F64)
    x = x - x.mean(0)
    v = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 2.0, 1.0], [3.0, -1.0, 0.5]], dtype=F64)
    a_mc = velocity.collision_matrix(v, x, gamma=-3.0, C=1.0)
    a_ex = maxwellian_collision_matrix(v, T)
    scale = a_ex.diagonal(dim1=1, dim2=2).abs().max(1).values[:, None, None]
    assert float(((a_mc - a_ex).abs() / scale).max()) < 0.02


# ----------------------------------------------------------------------------------------------
# Maxwell molecules
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("d", [2, 3, 5])
def test_maxwell_molecules_equal_particle_sums(d):
    g = torch.Generator().manual_seed(d)
    x = torch.empty(300, d, dtype=F64).exponential_(generator=g) + 0.3 * torch.randn(300, d, generator=g, dtype=F64)
    v = torch.randn(20, d, generator=g, dtype=F64)
    C = 1.0 / 24.0
    k = CollisionKernel(d=d, gamma=0.0, C=C)
    z = v[:, None, :] - x[None, :, :]                         # small: 20 x 300 x d
    a_sum = k.matrix(z).mean(1)
    b_sum = k.div(z).mean(1)
    mean = x.mean(0)
    cov = (x - mean).T @ (x - mean) / x.shape[0]
    assert torch.allclose(maxwell_molecules_collision_matrix(v, mean, cov, C=C), a_sum, rtol=1e-12, atol=1e-12)
    assert torch.allclose(maxwell_molecules_drift(v, mean, C=C), b_sum, rtol=1e-12, atol=1e-12)
    velocity = pytest.importorskip("landau_lite.velocity")
    assert torch.allclose(velocity.collision_matrix(v, x, gamma=0.0, C=C), a_sum, rtol=1e-12, atol=1e-12)
    assert torch.allclose(velocity.collision_drift(v, x, gamma=0.0, C=C), b_sum, rtol=1e-12, atol=1e-12)


def test_maxwell_covariance_solves_its_ode():
    C = 1.0 / 24.0
    S0 = torch.tensor([[1.8, 0.3, 0.0], [0.3, 0.2, -0.1], [0.0, -0.1, 1.0]], dtype=F64)
    d = 3
    assert torch.allclose(maxwell_covariance(0.0, S0, C=C), S0, rtol=0, atol=1e-15)
    eye = torch.eye(d, dtype=F64)
    for t in (0.5, 2.0, 7.0):
        h = 1e-4
        dS = (maxwell_covariance(t + h, S0, C=C) - maxwell_covariance(t - h, S0, C=C)) / (2 * h)
        S = maxwell_covariance(t, S0, C=C)
        assert torch.allclose(dS, 4 * C * (torch.trace(S) * eye - d * S), atol=1e-9)
        assert float(torch.trace(S)) == pytest.approx(float(torch.trace(S0)), rel=1e-14)
    # rate 4 d C = 1/2 for d = 3, C = 1/24: the deviation shrinks by e^{-1} at t = 2
    dev = lambda S: S - torch.trace(S) / d * eye  # noqa: E731
    assert torch.allclose(dev(maxwell_covariance(2.0, S0, C=C)), dev(S0) * math.exp(-1.0))
    assert torch.allclose(maxwell_covariance(400.0, S0, C=C), eye, atol=1e-12)


def _gauss_hermite(mean: torch.Tensor, cov: torch.Tensor, k: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    """Tensor-product Gauss-Hermite nodes/weights for N(mean, cov): exact for polynomials of degree <= 2k-1."""
    d = mean.shape[0]
    xi, wi = hermegauss(k)
    wi = wi / math.sqrt(2 * math.pi)
    nodes = torch.tensor(list(itertools.product(xi, repeat=d)), dtype=F64)
    weights = torch.tensor([math.prod(c) for c in itertools.product(wi, repeat=d)], dtype=F64)
    L = torch.linalg.cholesky(cov)
    return mean + nodes @ L.T, weights


@pytest.mark.parametrize("d", [2, 3])
def test_moment_odes_from_the_landau_field_of_a_gaussian(d):
    r"""d/dt E[phi] = E[U . grad phi] with U = -abar grad log f + bbar, exact for Gaussians by Gauss-Hermite.

    Checks the covariance rate 4C(tr S I - d S) and the fourth-moment ODE behind maxwell_fourth_moment.
    """
    C = 1.0 / 24.0
    A = torch.tensor([[1.0, 0.4, -0.2], [0.0, 0.5, 0.3], [0.1, 0.0, 1.2]], dtype=F64)[:d, :d]
    S0 = A @ A.T + 0.1 * torch.eye(d, dtype=F64)
    mean = torch.zeros(d, dtype=F64)
    v, w = _gauss_hermite(mean, S0)
    score = -v @ torch.linalg.inv(S0)
    a = maxwell_molecules_collision_matrix(v, mean, S0, C=C)
    U = -torch.einsum("mij,mj->mi", a, score) + maxwell_molecules_drift(v, mean, C=C)
    dS = torch.einsum("m,mi,mj->ij", w, U, v)
    dS = dS + dS.T
    eye = torch.eye(d, dtype=F64)
    assert torch.allclose(dS, 4 * C * (torch.trace(S0) * eye - d * S0), atol=1e-13)
    r2 = (v * v).sum(1)
    dm4 = float((w * 4 * r2 * (v * U).sum(1)).sum())
    m4_0 = float((w * r2 * r2).sum())                      # = (tr S)^2 + 2 tr S^2
    assert m4_0 == pytest.approx(float(torch.trace(S0) ** 2 + 2 * torch.trace(S0 @ S0)), rel=1e-13)
    h = 1e-5
    fd = (float(maxwell_fourth_moment(h, m4_0, S0, C=C)) - float(maxwell_fourth_moment(0.0, m4_0, S0, C=C))) / h
    fd2 = (float(maxwell_fourth_moment(2 * h, m4_0, S0, C=C)) - float(maxwell_fourth_moment(0.0, m4_0, S0, C=C))) / (2 * h)
    assert 2 * fd - fd2 == pytest.approx(dm4, rel=1e-6, abs=1e-10)    # Richardson: O(h^2)
    assert float(maxwell_fourth_moment(0.0, m4_0, S0, C=C)) == pytest.approx(m4_0, rel=1e-14)
    E = float(torch.trace(S0))
    assert float(maxwell_fourth_moment(1e4, m4_0, S0, C=C)) == pytest.approx((d + 2) * E * E / d, rel=1e-12)


def test_fourth_moment_matches_bkw_formula():
    # BKW (cov = I): E|v|^4 = d(d+2) K(2-K), an independent closed form
    from landau_lite.problems import BKW

    for d in (2, 3, 5):
        p = BKW(d)
        m40 = p.fourth_moment(p.t0)
        for dt in (0.3, 2.0, 10.0):
            got = float(maxwell_fourth_moment(dt, m40, torch.eye(d, dtype=F64), C=p.C))
            assert got == pytest.approx(p.fourth_moment(p.t0 + dt), rel=1e-13)


# ----------------------------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------------------------

def test_validation_errors():
    r = torch.ones(3, dtype=F64)
    with pytest.raises(ValueError, match="r must be >= 0"):
        maxwellian_lambdas(-r, 1.0)
    with pytest.raises(ValueError, match="T"):
        maxwellian_lambdas(r, 0.0)
    with pytest.raises(ValueError, match="d"):
        maxwellian_lambdas(r, 1.0, d=4)
    with pytest.raises(TypeError, match="r"):
        maxwellian_lambdas([1.0], 1.0)
    with pytest.raises(ValueError, match="C"):
        maxwellian_lambdas(r, 1.0, C=-1.0)
    v = torch.ones(4, 3, dtype=F64)
    with pytest.raises(ValueError, match="d = 2"):
        maxwellian_collision_matrix(v, 1.0, d=2)
    with pytest.raises(ValueError, match="2 or 3"):
        maxwellian_collision_matrix(torch.ones(4, 4, dtype=F64), 1.0)
    with pytest.raises(ValueError, match="mean"):
        maxwellian_drift(v, 1.0, mean=[0.0, 0.0])
    with pytest.raises(ValueError, match="symmetric"):
        maxwell_molecules_collision_matrix(v, None, torch.triu(torch.ones(3, 3, dtype=F64)))
    with pytest.raises(ValueError, match="cov"):
        maxwell_molecules_collision_matrix(v, None, torch.eye(2, dtype=F64))
    with pytest.raises(ValueError, match="t"):
        maxwell_covariance(-1.0, torch.eye(3, dtype=F64), C=1.0)
    with pytest.raises(ValueError, match="cov0"):
        maxwell_covariance(1.0, torch.ones(3, 2, dtype=F64), C=1.0)
    with pytest.raises(ValueError, match="m4_0"):
        maxwell_fourth_moment(1.0, -1.0, torch.eye(3, dtype=F64), C=1.0)
    with pytest.raises(ValueError, match="v must be finite"):
        maxwellian_drift(torch.full((2, 3), float("nan"), dtype=F64), 1.0)


def test_dtype_preserved():
    v = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    assert maxwellian_collision_matrix(v, 1.0).dtype == torch.float32
    assert maxwellian_drift(v, 1.0).dtype == torch.float32
    assert maxwell_molecules_collision_matrix(v, None, torch.eye(3)).dtype == torch.float32
    assert maxwell_molecules_drift(v, [0.0, 0.0, 1.0]).dtype == torch.float32
    assert maxwell_covariance(1.0, torch.eye(3), C=1.0).dtype == torch.float32
