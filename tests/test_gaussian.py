"""Tests of landau_lite.analysis.gaussian: closed forms, autograd, Gaussians moved by linear fields and their KL rate."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from landau_lite.analysis import gaussian as gs

torch.set_num_threads(1)
F64 = torch.float64


# ----------------------------------------------------------------------------------------------
# closed forms
# ----------------------------------------------------------------------------------------------

def test_gaussian_closed_forms_simple_values():
    z = torch.zeros(1, dtype=F64)
    one = torch.ones(1, 1, dtype=F64)
    # KL(N(0,1)||N(0,2)) = (1/2)(1/2 - 1 + log 2)
    assert abs(float(gs.gaussian_kl(z, one, z, 2 * one)) - 0.5 * (0.5 - 1 + math.log(2))) < 1e-15
    assert abs(float(gs.gaussian_sup_norm(4 * one)) - 1 / math.sqrt(8 * math.pi)) < 1e-15
    # ||N(0,1) - N(0,1)||_2 = 0 and ||N(0,1)||_2^2 = 1/(2 sqrt(pi))
    assert float(gs.gaussian_l2_distance(z, one, z, one)) == 0.0
    S = torch.diag(torch.tensor([1.0, 1e-4, 1e-4], dtype=F64))
    assert abs(float(gs.gaussian_entropy(S)) - (-1.5 * math.log(2 * math.pi * math.e) - math.log(1e-4))) < 1e-12


def test_gaussian_closed_forms_under_autograd_without_warnings():
    """The input checks read detached values: no 'requires_grad to scalar' warning, gradients still flow."""
    s = torch.tensor([[2.0]], dtype=F64, requires_grad=True)
    m = torch.tensor([0.5], dtype=F64, requires_grad=True)
    z, one = torch.zeros(1, dtype=F64), torch.ones(1, 1, dtype=F64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kl = gs.gaussian_kl(m, s, z, one)             # (1/2)(s - 1 - log s + m^2)
        kl.backward()
        H = gs.gaussian_entropy(s)
    assert float(kl.detach()) == pytest.approx(0.5 * (2.0 - 1.0 - math.log(2.0) + 0.25), rel=1e-14)
    assert float(s.grad) == pytest.approx(0.5 * (1.0 - 0.5), rel=1e-14)
    assert float(m.grad) == pytest.approx(0.5, rel=1e-14)
    assert H.requires_grad


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
    assert float(gs.gaussian_kl_rate(z, I, B, z, z, 2 * I, B, z)) == pytest.approx(0.0, abs=1e-14)
    # translation of f only: d/dt KL(N(m,I)||N(0,I)) = m . c
    m, c = torch.tensor([1.0, -2.0, 0.5], dtype=F64), torch.tensor([0.3, 0.1, -1.0], dtype=F64)
    assert float(gs.gaussian_kl_rate(m, I, 0 * I, c, z, I, 0 * I, z)) == pytest.approx(float(m @ c))
    with pytest.raises(ValueError, match="positive definite"):
        gs.gaussian_kl_rate(z, -I, B, z, z, I, B, z)
    with pytest.raises(ValueError, match="shape"):
        gs.gaussian_kl_rate(z, I, B[:2], z, z, I, B, z)


def test_gaussian_linear_flow_solves_the_ode():
    p = _random_problem(1)
    h = 1e-5
    m0, S0 = gs.gaussian_linear_flow(p["m_f"], p["S_f"], p["B_f"], p["c_f"], 0.0)
    assert torch.allclose(m0, p["m_f"]) and torch.allclose(S0, p["S_f"])
    mp, Sp = gs.gaussian_linear_flow(p["m_f"], p["S_f"], p["B_f"], p["c_f"], 0.7 + h)
    mm, Sm = gs.gaussian_linear_flow(p["m_f"], p["S_f"], p["B_f"], p["c_f"], 0.7 - h)
    m, S = gs.gaussian_linear_flow(p["m_f"], p["S_f"], p["B_f"], p["c_f"], 0.7)
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
    assert float(kl.detach()) == pytest.approx(float(gs.gaussian_kl(mf.detach(), Sf.detach(), mg.detach(), Sg.detach())), rel=1e-10)
    (dkl,) = torch.autograd.grad(kl, t)
    rate = gs.gaussian_kl_rate(mf.detach(), Sf.detach(), p["B_f"], p["c_f"], mg.detach(), Sg.detach(), p["B_g"], p["c_g"])
    assert float(rate) == pytest.approx(float(dkl), rel=1e-10)


def test_gaussian_kl_rate_monte_carlo():
    p = _random_problem(4)
    gen = torch.Generator().manual_seed(5)
    X = p["m_f"] + torch.randn(200_000, 3, generator=gen, dtype=F64) @ torch.linalg.cholesky(p["S_f"]).T
    phi = -torch.linalg.solve(p["S_f"], (X - p["m_f"]).T).T + torch.linalg.solve(p["S_g"], (X - p["m_g"]).T).T
    du = X @ (p["B_f"] - p["B_g"]).T + (p["c_f"] - p["c_g"])
    terms = (du * phi).sum(1)
    rate = float(gs.gaussian_kl_rate(p["m_f"], p["S_f"], p["B_f"], p["c_f"], p["m_g"], p["S_g"], p["B_g"], p["c_g"]))
    assert abs(float(terms.mean()) - rate) < 4 * float(terms.std()) / math.sqrt(X.shape[0])
