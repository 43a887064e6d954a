r"""Closed forms of the collision matrix and drift that serve as exact checks.

Two families are covered.

**Maxwellians with** :math:`\gamma=-3` (Coulomb in 3-D; in 2-D the "Coulomb" test kernel of Carrillo, Hu, Wang
and Wu (2020)). For
:math:`M_T = (2\pi T)^{-d/2}e^{-|v-u|^2/2T}` the collision matrix is radial,

.. math::

    \bar a[M_T](v) = \lambda_\parallel(r)\,\hat y\otimes\hat y + \lambda_\perp(r)\,(I-\hat y\otimes\hat y),
    \qquad y = v-u,\ r=|y|,

and the drift is :math:`\bar b[M_T](v) = -\lambda_\parallel(r)\,y/T`, so that
:math:`U[M_T] = -\bar a\nabla\log M_T + \bar b = 0` (the Maxwellian is stationary).

**Maxwell molecules** (:math:`\gamma = 0`): :math:`A` is a quadratic polynomial in :math:`z`, so
:math:`\bar a[f]` and :math:`\bar b[f]` depend on :math:`f` only through its mass, mean :math:`u` and
covariance :math:`\Sigma`, and the second (and fourth) moments obey closed linear ODEs.

Every formula carries the collision constant :math:`C`, which the kernel contains:
:math:`A(z) = C|z|^\gamma(|z|^2I - z\otimes z)`, :math:`\bar a[f] = A*f`, :math:`\bar b[f] = (\nabla\cdot A)*f`.
The coercivity constants built on these eigenvalues live in :mod:`landau_lite.analysis.coercivity`.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from ._checks import (check_dim, check_finite_tensor, check_int, check_points, check_positive, check_real,
                      check_tensor)

__all__ = [
    "maxwellian_lambdas",
    "maxwellian_collision_matrix",
    "maxwellian_drift",
    "maxwell_molecules_collision_matrix",
    "maxwell_molecules_drift",
    "maxwell_covariance",
    "maxwell_fourth_moment",
]

_SQRT_PI = math.sqrt(math.pi)
#: below this value of x = r / sqrt(2T) the 3-D formulas switch to their Taylor series (no 0/0, no cancellation)
_SERIES_CUTOFF = 0.5
_SERIES_TERMS = 12
#: above this value of y = r^2 / (4T) the 2-D lambda_par uses its asymptotic series (i0e - i1e cancels)
_ASYMPTOTIC_CUTOFF = 40.0
_ASYMPTOTIC_TERMS = 16


def _bessel_difference_coefficients(n_terms: int) -> list[float]:
    r"""Coefficients :math:`c_k` of :math:`e^{-y}(I_0(y)-I_1(y)) \sim (2\pi y)^{-1/2}\sum_k c_k y^{-k}`.

    From :math:`e^{-y}I_\nu(y)\sim(2\pi y)^{-1/2}\sum_k(-1)^k a_k(\nu)y^{-k}`,
    :math:`a_k(\nu)=\prod_{j=1}^k(4\nu^2-(2j-1)^2)/(k!\,8^k)`; computed in exact rational arithmetic.
    """
    from fractions import Fraction

    out = []
    for k in range(n_terms + 1):
        p0, p1 = Fraction(1), Fraction(1)
        for j in range(1, k + 1):
            p0 *= -(2 * j - 1) ** 2
            p1 *= 4 - (2 * j - 1) ** 2
        out.append(float((-1) ** k * (p0 - p1) / (math.factorial(k) * 8 ** k)))
    return out


_BESSEL_DIFF = _bessel_difference_coefficients(_ASYMPTOTIC_TERMS)


# ----------------------------------------------------------------------------------------------
# small validation helpers
# ----------------------------------------------------------------------------------------------

def _as_vector(value: object, d: int, name: str, like: torch.Tensor) -> torch.Tensor:
    """``value`` (None → 0, a sequence or a tensor of shape (d,)) as a tensor with the dtype/device of ``like``."""
    if value is None:
        return torch.zeros(d, dtype=like.dtype, device=like.device)
    if isinstance(value, torch.Tensor):
        out = value.detach().to(dtype=like.dtype, device=like.device) if not value.requires_grad \
            else value.to(dtype=like.dtype, device=like.device)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        try:
            out = torch.tensor([float(a) for a in value], dtype=like.dtype, device=like.device)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be a sequence of real numbers or a tensor") from exc
    else:
        raise TypeError(f"{name} must be None, a sequence of {d} numbers or a tensor of shape ({d},), "
                        f"got {type(value).__name__}")
    if out.shape != (d,):
        raise ValueError(f"{name} must have shape ({d},), got {tuple(out.shape)}")
    check_finite_tensor(out, name)
    return out


def _as_matrix(value: object, d: int, name: str, like: torch.Tensor, *, symmetric: bool = True) -> torch.Tensor:
    """A ``(d, d)`` finite (symmetric) matrix with the dtype/device of ``like``."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape ({d}, {d}), got {type(value).__name__}")
    out = value.to(dtype=like.dtype, device=like.device)
    if out.shape != (d, d):
        raise ValueError(f"{name} must have shape ({d}, {d}), got {tuple(out.shape)}")
    check_finite_tensor(out, name)
    if symmetric:
        scale = float(out.abs().max()) if out.numel() else 0.0
        tol = 1e-10 if out.dtype == torch.float64 else 1e-5
        if float((out - out.T).abs().max()) > tol * max(scale, 1.0):
            raise ValueError(f"{name} must be a symmetric matrix")
    return out


