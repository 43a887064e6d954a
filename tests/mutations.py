"""Mutations of the particle velocity field, for the tests that prove the book's particle checks can fail.

Every particle velocity of the package (``ll.velocity``, ``VelocityField``, the solver's drift) goes through
``landau_lite.velocity._pair_velocity``; :func:`mutated_velocity` replaces it for the duration of a ``with`` block:

* ``"zero"``: frozen particles (U = 0);
* ``"reversed"``: U -> -U (anti-diffusion, entropy increases);
* ``"halved"``: U -> U / 2 (the collision constant off by a factor 2).

A check of a particle chapter must pass with the true field and fail (raise ``AssertionError``) under each
mutation: see ``tests/test_mutations_*.py``.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator

# the module, not the function ``landau_lite.velocity`` that the package's __init__ exports under the same name
# (``import landau_lite.velocity as m`` binds that attribute, i.e. the function)
velocity_module = importlib.import_module("landau_lite.velocity")

MUTATIONS = {"zero": 0.0, "reversed": -1.0, "halved": 0.5}


@contextlib.contextmanager
def mutated_velocity(kind: str) -> Iterator[None]:
    """Scale every particle velocity by ``MUTATIONS[kind]`` inside the block."""
    factor = MUTATIONS[kind]
    real = velocity_module._pair_velocity

    def mutated(*args, **kwargs):
        return factor * real(*args, **kwargs)

    velocity_module._pair_velocity = mutated
    try:
        yield
    finally:
        velocity_module._pair_velocity = real
