r"""landau_lite: particle solvers for the spatially homogeneous Landau equation.

.. math::

    \partial_t f = \nabla\cdot\int A(v-w)\big(f(w)\nabla f(v) - f(v)\nabla f(w)\big)\,dw,
    \qquad A(z) = C|z|^\gamma\big(|z|^2 I - z\otimes z\big).

Small public API: the kernel, the particle velocity field, the collision matrix and drift, test problems
with exact references, score methods (exact, blob, neural), a time stepper with diagnostics, and grid
quadrature for the book's estimates.
"""

from .device import by_device, has_cuda, pick_device, seed_everything
from .kernel import CollisionKernel, coulomb, maxwell
from .velocity import collision_drift, collision_matrix, velocity, velocity_at
from . import closed_forms, diagnostics, grid, problems, verify
from .closed_forms import *  # noqa: F401,F403
from .diagnostics import *  # noqa: F401,F403
from .grid import *  # noqa: F401,F403
from .problems import *  # noqa: F401,F403
from .verify import check_close, check_le, check_true

__version__ = "0.1.0"

__all__ = [
    "CollisionKernel", "coulomb", "maxwell",
    "velocity", "velocity_at", "collision_matrix", "collision_drift",
    "pick_device", "seed_everything", "by_device", "has_cuda",
    "check_close", "check_le", "check_true",
    *closed_forms.__all__, *diagnostics.__all__, *grid.__all__, *problems.__all__,
]
