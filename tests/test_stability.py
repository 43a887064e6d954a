"""Tests of landau_lite.analysis.stability: estimators, Gaussian KL identity, Lemma 3.3 terms, Grönwall (radial solver: test_radial.py)."""

from __future__ import annotations

import math

import pytest
import torch

from landau_lite.analysis import stability as st
from landau_lite.analysis.divergences import gaussian_kl, radial_quadrature
from landau_lite.analysis.grid import Grid
from landau_lite.problems import GaussianMixture, Maxwellian

torch.set_num_threads(1)
F64 = torch.float64


def gauss3(r: torch.Tensor, T: float = 1.0) -> torch.Tensor:
    return (2 * math.pi * T) ** -1.5 * torch.exp(-r * r / (2 * T))


def radial_rule(R: float, panels: int, order: int, dtype: torch.dtype = F64) -> tuple[torch.Tensor, torch.Tensor]:
    q = radial_quadrature(3, R, panels=panels, order=order, dtype=dtype)
    return q.points[:, 0], q.weights


@pytest.fixture(scope="module")
def quad():
    return radial_rule(14.0, 56, 16)


# ----------------------------------------------------------------------------------------------
# quadrature estimators
# ----------------------------------------------------------------------------------------------

def test_japanese_bracket_radii_and_points():
    r = torch.tensor([0.0, 3.0], dtype=F64)
    assert st.japanese_bracket(r).tolist() == [1.0, math.sqrt(10.0)]
    pts = torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 2.0]], dtype=F64)
    assert st.japanese_bracket(pts).tolist() == [1.0, math.sqrt(10.0)]


def test_gaussian_quantities_by_radial_quadrature(quad):
    r, w = quad
    for T in (0.5, 1.0, 2.0):
        f = gauss3(r, T)
        s = -r / T
        assert float(w.sum()) == pytest.approx(4 * math.pi * 14.0 ** 3 / 3, rel=1e-12)
        assert float(st.weighted_moment_quadrature(f, r, w, 0.0)) == pytest.approx(1.0, abs=1e-12)
        assert float(st.weighted_fisher_information(f, s, r, w, 0.0)) == pytest.approx(3.0 / T, rel=1e-10)
        # I_2 = E[(1+|v|^2)|v|^2]/T^2 = (3T + 15T^2)/T^2
        assert float(st.weighted_fisher_information(f, s, r, w, 2.0)) == pytest.approx((3 * T + 15 * T ** 2) / T ** 2,
                                                                                         rel=1e-10)
        assert float(st.entropy_quadrature(f, w)) == pytest.approx(-1.5 * math.log(2 * math.pi * math.e * T), abs=1e-10)
        # ||f||_2^2 = (4 pi T)^{-3/2}
        assert float(st.weighted_lp_norm(f, r, w, k=0.0, p=2.0)) ** 2 == pytest.approx((4 * math.pi * T) ** -1.5,
                                                                                      rel=1e-10)
        assert float(st.weighted_lp_norm(f, r, w, k=0.0, p=math.inf)) == pytest.approx(float(f.max()))


def test_kl_quadrature_forms_agree_and_are_accurate(quad):
    r, w = quad
    f, g = gauss3(r, 1.0), gauss3(r, 2.0)
    exact = 1.5 * (math.log(2.0) - 0.5)
    assert float(st.kl_quadrature(f, g, w)) == pytest.approx(exact, abs=1e-11)
    assert float(st.kl_quadrature(f, g, w, nonnegative=True)) == pytest.approx(exact, abs=1e-11)
    # tiny KL: N(0, I) vs N(0, (1+e) I): KL = 1.5 (e - log(1+e)) ~ 0.75 e^2
    e = 1e-6
    g2 = gauss3(r, 1.0 + e)
    tiny = 1.5 * (math.log1p(e) - e / (1.0 + e))
    assert float(st.kl_quadrature(f, g2, w, nonnegative=True)) == pytest.approx(tiny, rel=1e-4)


