"""Tests of landau_lite.diagnostics."""

from __future__ import annotations

import importlib
import math

import pytest
import torch
from scipy.stats import gaussian_kde

from landau_lite.diagnostics import (
    entropy_production_rate,
    grid_2d,
    kde_bandwidth,
    kde_density,
    moments,
    relative_fisher_error,
    weighted_moment,
)
from landau_lite.kernel import CollisionKernel

torch.set_num_threads(1)
F64 = torch.float64


def test_moments_of_a_known_sample():
    # the 2d vertices ±e_k scaled by 2, plus a shift: mean = shift, cov = (4/d) I
    d = 3
    e = 2.0 * torch.eye(d, dtype=F64)
    shift = torch.tensor([1.0, -2.0, 0.5], dtype=F64)
    x = torch.cat([e, -e]) + shift
    m = moments(x)
    assert torch.allclose(m["mean"], shift)
    assert torch.allclose(m["cov"], 4.0 / d * torch.eye(d, dtype=F64))
    r2 = (x * x).sum(1)
    assert float(m["energy"]) == pytest.approx(float((shift * shift).sum()) + 4.0)   # |u|^2 + tr cov
    assert float(m["m4"]) == pytest.approx(float((r2 * r2).mean()))
    g = torch.randn(1000, 4, generator=torch.Generator().manual_seed(0), dtype=F64)
    assert torch.allclose(moments(g)["cov"], torch.cov(g.T, correction=0))
    assert moments(g.float())["cov"].dtype == torch.float32


def test_weighted_moment():
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0]], dtype=F64)       # <v> = 1 and sqrt(26)
    assert float(weighted_moment(x, 0.0)) == 1.0
    assert float(weighted_moment(x, 2.0)) == pytest.approx((1 + 26) / 2)
    assert float(weighted_moment(x, 3.0)) == pytest.approx((1 + 26 ** 1.5) / 2)
    assert float(weighted_moment(x, -3.0)) == pytest.approx((1 + 26 ** -1.5) / 2)
    with pytest.raises(TypeError, match="k"):
        weighted_moment(x, "3")


@pytest.mark.parametrize("gamma", [0.0, -3.0])
def test_entropy_production_rate_is_the_landau_quadratic_form(gamma):
    velocity = importlib.import_module("landau_lite.velocity")
    g = torch.Generator().manual_seed(1)
    n, d, C = 60, 3, 0.5
    x = torch.randn(n, d, generator=g, dtype=F64)
    s = torch.randn(n, d, generator=g, dtype=F64) * 3       # any score values
    U = velocity.velocity(x, s, gamma=gamma, C=C, backend="chunked" if gamma else "moments")
    rate = entropy_production_rate(s, U)
    # (1/N) sum_i s_i.U_i = -(C / 2N^2) sum_ij (s_i - s_j).A(x_i - x_j)(s_i - s_j) <= 0
    k = CollisionKernel(d=d, gamma=gamma, C=C)
    ds = s[:, None, :] - s[None, :, :]
    quad = (ds * k.apply(x[:, None, :] - x[None, :, :], ds)).sum()
    assert float(rate) == pytest.approx(-float(quad) / (2 * n * n), rel=1e-10)
    assert float(rate) < 0
    # also for the Gaussian score s = -x (U is then only approximately 0 for finite N): the rate stays <= 0
    assert float(entropy_production_rate(-x, velocity.velocity(x, -x, gamma=gamma, C=C, backend="chunked"))) <= 0


def test_entropy_rate_and_fisher_error_values_and_validation():
    s = torch.tensor([[1.0, 2.0], [3.0, -1.0]], dtype=F64)
    U = torch.tensor([[0.5, 0.0], [1.0, 1.0]], dtype=F64)
    assert float(entropy_production_rate(s, U)) == pytest.approx((0.5 + 2.0) / 2)
    with pytest.raises(ValueError, match="U must have the same shape"):
        entropy_production_rate(s, U[:1])
    with pytest.raises(TypeError, match="U must have the same dtype"):
        entropy_production_rate(s, U.float())
    se = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=F64)
    assert float(relative_fisher_error(se, se)) == 0.0
    assert float(relative_fisher_error(s, se)) == pytest.approx(((0 + 4) + (9 + 4)) / 2)
    with pytest.raises(ValueError, match="identically zero"):
        relative_fisher_error(s, torch.zeros_like(s))
    with pytest.raises(ValueError, match="finite"):
        relative_fisher_error(s, torch.full_like(s, float("nan")))