def _dim_of(v: torch.Tensor, d: int | None, name: str = "v") -> int:
    v = check_tensor(v, name)
    if v.ndim != 2:
        raise ValueError(f"{name} must have shape (M, d), got shape {tuple(v.shape)}")
    if d is None:
        return check_dim(v.shape[1], f"{name}.shape[1]")
    d = check_dim(d)
    if v.shape[1] != d:
        raise ValueError(f"{name} must have shape (M, {d}) for d = {d}, got shape {tuple(v.shape)}")
    return d


# ----------------------------------------------------------------------------------------------
# Maxwellians, gamma = -3
# ----------------------------------------------------------------------------------------------

def _erf_over_x(x: torch.Tensor, small: torch.Tensor) -> torch.Tensor:
    r""":math:`\operatorname{erf}(x)/x`, with the series :math:`\frac{2}{\sqrt\pi}\sum_n\frac{(-1)^nx^{2n}}{n!(2n+1)}` for small x."""
    x2 = x * x
    series = torch.zeros_like(x)
    for n in range(_SERIES_TERMS, -1, -1):      # Horner in x^2
        series = series * x2 + (-1) ** n / (math.factorial(n) * (2 * n + 1))
    series = series * (2.0 / _SQRT_PI)
    xs = torch.where(small, torch.ones_like(x), x)
    direct = torch.erf(xs) / xs
    return torch.where(small, series, direct)


def _chandrasekhar_over_x(x: torch.Tensor, small: torch.Tensor) -> torch.Tensor:
    r""":math:`G(x)/x = \dfrac{\operatorname{erf}(x) - x\operatorname{erf}'(x)}{2x^3}`, series
    :math:`\frac{1}{\sqrt\pi}\sum_{n\ge1}\frac{(-1)^{n+1}\,2n\,x^{2n-2}}{n!(2n+1)}` for small x."""
    x2 = x * x
    series = torch.zeros_like(x)
    for n in range(_SERIES_TERMS, 0, -1):
        series = series * x2 + (-1) ** (n + 1) * 2 * n / (math.factorial(n) * (2 * n + 1))
    series = series / _SQRT_PI
    xs = torch.where(small, torch.ones_like(x), x)
    direct = (torch.erf(xs) - xs * (2.0 / _SQRT_PI) * torch.exp(-xs * xs)) / (2.0 * xs ** 3)
    return torch.where(small, series, direct)


