r"""Stability in relative entropy: Lemma 3.3 of Ilin (2025), term by term, and its constants.

Notation: :math:`\langle v\rangle = (1+|v|^2)^{1/2}`, :math:`I_k(f) = \int f\langle v\rangle^k|\nabla\log f|^2`,
:math:`\mathrm{KL}(f\Vert g)=\int f\log(f/g)`, the kernel :math:`A(z) = C|z|^\gamma(|z|^2I - z\otimes z)` (it contains
the collision constant :math:`C`), :math:`\bar a[h] = A*h` and :math:`\bar b[h] = (\nabla\cdot A)*h`. The functionals
(KL, :math:`L^p`, Fisher information) are those of :mod:`landau_lite.analysis.divergences`; the Grönwall step of
Theorem 4.1 is :mod:`landau_lite.analysis.gronwall`.

**1. The KL identity** (Lemma 3.3(a)). If :math:`\partial_t f+\nabla\cdot(fu_f)=0` and
:math:`\partial_t g+\nabla\cdot(gu_g)=0`, then

.. math::

    \frac{d}{dt}\mathrm{KL}(f\Vert g) = \int f\,(u_f-u_g)\cdot\nabla\log\frac fg

(:func:`kl_rate`; before the integration by parts: :func:`kl_rate_divergence_form_on_grid`). For Gaussians moved by
linear fields both sides are closed form (:mod:`landau_lite.analysis.gaussian`).

**2. The decomposition** (Lemma 3.3(b)–(c)). With :math:`\Phi=\nabla\log(f/g)`, :math:`h=f-g` and
:math:`R = \bar a[h]\nabla\log f-\bar b[h]`,

.. math::

    \int f(U[f]-U[g])\cdot\Phi &= -\int f\,\Phi\cdot\bar a[g]\Phi - \int f\,\Phi\cdot R \\
    &\le -\frac12\int f\,\Phi\cdot\bar a[g]\Phi + \frac12\int f\,R\cdot\bar a[g]^{-1}R .

:func:`key_terms_on_grid` (3-D or 2-D grids, :mod:`landau_lite.analysis.grid`) and :func:`radial_key_terms` (radial
densities on the shells of :class:`landau_lite.radial.RadialGrid`) compute every term.

**3. The Coulomb constants** (Lemma 3.3(d), :math:`d=3`, :math:`\gamma=-3`). With the sup bound
:math:`B = \max(\|f\|_\infty,\|g\|_\infty)` and the coercivity constant :math:`c` of :math:`\bar a[g]\ge c\langle
v\rangle^{-3}` (:mod:`landau_lite.analysis.coercivity`; it contains the factor :math:`C`):

.. math::

    \frac{d}{dt}\mathrm{KL}(f\Vert g) &\le -\frac c2\int f\langle v\rangle^{-3}|\Phi|^2 + \Lambda\,\mathrm{KL}(f\Vert g), \\
    \Lambda &= \frac{C^2}{c}\Big[(16\pi B+4)\,I_3(f) \\
    &\qquad+ 16\big((12\pi)^{3/2}B+\sqrt{4\pi/5}\big)\|\langle v\rangle^3f\|_{L^2}\Big]

(:func:`lemma33_coefficients`, :func:`lemma33_rate_parts`, :func:`lemma33_rate`). The structure follows the paper's
prose; the constants are our reconstruction (see the book's appendix 'What we rebuilt').
"""

from __future__ import annotations

import math

import torch

from .._checks import check_finite_float, check_positive, check_real, check_same_device_dtype
from ..radial import RadialGrid, radial_collision_coefficients
from .coercivity import coercivity_constant_shells
from .divergences import (fisher_information, japanese_bracket, kl_divergence, lp_distance, lp_norm,
                          relative_fisher_information)
from .grid import (Grid, collision_drift_on_grid, collision_matrix_on_grid, divergence_on_grid_spectral,
                   grid_quadrature, landau_velocity_on_grid)
from .quadrature import Quadrature, check_quadrature, shell_quadrature

__all__ = [
    "kl_rate",
    "kl_rate_divergence_form_on_grid",
    "key_terms_on_grid",
    "radial_key_terms",
    "lemma33_coefficients",
    "lemma33_rate_parts",
    "lemma33_rate",
]


