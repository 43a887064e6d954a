r"""Coercivity of the collision matrix :math:`\bar a[g] = A*g`: every coercivity constant of the book.

Lemma 2.2 of Ilin (2025) (after Proposition 2.1 of Alexandre, Liao and Lin (2015)): for a probability density
:math:`g` with finite energy and entropy there is :math:`c>0`, depending only on them, with

.. math::

    \bar a[g](v)\ \ge\ c\,\langle v\rangle^{\gamma}\,I,\qquad \langle v\rangle = (1+|v|^2)^{1/2},

and the sharp constant is :math:`c = \inf_v\lambda_{\min}(\bar a[g](v))\langle v\rangle^{-\gamma}`. For
:math:`\gamma=-3` the kernel is a Hessian, :math:`A(z) = C\,|z|^{-3}(|z|^2I-z\otimes z) = C\,D^2|z|` (any
:math:`d`), so :math:`\bar a[g] = C\,D^2(g*|\cdot|)`. This module evaluates :math:`\bar a[g]` to near machine
precision for two families of :math:`g`, independently of the erf/Bessel closed forms of
:mod:`landau_lite.closed_forms`:

* **radial** :math:`g` in 3-D, by Newton's shell theorem (:func:`radial_collision_eigenvalues`);
* **Gaussians and Gaussian mixtures** in any :math:`d\ge2`, by a one-dimensional subordination integral
  (:func:`gaussian_collision_matrix`), whose :math:`\lambda_{\min}\langle v\rangle^3` along rays
  (:func:`weighted_lambda_min`) tends to the far-field limit :math:`C(\operatorname{tr}\Sigma_2-\hat v\cdot \Sigma_2\hat v)`
  (:func:`far_field_limit`, :math:`\Sigma_2 = \int g\,w\otimes w`);

and a Monte-Carlo estimate of :math:`\bar a[g]` with its standard error (:func:`collision_matrix_batch_means`).

The constants, one function per way the density is given:

* :func:`coercivity_constant_maxwellian` — a Maxwellian :math:`M_T`, :math:`\gamma=-3`, from the erf/Bessel eigenvalues;
* :func:`coercivity_constant_radial` — a radial profile :math:`\phi(|v|)` given as a function (shell theorem, 3-D);
* :func:`coercivity_constant_shells` — values on a :class:`~landau_lite.radial.RadialGrid` (the radial solver);
* :func:`coercivity_constant_on_grid` — matrices :math:`\bar a` at given points (e.g. a 3-D grid): the minimum there;
* :func:`coercivity_upper_bound` — any :math:`g`: :math:`c\le C(\operatorname{tr}\Sigma_2-\lambda_{\max}(\Sigma_2))`.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from .._checks import (check_dim, check_finite_float, check_finite_tensor, check_int, check_particles, check_points,
                      check_positive, check_real, check_same_device_dtype, check_tensor)
from ..closed_forms import maxwellian_lambdas
from ..radial import RadialGrid, radial_collision_coefficients
from ..velocity import collision_matrix
from .divergences import japanese_bracket
from .quadrature import gauss_legendre_rule

__all__ = [
    "radial_collision_eigenvalues",
    "gaussian_collision_matrix",
    "lambda_min",
    "weighted_lambda_min",
    "far_field_limit",
    "collision_matrix_batch_means",
    "coercivity_constant_maxwellian",
    "coercivity_constant_radial",
    "coercivity_constant_shells",
    "coercivity_constant_on_grid",
    "coercivity_upper_bound",
]


# ----------------------------------------------------------------------------------------------
# radial densities in 3-D: the shell theorem
# ----------------------------------------------------------------------------------------------

def radial_collision_eigenvalues(r: torch.Tensor, profile: Callable[[torch.Tensor], torch.Tensor], *,
                                 C: float = 1.0, r_max: float = 12.0, panels: int = 24,
                                 order: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Eigenvalues :math:`(\lambda_\parallel,\lambda_\perp)(r)` of :math:`\bar a[g]` for a **radial** density :math:`g(v)=\phi(|v|)` in 3-D Coulomb.

    The average of :math:`|v-w|` over the sphere :math:`|w| = \rho` is :math:`r + \rho^2/(3r)` for
    :math:`\rho<r` and :math:`\rho + r^2/(3\rho)` for :math:`\rho>r` (Newton's shell theorem for :math:`|\cdot|`).
    Hence :math:`g_R = g*|\cdot|` is radial and :math:`\bar a = C\,D^2g_R` has the eigenvalues
    :math:`\lambda_\parallel = Cg_R''(r)` along :math:`\hat v` and :math:`\lambda_\perp = Cg_R'(r)/r` across it:

    .. math::

        \lambda_\parallel(r) &= C\Big[\frac{2}{3r^3}\int_0^r 4\pi\rho^4\phi\,d\rho + \frac23\int_r^\infty 4\pi\rho\,\phi\,d\rho\Big], \\
        \lambda_\perp(r) &= C\Big[\int_0^r 4\pi\rho^2\phi\Big(\frac1r-\frac{\rho^2}{3r^3}\Big)d\rho
                          + \frac23\int_r^\infty 4\pi\rho\,\phi\,d\rho\Big].

    Consequences: :math:`\lambda_\parallel(0)=\lambda_\perp(0) = \frac23C\int g(w)|w|^{-1}dw`,
    :math:`\lambda_\perp-\lambda_\parallel = \frac Cr\int_{|w|<r}g\,(1-|w|^2/r^2)\ge0` (so
    :math:`\lambda_{\min} = \lambda_\parallel`), and :math:`r^3\lambda_\parallel\to\frac23C\int g|w|^2` as :math:`r\to\infty`.

    Each integral is split at :math:`\rho=\min(r, r_{\max})` (the integrand has a kink at :math:`\rho = r`) and done
    by composite Gauss–Legendre; :math:`\phi` is assumed negligible beyond ``r_max``.

    See also :func:`landau_lite.radial.radial_collision_coefficients`: the same eigenvalues (and the drift) from
    *values on a shell grid*, second order in the shell width, which the radial solver needs; this function takes
    the profile as a function and is accurate to near machine precision (``tests/test_radial.py`` checks that the
    two agree).

    Args:
        r: radii :math:`\ge0`, shape ``(M,)``, float32/float64.
        profile: :math:`\rho\mapsto\phi(\rho)`, called on a 1-D tensor of radii (dtype/device of ``r``).
        C: collision constant ``> 0``. r_max: support radius of :math:`\phi`. panels, order: Gauss–Legendre rule per piece.

    Returns:
        ``(lam_par, lam_perp)``, each with the shape, dtype and device of ``r``.

    Example:
        >>> phi = lambda rho: (2 * math.pi) ** -1.5 * torch.exp(-0.5 * rho ** 2)       # M_1
        >>> lp, lq = radial_collision_eigenvalues(torch.tensor([0.0], dtype=torch.float64), phi)
        >>> round(float(lp), 10) == round(2 / 3 * math.sqrt(2 / math.pi), 10)
        True
    """
    r = check_tensor(r, "r")
    if r.ndim != 1 or r.numel() < 1:
        raise ValueError(f"r must have shape (M,) with M >= 1, got {tuple(r.shape)}")
    check_finite_tensor(r, "r")
    if bool((r < 0).any()):
        raise ValueError("r must be >= 0 (radii)")
    if not callable(profile):
        raise TypeError(f"profile must be a callable rho -> phi(rho), got {type(profile).__name__}")
    C = check_positive(C, "C")
    r_max = check_positive(r_max, "r_max")
    t, w = gauss_legendre_rule(0.0, 1.0, panels=panels, order=order, dtype=r.dtype, device=r.device)
    a = torch.clamp(r, max=r_max)                                   # inner piece [0, a]
    ratio = torch.where(r > 0, a / torch.where(r > 0, r, torch.ones_like(r)), torch.ones_like(r))   # a / r
    rho_in = a[:, None] * t[None, :]                                # (M, K)
    phi_in = _call_profile(profile, rho_in)
    t2 = t * t
    # (2/(3 r^3)) int_0^a 4 pi rho^4 phi = (8 pi / 3) a^2 (a/r)^3 int_0^1 t^4 phi(a t) dt
    inner_par = (8.0 * math.pi / 3.0) * a * a * ratio ** 3 * (phi_in * (t2 * t2 * w)[None, :]).sum(1)
    # int_0^a 4 pi rho^2 phi (1/r - rho^2/(3 r^3)) = 4 pi a^2 (a/r) int t^2 phi (1 - (a/r)^2 t^2 / 3) dt
    inner_perp = 4.0 * math.pi * a * a * ratio * (
        phi_in * (t2 * w)[None, :] * (1.0 - (ratio * ratio)[:, None] * t2[None, :] / 3.0)).sum(1)
    # (2/3) int_a^{r_max} 4 pi rho phi
    span = r_max - a
    rho_out = a[:, None] + span[:, None] * t[None, :]
    phi_out = _call_profile(profile, rho_out)
    outer = (8.0 * math.pi / 3.0) * span * (rho_out * phi_out * w[None, :]).sum(1)
    return C * (inner_par + outer), C * (inner_perp + outer)


