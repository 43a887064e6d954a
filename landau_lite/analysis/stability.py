r"""Stability in relative entropy: the pieces of Lemma 3.3 and Theorem 4.1 and estimators of weighted Fisher
information, moments and KL (chapters 5–7 of the book). Isotropic Landau solutions that make them computable
live in :mod:`landau_lite.radial`.

Notation (math.md, "Notation"): :math:`\langle v\rangle = (1+|v|^2)^{1/2}`, :math:`M_k(f)=\int f\langle v\rangle^k`,
:math:`I_k(f) = \int f\langle v\rangle^k|\nabla\log f|^2` (weighted Fisher information, :math:`I=I_0`),
:math:`\mathrm{KL}(f\Vert g)=\int f\log(f/g)`, :math:`\bar a[h] = A*h`, :math:`\bar b[h] = (\nabla\cdot A)*h`, and
:math:`A_C(z) = C|z|^\gamma(|z|^2I - z\otimes z)`.

**1. The KL identity** (math.md §4, Lemma 3.3(a), [derived and verified]). If :math:`\partial_t f+\nabla\cdot(fu_f)=0`
and :math:`\partial_t g+\nabla\cdot(gu_g)=0`, then

.. math::

    \frac{d}{dt}\mathrm{KL}(f\Vert g) = \int f\,(u_f-u_g)\cdot\nabla\log\frac fg .

For Gaussians moved by linear fields everything is in closed form: :func:`landau_lite.analysis.divergences.gaussian_kl`,
:func:`gaussian_linear_flow`, :func:`gaussian_kl_rate`.

**2. The decomposition** (Lemma 3.3(b)–(c), [reconstructed]). With :math:`\Phi=\nabla\log(f/g)`, :math:`h=f-g`
and :math:`R = \bar a[h]\nabla\log f-\bar b[h]`,

.. math::

    \int f(U[f]-U[g])\cdot\Phi = -\int f\,\Phi\cdot\bar a[g]\Phi - \int f\,\Phi\cdot R
    \ \le\ -\frac12\int f\,\Phi\cdot\bar a[g]\Phi + \frac12\int f\,R\cdot\bar a[g]^{-1}R .

:func:`key_terms_on_grid` (3-D grids, :mod:`landau_lite.analysis.grid`) and :func:`landau_lite.analysis.stability.radial_key_terms`
(radial densities) compute every term.

**3. The Coulomb constants** (Lemma 3.3(d), :math:`d=3`, :math:`\gamma=-3`; **our reconstruction**, math.md §4: the
structure follows the seed prose, the constants were derived for this book and are not the paper's). With
:math:`\mathsf M = \max(\|f\|_\infty,\|g\|_\infty)` and :math:`\bar a[g]\ge c\langle v\rangle^{-3}`:

.. math::

    \frac{d}{dt}\mathrm{KL}\le -\frac c2\int f\langle v\rangle^{-3}|\Phi|^2
    + \frac{C^2}{c}\Big[(16\pi\mathsf M+4)\,I_3(f) + 16\big((12\pi)^{3/2}\mathsf M+\sqrt{4\pi/5}\big)
      \|\langle v\rangle^3f\|_{L^2}\Big]\mathrm{KL}(f\Vert g),

where :math:`c` includes the factor :math:`C` (for :math:`C=1` this is math.md §4 (3.52)–(3.53)). See
:func:`lemma33_coefficients`, :func:`lemma33_rate`. Grönwall (Theorem 4.1): :func:`kl_gronwall_bound`,
:func:`polynomial_envelope`, :func:`polynomial_gronwall_bound`.

**4. Estimators** of :math:`I_k`, :math:`M_k`, :math:`\|\langle v\rangle^kf\|_{L^p}` and KL from a quadrature
(nodes with weights), from particles (:func:`weighted_fisher_particles`), and the particle KL estimators
:func:`kde_kl_estimate` and :func:`gaussian_fit_kl` (both biased; see their docstrings).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from .._checks import (check_choice, check_finite_float, check_particles, check_positive, check_real,
                      check_same_device_dtype)
from ..radial import RadialGrid, radial_collision_coefficients
from .coercivity import radial_coercivity_constant
from .divergences import gaussian_kl

if TYPE_CHECKING:  # pragma: no cover
    from .grid import Grid

__all__ = [
    "radial_key_terms",
    # weights, quadrature estimators
    "japanese_bracket",
    "weighted_fisher_information",
    "weighted_moment_quadrature",
    "weighted_lp_norm",
    "entropy_quadrature",
    "kl_quadrature",
    "kl_rate_quadrature",
    "weighted_fisher_particles",
    "kde_kl_estimate",
    "gaussian_fit_kl",
    # functional inequalities
    "SOBOLEV_3D",
    "l3_bound_from_fisher",
    "hessian_sup_on_balls",
    # Gaussians under linear fields
    "gaussian_linear_flow",
    "gaussian_kl_rate",
    # Lemma 3.3 on a 3-D grid
    "coercivity_constant_on_grid",
    "key_terms_on_grid",
    "divergence_on_grid_spectral",
    "kl_rate_divergence_form_on_grid",
    # constants and Grönwall
    "lemma33_coefficients",
    "lemma33_rate",
    "kl_gronwall_bound",
    "polynomial_envelope",
    "polynomial_gronwall_bound",
]


# ----------------------------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------------------------

def _check_positive_pair_on_grid(f: object, g: object, grid: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate two positive densities given at the points of a :class:`landau_lite.analysis.grid.Grid`."""
    from .grid import Grid

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



def _like(value: object, ref: torch.Tensor) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.to(dtype=ref.dtype, device=ref.device)
    return torch.as_tensor(value, dtype=ref.dtype, device=ref.device)


def japanese_bracket(r: torch.Tensor) -> torch.Tensor:
    r"""The weight :math:`\langle v\rangle = (1+|v|^2)^{1/2}` from radii :math:`r=|v|` (any shape) or points ``(M, d)``.

    A 1-D tensor is read as radii; a 2-D tensor as points (the norm is taken over the last axis).

    Example:
        >>> japanese_bracket(torch.tensor([0.0, 1.0], dtype=torch.float64)).tolist()
        [1.0, 1.4142135623730951]
    """
    r = check_finite_float(r, "r")
    r2 = (r * r).sum(-1) if r.ndim == 2 else r * r
    return torch.sqrt(1.0 + r2)


def _radii(r: torch.Tensor, name: str = "r") -> torch.Tensor:
    r = check_finite_float(r, name)
    if r.ndim == 2:
        return torch.linalg.vector_norm(r, dim=1)
    if r.ndim != 1:
        raise ValueError(f"{name} must be radii (M,) or points (M, d), got shape {tuple(r.shape)}")
    if bool((r < 0).any()):
        raise ValueError(f"{name} must be >= 0 (radii)")
    return r


def _check_quadrature(f: object, r: object, w: object) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    f = check_finite_float(f, "f")
    if f.ndim != 1:
        raise ValueError(f"f must have shape (M,), got {tuple(f.shape)}")
    rr = _radii(r)
    if rr.shape[0] != f.shape[0]:
        raise ValueError(f"r must hold M = {f.shape[0]} nodes like f, got {rr.shape[0]}")
    check_same_device_dtype(f, rr, "f", "r")
    if isinstance(w, (int, float)) and not isinstance(w, bool):
        w = torch.full_like(f, check_positive(w, "w"))
    w = check_finite_float(w, "w")
    if w.ndim == 0:
        w = w.expand_as(f)
    if w.shape != f.shape:
        raise ValueError(f"w must have shape {tuple(f.shape)} (one weight per node) or be a scalar, got {tuple(w.shape)}")
    check_same_device_dtype(f, w, "f", "w")
    if bool((w < 0).any()):
        raise ValueError("w must be >= 0 (quadrature weights)")
    return f, rr, w


