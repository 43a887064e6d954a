"""Tests for landau_lite.analysis.grid: grid quadrature of A*h and (div A)*h, KL / L^p / gradients on grids."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.integrate import tplquad

from landau_lite.closed_forms import (maxwell_molecules_collision_matrix, maxwell_molecules_drift,
                                      maxwellian_collision_matrix, maxwellian_drift)
from landau_lite.analysis.grid import (Grid, clear_kernel_cache, collision_drift_on_grid, collision_matrix_on_grid,
                                      divergence_on_grid_spectral, gradient_on_grid, grid_quadrature,
                                      kernel_cell_averages, kl_on_grid, landau_velocity_on_grid, lp_distance_on_grid)

torch.set_num_threads(1)
F64 = torch.float64


def maxwellian(v: torch.Tensor, T: float, mean: torch.Tensor | None = None) -> torch.Tensor:
    d = v.shape[1]
    y = v if mean is None else v - mean
    return (2 * math.pi * T) ** (-d / 2) * torch.exp(-(y * y).sum(1) / (2 * T))


def rel_err(approx: torch.Tensor, exact: torch.Tensor) -> float:
    return float((approx - exact).abs().max() / exact.abs().max())


# ----------------------------------------------------------------------------------------------
# the grid
# ----------------------------------------------------------------------------------------------

def test_grid_geometry_and_order():
    g = Grid(d=3, L=2.0, n=4)
    assert g.spacing == 1.0 and g.cell_volume == 1.0 and g.shape == (4, 4, 4) and g.size == 64
    p = g.points()
    assert p.shape == (64, 3) and p.dtype == F64
    assert torch.equal(p[0], torch.tensor([-1.5, -1.5, -1.5], dtype=F64))
    assert torch.equal(p[1], torch.tensor([-1.5, -1.5, -0.5], dtype=F64))      # last axis fastest (C order)
    assert torch.equal(p[16], torch.tensor([-0.5, -1.5, -1.5], dtype=F64))     # axis 0 slowest
    r = g.reshape(p)
    assert r.shape == (4, 4, 4, 3) and torch.equal(r[1, 0, 0], p[16])
    assert g.points(dtype=torch.float32).dtype == torch.float32
    # midpoint rule on a Gaussian is spectrally accurate
    g = Grid(d=3, L=7.0, n=28)
    v = g.points()
    assert abs(float(g.integrate(maxwellian(v, 1.0))) - 1.0) < 1e-10
    second = g.integrate(maxwellian(v, 1.0)[:, None] * v ** 2)
    assert torch.allclose(second, torch.ones(3, dtype=F64), atol=1e-9)
    assert Grid(d=3, L=6, n=8) == Grid(d=3, L=6.0, n=8) and hash(Grid(d=3, L=6, n=8)) == hash(Grid(d=3, L=6.0, n=8))


@pytest.mark.parametrize("kwargs, exc", [
    (dict(d=1, L=1.0, n=4), ValueError),
    (dict(d=3, L=0.0, n=4), ValueError),
    (dict(d=3, L=-1.0, n=4), ValueError),
    (dict(d=3, L=float("inf"), n=4), ValueError),
    (dict(d=3, L=1.0, n=1), ValueError),
    (dict(d=3, L=1.0, n=4.0), TypeError),
    (dict(d=3.0, L=1.0, n=4), TypeError),
    (dict(d=3, L="1", n=4), TypeError),
])
def test_grid_rejects_bad_parameters(kwargs, exc):
    with pytest.raises(exc):
        Grid(**kwargs)


# ----------------------------------------------------------------------------------------------
# kernel cell averages
# ----------------------------------------------------------------------------------------------

def test_kernel_cell_averages_singular_and_near_cells():
    # spacing 1, offsets -2..2; index 2 is the offset 0
    t = kernel_cell_averages(Grid(d=3, L=1.5, n=3), -3.0)
    assert t.shape == (5, 5, 5, 3, 3)
    # centred cell: (2/3) * int_{[-1/2,1/2]^3} |z|^{-1} dz * I, with the classical closed form of the cube integral
    cube = 2.0 * (1.5 * math.log((math.sqrt(3) + 1) / (math.sqrt(3) - 1)) - math.pi / 4)
    assert torch.allclose(t[2, 2, 2], 2.0 / 3.0 * cube * torch.eye(3, dtype=F64), rtol=1e-13, atol=0)
    # near cells against adaptive cubature (scipy), components A_00 at k = (1,0,0) and A_01 at k = (1,1,0)
    a00, _ = tplquad(lambda z, y, x: (y * y + z * z) * (x * x + y * y + z * z) ** -1.5,
                     0.5, 1.5, -0.5, 0.5, -0.5, 0.5, epsabs=1e-13, epsrel=1e-12)
    a01, _ = tplquad(lambda z, y, x: -x * y * (x * x + y * y + z * z) ** -1.5,
                     0.5, 1.5, 0.5, 1.5, -0.5, 0.5, epsabs=1e-13, epsrel=1e-12)
    assert abs(float(t[3, 2, 2, 0, 0]) - a00) < 1e-11
    assert abs(float(t[3, 3, 2, 0, 1]) - a01) < 1e-11
    # symmetries: even in k, symmetric matrices, cubic symmetry (permuting axes permutes indices)
    assert torch.allclose(t, t.flip(0).flip(1).flip(2))
    assert torch.allclose(t, t.transpose(-1, -2))
    assert torch.allclose(t[3, 2, 2, 0, 0], t[2, 3, 2, 1, 1]) and torch.allclose(t[2, 2, 3, 2, 2], t[3, 2, 2, 0, 0])
    assert torch.allclose(t[1, 2, 2, 0, 1], torch.zeros((), dtype=F64), atol=1e-15)
    # Maxwell molecules: the cell average of |z|^2 I - z z^T is A(c) + (d-1) spacing^2/12 I
    t0 = kernel_cell_averages(Grid(d=2, L=2.5, n=5), 0.0)
    c = torch.tensor([1.0, -2.0], dtype=F64)
    exact = (c @ c) * torch.eye(2, dtype=F64) - torch.outer(c, c) + torch.eye(2, dtype=F64) / 12
    assert torch.allclose(t0[5, 2], exact, atol=1e-13)             # offset (1, -2), index k + 4


# ----------------------------------------------------------------------------------------------
# Coulomb against the closed forms of landau_lite.closed_forms (3-D and 2-D Maxwellians)
# ----------------------------------------------------------------------------------------------

def coulomb_errors(n: int, d: int, *, L: float = 6.0, T: float = 1.0, C: float = 1.0,
                   mean: tuple[float, ...] | None = None) -> tuple[float, float]:
    g = Grid(d=d, L=L, n=n)
    v = g.points()
    u = torch.zeros(d, dtype=F64) if mean is None else torch.tensor(mean, dtype=F64)
    f = maxwellian(v, T, u)
    a = collision_matrix_on_grid(f, g, gamma=-3.0, C=C)
    b = collision_drift_on_grid(f, g, gamma=-3.0, C=C)
    inner = ((v - u) ** 2).sum(1) <= (L / 2) ** 2
    a_ex = maxwellian_collision_matrix(v[inner], T, C=C, mean=u)
    b_ex = maxwellian_drift(v[inner], T, C=C, mean=u)
    return rel_err(a[inner], a_ex), rel_err(b[inner], b_ex)


def test_coulomb_3d_maxwellian_fourth_order():
    """3-D Coulomb, T = 1, L = 6: relative errors for |v| <= 3 decrease like n^-4; < 5e-5 (a) and 1.5e-4 (b) at n = 48."""
    errs = {n: coulomb_errors(n, 3) for n in (24, 32)}
    errs[48] = coulomb_errors(48, 3, C=0.5, mean=(0.25, -0.125, 0.0))   # C scales linearly; shifted centre
    (a24, b24), (a32, b32), (a48, b48) = errs[24], errs[32], errs[48]
    assert a48 < 5e-5 and b48 < 1.5e-4                       # observed: 1.8e-5 and 6.1e-5
    assert a24 > a32 > a48 and b24 > b32 > b48
    assert math.log2(a24 / a48) > 3.5 and math.log2(b24 / b48) > 3.5      # observed orders 3.9 and 4.2
    # U[M_T] = 0 with the exact score (same grid: the kernel tables come from the cache)
    g = Grid(d=3, L=6.0, n=48)
    v = g.points()
    u = landau_velocity_on_grid(maxwellian(v, 1.0), -v, g, gamma=-3.0, C=1.0)
    inner = (v * v).sum(1) <= 9
    assert float(u[inner].abs().max()) < 1e-4                 # |b| ~ 0.3 there; observed 2.7e-5


def test_coulomb_2d_maxwellian():
    """2-D, gamma = -3 (the [3]/[6] kernel), Bessel closed forms: third order (= d + gamma + 4), < 5e-5 at n = 128."""
    (a1, b1), (a2, b2), (a3, b3) = (coulomb_errors(n, 2, T=1.3) for n in (32, 64, 128))
    assert a3 < 5e-5 and b3 < 5e-5
    assert a1 > a2 > a3 and b1 > b2 > b3
    assert math.log2(a1 / a3) > 5.2 and math.log2(b1 / b3) > 5.2     # observed 5.8 and 5.7 (n = 32 -> 128)


def test_signed_difference_of_maxwellians():
    """Lemma 3.3 uses h = f - g: the grid operators are linear, and match the closed-form differences."""
    g = Grid(d=3, L=6.0, n=32)
    v = g.points()
    h = maxwellian(v, 1.0) - maxwellian(v, 1.4)
    a = collision_matrix_on_grid(h, g, gamma=-3.0)
    b = collision_drift_on_grid(h, g, gamma=-3.0)
    inner = (v * v).sum(1) <= 9
    a_ex = maxwellian_collision_matrix(v[inner], 1.0) - maxwellian_collision_matrix(v[inner], 1.4)
    b_ex = maxwellian_drift(v[inner], 1.0) - maxwellian_drift(v[inner], 1.4)
    assert rel_err(a[inner], a_ex) < 2e-3 and rel_err(b[inner], b_ex) < 2e-3   # observed ~5e-4 (n = 32)


def test_landau_velocity_vanishes_on_maxwellians():
    """U[M_T] = 0 for every gamma (A(z)z = 0): the grid drift matches the grid a-bar times the exact score."""
    g = Grid(d=3, L=6.0, n=24)
    v = g.points()
    f = maxwellian(v, 1.0)
    inner = (v * v).sum(1) <= 9
    for gamma, tol in ((1.0, 1e-3), (0.0, 1e-6), (-1.0, 1e-3), (-2.0, 3e-3), (-3.5, 3e-3), (-4.0, 6e-3)):
        u = landau_velocity_on_grid(f, -v, g, gamma=gamma, C=2.0)
        b = collision_drift_on_grid(f, g, gamma=gamma, C=2.0)
        assert float(u[inner].abs().max() / b[inner].abs().max()) < tol, gamma
    g = Grid(d=2, L=6.0, n=64)
    v = g.points()
    f = maxwellian(v, 0.8)
    inner = (v * v).sum(1) <= 9
    for gamma in (1.0, -1.0, -2.0, -3.0):
        u = landau_velocity_on_grid(f, -v / 0.8, g, gamma=gamma)
        b = collision_drift_on_grid(f, g, gamma=gamma)
        assert float(u[inner].abs().max() / b[inner].abs().max()) < 5e-4, gamma


# ----------------------------------------------------------------------------------------------
# Maxwell molecules: exact
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("d, n", [(2, 24), (3, 12)])
def test_maxwell_molecules_exact_for_signed_h(d, n):
    r"""gamma = 0: a-bar = (m0|v|^2 - 2 v.m1 + tr M2) I - (m0 v v^T - v m1^T - m1 v^T + M2) with grid moments."""
    g = Grid(d=d, L=5.0, n=n)
    v = g.points()
    gen = torch.Generator().manual_seed(0)
    h = maxwellian(v, 0.7, torch.full((d,), 0.3, dtype=F64)) - 0.5 * maxwellian(v, 1.2) \
        + 0.01 * torch.rand(v.shape[0], generator=gen, dtype=F64)                 # signed, rough, mass 0.5+
    m0 = g.integrate(h)
    m1 = g.integrate(h[:, None] * v)
    M2 = g.integrate(h[:, None, None] * v[:, :, None] * v[:, None, :])
    C = 0.25
    eye = torch.eye(d, dtype=F64)
    vv = v[:, :, None] * v[:, None, :]
    a_ex = C * (((m0 * (v * v).sum(1) - 2 * v @ m1 + M2.trace())[:, None, None]) * eye
                - (m0 * vv - v[:, :, None] * m1[None, None, :] - m1[None, :, None] * v[:, None, :] + M2))
    b_ex = -C * (d - 1) * (m0 * v - m1)
    a = collision_matrix_on_grid(h, g, gamma=0.0, C=C)
    b = collision_drift_on_grid(h, g, gamma=0.0, C=C)
    assert rel_err(a, a_ex) < 1e-11 and rel_err(b, b_ex) < 1e-11


def test_maxwell_molecules_unit_mass_closed_form():
    g = Grid(d=3, L=7.0, n=16)
    v = g.points()
    u = torch.tensor([0.2, -0.1, 0.3], dtype=F64)
    f = maxwellian(v, 0.8, u)
    mass = g.integrate(f)
    mean = g.integrate(f[:, None] * v) / mass
    cov = g.integrate(f[:, None, None] * (v - mean)[:, :, None] * (v - mean)[:, None, :]) / mass
    f = f / mass
    a = collision_matrix_on_grid(f, g, gamma=0.0, C=1 / 24)
    b = collision_drift_on_grid(f, g, gamma=0.0, C=1 / 24)
    assert rel_err(a, maxwell_molecules_collision_matrix(v, mean, cov, C=1 / 24)) < 1e-11
    assert rel_err(b, maxwell_molecules_drift(v, mean, C=1 / 24)) < 1e-11


def test_float32_and_cache():
    g = Grid(d=3, L=6.0, n=16)
    v = g.points()
    f = maxwellian(v, 1.0)
    clear_kernel_cache()
    a64 = collision_matrix_on_grid(f, g, gamma=-3.0)
    a32 = collision_matrix_on_grid(f.float(), g, gamma=-3.0)
    assert a32.dtype == torch.float32 and a32.shape == (16 ** 3, 3, 3)
    assert rel_err(a32.double(), a64) < 1e-5
    assert torch.equal(collision_matrix_on_grid(f, g, gamma=-3.0), a64)        # cached tables, same numbers
    b = collision_drift_on_grid(f, g, gamma=-3.0)
    assert b.shape == (16 ** 3, 3) and b.dtype == F64
    # the drift is odd, the matrix even, for a centred radial density
    assert torch.allclose(b, -b.flip(0), atol=1e-15) and torch.allclose(a64, a64.flip(0), atol=1e-15)


# ----------------------------------------------------------------------------------------------
# gradient, KL, L^p
# ----------------------------------------------------------------------------------------------

def test_gradient_on_grid():
    g = Grid(d=2, L=3.0, n=12)
    v = g.points()
    quad = 1.0 + v[:, 0] - 2 * v[:, 1] + 0.5 * v[:, 0] ** 2 - v[:, 0] * v[:, 1] + 3 * v[:, 1] ** 2
    exact = torch.stack([1 + v[:, 0] - v[:, 1], -2 - v[:, 0] + 6 * v[:, 1]], dim=1)
    assert torch.allclose(gradient_on_grid(quad, g), exact, atol=1e-12)       # exact for quadratics, borders too
    two = gradient_on_grid(torch.stack([quad, 2 * quad], dim=1), g)            # trailing components
    assert two.shape == (144, 2, 2) and torch.allclose(two[:, 1], 2 * exact, atol=1e-12)
    errs = []
    for n in (32, 64):
        g2 = Grid(d=2, L=6.0, n=n)
        v = g2.points()
        m = maxwellian(v, 1.0)
        errs.append(rel_err(gradient_on_grid(m, g2), -v * m[:, None]))
    assert errs[1] < 2e-2 and 3.5 < errs[0] / errs[1] < 4.5                     # second order (observed 1.3e-2)


def gaussian_kl(mu1, S1, mu2, S2):
    d = mu1.shape[0]
    S2inv = torch.linalg.inv(S2)
    dm = mu2 - mu1
    return 0.5 * (torch.trace(S2inv @ S1) + dm @ S2inv @ dm - d + torch.logdet(S2) - torch.logdet(S1))


def test_spectral_divergence_on_grid():
    G = Grid(d=3, L=8.0, n=32)
    v = G.points()
    F = v * torch.exp(-(v * v).sum(1, keepdim=True) / 2)
    exact = (3 - (v * v).sum(1)) * torch.exp(-(v * v).sum(1) / 2)
    assert float((divergence_on_grid_spectral(F, G) - exact).abs().max()) < 1e-7
    with pytest.raises(ValueError, match="shape"):
        divergence_on_grid_spectral(F[:, :2], G)


def test_grid_quadrature_is_the_midpoint_rule():
    g = Grid(d=2, L=3.0, n=6)
    q = grid_quadrature(g)
    assert q.kind == "grid" and torch.equal(q.points, g.points())
    assert torch.equal(q.weights, torch.full((36,), 1.0, dtype=F64))          # spacing 1, cell volume 1
    h = torch.rand(36, generator=torch.Generator().manual_seed(0), dtype=F64)
    assert float(q.integrate(h)) == pytest.approx(float(g.integrate(h)), rel=1e-14)
    assert grid_quadrature(g, dtype=torch.float32).weights.dtype == torch.float32
    with pytest.raises(TypeError, match="Grid"):
        grid_quadrature("grid")


def gaussian(v, mu, S):
    d = v.shape[1]
    y = v - mu
    q = (y @ torch.linalg.inv(S) * y).sum(1)
    return torch.exp(-0.5 * q) / torch.sqrt((2 * math.pi) ** d * torch.det(S))


def test_kl_on_grid():
    g = Grid(d=3, L=8.0, n=32)
    v = g.points()
    mu1, S1 = torch.tensor([0.2, 0.0, -0.3], dtype=F64), torch.diag(torch.tensor([1.0, 0.8, 1.3], dtype=F64))
    mu2 = torch.tensor([0.0, 0.4, 0.0], dtype=F64)
    S2 = torch.tensor([[1.5, 0.2, 0.0], [0.2, 1.0, 0.1], [0.0, 0.1, 1.2]], dtype=F64)
    f, q = gaussian(v, mu1, S1), gaussian(v, mu2, S2)
    assert abs(float(kl_on_grid(f, q, g) - gaussian_kl(mu1, S1, mu2, S2))) < 1e-8
    assert abs(float(kl_on_grid(f, f, g))) == 0.0
    # 0 log 0 = 0: f = 2 q on the half-space v_0 > 0 (q even in v_0) gives KL = log 2 * mass
    q = maxwellian(v, 1.0)
    half = torch.where(v[:, 0] > 0, 2 * q, torch.zeros_like(q))
    assert abs(float(kl_on_grid(half, q, g)) - math.log(2) * float(g.integrate(half))) < 1e-12
    with pytest.raises(ValueError, match="g must be > 0 wherever f > 0"):
        kl_on_grid(q, half, g)
    with pytest.raises(ValueError, match="f must be >= 0"):
        kl_on_grid(-q, q, g)
    with pytest.raises(ValueError, match="g must be >= 0"):
        kl_on_grid(q, -q, g)
    with pytest.raises(TypeError):
        kl_on_grid(q, q.float(), g)
    with pytest.raises(ValueError):
        kl_on_grid(q[:-1], q[:-1], g)


def test_lp_distance_on_grid():
    T = 0.9
    g = Grid(d=3, L=7.0, n=29)                          # odd n: v = 0 is a grid point
    v = g.points()
    m = maxwellian(v, T)
    zero = torch.zeros_like(m)
    assert abs(float(lp_distance_on_grid(m, zero, g, 1)) - 1.0) < 1e-9
    assert abs(float(lp_distance_on_grid(m, zero, g, 2)) - (4 * math.pi * T) ** -0.75) < 1e-9
    p = 3.0
    exact = ((2 * math.pi * T) ** (-1.5 * p) * (2 * math.pi * T / p) ** 1.5) ** (1 / p)
    assert abs(float(lp_distance_on_grid(m, zero, g, p)) - exact) < 1e-9
    assert float(lp_distance_on_grid(m, zero, g, math.inf)) == pytest.approx((2 * math.pi * T) ** -1.5, rel=1e-14)
    assert float(lp_distance_on_grid(zero, m, g, float("inf"))) == float(lp_distance_on_grid(m, zero, g, math.inf))
    m2 = maxwellian(v, 1.2)
    d1, d2, dinf = (float(lp_distance_on_grid(m, m2, g, p)) for p in (1, 2, math.inf))
    assert d2 <= math.sqrt(d1 * dinf) + 1e-15                 # Hölder
    assert float(lp_distance_on_grid(m, m, g, 1.5)) == 0.0
    for bad in (0.5, -1.0, float("nan"), -math.inf):
        with pytest.raises(ValueError):
            lp_distance_on_grid(m, m2, g, bad)
    for bad in ("2", True, None):
        with pytest.raises(TypeError):
            lp_distance_on_grid(m, m2, g, bad)


# ----------------------------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------------------------

def test_bad_input_raises():
    g = Grid(d=3, L=4.0, n=8)
    v = g.points()
    h = maxwellian(v, 1.0)
    for fn in (collision_matrix_on_grid, collision_drift_on_grid):
        with pytest.raises(ValueError, match="shape"):
            fn(h[:-1], g, gamma=-3.0)                                # grid mismatch
        with pytest.raises(ValueError, match="shape"):
            fn(g.reshape(h), g, gamma=-3.0)                          # (n, n, n) instead of (n**3,)
        with pytest.raises(ValueError, match="shape"):
            fn(h, Grid(d=3, L=4.0, n=9), gamma=-3.0)
        with pytest.raises(ValueError, match="shape"):
            fn(h, Grid(d=2, L=4.0, n=8), gamma=-3.0)                 # 2-D grid, 3-D data
        with pytest.raises(TypeError):
            fn(h, (3, 4.0, 8), gamma=-3.0)                           # not a Grid
        with pytest.raises(TypeError):
            fn(h.numpy(), g, gamma=-3.0)
        with pytest.raises(TypeError):
            fn(h.to(torch.int64), g, gamma=-3.0)
        for bad_gamma in (-4.5, 1.5, float("nan")):
            with pytest.raises(ValueError, match="gamma"):
                fn(h, g, gamma=bad_gamma)                            # outside [-d-1, 1]
        with pytest.raises(TypeError):
            fn(h, g, gamma="-3")
        for bad_C in (0.0, -1.0, float("inf")):
            with pytest.raises(ValueError, match="C"):
                fn(h, g, gamma=-3.0, C=bad_C)
        bad = h.clone()
        bad[3] = float("nan")
        with pytest.raises(ValueError, match="finite"):
            fn(bad, g, gamma=-3.0)
    with pytest.raises(ValueError, match="gamma"):
        collision_matrix_on_grid(torch.zeros(64, dtype=F64), Grid(d=2, L=1.0, n=8), gamma=-3.5)   # 2-D: [-3, 1]
    with pytest.raises(ValueError, match="score"):
        landau_velocity_on_grid(h, v[:, :2], g, gamma=-3.0)
    with pytest.raises(TypeError, match="score"):
        landau_velocity_on_grid(h, v.float(), g, gamma=-3.0)
    with pytest.raises(ValueError, match="values"):
        gradient_on_grid(h[:-1], g)
    with pytest.raises(TypeError):
        gradient_on_grid(h, None)
    with pytest.raises(ValueError, match="values"):
        g.integrate(h[:-1])
    with pytest.raises(TypeError):
        kernel_cell_averages(g, -3.0, dtype=torch.int32)
    with pytest.raises(ValueError, match="gamma"):
        kernel_cell_averages(g, 2.0)