def test_kl_quadrature_validation(quad):
    r, w = quad
    f = gauss3(r)
    g = f.clone()
    g[3] = 0.0
    with pytest.raises(ValueError, match="g must be > 0"):
        st.kl_quadrature(f, g, w)
    with pytest.raises(ValueError, match="shape"):
        st.kl_quadrature(f, f[:-1], w)
    with pytest.raises(TypeError, match="nonnegative"):
        st.kl_quadrature(f, f, w, nonnegative=1)
    with pytest.raises(ValueError, match="w must"):
        st.weighted_moment_quadrature(f, r, -w, 0.0)
    with pytest.raises(TypeError):
        st.weighted_fisher_information(f.numpy(), -r, r, w)


def test_kl_rate_quadrature_matches_hand_sum(quad):
    r, w = quad
    f = gauss3(r)
    u_f, u_g, phi = r, 0.5 * r, -r
    assert float(st.kl_rate_quadrature(f, u_f, u_g, phi, w)) == pytest.approx(-0.5 * 3.0, rel=1e-10)


def test_estimators_keep_dtype():
    r, w = radial_rule(10.0, 20, 8, dtype=torch.float32)
    f = gauss3(r)
    out = st.weighted_fisher_information(f, -r, r, w, 3.0)
    assert out.dtype == torch.float32
    assert float(out) == pytest.approx(float(st.weighted_fisher_information(f.double(), -r.double(), r.double(),
                                                                           w.double(), 3.0)), rel=1e-5)


def test_weighted_fisher_particles_is_unbiased():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(100_000, 3, generator=gen, dtype=F64)
    terms = (1 + (x * x).sum(1)) ** 1.5 * (x * x).sum(1)
    est = float(st.weighted_fisher_particles(x, -x, 3.0))
    r, w = radial_rule(14.0, 56, 16)
    exact = float(st.weighted_fisher_information(gauss3(r), -r, r, w, 3.0))
    assert abs(est - exact) < 4 * float(terms.std()) / math.sqrt(x.shape[0])


def test_particle_kl_estimators():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3000, 3, generator=gen, dtype=F64)
    y = math.sqrt(2.0) * torch.randn(3000, 3, generator=gen, dtype=F64)
    exact = 1.5 * (math.log(2.0) - 0.5)
    assert float(st.gaussian_fit_kl(x, y)) == pytest.approx(exact, abs=0.03)
    kde = float(st.kde_kl_estimate(x, y))
    assert 0.5 * exact < kde < 1.5 * exact
    with pytest.raises(ValueError, match="columns"):
        st.kde_kl_estimate(x, y[:, :2])


# ----------------------------------------------------------------------------------------------
# functional inequalities
# ----------------------------------------------------------------------------------------------

def test_sobolev_constant_and_l3_bound():
    assert st.SOBOLEV_3D ** 2 == pytest.approx(4.0 / (3.0 * (2 * math.pi ** 2) ** (2.0 / 3.0)))
    # Gaussians: ||f||_3 / I(f) = 1 / (6 sqrt 3 pi) < S^2 / 4
    assert 1 / (6 * math.sqrt(3) * math.pi) < st.l3_bound_from_fisher(1.0)
    with pytest.raises(ValueError):
        st.l3_bound_from_fisher(-1.0)


def test_hessian_sup_on_balls_against_brute_force():
    rr = torch.linspace(0.0, 6.0, 1201, dtype=F64)
    phi = torch.exp(-rr ** 2 / 2)
    S = st.hessian_sup_on_balls(rr, -rr * phi, (rr ** 2 - 1) * phi, radius=1.0)
    # brute force over points of the ball around v = (2, 0, 0): ||D^2 f(w)|| = max(|w|^2 - 1|, 1) e^{-|w|^2/2}
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(20000, 3, generator=gen, dtype=F64)
    w = w / w.norm(dim=1, keepdim=True) * torch.rand(20000, 1, generator=gen, dtype=F64) ** (1 / 3)
    w = w + torch.tensor([2.0, 0.0, 0.0], dtype=F64)
    n2 = (w * w).sum(1)
    brute = (torch.maximum((n2 - 1).abs(), torch.ones_like(n2)) * torch.exp(-n2 / 2)).max()
    k = int(torch.argmin((rr - 2.0).abs()))
    assert float(S[k]) >= float(brute) - 1e-12
    assert float(S[k]) == pytest.approx(math.exp(-0.5), rel=1e-3)      # attained at |w| = 1
    # the pointwise inequality |grad f|^2 / f <= 2 S + 4 f holds
    lhs = (rr * phi) ** 2 / phi
    assert bool((lhs[rr <= 5] <= (2 * S + 4 * phi)[rr <= 5]).all())
    with pytest.raises(ValueError, match="uniformly"):
        st.hessian_sup_on_balls(rr ** 2, rr, rr)


