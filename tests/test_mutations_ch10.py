"""Chapter 10's particle checks can fail: frozen, reversed and half-speed particles are caught.

The notebook checks, for the exact-score runs of both problems (Maxwell-molecule BKW and Coulomb), that the change
of E|v|⁴ and of the entropy over the window, averaged over seeds, matches the exact change
(``landau_lite.book.compare.check_change``). Here the same functions run at small sizes; under each mutation of the
velocity field (tests/mutations.py) both checks must raise, with the true field both must pass.
"""

from __future__ import annotations

import functools

import pytest
import torch

from landau_lite.book import compare as cmp
from mutations import MUTATIONS, mutated_velocity

torch.set_num_threads(1)

#: the windows of the chapter (BKW from t0 = 6 for six time units; Coulomb from 0 to 2), fewer particles
SIZES = {
    "bkw3": dict(n=500, dt=0.1, t_end=12.0, backend="auto"),
    "bkw3_coulomb": dict(n=500, dt=0.05, t_end=2.0, backend="chunked"),
}
SEEDS = range(4)


@functools.lru_cache(maxsize=None)
def exact_rows(problem: str, kind: str | None) -> tuple:
    specs = [cmp.RunSpec(problem, "exact", seed=s, device="cpu", **SIZES[problem]) for s in SEEDS]
    if kind is None:
        return tuple(cmp.compare_methods(specs))
    with mutated_velocity(kind):
        return tuple(cmp.compare_methods(specs))


@pytest.mark.parametrize("quantity", ["m4", "entropy"])
@pytest.mark.parametrize("problem", sorted(SIZES))
def test_true_field_passes(problem, quantity, capsys):
    res = cmp.check_change(list(exact_rows(problem, None)), quantity)
    assert capsys.readouterr().out.startswith("✓")
    assert res["tol"] < 0.5 * abs(res["exact"])


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
@pytest.mark.parametrize("quantity", ["m4", "entropy"])
@pytest.mark.parametrize("problem", sorted(SIZES))
def test_mutation_is_caught(problem, quantity, kind):
    rows = list(exact_rows(problem, kind))
    with pytest.raises(AssertionError):
        cmp.check_change(rows, quantity)
