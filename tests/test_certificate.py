"""The a-posteriori certificate (Theorem 4.2): losses against naive sums, the divergence of the particle field
against autograd, time integrals, KL estimators, and the density carried along characteristics."""

import math

import numpy as np
import pytest
import torch

from landau_lite.analysis import certificate as cert
from landau_lite.analysis.divergences import entropy, fisher_information
from landau_lite.analysis.quadrature import radial_quadrature, tensor_quadrature
from landau_lite.diagnostics import pair_weighted_loss
from landau_lite.kernel import CollisionKernel
from landau_lite.problems import Maxwellian, get_problem
from landau_lite.scores import ExactScore, ScoreMethod
from landau_lite.solver import simulate

torch.set_num_threads(1)
F64 = torch.float64


def _data(n, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=F64)
    delta = 0.3 * torch.sin(2.0 * x) + 0.1 * torch.randn(n, d, generator=g, dtype=F64)
    return x, delta


def _naive_pair(y, a, x, b, gamma, C, w=None):
    k = CollisionKernel(d=x.shape[1], gamma=gamma, C=C)
    z = y[:, None, :] - x[None, :, :]
    u = a[:, None, :] - b[None, :, :]
    vals = (u * k.apply(z, u)).sum(-1).sum(1)
    if w is None:
        return float(vals.sum()) / (y.shape[0] * x.shape[0])
    return float((w * vals).sum()) / (float(w.sum()) * x.shape[0])


def _score_fn(v):
    sig = torch.tensor([0.8, 1.0, 1.3], dtype=v.dtype)[: v.shape[1]]
    return -v / sig + 0.3 * torch.sin(2.0 * v)


# ----------------------------------------------------------------------------------------------
# losses
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("gamma", [0.0, -3.0, -1.0])
def test_pair_loss_matches_naive_sum(gamma):
    x, delta = _data(60, seed=1)
    ref = _naive_pair(x, delta, x, delta, gamma, 0.7)
    assert pair_weighted_loss(x, delta, gamma=gamma, C=0.7) == pytest.approx(ref, rel=1e-10)
    # the cross (f x g) form with y = x is the same sum, computed by the chunked kernel
    cross = pair_weighted_loss(x, delta, gamma=gamma, C=0.7, y=x, delta_y=delta, chunk_size=7)
    assert cross == pytest.approx(ref, rel=1e-10)


def test_pair_loss_cross_and_weights():
    x, delta = _data(40, seed=2)
    y, dy = _data(25, seed=3)
    w = torch.rand(25, generator=torch.Generator().manual_seed(4), dtype=F64)
    got = pair_weighted_loss(x, delta, gamma=-3.0, C=1.0, y=y, delta_y=dy, weights=w, chunk_size=4)
    assert got == pytest.approx(_naive_pair(y, dy, x, delta, -3.0, 1.0, w), rel=1e-10)
    ones = pair_weighted_loss(x, delta, gamma=-3.0, C=1.0, y=y, delta_y=dy, weights=torch.ones(25, dtype=F64))
    plain = pair_weighted_loss(x, delta, gamma=-3.0, C=1.0, y=y, delta_y=dy)
    assert ones == pytest.approx(plain, rel=1e-12)
    # self-normalised: scaling all weights changes nothing
    scaled = pair_weighted_loss(x, delta, gamma=-3.0, C=1.0, y=y, delta_y=dy, weights=3.0 * w)
    assert scaled == pytest.approx(got, rel=1e-12)


@pytest.mark.parametrize("gamma", [0.0, -3.0])
def test_abar_loss_matches_naive_and_bounds_pair_loss(gamma):
    x, delta = _data(50, seed=5)
    k = CollisionKernel(d=3, gamma=gamma, C=0.5)
    z = x[:, None, :] - x[None, :, :]
    Ad = k.apply(z, delta[:, None, :].expand(50, 50, 3))          # A(x_i - x_j) delta_i
    ref = float((delta[:, None, :] * Ad).sum(-1).mean(1).mean())
    got = cert.abar_weighted_loss(x, delta, gamma=gamma, C=0.5)
    assert got == pytest.approx(ref, rel=1e-10)
    assert pair_weighted_loss(x, delta, gamma=gamma, C=0.5) <= 4.0 * got


def test_loss_validation():
    x, delta = _data(10)
    with pytest.raises(ValueError, match="delta"):
        pair_weighted_loss(x, delta[:5], gamma=0.0, C=1.0)
    with pytest.raises(ValueError, match="C"):
        pair_weighted_loss(x, delta, gamma=0.0, C=0.0)
    with pytest.raises(ValueError, match="together"):
        pair_weighted_loss(x, delta, gamma=0.0, C=1.0, y=x)
    with pytest.raises(ValueError, match="weights"):
        pair_weighted_loss(x, delta, gamma=0.0, C=1.0, weights=torch.ones(10, dtype=F64))
    with pytest.raises(ValueError, match="gamma"):
        cert.abar_weighted_loss(x, delta, gamma=2.0, C=1.0)
    with pytest.raises(TypeError, match="x"):
        cert.abar_weighted_loss(x.numpy(), delta, gamma=0.0, C=1.0)


