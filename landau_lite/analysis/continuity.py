r"""The continuity form of the Landau equation, computed independently of the closed forms and from particles.

Chapter 2 of the book writes the Landau equation as :math:`\partial_tf+\nabla\cdot(f\,U[f])=0` with

.. math::

    U[f] = -\bar a[f]\,\nabla\log f+\bar b[f],\qquad \bar a[f] = A*f,\qquad \bar b[f] = (\nabla\cdot A)*f,\qquad
    A(z) = C|z|^\gamma\big(|z|^2I-z\otimes z\big),

(the kernel contains the collision constant :math:`C`). This module computes the pieces that the chapter's checks
compare, each by a route that does not share code with what it checks:

* :func:`collision_coefficients` — :math:`\bar a[g](v)` and :math:`\bar b[g](v)` of any density :math:`g` by a
  quadrature in polar coordinates around each query point :math:`v` (the singularity of :math:`A` and
  :math:`\nabla\cdot A` at :math:`w=v` is cancelled by the Jacobian), to compare with the erf closed forms of
  :mod:`landau_lite.closed_forms`;
* :func:`weak_form_rate` — the particle estimate of :math:`\frac{d}{dt}\int f\varphi = \int f\,\nabla\varphi\cdot U[f]`
  with the particle velocity of :func:`landau_lite.velocity.velocity`, and a batch standard error;
* :func:`bkw_dissipation` — the exact entropy dissipation of the BKW solution,
  :math:`D(f_t) = C(d-1)\,I(f_t|M)`, by radial quadrature.

A particle check built on :func:`weak_form_rate` fails when the particle velocity is frozen, reversed or halved
(``tests/test_mutations_ch1.py``, ``tests/test_mutations_ch2.py``).
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from .._checks import check_int, check_particles, check_points, check_positive, check_real
from ..kernel import CollisionKernel
from ..problems import BKW
from ..velocity import velocity
from .divergences import relative_fisher_information
from .quadrature import polar_quadrature, radial_quadrature

__all__ = ["collision_coefficients", "weak_form_rate", "bkw_dissipation"]


def collision_coefficients(v: torch.Tensor, density: Callable[[torch.Tensor], torch.Tensor], *, gamma: float = -3.0,
                           C: float = 1.0, r_max: float = 16.0, panels: int = 16, order: int = 8,
                           n_angles: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Collision matrix and drift of a density by quadrature around each query point (:math:`d = 2, 3`).

    With :math:`w = v - r\omega`:

    .. math::

        \bar a[g](v) = \int_0^\infty\!\!\int_{S^{d-1}} A(r\omega)\,g(v-r\omega)\,r^{d-1}\,d\omega\,dr,\qquad
        \bar b[g](v) = \int_0^\infty\!\!\int_{S^{d-1}} (\nabla\cdot A)(r\omega)\,g(v-r\omega)\,r^{d-1}\,d\omega\,dr,

    where :math:`A(r\omega) = Cr^{\gamma+2}(I-\omega\otimes\omega)` and
    :math:`(\nabla\cdot A)(r\omega) = -(d-1)Cr^{\gamma+1}\omega`. The Jacobian :math:`r^{d-1}` turns the powers into
    :math:`r^{\gamma+d+1}` and :math:`r^{\gamma+d}`: for 3-D Coulomb :math:`r` and :math:`1`, smooth, so the
    :func:`~landau_lite.analysis.quadrature.polar_quadrature` (Gauss–Legendre in :math:`r`, a spherical rule in
    :math:`\omega`) converges fast for smooth :math:`g`. (The 2-D :math:`\gamma=-3` drift has
    :math:`r^{-1}`, integrable because the :math:`\omega`-average of :math:`\omega\,g(v-r\omega)` is :math:`O(r)`.)
    The density must be negligible beyond ``r_max`` from every query point. The kernel is evaluated by
    :class:`landau_lite.kernel.CollisionKernel`; nothing here uses the closed forms it is compared with.

    Args:
        v: query points ``(M, d)``, ``d`` in {2, 3}, float64 recommended.
        density: callable ``w (K, d) -> g(w) (K,)``.
        gamma: kernel exponent, :math:`-d-1\le\gamma\le1`. C: collision constant ``> 0``.
        r_max, panels, order, n_angles: the polar rule (:func:`~landau_lite.analysis.quadrature.polar_quadrature`).

    Returns:
        ``(abar, bbar)`` of shapes ``(M, d, d)`` and ``(M, d)``, dtype/device of ``v``.

    Example (the Maxwellian :math:`N(0, I)` in 3-D: :math:`\bar a(0) = \frac23C\sqrt{2/\pi}\,I`, :math:`\bar b(0) = 0`):
        >>> M = lambda w: (2 * math.pi) ** -1.5 * torch.exp(-0.5 * (w * w).sum(1))
        >>> a, b = collision_coefficients(torch.zeros(1, 3, dtype=torch.float64), M, r_max=12.0)
        >>> round(float(a[0, 0, 0]) / (2 / 3 * math.sqrt(2 / math.pi)), 10), round(float(b.abs().max()), 12)
        (1.0, 0.0)
    """
    if not isinstance(v, torch.Tensor) or v.ndim != 2:
        raise ValueError(f"v must be a tensor of shape (M, d), got {type(v).__name__}"
                         + (f" of shape {tuple(v.shape)}" if isinstance(v, torch.Tensor) else ""))
    d = check_int(int(v.shape[1]), "v.shape[1]", lo=2, hi=3)
    v = check_points(v, d, "v")
    if not callable(density):
        raise TypeError(f"density must be a callable w -> g(w), got {type(density).__name__}")
    gamma = check_real(gamma, "gamma", lo=-d - 1.0, hi=1.0)
    kernel = CollisionKernel(d=d, gamma=gamma, C=check_positive(C, "C"))
    quad = polar_quadrature(d, r_max, panels=panels, order=order, n_angles=n_angles, dtype=v.dtype, device=v.device)
    z, wz = quad.points, quad.weights
    A, divA = kernel.matrix(z), kernel.div(z)
    abar = torch.empty(v.shape[0], d, d, dtype=v.dtype, device=v.device)
    bbar = torch.empty(v.shape[0], d, dtype=v.dtype, device=v.device)
    for i in range(v.shape[0]):                        # one query point at a time: O(K) memory
        g = density(v[i][None, :] - z)
        if not isinstance(g, torch.Tensor) or g.shape != (z.shape[0],):
            raise ValueError(f"density must return a tensor of shape ({z.shape[0]},) for {z.shape[0]} points")
        if not bool(torch.isfinite(g).all()):
            raise ValueError("density returned a non-finite value")
        gw = (wz * g.to(dtype=v.dtype))
        abar[i] = torch.einsum("k,kij->ij", gw, A)
        bbar[i] = gw @ divA
    return abar, bbar


