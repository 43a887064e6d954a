"""Tests of landau_lite.analysis.quadrature and .divergences: rules, functionals against Gaussian closed forms and
each other, Fisher information, the weight <v>, Pinsker ratios."""

from __future__ import annotations

import math

import pytest
import torch

from landau_lite.analysis import divergences as dv
from landau_lite.analysis import gaussian as gs
from landau_lite.analysis import quadrature as qd
from landau_lite.analysis.grid import Grid, grid_quadrature, kl_on_grid, lp_distance_on_grid
from landau_lite.problems import BKW
from landau_lite.radial import RadialGrid

torch.set_num_threads(1)
F64 = torch.float64


def log_gauss(mean, cov):
    """Log-density of N(mean, cov) as a callable v -> (M,)."""
    mean = torch.as_tensor(mean, dtype=F64)
    cov = torch.as_tensor(cov, dtype=F64)
    d = mean.numel()
    prec = torch.linalg.inv(cov)
    logdet = torch.linalg.slogdet(cov)[1]

    def f(v):
        y = v - mean
        return -0.5 * ((y @ prec) * y).sum(1) - 0.5 * d * math.log(2 * math.pi) - 0.5 * logdet
    return f


def gauss(mean, cov):
    lf = log_gauss(mean, cov)
    return lambda v: torch.exp(lf(v))


# ------------------------------------------------------------------------------------------------
# quadratures
# ------------------------------------------------------------------------------------------------

def test_gauss_legendre_exact_for_polynomials():
    x, w = qd.gauss_legendre_rule(-1.0, 2.0, panels=3, order=4)
    for k in range(8):
        exact = (2.0 ** (k + 1) - (-1.0) ** (k + 1)) / (k + 1)
        assert abs(float((w * x ** k).sum()) - exact) < 1e-12 * max(1.0, abs(exact))


@pytest.mark.parametrize("d", [1, 2, 3])
def test_radial_quadrature_moments(d):
    q = qd.radial_quadrature(d, 14.0)
    f = gauss(torch.zeros(d), torch.eye(d))
    r2 = (q.points ** 2).sum(1)
    assert abs(float(dv.integrate(f, q)) - 1.0) < 1e-13
    assert abs(float(q.integrate(f(q.points) * r2)) - d) < 1e-12
    assert abs(float(q.integrate(f(q.points) * r2 * r2)) - d * (d + 2)) < 1e-11


def test_tensor_and_line_quadrature_mean_and_covariance():
    q = qd.tensor_quadrature(2, 9.0, center=[0.5, -0.3])
    cov = torch.tensor([[1.0, 0.3], [0.3, 0.5]], dtype=F64)
    f = gauss(torch.tensor([0.5, -0.3]), cov)(q.points)
    m = q.integrate(f[:, None] * q.points)
    assert torch.allclose(m, torch.tensor([0.5, -0.3], dtype=F64), atol=1e-12)
    y = q.points - m
    c = q.integrate(f[:, None, None] * y[:, :, None] * y[:, None, :])
    assert torch.allclose(c, cov, atol=1e-11)
    q1 = qd.line_quadrature(10.0, center=2.0)
    assert abs(float(q1.integrate(torch.exp(-(q1.points[:, 0] - 2.0) ** 2))) - math.sqrt(math.pi)) < 1e-13


def test_grid_quadrature_matches_grid_module():
    grid = Grid(d=2, L=7.0, n=40)
    q = grid_quadrature(grid)
    f = gauss(torch.zeros(2), torch.eye(2))(q.points)
    g = gauss(torch.tensor([0.4, 0.0]), 1.5 * torch.eye(2))(q.points)
    assert torch.allclose(dv.kl_divergence(f, g, q), kl_on_grid(f, g, grid), rtol=1e-13, atol=0)
    for p in (1, 2, 3.5, math.inf):
        assert torch.allclose(dv.lp_distance(f, g, q, p), lp_distance_on_grid(f, g, grid, p), rtol=1e-13, atol=0)


def test_sphere_area():
    assert qd.sphere_area(1) == 2.0
    assert abs(qd.sphere_area(2) - 2 * math.pi) < 1e-14
    assert abs(qd.sphere_area(3) - 4 * math.pi) < 1e-14
    assert abs(qd.sphere_area(4) - 2 * math.pi ** 2) < 1e-13


