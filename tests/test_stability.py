"""Tests of landau_lite.analysis.stability: the KL identity, the terms of Lemma 3.3 on a grid (radial terms:
test_radial.py) and its constants."""

from __future__ import annotations

import math

import pytest
import torch

from landau_lite.analysis import stability as st
from landau_lite.analysis.gaussian import gaussian_kl_rate
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