# ----------------------------------------------------------------------------------------------
# Gaussians under linear fields
# ----------------------------------------------------------------------------------------------

def _random_problem(seed: int = 0, d: int = 3):
    gen = torch.Generator().manual_seed(seed)

    def spd(s):
        A = torch.randn(d, d, generator=gen, dtype=F64)
        return A @ A.T / d + s * torch.eye(d, dtype=F64)

    rnd = lambda *shape: torch.randn(*shape, generator=gen, dtype=F64)  # noqa: E731
    return dict(m_f=rnd(d), S_f=spd(0.5), B_f=0.5 * rnd(d, d), c_f=rnd(d),
                m_g=rnd(d), S_g=spd(0.7), B_g=0.5 * rnd(d, d), c_g=rnd(d))


def test_gaussian_kl_rate_cases_and_validation():
    I = torch.eye(3, dtype=F64)
    z = torch.zeros(3, dtype=F64)
    B = torch.diag(torch.tensor([1.0, -0.5, 0.2], dtype=F64))
    # the same field for both densities: KL is invariant under the common flow map
    assert float(st.gaussian_kl_rate(z, I, B, z, z, 2 * I, B, z)) == pytest.approx(0.0, abs=1e-14)
    # translation of f only: d/dt KL(N(m,I)||N(0,I)) = m . c
    m, c = torch.tensor([1.0, -2.0, 0.5], dtype=F64), torch.tensor([0.3, 0.1, -1.0], dtype=F64)
    assert float(st.gaussian_kl_rate(m, I, 0 * I, c, z, I, 0 * I, z)) == pytest.approx(float(m @ c))
    with pytest.raises(ValueError, match="positive definite"):
        st.gaussian_kl_rate(z, -I, B, z, z, I, B, z)
    with pytest.raises(ValueError, match="shape"):
        st.gaussian_kl_rate(z, I, B[:2], z, z, I, B, z)


def test_gaussian_linear_flow_solves_the_ode():
    p = _random_problem(1)
    h = 1e-5
    m0, S0 = st.gaussian_linear_flow(p["m_f"], p["S_f"], p["B_f"], p["c_f"], 0.0)
    assert torch.allclose(m0, p["m_f"]) and torch.allclose(S0, p["S_f"])
    mp, Sp = st.gaussian_linear_flow(p["m_f"], p["S_f"], p["B_f"], p["c_f"], 0.7 + h)
    mm, Sm = st.gaussian_linear_flow(p["m_f"], p["S_f"], p["B_f"], p["c_f"], 0.7 - h)
    m, S = st.gaussian_linear_flow(p["m_f"], p["S_f"], p["B_f"], p["c_f"], 0.7)
    B, c = p["B_f"], p["c_f"]
    assert torch.allclose((mp - mm) / (2 * h), B @ m + c, atol=1e-7)
    assert torch.allclose((Sp - Sm) / (2 * h), B @ S + S @ B.T, atol=1e-7)


