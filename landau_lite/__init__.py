r"""landau_lite: particle solvers for the spatially homogeneous Landau equation.

.. math::

    \partial_t f = \nabla\cdot\int A(v-w)\big(f(w)\nabla f(v) - f(v)\nabla f(w)\big)\,dw,
    \qquad A(z) = C|z|^\gamma\big(|z|^2 I - z\otimes z\big).

The top level holds what a user of the solver needs: the kernel, the particle velocity field and the
empirical collision matrix/drift, test problems with exact references, score methods, the time stepper,
diagnostics and device helpers. The analysis tools behind the book's chapters stay in their submodules:

========================  ==========================================================================
``ll.closed_forms``        closed forms (ā of Maxwellians, Maxwell-molecule moments)
``ll.grid``                grid quadrature of A*h and (∇·A)*h with the singular cell integrated exactly
``ll.divergences``         KL, Lᵖ and entropy by quadrature; Pinsker ratios
``ll.coercivity``          λ_min(ā[g]) along rays, coercivity constants
``ll.stability``           weighted Fisher information, Lemma 3.3 terms and constants, Grönwall bounds
``ll.radial``              isotropic Landau solutions on a radial grid
``ll.certificate``         the a-posteriori bound of Theorem 4.2 and KL estimators for runs
``ll.compare``             method comparison tables (what the CLI runs)
``ll.explorer``            the SBTM explorer form (ipywidgets) and the precomputed-runs animation
``ll.losses``, ``ll.networks``  score-matching losses and the MLP
``ll.verify``              visible numerical checks for notebooks
========================  ==========================================================================
"""

from . import (
    certificate,
    closed_forms,
    coercivity,
    compare,
    diagnostics,
    divergences,
    explorer,
    grid,
    losses,
    networks,
    problems,
    radial,
    scores,
    solver,
    stability,
    verify,
)
from .device import by_device, has_cuda, pick_device, seed_everything
from .diagnostics import entropy_production_rate, kde_density, moments, relative_fisher_error
from .kernel import CollisionKernel, coulomb, maxwell
from .problems import (
    BKW,
    AnisotropicGaussian,
    GaussianMixture,
    Maxwellian,
    Problem,
    TwoBump2D,
    get_problem,
    PROBLEMS,
)
from .scores import BlobScore, ExactScore, NeuralScore, ScoreMethod, make_score
from .solver import NonFiniteError, Run, euler_step, heun_step, simulate
from .velocity import collision_drift, collision_matrix, velocity, velocity_at

__version__ = "0.1.0"

__all__ = [
    # kernel and velocity field
    "CollisionKernel", "coulomb", "maxwell",
    "velocity", "velocity_at", "collision_matrix", "collision_drift",
    # problems
    "Problem", "BKW", "AnisotropicGaussian", "GaussianMixture", "TwoBump2D", "Maxwellian", "get_problem", "PROBLEMS",
    # scores and time stepping
    "ScoreMethod", "ExactScore", "BlobScore", "NeuralScore", "make_score",
    "simulate", "Run", "NonFiniteError", "euler_step", "heun_step",
    # diagnostics and devices
    "moments", "entropy_production_rate", "relative_fisher_error", "kde_density",
    "pick_device", "seed_everything", "by_device", "has_cuda",
    # submodules
    "certificate", "closed_forms", "coercivity", "compare", "diagnostics", "divergences", "explorer", "grid", "losses",
    "networks", "problems", "radial", "scores", "solver", "stability", "verify",
]