# ----------------------------------------------------------------------------------------------
# time integrals and bounds
# ----------------------------------------------------------------------------------------------

def test_sharp_bound():
    t = np.linspace(0.0, 1.0, 2001)
    # (sqrt L + sqrt rho)^2 / 4 with L = 4, rho = 1 is 9/4 (a bound (L + rho) / 4 would give 5/4)
    assert cert.sharp_bound(t, 4.0 * np.ones_like(t), np.ones_like(t))[-1] == pytest.approx(2.25)
    assert cert.sharp_bound(t, 4.0 * np.ones_like(t), initial=0.5)[-1] == pytest.approx(1.5)
    tt = torch.tensor([0.0, 2.0], dtype=F64)
    out = cert.sharp_bound(tt, torch.tensor([1.0, 9.0], dtype=F64))             # trapezoid of (1/4, 9/4) over 2
    assert isinstance(out, torch.Tensor) and out.tolist() == [0.0, 2.5]
    with pytest.raises(ValueError, match="non-decreasing"):
        cert.sharp_bound([1.0, 0.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="finite"):
        cert.sharp_bound([0.0, 1.0], [1.0, float("nan")])
    with pytest.raises(ValueError, match=">= 0"):
        cert.sharp_bound([0.0, 1.0], [1.0, -1.0])


# ----------------------------------------------------------------------------------------------
# exact side
# ----------------------------------------------------------------------------------------------

def test_sample_at_against_moments_and_fisher_information():
    p = get_problem("bkw3")
    y = cert.sample_at(p, 7.0, 200_000, generator=torch.Generator().manual_seed(0))
    m4 = float(((y * y).sum(1) ** 2).mean())
    assert m4 == pytest.approx(p.fourth_moment(7.0), rel=0.01)
    s = p.score(y, 7.0)
    mc = float((s * s).sum(1).mean())
    quad = radial_quadrature(3, 14.0, panels=64)
    assert float(fisher_information(lambda v: p.density(v, 7.0), lambda v: p.score(v, 7.0), quad)) == pytest.approx(
        mc, rel=0.01)
    M = Maxwellian(3, T=2.0, mean=[1.0, 0.0, 0.0])          # not centred: a tensor rule around the mean, I = d / T
    box = tensor_quadrature(3, 12.0, center=[1.0, 0.0, 0.0], panels=8, order=8)
    assert float(fisher_information(lambda v: M.density(v, 0.0), lambda v: M.score(v, 0.0), box)) == pytest.approx(
        1.5, rel=1e-9)
    with pytest.raises(ValueError, match="critical"):
        cert.sample_at(p, 5.0, 10)
    with pytest.raises(ValueError, match="exact_in_time"):
        cert.sample_at(get_problem("aniso_maxwell"), 1.0, 10)


def test_sample_at_coulomb_against_the_radial_reference():
    # E|v|^4 of exact samples of the Coulomb reference at t = 1 vs the reference's moment (Monte-Carlo error
    # 27/sqrt(n) ~ 0.06); the datum at t = 0 has E|v|^4 = 12.97, so samples of f_0 would fail by 13 errors
    p = get_problem("bkw3_coulomb")
    y = cert.sample_at(p, 1.0, 200_000, generator=torch.Generator().manual_seed(3))
    m4 = float(((y * y).sum(1) ** 2).mean())
    assert abs(m4 - float(p.reference(1.0)["m4"])) < 4 * 27 / math.sqrt(200_000)
    with pytest.raises(ValueError, match="earliest time"):
        cert.sample_at(p, -1.0, 10)


def test_maxwell_remainder_vanishes_for_exact_moments_and_grows_quadratically():
    p = get_problem("bkw3")
    x = cert.sample_at(p, 7.0, 4000, generator=torch.Generator().manual_seed(1))
    # whiten: empirical second-moment matrix exactly I (= the exact one), mean exactly 0
    x = x - x.mean(0)
    L = torch.linalg.cholesky(x.T @ x / x.shape[0])
    x = torch.linalg.solve_triangular(L, x.T, upper=False).T
    r0 = cert.maxwell_remainder(p, 7.0, x, generator=torch.Generator().manual_seed(2))
    assert r0 < 1e-20
    scale = torch.tensor([1.05, 1.0, 1.0], dtype=F64)
    r1 = cert.maxwell_remainder(p, 7.0, x * scale, generator=torch.Generator().manual_seed(2), exact_moments=True)
    r2 = cert.maxwell_remainder(p, 7.0, x * scale ** 2, generator=torch.Generator().manual_seed(2),
                                exact_moments=True)
    assert r1 > 0 and r2 / r1 == pytest.approx(((1.05 ** 4 - 1) / (1.05 ** 2 - 1)) ** 2, rel=0.1)
    with pytest.raises(ValueError, match="gamma = 0"):
        cert.maxwell_remainder(get_problem("maxwellian_coulomb"), 0.0, x)


# ----------------------------------------------------------------------------------------------
# KL estimators
# ----------------------------------------------------------------------------------------------

def test_kl_from_log_ratio_gaussian_shift():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(200_000, generator=g, dtype=F64)          # X ~ g = N(0, 1)
    mu = 0.3
    log_g = -0.5 * x ** 2
    log_f = -0.5 * (x - mu) ** 2                              # f = N(mu, 1); KL = mu^2 / 2 both ways
    out = cert.kl_from_log_ratio(log_f, log_g)
    assert out["kl_fg"] == pytest.approx(mu ** 2 / 2, abs=4 * out["se_fg"] + 1e-4)
    assert out["kl_gf"] == pytest.approx(mu ** 2 / 2, abs=4 * out["se_gf"] + 1e-4)
    assert out["mass"] == pytest.approx(1.0, abs=0.01)
    # standard error of the mean of r = f/g: Var_g r = e^{mu^2} - 1 for two unit Gaussians mu apart
    assert out["se_mass"] == pytest.approx(math.sqrt(math.expm1(mu ** 2) / x.numel()), rel=0.05)
    assert abs(out["mass"] - 1.0) <= 4 * out["se_mass"]
    with pytest.raises(ValueError, match="log_g"):
        cert.kl_from_log_ratio(log_f, log_g[:5])


def test_particle_kl_estimators():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3000, 3, generator=gen, dtype=F64)
    y = math.sqrt(2.0) * torch.randn(3000, 3, generator=gen, dtype=F64)
    exact = 1.5 * (math.log(2.0) - 0.5)
    assert float(cert.gaussian_fit_kl(x, y)) == pytest.approx(exact, abs=0.03)
    kde, se = cert.kl_kde_samples(x, y)
    assert 0.5 * exact < kde < 1.5 * exact and 0 < se < 0.1 * exact
    with pytest.raises(ValueError, match="columns"):
        cert.kl_kde_samples(x, y[:, :2])
    # with the exact log f the same estimator is kl_kde: only g is smoothed
    log_f = -0.5 * (x * x).sum(1) - 1.5 * math.log(2 * math.pi)
    kde_f, _ = cert.kl_kde_samples(x, y, log_f=log_f, bandwidth=0.3)
    assert 0.5 * exact < kde_f < 1.5 * exact
    with pytest.raises(ValueError, match="log_f"):
        cert.kl_kde_samples(x, y, log_f=log_f[:10])


