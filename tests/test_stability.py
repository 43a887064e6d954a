"""Tests of landau_lite.analysis.stability: the KL identity, the terms of Lemma 3.3 on a grid (radial terms:
test_radial.py) and its constants."""

from __future__ import annotations

import math

import pytest
import torch

from landau_lite import radial as rd
from landau_lite.analysis import stability as st
from landau_lite.analysis.gaussian import gaussian_kl_rate
from landau_lite.closed_forms import maxwellian_lambdas
from landau_lite.analysis.grid import Grid, kl_on_grid
from landau_lite.analysis.quadrature import radial_quadrature, tensor_quadrature
from landau_lite.problems import GaussianMixture, Maxwellian

torch.set_num_threads(1)
F64 = torch.float64


def gauss3(r: torch.Tensor, T: float = 1.0) -> torch.Tensor:
    return (2 * math.pi * T) ** -1.5 * torch.exp(-r * r / (2 * T))


# ----------------------------------------------------------------------------------------------
# the KL identity
# ----------------------------------------------------------------------------------------------

def test_kl_rate_matches_hand_sum_and_radial_components():
    q = radial_quadrature(3, 14.0, panels=56, order=16)
    r = q.points[:, 0]
    f = gauss3(r)
    u_f, u_g, phi = r, 0.5 * r, -r
    assert float(st.kl_rate(f, u_f, u_g, phi, q)) == pytest.approx(-0.5 * 3.0, rel=1e-10)
    # radial components and full vectors on the first axis are the same integral
    vec = lambda a: torch.stack([a, 0 * a, 0 * a], 1)  # noqa: E731
    assert float(st.kl_rate(f, vec(u_f), vec(u_g), vec(phi), q)) == pytest.approx(-1.5, rel=1e-10)
    with pytest.raises(ValueError, match="shape"):
        st.kl_rate(f, u_f, u_g, phi[:-1], q)
    with pytest.raises(TypeError, match="quad"):
        st.kl_rate(f, u_f, u_g, phi, (r, q.weights))


def test_kl_rate_equals_gaussian_closed_form():
    """Two Gaussians moved by linear fields: the quadrature of the identity against the closed form."""
    q = tensor_quadrature(2, 9.0, panels=12, order=8)
    v = q.points
    mf, Sf = torch.tensor([0.3, -0.2], dtype=F64), torch.tensor([[1.0, 0.2], [0.2, 0.6]], dtype=F64)
    mg, Sg = torch.zeros(2, dtype=F64), torch.tensor([[1.4, 0.0], [0.0, 0.9]], dtype=F64)
    Bf, cf = torch.tensor([[0.1, 0.5], [-0.3, 0.2]], dtype=F64), torch.tensor([0.4, 0.0], dtype=F64)
    Bg, cg = torch.tensor([[-0.2, 0.0], [0.1, 0.3]], dtype=F64), torch.tensor([0.0, -0.5], dtype=F64)
    Pf, Pg = torch.linalg.inv(Sf), torch.linalg.inv(Sg)
    f = torch.exp(-0.5 * (((v - mf) @ Pf) * (v - mf)).sum(1)) / (2 * math.pi * torch.linalg.det(Sf).sqrt())
    phi = -(v - mf) @ Pf + (v - mg) @ Pg
    got = st.kl_rate(f, v @ Bf.T + cf, v @ Bg.T + cg, phi, q)
    assert float(got) == pytest.approx(float(gaussian_kl_rate(mf, Sf, Bf, cf, mg, Sg, Bg, cg)), rel=1e-10)


# ----------------------------------------------------------------------------------------------
# the constants of Lemma 3.3(d)
# ----------------------------------------------------------------------------------------------

def test_lemma33_coefficients_and_rate():
    k_a, k_b = st.lemma33_coefficients(0.1)
    assert k_a == pytest.approx(16 * math.pi * 0.1 + 4)
    assert k_b == pytest.approx(16 * ((12 * math.pi) ** 1.5 * 0.1 + math.sqrt(4 * math.pi / 5)))
    # the Young norms behind k_b: ||z|^-2 1_{|z|<1}||_{4/3} = (12 pi)^{3/4}, ||z|^-2 1_{|z|>=1}||_4 = (4 pi/5)^{1/4}
    assert (4 * math.pi / (3 - 2 * 4 / 3)) ** 0.75 == pytest.approx((12 * math.pi) ** 0.75)
    assert (4 * math.pi / (2 * 4 - 3)) ** 0.25 == pytest.approx((4 * math.pi / 5) ** 0.25)
    lam = st.lemma33_rate(0.5, 0.1, 50.0, 0.9, C=1.0)
    assert lam == pytest.approx((k_a * 50.0 + k_b * 0.9) / 0.5)
    # c scales like C: the rate is linear in C
    assert st.lemma33_rate(2 * 0.5, 0.1, 50.0, 0.9, C=2.0) == pytest.approx(2 * lam)
    rates = st.lemma33_rate(torch.tensor([0.5, 0.25], dtype=F64), torch.tensor([0.1, 0.1], dtype=F64),
                            torch.tensor([50.0, 50.0], dtype=F64), torch.tensor([0.9, 0.9], dtype=F64))
    assert torch.allclose(rates, torch.tensor([lam, 2 * lam], dtype=F64))
    with pytest.raises(ValueError):
        st.lemma33_rate(0.0, 0.1, 1.0, 1.0)
    with pytest.raises(ValueError, match="B"):
        st.lemma33_coefficients(-1.0)