# ------------------------------------------------------------------------------------------------
# divergences against closed forms
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("d", [1, 2, 3])
def test_kl_and_l2_against_gaussian_closed_forms(d):
    mf = torch.zeros(d, dtype=F64)
    mg = torch.zeros(d, dtype=F64)
    mg[0] = 0.7
    Sf = torch.eye(d, dtype=F64)
    Sg = torch.diag(torch.linspace(0.6, 1.8, d, dtype=F64))
    q = qd.line_quadrature(14.0) if d == 1 else qd.tensor_quadrature(d, 11.0, panels=12 if d == 3 else 16)
    kl = dv.kl_divergence(log_gauss(mf, Sf), log_gauss(mg, Sg), q, log_densities=True)
    assert torch.allclose(kl, gs.gaussian_kl(mf, Sf, mg, Sg), rtol=1e-9, atol=0)
    l2 = dv.lp_distance(gauss(mf, Sf), gauss(mg, Sg), q, 2)
    assert torch.allclose(l2, gs.gaussian_l2_distance(mf, Sf, mg, Sg), rtol=1e-8, atol=0)
    h = dv.entropy(log_gauss(mf, Sg), q, log_densities=True)
    assert torch.allclose(h, gs.gaussian_entropy(Sg), rtol=1e-10, atol=0)


def test_kl_underflow_needs_log_densities():
    q = qd.line_quadrature(40.0, panels=128)
    f, g = gauss([0.0], [[1.0]]), gauss([0.0], [[0.05]])
    with pytest.raises(ValueError, match="g must be > 0"):
        dv.kl_divergence(f, g, q)
    kl = dv.kl_divergence(log_gauss([0.0], [[1.0]]), log_gauss([0.0], [[0.05]]), q, log_densities=True)
    ref = gs.gaussian_kl(torch.zeros(1, dtype=F64), torch.ones(1, 1, dtype=F64), torch.zeros(1, dtype=F64),
                         0.05 * torch.ones(1, 1, dtype=F64))
    assert torch.allclose(kl, ref, rtol=1e-10, atol=0)


def test_relative_fisher_information_bkw_identity():
    """For BKW, the radial quadrature of I(f|M) and d/dt H agree: dH/dt = -C(d-1) I(f|M)."""
    p = BKW(3)
    q = qd.radial_quadrature(3, 14.0, panels=48)
    t, h = 7.0, 1e-4
    H = [float(dv.entropy(lambda v, s=s: p.log_density(v, s), q, log_densities=True)) for s in (t - h, t + h)]
    dHdt = (H[1] - H[0]) / (2 * h)
    fisher = dv.relative_fisher_information(lambda v: p.density(v, t), lambda v: p.score(v, t), lambda v: -v, q)
    assert abs(dHdt + p.C * 2 * float(fisher)) < 1e-7 * abs(dHdt)


def test_relative_fisher_information_gaussians():
    q = qd.radial_quadrature(2, 20.0)
    s = 2.5
    f = gauss(torch.zeros(2), s * torch.eye(2))
    val = dv.relative_fisher_information(f, lambda v: -v / s, lambda v: -v, q)
    assert abs(float(val) - 2 * s * (1 - 1 / s) ** 2) < 1e-12
    # weighted: I_2(f|g) = (1 - 1/s)^2 E[(1 + |v|^2)|v|^2] = (1 - 1/s)^2 (2 s + 8 s^2) in 2-D
    val2 = dv.relative_fisher_information(f, lambda v: -v / s, lambda v: -v, q, k=2.0)
    assert float(val2) == pytest.approx((1 - 1 / s) ** 2 * (2 * s + 8 * s * s), rel=1e-12)


# ------------------------------------------------------------------------------------------------
# shells of the radial solver
# ------------------------------------------------------------------------------------------------