def test_gaussian_kl_rate_equals_autograd_derivative():
    p = _random_problem(2)
    d = 3
    t = torch.tensor(0.4, dtype=F64, requires_grad=True)

    def flow(m0, S0, B, c):
        aug = torch.zeros(d + 1, d + 1, dtype=F64)
        aug[:d, :d] = B
        aug[:d, d] = c
        E = torch.linalg.matrix_exp(t * aug)
        return E[:d, :d] @ m0 + E[:d, d], E[:d, :d] @ S0 @ E[:d, :d].T

    mf, Sf = flow(p["m_f"], p["S_f"], p["B_f"], p["c_f"])
    mg, Sg = flow(p["m_g"], p["S_g"], p["B_g"], p["c_g"])
    Sg_inv = torch.linalg.inv(Sg)                     # closed-form KL, written out (differentiable in t)
    dm = mg - mf
    kl = 0.5 * (torch.trace(Sg_inv @ Sf) + dm @ Sg_inv @ dm - d + torch.logdet(Sg) - torch.logdet(Sf))
    assert float(kl.detach()) == pytest.approx(float(gaussian_kl(mf.detach(), Sf.detach(), mg.detach(), Sg.detach())), rel=1e-10)
    (dkl,) = torch.autograd.grad(kl, t)
    rate = st.gaussian_kl_rate(mf.detach(), Sf.detach(), p["B_f"], p["c_f"], mg.detach(), Sg.detach(), p["B_g"], p["c_g"])
    assert float(rate) == pytest.approx(float(dkl), rel=1e-10)


def test_gaussian_kl_rate_monte_carlo():
    p = _random_problem(4)
    gen = torch.Generator().manual_seed(5)
    X = p["m_f"] + torch.randn(200_000, 3, generator=gen, dtype=F64) @ torch.linalg.cholesky(p["S_f"]).T
    phi = -torch.linalg.solve(p["S_f"], (X - p["m_f"]).T).T + torch.linalg.solve(p["S_g"], (X - p["m_g"]).T).T
    du = X @ (p["B_f"] - p["B_g"]).T + (p["c_f"] - p["c_g"])
    terms = (du * phi).sum(1)
    rate = float(st.gaussian_kl_rate(p["m_f"], p["S_f"], p["B_f"], p["c_f"], p["m_g"], p["S_g"], p["B_g"], p["c_g"]))
    assert abs(float(terms.mean()) - rate) < 4 * float(terms.std()) / math.sqrt(X.shape[0])


# ----------------------------------------------------------------------------------------------
# constants and Grönwall
# ----------------------------------------------------------------------------------------------

def test_lemma33_coefficients_and_rate():
    k_a, k_b = st.lemma33_coefficients(0.1)
    assert k_a == pytest.approx(16 * math.pi * 0.1 + 4)
    assert k_b == pytest.approx(16 * ((12 * math.pi) ** 1.5 * 0.1 + math.sqrt(4 * math.pi / 5)))
    # the Young norms behind k_b
    assert (4 * math.pi * 3) ** 0.75 == pytest.approx((12 * math.pi) ** 0.75)
    K1 = st.lemma33_rate(0.5, 0.1, 50.0, 0.9, C=1.0)
    assert K1 == pytest.approx((k_a * 50.0 + k_b * 0.9) / 0.5)
    # c scales like C: the rate is linear in C
    assert st.lemma33_rate(2 * 0.5, 0.1, 50.0, 0.9, C=2.0) == pytest.approx(2 * K1)
    rates = st.lemma33_rate(torch.tensor([0.5, 0.25], dtype=F64), torch.tensor([0.1, 0.1], dtype=F64),
                            torch.tensor([50.0, 50.0], dtype=F64), torch.tensor([0.9, 0.9], dtype=F64))
    assert torch.allclose(rates, torch.tensor([K1, 2 * K1], dtype=F64))
    with pytest.raises(ValueError):
        st.lemma33_rate(0.0, 0.1, 1.0, 1.0)
    with pytest.raises(ValueError):
        st.lemma33_coefficients(-1.0)


def test_gronwall_bounds():
    t = torch.linspace(0.0, 2.0, 201, dtype=F64)
    K = 3.0 * (1 + t) ** 0.5
    b = st.kl_gronwall_bound(t, 0.1, K)
    exact = 0.1 * torch.exp(2.0 * ((1 + t) ** 1.5 - 1))
    assert torch.allclose(b, exact, rtol=1e-4)
    assert torch.allclose(st.kl_gronwall_bound(t, 0.1, K, log=True), torch.log(exact), atol=1e-4)
    A, alpha = st.polynomial_envelope(t, K)
    assert A == pytest.approx(3.0) and alpha == pytest.approx(0.5)
    noisy = K * (1 + 0.1 * torch.sin(10 * t))
    A, alpha = st.polynomial_envelope(t, noisy)
    assert bool((A * (1 + t) ** alpha >= noisy - 1e-12).all())
    closed = st.polynomial_gronwall_bound(t, 0.1, A, alpha, log=True)
    assert bool((closed >= st.kl_gronwall_bound(t, 0.1, noisy, log=True) - 1e-6).all())
    with pytest.raises(ValueError, match="increasing"):
        st.kl_gronwall_bound(t.flip(0), 0.1, K)
    with pytest.raises(ValueError):
        st.kl_gronwall_bound(t, 0.0, K, log=True)