def _call_profile(profile: Callable[[torch.Tensor], torch.Tensor], rho: torch.Tensor) -> torch.Tensor:
    vals = profile(rho.reshape(-1))
    if not isinstance(vals, torch.Tensor) or vals.shape != (rho.numel(),):
        raise ValueError(f"profile must return a tensor of shape ({rho.numel()},) for {rho.numel()} radii")
    check_finite_tensor(vals, "profile(rho)")
    return vals.reshape(rho.shape).to(dtype=rho.dtype)


def coercivity_constant_radial(profile: Callable[[torch.Tensor], torch.Tensor], *, C: float = 1.0,
                               r_max: float = 12.0, r_far: float = 1.0e4, n_r: int = 4001,
                               dtype: torch.dtype = torch.float64,
                               device: str | torch.device = "cpu") -> tuple[float, float]:
    r"""Sharp constant :math:`c = \inf_v\lambda_{\min}(\bar a[g](v))\langle v\rangle^3` of a radial density in 3-D Coulomb.

    :math:`\lambda_{\min} = \lambda_\parallel` (see :func:`radial_collision_eigenvalues`); the infimum is taken over
    a grid uniform in :math:`\operatorname{arsinh} r` on :math:`[0, r_{\rm far}]` and the far-field value
    :math:`\lim_{r\to\infty}\lambda_\parallel\langle r\rangle^3 = \frac23 C\int g|w|^2` (computed by the same quadrature).

    Returns ``(c, r_star)`` with the minimising radius (``math.inf`` if the far-field value is the smallest).

    Example:
        >>> phi = lambda rho: (2 * math.pi) ** -1.5 * torch.exp(-0.5 * rho ** 2)
        >>> c, r_star = coercivity_constant_radial(phi)
        >>> round(c, 4), r_star
        (0.5319, 0.0)
    """
    C = check_positive(C, "C")
    r_far = check_positive(r_far, "r_far")
    n_r = check_int(n_r, "n_r", lo=2)
    r = torch.sinh(torch.linspace(0.0, math.asinh(r_far), n_r, dtype=dtype, device=device))
    lam_par, _ = radial_collision_eigenvalues(r, profile, C=C, r_max=r_max)
    vals = lam_par * japanese_bracket(r, 3.0)
    k = int(torch.argmin(vals))
    # far field: (2/3) C int g |w|^2 = (2/3) C int_0^rmax 4 pi rho^4 phi
    t, w = gauss_legendre_rule(0.0, r_max, panels=24, order=12, dtype=dtype, device=device)
    far = (2.0 / 3.0) * C * float((4.0 * math.pi * t ** 4 * _call_profile(profile, t) * w).sum())
    if far <= float(vals[k]):
        return far, math.inf
    return float(vals[k]), float(r[k])


