r"""The paper's mathematics, checked numerically: quadrature, divergences, grids, coercivity, stability, certificate.

This subpackage may import the solver library (``landau_lite``); the library never imports it.

========================  ==========================================================================
``divergences``            KL, Lᵖ, entropy and Fisher information by quadrature; Gaussian closed forms; Pinsker
``grid``                   grid quadrature of :math:`A*h` and :math:`(\nabla\cdot A)*h` with the singular cell exact
``coercivity``             :math:`\lambda_{\min}(\bar a[g])` along rays, coercivity constants (Lemma 2.2)
``stability``              weighted Fisher information, the terms of Lemma 3.3, Grönwall bounds (Theorem 4.1)
``certificate``            the a-posteriori bound of Theorem 4.2 and KL estimators for particle runs
========================  ==========================================================================
"""

from __future__ import annotations

from . import certificate, coercivity, divergences, grid, stability

__all__ = ["certificate", "coercivity", "divergences", "grid", "stability"]
