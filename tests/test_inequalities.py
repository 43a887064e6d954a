"""Tests of landau_lite.analysis.inequalities: the Sobolev L^3 bound and the sup of the Hessian on balls."""

from __future__ import annotations

import math

import pytest
import torch

from landau_lite.analysis import inequalities as iq

torch.set_num_threads(1)
F64 = torch.float64


def test_sobolev_constant_and_l3_bound():
    assert iq.SOBOLEV_3D ** 2 == pytest.approx(4.0 / (3.0 * (2 * math.pi ** 2) ** (2.0 / 3.0)))
    # Gaussians: ||f||_3 / I(f) = 1 / (6 sqrt 3 pi) < S^2 / 4
    assert 1 / (6 * math.sqrt(3) * math.pi) < iq.l3_bound_from_fisher(1.0)
    with pytest.raises(ValueError):
        iq.l3_bound_from_fisher(-1.0)


def test_hessian_sup_on_balls_against_brute_force():
    rr = torch.linspace(0.0, 6.0, 1201, dtype=F64)
    phi = torch.exp(-rr ** 2 / 2)
    S = iq.hessian_sup_on_balls(rr, -rr * phi, (rr ** 2 - 1) * phi, radius=1.0)
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
        iq.hessian_sup_on_balls(rr ** 2, rr, rr)
