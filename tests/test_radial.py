"""Tests of landau_lite.radial: radial grid, collision coefficients (also against the shell-theorem quadrature of
landau_lite.analysis.coercivity), the coercivity constant on shells, the radial Landau solver and the radial
Lemma 3.3 terms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from landau_lite import radial as rd
from landau_lite.analysis import coercivity as co
from landau_lite.analysis import stability as st
from landau_lite.closed_forms import maxwellian_drift, maxwellian_lambdas
from landau_lite.problems import BKW

torch.set_num_threads(1)
F64 = torch.float64


def gauss3(r: torch.Tensor, T: float = 1.0) -> torch.Tensor:
    return (2 * math.pi * T) ** -1.5 * torch.exp(-r * r / (2 * T))


def test_public_names():
    for name in rd.__all__:
        assert hasattr(rd, name), name


def test_radial_grid_basics():
    g = rd.RadialGrid(R=3.0, n=30)
    assert float(g.volumes().sum()) == pytest.approx(4 * math.pi * 27 / 3)
    r = g.centres()
    s = g.score(gauss3(r))
    assert torch.allclose(s[1:-1], -r[1:-1], atol=1e-12)      # log f is quadratic: central differences exact
    with pytest.raises(ValueError, match="shape"):
        g.integrate(torch.ones(29, dtype=F64))
    with pytest.raises(ValueError):
        rd.RadialGrid(R=-1.0, n=10)


def test_radial_coefficients_match_maxwellian_closed_forms():
    g = rd.RadialGrid(10.0, 1000)
    r = g.centres()
    for T in (0.5, 1.0):
        lp, lq, b = rd.radial_collision_coefficients(gauss3(r, T), g, gamma=-3.0, C=2.0)
        ep, eq = maxwellian_lambdas(r, T, C=2.0)
        sel = r < 5
        assert torch.allclose(lp[sel], ep[sel], rtol=1e-3)
        assert torch.allclose(lq[sel], eq[sel], rtol=1e-3)
        bex = maxwellian_drift(torch.stack([r, 0 * r, 0 * r], 1), T, C=2.0)[:, 0]
        assert float((b - bex)[sel].abs().max()) < 1e-3 * float(bex.abs().max())
    # Maxwell molecules: lambda_par = 2 C E / 3, lambda_perp = C (r^2 + 2E/3), b = -2 C r (unit mass)
    lp, lq, b = rd.radial_collision_coefficients(gauss3(r), g, gamma=0.0, C=1.0)
    assert torch.allclose(lp, torch.full_like(r, 2.0), rtol=1e-4)
    assert torch.allclose(lq, r * r + 2.0, rtol=1e-4)
    assert torch.allclose(b, -2.0 * r, rtol=1e-4)
    with pytest.raises(ValueError, match="gamma"):
        rd.radial_collision_coefficients(gauss3(r), g, gamma=-2.0, C=1.0)


def test_radial_coercivity_constant():
    g = rd.RadialGrid(12.0, 2400)
    r = g.centres()
    for T in (0.1, 1.0, 2.0):
        c = float(co.coercivity_constant_shells(gauss3(r, T), g, gamma=-3.0, C=1.0))
        assert c == pytest.approx(co.coercivity_constant_maxwellian(T), rel=2e-3)
    assert float(co.coercivity_constant_shells(gauss3(r), g, gamma=0.0, C=1.0)) == pytest.approx(2.0, rel=1e-4)


@pytest.mark.parametrize("method, tol", [("bdf2", 1e-3), ("euler", 1e-2)])
def test_radial_solver_reproduces_bkw(method, tol):
    p = BKW(3, C=1.0, t0=0.25)
    g = rd.RadialGrid(10.0, 200)
    r = g.centres()
    v = torch.stack([r, 0 * r, 0 * r], 1)
    f0 = p.density(v, 0.25)
    times = [0.0, 0.2, 1.0, 3.0]
    run = rd.solve_radial_landau(f0, g, gamma=0.0, C=1.0, times=times, dt=0.005, method=method)
    assert run.f.shape == (4, 200) and run.f.dtype == F64
    for k, t in enumerate(times):
        ex = p.density(v, 0.25 + t)
        assert float((run.f[k] - ex).abs().max() / ex.max()) < tol
    mass = g.integrate(run.f)
    # conservative fluxes: round-off only (600 steps x 200 cells; a leaking boundary flux would be O(dt) = 5e-3)
    assert float((mass - mass[0]).abs().max()) < 1e-12
    assert bool((run.f >= 0).all())


def test_radial_solver_second_order_in_space():
    p = BKW(3, C=1.0, t0=0.25)
    errs = []
    for n in (100, 200):
        g = rd.RadialGrid(10.0, n)
        r = g.centres()
        v = torch.stack([r, 0 * r, 0 * r], 1)
        run = rd.solve_radial_landau(p.density(v, 0.25), g, gamma=0.0, C=1.0, times=[0.0, 0.5], dt=0.0025)
        ex = p.density(v, 0.75)
        errs.append(float((run.f[-1] - ex).abs().max() / ex.max()))
    assert errs[0] / errs[1] > 3.0


def test_radial_solver_coulomb_maxwellian_and_validation():
    g = rd.RadialGrid(8.0, 200)
    r = g.centres()
    M = gauss3(r)
    run = rd.solve_radial_landau(M.float(), g, gamma=-3.0, C=1.0, times=torch.tensor([0.0, 1.0]), dt=0.05)
    assert run.f.dtype == torch.float32
    assert float((run.f[-1].double() - M).abs().max() / M.max()) < 1e-3
    with pytest.raises(ValueError, match="gamma"):
        rd.solve_radial_landau(M, g, gamma=-1.0, C=1.0, times=[1.0], dt=0.1)
    with pytest.raises(ValueError, match="increasing"):
        rd.solve_radial_landau(M, g, gamma=-3.0, C=1.0, times=[1.0, 0.5], dt=0.1)
    with pytest.raises(ValueError, match=">= 0"):
        rd.solve_radial_landau(-M, g, gamma=-3.0, C=1.0, times=[1.0], dt=0.1)
    with pytest.raises(ValueError, match="method"):
        rd.solve_radial_landau(M, g, gamma=-3.0, C=1.0, times=[1.0], dt=0.1, method="rk4")
    with pytest.raises(ValueError, match="dt"):
        rd.solve_radial_landau(M, g, gamma=-3.0, C=1.0, times=[1.0], dt=0.0)


def test_radial_key_terms_identity_and_inequalities():
    g = rd.RadialGrid(10.0, 300)
    r = g.centres()
    v = torch.stack([r, 0 * r, 0 * r], 1)
    f = BKW(3, C=1.0, t0=0.25).density(v, 0.25)
    h = gauss3(r, 1.0)
    terms = st.radial_key_terms(f, h, g, gamma=-3.0, C=1.0)
    assert float(terms["direct"]) == pytest.approx(float(terms["coercive"] + terms["cross"]), rel=1e-12)
    assert float(terms["direct"]) <= float(terms["bound_c"])
    assert float(terms["coercive"]) < 0 < float(terms["kl"])
    assert float(terms["c"]) == pytest.approx(co.coercivity_constant_maxwellian(1.0), rel=2e-3)


# ----------------------------------------------------------------------------------------------
# cross-check: grid values (second order in the shell width) vs. a profile function (Gauss-Legendre)
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("at", ["centres", "edges"])
def test_coefficients_agree_with_shell_theorem_quadrature(at):
    """Same eigenvalues as coercivity.radial_collision_eigenvalues, to O(spacing^2), on a non-Maxwellian (BKW)."""
    p = BKW(3, C=1.0, t0=0.25)

    def profile(rho: torch.Tensor) -> torch.Tensor:
        return p.density(torch.stack([rho, 0 * rho, 0 * rho], 1), 0.25)

    errs = []
    for n in (250, 500):
        g = rd.RadialGrid(10.0, n)
        r = g.centres() if at == "centres" else g.edges()
        lp, lq, _ = rd.radial_collision_coefficients(profile(g.centres()), g, gamma=-3.0, C=0.7, at=at)
        ep, eq = co.radial_collision_eigenvalues(r, profile, C=0.7, r_max=10.0)
        errs.append(max(float(((lp - ep).abs() / ep).max()), float(((lq - eq).abs() / eq).max())))
    assert errs[1] < 1e-4
    assert 3.5 < errs[0] / errs[1] < 4.5                         # second order in the shell width
    g = rd.RadialGrid(10.0, 500)
    c_grid = float(co.coercivity_constant_shells(profile(g.centres()), g, gamma=-3.0, C=0.7))
    c_quad, _ = co.coercivity_constant_radial(profile, C=0.7, r_max=10.0)
    assert c_grid == pytest.approx(c_quad, rel=5e-4)


# ----------------------------------------------------------------------------------------------
# RadialReference: resumable BDF2, accuracy against the exact BKW solution, convergence, validation
# ----------------------------------------------------------------------------------------------

def _bkw_profile(p: BKW, t: float):
    return lambda r: p.density(torch.stack([r, 0 * r, 0 * r], 1), t)


def test_reference_table_is_one_continuous_bdf2_solve():
    """Blocks carry the BDF2 history: the table equals one solve_radial_landau call to round-off.

    Restarting BDF2 at each block (an Euler step) would differ by ~1e-6 after the first block boundary."""
    p = BKW(3, C=1.0, t0=0.25)
    ref = rd.RadialReference(_bkw_profile(p, 0.25), gamma=-3.0, n=100, dt=0.005, record_every=0.02, block=0.2,
                             startup=0)
    ref.moments(0.55)                                              # three blocks
    times = ref.record_times.tolist()
    assert len(times) >= 30 and times[:2] == [0.0, 0.02]
    g = ref.fine_grid
    run = rd.solve_radial_landau(_bkw_profile(p, 0.25)(g.centres()), g, gamma=-3.0, C=1.0, times=times, dt=0.005)
    table = torch.tensor(np.stack(ref._fine.logs))
    assert float((table - torch.log(run.f)).abs().max()) < 1e-12


def test_reference_matches_exact_bkw_maxwell_molecules():
    """The whole pipeline (graded start, records, time and r interpolation, Richardson, sampler) against the
    exact BKW solution (gamma = 0, C = 1: m4 relaxes at rate 8, faster than the Coulomb problem).

    Without Richardson the m4 error is 7e-4; with linear instead of cubic time interpolation, or without the
    graded start, log f near the origin is off by > 1e-2 at s = 0.01."""
    p = BKW(3, C=1.0, t0=0.25)
    ref = rd.RadialReference(_bkw_profile(p, 0.25), gamma=0.0)
    r = np.linspace(0.0, 8.0, 1601)
    u = torch.from_numpy(r * r)
    v = torch.stack([u.sqrt(), 0 * u, 0 * u], 1)
    for s in (0.0, 0.004, 0.01, 0.05, 0.2, 0.3, 1.0, 4.0):
        t = 0.25 + s
        m = ref.moments(s)
        assert m["m4"] == pytest.approx(p.fourth_moment(t), abs=1.5e-5)
        assert m["mass"] == pytest.approx(1.0, abs=1e-11) and m["energy"] == pytest.approx(3.0, abs=1e-8)
        le, se = p.log_density(v, t).numpy(), p.score(v, t)[:, 0].numpy()
        la, sa = ref.log_density(u, s).numpy(), 2 * r * ref.dlog_du(u, s).numpy()
        inner = r < 4                                                   # measured max: 9.5e-5, 7.4e-5
        assert np.abs(la - le)[inner].max() < 1.5e-4
        assert np.abs(sa - se)[inner].max() < 1.5e-4
        assert np.abs(la - le).max() < 5e-3                             # tail 4 <= r < 8: 3.3e-3 (s = 0.05)
        assert np.abs(sa - se).max() < 5e-3
        w = r * r * np.exp(le)
        assert np.sum(w * (sa - se) ** 2) < 1e-9 * np.sum(w * se * se)  # relative Fisher error
    # entropy: radial Gauss-Legendre quadrature of the exact density
    x, wq = np.polynomial.legendre.leggauss(600)
    rq = (x + 1) * 7.0
    vq = torch.zeros(600, 3, dtype=F64)
    vq[:, 0] = torch.from_numpy(rq)
    lf = p.log_density(vq, 1.25).numpy()
    H = float(4 * math.pi * np.sum(wq * 7.0 * rq * rq * np.exp(lf) * lf))
    assert ref.moments(1.0)["entropy"] == pytest.approx(H, abs=1e-7)
    # sampler at a later time: Kolmogorov-Smirnov against the exact radial CDF (0.1% level)
    n = 100_000
    rs = np.sort(ref.sample_radius(n, 0.5, generator=torch.Generator().manual_seed(3)).numpy())
    grid = np.linspace(0.0, 12.0, 24_001)
    vg = torch.zeros(grid.size, 3, dtype=F64)
    vg[:, 0] = torch.from_numpy(grid)
    dens = 4 * math.pi * grid ** 2 * p.density(vg, 0.75).numpy()
    cdf = np.concatenate([[0.0], np.cumsum((dens[1:] + dens[:-1]) / 2 * np.diff(grid))])
    ks = np.max(np.abs(np.interp(rs, grid, cdf) - np.arange(1, n + 1) / n))
    assert ks < 1.95 / math.sqrt(n)
    dens0 = 4 * math.pi * grid ** 2 * p.density(vg, 0.25).numpy()   # the law at s = 0 is rejected
    cdf0 = np.concatenate([[0.0], np.cumsum((dens0[1:] + dens0[:-1]) / 2 * np.diff(grid))])
    assert np.max(np.abs(np.interp(rs, grid, cdf0) - np.arange(1, n + 1) / n)) > 10 / math.sqrt(n)


def test_reference_second_order_and_richardson():
    """Fine solutions converge at order 2 in (spacing, step) together; the Richardson values much faster, and
    error_estimate() predicts the fine solution's error."""
    p = BKW(3, C=1.0 / 24.0)                                       # the bkw3 start law, here under Coulomb
    refs = [rd.RadialReference(_bkw_profile(p, p.t0), gamma=-3.0, n=n, dt=dt, record_every=4 * dt, block=160 * dt)
            for n, dt in ((200, 0.02), (400, 0.01), (800, 0.005))]
    s = 1.0
    fine = [float(ref._moment_series(s, ref._fine)[2]) for ref in refs]
    rich = [ref.moments(s)["m4"] for ref in refs]
    best = rich[-1]
    order = math.log2(abs(fine[0] - best) / abs(fine[1] - best))
    assert 1.8 < order < 2.2
    assert abs(rich[1] - best) < abs(fine[1] - best) / 30
    est = refs[1].error_estimate(s)["m4"]
    assert 0.8 < est / abs(fine[1] - best) < 1.25


def test_reference_validation():
    f0 = lambda r: gauss3(r)  # noqa: E731
    with pytest.raises(ValueError, match="even"):
        rd.RadialReference(f0, gamma=-3.0, n=101)
    with pytest.raises(ValueError, match="record_every"):
        rd.RadialReference(f0, gamma=-3.0, n=100, dt=0.005, record_every=0.015)
    with pytest.raises(ValueError, match="block"):
        rd.RadialReference(f0, gamma=-3.0, n=100, block=0.05)
    with pytest.raises(ValueError, match="gamma"):
        rd.RadialReference(f0, gamma=-2.0, n=100)
    with pytest.raises(ValueError, match="> 0"):
        rd.RadialReference(lambda r: gauss3(r) - gauss3(torch.zeros(1)), gamma=-3.0, n=100)
    with pytest.raises(TypeError, match="f0"):
        rd.RadialReference(gauss3(torch.ones(3)), gamma=-3.0, n=100)
    ref = rd.RadialReference(f0, gamma=-3.0, n=100, block=0.2)
    with pytest.raises(ValueError, match="s must lie"):
        ref.moments(-0.1)
    with pytest.raises(ValueError, match="u"):
        ref.log_density(torch.tensor([-1.0], dtype=F64), 0.1)