# ----------------------------------------------------------------------------------------------
# the KL identity, Lemma 3.3(a)
# ----------------------------------------------------------------------------------------------

def kl_rate(f: torch.Tensor, u_f: torch.Tensor, u_g: torch.Tensor, phi: torch.Tensor,
            quad: Quadrature) -> torch.Tensor:
    r"""Right-hand side of the KL identity, :math:`\int f\,(u_f-u_g)\cdot\Phi` with :math:`\Phi=\nabla\log(f/g)`.

    .. math:: \frac{d}{dt}\mathrm{KL}(f\Vert g) = \int f\,(u_f-u_g)\cdot\nabla\log\frac fg \approx \sum_i w_if_i\,(u_f-u_g)_i\cdot\Phi_i .

    Args:
        f: density values at the nodes of ``quad``, ``(M,)``.
        u_f, u_g, phi: ``(M, d)`` vectors at the nodes, or ``(M,)`` radial components on a radial rule.
        quad: a :class:`~landau_lite.analysis.quadrature.Quadrature`.

    Example:
        :math:`f=N(0,I)` pushed by :math:`u_f=v`, :math:`g=N(0,2I)` fixed: :math:`\Phi=-v/2` and the rate is
        :math:`-\frac12E|v|^2=-\frac32`.

        >>> from landau_lite.analysis.quadrature import radial_quadrature
        >>> q = radial_quadrature(3, 12.0, panels=32, order=16)
        >>> r = q.points[:, 0]
        >>> f = (2 * math.pi) ** -1.5 * torch.exp(-r * r / 2)
        >>> round(float(kl_rate(f, r, 0 * r, -r / 2, q)), 10)
        -1.5
    """
    quad = check_quadrature(quad)
    f = check_finite_float(f, "f")
    if f.shape != (quad.size,):
        raise ValueError(f"f must have shape ({quad.size},) (one value per node), got {tuple(f.shape)}")
    du = check_finite_float(u_f, "u_f") - check_finite_float(u_g, "u_g")
    phi = check_finite_float(phi, "phi")
    radial = quad.kind == "radial" and du.ndim == 1
    if du.shape != phi.shape or du.shape[0] != quad.size or not (radial or du.shape == quad.points.shape):
        raise ValueError(f"u_f, u_g and phi must all have shape {tuple(quad.points.shape)} (or ({quad.size},) radial "
                         f"components on a radial rule); got {tuple(u_f.shape)}, {tuple(u_g.shape)}, {tuple(phi.shape)}")
    dot = du * phi if radial else (du * phi).sum(1)
    return quad.integrate(f * dot)