def _sq_norm(s: torch.Tensor, m: int, name: str) -> torch.Tensor:
    s = check_finite_float(s, name)
    if s.ndim == 1 and s.shape[0] == m:
        return s * s
    if s.ndim == 2 and s.shape[0] == m:
        return (s * s).sum(1)
    raise ValueError(f"{name} must have shape ({m},) (radial component) or ({m}, d), got {tuple(s.shape)}")


# ----------------------------------------------------------------------------------------------
# quadrature estimators
# ----------------------------------------------------------------------------------------------

def weighted_fisher_information(f: torch.Tensor, score: torch.Tensor, r: torch.Tensor, w: torch.Tensor | float,
                                k: float = 0.0) -> torch.Tensor:
    r"""Weighted Fisher information :math:`I_k(f) = \int f\langle v\rangle^k|\nabla\log f|^2\,dv` from a quadrature.

    .. math:: I_k(f) \approx \sum_i w_i\, f(v_i)\,\langle v_i\rangle^k\,|s(v_i)|^2 ,

    where :math:`\int F\,dv\approx\sum_i w_iF(v_i)` (a 3-D grid: :math:`w_i=\Delta^3`; a radial rule from
    :func:`landau_lite.analysis.divergences.radial_quadrature` or :meth:`landau_lite.radial.RadialGrid.quadrature`: :math:`w_i`
    includes :math:`4\pi r_i^2`).

    Args:
        f: density values ``(M,)``.
        score: :math:`\nabla\log f` at the nodes, ``(M, d)``, or its radial component ``(M,)`` for radial :math:`f`.
        r: radii :math:`|v_i|` ``(M,)`` or points ``(M, d)``.
        w: weights ``(M,)`` or one number.
        k: weight exponent (any real).

    Returns:
        0-dim tensor, dtype/device of ``f``.

    Example (:math:`N(0,I)` in 3-D: :math:`I_0 = 3`, :math:`I_2 = E[(1+|v|^2)|v|^2] = 18`):
        >>> q = radial_quadrature(3, 12.0, panels=64, order=16)
        >>> r, w = q.points[:, 0], q.weights
        >>> f = (2 * math.pi) ** -1.5 * torch.exp(-r * r / 2)
        >>> [round(float(weighted_fisher_information(f, -r, r, w, k)), 8) for k in (0, 2)]
        [3.0, 18.0]
    """
    f, rr, w = _check_quadrature(f, r, w)
    k = check_real(k, "k")
    s2 = _sq_norm(score, f.shape[0], "score")
    return (w * f * (1.0 + rr * rr).pow(0.5 * k) * s2).sum()


def weighted_moment_quadrature(f: torch.Tensor, r: torch.Tensor, w: torch.Tensor | float, k: float) -> torch.Tensor:
    r"""Weighted moment :math:`M_k(f) = \int f\langle v\rangle^k\,dv\approx\sum_i w_if_i\langle v_i\rangle^k` (0-dim tensor).

    Example:
        >>> q = radial_quadrature(3, 12.0, panels=64, order=16)
        >>> r, w = q.points[:, 0], q.weights
        >>> f = (2 * math.pi) ** -1.5 * torch.exp(-r * r / 2)
        >>> round(float(weighted_moment_quadrature(f, r, w, 2.0)), 10)     # 1 + E|v|^2 = 4
        4.0
    """
    f, rr, w = _check_quadrature(f, r, w)
    k = check_real(k, "k")
    return (w * f * (1.0 + rr * rr).pow(0.5 * k)).sum()


def weighted_lp_norm(f: torch.Tensor, r: torch.Tensor, w: torch.Tensor | float, k: float = 3.0,
                     p: float = 2.0) -> torch.Tensor:
    r"""Weighted norm :math:`\|\langle v\rangle^kf\|_{L^p} = \big(\int\langle v\rangle^{kp}|f|^p\big)^{1/p}` (``p = inf``: the max).

    With :math:`k=3`, :math:`p=2` this is the quantity :math:`\|\langle v\rangle^3f\|_{L^2}` of Lemma 3.2 and Lemma 3.3(d).

    Example (:math:`\|f\|_{L^2}^2 = (4\pi)^{-3/2}` for :math:`N(0,I)`):
        >>> q = radial_quadrature(3, 12.0, panels=64, order=16)
        >>> r, w = q.points[:, 0], q.weights
        >>> f = (2 * math.pi) ** -1.5 * torch.exp(-r * r / 2)
        >>> round(float(weighted_lp_norm(f, r, w, k=0.0, p=2.0)) ** 2 * (4 * math.pi) ** 1.5, 10)
        1.0
    """
    f, rr, w = _check_quadrature(f, r, w)
    k = check_real(k, "k")
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"p must be a real number in [1, inf], got {type(p).__name__}")
    g = f.abs() * (1.0 + rr * rr).pow(0.5 * k)
    if p == math.inf:
        return g.max()
    p = check_real(p, "p", lo=1.0)
    return (w * g.pow(p)).sum().pow(1.0 / p)


def entropy_quadrature(f: torch.Tensor, w: torch.Tensor | float) -> torch.Tensor:
    r"""Boltzmann entropy :math:`H(f)=\int f\log f\approx\sum_i w_if_i\log f_i` (with :math:`0\log0=0`).

    Example (:math:`H(N(0,I)) = -\tfrac32\log(2\pi e)`):
        >>> q = radial_quadrature(3, 12.0, panels=64, order=16)
        >>> r, w = q.points[:, 0], q.weights
        >>> f = (2 * math.pi) ** -1.5 * torch.exp(-r * r / 2)
        >>> round(float(entropy_quadrature(f, w)) + 1.5 * math.log(2 * math.pi * math.e), 10)
        0.0
    """
    f = check_finite_float(f, "f")
    f, _, w = _check_quadrature(f, torch.zeros_like(f), w)
    if bool((f < 0).any()):
        raise ValueError("f must be >= 0 (a density)")
    safe = torch.where(f > 0, f, torch.ones_like(f))
    return (w * torch.where(f > 0, f * torch.log(safe), torch.zeros_like(f))).sum()


def kl_quadrature(f: torch.Tensor, g: torch.Tensor, w: torch.Tensor | float, *,
                  nonnegative: bool = False) -> torch.Tensor:
    r"""Relative entropy :math:`\mathrm{KL}(f\Vert g)=\int f\log\frac fg\approx\sum_iw_if_i\log\frac{f_i}{g_i}`.

    Points with :math:`f_i=0` contribute 0. Raises ``ValueError`` if :math:`g_i=0<f_i` (infinite divergence).

    With ``nonnegative=True`` the integrand is :math:`f\log\frac fg-f+g\ \ge0` instead, whose integral is the same
    for two densities of equal mass. Every term is then nonnegative, so there is no cancellation: use it when
    :math:`f\approx g` and KL is tiny (the plain sum loses digits like :math:`10^{-16}/\mathrm{KL}^{1/2}`).

    Example (:math:`\mathrm{KL}(N(0,I)\Vert N(0,2I)) = \tfrac32(\log2-\tfrac12)`):
        >>> q = radial_quadrature(3, 16.0, panels=64, order=16)
        >>> r, w = q.points[:, 0], q.weights
        >>> f = (2 * math.pi) ** -1.5 * torch.exp(-r * r / 2)
        >>> g = (4 * math.pi) ** -1.5 * torch.exp(-r * r / 4)
        >>> round(float(kl_quadrature(f, g, w)) - 1.5 * (math.log(2) - 0.5), 10)
        0.0
        >>> round(float(kl_quadrature(f, g, w, nonnegative=True)) - 1.5 * (math.log(2) - 0.5), 10)
        0.0
    """
    f = check_finite_float(f, "f")
    f, _, w = _check_quadrature(f, torch.zeros_like(f), w)
    g = check_finite_float(g, "g")
    if g.shape != f.shape:
        raise ValueError(f"g must have the shape of f {tuple(f.shape)}, got {tuple(g.shape)}")
    check_same_device_dtype(f, g, "f", "g")
    if not isinstance(nonnegative, bool):
        raise TypeError("nonnegative must be a bool")
    if bool((f < 0).any()) or bool((g < 0).any()):
        raise ValueError("f and g must be >= 0 (densities)")
    pos = f > 0
    if bool((pos & (g <= 0)).any()):
        raise ValueError("g must be > 0 wherever f > 0 (otherwise KL(f||g) = +inf)")
    one = torch.ones_like(f)
    fs, gs = torch.where(pos, f, one), torch.where(pos, g, one)
    if nonnegative:
        # f log(f/g) - f + g = g * phi(x), x = f/g - 1, phi(x) = (1+x) log1p(x) - x >= 0: log1p keeps x ~ 0 accurate;
        # far from x = 0 (where there is no cancellation) the direct form avoids 0 * log(0)
        x = fs / gs - 1.0
        near = x.abs() < 0.5
        xs = torch.where(near, x, torch.zeros_like(x))
        series = gs * ((1.0 + xs) * torch.log1p(xs) - xs)
        direct = fs * (torch.log(fs) - torch.log(gs)) - fs + gs
        term = torch.where(pos, torch.where(near, series, direct), g)
        return (w * term).sum()
    return (w * torch.where(pos, fs * (torch.log(fs) - torch.log(gs)), torch.zeros_like(f))).sum()