def test_shell_quadrature_is_the_radial_grid_rule():
    g = RadialGrid(R=10.0, n=200)
    q = qd.shell_quadrature(g)
    c, V = g.quadrature()
    assert q.kind == "radial" and q.points.shape == (200, 3)
    assert torch.equal(q.points[:, 0], c) and torch.equal(q.weights, V)
    assert float((q.points[:, 1:] ** 2).sum()) == 0.0
    f = gauss3(c, 1.3)
    # the functionals on the shells agree with the grid's own midpoint sums (a wrong weight or node shows here)
    assert float(dv.integrate(f, q)) == pytest.approx(float(g.integrate(f)), rel=1e-13)
    assert float(dv.moment(f, q, 2.0)) == pytest.approx(float(g.integrate(f * (1 + c * c))), rel=1e-13)
    # second order in the shell width: the mass error drops by ~4 when the spacing halves
    errs = [abs(float(dv.integrate(gauss3(qd.shell_quadrature(RadialGrid(10.0, n)).points[:, 0]),
                                   qd.shell_quadrature(RadialGrid(10.0, n)))) - 1) for n in (100, 200)]
    assert 3.5 < errs[0] / errs[1] < 4.5
    with pytest.raises(TypeError, match="RadialGrid"):
        qd.shell_quadrature(Grid(d=3, L=1.0, n=4))


# ------------------------------------------------------------------------------------------------
# moments, entropy, KL, weighted norms and Fisher information on a radial rule
# ------------------------------------------------------------------------------------------------

def gauss3(r: torch.Tensor, T: float = 1.0) -> torch.Tensor:
    return (2 * math.pi * T) ** -1.5 * torch.exp(-r * r / (2 * T))


@pytest.fixture(scope="module")
def rquad():
    return qd.radial_quadrature(3, 14.0, panels=56, order=16)


def test_japanese_bracket_radii_and_points():
    r = torch.tensor([0.0, 3.0], dtype=F64)
    assert dv.japanese_bracket(r).tolist() == [1.0, math.sqrt(10.0)]
    pts = torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 2.0]], dtype=F64)
    assert dv.japanese_bracket(pts).tolist() == [1.0, math.sqrt(10.0)]
    assert dv.japanese_bracket(pts, -3.0).tolist() == pytest.approx([1.0, 10.0 ** -1.5], rel=1e-15)


def test_gaussian_quantities_by_radial_quadrature(rquad):
    q = rquad
    r = q.points[:, 0]
    for T in (0.5, 1.0, 2.0):
        f = gauss3(r, T)
        s = -r / T                                                    # radial component of the score
        assert float(q.weights.sum()) == pytest.approx(4 * math.pi * 14.0 ** 3 / 3, rel=1e-12)
        assert float(dv.moment(f, q, 0.0)) == pytest.approx(1.0, abs=1e-12)
        # M_2 = 1 + 3T: the weight <v>^k enters (k = 0 and k = 2 differ)
        assert float(dv.moment(f, q, 2.0)) == pytest.approx(1 + 3 * T, rel=1e-12)
        assert float(dv.fisher_information(f, s, q)) == pytest.approx(3.0 / T, rel=1e-10)
        # the same with full score vectors (M, 3): radial components and vectors agree
        assert float(dv.fisher_information(f, -q.points / T, q)) == pytest.approx(3.0 / T, rel=1e-10)
        # I_2 = E[(1+|v|^2)|v|^2]/T^2 = (3T + 15T^2)/T^2
        assert float(dv.fisher_information(f, s, q, k=2.0)) == pytest.approx((3 * T + 15 * T ** 2) / T ** 2, rel=1e-10)
        assert float(dv.entropy(f, q)) == pytest.approx(-1.5 * math.log(2 * math.pi * math.e * T), abs=1e-10)
        # ||f||_2^2 = (4 pi T)^{-3/2}; ||<v> f||_2^2 = (4 pi T)^{-3/2} (1 + 3T/2)
        assert float(dv.lp_norm(f, q, 2.0)) ** 2 == pytest.approx((4 * math.pi * T) ** -1.5, rel=1e-10)
        assert float(dv.lp_norm(f, q, 2.0, k=1.0)) ** 2 == pytest.approx((4 * math.pi * T) ** -1.5 * (1 + 1.5 * T),
                                                                          rel=1e-10)
        assert float(dv.lp_norm(f, q, math.inf)) == pytest.approx(float(f.max()))
        assert float(dv.sup_norm(f, q)) == float(f.max())