def _check_positive_pair_on_grid(f: object, g: object, grid: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate two positive densities given at the points of a :class:`landau_lite.analysis.grid.Grid`."""
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a landau_lite.analysis.grid.Grid, got {type(grid).__name__}")
    f = check_finite_float(f, "f")
    g = check_finite_float(g, "g")
    for name, x in (("f", f), ("g", g)):
        if x.shape != (grid.size,):
            raise ValueError(f"{name} must have shape ({grid.size},), got {tuple(x.shape)}")
        if bool((x <= 0).any()):
            raise ValueError(f"{name} must be > 0 at every grid point (log f and log g are needed)")
    check_same_device_dtype(f, g, "f", "g")
    return f, g


def kl_rate_divergence_form_on_grid(f: torch.Tensor, g: torch.Tensor, flux_f: torch.Tensor, flux_g: torch.Tensor,
                                    grid: Grid) -> torch.Tensor:
    r""":math:`\frac{d}{dt}\mathrm{KL}(f\Vert g)` computed from the equations themselves, **before** integrating by parts.

    With :math:`\partial_tf=-\nabla\cdot(fu_f)`, :math:`\partial_tg=-\nabla\cdot(gu_g)`:

    .. math::

        \frac{d}{dt}\mathrm{KL}(f\Vert g) &= \int\partial_tf\Big(\log\frac fg+1\Big) - \int\frac fg\,\partial_tg \\
        &= -\int\nabla\cdot(fu_f)\Big(\log\frac fg+1\Big) + \int\frac fg\,\nabla\cdot(gu_g),

    with the divergences by :func:`landau_lite.analysis.grid.divergence_on_grid_spectral` and the midpoint rule.
    Comparing it with :func:`kl_rate` checks the integration by parts of Lemma 3.3(a) on the grid.

    Args:
        f, g: positive densities ``(n**d,)``; flux_f, flux_g: the fluxes :math:`fu_f`, :math:`gu_g`, ``(n**d, d)``.
        grid: the :class:`~landau_lite.analysis.grid.Grid`.

    Example (:math:`f=N(0,I)` pushed by :math:`u_f=-v`, :math:`g=N(0,2I)` fixed; then :math:`\frac{d}{dt}\mathrm{KL}=E_f[-v\cdot(-v+v/2)]=\frac32`):
        >>> G = Grid(d=3, L=8.0, n=32); v = G.points()
        >>> f = (2 * math.pi) ** -1.5 * torch.exp(-(v * v).sum(1) / 2)
        >>> g = (4 * math.pi) ** -1.5 * torch.exp(-(v * v).sum(1) / 4)
        >>> round(float(kl_rate_divergence_form_on_grid(f, g, -v * f[:, None], 0 * v, G)), 6)
        1.5
    """
    f, g = _check_positive_pair_on_grid(f, g, grid)
    div_f = divergence_on_grid_spectral(flux_f, grid)
    div_g = divergence_on_grid_spectral(flux_g, grid)
    return grid.integrate(-div_f * (torch.log(f) - torch.log(g) + 1.0) + (f / g) * div_g)


# ----------------------------------------------------------------------------------------------
# Lemma 3.3(b)-(d), term by term: on a grid, and for radial densities
# ----------------------------------------------------------------------------------------------

def key_terms_on_grid(f: torch.Tensor, g: torch.Tensor, score_f: torch.Tensor, score_g: torch.Tensor, grid: Grid, *,
                      gamma: float, C: float, fields: bool = False) -> dict[str, torch.Tensor]:
    r"""Every term of Lemma 3.3(b)–(c) for two densities on a 3-D (or 2-D) grid.

    With :math:`\Phi=s_f-s_g` (:math:`s=\nabla\log`), :math:`h=f-g`, :math:`R=\bar a[h]s_f-\bar b[h]`,
    :math:`U[f]=-\bar a[f]s_f+\bar b[f]` (all from :mod:`landau_lite.analysis.grid`, singular cells integrated exactly)
    and every integral by the midpoint rule (:func:`~landau_lite.analysis.grid.grid_quadrature`):

    ======================  ==============================================================================
    key                     value
    ======================  ==============================================================================
    ``direct``              :math:`\int f\,(U[f]-U[g])\cdot\Phi` (:func:`kl_rate` with the grid velocities)
    ``coercive``            :math:`-\int f\,\Phi\cdot\bar a[g]\Phi\ (\le0)`
    ``cross``               :math:`-\int f\,\Phi\cdot R`
    ``young``               :math:`\frac12\int f\,R\cdot\bar a[g]^{-1}R\ (\ge0)`
    ``bound_c``             :math:`\frac12\,\texttt{coercive} + \texttt{young}` (right side of Lemma 3.3(c))
    ``weighted_phi``        :math:`\int f\langle v\rangle^{\gamma}|\Phi|^2` (the coercive weight of (d))
    ``kl``                  :math:`\mathrm{KL}(f\Vert g)`
    ``h_l1``, ``h_l2``      :math:`\|f-g\|_{L^1}`, :math:`\|f-g\|_{L^2}`
    ``a_h_sup``             :math:`\max_v\|\bar a[h](v)\|_{op}` over the grid
    ``term_a``              :math:`\int f\langle v\rangle^{-\gamma}|\bar a[h]s_f|^2`
    ``term_b``              :math:`\int f\langle v\rangle^{-\gamma}|\bar b[h]|^2`
    ``b_h_l4``              :math:`\|\bar b[h]\|_{L^4}`
    ``fisher_w``            :math:`I_{-\gamma}(f)=\int f\langle v\rangle^{-\gamma}|s_f|^2`
    ``f_w_l2``              :math:`\|\langle v\rangle^{-\gamma}f\|_{L^2}`
    ``f_sup``, ``g_sup``    grid maxima of :math:`f` and :math:`g`
    ======================  ==============================================================================

    Identity (b) says ``direct == coercive + cross`` (on the grid this holds to round-off, since
    :math:`\bar a` and :math:`\bar b` are linear in the density); inequality (c) says ``direct <= bound_c``.

    With ``fields=True`` the integrands are added as ``(n**d,)`` tensors: ``coercive_density``
    (:math:`f\,\Phi\cdot\bar a[g]\Phi`), ``cross_density`` (:math:`f\,\Phi\cdot R`), ``direct_density``
    (:math:`f\,(U[f]-U[g])\cdot\Phi`), and the fluxes ``flux_f`` (:math:`fU[f]`), ``flux_g`` (:math:`gU[g]`), ``(n**d, d)``.

    Args:
        f, g: positive densities ``(n**d,)`` (negligible outside the box).
        score_f, score_g: :math:`\nabla\log f`, :math:`\nabla\log g` at the grid points ``(n**d, d)``.
        grid: a :class:`~landau_lite.analysis.grid.Grid`.
        gamma: kernel exponent; C: collision constant :math:`>0`.

    Returns:
        dict of 0-dim tensors (dtype/device of ``f``).

    Example (two stationary Maxwellians: the coercive and the cross term cancel, up to the grid error):
        >>> G = Grid(d=3, L=6.0, n=24); v = G.points()
        >>> f = (2 * math.pi * 0.8) ** -1.5 * torch.exp(-(v * v).sum(1) / 1.6)
        >>> g = (2 * math.pi) ** -1.5 * torch.exp(-(v * v).sum(1) / 2)
        >>> t = key_terms_on_grid(f, g, -v / 0.8, -v, G, gamma=-3.0, C=1.0)
        >>> bool(abs(float(t["coercive"] + t["cross"])) < 0.01 * abs(float(t["coercive"])))
        True
    """
    f, g = _check_positive_pair_on_grid(f, g, grid)
    for name, s in (("score_f", score_f), ("score_g", score_g)):
        s = check_finite_float(s, name)
        if s.shape != (grid.size, grid.d):
            raise ValueError(f"{name} must have shape ({grid.size}, {grid.d}), got {tuple(s.shape)}")
        check_same_device_dtype(f, s, "f", name)
    gamma = check_real(gamma, "gamma", lo=-grid.d - 1.0, hi=1.0)
    C = check_positive(C, "C")
    if not isinstance(fields, bool):
        raise TypeError("fields must be a bool")

    quad = grid_quadrature(grid, dtype=f.dtype, device=f.device)
    integ = quad.integrate
    wgt = japanese_bracket(quad.points, -gamma)                 # <v>^{-gamma} (= <v>^3 for Coulomb)
    h = f - g
    a_g = collision_matrix_on_grid(g, grid, gamma=gamma, C=C)
    a_h = collision_matrix_on_grid(h, grid, gamma=gamma, C=C)
    b_h = collision_drift_on_grid(h, grid, gamma=gamma, C=C)
    U_f = landau_velocity_on_grid(f, score_f, grid, gamma=gamma, C=C)
    U_g = landau_velocity_on_grid(g, score_g, grid, gamma=gamma, C=C)
    phi = score_f - score_g
    a_h_s = torch.einsum("pij,pj->pi", a_h, score_f)
    R = a_h_s - b_h
    a_g_phi = torch.einsum("pij,pj->pi", a_g, phi)
    a_g_inv_R = torch.linalg.solve(a_g, R.unsqueeze(-1)).squeeze(-1)
    coercive = -integ(f * (phi * a_g_phi).sum(1))
    young = 0.5 * integ(f * (R * a_g_inv_R).sum(1))
    out = {
        "direct": kl_rate(f, U_f, U_g, phi, quad),
        "coercive": coercive,
        "cross": -integ(f * (phi * R).sum(1)),
        "young": young,
        "bound_c": 0.5 * coercive + young,
        "weighted_phi": relative_fisher_information(f, score_f, score_g, quad, k=gamma),
        "kl": kl_divergence(f, g, quad),
        "h_l1": lp_distance(f, g, quad, 1),
        "h_l2": lp_distance(f, g, quad, 2),
        "a_h_sup": torch.linalg.matrix_norm(a_h, ord=2).max(),
        "term_a": integ(f * wgt * (a_h_s * a_h_s).sum(1)),
        "term_b": integ(f * wgt * (b_h * b_h).sum(1)),
        "b_h_l4": lp_norm(torch.linalg.vector_norm(b_h, dim=1), quad, 4),
        "fisher_w": fisher_information(f, score_f, quad, k=-gamma),
        "f_w_l2": lp_norm(f, quad, 2, k=-gamma),
        "f_sup": f.max(),
        "g_sup": g.max(),
    }
    if fields:
        out.update(coercive_density=f * (phi * a_g_phi).sum(1), cross_density=f * (phi * R).sum(1),
                   direct_density=f * ((U_f - U_g) * phi).sum(1), flux_f=f[:, None] * U_f, flux_g=g[:, None] * U_g)
    return out


def radial_key_terms(f: torch.Tensor, g: torch.Tensor, grid: RadialGrid, *, gamma: float,
                     C: float) -> dict[str, torch.Tensor]:
    r"""The terms of Lemma 3.3(b)–(d) for two isotropic densities on a :class:`~landau_lite.radial.RadialGrid` (3-D).

    Every vector is radial, so :math:`\Phi\cdot\bar a[g]\Phi=\lambda_\parallel[g]\Phi_r^2` and
    :math:`R\cdot\bar a[g]^{-1}R=R_r^2/\lambda_\parallel[g]`, with :math:`\Phi_r=\partial_r\log(f/g)`,
    :math:`R_r=\lambda_\parallel[f-g]\,\partial_r\log f-b[f-g]` (coefficients are linear in the density) and
    :math:`U_r[f]=-\lambda_\parallel[f]\partial_r\log f+b[f]`. Keys as in :func:`key_terms_on_grid`: ``direct``,
    ``coercive``, ``cross``, ``young``, ``bound_c``, ``weighted_phi``, ``kl``, ``h_l1``, ``h_l2``, ``term_a``
    (:math:`\int f\langle v\rangle^{-\gamma}\lambda_\parallel[h]^2(\partial_r\log f)^2`), ``term_b``
    (:math:`\int f\langle v\rangle^{-\gamma}b[h]^2`), ``a_h_sup`` (:math:`\max_r\max(|\lambda_\parallel[h]|,|\lambda_\perp[h]|)`,
    the largest operator norm of :math:`\bar a[h]`), ``b_h_l4`` (:math:`\|\bar b[h]\|_{L^4}`), ``f_sup``, ``g_sup``, plus
    ``fisher3`` (:math:`I_{-\gamma}(f)`), ``f_w_l2`` (:math:`\|\langle v\rangle^{-\gamma}f\|_2`) and ``c``
    (:func:`~landau_lite.analysis.coercivity.coercivity_constant_shells` of :math:`g`). Scores by
    :meth:`~landau_lite.radial.RadialGrid.score`; integrals by the shell rule
    (:func:`~landau_lite.analysis.quadrature.shell_quadrature`); ``kl`` in the nonnegative form
    :math:`\int(f\log\frac fg-f+g)` (equal to KL for equal masses, accurate for tiny values).

    Example (a Maxwellian against another temperature: both stationary, the rate is ~0):
        >>> gr = RadialGrid(10.0, 400); r = gr.centres()
        >>> f = (2 * math.pi * 0.8) ** -1.5 * torch.exp(-r * r / 1.6)
        >>> g = (2 * math.pi) ** -1.5 * torch.exp(-r * r / 2)
        >>> t = radial_key_terms(f, g, gr, gamma=-3.0, C=1.0)
        >>> bool(abs(float(t["direct"])) < 1e-3 * abs(float(t["coercive"])))
        True
    """
    if not isinstance(grid, RadialGrid):
        raise TypeError(f"grid must be a RadialGrid, got {type(grid).__name__}")
    f = grid.check_values(f, "f")
    g = grid.check_values(g, "g")
    if f.ndim != 1 or g.shape != f.shape:
        raise ValueError(f"f and g must have shape ({grid.n},)")
    check_same_device_dtype(f, g, "f", "g")
    if bool((f <= 0).any()) or bool((g <= 0).any()):
        raise ValueError("f and g must be > 0 at every centre")
    gamma = check_real(gamma, "gamma")
    C = check_positive(C, "C")
    lf, qf, bf = radial_collision_coefficients(f, grid, gamma=gamma, C=C)
    lg, qg, bg = radial_collision_coefficients(g, grid, gamma=gamma, C=C)
    sf, sg = grid.score(f), grid.score(g)
    phi = sf - sg
    U_f = -lf * sf + bf
    U_g = -lg * sg + bg
    a_h_s = (lf - lg) * sf                       # abar[f - g] grad log f (radial component)
    b_h = bf - bg
    R = a_h_s - b_h
    quad = shell_quadrature(grid, dtype=f.dtype, device=f.device)
    integ = quad.integrate
    wgt = japanese_bracket(quad.points, -gamma)
    coercive = -integ(f * lg * phi * phi)
    young = 0.5 * integ(f * R * R / lg)
    return {
        "direct": kl_rate(f, U_f, U_g, phi, quad),
        "coercive": coercive,
        "cross": -integ(f * phi * R),
        "young": young,
        "bound_c": 0.5 * coercive + young,
        "weighted_phi": relative_fisher_information(f, sf, sg, quad, k=gamma),
        "kl": kl_divergence(f, g, quad, nonnegative=True),
        "h_l1": lp_distance(f, g, quad, 1),
        "h_l2": lp_distance(f, g, quad, 2),
        "term_a": integ(f * wgt * a_h_s * a_h_s),
        "term_b": integ(f * wgt * b_h * b_h),
        "a_h_sup": torch.maximum((lf - lg).abs(), (qf - qg).abs()).max(),
        "b_h_l4": lp_norm(b_h.abs(), quad, 4),
        "fisher3": fisher_information(f, sf, quad, k=-gamma),
        "f_w_l2": lp_norm(f, quad, 2, k=-gamma),
        "f_sup": f.max(),
        "g_sup": g.max(),
        "c": coercivity_constant_shells(g, grid, gamma=gamma, C=C),
    }


# ----------------------------------------------------------------------------------------------
# the constants of Lemma 3.3(d) and the Grönwall rate of Theorem 4.1
# ----------------------------------------------------------------------------------------------

def _nonnegative(x: float | torch.Tensor, name: str, *, strict: bool = False) -> float | torch.Tensor:
    if isinstance(x, torch.Tensor):
        x = check_finite_float(x, name)
        if bool((x <= 0).any()) if strict else bool((x < 0).any()):
            raise ValueError(f"{name} must be {'> 0' if strict else '>= 0'}")
        return x
    return check_positive(x, name) if strict else check_real(x, name, lo=0.0)


def lemma33_coefficients(B: float | torch.Tensor) -> tuple[float | torch.Tensor, float | torch.Tensor]:
    r"""The two coefficients of Lemma 3.3(d) (Coulomb, :math:`C=1`; our reconstruction, see the book's appendix
    'What we rebuilt'):

    .. math::

        k_a(B) &= 16\pi B + 4,\qquad
        k_b(B) = 16\big((12\pi)^{3/2}B + \sqrt{4\pi/5}\big), \\
        B &= \max(\|f\|_\infty,\|g\|_\infty).

    Where they come from: :math:`\|A(z)\|\le|z|^{-1}` and the split :math:`|z|<1`/:math:`|z|\ge1` give
    :math:`\|\bar a[h]\|_\infty\le\sqrt{4\pi}\|h\|_2+\|h\|_1`, so
    :math:`\|\bar a[h]\|_\infty^2\le2(4\pi\|h\|_2^2+\|h\|_1^2)\le k_a\,\mathrm{KL}` by Pinsker
    (:math:`\|h\|_1^2\le2\mathrm{KL}`) and its :math:`L^2` version (:math:`\|h\|_2^2\le2B\,\mathrm{KL}`). And
    :math:`|\bar b[h]|\le2|z|^{-2}*|h|`, Young's inequality with
    :math:`\||z|^{-2}1_{|z|<1}\|_{L^{4/3}}=(12\pi)^{3/4}`, :math:`\||z|^{-2}1_{|z|\ge1}\|_{L^4}=(4\pi/5)^{1/4}` gives
    :math:`\|\bar b[h]\|_{L^4}^2\le k_b\,\mathrm{KL}`.

    Args:
        B: the sup bound :math:`B\ge0` (a number, or a tensor of values, e.g. one per time).

    Example:
        >>> [round(x, 4) for x in lemma33_coefficients(0.0)]
        [4.0, 25.3653]
    """
    B = _nonnegative(B, "B")
    k_a = 16.0 * math.pi * B + 4.0
    k_b = 16.0 * ((12.0 * math.pi) ** 1.5 * B + math.sqrt(4.0 * math.pi / 5.0))
    return k_a, k_b


def lemma33_rate_parts(c: float | torch.Tensor, B: float | torch.Tensor, fisher3: float | torch.Tensor,
                       weighted_l2: float | torch.Tensor, *,
                       C: float = 1.0) -> tuple[float | torch.Tensor, float | torch.Tensor]:
    r"""The two parts of the Grönwall rate of Lemma 3.3(d): the :math:`\bar a[f-g]` part and the :math:`\bar b[f-g]` part.

    .. math::

        \Lambda_a = \frac{C^2}{c}\,k_a(B)\,I_3(f),\qquad
        \Lambda_b = \frac{C^2}{c}\,k_b(B)\,\|\langle v\rangle^3 f\|_{L^2},

    the bounds, divided by :math:`\mathrm{KL}(f\Vert g)`, of :math:`\frac1c\int f\langle v\rangle^3|\bar a[h]\nabla\log f|^2`
    and :math:`\frac1c\int f\langle v\rangle^3|\bar b[h]|^2` (``term_a`` and ``term_b`` of :func:`key_terms_on_grid` and
    :func:`radial_key_terms`, which a computation can compare with them part by part). Arguments as in
    :func:`lemma33_rate`.

    Example (:math:`B=0`: :math:`k_a=4`, :math:`k_b=16\sqrt{4\pi/5}`):
        >>> [round(x, 4) for x in lemma33_rate_parts(2.0, 0.0, 1.0, 1.0)]
        [2.0, 12.6826]
    """
    C = check_positive(C, "C")
    c = _nonnegative(c, "c", strict=True)
    B = _nonnegative(B, "B")
    fisher3 = _nonnegative(fisher3, "fisher3")
    weighted_l2 = _nonnegative(weighted_l2, "weighted_l2")
    k_a, k_b = lemma33_coefficients(B)
    return C * C / c * k_a * fisher3, C * C / c * k_b * weighted_l2


def lemma33_rate(c: float | torch.Tensor, B: float | torch.Tensor, fisher3: float | torch.Tensor,
                 weighted_l2: float | torch.Tensor, *, C: float = 1.0) -> float | torch.Tensor:
    r"""Grönwall rate :math:`\Lambda` of Theorem 4.1 from Lemma 3.3(d) (Coulomb; our reconstruction, see the book's
    appendix 'What we rebuilt'):

    .. math::

        \Lambda &= \frac{C^2}{c}\Big[(16\pi B+4)\,I_3(f) \\
        &\qquad+ 16\big((12\pi)^{3/2}B+\sqrt{4\pi/5}\big)\,\|\langle v\rangle^3 f\|_{L^2}\Big], \\
        \frac{d}{dt}\mathrm{KL}(f\Vert g) &\le \Lambda\,\mathrm{KL}(f\Vert g)

    (after dropping the coercive term), where :math:`B=\max(\|f\|_\infty,\|g\|_\infty)` and :math:`c` is the coercivity
    constant of :math:`\bar a[g] = A*g`, i.e. :math:`\bar a[g]\ge c\langle v\rangle^{-3}` (the kernel :math:`A` contains
    :math:`C`, so :math:`c` does too). The kernel constants scale as :math:`\bar a[h],\bar b[h]\propto C`, hence
    :math:`C^2/c\propto C`: doubling :math:`C` doubles the rate, as rescaling time says it must. The sum of the two
    parts of :func:`lemma33_rate_parts`; the Grönwall bound itself is
    :func:`landau_lite.analysis.gronwall.gronwall_bound`.

    Args:
        c: coercivity constant :math:`c>0`.
        B: sup bound :math:`B\ge0`.
        fisher3: :math:`I_3(f)\ge0`.
        weighted_l2: :math:`\|\langle v\rangle^3f\|_{L^2}\ge0`.
        C: collision constant :math:`C>0`.

    All of ``c``, ``B``, ``fisher3``, ``weighted_l2`` may be floats or tensors of the same shape (a rate per time).

    Example:
        >>> round(lemma33_rate(1.0, 0.0, 1.0, 0.0), 4)      # k_a(0) = 4
        4.0
    """
    part_a, part_b = lemma33_rate_parts(c, B, fisher3, weighted_l2, C=C)
    return part_a + part_b