def kl_rate_quadrature(f: torch.Tensor, u_f: torch.Tensor, u_g: torch.Tensor, phi: torch.Tensor,
                       w: torch.Tensor | float) -> torch.Tensor:
    r"""Right-hand side of the KL identity, :math:`\int f\,(u_f-u_g)\cdot\Phi` with :math:`\Phi=\nabla\log(f/g)`, from a quadrature.

    .. math:: \frac{d}{dt}\mathrm{KL}(f\Vert g) = \int f\,(u_f-u_g)\cdot\nabla\log\frac fg \approx \sum_i w_if_i\,(u_f-u_g)_i\cdot\Phi_i .

    ``u_f``, ``u_g``, ``phi``: ``(M, d)`` vectors, or ``(M,)`` radial components for radial data.

    Example (a Gaussian pushed by :math:`u_f = v`, :math:`g = f` fixed: :math:`\Phi = 0`, rate 0):
        >>> q = radial_quadrature(3, 10.0, panels=32, order=16)
        >>> r, w = q.points[:, 0], q.weights
        >>> f = (2 * math.pi) ** -1.5 * torch.exp(-r * r / 2)
        >>> float(kl_rate_quadrature(f, r, 0 * r, 0 * r, w))
        0.0
    """
    f = check_finite_float(f, "f")
    f, _, w = _check_quadrature(f, torch.zeros_like(f), w)
    m = f.shape[0]
    du = check_finite_float(u_f, "u_f") - check_finite_float(u_g, "u_g")
    phi = check_finite_float(phi, "phi")
    if du.shape != phi.shape or du.shape[0] != m or du.ndim not in (1, 2):
        raise ValueError(f"u_f, u_g and phi must all have shape ({m},) or ({m}, d); got {tuple(u_f.shape)}, "
                         f"{tuple(u_g.shape)}, {tuple(phi.shape)}")
    dot = du * phi if du.ndim == 1 else (du * phi).sum(1)
    return (w * f * dot).sum()


def weighted_fisher_particles(x: torch.Tensor, s: torch.Tensor, k: float = 0.0) -> torch.Tensor:
    r"""Monte-Carlo estimate :math:`\hat I_k = \frac1N\sum_i\langle X_i\rangle^k|s(X_i)|^2` of :math:`I_k(f)` for :math:`X_i\sim f`.

    Unbiased when ``s`` is the exact score :math:`\nabla\log f` and the :math:`X_i` are i.i.d. from :math:`f`
    (standard error :math:`\approx\mathrm{sd}(\langle X\rangle^k|s|^2)/\sqrt N`). With an *estimated* score (blob, neural)
    the error of the score enters squared: a smoothed score (blob) underestimates :math:`I_k`.

    Example:
        >>> x = torch.randn(200_000, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        >>> round(float(weighted_fisher_particles(x, -x, 0.0)), 1)     # I(N(0, I)) = 3
        3.0
    """
    x = check_particles(x, "x", min_n=1)
    s = check_finite_float(s, "s")
    if s.shape != x.shape:
        raise ValueError(f"s must have the shape of x {tuple(x.shape)}, got {tuple(s.shape)}")
    check_same_device_dtype(x, s, "x", "s")
    k = check_real(k, "k")
    return ((1.0 + (x * x).sum(1)).pow(0.5 * k) * (s * s).sum(1)).mean()


def kde_kl_estimate(x_f: torch.Tensor, x_g: torch.Tensor, *, bandwidth: float | str = "scott",
                    leave_one_out: bool = True) -> torch.Tensor:
    r"""Plug-in estimate of :math:`\mathrm{KL}(f\Vert g)` from samples :math:`X_i\sim f`, :math:`Y_j\sim g` with Gaussian KDEs.

    .. math::

        \widehat{\mathrm{KL}} = \frac1N\sum_{i=1}^N\log\frac{\hat f_{-i}(X_i)}{\hat g(X_i)},\qquad
        \hat f_{-i}(x) = \frac1{N-1}\sum_{l\ne i}\phi_H(x-X_l),\quad \hat g(x) = \frac1{N'}\sum_j\phi_H(x-Y_j),

    with one bandwidth matrix :math:`H` for both (Scott's rule on the pooled sample by default, or
    :math:`H=h^2I` for a number ``h``). **Biased**, in both directions: smoothing both densities with the same
    kernel lowers the divergence (data processing: :math:`\mathrm{KL}(f*\phi_H\Vert g*\phi_H)\le\mathrm{KL}(f\Vert g)`),
    while the sampling noise of :math:`\hat f,\hat g` adds a positive bias of order :math:`1/(N\det H^{1/2})`; for
    small true KL the noise dominates (a perturbation below the noise level is invisible).

    Example (two samples of the same law: the estimate is near 0, not exactly 0):
        >>> gen = torch.Generator().manual_seed(0)
        >>> x, y = (torch.randn(2000, 3, generator=gen, dtype=torch.float64) for _ in range(2))
        >>> abs(float(kde_kl_estimate(x, y))) < 0.05
        True
    """
    from ..diagnostics import kde_bandwidth, kde_density

    x_f = check_particles(x_f, "x_f")
    x_g = check_particles(x_g, "x_g")
    if x_g.shape[1] != x_f.shape[1]:
        raise ValueError(f"x_g must have d = {x_f.shape[1]} columns like x_f, got {x_g.shape[1]}")
    check_same_device_dtype(x_f, x_g, "x_f", "x_g")
    if not isinstance(leave_one_out, bool):
        raise TypeError("leave_one_out must be a bool")
    n, d = x_f.shape
    if isinstance(bandwidth, str):
        H = kde_bandwidth(torch.cat([x_f, x_g]), check_choice(bandwidth, "bandwidth", ("scott", "silverman")))
    else:
        h = check_positive(bandwidth, "bandwidth")
        H = h * h * torch.eye(d, dtype=x_f.dtype, device=x_f.device)
    f_hat = kde_density(x_f, x_f, bandwidth=H)
    if leave_one_out:
        L = torch.linalg.cholesky(H)
        self_term = math.exp(-0.5 * d * math.log(2 * math.pi)) / float(torch.diagonal(L).prod())
        f_hat = (f_hat * n - self_term) / (n - 1)
    g_hat = kde_density(x_g, x_f, bandwidth=H)
    tiny = torch.finfo(x_f.dtype).tiny
    return (torch.log(f_hat.clamp_min(tiny)) - torch.log(g_hat.clamp_min(tiny))).mean()