def test_kl_forms_agree_and_are_accurate(rquad):
    q = rquad
    r = q.points[:, 0]
    f, g = gauss3(r, 1.0), gauss3(r, 2.0)
    exact = 1.5 * (math.log(2.0) - 0.5)
    assert float(dv.kl_divergence(f, g, q)) == pytest.approx(exact, abs=1e-11)
    assert float(dv.kl_divergence(f, g, q, nonnegative=True)) == pytest.approx(exact, abs=1e-11)
    lf, lg = torch.log(f), torch.log(g)
    assert float(dv.kl_divergence(lf, lg, q, log_densities=True, nonnegative=True)) == pytest.approx(exact, abs=1e-11)
    # tiny KL: N(0, I) vs N(0, (1+e) I): KL = 1.5 (e - log(1+e)) ~ 0.75 e^2
    e = 1e-6
    g2 = gauss3(r, 1.0 + e)
    tiny = 1.5 * (math.log1p(e) - e / (1.0 + e))
    assert float(dv.kl_divergence(f, g2, q, nonnegative=True)) == pytest.approx(tiny, rel=1e-4)
    assert float(dv.kl_divergence(torch.log(f), torch.log(g2), q, nonnegative=True,
                                  log_densities=True)) == pytest.approx(tiny, rel=1e-4)


def test_kl_and_fisher_validation(rquad):
    q = rquad
    r = q.points[:, 0]
    f = gauss3(r)
    g = f.clone()
    g[3] = 0.0
    with pytest.raises(ValueError, match="g must be > 0"):
        dv.kl_divergence(f, g, q)
    with pytest.raises(ValueError, match="shape"):
        dv.kl_divergence(f, f[:-1], q)
    with pytest.raises(TypeError, match="nonnegative"):
        dv.kl_divergence(f, f, q, nonnegative=1)
    with pytest.raises(ValueError, match="f must be >= 0"):
        dv.fisher_information(-f, -r, q)
    with pytest.raises(ValueError, match="score must have shape"):
        dv.fisher_information(f, -r[:-1], q)
    with pytest.raises(ValueError, match="score must have shape"):          # radial components need a radial rule
        dv.fisher_information(lambda v: v[:, 0] ** 2, lambda v: v[:, 0], qd.tensor_quadrature(2, 3.0, panels=2))
    with pytest.raises(TypeError):
        dv.fisher_information(f.numpy(), -r, q)
    with pytest.raises(ValueError, match="k must be finite"):
        dv.moment(f, q, math.nan)


def test_estimators_keep_dtype():
    q = qd.radial_quadrature(3, 10.0, panels=20, order=8, dtype=torch.float32)
    r = q.points[:, 0]
    f = gauss3(r)
    out = dv.fisher_information(f, -r, q, k=3.0)
    assert out.dtype == torch.float32
    q64 = qd.radial_quadrature(3, 10.0, panels=20, order=8)
    r64 = q64.points[:, 0]
    assert float(out) == pytest.approx(float(dv.fisher_information(gauss3(r64), -r64, q64, k=3.0)), rel=1e-5)


def test_weighted_fisher_particles_is_unbiased(rquad):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(100_000, 3, generator=gen, dtype=F64)
    terms = (1 + (x * x).sum(1)) ** 1.5 * (x * x).sum(1)
    est = float(dv.weighted_fisher_particles(x, -x, 3.0))
    r = rquad.points[:, 0]
    exact = float(dv.fisher_information(gauss3(r), -r, rquad, k=3.0))
    assert abs(est - exact) < 4 * float(terms.std()) / math.sqrt(x.shape[0])


# ------------------------------------------------------------------------------------------------
# Pinsker
# ------------------------------------------------------------------------------------------------

def test_pinsker_ratios_below_one_for_many_pairs():
    g = torch.Generator().manual_seed(3)
    q = qd.line_quadrature(30.0, panels=64)
    for _ in range(40):
        m = float(torch.randn(1, generator=g)) * 2
        s = float(torch.exp(torch.randn(1, generator=g)))
        r = dv.pinsker_ratios(log_gauss([0.0], [[1.0]]), log_gauss([m], [[s]]), q, log_densities=True)
        assert 0 < float(r.ratio_l1) <= 1 and 0 < float(r.ratio_l2) <= 1
        kl = gs.gaussian_kl(torch.zeros(1, dtype=F64), torch.ones(1, 1, dtype=F64),
                            torch.tensor([m], dtype=F64), torch.tensor([[s]], dtype=F64))
        assert torch.allclose(r.kl, kl, rtol=1e-8, atol=1e-14)


