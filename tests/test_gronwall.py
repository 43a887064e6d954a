"""Tests of landau_lite.analysis.gronwall: trapezoidal time integrals, Grönwall bounds (torch and numpy through one
API), polynomial envelopes and their closed-form Grönwall bound."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from landau_lite.analysis import gronwall as gw

torch.set_num_threads(1)
F64 = torch.float64


def test_cumulative_integral_and_source_bounds():
    t = np.linspace(0.0, 1.0, 2001)
    assert gw.cumulative_integral(t, t ** 2)[-1] == pytest.approx(1.0 / 3.0, abs=1e-6)
    # y' = y + 1, y(0) = 0  ->  y = e^t - 1 (a missing e^{-E} inside the source integral would give 2(e - 1))
    y = gw.gronwall_bound(t, 0.0, np.ones_like(t), np.ones_like(t))
    assert y[-1] == pytest.approx(math.e - 1.0, rel=1e-6)
    # no rate: y0 + int S
    assert gw.gronwall_bound(t, 2.0, source=np.ones_like(t))[-1] == pytest.approx(3.0)
    with pytest.raises(ValueError, match="non-decreasing"):
        gw.cumulative_integral([1.0, 0.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="finite"):
        gw.cumulative_integral([0.0, 1.0], [1.0, float("nan")])
    with pytest.raises(ValueError, match="shape"):
        gw.cumulative_integral([0.0, 1.0], [1.0, 2.0, 3.0])


def test_gronwall_bounds_with_a_rate():
    t = torch.linspace(0.0, 2.0, 201, dtype=F64)
    lam = 3.0 * (1 + t) ** 0.5
    b = gw.gronwall_bound(t, 0.1, lam)
    exact = 0.1 * torch.exp(2.0 * ((1 + t) ** 1.5 - 1))
    assert torch.allclose(b, exact, rtol=1e-4)
    assert torch.allclose(gw.gronwall_bound(t, 0.1, lam, log=True), torch.log(exact), atol=1e-4)
    c1, alpha = gw.polynomial_envelope(t, lam)
    assert c1 == pytest.approx(3.0) and alpha == pytest.approx(0.5)
    noisy = lam * (1 + 0.1 * torch.sin(10 * t))
    c1, alpha = gw.polynomial_envelope(t, noisy)
    assert bool((c1 * (1 + t) ** alpha >= noisy - 1e-12).all())
    closed = gw.polynomial_gronwall_bound(t, 0.1, c1, alpha, log=True)
    assert bool((closed >= gw.gronwall_bound(t, 0.1, noisy, log=True) - 1e-6).all())
    with pytest.raises(ValueError, match="non-decreasing"):
        gw.gronwall_bound(t.flip(0), 0.1, lam)
    with pytest.raises(ValueError):
        gw.gronwall_bound(t, 0.0, lam, log=True)
    with pytest.raises(ValueError, match="initial"):
        gw.gronwall_bound(t, -1.0, lam)


def test_one_api_for_torch_and_numpy():
    """The same series as a tensor, an array and a list: the same numbers, returned as the kind of ``times``."""
    t = torch.linspace(0.0, 1.5, 31, dtype=F64)
    rate, src = 1.0 + t * t, 0.3 * torch.cos(t)
    b_torch = gw.gronwall_bound(t, 0.2, rate, src)
    b_numpy = gw.gronwall_bound(t.numpy(), 0.2, rate.numpy(), src.numpy())
    b_list = gw.gronwall_bound(t.tolist(), 0.2, rate.tolist(), src.tolist())
    assert isinstance(b_torch, torch.Tensor) and b_torch.dtype == F64
    assert isinstance(b_numpy, np.ndarray) and isinstance(b_list, np.ndarray)
    assert np.array_equal(b_torch.numpy(), b_numpy) and np.array_equal(b_numpy, b_list)
    # log form with a source: log of the bound
    assert np.allclose(gw.gronwall_bound(t.numpy(), 0.2, rate.numpy(), src.numpy(), log=True), np.log(b_numpy),
                       rtol=0, atol=1e-13)
    # float32 times give float32 bounds
    assert gw.cumulative_integral(t.float(), rate.float()).dtype == torch.float32
    poly = gw.polynomial_gronwall_bound(t.numpy(), 0.2, 2.0, 0.5)
    assert isinstance(poly, np.ndarray)
    assert np.array_equal(poly, gw.polynomial_gronwall_bound(t, 0.2, 2.0, 0.5).numpy())


def test_polynomial_gronwall_bound_closed_form():
    t = torch.linspace(0.0, 4.0, 4001, dtype=F64)
    for alpha in (-1.0, -0.5, 0.0, 1.5):
        closed = gw.polynomial_gronwall_bound(t, 0.3, 2.0, alpha, log=True)
        trapz = gw.gronwall_bound(t, 0.3, 2.0 * (1 + t) ** alpha, log=True)
        assert torch.allclose(closed, trapz, rtol=0, atol=1e-5)       # the trapezoidal sum converges to it
    with pytest.raises(ValueError, match="kl0"):
        gw.polynomial_gronwall_bound(t, 0.0, 2.0, 0.5, log=True)
    with pytest.raises(ValueError, match="c1"):
        gw.polynomial_gronwall_bound(t, 0.3, -2.0, 0.5)