def gaussian_fit_kl(x_f: torch.Tensor, x_g: torch.Tensor) -> torch.Tensor:
    r"""KL between the Gaussians fitted to two samples, :math:`\mathrm{KL}(N(\hat m_f,\hat\Sigma_f)\Vert N(\hat m_g,\hat\Sigma_g))`.

    Sees only means and covariances: it is **not** an estimate of :math:`\mathrm{KL}(f\Vert g)` unless both are
    Gaussian, and it is blind to perturbations that keep the first two moments (e.g. two BKW solutions with
    the same energy: the fitted KL is pure sampling noise). Lower bound? No: neither a lower nor an upper
    bound in general.

    Example:
        >>> gen = torch.Generator().manual_seed(1)
        >>> x = torch.randn(50_000, 2, generator=gen, dtype=torch.float64)
        >>> round(float(gaussian_fit_kl(x, 2 * x)), 2)     # KL(N(0,I) || N(0,4I)) = log 4 - 3/4 = 0.64
        0.64
    """
    x_f = check_particles(x_f, "x_f")
    x_g = check_particles(x_g, "x_g")
    if x_g.shape[1] != x_f.shape[1]:
        raise ValueError(f"x_g must have d = {x_f.shape[1]} columns like x_f, got {x_g.shape[1]}")
    check_same_device_dtype(x_f, x_g, "x_f", "x_g")
    return gaussian_kl(x_f.mean(0), torch.cov(x_f.T), x_g.mean(0), torch.cov(x_g.T))


# ----------------------------------------------------------------------------------------------
# functional inequalities
# ----------------------------------------------------------------------------------------------

#: Sharp Sobolev constant :math:`S_3` of :math:`\|u\|_{L^6(\mathbb R^3)}\le S_3\|\nabla u\|_{L^2}` (Aubin–Talenti):
#: :math:`S_3^2 = \frac{4}{3\,(2\pi^2)^{2/3}}` (:math:`2\pi^2 = |\mathbb S^3|`).
SOBOLEV_3D: float = math.sqrt(4.0 / (3.0 * (2.0 * math.pi ** 2) ** (2.0 / 3.0)))


def l3_bound_from_fisher(fisher: torch.Tensor | float) -> torch.Tensor | float:
    r"""Bound on :math:`\|f\|_{L^3(\mathbb R^3)}` by the Fisher information: :math:`\|f\|_{L^3}\le\frac{S_3^2}{4}\,I(f)`.

    Apply Sobolev to :math:`u=\sqrt f`: :math:`\|f\|_{L^3}=\|\sqrt f\|_{L^6}^2\le S_3^2\|\nabla\sqrt f\|_{L^2}^2 = S_3^2I(f)/4`.
    Since :math:`I(f_t)` does not increase along Landau flows (Guillen–Silvestre), this gives
    :math:`\sup_t\|f_t\|_{L^3}\le S_3^2I(f_0)/4` (math.md §1.4, Lemma 2.1).

    Example:
        >>> round(l3_bound_from_fisher(3.0), 4)      # N(0, I): ||f||_3 = 1/(2 pi sqrt 3) = 0.0919
        0.1369
    """
    if isinstance(fisher, torch.Tensor):
        fisher = check_finite_float(fisher, "fisher")
        if bool((fisher < 0).any()):
            raise ValueError("fisher must be >= 0")
        return fisher * (SOBOLEV_3D ** 2 / 4.0)
    return check_real(fisher, "fisher", lo=0.0) * SOBOLEV_3D ** 2 / 4.0


def hessian_sup_on_balls(r: torch.Tensor, d1: torch.Tensor, d2: torch.Tensor, radius: float = 1.0) -> torch.Tensor:
    r"""For a radial :math:`f(v)=\varphi(|v|)` in 3-D: :math:`S(v)=\sup_{B(v,\rho)}\|D^2f\|` at every node :math:`|v|=r_i`.

    The Hessian of a radial function has eigenvalues :math:`\varphi''(r)` (along :math:`\hat v`) and
    :math:`\varphi'(r)/r` (twice, across), and the ball :math:`B(v,\rho)` meets exactly the radii
    :math:`[\max(0,|v|-\rho),|v|+\rho]`, so

    .. math:: S(v) = \max_{\max(0,|v|-\rho)\le s\le|v|+\rho}\ \max\big(|\varphi''(s)|,\,|\varphi'(s)/s|\big),

    taken over the nodes of the uniform grid ``r`` (a sliding-window maximum). This is the quantity of the
    pointwise inequality behind Theorem 3.1 (math.md §4, our self-contained version of (3.3)):

    .. math:: \frac{|\nabla f(v)|^2}{f(v)} \le 2\,S(v) + 4f(v)\qquad(\rho=1).

    Args:
        r: uniform nodes :math:`0\le r_0<r_1<\dots` ``(M,)``; near the end of the grid the window is cut at
            :math:`r_{M-1}` (so use the result only for :math:`r_i\le r_{M-1}-\rho`).
        d1, d2: :math:`\varphi'` and :math:`\varphi''` at the nodes. At :math:`r=0`, :math:`\varphi'/r` is taken as :math:`\varphi''`.
        radius: :math:`\rho>0`.

    Returns:
        ``(M,)``, dtype/device of ``r``.

    Example (:math:`\varphi = e^{-r^2/2}`: :math:`\|D^2f\|\le1`, attained at 0):
        >>> r = torch.linspace(0, 6, 601, dtype=torch.float64)
        >>> S = hessian_sup_on_balls(r, -r * torch.exp(-r * r / 2), (r * r - 1) * torch.exp(-r * r / 2))
        >>> float(S[0]), float(S[100])
        (1.0, 1.0)
    """
    r = check_finite_float(r, "r")
    if r.ndim != 1 or r.shape[0] < 2:
        raise ValueError(f"r must be a 1-D grid with at least 2 nodes, got shape {tuple(r.shape)}")
    if bool((r < 0).any()):
        raise ValueError("r must be >= 0")
    dr = r[1:] - r[:-1]
    h = float(dr.mean())
    if h <= 0 or float((dr - h).abs().max()) > 1e-9 * max(1.0, float(r[-1])):
        raise ValueError("r must be uniformly spaced and increasing")
    d1 = check_finite_float(d1, "d1")
    d2 = check_finite_float(d2, "d2")
    if d1.shape != r.shape or d2.shape != r.shape:
        raise ValueError(f"d1 and d2 must have the shape of r {tuple(r.shape)}")
    rho = check_positive(radius, "radius")
    safe = torch.where(r > 0, r, torch.ones_like(r))
    across = torch.where(r > 0, d1 / safe, d2)
    H = torch.maximum(d2.abs(), across.abs())
    m = int(round(rho / h))
    if m == 0:
        return H
    m = min(m, r.shape[0] - 1)
    # sliding max over [i-m, i+m] (clipped to the grid): pad with -inf
    pad = torch.full((m,), -math.inf, dtype=H.dtype, device=H.device)
    Hp = torch.cat([pad, H, pad])
    return Hp.unfold(0, 2 * m + 1, 1).amax(dim=1)


# ----------------------------------------------------------------------------------------------
# Gaussians moved by linear velocity fields
# ----------------------------------------------------------------------------------------------