def test_pinsker_ratios_with_exact_kl_and_sup():
    q = qd.tensor_quadrature(2, 10.0)
    z = torch.zeros(2, dtype=F64)
    m = torch.tensor([0.5, 0.2], dtype=F64)
    S = torch.diag(torch.tensor([0.7, 1.3], dtype=F64))
    I = torch.eye(2, dtype=F64)
    kl = gs.gaussian_kl(z, I, m, S)
    sup = torch.maximum(gs.gaussian_sup_norm(I), gs.gaussian_sup_norm(S))
    r = dv.pinsker_ratios(gauss(z, I), gauss(m, S), q, kl=kl, sup=sup)
    l2 = gs.gaussian_l2_distance(z, I, m, S)
    assert torch.allclose(r.ratio_l2, l2 ** 2 / (2 * sup * kl), rtol=1e-9, atol=0)
    assert float(r.ratio_l1) < 1 and float(r.ratio_l2) < 1


def test_perturbation_limits_closed_forms_and_convergence():
    q = qd.line_quadrature(16.0, panels=64)
    f = gauss([0.0], [[1.0]])
    sup = 1 / math.sqrt(2 * math.pi)
    r1, r2 = dv.perturbation_limits(f, lambda v: v[:, 0], q, sup=sup)
    assert abs(float(r1) - 2 / math.pi) < 1e-12
    assert abs(float(r2) - math.sqrt(2) / 4) < 1e-12
    r1, r2 = dv.perturbation_limits(f, lambda v: v[:, 0] ** 2 - 1, q, sup=sup)
    assert abs(float(r1) - 4 / (math.pi * math.e)) < 1e-6      # |h| has kinks at +-1: algebraic convergence
    qb = qd.line_quadrature(16.0, panels=64, breaks=[-1.0, 1.0])
    r1, _ = dv.perturbation_limits(f, lambda v: v[:, 0] ** 2 - 1, qb, sup=sup)
    assert abs(float(r1) - 4 / (math.pi * math.e)) < 1e-13    # panels split at the kinks: exponential again
    assert abs(float(r2) - 3 * math.sqrt(2) / 16) < 1e-12
    # the ratios of a small mean shift approach the limits
    r = dv.pinsker_ratios(log_gauss([0.0], [[1.0]]), log_gauss([1e-3], [[1.0]]), q, log_densities=True)
    assert abs(float(r.ratio_l1) - 2 / math.pi) < 1e-3


def test_sign_perturbation_makes_classical_pinsker_sharp():
    q = qd.line_quadrature(16.0, panels=64)
    f = gauss([0.0], [[1.0]])
    r1, _ = dv.perturbation_limits(f, lambda v: torch.sign(v[:, 0]), q)
    assert abs(float(r1) - 1.0) < 1e-12


# ------------------------------------------------------------------------------------------------
# kinks: panels split at the sign changes of f - g
# ------------------------------------------------------------------------------------------------

