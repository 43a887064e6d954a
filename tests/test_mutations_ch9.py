"""Chapter 9's particle checks fail when the particle velocity is wrong (tests/mutations.py).

The chapter's checks on particle runs, at a small size, with the same package functions
(:mod:`landau_lite.book.experiments`) and the same tolerances as ``book/09_a_posteriori.ipynb``:

* the control run (exact score) carries the exact density along its characteristics (Maxwell molecules and
  Coulomb): :func:`~landau_lite.book.experiments.check_tracker_control`;
* the sharp a-posteriori bound holds along the runs: :func:`~landau_lite.book.experiments.check_certificate`,
  which checks the control run first. A wrongly moving solver violates the bound *with the exact score*: frozen,
  reversed or halved particles are not moved by the velocity field of their score, so the theorem does not apply,
  and the relative entropy they accumulate exceeds the bound. (For the SBTM runs the bound is loose enough to
  survive such a defect; the control run is what detects it.)

Each must pass with the true velocity field and raise ``AssertionError`` with frozen (``zero``), reversed
(``reversed``) or halved (``halved``: the collision constant off by a factor 2) particles.
"""

from __future__ import annotations

import functools

import pytest
import torch
from mutations import MUTATIONS, mutated_velocity

from landau_lite.book import experiments as ex

torch.set_num_threads(1)

#: the chapter's tolerance for the control runs
KL_TOL = 3e-4

#: setting -> (problem, sizes); the chapter uses N = 1000 and more tracers
SETTINGS = {
    "maxwell": ("bkw3", dict(n=300, dt=0.2, t_end=8.0, tracers=150, n_mc=200, every=1)),
    "coulomb": ("bkw3_coulomb", dict(n=300, dt=0.05, t_end=0.5, tracers=100, n_mc=0, every=2)),
}


@functools.lru_cache(maxsize=None)
def control(setting: str, kind: str | None) -> ex.CertificateRun:
    problem, sizes = SETTINGS[setting]
    if kind is None:
        return ex.certificate_runs(problem, {"exact score": None}, device="cpu", **sizes)["exact score"]
    with mutated_velocity(kind):
        return ex.certificate_runs(problem, {"exact score": None}, device="cpu", **sizes)["exact score"]


CHECKS = {
    "maxwell_control": ("maxwell", lambda r: ex.check_tracker_control(r, "exact score", kl_tol=KL_TOL)),
    "maxwell_certificate": ("maxwell", lambda r: ex.check_certificate({"exact score": r})),
    "coulomb_control": ("coulomb", lambda r: ex.check_tracker_control(r, "exact score", kl_tol=KL_TOL)),
}


@pytest.mark.parametrize("name", list(CHECKS))
def test_true_field_passes(name):
    setting, check = CHECKS[name]
    check(control(setting, None))


@pytest.mark.parametrize("name,kind", [(n, k) for n in CHECKS for k in MUTATIONS])
def test_mutated_field_fails(name, kind):
    setting, check = CHECKS[name]
    result = control(setting, kind)
    with pytest.raises(AssertionError):
        check(result)
