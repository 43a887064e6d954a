"""Tests of landau_lite.problems: exact solutions, samplers, references, argument and subclass validation."""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import pytest
import torch
from numpy.polynomial.hermite_e import hermegauss
from numpy.polynomial.legendre import leggauss as _leggauss

from landau_lite.scores import ScoreMethod
from landau_lite.closed_forms import (
    maxwell_covariance,
    maxwell_molecules_collision_matrix,
    maxwell_molecules_drift,
    maxwellian_collision_matrix,
    maxwellian_drift,
)
from landau_lite.problems import (
    BKW,
    PROBLEMS,
    AnisotropicGaussian,
    GaussianMixture,
    IsotropicCoulomb,
    Maxwellian,
    Problem,
    TwoBump2D,
    gaussian_mixture_moments,
    get_problem,
)

torch.set_num_threads(1)
F64 = torch.float64

leggauss = functools.lru_cache(maxsize=None)(_leggauss)

ALL_NAMES = ["bkw2", "bkw3", "bkw3_coulomb", "aniso_maxwell", "aniso_coulomb", "mixture_maxwell", "mixture_coulomb", "two_bump",
             "maxwellian", "maxwellian_coulomb"]


# ----------------------------------------------------------------------------------------------
# helpers: radial quadrature, Landau residual for Maxwell molecules
# ----------------------------------------------------------------------------------------------

def _radial(p: Problem, t: float, fn, n: int = 600, R: float = 16.0) -> float:
    r"""|S^{d-1}| \int_0^R r^{d-1} fn(f, log f, r) dr for a radial problem (Gauss-Legendre)."""
    x, w = leggauss(n)
    r = (x + 1) * R / 2
    w = w * R / 2
    v = torch.zeros(n, p.d, dtype=F64)
    v[:, 0] = torch.from_numpy(r)
    lf = p.log_density(v, t).numpy()
    area = 2 * math.pi ** (p.d / 2) / math.gamma(p.d / 2)
    return float(area * np.sum(w * r ** (p.d - 1) * fn(np.exp(lf), lf, r)))


