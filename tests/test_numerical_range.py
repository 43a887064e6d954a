"""Finite input never gives a silent NaN, and inputs the package cannot compute on get a clear, named error.

Each case was a silent wrong answer or a torch internal error before (the reliability issue's test plan):
velocity of float32 data near 1e20 returned NaN; the blob score with epsilon <= 1e-7 in float32 returned all-NaN;
kl_from_log_ratio overflowed to NaN for log-ratios above 709; kde_density(bandwidth=1e-300) died in Cholesky;
kl_kde with the wrong d named an internal array; meta tensors failed in `Tensor.item()`.
"""

from __future__ import annotations

import pytest
import torch

import landau_lite as ll
from landau_lite.analysis.certificate import kl_from_log_ratio, kl_kde
from landau_lite.diagnostics import kde_density, pair_weighted_loss
from landau_lite.scores import blob_score

F64 = torch.float64


def _xs(n=50, dtype=torch.float32, scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g, dtype=torch.float64)
    s = -x + 0.3 * torch.sin(2 * x)                  # a non-equilibrium score: U is O(1), not round-off
    return (scale * x).to(dtype), (s / scale).to(dtype)


@pytest.mark.parametrize("dtype, scale", [(torch.float32, 1e20), (F64, 1e160)])
def test_velocity_of_huge_data_is_refused_not_nan(dtype, scale):
    x, s = _xs(dtype=dtype, scale=scale)
    with pytest.raises(ValueError, match="overflow"):
        ll.velocity(x, s, gamma=-3.0)
    # the same data rescaled is fine: the check is about the dtype's range, not about the data
    U = ll.velocity(x / scale, s * scale, gamma=-3.0)
    assert bool(torch.isfinite(U).all())


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e6])
def test_velocity_is_finite_over_the_usable_range(dtype, scale):
    x, s = _xs(dtype=dtype, scale=scale)
    U = ll.velocity(x, s, gamma=-3.0)
    assert bool(torch.isfinite(U).all())
    # momentum conservation to round-off at every scale: a lost term or a non-antisymmetric sum would show
    assert float(U.sum(0).abs().max()) <= 1e-4 * float(U.abs().sum())


@pytest.mark.parametrize("eps", [1e-7, 1e-12, 1e-30])
def test_blob_score_with_tiny_epsilon_is_finite(eps):
    x, _ = _xs(200)
    s = blob_score(x, epsilon=eps)
    assert bool(torch.isfinite(s).all())
    # epsilon far below the particle spacing: each particle sees only itself, and the score tends to 0
    assert float(s.abs().max()) < 1e-3


def test_blob_epsilon_whose_inverse_overflows_is_refused():
    x, _ = _xs(20)
    with pytest.raises(ValueError, match="epsilon"):
        blob_score(x, epsilon=1e-40)


def test_kl_from_log_ratio_overflow_is_refused_and_log_f_checked():
    z = torch.zeros(10, dtype=F64)
    big = z.clone()
    big[0] = 800.0
    with pytest.raises(ValueError, match="overflows float64"):
        kl_from_log_ratio(big, z)
    nan = z.clone()
    nan[3] = float("nan")
    with pytest.raises(ValueError, match="log_f must be finite"):
        kl_from_log_ratio(nan, z)
    # below the limit the value is finite and exact: r = e^2 at one of ten particles
    lf = z.clone()
    lf[0] = 2.0
    out = kl_from_log_ratio(lf, z)
    e2 = float(torch.exp(torch.tensor(2.0, dtype=F64)))
    assert out["kl_fg"] == pytest.approx((2 * e2 - e2 + 1) / 10, rel=1e-14)


@pytest.mark.parametrize("bw", [1e-300, torch.tensor(1e-300, dtype=F64)])
def test_kde_bandwidth_too_small_is_a_named_error(bw):
    x = torch.randn(10, 2, dtype=F64)
    with pytest.raises(ValueError, match="bandwidth is too small"):
        kde_density(x, x, bandwidth=bw)


def test_kl_kde_with_wrong_dimension_names_x():
    p = ll.get_problem("bkw3")
    with pytest.raises(ValueError, match=r"x must have shape \(N, 3\)"):
        kl_kde(p, p.t0, torch.randn(40, 2, dtype=F64))


@pytest.mark.parametrize("call", [
    lambda x: ll.velocity(x, x, gamma=-3.0),
    lambda x: blob_score(x, epsilon=0.3),
    lambda x: kde_density(x, x, bandwidth=1.0),
    lambda x: pair_weighted_loss(x, x, gamma=-3.0, C=1.0),
    lambda x: ll.moments(x),
])
def test_meta_tensors_are_refused_by_name(call):
    x = torch.empty(8, 3, device="meta", dtype=F64)
    with pytest.raises(ValueError, match="'meta' device"):
        call(x)
