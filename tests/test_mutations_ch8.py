"""Chapter 8's particle checks fail when the particle velocity is wrong (tests/mutations.py).

Each check of ``book/08_sbtm.ipynb`` is run here at a small size with the same package functions
(:mod:`landau_lite.book.experiments`), the same comparison and the same tolerance rule as the chapter: it must pass
with the true velocity field and raise ``AssertionError`` with frozen (``zero``), reversed (``reversed``) or halved
(``halved``: the collision constant off by a factor 2) particles. The runs of one setting are computed once and
shared by the checks that use them.

The chapter's results for the learned scores (SBTM, blob) are findings with error bars, not checks: their accuracy
depends on the network size, N and the time step, so a small version of them says nothing about the chapter's.
"""

from __future__ import annotations

import functools

import pytest
import torch
from mutations import MUTATIONS, mutated_velocity

from landau_lite.book import experiments as ex

torch.set_num_threads(1)

#: setting -> (problem, methods, sizes); the chapter uses N = 1000 and more seeds
SETTINGS = {
    "bkw": ("bkw3", {"exact score": "exact"}, dict(n=400, dt=0.2, t_end=10.0, seeds=range(3))),
    "coulomb": ("bkw3_coulomb", {"exact score": "exact"}, dict(n=300, dt=0.05, t_end=0.5, seeds=range(3))),
}


@functools.lru_cache(maxsize=None)
def runs(setting: str, kind: str | None) -> ex.PairedRuns:
    problem, methods, sizes = SETTINGS[setting]
    if kind is None:
        return ex.paired_runs(problem, methods, device="cpu", **sizes)
    with mutated_velocity(kind):
        return ex.paired_runs(problem, methods, device="cpu", **sizes)


#: check name -> (setting, check); the same calls as the chapter
CHECKS = {
    "bkw_exact_increment": ("bkw", lambda r: ex.check_increment(r, "exact score")),
    "bkw_exact_entropy": ("bkw", lambda r: ex.check_entropy_change(r, "exact score")),
    "coulomb_exact_increment": ("coulomb", lambda r: ex.check_increment(r, "exact score")),
    "coulomb_exact_entropy": ("coulomb", lambda r: ex.check_entropy_change(r, "exact score")),
}


@pytest.mark.parametrize("name", list(CHECKS))
def test_true_field_passes(name):
    setting, check = CHECKS[name]
    check(runs(setting, None))


@pytest.mark.parametrize("name,kind", [(n, k) for n in CHECKS for k in MUTATIONS])
def test_mutated_field_fails(name, kind):
    setting, check = CHECKS[name]
    result = runs(setting, kind)
    with pytest.raises(AssertionError):
        check(result)