def _check_mean_cov(m: object, S: object, nm: str, nS: str, d: int | None = None,
                    like: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    S = check_finite_float(S, nS)
    if S.ndim != 2 or S.shape[0] != S.shape[1]:
        raise ValueError(f"{nS} must be a square (d, d) matrix, got shape {tuple(S.shape)}")
    if d is not None and S.shape[0] != d:
        raise ValueError(f"{nS} must be ({d}, {d}), got {tuple(S.shape)}")
    m = check_finite_float(m, nm)
    if m.shape != (S.shape[0],):
        raise ValueError(f"{nm} must have shape ({S.shape[0]},), got {tuple(m.shape)}")
    check_same_device_dtype(S, m, nS, nm)
    if like is not None:
        check_same_device_dtype(like, S, "the first covariance", nS)
    Sd = S.detach()
    if float((Sd - Sd.T).abs().max()) > 1e-10 * max(1.0, float(Sd.abs().max())):
        raise ValueError(f"{nS} must be symmetric")
    if float(torch.linalg.eigvalsh(0.5 * (Sd + Sd.T)).min()) <= 0:
        raise ValueError(f"{nS} must be positive definite")
    return m, S


def gaussian_linear_flow(mean0: torch.Tensor, cov0: torch.Tensor, B: torch.Tensor, c: torch.Tensor,
                         t: float) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Exact transport of :math:`N(m_0,\Sigma_0)` by the linear field :math:`u(v)=Bv+c` for a time :math:`t`.

    The continuity equation :math:`\partial_tf+\nabla\cdot(f\,u)=0` moves particles by :math:`\dot X=BX+c`, so
    Gaussians stay Gaussian with

    .. math::

        \dot m = Bm + c,\quad \dot\Sigma = B\Sigma+\Sigma B^T
        \quad\Longrightarrow\quad
        \Sigma(t) = e^{tB}\Sigma_0e^{tB^T},\quad m(t) = e^{tB}m_0 + \int_0^te^{sB}ds\,c ,

    computed with one matrix exponential of the augmented matrix :math:`\begin{pmatrix}B&c\\0&0\end{pmatrix}`.

    Returns:
        ``(mean_t, cov_t)``, dtype/device of ``cov0``.

    Example:
        >>> I = torch.eye(2, dtype=torch.float64); z = torch.zeros(2, dtype=torch.float64)
        >>> m, S = gaussian_linear_flow(z, I, -I, torch.ones(2, dtype=torch.float64), 1.0)
        >>> round(float(S[0, 0]), 6), round(float(m[0]), 6)        # e^{-2}, 1 - e^{-1}
        (0.135335, 0.632121)
    """
    mean0, cov0 = _check_mean_cov(mean0, cov0, "mean0", "cov0")
    d = cov0.shape[0]
    B = check_finite_float(B, "B")
    c = check_finite_float(c, "c")
    if B.shape != (d, d):
        raise ValueError(f"B must have shape ({d}, {d}), got {tuple(B.shape)}")
    if c.shape != (d,):
        raise ValueError(f"c must have shape ({d},), got {tuple(c.shape)}")
    check_same_device_dtype(cov0, B, "cov0", "B")
    check_same_device_dtype(cov0, c, "cov0", "c")
    t = check_real(t, "t")
    aug = torch.zeros(d + 1, d + 1, dtype=cov0.dtype, device=cov0.device)
    aug[:d, :d] = B
    aug[:d, d] = c
    E = torch.linalg.matrix_exp(t * aug)
    eB = E[:d, :d]
    return eB @ mean0 + E[:d, d], eB @ cov0 @ eB.T


def gaussian_kl_rate(mean_f: torch.Tensor, cov_f: torch.Tensor, B_f: torch.Tensor, c_f: torch.Tensor,
                     mean_g: torch.Tensor, cov_g: torch.Tensor, B_g: torch.Tensor, c_g: torch.Tensor) -> torch.Tensor:
    r"""Closed form of :math:`\int f\,(u_f-u_g)\cdot\nabla\log\frac fg` for :math:`f=N(m_f,\Sigma_f)`, :math:`g=N(m_g,\Sigma_g)`, :math:`u=Bv+c`.

    With :math:`D=B_f-B_g`, :math:`e=c_f-c_g`, :math:`\Phi(v)=Pv+q`, :math:`P=\Sigma_g^{-1}-\Sigma_f^{-1}`,
    :math:`q=\Sigma_f^{-1}m_f-\Sigma_g^{-1}m_g`, and :math:`E_f[vv^T]=\Sigma_f+m_fm_f^T`:

    .. math::

        \int f\,(Dv+e)\cdot(Pv+q) = \operatorname{tr}\big(D^TP(\Sigma_f+m_fm_f^T)\big) + m_f^TD^Tq + e^TPm_f + e^Tq .

    By the KL identity (Lemma 3.3(a)) this equals :math:`\frac{d}{dt}\mathrm{KL}(f_t\Vert g_t)` when
    :math:`f_t, g_t` are moved by the two fields (:func:`gaussian_linear_flow`).

    Example (the same field moves both densities: KL is invariant under the common flow map, rate 0):
        >>> I = torch.eye(2, dtype=torch.float64); z = torch.zeros(2, dtype=torch.float64)
        >>> float(gaussian_kl_rate(z, I, I, z, z, 2 * I, I, z))
        0.0
    """
    mean_f, cov_f = _check_mean_cov(mean_f, cov_f, "mean_f", "cov_f")
    d = cov_f.shape[0]
    mean_g, cov_g = _check_mean_cov(mean_g, cov_g, "mean_g", "cov_g", d=d, like=cov_f)
    mats = {}
    for name, val, shape in (("B_f", B_f, (d, d)), ("c_f", c_f, (d,)), ("B_g", B_g, (d, d)), ("c_g", c_g, (d,))):
        val = check_finite_float(val, name)
        if tuple(val.shape) != shape:
            raise ValueError(f"{name} must have shape {shape}, got {tuple(val.shape)}")
        check_same_device_dtype(cov_f, val, "cov_f", name)
        mats[name] = val
    D = mats["B_f"] - mats["B_g"]
    e = mats["c_f"] - mats["c_g"]
    Sf_inv = torch.linalg.inv(cov_f)
    Sg_inv = torch.linalg.inv(cov_g)
    P = Sg_inv - Sf_inv
    q = Sf_inv @ mean_f - Sg_inv @ mean_g
    second = cov_f + torch.outer(mean_f, mean_f)
    return torch.trace(D.T @ P @ second) + mean_f @ (D.T @ q) + e @ (P @ mean_f) + e @ q


# ----------------------------------------------------------------------------------------------
# Lemma 3.3 on a 3-D grid
# ----------------------------------------------------------------------------------------------

def coercivity_constant_on_grid(a: torch.Tensor, points: torch.Tensor, *, gamma: float) -> torch.Tensor:
    r"""Grid estimate of the coercivity constant :math:`c=\inf_v\lambda_{\min}(\bar a(v))\,\langle v\rangle^{-\gamma}`.

    The minimum over the given points only (a lower bound needs the behaviour outside the box too: for
    Coulomb, :math:`\lambda_{\min}\langle v\rangle^3\to\operatorname{tr}\Sigma-\hat v\cdot\Sigma\hat v` as
    :math:`|v|\to\infty`, math.md §3.4, which can be below every grid value when :math:`T` is small).

    Args:
        a: symmetric matrices ``(M, d, d)`` (e.g. :func:`landau_lite.analysis.grid.collision_matrix_on_grid`).
        points: the points ``(M, d)``.
        gamma: kernel exponent (the weight is :math:`\langle v\rangle^{\gamma}`).

    Example:
        >>> v = torch.zeros(1, 3, dtype=torch.float64)
        >>> float(coercivity_constant_on_grid(torch.eye(3, dtype=torch.float64)[None], v, gamma=-3.0))
        1.0
    """
    a = check_finite_float(a, "a")
    points = check_finite_float(points, "points")
    if points.ndim != 2 or a.shape != (points.shape[0], points.shape[1], points.shape[1]):
        raise ValueError(f"a must have shape (M, d, d) and points (M, d); got {tuple(a.shape)} and {tuple(points.shape)}")
    check_same_device_dtype(a, points, "a", "points")
    gamma = check_real(gamma, "gamma")
    lam = torch.linalg.eigvalsh(a)[:, 0]
    return (lam * japanese_bracket(points).pow(-gamma)).min()


def _spectral_derivative(u: torch.Tensor, grid: "Grid", axis: int) -> torch.Tensor:
    n = grid.n
    k = torch.fft.fftfreq(n, d=grid.spacing, dtype=u.dtype, device=u.device) * (2.0 * math.pi)
    if n % 2 == 0:
        k[n // 2] = 0.0                      # the Nyquist mode has no odd derivative
    shape = [1] * grid.d
    shape[axis] = n
    U = torch.fft.fft(u, dim=axis)
    return torch.fft.ifft(U * (1j * k.reshape(shape)), dim=axis).real


def divergence_on_grid_spectral(F: torch.Tensor, grid: "Grid") -> torch.Tensor:
    r"""Divergence :math:`\nabla\cdot F` of a vector field on a :class:`~landau_lite.analysis.grid.Grid` by Fourier differentiation.

    .. math:: \partial_jF_j \approx \mathcal F^{-1}\big[i k_j\,\mathcal F F_j\big],\qquad k_j\in\tfrac{2\pi}{2L}\mathbb Z,

    exact (to round-off) for band-limited periodic fields and spectrally accurate for smooth fields that
    vanish at the border of the box (like :math:`fU[f]` for a density with Gaussian tails); *not* for fields
    that are non-negligible at the border.

    Args:
        F: ``(n**d, d)`` values at the grid points.
        grid: the :class:`~landau_lite.analysis.grid.Grid`.

    Returns:
        ``(n**d,)``, dtype/device of ``F``.

    Example:
        >>> from landau_lite.analysis.grid import Grid
        >>> g = Grid(d=2, L=8.0, n=64); v = g.points()
        >>> F = v * torch.exp(-(v * v).sum(1, keepdim=True) / 2)          # div = (2 - |v|^2) e^{-|v|^2/2}
        >>> ex = (2 - (v * v).sum(1)) * torch.exp(-(v * v).sum(1) / 2)
        >>> float((divergence_on_grid_spectral(F, g) - ex).abs().max()) < 1e-9
        True
    """
    from .grid import Grid

    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a landau_lite.analysis.grid.Grid, got {type(grid).__name__}")
    F = check_finite_float(F, "F")
    if F.shape != (grid.size, grid.d):
        raise ValueError(f"F must have shape ({grid.size}, {grid.d}), got {tuple(F.shape)}")
    out = torch.zeros(grid.shape, dtype=F.dtype, device=F.device)
    for j in range(grid.d):
        out = out + _spectral_derivative(F[:, j].reshape(grid.shape), grid, j)
    return out.reshape(-1)


def kl_rate_divergence_form_on_grid(f: torch.Tensor, g: torch.Tensor, flux_f: torch.Tensor, flux_g: torch.Tensor,
                                    grid: "Grid") -> torch.Tensor:
    r""":math:`\frac{d}{dt}\mathrm{KL}(f\Vert g)` computed from the equations themselves, **before** integrating by parts.

    With :math:`\partial_tf=-\nabla\cdot(fu_f)`, :math:`\partial_tg=-\nabla\cdot(gu_g)`:

    .. math::

        \frac{d}{dt}\mathrm{KL}(f\Vert g) = \int\partial_tf\Big(\log\frac fg+1\Big) - \int\frac fg\,\partial_tg
        = -\int\nabla\cdot(fu_f)\Big(\log\frac fg+1\Big) + \int\frac fg\,\nabla\cdot(gu_g),

    with the divergences by :func:`divergence_on_grid_spectral` and the midpoint rule. Comparing it with
    :math:`\int f(u_f-u_g)\cdot\nabla\log(f/g)` checks the integration by parts of Lemma 3.3(a) on the grid.

    Args:
        f, g: positive densities ``(n**d,)``; flux_f, flux_g: the fluxes :math:`fu_f`, :math:`gu_g`, ``(n**d, d)``.
        grid: the :class:`~landau_lite.analysis.grid.Grid`.

    Example (:math:`f=N(0,I)` pushed by :math:`u_f=-v`, :math:`g=N(0,2I)` fixed; then :math:`\frac{d}{dt}\mathrm{KL}=E_f[-v\cdot(-v+v/2)]=\frac32`):
        >>> from landau_lite.analysis.grid import Grid
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


def key_terms_on_grid(f: torch.Tensor, g: torch.Tensor, score_f: torch.Tensor, score_g: torch.Tensor, grid: "Grid", *,
                      gamma: float, C: float, fields: bool = False) -> dict[str, torch.Tensor]:
    r"""Every term of Lemma 3.3(b)–(c) for two densities on a 3-D (or 2-D) grid.

    With :math:`\Phi=s_f-s_g` (:math:`s=\nabla\log`), :math:`h=f-g`, :math:`R=\bar a[h]s_f-\bar b[h]`,
    :math:`U[f]=-\bar a[f]s_f+\bar b[f]` (all from :mod:`landau_lite.analysis.grid`, singular cells integrated exactly):

    ================  ==============================================================================
    key               value
    ================  ==============================================================================
    ``direct``        :math:`\int f\,(U[f]-U[g])\cdot\Phi` (velocities from ``landau_velocity_on_grid``)
    ``coercive``      :math:`-\int f\,\Phi\cdot\bar a[g]\Phi\ (\le0)`
    ``cross``         :math:`-\int f\,\Phi\cdot R`
    ``young``         :math:`\frac12\int f\,R\cdot\bar a[g]^{-1}R\ (\ge0)`
    ``bound_c``       :math:`\frac12\,\texttt{coercive} + \texttt{young}` (right side of Lemma 3.3(c))
    ``weighted_phi``  :math:`\int f\langle v\rangle^{\gamma}|\Phi|^2` (the coercive weight of (d))
    ``kl``            :math:`\mathrm{KL}(f\Vert g)`
    ``h_l1``,``h_l2`` :math:`\|f-g\|_{L^1}`, :math:`\|f-g\|_{L^2}`
    ``a_h_sup``       :math:`\max_v\|\bar a[h](v)\|_{op}` over the grid
    ``term_a``        :math:`\int f\langle v\rangle^{-\gamma}|\bar a[h]s_f|^2`
    ``term_b``        :math:`\int f\langle v\rangle^{-\gamma}|\bar b[h]|^2`
    ``b_h_l4``        :math:`\|\bar b[h]\|_{L^4}`
    ``fisher_w``      :math:`I_{-\gamma}(f)=\int f\langle v\rangle^{-\gamma}|s_f|^2`
    ``f_w_l2``        :math:`\|\langle v\rangle^{-\gamma}f\|_{L^2}`
    ``f_sup``,``g_sup`` grid maxima of :math:`f` and :math:`g`
    ================  ==============================================================================

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
        >>> from landau_lite.analysis.grid import Grid
        >>> G = Grid(d=3, L=6.0, n=24); v = G.points()
        >>> f = (2 * math.pi * 0.8) ** -1.5 * torch.exp(-(v * v).sum(1) / 1.6)
        >>> g = (2 * math.pi) ** -1.5 * torch.exp(-(v * v).sum(1) / 2)
        >>> t = key_terms_on_grid(f, g, -v / 0.8, -v, G, gamma=-3.0, C=1.0)
        >>> bool(abs(float(t["coercive"] + t["cross"])) < 0.01 * abs(float(t["coercive"])))
        True
    """
    from .grid import (collision_drift_on_grid, collision_matrix_on_grid, kl_on_grid, landau_velocity_on_grid,
                       lp_distance_on_grid)

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

    v = grid.points(dtype=f.dtype, device=f.device)
    wgt = japanese_bracket(v).pow(-gamma)                     # <v>^{-gamma} (= <v>^3 for Coulomb)
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
    integ = grid.integrate
    coercive = -integ(f * (phi * a_g_phi).sum(1))
    young = 0.5 * integ(f * (R * a_g_inv_R).sum(1))
    out = {
        "direct": integ(f * ((U_f - U_g) * phi).sum(1)),
        "coercive": coercive,
        "cross": -integ(f * (phi * R).sum(1)),
        "young": young,
        "bound_c": 0.5 * coercive + young,
        "weighted_phi": integ(f * (phi * phi).sum(1) / wgt),
        "kl": kl_on_grid(f, g, grid),
        "h_l1": lp_distance_on_grid(f, g, grid, 1),
        "h_l2": lp_distance_on_grid(f, g, grid, 2),
        "a_h_sup": torch.linalg.matrix_norm(a_h, ord=2).max(),
        "term_a": integ(f * wgt * (a_h_s * a_h_s).sum(1)),
        "term_b": integ(f * wgt * (b_h * b_h).sum(1)),
        "b_h_l4": integ((b_h * b_h).sum(1) ** 2) ** 0.25,
        "fisher_w": integ(f * wgt * (score_f * score_f).sum(1)),
        "f_w_l2": integ((wgt * f) ** 2).sqrt(),
        "f_sup": f.max(),
        "g_sup": g.max(),
    }
    if fields:
        out.update(coercive_density=f * (phi * a_g_phi).sum(1), cross_density=f * (phi * R).sum(1),
                   direct_density=f * ((U_f - U_g) * phi).sum(1), flux_f=f[:, None] * U_f, flux_g=g[:, None] * U_g)
    return out


# ----------------------------------------------------------------------------------------------
# constants of Lemma 3.3(d) and Grönwall
# ----------------------------------------------------------------------------------------------

def lemma33_coefficients(M: float | torch.Tensor) -> tuple[float | torch.Tensor, float | torch.Tensor]:
    r"""The two coefficients of Lemma 3.3(d) (Coulomb, :math:`C=1`; **our reconstruction**, math.md §4):

    .. math::

        k_a(\mathsf M) = 16\pi\mathsf M + 4,\qquad
        k_b(\mathsf M) = 16\big((12\pi)^{3/2}\mathsf M + \sqrt{4\pi/5}\big),\qquad \mathsf M=\max(\|f\|_\infty,\|g\|_\infty).

    Where they come from: :math:`\|A(z)\|\le|z|^{-1}` and the split :math:`|z|<1`/:math:`|z|\ge1` give
    :math:`\|\bar a[h]\|_\infty\le\sqrt{4\pi}\|h\|_2+\|h\|_1`, so
    :math:`\|\bar a[h]\|_\infty^2\le2(4\pi\|h\|_2^2+\|h\|_1^2)\le k_a\,\mathrm{KL}` by Pinsker
    (:math:`\|h\|_1^2\le2\mathrm{KL}`) and its :math:`L^2` version (:math:`\|h\|_2^2\le2\mathsf M\,\mathrm{KL}`). And
    :math:`|\bar b[h]|\le2|z|^{-2}*|h|`, Young's inequality with
    :math:`\||z|^{-2}1_{|z|<1}\|_{L^{4/3}}=(12\pi)^{3/4}`, :math:`\||z|^{-2}1_{|z|\ge1}\|_{L^4}=(4\pi/5)^{1/4}` gives
    :math:`\|\bar b[h]\|_{L^4}^2\le k_b\,\mathrm{KL}`.

    Example:
        >>> [round(x, 4) for x in lemma33_coefficients(0.0)]
        [4.0, 25.3653]
    """
    if isinstance(M, torch.Tensor):
        M = check_finite_float(M, "M")
        if bool((M < 0).any()):
            raise ValueError("M must be >= 0")
    else:
        M = check_real(M, "M", lo=0.0)
    k_a = 16.0 * math.pi * M + 4.0
    k_b = 16.0 * ((12.0 * math.pi) ** 1.5 * M + math.sqrt(4.0 * math.pi / 5.0))
    return k_a, k_b


def lemma33_rate(c: float | torch.Tensor, M: float | torch.Tensor, fisher3: float | torch.Tensor,
                 weighted_l2: float | torch.Tensor, *, C: float = 1.0) -> float | torch.Tensor:
    r"""Grönwall rate of Theorem 4.1 from Lemma 3.3(d) (Coulomb; **our reconstruction**):

    .. math::

        K = \frac{C^2}{c}\Big[(16\pi\mathsf M+4)\,I_3(f) + 16\big((12\pi)^{3/2}\mathsf M+\sqrt{4\pi/5}\big)\,
        \|\langle v\rangle^3 f\|_{L^2}\Big],\qquad \frac{d}{dt}\mathrm{KL}(f\Vert g)\le K\,\mathrm{KL}(f\Vert g),

    (after dropping the coercive term), where :math:`c` is the coercivity constant of :math:`\bar a[g] = C\,A*g`,
    i.e. :math:`\bar a[g]\ge c\langle v\rangle^{-3}` (it contains the factor :math:`C`). The kernel constants scale
    as :math:`\bar a[h],\bar b[h]\propto C`, hence :math:`C^2/c\propto C`: doubling :math:`C` doubles the rate, as
    rescaling time says it must.

    All arguments may be floats or tensors of the same shape (a rate per time).

    Example:
        >>> round(lemma33_rate(1.0, 0.0, 1.0, 0.0), 4)      # k_a(0) = 4
        4.0
    """
    C = check_positive(C, "C")
    vals = []
    for name, x in (("c", c), ("M", M), ("fisher3", fisher3), ("weighted_l2", weighted_l2)):
        if isinstance(x, torch.Tensor):
            x = check_finite_float(x, name)
            if bool((x < 0).any()) or (name == "c" and bool((x <= 0).any())):
                raise ValueError(f"{name} must be {'> 0' if name == 'c' else '>= 0'}")
        else:
            x = check_positive(x, name) if name == "c" else check_real(x, name, lo=0.0)
        vals.append(x)
    c, M, fisher3, weighted_l2 = vals
    k_a, k_b = lemma33_coefficients(M)
    return C * C / c * (k_a * fisher3 + k_b * weighted_l2)


def _check_series(times: object, values: object, nv: str) -> tuple[torch.Tensor, torch.Tensor]:
    t = check_finite_float(times, "times")
    v = check_finite_float(values, nv)
    if t.ndim != 1 or t.shape != v.shape or t.shape[0] < 2:
        raise ValueError(f"times and {nv} must be 1-D of the same length >= 2, got {tuple(t.shape)}, {tuple(v.shape)}")
    check_same_device_dtype(t, v, "times", nv)
    if bool((t[1:] <= t[:-1]).any()):
        raise ValueError("times must be strictly increasing")
    return t, v


def kl_gronwall_bound(times: torch.Tensor, kl0: float | torch.Tensor, rates: torch.Tensor, *,
                   log: bool = False) -> torch.Tensor:
    r"""Grönwall bound :math:`\mathrm{KL}_0\exp\big(\int_{t_0}^tK(\tau)\,d\tau\big)` at every time (trapezoidal rule).

    If :math:`\frac{d}{dt}\mathrm{KL}\le K(t)\,\mathrm{KL}` then :math:`\mathrm{KL}(t)\le\mathrm{KL}(t_0)e^{\int_{t_0}^tK}`. The integral
    of the sampled rate is the trapezoidal rule (use many samples; for a rigorous bound use an upper envelope
    such as :func:`polynomial_envelope`).

    Returns:
        ``(T,)``, dtype/device of ``times``: the bound, or with ``log=True`` its natural logarithm
        :math:`\log\mathrm{KL}_0+\int_{t_0}^tK` (use it when the exponent is huge: the bound itself overflows to ``inf``).

    Example:
        >>> t = torch.linspace(0, 1, 11, dtype=torch.float64)
        >>> round(float(kl_gronwall_bound(t, 2.0, torch.full_like(t, 3.0))[-1]), 6)   # 2 e^3
        40.171074
    """
    t, K = _check_series(times, rates, "rates")
    if isinstance(kl0, torch.Tensor):
        kl0 = float(check_finite_float(kl0, "kl0").reshape(()))
    kl0 = check_real(kl0, "kl0", lo=0.0)
    if not isinstance(log, bool):
        raise TypeError("log must be a bool")
    if log and kl0 == 0.0:
        raise ValueError("kl0 must be > 0 for log=True")
    dt = t[1:] - t[:-1]
    cum = torch.cat([torch.zeros(1, dtype=t.dtype, device=t.device), torch.cumsum(0.5 * dt * (K[1:] + K[:-1]), 0)])
    return math.log(kl0) + cum if log else kl0 * torch.exp(cum)


def polynomial_envelope(times: torch.Tensor, values: torch.Tensor, *, t0: float | None = None) -> tuple[float, float]:
    r"""Fit an upper envelope :math:`A(1+t-t_0)^{\alpha}\ge` ``values`` (the form of the bounds (2.2), (3.1), (3.12)).

    :math:`\alpha` is the least-squares slope of :math:`\log(\text{values})` against :math:`\log(1+t-t_0)`; then
    :math:`A=\max_i\text{values}_i/(1+t_i-t_0)^\alpha`, so the envelope touches the data at one point and lies
    above it everywhere else. The theorems only say that *some* :math:`A,\alpha` exist; this fit shows which ones a
    run needs (a negative :math:`\alpha` means the quantity decays).

    Returns:
        ``(A, alpha)`` as floats.

    Example:
        >>> t = torch.linspace(0, 9, 10, dtype=torch.float64)
        >>> A, a = polynomial_envelope(t, 2 * (1 + t) ** 0.5)
        >>> round(A, 6), round(a, 6)
        (2.0, 0.5)
    """
    t, v = _check_series(times, values, "values")
    if bool((v <= 0).any()):
        raise ValueError("values must be > 0")
    t0 = float(t[0]) if t0 is None else check_real(t0, "t0")
    if float(t[0]) < t0:
        raise ValueError(f"times must be >= t0 = {t0}")
    x = torch.log1p(t - t0).double().cpu()
    y = torch.log(v).double().cpu()
    xm = x - x.mean()
    denom = float((xm * xm).sum())
    alpha = float((xm * (y - y.mean())).sum()) / denom if denom > 0 else 0.0
    A = float(torch.exp(y - alpha * x).max())
    return A, alpha


def polynomial_gronwall_bound(times: torch.Tensor, kl0: float, A: float, alpha: float, *,
                              t0: float | None = None, log: bool = False) -> torch.Tensor:
    r"""Theorem 4.1's closed form: :math:`\mathrm{KL}_0\exp\big(A\,\frac{(1+t-t_0)^{\alpha+1}-1}{\alpha+1}\big)` (:math:`\log(1+t-t_0)` if :math:`\alpha=-1`).

    This is :math:`\mathrm{KL}_0\exp\int_{t_0}^tA(1+\tau-t_0)^\alpha d\tau`, the bound for a rate :math:`K(\tau)\le A(1+\tau-t_0)^\alpha`.
    With ``log=True`` the natural logarithm of the bound is returned (no overflow).

    Example:
        >>> t = torch.tensor([0.0, 1.0], dtype=torch.float64)
        >>> round(float(polynomial_gronwall_bound(t, 1.0, 2.0, 0.0)[1]), 6)      # e^2
        7.389056
    """
    t = check_finite_float(times, "times")
    if t.ndim != 1:
        raise ValueError("times must be 1-D")
    kl0 = check_real(kl0, "kl0", lo=0.0)
    A = check_real(A, "A", lo=0.0)
    alpha = check_real(alpha, "alpha")
    t0 = float(t[0]) if t0 is None else check_real(t0, "t0")
    s = 1.0 + (t - t0)
    if bool((s <= 0).any()):
        raise ValueError(f"times must be > t0 - 1 = {t0 - 1}")
    if not isinstance(log, bool):
        raise TypeError("log must be a bool")
    if log and kl0 == 0.0:
        raise ValueError("kl0 must be > 0 for log=True")
    if abs(alpha + 1.0) < 1e-12:
        integral = A * torch.log(s)
    else:
        integral = A * (s.pow(alpha + 1.0) - 1.0) / (alpha + 1.0)
    return math.log(kl0) + integral if log else kl0 * torch.exp(integral)


def radial_key_terms(f: torch.Tensor, g: torch.Tensor, grid: RadialGrid, *, gamma: float,
                     C: float) -> dict[str, torch.Tensor]:
    r"""The terms of Lemma 3.3(b)–(d) for two isotropic densities on a :class:`RadialGrid` (3-D).

    Every vector is radial, so :math:`\Phi\cdot\bar a[g]\Phi=\lambda_\parallel[g]\Phi_r^2` and
    :math:`R\cdot\bar a[g]^{-1}R=R_r^2/\lambda_\parallel[g]`, with :math:`\Phi_r=\partial_r\log(f/g)`,
    :math:`R_r=\lambda_\parallel[f-g]\,\partial_r\log f-b[f-g]` (coefficients are linear in the density) and
    :math:`U_r[f]=-\lambda_\parallel[f]\partial_r\log f+b[f]`. Keys as in :func:`landau_lite.analysis.stability.key_terms_on_grid`: ``direct``,
    ``coercive``, ``cross``, ``young``, ``bound_c``, ``weighted_phi``, ``kl``, plus ``fisher3``
    (:math:`I_{-\gamma}(f)`), ``f_w_l2`` (:math:`\|\langle v\rangle^{-\gamma}f\|_2`), ``f_sup``, ``g_sup`` and ``c``
    (:func:`radial_coercivity_constant` of :math:`g`). Scores by :meth:`RadialGrid.score`; integrals by the shell
    midpoint rule; ``kl`` in the nonnegative form :math:`\int(f\log\frac fg-f+g)` (equal to KL for equal masses,
    accurate for tiny values).

    Example (a Maxwellian against another temperature: both stationary, the rate is ~0):
        >>> from landau_lite.radial import RadialGrid
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
    lf, _, bf = radial_collision_coefficients(f, grid, gamma=gamma, C=C)
    lg, _, bg = radial_collision_coefficients(g, grid, gamma=gamma, C=C)
    sf, sg = grid.score(f), grid.score(g)
    phi = sf - sg
    U_f = -lf * sf + bf
    U_g = -lg * sg + bg
    R = (lf - lg) * sf - (bf - bg)
    r, V = grid.quadrature(dtype=f.dtype, device=f.device)
    wgt = (1.0 + r * r).pow(-0.5 * gamma)
    integ = lambda x: (V * x).sum()  # noqa: E731
    coercive = -integ(f * lg * phi * phi)
    young = 0.5 * integ(f * R * R / lg)
    return {
        "direct": integ(f * (U_f - U_g) * phi),
        "coercive": coercive,
        "cross": -integ(f * phi * R),
        "young": young,
        "bound_c": 0.5 * coercive + young,
        "weighted_phi": integ(f * phi * phi / wgt),
        "kl": kl_quadrature(f, g, V, nonnegative=True),
        "fisher3": integ(f * wgt * sf * sf),
        "f_w_l2": integ((wgt * f) ** 2).sqrt(),
        "f_sup": f.max(),
        "g_sup": g.max(),
        "c": radial_coercivity_constant(g, grid, gamma=gamma, C=C),
    }
