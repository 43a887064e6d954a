"""Chapter 2's particle checks fail when the particle velocity is wrong (tests/mutations.py).

Each test runs one check of ``book/02_continuity_form.ipynb`` at a small size, with the same package functions,
the same comparison and the same tolerance as the chapter: it must pass with the true velocity field and raise
``AssertionError`` with frozen (``zero``), reversed (``reversed``) or halved (``halved``, the collision constant off
by a factor 2) particles.
"""

from __future__ import annotations

import pytest
import torch
from mutations import MUTATIONS, mutated_velocity

import landau_lite as ll
from landau_lite import problems
from landau_lite.analysis import continuity as ct
from landau_lite.book.verify import check_close, check_small, check_true
from landau_lite.reference import velocity_naive

torch.set_num_threads(1)
F64 = torch.float64


def velocity_matches_naive_sum() -> None:
    """Chapter 2, 'The particle velocity field': ll.velocity equals the naive N x N x d pair sum."""
    g = torch.Generator().manual_seed(0)
    x, s = torch.randn(120, 3, generator=g, dtype=F64), torch.randn(120, 3, generator=g, dtype=F64)
    for gamma in (-3.0, 0.0):
        U = ll.velocity(x, s, gamma=gamma, C=1.0)
        U_ref = velocity_naive(x, s, gamma=gamma, C=1.0)
        check_small(f"γ = {gamma:+.0f}: max |U - U_naive| / max |U_naive|",
                    float((U - U_ref).abs().max() / U_ref.abs().max()), 1e-12)


def entropy_production_identity() -> None:
    """Chapter 2, 'Entropy production': (1/N) Σ s_i·U_i equals the symmetrised double sum -(1/2N²) Σ Δs·A(z)Δs."""
    g = torch.Generator().manual_seed(1)
    x, s = torch.randn(150, 3, generator=g, dtype=F64), torch.randn(150, 3, generator=g, dtype=F64)
    kern = ll.coulomb(C=1.0)
    z, ds = x[:, None, :] - x[None, :, :], s[:, None, :] - s[None, :, :]
    double_sum = -(ds * kern.apply(z, ds)).sum() / (2 * x.shape[0] ** 2)
    rate = ll.entropy_production_rate(s, ll.velocity(x, s, gamma=-3.0, C=1.0))
    check_small("(1/N) Σ s·U vs -(1/2N²) Σ Δs·AΔs, relative difference", float((rate - double_sum) / double_sum), 1e-12)


def entropy_production_is_negative() -> None:
    """Chapter 2, 'Entropy production': the estimated entropy production is negative for random scores."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(200, 3, generator=g, dtype=F64)
    rates = [float(ll.entropy_production_rate(s, ll.velocity(x, s, gamma=-3.0, C=1.0)))
             for s in (torch.randn(200, 3, generator=g, dtype=F64) for _ in range(3))]
    check_true("all estimated entropy production rates < 0", max(rates) < 0)


def bkw_dissipation_from_particles() -> None:
    """Chapter 2, 'Entropy production': -(1/N) Σ s·U from BKW particles vs D(f) = C(d-1) I(f|M), 4 standard errors."""
    bkw = problems.BKW(3)
    x = bkw.sample(20_000, generator=torch.Generator().manual_seed(3))
    s = bkw.score(x, bkw.t0)
    rate, se = ct.weak_form_rate(x, s, s, gamma=0.0, C=bkw.C, backend="moments")
    check_close("BKW dissipation from particles", -float(rate), ct.bkw_dissipation(bkw, bkw.t0), atol=4 * float(se))


CHECKS = {
    "velocity_matches_naive_sum": (velocity_matches_naive_sum, ("zero", "reversed", "halved")),
    "entropy_production_identity": (entropy_production_identity, ("zero", "reversed", "halved")),
    "entropy_production_is_negative": (entropy_production_is_negative, ("zero", "reversed")),
    "bkw_dissipation_from_particles": (bkw_dissipation_from_particles, ("zero", "reversed", "halved")),
}


@pytest.mark.parametrize("name", list(CHECKS))
def test_true_field_passes(name):
    CHECKS[name][0]()


@pytest.mark.parametrize("name,kind", [(n, k) for n, (_, kinds) in CHECKS.items() for k in kinds])
def test_mutated_field_fails(name, kind):
    assert kind in MUTATIONS
    with mutated_velocity(kind), pytest.raises(AssertionError):
        CHECKS[name][0]()


def test_halved_field_keeps_the_sign():
    """The sign check alone cannot see a halved field (it is a sign, not a size): that is what the other checks do."""
    with mutated_velocity("halved"):
        entropy_production_is_negative()