def weak_form_rate(x: torch.Tensor, s: torch.Tensor, grad_phi: torch.Tensor | Callable[[torch.Tensor], torch.Tensor],
                   *, gamma: float, C: float = 1.0, backend: str = "auto",
                   n_batches: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Particle estimate of :math:`\frac{d}{dt}\int f\varphi` from the weak form, with a batch standard error.

    For samples :math:`x_i\sim f` with score values :math:`s_i`, and the particle velocity
    :math:`U_i = -\frac1N\sum_jA(x_i-x_j)(s_i-s_j)` (:func:`landau_lite.velocity.velocity`),

    .. math::

        \frac{d}{dt}\int f\varphi\ \approx\ \frac1N\sum_i\nabla\varphi(x_i)\cdot U_i
        = -\frac{1}{2N^2}\sum_{i,j}\big(\nabla\varphi(x_i)-\nabla\varphi(x_j)\big)\cdot A(x_i-x_j)(s_i-s_j).

    With :math:`\varphi = \log f` (``grad_phi = s``) this is the entropy rate :math:`\frac{d}{dt}H = -D(f)`. The
    standard error comes from ``n_batches`` disjoint batches, each an independent estimate with :math:`N/B`
    particles: :math:`\mathrm{se} = \mathrm{sd}(\text{batch estimates})/\sqrt B`, which over-estimates the error of
    the full-sample estimate (it uses more pairs), so a tolerance of a few ``se`` is conservative.

    Args:
        x: particles ``(N, d)``; s: score values ``(N, d)``.
        grad_phi: :math:`\nabla\varphi` at the particles, ``(N, d)`` (one test function) or ``(N, K, d)``
            (:math:`K` test functions), or a callable ``x -> `` such a tensor.
        gamma, C, backend: as in :func:`landau_lite.velocity.velocity`. n_batches: ``>= 2``.

    Returns:
        ``(rate, stderr)``: 0-dim tensors for one test function, ``(K,)`` for ``K``.

    Example (Maxwell molecules, :math:`N(0,\operatorname{diag}(2, 1, 1))`, :math:`\varphi = v_1^2`:
    :math:`\frac{d}{dt}\Sigma_{11} = 4C(\operatorname{tr}\Sigma - 3\Sigma_{11}) = -8C`):
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(100_000, 3, generator=g, dtype=torch.float64) * torch.tensor([2 ** 0.5, 1.0, 1.0])
        >>> s = -x / torch.tensor([2.0, 1.0, 1.0], dtype=torch.float64)
        >>> e1 = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
        >>> rate, se = weak_form_rate(x, s, lambda y: 2 * y[:, :1] * e1, gamma=0.0, backend="moments")
        >>> round(float(rate), 1), bool(abs(float(rate) + 8.0) < 4 * float(se))
        (-8.0, True)
    """
    x = check_particles(x, "x", min_n=2)
    s = check_particles(s, "s", min_n=2)
    if s.shape != x.shape:
        raise ValueError(f"s must have the shape of x {tuple(x.shape)}, got {tuple(s.shape)}")
    n_batches = check_int(n_batches, "n_batches", lo=2)
    if x.shape[0] < 2 * n_batches:
        raise ValueError(f"x must hold at least 2 * n_batches = {2 * n_batches} particles, got {x.shape[0]}")
    gp = grad_phi(x) if callable(grad_phi) and not isinstance(grad_phi, torch.Tensor) else grad_phi
    if not isinstance(gp, torch.Tensor):
        raise TypeError(f"grad_phi must be a tensor or return one, got {type(gp).__name__}")
    single = gp.ndim == 2
    gp = gp[:, None, :] if single else gp
    if gp.ndim != 3 or gp.shape[0] != x.shape[0] or gp.shape[2] != x.shape[1]:
        raise ValueError(f"grad_phi must have shape ({x.shape[0]}, {x.shape[1]}) or ({x.shape[0]}, K, {x.shape[1]}), "
                         f"got {tuple(gp.shape)}")
    gp = gp.to(dtype=x.dtype, device=x.device)

    def rate(idx: slice) -> torch.Tensor:
        U = velocity(x[idx], s[idx], gamma=gamma, C=C, backend=backend)
        return torch.einsum("nkd,nd->k", gp[idx], U) / U.shape[0]

    full = rate(slice(None))
    size = x.shape[0] // n_batches
    batches = torch.stack([rate(slice(b * size, (b + 1) * size)) for b in range(n_batches)])
    se = batches.std(0, unbiased=True) / math.sqrt(n_batches)
    return (full[0], se[0]) if single else (full, se)


def bkw_dissipation(problem: BKW, t: float, *, r_max: float = 14.0, panels: int = 32) -> float:
    r"""Entropy dissipation :math:`D(f_t) = -\frac{d}{dt}H(f_t) = C(d-1)\,I(f_t|M)` of the BKW solution.

    For Maxwell molecules, a radial :math:`f` with covariance :math:`I` moves with
    :math:`U = -C(d-1)(\nabla\log f+v)`, so :math:`D(f) = -\int f\,U\cdot\nabla\log f = C(d-1)\int f|\nabla\log f+v|^2`
    (book, chapter 1), the relative Fisher information with respect to :math:`M = N(0, I)`, computed here by
    :func:`~landau_lite.analysis.quadrature.radial_quadrature` (graded near the origin, ``power=3``).

    Example (at :math:`t\to\infty` the BKW solution is the Maxwellian and :math:`D\to0`):
        >>> from landau_lite.problems import BKW
        >>> p = BKW(3)
        >>> bkw_dissipation(p, 6.0) > bkw_dissipation(p, 8.0) > bkw_dissipation(p, 40.0) >= 0
        True
    """
    if not isinstance(problem, BKW):
        raise TypeError(f"problem must be a landau_lite.problems.BKW, got {type(problem).__name__}")
    t = check_real(t, "t", lo=problem.critical_time)
    quad = radial_quadrature(problem.d, r_max, panels=panels, power=3.0)
    fisher = relative_fisher_information(lambda v: problem.density(v, t), lambda v: problem.score(v, t),
                                         lambda v: -v, quad)
    return problem.C * (problem.d - 1) * float(fisher)
