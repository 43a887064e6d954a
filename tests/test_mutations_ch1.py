"""Chapter 1's particle check fails when the particle velocity is wrong (tests/mutations.py).

``book/01_landau_equation.ipynb`` estimates the weak form :math:`\\frac{d}{dt}\\int f v_k^2` from samples of the
anisotropic Gaussian with the particle velocity and compares it with the Maxwell-molecule covariance ODE
:math:`\\dot\\Sigma = 4C(\\operatorname{tr}\\Sigma I - d\\Sigma)` within 4 standard errors. The same check at a small
size must pass with the true field and fail with frozen, reversed or halved particles. The conservation checks
(:math:`\\varphi = v_k, |v|^2`) hold for any field of the pair form, so only the rate check is mutated.
"""

from __future__ import annotations

import pytest
import torch
from mutations import mutated_velocity

from landau_lite import problems
from landau_lite.analysis import continuity as ct
from landau_lite.book.verify import check_close

torch.set_num_threads(1)
F64 = torch.float64


def covariance_rates_from_the_weak_form() -> None:
    p = problems.AnisotropicGaussian(3)
    x = p.sample(20_000, generator=torch.Generator().manual_seed(0))
    s = p.score(x, p.t0)
    grads = torch.stack([2 * x[:, k:k + 1] * torch.eye(3, dtype=x.dtype)[k] for k in range(3)], dim=1)
    rate, se = ct.weak_form_rate(x, s, grads, gamma=p.gamma, C=p.C, backend="moments")
    S0 = p.reference(p.t0)["cov"]
    exact = 4 * p.C * (torch.trace(S0) - 3 * torch.diagonal(S0))
    for k in range(3):
        check_close(f"d/dt ∫ f v_{k + 1}²", float(rate[k]), float(exact[k]), atol=4 * float(se[k]))


def test_true_field_passes():
    covariance_rates_from_the_weak_form()


@pytest.mark.parametrize("kind", ["zero", "reversed", "halved"])
def test_mutated_field_fails(kind):
    with mutated_velocity(kind), pytest.raises(AssertionError):
        covariance_rates_from_the_weak_form()