# ----------------------------------------------------------------------------------------------
# Gaussians and mixtures, any d: subordination
# ----------------------------------------------------------------------------------------------

def gaussian_collision_matrix(v: torch.Tensor, means: torch.Tensor, cov: torch.Tensor, *,
                              weights: torch.Tensor | None = None, C: float = 1.0, step: float = 0.2,
                              chunk: int = 256) -> torch.Tensor:
    r"""Collision matrix :math:`\bar a[g](v) = (A*g)(v)`, :math:`\gamma=-3`, of :math:`g = \sum_k w_kN(\mu_k,\Sigma)` (any :math:`d\ge2`).

    From :math:`|z| = \frac{1}{2\sqrt\pi}\int_0^\infty(1-e^{-s|z|^2})s^{-3/2}ds`, :math:`A = D^2|z|` and
    :math:`e^{-s|\cdot|^2}*N(\mu,\Sigma) = (\pi/s)^{d/2}N(\mu,\Sigma+\frac{1}{2s}I)`, with :math:`u = 1/(2s)`:

    .. math::

        \bar a[N(\mu,\Sigma)](v) &= C\,(2\pi)^{\frac{d-1}2}\int_0^\infty u^{\frac{d-1}2}\,
        N(y;\,0,\,\Sigma+uI)\,\big(P_u - P_uyy^TP_u\big)\,du, \\
        y &= v-\mu,\qquad P_u = (\Sigma+uI)^{-1}.

    The integral is done by the trapezoidal rule in :math:`t=\log u` (step ``step``; the integrand is smooth and
    decays like :math:`u^{(d+1)/2}` at 0 and :math:`u^{-1/2}` at :math:`\infty`, so the rule converges
    exponentially; about :math:`10^{-12}` relative accuracy against the Maxwellian closed forms).

    Args:
        v: query points ``(M, d)``, float32/float64.
        means: ``(K, d)`` component means (or ``(d,)`` for one Gaussian).
        cov: ``(d, d)`` common covariance, symmetric positive definite.
        weights: ``(K,)`` non-negative weights summing to 1 (default: equal).
        C: collision constant ``> 0``. step: trapezoid step in :math:`\log u`, ``(0, 1]``. chunk: query points per block.

    Returns:
        ``(M, d, d)``, dtype/device of ``v``.

    Example:
        >>> from landau_lite.closed_forms import maxwellian_collision_matrix
        >>> v = torch.tensor([[0.3, -1.0, 2.0]], dtype=torch.float64)
        >>> a = gaussian_collision_matrix(v, torch.zeros(3, dtype=torch.float64), 1.3 * torch.eye(3, dtype=torch.float64))
        >>> bool(torch.allclose(a, maxwellian_collision_matrix(v, 1.3), rtol=1e-10, atol=0))
        True
    """
    v = check_tensor(v, "v")
    if v.ndim != 2:
        raise ValueError(f"v must have shape (M, d), got {tuple(v.shape)}")
    d = check_dim(v.shape[1], "v.shape[1]")
    check_points(v, d, "v")
    means = check_tensor(means, "means")
    if means.ndim == 1:
        means = means[None, :]
    if means.ndim != 2 or means.shape[1] != d or means.shape[0] < 1:
        raise ValueError(f"means must have shape (K, {d}) or ({d},), got {tuple(means.shape)}")
    check_finite_tensor(means, "means")
    cov = check_tensor(cov, "cov")
    if cov.shape != (d, d):
        raise ValueError(f"cov must have shape ({d}, {d}), got {tuple(cov.shape)}")
    check_finite_tensor(cov, "cov")
    K = means.shape[0]
    if weights is None:
        weights = torch.full((K,), 1.0 / K, dtype=v.dtype, device=v.device)
    weights = check_tensor(weights, "weights")
    if weights.shape != (K,):
        raise ValueError(f"weights must have shape ({K},), got {tuple(weights.shape)}")
    check_finite_tensor(weights, "weights")
    if bool((weights < 0).any()) or abs(float(weights.sum()) - 1.0) > 1e-6:
        raise ValueError("weights must be >= 0 and sum to 1")
    C = check_positive(C, "C")
    step = check_positive(step, "step")
    if step > 1.0:
        raise ValueError(f"step must lie in (0, 1], got {step}")
    chunk = check_int(chunk, "chunk", lo=1)

    dt = torch.float64
    S = cov.to(dtype=dt, device=v.device)
    if float((S - S.T).abs().max()) > 1e-10 * max(1.0, float(S.abs().max())):
        raise ValueError("cov must be symmetric")
    lam, Q = torch.linalg.eigh(0.5 * (S + S.T))
    if float(lam.min()) <= 0:
        raise ValueError("cov must be positive definite")
    mu = means.to(dtype=dt, device=v.device)
    wk = weights.to(dtype=dt, device=v.device)
    v64 = v.to(dtype=dt)
    y_all = (v64[:, None, :] - mu[None, :, :]) @ Q                       # (M, K, d) in the eigenbasis of cov
    big = max(float(lam.max()), float((y_all * y_all).sum(-1).max()))
    t_lo = math.log(float(lam.min())) - 36.0
    t_hi = math.log(big) + 80.0
    n = int(math.ceil((t_hi - t_lo) / step)) + 1
    t = torch.linspace(t_lo, t_hi, n, dtype=dt, device=v.device)
    u = torch.exp(t)
    h = (t_hi - t_lo) / (n - 1)
    tw = torch.full_like(t, h)
    tw[0] = tw[-1] = 0.5 * h
    Su = lam[None, :] + u[:, None]                                        # (n, d)
    P = 1.0 / Su
    # log of u^{(d-1)/2} * u (du = u dt) * (2 pi)^{-d/2} det(Su)^{-1/2}
    log_pref = 0.5 * (d + 1) * t - 0.5 * d * math.log(2.0 * math.pi) - 0.5 * torch.log(Su).sum(1)   # (n,)
    const = C * (2.0 * math.pi) ** (0.5 * (d - 1))
    out = torch.empty(v.shape[0], d, d, dtype=dt, device=v.device)
    for start in range(0, v.shape[0], chunk):
        y = y_all[start:start + chunk]                                     # (B, K, d)
        quad = (y[None] ** 2 * P[:, None, None, :]).sum(-1)               # (n, B, K)
        wt = torch.exp(log_pref[:, None, None] - 0.5 * quad) * wk[None, None, :] * tw[:, None, None]
        Py = P[:, None, None, :] * y[None]                                 # (n, B, K, d)
        diag = torch.einsum("nbk,nd->bd", wt, P)                           # sum of weights * P (diagonal part)
        outer = torch.einsum("nbk,nbki,nbkj->bij", wt, Py, Py)
        blk = torch.diag_embed(diag) - outer
        out[start:start + chunk] = Q @ blk @ Q.T
    return (const * out).to(dtype=v.dtype)