@pytest.mark.parametrize("d", [2, 3])
def test_kde_matches_scipy_and_bandwidth_rules(d):
    g = torch.Generator().manual_seed(d)
    A = torch.tensor([[1.0, 0.0, 0.0], [0.6, 0.5, 0.0], [0.0, -0.3, 1.5]], dtype=F64)[:d, :d]
    x = torch.randn(700, d, generator=g, dtype=F64) @ A.T + 0.5
    q = torch.randn(50, d, generator=g, dtype=F64) * 1.5
    ref = gaussian_kde(x.numpy().T)
    H = kde_bandwidth(x)
    assert torch.allclose(H, torch.from_numpy(ref.covariance), rtol=1e-12)
    assert torch.allclose(kde_density(x, q), torch.from_numpy(ref(q.numpy().T)), rtol=1e-10)
    silver = gaussian_kde(x.numpy().T, bw_method="silverman")
    assert torch.allclose(kde_bandwidth(x, "silverman"), torch.from_numpy(silver.covariance), rtol=1e-12)
    assert torch.allclose(kde_density(x, q, bandwidth="silverman"), torch.from_numpy(silver(q.numpy().T)), rtol=1e-10)
    # a scalar bandwidth is a standard deviation: H = h^2 I, same as passing the matrix
    h = 0.3
    iso = kde_density(x, q, bandwidth=h)
    assert torch.allclose(iso, kde_density(x, q, bandwidth=torch.tensor(h, dtype=F64)))
    assert torch.allclose(iso, kde_density(x, q, bandwidth=h * h * torch.eye(d, dtype=F64)))
    direct = torch.exp(-((q[:, None] - x[None]) ** 2).sum(-1) / (2 * h * h)).mean(1) / (2 * math.pi * h * h) ** (d / 2)
    assert torch.allclose(iso, direct, rtol=1e-10)
    # chunking does not change the result
    assert torch.allclose(kde_density(x, q, chunk_size=7), kde_density(x, q), rtol=1e-12)


def test_kde_integrates_to_one_and_converges_to_the_density():
    g = torch.Generator().manual_seed(3)
    lim, n = 6.5, 121
    X, Y, pts = grid_2d(lim, n, dtype=F64, device="cpu")
    cell = (2 * lim / (n - 1)) ** 2
    cov = torch.tensor([[1.0, 0.4], [0.4, 0.6]], dtype=F64)
    L = torch.linalg.cholesky(cov)
    exact = torch.exp(-0.5 * ((pts @ torch.linalg.inv(cov)) * pts).sum(1)) / (2 * math.pi * math.sqrt(float(torch.det(cov))))
    errors = []
    for N in (200, 6400):
        x = torch.randn(N, 2, generator=g, dtype=F64) @ L.T
        f = kde_density(x, pts)
        assert f.shape == (n * n,) and bool((f >= 0).all())
        assert float(f.sum() * cell) == pytest.approx(1.0, abs=1e-6)
        errors.append(float(((f - exact) ** 2).sum() * cell) ** 0.5)
    assert errors[1] < 0.5 * errors[0]             # L2 error decreases (N^{-1/3} rate: expected ratio 0.31)
    assert errors[1] < 0.03


def test_kde_validation_dtype_and_memory_path():
    x = torch.randn(30, 2, generator=torch.Generator().manual_seed(0))
    q = torch.randn(5, 2, generator=torch.Generator().manual_seed(1))
    out = kde_density(x, q, bandwidth=0.5, chunk_size=4)
    assert out.dtype == torch.float32 and out.shape == (5,)
    assert torch.allclose(out.double(), kde_density(x.double(), q.double(), bandwidth=0.5), rtol=1e-5)
    with pytest.raises(ValueError, match="bandwidth"):
        kde_density(x, q, bandwidth=0.0)
    with pytest.raises(ValueError, match="bandwidth must be one of"):
        kde_density(x, q, bandwidth="wide")
    with pytest.raises(ValueError, match="positive definite"):
        kde_density(x, q, bandwidth=-torch.eye(2))
    with pytest.raises(ValueError, match="bandwidth tensor"):
        kde_density(x, q, bandwidth=torch.ones(3))
    with pytest.raises(TypeError, match="dtype"):
        kde_density(x, q.double())
    with pytest.raises(ValueError, match=r"shape \(M, 2\)"):
        kde_density(x, torch.zeros(3, 3))
    with pytest.raises(ValueError, match="chunk_size"):
        kde_density(x, q, chunk_size=0)
    with pytest.raises(ValueError, match="rule"):
        kde_bandwidth(x, "nope")


def test_grid_2d():
    X, Y, pts = grid_2d(2.0, 5, dtype=torch.float32, device="cpu")
    assert X.shape == Y.shape == (5, 5) and pts.shape == (25, 2) and pts.dtype == torch.float32
    assert torch.allclose(X[0], torch.linspace(-2, 2, 5)) and torch.all(X[:, 1] == X[0, 1])
    assert torch.allclose(Y[:, 0], torch.linspace(-2, 2, 5)) and torch.all(Y[1] == Y[1, 0])
    vals = pts[:, 0] + 10 * pts[:, 1]
    assert torch.equal(vals.reshape(5, 5), X + 10 * Y)
    with pytest.raises(ValueError, match="lim"):
        grid_2d(0.0, 5)
    with pytest.raises(ValueError, match="n"):
        grid_2d(1.0, 1)
    with pytest.raises(TypeError, match="dtype"):
        grid_2d(1.0, 4, dtype=torch.int32)