def test_lemma33_rate_parts_pair_each_coefficient_with_its_norm():
    """The a-part goes with I_3 and k_a, the b-part with the weighted L^2 norm and k_b (a swap shows here)."""
    k_a, k_b = st.lemma33_coefficients(0.1)
    part_a, part_b = st.lemma33_rate_parts(0.5, 0.1, 50.0, 0.9, C=1.0)
    assert part_a == pytest.approx(k_a * 50.0 / 0.5) and part_b == pytest.approx(k_b * 0.9 / 0.5)
    assert st.lemma33_rate_parts(0.5, 0.1, 0.0, 0.9)[0] == 0.0       # no Fisher information: no a-part
    assert st.lemma33_rate_parts(0.5, 0.1, 50.0, 0.0)[1] == 0.0      # no weighted L^2 norm: no b-part
    assert part_a + part_b == pytest.approx(st.lemma33_rate(0.5, 0.1, 50.0, 0.9))
    with pytest.raises(ValueError, match="fisher3"):
        st.lemma33_rate_parts(0.5, 0.1, -1.0, 0.9)


def test_radial_key_terms_steps_of_lemma33d():
    """The new radial keys against plain sums and closed forms, and the steps of Lemma 3.3(d) on a Maxwellian pair."""
    g_r = rd.RadialGrid(10.0, 600)
    r = g_r.centres()
    f, g = gauss3(r, 0.8), gauss3(r, 1.0)
    t = st.radial_key_terms(f, g, g_r, gamma=-3.0, C=1.0)
    # a_h_sup against the closed-form eigenvalues of abar[M_0.8] - abar[M_1] (both lambda_par and lambda_perp count)
    lp_f, lq_f = maxwellian_lambdas(r, 0.8)
    lp_g, lq_g = maxwellian_lambdas(r, 1.0)
    exact_sup = float(torch.maximum((lp_f - lp_g).abs(), (lq_f - lq_g).abs()).max())
    assert float(t["a_h_sup"]) == pytest.approx(exact_sup, rel=1e-3)
    # term_a = int f <v>^3 (lambda_par[h] d_r log f)^2 by a hand sum with the closed-form lambda_par
    _, V = g_r.quadrature()
    w3 = (1 + r * r) ** 1.5
    hand_a = float((V * f * w3 * ((lp_f - lp_g) * (-r / 0.8)) ** 2).sum())
    assert float(t["term_a"]) == pytest.approx(hand_a, rel=2e-3)
    # Lemma 3.3(d), step by step (the inequalities of the proof hold for any pair)
    h1, h2, kl = float(t["h_l1"]), float(t["h_l2"]), float(t["kl"])
    B = max(float(t["f_sup"]), float(t["g_sup"]))
    assert h1 ** 2 <= 2 * kl and h2 ** 2 <= 2 * B * kl                          # the two Pinsker inequalities
    assert float(t["a_h_sup"]) <= math.sqrt(4 * math.pi) * h2 + h1
    assert float(t["term_a"]) <= float(t["a_h_sup"]) ** 2 * float(t["fisher3"])
    assert float(t["term_b"]) <= float(t["f_w_l2"]) * float(t["b_h_l4"]) ** 2      # Cauchy-Schwarz
    k_a, k_b = st.lemma33_coefficients(B)
    assert float(t["b_h_l4"]) ** 2 <= k_b * kl
    # R = abar[h] s_f - bbar[h]: Young's step 1/2 int f R a^-1 R <= (term_a + term_b) / c (|R|^2 <= 2|.|^2 + 2|.|^2)
    assert float(t["young"]) <= (float(t["term_a"]) + float(t["term_b"])) / float(t["c"])


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
    # the functionals (through divergences on the grid rule) against plain grid sums: the weight is <v>^{+gamma}
    # for the coercive term and <v>^{-gamma} for the Fisher information and the L^2 norm (a swapped sign shows here)
    f, g, sf, sg = Mf.density(v, 0.0), Mg.density(v, 0.0), Mf.score(v, 0.0), Mg.score(v, 0.0)
    w3 = (1 + (v * v).sum(1)) ** 1.5
    assert float(terms["weighted_phi"]) == pytest.approx(float(G.integrate(f * ((sf - sg) ** 2).sum(1) / w3)), rel=1e-12)
    assert float(terms["fisher_w"]) == pytest.approx(float(G.integrate(f * w3 * (sf * sf).sum(1))), rel=1e-12)
    assert float(terms["f_w_l2"]) == pytest.approx(float(G.integrate((w3 * f) ** 2).sqrt()), rel=1e-12)
    assert float(terms["kl"]) == pytest.approx(float(kl_on_grid(f, g, G)), rel=1e-12)
    assert float(terms["h_l2"]) == pytest.approx(float(G.integrate((f - g) ** 2).sqrt()), rel=1e-12)
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
