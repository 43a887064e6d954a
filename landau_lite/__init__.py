r"""landau_lite: particle solvers for the spatially homogeneous Landau equation.

.. math::

    \partial_t f = \nabla\cdot\int A(v-w)\big(f(w)\nabla f(v) - f(v)\nabla f(w)\big)\,dw,
    \qquad A(z) = C|z|^\gamma\big(|z|^2 I - z\otimes z\big).

The top level is the solver library: the kernel, the particle velocity field (on the one pair engine,
:mod:`landau_lite.pairs`), test problems with exact references, score methods, integrators,
:func:`simulate` and its :class:`Run`, diagnostics and device helpers.

Two subpackages load on first use and are never imported by the library:

* :mod:`landau_lite.analysis` — the paper's mathematics (quadrature, divergences, grids, coercivity,
  stability, the a-posteriori certificate);
* :mod:`landau_lite.book` — the notebooks' helpers (visible checks, the SBTM explorer, comparison tables).
"""

from __future__ import annotations

import importlib
from typing import Any

from .device import by_device, has_cuda, pick_device, seed_everything
from .diagnostics import entropy_production_rate, kde_density, moments, relative_fisher_error
from .integrators import euler_step, heun_step
from .kernel import CollisionKernel, coulomb, maxwell
from .problems import PROBLEMS, BKW, AnisotropicGaussian, GaussianMixture, Maxwellian, Problem, TwoBump2D, get_problem
from .run import NonFiniteError, Run
from .scores import BlobScore, ExactScore, NeuralScore, ScoreMethod, make_score
from .solver import simulate
from .velocity import collision_drift, collision_matrix, velocity, velocity_at

__version__ = "0.2.0"

__all__ = [
    # kernel and velocity field
    "CollisionKernel", "coulomb", "maxwell",
    "velocity", "velocity_at", "collision_matrix", "collision_drift",
    # problems
    "Problem", "BKW", "AnisotropicGaussian", "GaussianMixture", "TwoBump2D", "Maxwellian", "get_problem", "PROBLEMS",
    # scores, integrators, simulation
    "ScoreMethod", "ExactScore", "BlobScore", "NeuralScore", "make_score",
    "euler_step", "heun_step", "simulate", "Run", "NonFiniteError",
    # diagnostics and devices
    "moments", "entropy_production_rate", "relative_fisher_error", "kde_density",
    "pick_device", "seed_everything", "by_device", "has_cuda",
]

_LAZY = ("analysis", "book")


def __getattr__(name: str) -> Any:
    """Load ``landau_lite.analysis`` and ``landau_lite.book`` on first use (``ll.analysis.stability``)."""
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_LAZY))