# ----------------------------------------------------------------------------------------------
# 3-D grid
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_grid():
    return Grid(d=3, L=6.0, n=20)


def test_key_terms_on_grid_maxwellian_pair(small_grid):
    G = small_grid
    v = G.points()
    Mf = Maxwellian(3, T=0.8, mean=(0.5, 0.0, 0.0), gamma=-3.0, C=1.0)
    Mg = Maxwellian(3, T=1.0, gamma=-3.0, C=1.0)
    terms = st.key_terms_on_grid(Mf.density(v, 0.0), Mg.density(v, 0.0), Mf.score(v, 0.0), Mg.score(v, 0.0), G,
                                 gamma=-3.0, C=1.0, fields=True)
    assert float(terms["direct"]) == pytest.approx(float(terms["coercive"] + terms["cross"]), rel=1e-10)
    # stationary pair: the rate vanishes for the PDE; on a coarse grid it is small against the terms
    assert abs(float(terms["direct"])) < 1e-2 * abs(float(terms["coercive"]))
    assert float(terms["bound_c"]) >= float(terms["direct"]) - 1e-12
    assert terms["coercive_density"].shape == (G.size,) and terms["flux_f"].shape == (G.size, 3)
    h1, kl = float(terms["h_l1"]), float(terms["kl"])
    assert h1 ** 2 <= 2 * kl                                     # Pinsker
    with pytest.raises(TypeError, match="fields"):
        st.key_terms_on_grid(Mf.density(v, 0.0), Mg.density(v, 0.0), Mf.score(v, 0.0), Mg.score(v, 0.0), G,
                             gamma=-3.0, C=1.0, fields="yes")
    with pytest.raises(ValueError, match="> 0"):
        st.key_terms_on_grid(0 * v[:, 0], Mg.density(v, 0.0), Mf.score(v, 0.0), Mg.score(v, 0.0), G,
                             gamma=-3.0, C=1.0)


def test_divergence_form_matches_flux_form(small_grid):
    G = small_grid
    v = G.points()
    mix = GaussianMixture(3, gamma=-3.0, C=1.0, mu=(1.0, 0.0, 0.0), cov=0.5 * torch.eye(3, dtype=F64))
    eq = mix.equilibrium()
    f, g = mix.density(v, 0.0), eq.density(v, 0.0)
    terms = st.key_terms_on_grid(f, g, mix.score(v, 0.0), eq.score(v, 0.0), G, gamma=-3.0, C=1.0, fields=True)
    div = st.kl_rate_divergence_form_on_grid(f, g, terms["flux_f"], terms["flux_g"], G)
    assert float(div) == pytest.approx(float(terms["direct"]), rel=1e-2)     # coarse grid (spacing 0.6)
    assert float(terms["direct"]) < 0                            # entropy dissipation towards equilibrium


def test_spectral_divergence_and_grid_coercivity():
    G = Grid(d=3, L=8.0, n=32)
    v = G.points()
    F = v * torch.exp(-(v * v).sum(1, keepdim=True) / 2)
    exact = (3 - (v * v).sum(1)) * torch.exp(-(v * v).sum(1) / 2)
    assert float((st.divergence_on_grid_spectral(F, G) - exact).abs().max()) < 1e-7
    a = torch.eye(3, dtype=F64).expand(G.size, 3, 3)
    c = st.coercivity_constant_on_grid(a, v, gamma=-3.0)
    assert float(c) == pytest.approx(float((1 + (v * v).sum(1)).pow(1.5).min()))
    with pytest.raises(ValueError, match="shape"):
        st.divergence_on_grid_spectral(F[:, :2], G)