def maxwellian_lambdas(r: torch.Tensor, T: float, *, d: int = 3, C: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Eigenvalues :math:`(\lambda_\parallel, \lambda_\perp)` of :math:`\bar a[M_T]` at distance :math:`r=|v-u|`, :math:`\gamma=-3`.

    3-D (from the Rosenbluth potentials of a Maxwellian; see Villani (2002)), with :math:`x = r/\sqrt{2T}` and the
    Chandrasekhar function :math:`G(x) = \frac{\operatorname{erf}(x) - x\operatorname{erf}'(x)}{2x^2}`:

    .. math::

        \lambda_\parallel &= C\,\frac{2G(x)}{r},\qquad \lambda_\perp = C\,\frac{\operatorname{erf}(x) - G(x)}{r}, \\
        \lambda_\parallel(0) &= \lambda_\perp(0) = \tfrac23 C\sqrt{\tfrac{2}{\pi T}} .

    2-D, with :math:`y = r^2/(4T)` and the modified Bessel functions :math:`I_0, I_1`:

    .. math::

        \lambda_{\parallel,\perp} = C\sqrt{\frac{\pi}{8T}}\;e^{-y}\big(I_0(y) \mp I_1(y)\big).

    For small :math:`x` the 3-D formulas use their Taylor series (finite values and gradients at :math:`r=0`);
    the 2-D ones use ``torch.special.i0e``/``i1e`` (no overflow for large :math:`r`), and for :math:`y > 40` the
    asymptotic series of :math:`e^{-y}(I_0 - I_1)\sim(2\pi y)^{-1/2}(\frac{1}{2y} + \frac{3}{16y^2}+\dots)`, which avoids the
    cancellation in :math:`I_0 - I_1` (relative error below :math:`10^{-15}`).

    Args:
        r: distances :math:`\ge 0`, any shape, float32/float64.
        T: temperature :math:`T > 0`.
        d: dimension, 2 or 3.
        C: collision constant, :math:`> 0`.

    Returns:
        ``(lam_par, lam_perp)`` with the shape, dtype and device of ``r``.

    Example:
        >>> lp, lq = maxwellian_lambdas(torch.tensor([1.0], dtype=torch.float64), 1.3)
        >>> round(float(lp), 4), round(float(lq), 4)
        (0.3723, 0.4334)
    """
    r = check_tensor(r, "r")
    T = check_positive(T, "T")
    d = check_int(d, "d", lo=2, hi=3)
    C = check_positive(C, "C")
    check_finite_tensor(r, "r")
    if bool((r < 0).any()):
        raise ValueError("r must be >= 0 (a distance)")
    if d == 3:
        s = math.sqrt(2.0 * T)
        x = r / s
        small = x < _SERIES_CUTOFF
        g1 = _chandrasekhar_over_x(x, small)
        e1 = _erf_over_x(x, small)
        return (2.0 * C / s) * g1, (C / s) * (e1 - g1)
    y = r * r / (4.0 * T)
    c = C * math.sqrt(math.pi / (8.0 * T))
    i0, i1 = torch.special.i0e(y), torch.special.i1e(y)
    large = y > _ASYMPTOTIC_CUTOFF
    ys = torch.where(large, y, torch.full_like(y, _ASYMPTOTIC_CUTOFF))
    inv = 1.0 / ys
    series = torch.zeros_like(y)
    for ck in reversed(_BESSEL_DIFF):
        series = series * inv + ck
    diff = torch.where(large, series / torch.sqrt(2.0 * math.pi * ys), i0 - i1)
    return c * diff, c * (i0 + i1)


def _maxwellian_eigs_at(v: torch.Tensor, T: object, C: object, mean: object,
                        d: int | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Validate and return ``(y, r, λ∥(r), λ⊥(r), d)`` with ``y = v - u`` and ``r = |y|`` (γ = −3, d ∈ {2, 3})."""
    d = _dim_of(v, d)
    if d not in (2, 3):
        raise ValueError(f"d must be 2 or 3 for the Maxwellian closed forms, got d = {d}")
    check_points(v, d, "v")
    T = check_positive(T, "T")
    C = check_positive(C, "C")
    y = v - _as_vector(mean, d, "mean", v)
    r = torch.linalg.vector_norm(y, dim=1)
    lam_par, lam_perp = maxwellian_lambdas(r, T, d=d, C=C)
    return y, r, lam_par, lam_perp, d


def maxwellian_collision_matrix(v: torch.Tensor, T: float, *, d: int | None = None, C: float = 1.0,
                                mean: object = None) -> torch.Tensor:
    r"""Collision matrix :math:`\bar a[M_T](v) = (A * M_T)(v)` of a Maxwellian, :math:`\gamma = -3`, :math:`d\in\{2,3\}`.

    .. math::

        \bar a[M_T](v) = \lambda_\perp(r)\,I + \big(\lambda_\parallel(r) - \lambda_\perp(r)\big)\,\hat y\otimes\hat y,
        \qquad y = v - u,\ r = |y|,

    with :math:`\lambda` from :func:`maxwellian_lambdas` (at :math:`y=0` the matrix is :math:`\lambda(0)I`).

    Args:
        v: query points ``(M, d)``.
        T: temperature, :math:`>0`.
        d: dimension (default: ``v.shape[1]``; must be 2 or 3).
        C: collision constant, :math:`>0`.
        mean: the Maxwellian's mean :math:`u` (default 0), shape ``(d,)``.

    Returns:
        ``(M, d, d)``, dtype/device of ``v``.

    Example:
        >>> a = maxwellian_collision_matrix(torch.zeros(1, 3, dtype=torch.float64), 1.0)
        >>> torch.allclose(a[0], 2 / 3 * (2 / math.pi) ** 0.5 * torch.eye(3, dtype=torch.float64))
        True
    """
    y, r, lam_par, lam_perp, d = _maxwellian_eigs_at(v, T, C, mean, d)
    safe = torch.where(r > 0, r, torch.ones_like(r))
    yhat = torch.where((r > 0)[:, None], y / safe[:, None], torch.zeros_like(y))
    eye = torch.eye(d, dtype=v.dtype, device=v.device)
    return lam_perp[:, None, None] * eye + (lam_par - lam_perp)[:, None, None] * (yhat[:, :, None] * yhat[:, None, :])


def maxwellian_drift(v: torch.Tensor, T: float, *, C: float = 1.0, mean: object = None) -> torch.Tensor:
    r"""Drift :math:`\bar b[M_T](v) = ((\nabla\cdot A) * M_T)(v) = -\lambda_\parallel(r)\,(v-u)/T`, :math:`\gamma=-3`, :math:`d\in\{2,3\}`.

    This is the identity :math:`\bar b = \bar a\,\nabla\log M_T` evaluated with :math:`\bar a(v)(v-u) = \lambda_\parallel (v-u)`,
    i.e. :math:`U[M_T]=0`. In 3-D it equals :math:`2C\nabla h` with the Rosenbluth potential
    :math:`h=\operatorname{erf}(x)/r`.

    Example:
        >>> v = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
        >>> float(maxwellian_drift(v, 1.3)[0, 0]) == -float(maxwellian_lambdas(torch.ones(1, dtype=torch.float64), 1.3)[0]) / 1.3
        True
    """
    y, _, lam_par, _, _ = _maxwellian_eigs_at(v, T, C, mean, None)
    T = float(T)
    return -(lam_par / T)[:, None] * y


# ----------------------------------------------------------------------------------------------
# Maxwell molecules, gamma = 0
# ----------------------------------------------------------------------------------------------

def maxwell_molecules_collision_matrix(v: torch.Tensor, mean: object, cov: torch.Tensor, *, C: float = 1.0) -> torch.Tensor:
    r"""Collision matrix of Maxwell molecules (:math:`\gamma=0`) for any unit-mass :math:`f` with mean :math:`u`, covariance :math:`\Sigma`:

    .. math::

        \bar a[f](v) = C\Big[\big(|v-u|^2 + \operatorname{tr}\Sigma\big)I - (v-u)\otimes(v-u) - \Sigma\Big].

    Exact because :math:`A(z) = C(|z|^2I - z\otimes z)` is quadratic in :math:`z` (Villani (1998)). With the
    empirical mean and the population (1/N) covariance of particles it equals the particle sum
    :math:`\frac1N\sum_j A(v-x_j)` to round-off.

    Args:
        v: query points ``(M, d)``; mean: ``(d,)`` (tensor or sequence); cov: ``(d, d)`` symmetric; C: ``> 0``.

    Returns:
        ``(M, d, d)``, dtype/device of ``v``.

    Example:
        >>> v = torch.zeros(1, 2, dtype=torch.float64)
        >>> maxwell_molecules_collision_matrix(v, None, torch.eye(2, dtype=torch.float64))[0]
        tensor([[1., 0.],
                [0., 1.]], dtype=torch.float64)
    """
    d = _dim_of(v, None)
    check_points(v, d, "v")
    u = _as_vector(mean, d, "mean", v)
    S = _as_matrix(cov, d, "cov", v)
    C = check_positive(C, "C")
    y = v - u
    eye = torch.eye(d, dtype=v.dtype, device=v.device)
    return C * (((y * y).sum(1) + torch.trace(S))[:, None, None] * eye - y[:, :, None] * y[:, None, :] - S)


def maxwell_molecules_drift(v: torch.Tensor, mean: object, *, C: float = 1.0, d: int | None = None) -> torch.Tensor:
    r"""Drift of Maxwell molecules: :math:`\bar b[f](v) = ((\nabla\cdot A)*f)(v) = -C(d-1)(v-u)` for unit mass.

    Example:
        >>> maxwell_molecules_drift(torch.ones(1, 3, dtype=torch.float64), None, C=0.5)
        tensor([[-1., -1., -1.]], dtype=torch.float64)
    """
    d = _dim_of(v, d)
    check_points(v, d, "v")
    u = _as_vector(mean, d, "mean", v)
    C = check_positive(C, "C")
    return -C * (d - 1) * (v - u)


def maxwell_covariance(t: float, cov0: torch.Tensor, *, C: float) -> torch.Tensor:
    r"""Covariance of a Maxwell-molecule Landau solution after time :math:`t` (elapsed since :math:`\Sigma_0`):

    .. math::

        \dot\Sigma &= 4C\big(\operatorname{tr}\Sigma\,I - d\,\Sigma\big)
        \quad\Longrightarrow\quad
        \Sigma(t) = \Sigma_\infty + (\Sigma_0 - \Sigma_\infty)\,e^{-4dCt}, \\
        \Sigma_\infty &= \tfrac{\operatorname{tr}\Sigma_0}{d} I .

    Derivation (rederived here; the closed moment equations of Maxwell molecules, Villani (1998)):
    the weak form :math:`\frac{d}{dt}\int f\varphi = \int f\,(\bar a:D^2\varphi + 2\bar b\cdot\nabla\varphi)`
    with :math:`\varphi = (v-u)_k(v-u)_l` and the closed forms of :func:`maxwell_molecules_collision_matrix`
    and :func:`maxwell_molecules_drift`. The trace (energy) is conserved; the rate is :math:`4dC`
    (:math:`=1/2` for :math:`d=3`, :math:`C=1/24`).

    Args:
        t: elapsed time :math:`\ge 0`.
        cov0: initial covariance ``(d, d)``, symmetric.
        C: collision constant :math:`> 0`.

    Returns:
        ``(d, d)``, dtype/device of ``cov0``.

    Example:
        >>> S = maxwell_covariance(2.0, torch.diag(torch.tensor([1.8, 0.2, 1.0], dtype=torch.float64)), C=1 / 24)
        >>> round(float(S[0, 0]), 6)     # 1 + 0.8 e^{-1}
        1.294304
    """
    t = check_real(t, "t", lo=0.0)
    cov0 = check_tensor(cov0, "cov0")
    if cov0.ndim != 2 or cov0.shape[0] != cov0.shape[1]:
        raise ValueError(f"cov0 must be a square (d, d) matrix, got shape {tuple(cov0.shape)}")
    d = check_dim(cov0.shape[0], "cov0.shape[0]")
    cov0 = _as_matrix(cov0, d, "cov0", cov0)
    C = check_positive(C, "C")
    eye = torch.eye(d, dtype=cov0.dtype, device=cov0.device)
    cov_inf = torch.trace(cov0) / d * eye
    return cov_inf + (cov0 - cov_inf) * math.exp(-4.0 * d * C * t)


def maxwell_fourth_moment(t: float, m4_0: float, cov0: torch.Tensor, *, C: float) -> torch.Tensor:
    r"""Central fourth moment :math:`m_4(t) = \int f_t|v-u|^4` of a Maxwell-molecule Landau solution.

    With :math:`\varphi = |v-u|^4` the weak form gives the closed linear ODE (derived here; checked in the tests
    by Gauss–Hermite quadrature and against the BKW formula :math:`m_4 = d(d+2)K(2-K)`):

    .. math::

        \dot m_4 &= C\Big[-4(d-1)\,m_4 + 4(d+1)E^2 - 8\operatorname{tr}\big(\Sigma(t)^2\big)\Big],\qquad E = \operatorname{tr}\Sigma_0, \\
        \operatorname{tr}\Sigma(t)^2 &= \tfrac{E^2}{d} + \|\Sigma_0-\Sigma_\infty\|_F^2\,e^{-2\lambda t},\qquad \lambda = 4dC .

    Its solution, with :math:`a = 4C(d-1)`, :math:`m_\infty = (d+2)E^2/d` (the Maxwellian value) and
    :math:`\kappa = 8C\|\Sigma_0-\Sigma_\infty\|_F^2/(4C(d+1))`:

    .. math::

        m_4(t) = m_\infty + \kappa\,e^{-2\lambda t} + \big(m_4(0) - m_\infty - \kappa\big)e^{-a t}.

    Args:
        t: elapsed time :math:`\ge 0`; m4_0: :math:`m_4(0) \ge 0`; cov0: initial covariance ``(d, d)``; C: :math:`>0`.

    Returns:
        0-dim tensor, dtype/device of ``cov0``.

    Example:
        >>> S0 = torch.eye(3, dtype=torch.float64)
        >>> float(maxwell_fourth_moment(0.0, 15.0, S0, C=1 / 24))    # a Maxwellian stays a Maxwellian
        15.0
    """
    t = check_real(t, "t", lo=0.0)
    m4_0 = check_real(m4_0, "m4_0", lo=0.0)
    cov_t = maxwell_covariance(0.0, cov0, C=1.0)   # validates cov0
    C = check_positive(C, "C")
    d = cov_t.shape[0]
    E = torch.trace(cov_t)
    eye = torch.eye(d, dtype=cov_t.dtype, device=cov_t.device)
    dev = cov_t - E / d * eye
    dev2 = (dev * dev).sum()
    lam = 4.0 * d * C
    a = 4.0 * C * (d - 1)
    m_inf = (d + 2) * E * E / d
    kappa = 8.0 * C * dev2 / (4.0 * C * (d + 1))
    return m_inf + kappa * math.exp(-2.0 * lam * t) + (m4_0 - m_inf - kappa) * math.exp(-a * t)