def test_kl_kde_is_kl_kde_samples_with_the_exact_density():
    p = get_problem("bkw3")
    x = cert.sample_at(p, 7.0, 500, generator=torch.Generator().manual_seed(4))
    y = cert.sample_at(p, 7.0, 800, generator=torch.Generator().manual_seed(5))
    got = cert.kl_kde(p, 7.0, x, y=y, bandwidth="silverman")
    assert got == cert.kl_kde_samples(y, x, log_f=p.log_density(y, 7.0), bandwidth="silverman")


def test_kl_kde_on_exact_samples_matches_predicted_bias():
    p = get_problem("bkw3")
    n, t = 1000, 7.0
    h = n ** (-1.0 / 7.0)
    bias = cert.kde_kl_bias(p, t, n, h)
    ests = [cert.kl_kde(p, t, cert.sample_at(p, t, n, generator=torch.Generator().manual_seed(10 + k)),
                        bandwidth=h, generator=torch.Generator().manual_seed(k))[0] for k in range(4)]
    assert 0.0 < bias["smoothing"] < bias["total"]
    assert float(np.mean(ests)) == pytest.approx(bias["total"], rel=0.35)
    # the smoothing part alone is exact: KDE of the exact density (n -> infinity) on a quadrature
    assert bias["smoothing"] == pytest.approx(
        cert.kde_kl_bias(p, t, 10 ** 9, h)["total"], rel=1e-3)


# ----------------------------------------------------------------------------------------------
# characteristics
# ----------------------------------------------------------------------------------------------