# ----------------------------------------------------------------------------------------------
# the quantities of the lemma
# ----------------------------------------------------------------------------------------------

def lambda_min(a: torch.Tensor) -> torch.Tensor:
    r"""Smallest eigenvalue of symmetric matrices ``(..., d, d) -> (...)``.

    Example:
        >>> float(lambda_min(torch.diag(torch.tensor([3.0, 1.0, 2.0], dtype=torch.float64))))
        1.0
    """
    a = check_tensor(a, "a")
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"a must have shape (..., d, d), got {tuple(a.shape)}")
    return torch.linalg.eigvalsh(0.5 * (a + a.transpose(-1, -2)))[..., 0]


def weighted_lambda_min(a: torch.Tensor, v: torch.Tensor, k: float = 3.0) -> torch.Tensor:
    r""":math:`\lambda_{\min}(\bar a(v))\,\langle v\rangle^{k}` with :math:`\langle v\rangle = (1+|v|^2)^{1/2}` (Lemma 2.2 uses :math:`k=-\gamma=3`).

    ``a``: ``(M, d, d)`` matrices at the points ``v`` ``(M, d)``.

    Example:
        >>> a = torch.eye(3, dtype=torch.float64)[None]
        >>> float(weighted_lambda_min(a, torch.ones(1, 3, dtype=torch.float64)))     # <v>^3 = 2^3
        8.0
    """
    a = check_tensor(a, "a")
    v = check_tensor(v, "v")
    if v.ndim != 2 or a.shape != (v.shape[0], v.shape[1], v.shape[1]):
        raise ValueError(f"a must have shape (M, d, d) matching v (M, d); got {tuple(a.shape)} and {tuple(v.shape)}")
    if isinstance(k, bool) or not isinstance(k, (int, float)) or not math.isfinite(k):
        raise TypeError(f"k must be a finite real number, got {k!r}")
    return lambda_min(a) * japanese_bracket(v, k)