def _div(F: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return sum(torch.autograd.grad(F[:, k].sum(), v, create_graph=False, retain_graph=True)[0][:, k]
               for k in range(v.shape[1]))


def _maxwell_landau_residual(density, score, v: torch.Tensor, t: float, C: float, mean, cov, h: float = 1e-5):
    r"""(\partial_t f, \partial_t f + \nabla\cdot(f U[f])) with the Maxwell-molecule closed forms of abar, bbar."""
    dtf = (density(v, t + h) - density(v, t - h)) / (2 * h)
    v = v.clone().requires_grad_(True)
    a = maxwell_molecules_collision_matrix(v, mean, cov, C=C)
    U = -torch.einsum("mij,mj->mi", a, score(v, t)) + maxwell_molecules_drift(v, mean, C=C)
    flux = density(v, t)[:, None] * U
    return dtf, dtf + _div(flux, v).detach()


# ----------------------------------------------------------------------------------------------
# registry and base API
# ----------------------------------------------------------------------------------------------

def test_registry_names_and_defaults():
    assert sorted(PROBLEMS) == sorted(ALL_NAMES)
    for name in ALL_NAMES:
        p = get_problem(name)
        assert isinstance(p, Problem) and p.name == name
        k = p.kernel
        assert (k.d, k.gamma, k.C) == (p.d, p.gamma, p.C)
        ref = p.reference(p.t0)
        assert set(ref) == {"mean", "cov", "energy", "m4"}
        assert ref["mean"].shape == (p.d,) and ref["cov"].shape == (p.d, p.d)
        eq = p.equilibrium()
        assert isinstance(eq, Maxwellian) and (eq.d, eq.gamma, eq.C) == (p.d, p.gamma, p.C)
        assert torch.allclose(eq.mean, ref["mean"])
        assert float(eq.reference(0.0)["energy"]) == pytest.approx(float(ref["energy"]), rel=1e-14)
    assert get_problem("bkw3").t0 == 6.0 and get_problem("bkw2").t0 == 8.9
    assert get_problem("aniso_coulomb").gamma == -3.0 and get_problem("aniso_maxwell").gamma == 0.0
    assert get_problem("two_bump").C == 1.0 / 16.0 and get_problem("mixture_coulomb").C == 1.0 / 24.0
    assert get_problem("maxwellian_coulomb").C == 1.0 and get_problem("maxwellian").gamma == 0.0
    assert get_problem("aniso_maxwell", d=2).d == 2


def test_registry_errors():
    with pytest.raises(ValueError, match="bkw3"):
        get_problem("bkw4")
    with pytest.raises(TypeError):
        get_problem("bkw3", not_an_argument=1)
    with pytest.raises(ValueError, match="C"):
        get_problem("aniso_coulomb", C=0.0)


# ----------------------------------------------------------------------------------------------
# BKW
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("d,t0,tc", [(2, 8.9, 8.3178), (3, 6.0, 5.4977), (5, 4.3, 3.7583), (6, 3.9, 3.3271),
                                     (10, 2.9, 2.3890)])
def test_bkw_start_and_critical_times(d, t0, tc):
    # the ilin2025transport convention: t0 = critical time rounded up to 0.1, plus 0.5
    p = BKW(d)
    assert p.t0 == pytest.approx(t0, abs=1e-12)
    assert p.critical_time == pytest.approx(tc, abs=1e-4)
    assert p.P(p.critical_time) == pytest.approx(0.0, abs=1e-12)
    assert p.K(p.critical_time) == pytest.approx(d / (d + 2), rel=1e-12)
    assert p.K(0.0) == 0.0 and p.exact_in_time


def test_bkw_2d_convention_of_refs_3_6():
    p = get_problem("bkw2", C=1.0 / 16.0, c_bkw=0.5, t0=0.0)
    assert p.critical_time == 0.0 and p.K(0.0) == 0.5 and p.P(0.0) == 0.0
    assert p.K(8.0) == pytest.approx(1 - 0.5 * math.exp(-1.0))        # K = 1 - e^{-t/8}/2
    # f0 = |v|^2 e^{-|v|^2} / pi
    v = torch.tensor([[0.3, -1.2], [1.0, 0.0], [0.0, 0.0]], dtype=F64)
    r2 = (v * v).sum(1)
    assert torch.allclose(p.density(v, 0.0), r2 * torch.exp(-r2) / math.pi, rtol=1e-14, atol=0)
    s = p.score(v, 0.0)
    assert torch.isfinite(s).all() and torch.all(s[2] == 0)


@pytest.mark.parametrize("t,H,KL,dH", [(5.5, -4.193052, 6.3763e-2, -7.3721e-2), (6.0, -4.218982, 3.7833e-2, -3.6892e-2),
                                       (7.0, -4.241518, 1.5298e-2, -1.3063e-2), (8.0, -4.250086, 6.7294e-3, -5.3427e-3),
                                       (10.0, -4.255340, 1.4752e-3, -1.0797e-3)])
def test_bkw3_entropy_table(t, H, KL, dH):
    """Entropy table (3-D, B = 1/24, C_BKW = 1) by radial quadrature, and dH/dt = -B(d-1) I(f|M)."""
    p = BKW(3, t0=5.5)
    ent = lambda q, s: _radial(q, s, lambda f, lf, r: f * lf)  # noqa: E731
    HM = -1.5 * math.log(2 * math.pi) - 1.5
    assert _radial(p, t, lambda f, lf, r: f) == pytest.approx(1.0, abs=1e-12)
    assert ent(p, t) == pytest.approx(H, abs=2e-6)
    assert ent(p, t) - HM == pytest.approx(KL, rel=2e-4)
    h = 1e-4
    dHdt = (ent(p, t + h) - ent(p, t - h)) / (2 * h)
    assert dHdt == pytest.approx(dH, rel=2e-4)
    # relative Fisher information of f w.r.t. M = N(0, I): radial score + r
    v = torch.zeros(600, 3, dtype=F64)
    x, w = leggauss(600)
    r = (x + 1) * 8.0
    v[:, 0] = torch.from_numpy(r)
    fisher_rel = float(4 * math.pi * np.sum(w * 8.0 * r ** 2 * p.density(v, t).numpy()
                                           * (p.score(v, t)[:, 0].numpy() + r) ** 2))
    assert dHdt == pytest.approx(-p.C * 2 * fisher_rel, rel=1e-6)


@pytest.mark.parametrize("t,H,KL", [(0.001, -2.722070, 1.1581e-1), (1.0, -2.789049, 4.8828e-2),
                                    (2.0, -2.814192, 2.3685e-2), (5.0, -2.834236, 3.6412e-3)])
def test_bkw2_entropy_table_refs_3_6_convention(t, H, KL):
    p = BKW(2, C=1.0 / 16.0, c_bkw=0.5, t0=0.0)
    Hf = _radial(p, t, lambda f, lf, r: f * np.where(f > 0, lf, 0.0))
    assert Hf == pytest.approx(H, abs=2e-6)
    assert Hf + math.log(2 * math.pi) + 1 == pytest.approx(KL, rel=2e-4)


@pytest.mark.parametrize("d", [2, 3, 5])
def test_bkw_moments_by_quadrature(d):
    p = BKW(d)
    for t in (p.critical_time, p.t0, p.t0 + 3.0):
        assert _radial(p, t, lambda f, lf, r: f) == pytest.approx(1.0, abs=1e-12)
        assert _radial(p, t, lambda f, lf, r: f * r ** 2) == pytest.approx(d, rel=1e-12)
        m4 = _radial(p, t, lambda f, lf, r: f * r ** 4)
        assert m4 == pytest.approx(p.fourth_moment(t), rel=1e-12)
        assert float(p.reference(t)["m4"]) == pytest.approx(m4, rel=1e-12)


@pytest.mark.parametrize("d", [2, 3, 5])
def test_bkw_score_is_gradient_of_log_density(d):
    p = BKW(d)
    v = torch.randn(64, d, generator=torch.Generator().manual_seed(d), dtype=F64).requires_grad_(True)
    for t in (p.t0, p.t0 + 1.7):
        (g,) = torch.autograd.grad(p.log_density(v, t).sum(), v)
        assert torch.allclose(p.score(v.detach(), t), g, rtol=1e-12, atol=1e-12)
        assert torch.allclose(p.density(v.detach(), t), torch.exp(p.log_density(v.detach(), t)))


@pytest.mark.parametrize("d,C,c_bkw", [(2, 1.0 / 24.0, 1.0), (3, 1.0 / 24.0, 1.0), (5, 1.0 / 24.0, 1.0),
                                       (2, 1.0 / 16.0, 0.5)])
def test_bkw_solves_the_landau_equation(d, C, c_bkw):
    """∂_t f + ∇·(f U[f]) = 0 with U = -abar ∇log f + bbar (Maxwell-molecule closed forms), autograd divergence."""
    p = BKW(d, C=C, c_bkw=c_bkw)
    v = 1.5 * torch.randn(200, d, generator=torch.Generator().manual_seed(3), dtype=F64)
    eye = torch.eye(d, dtype=F64)
    for t in (p.t0, p.t0 + 2.0):
        dtf, res = _maxwell_landau_residual(p.density, p.score, v, t, C, None, eye)
        assert float(dtf.abs().max()) > 1e-4
        assert float(res.abs().max()) < 1e-8 * float(dtf.abs().max()) + 1e-12
    # a wrong rate (2C(d-1) -> 2C d) is detected
    wrong = BKW(d, C=C * d / (d - 1), c_bkw=c_bkw, t0=p.t0)
    _, res = _maxwell_landau_residual(wrong.density, wrong.score, v, p.t0, C, None, eye)
    assert float(res.abs().max()) > 1e-3 * float(dtf.abs().max())


def _radial_cdf(p: Problem, t: float, r: np.ndarray) -> np.ndarray:
    grid = np.linspace(0.0, 14.0, 40_001)
    v = torch.zeros(grid.size, p.d, dtype=F64)
    v[:, 0] = torch.from_numpy(grid)
    dens = 2 * math.pi ** (p.d / 2) / math.gamma(p.d / 2) * grid ** (p.d - 1) * p.density(v, t).numpy()
    cdf = np.concatenate([[0.0], np.cumsum((dens[1:] + dens[:-1]) / 2 * np.diff(grid))])
    return np.interp(r, grid, cdf)


@pytest.mark.parametrize("kw", [dict(d=2), dict(d=3), dict(d=3, t0=5.4977443912449), dict(d=2, C=1 / 16, c_bkw=0.5, t0=0.0),
                                dict(d=5)])
def test_bkw_sampler_is_exact(kw):
    p = BKW(**kw)
    n = 100_000
    x = p.sample(n, generator=torch.Generator().manual_seed(11))
    assert x.shape == (n, p.d) and x.dtype == F64
    r = np.sort(x.norm(dim=1).numpy())
    ks = np.max(np.abs(_radial_cdf(p, p.t0, r) - np.arange(1, n + 1) / n))
    assert ks < 1.95 / math.sqrt(n)                              # Kolmogorov-Smirnov, 0.1% level
    u = x / x.norm(dim=1, keepdim=True)                          # uniform directions: E u = 0, E uu^T = I/d
    assert float(u.mean(0).abs().max()) < 4.5 / math.sqrt(n)
    assert torch.allclose(u.T @ u / n, torch.eye(p.d, dtype=F64) / p.d, atol=4.5 / math.sqrt(n))


def test_samplers_are_seeded_and_cast():
    for name in ALL_NAMES:
        p = get_problem(name)
        a = p.sample(500, generator=torch.Generator().manual_seed(5))
        b = p.sample(500, generator=torch.Generator().manual_seed(5))
        c = p.sample(500, generator=torch.Generator().manual_seed(5), dtype=torch.float32)
        assert torch.equal(a, b) and c.dtype == torch.float32
        assert torch.equal(c, a.float())
        assert not torch.equal(a, p.sample(500, generator=torch.Generator().manual_seed(6)))


# ----------------------------------------------------------------------------------------------
# Gaussians and mixtures
# ----------------------------------------------------------------------------------------------

def _gauss_hermite(mean: torch.Tensor, cov: torch.Tensor, k: int = 7):
    d = mean.shape[0]
    xi, wi = hermegauss(k)
    wi = wi / math.sqrt(2 * math.pi)
    nodes = torch.tensor(list(itertools.product(xi, repeat=d)), dtype=F64)
    weights = torch.tensor([math.prod(c) for c in itertools.product(wi, repeat=d)], dtype=F64)
    return mean + nodes @ torch.linalg.cholesky(cov).T, weights


def test_anisotropic_gaussian_does_not_stay_gaussian():
    r"""The Gaussian with the exact covariance Σ(t) is NOT a Landau solution (so exact_in_time is False).

    With R = ∂_t f + ∇·(f U[f]) for f = N(0, Σ(t)), R/f is a quartic polynomial, so Gauss-Hermite integrates it
    exactly: ∫R φ = 0 for φ = 1, v_i v_j (Σ(t) obeys the covariance ODE), but
    ∫R |v|^4 = 8C(E^2 - d tr Σ^2) ≠ 0: the Gaussian ansatz gets the fourth moment's rate wrong by a factor 2.
    """
    p = AnisotropicGaussian(3, gamma=0.0)
    assert not p.exact_in_time
    d, C = 3, p.C
    mean = torch.zeros(d, dtype=F64)
    S = maxwell_covariance(0.7, p.cov, C=C)
    eye = torch.eye(d, dtype=F64)
    dS = 4 * C * (torch.trace(S) * eye - d * S)
    Sinv = torch.linalg.inv(S)
    v, w = _gauss_hermite(mean, S)
    v = v.requires_grad_(True)
    score = -v @ Sinv
    U = -torch.einsum("mij,mj->mi", maxwell_molecules_collision_matrix(v, mean, S, C=C), score) \
        + maxwell_molecules_drift(v, mean, C=C)
    dlogf = -0.5 * torch.trace(Sinv @ dS) + 0.5 * ((v @ Sinv @ dS @ Sinv) * v).sum(1)
    R_over_f = (dlogf + _div(U, v) + (U * score).sum(1)).detach()
    v = v.detach()
    assert float((w * R_over_f).sum()) == pytest.approx(0.0, abs=1e-12)
    assert torch.allclose(torch.einsum("m,m,mi,mj->ij", w, R_over_f, v, v), torch.zeros(d, d, dtype=F64), atol=1e-12)
    E, trS2 = float(torch.trace(S)), float(torch.trace(S @ S))
    r2 = (v * v).sum(1)
    assert float((w * R_over_f * r2 * r2).sum()) == pytest.approx(8 * C * (E * E - d * trS2), rel=1e-10)
    assert abs(8 * C * (E * E - d * trS2)) > 0.1
    # isotropic: the residual vanishes identically (a Maxwellian is stationary)
    v2 = v.clone().requires_grad_(True)
    U2 = -torch.einsum("mij,mj->mi", maxwell_molecules_collision_matrix(v2, mean, eye, C=C), -v2) \
        + maxwell_molecules_drift(v2, mean, C=C)
    assert float(U2.detach().abs().max()) < 1e-14


def test_anisotropic_reference_and_density():
    p = get_problem("aniso_maxwell")
    assert torch.allclose(p.reference(0.0)["cov"], torch.diag(torch.tensor([1.8, 0.2, 1.0], dtype=F64)))
    for t in (0.5, 2.0, 4.0):
        ref = p.reference(t)
        assert torch.allclose(ref["cov"], maxwell_covariance(t, p.cov, C=p.C))
        assert float(ref["energy"]) == pytest.approx(3.0)
        assert float(ref["m4"]) < float(p.reference(0.0)["m4"])   # relaxes toward the Maxwellian value 15
    assert float(p.reference(2.0)["cov"][0, 0]) == pytest.approx(1 + 0.8 * math.exp(-1.0), rel=1e-14)
    with pytest.raises(ValueError, match="t = 1.0"):
        p.density(torch.zeros(1, 3, dtype=F64), 1.0)
    with pytest.raises(ValueError, match="t = 1.0"):
        p.score(torch.zeros(1, 3, dtype=F64), 1.0)
    with pytest.raises(ValueError, match="t must be >= 0"):
        p.reference(-1.0)
    v = torch.randn(10, 3, generator=torch.Generator().manual_seed(0), dtype=F64)
    Sinv = torch.linalg.inv(p.cov)
    logpdf = -1.5 * math.log(2 * math.pi) - 0.5 * math.log(float(torch.det(p.cov))) - 0.5 * ((v @ Sinv) * v).sum(1)
    assert torch.allclose(p.log_density(v, 0.0), logpdf)
    assert torch.allclose(p.score(v, 0.0), -v @ torch.linalg.inv(p.cov))
    # Coulomb: only conserved quantities after t0
    q = get_problem("aniso_coulomb")
    assert set(q.reference(10.0)) == {"mean", "energy"}
    eq = q.equilibrium()
    assert eq.T == pytest.approx(1.0) and eq.gamma == -3.0


@pytest.mark.parametrize("name", ["mixture_maxwell", "aniso_maxwell", "two_bump", "mixture_coulomb"])
def test_gaussian_family_samples_match_reference(name):
    p = get_problem(name)
    n = 100_000
    x = p.sample(n, generator=torch.Generator().manual_seed(2))
    ref = p.reference(p.t0)
    mean = x.mean(0)
    cov = (x - mean).T @ (x - mean) / n
    r2 = (x * x).sum(1)
    assert torch.allclose(mean, ref["mean"], atol=0.02)
    assert torch.allclose(cov, ref["cov"], atol=0.03)
    assert float(r2.mean()) == pytest.approx(float(ref["energy"]), rel=0.02)
    assert float((r2 * r2).mean()) == pytest.approx(float(ref["m4"]), rel=0.04)


def test_mixture_density_score_and_moments_by_quadrature():
    p = GaussianMixture(2, gamma=0.0)
    assert torch.allclose(p.reference(0.0)["cov"], torch.diag(torch.tensor([1.8, 0.2], dtype=F64)))
    n = 401
    ax = torch.linspace(-9, 9, n, dtype=F64)
    X, Y = torch.meshgrid(ax, ax, indexing="xy")
    v = torch.stack([X.reshape(-1), Y.reshape(-1)], 1)
    f = p.density(v, 0.0)
    h2 = float(ax[1] - ax[0]) ** 2
    ref = p.reference(0.0)
    assert float(f.sum() * h2) == pytest.approx(1.0, abs=1e-10)
    assert float(((v * v).sum(1) * f).sum() * h2) == pytest.approx(float(ref["energy"]), rel=1e-9)
    assert float((((v * v).sum(1)) ** 2 * f).sum() * h2) == pytest.approx(float(ref["m4"]), rel=1e-9)
    vv = v[::97].clone().requires_grad_(True)
    (g,) = torch.autograd.grad(p.log_density(vv, 0.0).sum(), vv)
    assert torch.allclose(p.score(vv.detach(), 0.0), g, atol=1e-12)
    # gamma = 0: covariance for all t; the mean is 0 so the fourth moment too
    r = p.reference(3.0)
    assert set(r) == {"mean", "cov", "energy", "m4"}
    assert torch.allclose(r["cov"], maxwell_covariance(3.0, ref["cov"], C=p.C))


def test_two_bump():
    p = TwoBump2D()
    assert (p.d, p.gamma, p.C, p.t0) == (2, -3.0, 1.0 / 16.0, 0.0)
    u1, u2 = torch.tensor([-2.0, 1.0], dtype=F64), torch.tensor([0.0, -1.0], dtype=F64)
    v = torch.randn(30, 2, generator=torch.Generator().manual_seed(4), dtype=F64)
    g1 = torch.exp(-((v - u1) ** 2).sum(1) / 2)
    g2 = torch.exp(-((v - u2) ** 2).sum(1) / 2)
    assert torch.allclose(p.density(v, 0.0), (g1 + g2) / (4 * math.pi))
    assert torch.allclose(p.score(v, 0.0), -(g1[:, None] * (v - u1) + g2[:, None] * (v - u2)) / (g1 + g2)[:, None])
    ref = p.reference(0.0)
    assert torch.allclose(ref["mean"], torch.tensor([-1.0, 0.0], dtype=F64))
    assert torch.allclose(ref["cov"], torch.tensor([[2.0, -1.0], [-1.0, 2.0]], dtype=F64))
    assert float(ref["energy"]) == pytest.approx(5.0)
    eq = p.equilibrium()          # covariance 2I (not the initial covariance)
    assert eq.T == pytest.approx(2.0) and torch.allclose(eq.mean, ref["mean"])
    assert torch.allclose(eq.reference(1.0)["cov"], 2 * torch.eye(2, dtype=F64))
    assert set(p.reference(5.0)) == {"mean", "energy"}


# ----------------------------------------------------------------------------------------------
# Maxwellian
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("d", [2, 3])
def test_maxwellian_is_stationary_and_exact(d):
    u = [0.5, -0.25, 1.0][:d]
    p = Maxwellian(d, T=1.3, mean=u, gamma=-3.0, C=0.7)
    assert p.exact_in_time and p.t_min == -math.inf
    v = torch.randn(40, d, generator=torch.Generator().manual_seed(d), dtype=F64) * 2
    for t in (-3.0, 0.0, 50.0):
        assert torch.allclose(p.density(v, t), p.density(v, 0.0))
    # U[M] = -abar grad log M + bbar = 0 with the gamma = -3 closed forms
    a = maxwellian_collision_matrix(v, p.T, C=p.C, mean=u)
    U = -torch.einsum("mij,mj->mi", a, p.score(v, 1.0)) + maxwellian_drift(v, p.T, C=p.C, mean=u)
    assert float(U.abs().max()) < 1e-14
    ref = p.reference(2.0)
    x = p.sample(200_000, generator=torch.Generator().manual_seed(9))
    r2 = (x * x).sum(1)
    assert float(r2.mean()) == pytest.approx(float(ref["energy"]), rel=0.01)
    assert float((r2 * r2).mean()) == pytest.approx(float(ref["m4"]), rel=0.02)
    if d == 2:
        n = 301
        ax = torch.linspace(-9, 9, n, dtype=F64)
        X, Y = torch.meshgrid(ax, ax, indexing="xy")
        g = torch.stack([X.reshape(-1), Y.reshape(-1)], 1)
        f = p.density(g, 0.0)
        h2 = float(ax[1] - ax[0]) ** 2
        assert float(f.sum() * h2) == pytest.approx(1.0, abs=1e-10)
        assert float((((g * g).sum(1)) ** 2 * f).sum() * h2) == pytest.approx(float(ref["m4"]), rel=1e-9)


# ----------------------------------------------------------------------------------------------
# validation, dtype
# ----------------------------------------------------------------------------------------------

def test_constructor_validation():
    with pytest.raises(ValueError, match="d"):
        BKW(1)
    with pytest.raises(TypeError, match="d"):
        BKW(2.5)
    with pytest.raises(ValueError, match="c_bkw"):
        BKW(3, c_bkw=0.0)
    with pytest.raises(ValueError, match="t0 must be >= the critical time"):
        BKW(3, t0=5.0)
    with pytest.raises(ValueError, match="C"):
        BKW(3, C=-1.0)
    with pytest.raises(ValueError, match="positive definite"):
        AnisotropicGaussian(3, cov0=[1.0, -0.2, 1.0])
    with pytest.raises(ValueError, match="cov0"):
        AnisotropicGaussian(3, cov0=[1.0, 1.0])
    with pytest.raises(ValueError, match="symmetric"):
        AnisotropicGaussian(2, cov0=[[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(ValueError, match="gamma"):
        AnisotropicGaussian(3, gamma=2.0)
    with pytest.raises(ValueError, match="mu"):
        GaussianMixture(3, mu=[1.0, 0.0])
    with pytest.raises(ValueError, match="T"):
        Maxwellian(3, T=0.0)
    with pytest.raises(ValueError, match="mean"):
        Maxwellian(3, mean=[0.0, 1.0])
    with pytest.raises(ValueError, match="u1"):
        TwoBump2D(u1=(1.0, 2.0, 3.0))


def test_call_validation_and_dtype():
    p = get_problem("bkw3")
    with pytest.raises(ValueError, match=r"shape \(M, 3\)"):
        p.density(torch.zeros(4, 2, dtype=F64), p.t0)
    with pytest.raises(ValueError, match="t must be >="):
        p.density(torch.zeros(4, 3, dtype=F64), 1.0)
    with pytest.raises(ValueError, match="n"):
        p.sample(0)
    with pytest.raises(TypeError, match="dtype"):
        p.sample(3, dtype=torch.int64)
    with pytest.raises(TypeError, match="t"):
        p.reference("6")
    for name in ALL_NAMES:
        q = get_problem(name)
        v = q.sample(8, generator=torch.Generator().manual_seed(0), dtype=torch.float32)
        assert q.density(v, q.t0).dtype == torch.float32 and q.density(v, q.t0).shape == (8,)
        assert q.score(v, q.t0).dtype == torch.float32 and q.score(v, q.t0).shape == (8, q.d)
        assert torch.allclose(q.score(v, q.t0).double(), q.score(v.double(), q.t0), rtol=1e-4, atol=1e-4)


# ----------------------------------------------------------------------------------------------
# isotropic Coulomb problem (numerical radial reference)
# ----------------------------------------------------------------------------------------------

H_MAXWELLIAN = -1.5 * (math.log(2 * math.pi) + 1.0)      # entropy of N(0, I) in 3-D


def test_coulomb_problem_defaults():
    p = get_problem("bkw3_coulomb")
    assert isinstance(p, IsotropicCoulomb) and p.exact_in_time
    assert (p.d, p.gamma, p.C, p.t0) == (3, -3.0, 1.0, 0.0)
    assert p.K == pytest.approx(get_problem("bkw3").K(6.0), rel=1e-15)     # the bkw3 start law
    assert get_problem("bkw3_coulomb", C=1 / 24).C == 1 / 24
    eq = p.equilibrium()
    assert (eq.T, eq.gamma, eq.C) == (1.0, -3.0, 1.0)
    # the start law is BKW's: same density at t0
    v = torch.randn(50, 3, generator=torch.Generator().manual_seed(0), dtype=F64)
    assert torch.allclose(p.log_density(v, 0.0), get_problem("bkw3").log_density(v, 6.0), atol=1e-8)
    with pytest.raises(ValueError, match="K"):
        IsotropicCoulomb(K=0.6)
    with pytest.raises(ValueError, match="t must be >= 0"):
        p.reference(-0.5)
    with pytest.raises(TypeError, match="d"):
        get_problem("bkw3_coulomb", d=2)


@pytest.fixture(scope="module")
def finer_coulomb_reference():
    """The same radial solver with spacing and steps halved (n = 2000, dt = 0.0025), for s <= 5."""
    from landau_lite.radial import RadialReference

    p = IsotropicCoulomb()
    return RadialReference(lambda r: p.density(torch.stack([r, 0 * r, 0 * r], 1), 0.0), gamma=-3.0, n=2000,
                           dt=0.0025, record_every=0.01, block=5.0)


@pytest.mark.parametrize("s", [0.0, 0.002, 0.011, 0.03, 0.1, 0.25, 1.01, 2.5, 4.9])
def test_coulomb_reference_accuracy(s, finer_coulomb_reference):
    """The bounds stated in the IsotropicCoulomb docstring for s <= 5 (measured maxima over s <= 5 in the comments).

    Catches: no Richardson (m4 off by 4e-4), linear time interpolation or no graded start (log f near the
    origin off by > 1e-3 early), a coarser grid (4x the errors)."""
    p, B = IsotropicCoulomb(), finer_coulomb_reference
    m, mb = p.radial.moments(s), B.moments(s)
    assert m["m4"] == pytest.approx(mb["m4"], abs=2e-7)                # 4e-8
    assert float(p.reference(s)["m4"]) == m["m4"]
    assert p.entropy(s) == pytest.approx(mb["entropy"], abs=3e-8)       # 1.5e-8
    assert m["mass"] == pytest.approx(1.0, abs=1e-12) and m["energy"] == pytest.approx(3.0, abs=2e-8)
    r = np.linspace(0.0, 8.0, 1601)
    v = torch.zeros(r.size, 3, dtype=F64)
    v[:, 0] = torch.from_numpy(r)
    la, sa = p.log_density(v, s).numpy(), p.score(v, s)[:, 0].numpy()
    u = torch.from_numpy(r * r)
    lb, sb = B.log_density(u, s).numpy(), 2 * r * B.dlog_du(u, s).numpy()
    inner = r < 4
    assert np.abs(la - lb)[inner].max() < 5e-5                          # 3.1e-5
    assert np.abs(sa - sb)[inner].max() < 1e-4                          # 7.0e-5 (s = 2.8)
    assert np.abs(la - lb).max() < 5e-4                                 # 3.6e-4 (4 <= r < 8, s = 4.9)
    assert np.abs(sa - sb).max() < 3e-4                                 # 1.7e-4
    w = r * r * np.exp(lb)
    assert np.sum(w * (sa - sb) ** 2) < 2e-10 * np.sum(w * sb * sb)     # 5.8e-11


def test_coulomb_reference_obeys_the_theory():
    """H-theorem, conservation, relaxation of E|v|^4 from 15K(2-K) towards 15 T^2 = 15; time scaling in C.

    Catches: a reversed drift or time (H increases, m4 moves away from 15), a gamma = 0 reference (m4 = 14.9993
    at s = 1, not 13.747), s = (t - t0) / C instead of C (t - t0)."""
    p = IsotropicCoulomb()
    s = np.arange(0.0, 20.0001, 0.05)
    H = np.array([p.entropy(t) for t in s])
    m4 = np.array([float(p.reference(t)["m4"]) for t in s])
    assert m4[0] == pytest.approx(15 * p.K * (2 - p.K), abs=1e-7)
    assert np.all(np.diff(H) < 0) and np.all(H > H_MAXWELLIAN)
    assert 0 < H[-1] - H_MAXWELLIAN < 1e-5                               # 4.3e-6 at s = 20
    assert np.all(np.diff(m4) > 0) and np.all(m4 < 15.0)
    assert 14.97 < m4[-1] < 14.98                                        # slow Coulomb tail: 14.97754
    assert float(p.reference(1.0)["m4"]) == pytest.approx(13.747143, abs=1e-6)
    for t in (0.5, 5.0):
        ref = p.reference(t)
        assert torch.equal(ref["mean"], torch.zeros(3, dtype=F64)) and torch.equal(ref["cov"], torch.eye(3, dtype=F64))
        assert float(ref["energy"]) == 3.0
    q = IsotropicCoulomb(C=0.5, t0=1.0)                                  # f_C(t0 + t) = f_1(C t)
    assert float(q.reference(3.0)["m4"]) == float(p.reference(1.0)["m4"])
    v = torch.randn(20, 3, generator=torch.Generator().manual_seed(1), dtype=F64)
    assert torch.equal(q.score(v, 3.0), p.score(v, 1.0))
    assert not torch.allclose(q.score(v, 1.5), p.score(v, 1.0))


def test_coulomb_density_score_and_moments_are_consistent():
    p = IsotropicCoulomb()
    v = torch.cat([torch.randn(64, 3, generator=torch.Generator().manual_seed(2), dtype=F64) * 2,
                   torch.tensor([[1e-3, 0.0, 0.0], [0.0, 11.0, 0.0], [0.0, 0.0, 0.0]], dtype=F64)])
    for t in (0.0, 0.013, 1.7):
        vv = v.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(p.log_density(vv, t).sum(), vv)     # a factor 2 in the score would show
        assert torch.allclose(p.score(v, t), g, rtol=1e-10, atol=1e-12)
        assert torch.all(p.score(v[-1:], t) == 0)
        # radial quadrature of the interpolated density: within the fine grid's own error of the Richardson moments
        assert _radial(p, t, lambda f, lf, r: f, R=12.0) == pytest.approx(1.0, abs=5e-6)
        assert _radial(p, t, lambda f, lf, r: f * r ** 4, R=12.0) == pytest.approx(float(p.reference(t)["m4"]),
                                                                                    abs=1e-4)


def test_coulomb_sampler_at_later_times():
    p = IsotropicCoulomb()
    n = 100_000
    x0 = p.sample(n, generator=torch.Generator().manual_seed(4))                 # exact BKW sampler at t0
    assert torch.equal(x0, p.sample(n, t=0.0, generator=torch.Generator().manual_seed(4)))
    x = p.sample(n, t=2.0, generator=torch.Generator().manual_seed(4))
    assert x.shape == (n, 3) and x.dtype == F64
    r = np.sort(x.norm(dim=1).numpy())
    ks = np.max(np.abs(_radial_cdf(p, 2.0, r) - np.arange(1, n + 1) / n))
    assert ks < 1.95 / math.sqrt(n)
    ks0 = np.max(np.abs(_radial_cdf(p, 0.0, r) - np.arange(1, n + 1) / n))      # a sampler stuck at t0 fails
    assert ks0 > 10 / math.sqrt(n)
    r4 = (x * x).sum(1) ** 2
    assert float(r4.mean()) == pytest.approx(float(p.reference(2.0)["m4"]), abs=4 * float(r4.std()) / math.sqrt(n))
    u = x / x.norm(dim=1, keepdim=True)
    assert float(u.mean(0).abs().max()) < 4.5 / math.sqrt(n)
    assert torch.allclose(u.T @ u / n, torch.eye(3, dtype=F64) / 3, atol=4.5 / math.sqrt(n))


class _Frozen(ScoreMethod):
    """Mutation: zero score, so the particles do not move."""

    name = "frozen"

    def initialize(self, x0, t0, problem=None):
        pass

    def update(self, x, t):
        return torch.zeros_like(x)

    def __call__(self, v):
        return torch.zeros_like(v)


class _Reversed(_Frozen):
    """Mutation: the exact score with the wrong sign (particles run backwards)."""

    name = "reversed"

    def initialize(self, x0, t0, problem=None):
        self.problem = problem

    def update(self, x, t):
        return -self.problem.score(x, t)


def _particle_m4_change(run, n):
    """(particle change of E|v|^4 over the run, reference change, Monte-Carlo standard error of the former)."""
    x0, x1 = run.snapshots[run.t0], run.snapshots[run.t_end]
    inc = (x1 * x1).sum(1) ** 2 - (x0 * x0).sum(1) ** 2
    return float(inc.mean()), run.reference["m4"][-1] - run.reference["m4"][0], float(inc.std()) / math.sqrt(n)


def test_coulomb_particles_follow_the_reference():
    r"""score='exact' particles: the change of E|v|^4 over [0, 1] matches the reference within 3 standard errors
    of the per-particle increments (0.065 here; seed-to-seed spread 0.023), while frozen particles, reversed
    particles and a kernel with 2C do not (reference change 0.777)."""
    import landau_lite as ll

    n, kw = 1000, dict(n=1000, dt=0.1, t_end=1.0, seed=1, progress=False, snapshot_times=[0.0, 1.0])
    run = ll.simulate("bkw3_coulomb", "exact", **kw)
    assert run.status == "completed" and run.reference["m4"][0] == pytest.approx(12.96997, abs=1e-5)
    got, want, se = _particle_m4_change(run, n)
    assert want == pytest.approx(0.777172, abs=1e-5)
    assert abs(got - want) < 3 * se and 3 * se < 0.25
    for score in (_Frozen(), _Reversed()):
        bad, _, se_bad = _particle_m4_change(ll.simulate("bkw3_coulomb", score, **kw), n)
        assert abs(bad - want) > 3 * max(se, se_bad)
    twice, _, se2 = _particle_m4_change(ll.simulate(IsotropicCoulomb(C=2.0), "exact", **kw), n)
    assert abs(twice - want) > 3 * max(se, se2)


def test_cli_lists_and_runs_the_coulomb_problem(tmp_path, capsys):
    import json

    from landau_lite import cli

    with pytest.raises(SystemExit) as exc:
        cli.main(["run", "--help"])
    assert exc.value.code == 0 and "bkw3_coulomb" in capsys.readouterr().out
    out = tmp_path / "coulomb.json"
    code = cli.main(["run", "--problem", "bkw3_coulomb", "--n", "40", "--dt", "0.1", "--t-end", "0.3",
                     "--no-progress", "--out", str(out)])
    assert code == 0
    data = json.loads(out.read_text())
    p = IsotropicCoulomb()
    assert data["reference"]["m4"] == pytest.approx([float(p.reference(t)["m4"]) for t in data["t"]], rel=1e-12)


# ----------------------------------------------------------------------------------------------
# sampling at other times; argument and subclass validation
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("t", [6.0, 7.5])
def test_bkw_samples_at_later_times(t):
    p = BKW(3)
    n = 100_000
    x = p.sample(n, t=t, generator=torch.Generator().manual_seed(8))
    r = np.sort(x.norm(dim=1).numpy())
    assert np.max(np.abs(_radial_cdf(p, t, r) - np.arange(1, n + 1) / n)) < 1.95 / math.sqrt(n)
    if t != p.t0:
        assert np.max(np.abs(_radial_cdf(p, p.t0, r) - np.arange(1, n + 1) / n)) > 10 / math.sqrt(n)


def test_sample_time_validation():
    with pytest.raises(ValueError, match="only at t0"):
        get_problem("aniso_coulomb").sample(5, t=1.0)
    with pytest.raises(ValueError, match="t must be >="):
        get_problem("bkw3").sample(5, t=1.0)
    m = get_problem("maxwellian")
    g = torch.Generator().manual_seed(0)
    assert torch.equal(m.sample(5, t=3.0, generator=g), m.sample(5, generator=torch.Generator().manual_seed(0)))


def test_generator_must_be_a_torch_generator():
    for name in ("bkw3", "bkw3_coulomb", "aniso_coulomb", "maxwellian"):
        with pytest.raises(TypeError, match="generator"):
            get_problem(name).sample(5, generator=123)


@pytest.mark.parametrize("build, arg", [
    (lambda: AnisotropicGaussian(3, cov0=torch.eye(3, dtype=torch.complex128)), "cov0"),
    (lambda: AnisotropicGaussian(3, cov0=torch.tensor([1.0 + 0.5j, 1.0, 1.0])), "cov0"),
    (lambda: AnisotropicGaussian(3, cov0=[[1 + 1j, 0, 0], [0, 1, 0], [0, 0, 1]]), "cov0"),
    (lambda: AnisotropicGaussian(3, cov0=np.eye(3) * (1 + 0j)), "cov0"),
    (lambda: GaussianMixture(3, mu=torch.tensor([1j, 0, 0])), "mu"),
    (lambda: GaussianMixture(3, cov=np.diag([0.8, 0.2, 1.0 + 0j])), "cov"),
    (lambda: Maxwellian(3, mean=[0.5 + 1j, 0.0, 0.0]), "mean"),
    (lambda: Maxwellian(3, mean=torch.tensor([True, False, True])), "mean"),
    (lambda: Maxwellian(3, T=1 + 0j), "T"),
    (lambda: TwoBump2D(u1=np.array([1j, 0.0])), "u1"),
    (lambda: TwoBump2D(C=1j), "C"),
    (lambda: IsotropicCoulomb(K=0.7 + 0j), "K"),
    (lambda: gaussian_mixture_moments(torch.zeros(1, 2), torch.eye(2), torch.ones(1, dtype=torch.complex64)),
     "weights"),
    (lambda: get_problem("aniso_coulomb", cov0=torch.eye(3, dtype=torch.complex64)), "cov0"),
])
def test_complex_arguments_are_type_errors(build, arg):
    """A complex mean/covariance/weight used to lose its imaginary part silently."""
    with pytest.raises(TypeError, match=arg):
        build()


def test_real_arrays_are_accepted():
    m = Maxwellian(3, mean=np.array([0.5, 0.0, -1.0]))
    assert m.mean.dtype == F64 and m.mean.tolist() == [0.5, 0.0, -1.0]
    a = AnisotropicGaussian(3, cov0=np.diag([1.8, 0.2, 1.0]).astype(np.float32))
    assert torch.allclose(a.cov, torch.diag(torch.tensor([1.8, 0.2, 1.0], dtype=F64)), atol=1e-7)
    with pytest.raises(ValueError, match="weights"):
        gaussian_mixture_moments(torch.zeros(2, 2), torch.eye(2), torch.tensor([0.7, 0.7]))


def test_subclasses_cannot_bypass_the_checks():
    with pytest.raises(TypeError, match="must not override Problem.sample"):
        class OwnSample(Maxwellian):  # noqa: F841
            def sample(self, n, **kw):
                return torch.zeros(n, 2)
    with pytest.raises(TypeError, match="must not override Problem.score"):
        class OwnScore(BKW):  # noqa: F841
            def score(self, v, t):
                return v

    class WrongDim(Maxwellian):
        def _sample(self, n, generator, device):
            return torch.zeros(n, 2, dtype=F64)

    class WrongDtype(Maxwellian):
        def _sample(self, n, generator, device):
            return torch.zeros(n, 3, dtype=torch.float32)

    with pytest.raises(RuntimeError, match=r"WrongDim._sample returned shape \(4, 2\).*\(4, 3\)"):
        WrongDim(3).sample(4)
    with pytest.raises(RuntimeError, match="float32"):
        WrongDtype(3).sample(4, dtype=torch.float32)


@pytest.mark.parametrize("name, kw", [(name, {}) for name in ALL_NAMES]
                         + [("bkw2", {"C": 1 / 16, "c_bkw": 0.5, "t0": 0.0}), ("aniso_maxwell", {"d": 2}),
                            ("aniso_coulomb", {"d": 5}), ("mixture_coulomb", {"d": 4}), ("maxwellian", {"d": 6})])
def test_samples_have_the_problem_dimension_and_dtype(name, kw):
    p = get_problem(name, **kw)
    for dtype in (torch.float32, torch.float64):
        x = p.sample(7, generator=torch.Generator().manual_seed(0), dtype=dtype)
        assert x.shape == (7, p.d) and x.dtype == dtype
        assert p.score(x, p.t0).shape == (7, p.d) and p.log_density(x, p.t0).shape == (7,)