def test_score_jacobian_matches_autograd():
    x, _ = _data(20, seed=6)
    J = cert.score_jacobian(_score_fn, x)
    for i in range(3):
        ref = torch.autograd.functional.jacobian(lambda v: _score_fn(v[None])[0], x[i])   # ref[l, k] = d_k s_l
        assert torch.allclose(J[i], ref.T, atol=1e-8)


@pytest.mark.parametrize("gamma", [0.0, -3.0, -1.0])
def test_velocity_divergence_matches_autograd(gamma):
    x, _ = _data(40, seed=7)
    s = _score_fn(x)
    v = torch.cat([x[:5], 0.5 * torch.randn(5, 3, generator=torch.Generator().manual_seed(8), dtype=F64)])
    div = cert.velocity_divergence(v, _score_fn(v), cert.score_jacobian(_score_fn, v), x, s, gamma=gamma, C=0.7,
                                   chunk_size=3)
    k = CollisionKernel(d=3, gamma=gamma, C=0.7)
    for m in range(v.shape[0]):
        keep = (x - v[m]).abs().sum(1) > 0                      # the j = i term is zero in the particle field

        def U(q):
            return -k.apply(q[None] - x[keep], _score_fn(q[None]) - s[keep]).sum(0) / x.shape[0]

        ref = torch.trace(torch.autograd.functional.jacobian(U, v[m]))
        assert float(div[m]) == pytest.approx(float(ref), abs=1e-7)


class _FrozenScore(ScoreMethod):
    """The exact BKW score frozen at one time: a smooth field that is wrong later (test helper)."""

    name = "frozen"

    def __init__(self, problem, t):
        super().__init__()
        self.problem, self.t = problem, t

    def initialize(self, x0, t0, problem=None):
        pass

    def update(self, x, t):
        return self.problem.score(x, self.t)

    def __call__(self, v):
        return self.problem.score(v, self.t)


def test_tracker_exact_score_keeps_g_equal_f():
    p = get_problem("bkw3")
    sc = ExactScore(p)
    tr = cert.CharacteristicTracker(p, sc, tracers=400, n_mc=400, seed=5, every=2)
    simulate(p, sc, n=400, dt=0.1, t_end=7.0, progress=False, callback=tr)
    assert tr.t[0] == pytest.approx(6.0) and tr.t[-1] == pytest.approx(7.0)
    assert max(tr.kl_fg) < 2e-4 and max(tr.kl_gf) < 2e-4
    assert max(tr.loss_true) < 1e-3 and max(tr.rel_fisher) < 1e-3
    assert tr.abar_loss[-1] == 0.0 and tr.pair_loss_fg[-1] == 0.0
    # entropy along the characteristics: Monte-Carlo estimate of H(f_t)
    H = float(entropy(lambda v: p.density(v, 7.0), radial_quadrature(3, 14.0)))
    assert tr.entropy[-1] == pytest.approx(H, abs=0.15)


def test_tracker_frozen_score_mass_and_gradient_transport():
    p = get_problem("bkw3")
    sc = _FrozenScore(p, 6.0)
    y = cert.sample_at(p, 6.0, 600, generator=torch.Generator().manual_seed(9))
    eps = 1e-4
    e = torch.tensor([0.6, -0.8, 0.0], dtype=F64)
    tr = cert.CharacteristicTracker(p, sc, tracers=torch.cat([y, y + eps * e]), seed=3)
    simulate(p, sc, n=600, dt=0.1, t_end=7.5, progress=False, callback=tr)
    # mass of f/g under g is 1 when log g is transported correctly, and g has moved away from f
    assert tr.mass[-1] == pytest.approx(1.0, abs=4 * tr.se_fg[-1] + 0.01)
    assert tr.kl_fg[-1] > 4 * tr.se_fg[-1]
    # grad log g transported by its ODE agrees with the difference quotient of neighbouring tracers
    y1, y2 = tr.y[:600], tr.y[600:]
    dl = tr.log_g[600:] - tr.log_g[:600]
    pred = (tr.grad_log_g[:600] * (y2 - y1)).sum(1)
    assert torch.allclose(dl, pred, atol=1e-3 * eps, rtol=0)


def test_tracker_validation():
    p = get_problem("bkw3")
    with pytest.raises(TypeError, match="score"):
        cert.CharacteristicTracker(p, 3.0)
    with pytest.raises(ValueError, match="tracers"):
        cert.CharacteristicTracker(p, ExactScore(p), tracers=-1)
    with pytest.raises(ValueError, match="tracers"):
        cert.CharacteristicTracker(p, ExactScore(p), tracers=torch.zeros(5, 2, dtype=F64))
    with pytest.raises(TypeError, match="Problem"):
        cert.CharacteristicTracker(object(), ExactScore(p))
    with pytest.raises(ValueError, match="key"):
        cert.CharacteristicTracker(p, ExactScore(p)).series("nope")