def _second_moment(m2: torch.Tensor) -> torch.Tensor:
    m2 = check_tensor(m2, "second_moment")
    if m2.ndim != 2 or m2.shape[0] != m2.shape[1] or m2.shape[0] < 2:
        raise ValueError(f"second_moment must be a (d, d) matrix with d >= 2, got {tuple(m2.shape)}")
    check_finite_tensor(m2, "second_moment")
    return 0.5 * (m2 + m2.T)


def far_field_limit(second_moment: torch.Tensor, direction: torch.Tensor, *, C: float = 1.0) -> torch.Tensor:
    r"""Far-field limit along a ray, :math:`\lim_{r\to\infty} r^3\,\hat v\cdot\bar a[g](r\hat v)\,\hat v = C\big(\operatorname{tr}\Sigma_2 - \hat v\cdot \Sigma_2\hat v\big)`.

    :math:`\Sigma_2 = \int g(w)\,w\otimes w\,dw` is the second-moment matrix about the origin (the covariance for a
    centred :math:`g`). Because :math:`|\Pi(\hat v)w|^2 = |w|^2-(\hat v\cdot w)^2` and :math:`|v-w|^{-1}\approx|v|^{-1}`
    for :math:`|v|\gg|w|`, only the spread of :math:`g` across the ray survives. Across the ray the eigenvalues
    decay only like :math:`C/r`, so this is also the limit of :math:`\lambda_{\min}\langle v\rangle^3`.

    ``direction``: ``(d,)`` or ``(R, d)`` (normalised here). Returns ``()`` or ``(R,)``.

    Example:
        >>> far_field_limit(torch.eye(3, dtype=torch.float64), torch.tensor([0.0, 0.0, 2.0], dtype=torch.float64))
        tensor(2., dtype=torch.float64)
    """
    m2 = _second_moment(second_moment)
    C = check_positive(C, "C")
    e = check_tensor(direction, "direction")
    single = e.ndim == 1
    e = e[None] if single else e
    if e.ndim != 2 or e.shape[1] != m2.shape[0]:
        raise ValueError(f"direction must have shape ({m2.shape[0]},) or (R, {m2.shape[0]}), got {tuple(direction.shape)}")
    check_finite_tensor(e, "direction")
    norm = torch.linalg.vector_norm(e, dim=1, keepdim=True)
    if bool((norm == 0).any()):
        raise ValueError("direction must be non-zero")
    e = (e / norm).to(dtype=m2.dtype)
    out = C * (torch.trace(m2) - ((e @ m2) * e).sum(1))
    return out[0] if single else out