def _Phi(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _phi(x):
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _l1_gauss_1d(m, s):
    """||N(0,1) - N(m,s)||_1 in closed form: Phi-differences between the roots of f = g."""
    a, b, c = 0.5 / s - 0.5, -m / s, m * m / (2 * s) + 0.5 * math.log(s)
    if abs(a) < 1e-15:
        roots = [-c / b]
    else:
        disc = math.sqrt(b * b - 4 * a * c)
        roots = sorted([(-b - disc) / (2 * a), (-b + disc) / (2 * a)])
    edges = [-math.inf] + roots + [math.inf]
    return sum(abs((_Phi(hi) - _Phi(lo)) - (_Phi((hi - m) / math.sqrt(s)) - _Phi((lo - m) / math.sqrt(s))))
               for lo, hi in zip(edges[:-1], edges[1:]))


def _ball_3d(delta, R):
    """P(|X - c| < R) for X ~ N(0, I_3), |c| = delta (the non-central chi distribution with 3 degrees of freedom)."""
    if delta < 1e-12:
        return math.erf(R / math.sqrt(2.0)) - 2.0 * R * _phi(R)
    return _Phi(R - delta) + _Phi(R + delta) - 1.0 - (_phi(R - delta) - _phi(R + delta)) / delta


def _axis_roots(d, m, s, L):
    f, g = log_gauss([0.0] * d, torch.eye(d, dtype=F64)), log_gauss([m] + [0.0] * (d - 1), s * torch.eye(d, dtype=F64))

    def h(t):
        v = torch.zeros(t.numel(), d, dtype=F64)
        v[:, 0] = t
        return f(v) - g(v)
    return f, g, qd.sign_changes(h, m / 2 - 3 * L, m / 2 + 3 * L)


def test_sign_changes_and_breaks():
    roots = qd.sign_changes(lambda t: torch.sin(t), -7.0, 7.0)
    assert [round(r / math.pi, 12) for r in roots] == [-2.0, -1.0, 0.0, 1.0, 2.0]
    assert qd.sign_changes(lambda t: t * t + 1.0, -3.0, 3.0) == []
    x, w = qd.gauss_legendre_rule(-2.0, 3.0, panels=10, order=4, breaks=[-1.0, 0.5, 0.5, 3.0])
    edges = torch.tensor([-2.0, -1.0, 0.5, 3.0], dtype=F64)
    assert x.numel() == 40 and abs(float(w.sum()) - 5.0) < 1e-14
    assert not bool(((x[:, None] - edges[None, :]).abs() < 1e-15).any())
    # |x - 0.5| is piecewise linear: exact with the break, not without
    exact = 0.5 * (2.5 ** 2 + 2.5 ** 2)
    assert abs(float((w * (x - 0.5).abs()).sum()) - exact) < 1e-13
    x, w = qd.gauss_legendre_rule(-2.0, 3.0, panels=9, order=4)
    assert abs(float((w * (x - 0.5).abs()).sum()) - exact) > 1e-4
    with pytest.raises(ValueError, match="breaks"):
        qd.gauss_legendre_rule(0.0, 1.0, breaks=[2.0])
    with pytest.raises(TypeError, match="breaks"):
        qd.line_quadrature(1.0, breaks=3.0)
    with pytest.raises(TypeError, match="h must be"):
        qd.sign_changes(3.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="shape"):
        qd.sign_changes(lambda t: t[:1], 0.0, 1.0)


def test_radial_and_axial_breaks_keep_the_rules_exact():
    q = qd.radial_quadrature(3, 12.0, panels=16, power=3.0, breaks=[1.5])
    r2 = (q.points ** 2).sum(1)
    assert abs(float(q.integrate((2 * math.pi) ** -1.5 * torch.exp(-0.5 * r2) * r2)) - 3.0) < 1e-12
    assert not bool(((q.points[:, 0] - 1.5).abs() < 1e-14).any())
    qa = qd.axial_quadrature(3, 10.0, 10.0, center=0.5, x_breaks=[0.3])
    assert abs(float(qa.integrate(gauss([0.5, 0, 0], torch.eye(3, dtype=F64))(qa.points))) - 1.0) < 1e-12


@pytest.mark.parametrize("d,axial", [(2, False), (3, False), (2, True), (3, True)])
def test_polar_quadrature_integrates_gaussians(d, axial):
    c = [0.7] + [0.0] * (d - 1) if axial else [0.7, -0.4, 0.2][:d]
    q = qd.polar_quadrature(d, 14.0, center=c, axial=axial, breaks=[0.9])
    assert q.kind == ("axial" if axial else "polar")
    f = gauss([0.0] * d, torch.eye(d, dtype=F64))
    assert abs(float(q.integrate(f(q.points))) - 1.0) < 1e-12
    assert abs(float(q.integrate(f(q.points) * (q.points ** 2).sum(1))) - d) < 1e-11
    # the Jacobian cancels |v - c|^{-1}: the Coulomb potential of N(0, I) at c in 3-D is erf(|c|/sqrt 2)/|c|
    if d == 3 and not axial:
        y = q.points - torch.tensor(c, dtype=F64)
        pot = float(q.integrate(f(q.points) / y.norm(dim=1)))
        rc = math.sqrt(sum(a * a for a in c))
        assert abs(pot - math.erf(rc / math.sqrt(2)) / rc) < 1e-12
    with pytest.raises(ValueError, match="axis"):
        qd.polar_quadrature(3, 1.0, center=[0.0, 1.0, 0.0], axial=True)


def test_l1_distance_of_gaussians_needs_the_kinks_split():
    """The wrong answer: rho_1 = 0.7299 for N(0,1) vs N(2,4) from 64 panels across the kinks of |f - g|
    (the correct 0.73039); with panels split at the sign changes of f - g the L^1 distance is exact to round-off."""
    worst_split, worst_plain = 0.0, 0.0
    for m in (0.0, 0.5, 2.0, 4.0):
        for s in (0.25, 1.0, 4.0):
            if m == 0.0 and s == 1.0:
                continue
            L = m / 2 + 9 * math.sqrt(max(1.0, s))
            f, g, roots = _axis_roots(1, m, s, L)
            inside = [r for r in roots if abs(r - m / 2) < L]
            exact = _l1_gauss_1d(m, s)
            split = qd.line_quadrature(L, center=m / 2, panels=64, breaks=inside)
            plain = qd.line_quadrature(L, center=m / 2, panels=64)
            worst_split = max(worst_split, abs(float(dv.lp_distance(f, g, split, 1, log_densities=True)) / exact - 1))
            worst_plain = max(worst_plain, abs(float(dv.lp_distance(f, g, plain, 1, log_densities=True)) / exact - 1))
    assert worst_split < 1e-12
    assert worst_plain > 1e-4                  # the uniform rule is off in the fourth digit
    kl = gs.gaussian_kl(torch.zeros(1, dtype=F64), torch.eye(1, dtype=F64), torch.tensor([2.0], dtype=F64),
                        4 * torch.eye(1, dtype=F64))
    assert _l1_gauss_1d(2.0, 4.0) ** 2 / (2 * float(kl)) == pytest.approx(0.730393, abs=1e-6)


@pytest.mark.parametrize("m,s", [(0.0, 0.25), (0.5, 2.0), (1.0, 1.0), (4.0, 0.5)])
def test_l1_distance_of_3d_gaussians_on_the_crossing_sphere(m, s):
    """In 3-D, N(0, I) and N(m e1, s I) cross on a sphere centred on the e1 axis (a plane if s = 1): the polar rule
    about its centre with a break at its radius (the axial rule with an x-break) is exact to round-off."""
    L = m / 2 + 9 * math.sqrt(max(1.0, s))
    f, g, roots = _axis_roots(3, m, s, L)
    if len(roots) == 1:
        exact = 2 * abs(2 * _Phi(m / 2) - 1)
        q = qd.axial_quadrature(3, L, L, center=m / 2, panels=48, x_breaks=roots)
    else:
        c, R = 0.5 * (roots[0] + roots[1]), 0.5 * (roots[1] - roots[0])
        exact = 2 * abs(_ball_3d(abs(c), R) - _ball_3d(abs(m - c) / math.sqrt(s), R / math.sqrt(s)))
        q = qd.polar_quadrature(3, abs(c) + abs(m) + 10 * math.sqrt(max(1.0, s)), center=c, axial=True, breaks=[R],
                                panels=48, n_angles=48)
    assert float(dv.lp_distance(f, g, q, 1, log_densities=True)) == pytest.approx(exact, rel=1e-12)


# ------------------------------------------------------------------------------------------------
# validation, dtype/device
# ------------------------------------------------------------------------------------------------

def test_validation_errors():
    q = qd.line_quadrature(5.0)
    with pytest.raises(ValueError, match="weights"):
        qd.Quadrature(points=torch.zeros(3, 1, dtype=F64), weights=torch.zeros(2, dtype=F64), kind="line")
    with pytest.raises(ValueError, match="kind"):
        qd.Quadrature(points=torch.zeros(3, 1, dtype=F64), weights=torch.zeros(3, dtype=F64), kind="sphere")
    with pytest.raises(ValueError, match="weights must be >= 0"):
        qd.Quadrature(points=torch.zeros(2, 1, dtype=F64), weights=torch.tensor([1.0, -1.0], dtype=F64), kind="line")
    with pytest.raises(TypeError, match="quad"):
        dv.kl_divergence(lambda v: v[:, 0], lambda v: v[:, 0], "grid")
    with pytest.raises(ValueError, match="f must have shape"):
        dv.integrate(torch.ones(3, dtype=F64), q)
    with pytest.raises(ValueError, match="f must be >= 0"):
        dv.entropy(lambda v: v[:, 0], q)
    with pytest.raises(ValueError, match="p must lie"):
        dv.lp_distance(lambda v: v[:, 0] ** 2, lambda v: v[:, 0] ** 2, q, 0.5)
    with pytest.raises(TypeError, match="p must be"):
        dv.lp_distance(lambda v: v[:, 0] ** 2, lambda v: v[:, 0] ** 2, q, "2")
    with pytest.raises(ValueError, match="b must be > a"):
        qd.gauss_legendre_rule(1.0, 0.0)
    with pytest.raises(ValueError, match="L must lie"):
        qd.line_quadrature(-1.0)
    with pytest.raises(ValueError, match="positive definite"):
        gs.gaussian_kl(torch.zeros(2, dtype=F64), torch.eye(2, dtype=F64), torch.zeros(2, dtype=F64),
                       torch.diag(torch.tensor([1.0, -1.0], dtype=F64)))
    with pytest.raises(ValueError, match="KL"):
        dv.pinsker_ratios(gauss([0.0], [[1.0]]), gauss([0.0], [[1.0]]), q)
    with pytest.raises(ValueError, match="zero mean"):
        dv.perturbation_limits(gauss([0.0], [[1.0]]), lambda v: 1.0 + 0 * v[:, 0], q)
    with pytest.raises(ValueError, match="nodes"):
        qd.tensor_quadrature(3, 5.0, panels=100, order=8)


def test_float32_is_kept():
    q = qd.radial_quadrature(3, 10.0, dtype=torch.float32)
    f = lambda v: (2 * math.pi) ** -1.5 * torch.exp(-0.5 * (v * v).sum(1))
    out = dv.integrate(f, q)
    assert out.dtype == torch.float32 and abs(float(out) - 1) < 1e-5
    r = dv.pinsker_ratios(f, lambda v: 0.9 * f(v) + 0.1 * f(v / 1.1) / 1.1 ** 3, q)
    assert r.ratio_l1.dtype == torch.float32


def test_graded_radial_quadrature_resolves_the_origin():
    """2-D BKW just after its critical time (t_c = 0): the score varies on the scale sqrt(P/Q) ~ 0.01."""
    p = BKW(2, C=1 / 16, c_bkw=0.5, t0=0.0)
    t = 1e-3
    f = lambda v: p.density(v, t)
    fisher = [float(dv.relative_fisher_information(f, lambda v: p.score(v, t), lambda v: -v,
                                                   qd.radial_quadrature(2, 14.0, panels=n, power=3.0)))
              for n in (32, 64)]
    assert abs(fisher[0] - fisher[1]) < 1e-10 * fisher[1]
    assert abs(float(dv.integrate(f, qd.radial_quadrature(2, 14.0, power=3.0))) - 1) < 1e-13


@pytest.mark.parametrize("d", [2, 3, 4])
def test_axial_quadrature_matches_closed_forms(d):
    mf, mg = torch.zeros(d, dtype=F64), torch.zeros(d, dtype=F64)
    mg[0] = 1.5
    Sf, Sg = torch.eye(d, dtype=F64), 0.6 * torch.eye(d, dtype=F64)
    q = qd.axial_quadrature(d, 12.0, 10.0, center=0.75)
    kl = dv.kl_divergence(log_gauss(mf, Sf), log_gauss(mg, Sg), q, log_densities=True)
    assert torch.allclose(kl, gs.gaussian_kl(mf, Sf, mg, Sg), rtol=1e-10, atol=0)
    l2 = dv.lp_distance(gauss(mf, Sf), gauss(mg, Sg), q, 2)
    assert torch.allclose(l2, gs.gaussian_l2_distance(mf, Sf, mg, Sg), rtol=1e-10, atol=0)
