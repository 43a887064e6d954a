r"""The paper's mathematics, checked numerically: one module per object.

This subpackage may import the solver library (``landau_lite``); the library never imports it.

========================  ==========================================================================
``quadrature``             quadrature rules: Gauss–Legendre lines, tensor boxes, radial, axial, radial-solver shells
``divergences``            entropy, KL, :math:`L^p` and sup norms, (relative, weighted) Fisher information by
                           quadrature with any rule; the Pinsker ratios
``gaussian``               Gaussian closed forms (KL, entropy, :math:`L^2`, sup) and Gaussians under linear flows
``grid``                   grid quadrature of :math:`A*h` and :math:`(\nabla\cdot A)*h` with the singular cell exact;
                           the grid's midpoint rule, gradients and spectral divergences
``continuity``             the continuity form: :math:`\bar a` and :math:`\bar b` by polar quadrature, weak-form rates
``coercivity``             :math:`\lambda_{\min}(\bar a[g])` along rays and every coercivity constant (Lemma 2.2)
``inequalities``           the Sobolev :math:`L^3` bound and the pointwise Hessian inequality (Theorem 3.1)
``stability``              the KL identity and the terms and constants of Lemma 3.3
``gronwall``               Grönwall bounds of sampled rates and polynomial envelopes (Theorems 4.1, 4.2)
``certificate``            the a-posteriori bound of Theorem 4.2 and KL estimators for particle runs
========================  ==========================================================================
"""

from __future__ import annotations

from . import (certificate, coercivity, continuity, divergences, gaussian, grid, gronwall, inequalities, quadrature,
               stability)

__all__ = ["certificate", "coercivity", "continuity", "divergences", "gaussian", "grid", "gronwall", "inequalities",
           "quadrature", "stability"]