def coercivity_upper_bound(second_moment: torch.Tensor, *, C: float = 1.0) -> torch.Tensor:
    r"""An upper bound of the Lemma 2.2 constant: :math:`c\le C\big(\operatorname{tr}\Sigma_2-\lambda_{\max}(\Sigma_2)\big)`.

    It is the smallest far-field limit (:func:`far_field_limit` along the top eigenvector of :math:`\Sigma_2`). If
    :math:`g` concentrates on a line, all of :math:`\Sigma_2` but one eigenvalue vanishes and so does :math:`c`, although
    mass and energy stay bounded: only the entropy bound of the lemma excludes it.

    Example:
        >>> coercivity_upper_bound(torch.diag(torch.tensor([1.0, 1e-3, 1e-3], dtype=torch.float64)))
        tensor(0.0020, dtype=torch.float64)
    """
    m2 = _second_moment(second_moment)
    C = check_positive(C, "C")
    ev = torch.linalg.eigvalsh(m2)
    return C * (ev.sum() - ev[-1])


def collision_matrix_batch_means(v: torch.Tensor, x: torch.Tensor, *, gamma: float, C: float = 1.0,
                                 n_batches: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Monte-Carlo :math:`\bar a[g](v)\approx\frac1N\sum_jA(v-x_j)` for :math:`x_j\sim g`, with a standard error.

    The samples are cut into ``n_batches`` equal batches; :func:`landau_lite.velocity.collision_matrix` gives the
    batch means :math:`\bar a_b`, and

    .. math::

        \hat a = \frac1B\sum_b\bar a_b,\qquad \mathrm{se} = \Big(\frac{1}{B(B-1)}\sum_b(\bar a_b-\hat a)^2\Big)^{1/2}

    entrywise. (For :math:`\gamma=-3` in 3-D the terms have finite variance, :math:`\int g|v-w|^{-2}<\infty`.)

    Returns ``(mean, stderr)``, each ``(M, d, d)``, dtype/device of ``x``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(20000, 3, generator=g, dtype=torch.float64)
        >>> m, se = collision_matrix_batch_means(torch.zeros(1, 3, dtype=torch.float64), x, gamma=-3.0)
        >>> bool(abs(float(m[0, 0, 0]) - 2 / 3 * math.sqrt(2 / math.pi)) < 4 * float(se[0, 0, 0]))
        True
    """
    x = check_particles(x, "x")
    n_batches = check_int(n_batches, "n_batches", lo=2)
    if x.shape[0] < n_batches:
        raise ValueError(f"x must hold at least n_batches = {n_batches} samples, got {x.shape[0]}")
    v = check_points(v, x.shape[1], "v")
    size = x.shape[0] // n_batches
    means = torch.stack([collision_matrix(v, x[b * size:(b + 1) * size], gamma=gamma, C=C)
                         for b in range(n_batches)])
    mean = means.mean(0)
    se = means.std(0, unbiased=True) / math.sqrt(n_batches)
    return mean, se


# ----------------------------------------------------------------------------------------------
# coercivity constants
# ----------------------------------------------------------------------------------------------

def coercivity_constant_maxwellian(T: float, *, d: int = 3, C: float = 1.0) -> float:
    r"""Sharp coercivity constant :math:`c_T = \inf_v \lambda_{\min}\big(\bar a[M_T](v)\big)\,\langle v\rangle^{3}` (:math:`\gamma=-3`).

    :math:`\langle v\rangle = (1+|v|^2)^{1/2}`. The infimum is over :math:`r=|v|\in[0,\infty)`; as
    :math:`r\to\infty`, :math:`\lambda_\parallel\langle v\rangle^3\to (d-1)CT`, which is included as a candidate.
    Computed numerically from :func:`landau_lite.closed_forms.maxwellian_lambdas`: a dense grid in :math:`r` (uniform in
    :math:`\operatorname{arsinh} r`, up to :math:`r = 10^4\max(1,\sqrt T)`) followed by a golden-section refinement
    around the best grid point, in float64. Numerically the result is :math:`c_T = \min\{\lambda(0), (d-1)CT\}`
    (an observation, not a theorem): the infimum sits at :math:`v=0` for large :math:`T` and at infinity for small
    :math:`T`.

    Example:
        >>> round(coercivity_constant_maxwellian(1.0), 4)     # = (2/3) sqrt(2/pi), attained at v = 0
        0.5319
    """
    T = check_positive(T, "T")
    d = check_int(d, "d", lo=2, hi=3)
    C = check_positive(C, "C")

    def h(r: torch.Tensor) -> torch.Tensor:
        lp, lq = maxwellian_lambdas(r, T, d=d, C=C)
        return torch.minimum(lp, lq) * japanese_bracket(r, 3.0)

    r_max = 1e4 * max(1.0, math.sqrt(T))
    grid = torch.sinh(torch.linspace(0.0, math.asinh(r_max), 40_001, dtype=torch.float64))
    vals = h(grid)
    k = int(torch.argmin(vals))
    lo, hi = float(grid[max(k - 1, 0)]), float(grid[min(k + 1, grid.numel() - 1)])
    phi = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = lo, hi
    for _ in range(80):
        c1, c2 = b - phi * (b - a), a + phi * (b - a)
        f1, f2 = h(torch.tensor([c1, c2], dtype=torch.float64)).tolist()
        if f1 <= f2:
            b = c2
        else:
            a = c1
    refined = float(h(torch.tensor([0.5 * (a + b)], dtype=torch.float64))[0])
    return min(float(vals[k]), refined, (d - 1) * C * T)


def coercivity_constant_shells(g: torch.Tensor, grid: RadialGrid, *, gamma: float, C: float) -> torch.Tensor:
    r"""Coercivity constant of :math:`\bar a[g]` for an isotropic :math:`g`: :math:`c=\inf_v\lambda_{\min}(\bar a[g](v))\langle v\rangle^{-\gamma}`.

    Coulomb: the minimum over the centres of :math:`\min(\lambda_\parallel,\lambda_\perp)\langle r\rangle^3`, and the limit
    :math:`\lim_{r\to\infty}\lambda_\parallel\langle r\rangle^3=\frac23CE` (:math:`E=\int g|v|^2`; for :math:`r` beyond the
    support, :math:`\lambda_\parallel\langle r\rangle^3=\frac23CE(1+r^{-2})^{3/2}` decreases to it); for a Maxwellian
    this is :math:`c_T=\min\{\lambda(0),2CT\}` (:func:`coercivity_constant_maxwellian`). Maxwell molecules:
    :math:`c=\frac23CE` (weight :math:`\langle v\rangle^0`). Second order in the shell width, like the coefficients.

    Returns:
        0-dim tensor, dtype/device of ``g``.

    Example:
        >>> from landau_lite.radial import RadialGrid
        >>> gr = RadialGrid(10.0, 2000); r = gr.centres()
        >>> M = (2 * math.pi) ** -1.5 * torch.exp(-r * r / 2)
        >>> round(float(coercivity_constant_shells(M, gr, gamma=-3.0, C=1.0)), 4)     # closed form 0.5319
        0.5319
    """
    if not isinstance(grid, RadialGrid):
        raise TypeError(f"grid must be a RadialGrid, got {type(grid).__name__}")
    g = grid.check_values(g, "g")
    if g.ndim != 1:
        raise ValueError(f"g must have shape ({grid.n},), got {tuple(g.shape)}")
    C = check_positive(C, "C")
    tail = 2.0 * C * grid.second_moment(g) / 3.0
    gamma = check_real(gamma, "gamma")
    if gamma not in (0.0, -3.0):
        raise ValueError(f"gamma must be 0 (Maxwell molecules) or -3 (Coulomb) for radial densities, got {gamma}")
    if gamma == 0.0:
        return tail
    lp, lq, _ = radial_collision_coefficients(g, grid, gamma=gamma, C=C, at="centres")
    c = grid.centres(dtype=g.dtype, device=g.device)
    inner = (torch.minimum(lp, lq) * japanese_bracket(c, 3.0)).min()
    return torch.minimum(inner, tail)


def coercivity_constant_on_grid(a: torch.Tensor, points: torch.Tensor, *, gamma: float) -> torch.Tensor:
    r"""Grid estimate of the coercivity constant :math:`c=\inf_v\lambda_{\min}(\bar a(v))\,\langle v\rangle^{-\gamma}`.

    The minimum over the given points only (a lower bound needs the behaviour outside the box too: for
    Coulomb, :math:`\lambda_{\min}\langle v\rangle^3\to C(\operatorname{tr}\Sigma_2-\hat v\cdot \Sigma_2\hat v)` as
    :math:`|v|\to\infty` (:func:`far_field_limit`), which can be below every grid value when :math:`T` is small).

    Args:
        a: symmetric matrices ``(M, d, d)`` (e.g. :func:`landau_lite.analysis.grid.collision_matrix_on_grid`).
        points: the points ``(M, d)``.
        gamma: kernel exponent (the weight is :math:`\langle v\rangle^{-\gamma}`).

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
    return (lam * japanese_bracket(points, -gamma)).min()
