r"""Functionals and divergences of densities by quadrature: one family, usable with every rule.

For densities :math:`f, g` on :math:`\mathbb R^d`, the weight :math:`\langle v\rangle = (1+|v|^2)^{1/2}` and a score
:math:`s` (an approximation of :math:`\nabla\log f`):

.. math::

    m_k(f) &= \int f\langle v\rangle^k,\qquad H(f) = \int f\log f,\qquad
    \mathrm{KL}(f\Vert g) = \int f\log\frac fg, \\
    \|\langle v\rangle^kf\|_{L^p} &= \Big(\int\langle v\rangle^{kp}|f|^p\Big)^{1/p}, \\
    I_k(f) &= \int f\langle v\rangle^k|\nabla\log f|^2,\qquad
    I_k(f|g) = \int f\langle v\rangle^k\big|\nabla\log f - \nabla\log g\big|^2 ,

and the two Pinsker ratios (the classical inequality and its :math:`L^2` version, Lemma 2.3 of Ilin (2025),
after Wang (2017))

.. math::

    \rho_1 = \frac{\|f-g\|_{L^1}^2}{2\,\mathrm{KL}(f\Vert g)} \le 1,\qquad
    \rho_2 = \frac{\|f-g\|_{L^2}^2}{2\max(\|f\|_\infty,\|g\|_\infty)\,\mathrm{KL}(f\Vert g)} \le 1 .

Every integral is :math:`\sum_kw_k\varphi(v_k)` over a :class:`~landau_lite.analysis.quadrature.Quadrature`: a
tensor, radial or axial Gauss–Legendre rule, the midpoint rule of a 3-D grid
(:func:`landau_lite.analysis.grid.grid_quadrature`) or the shells of the radial solver
(:func:`~landau_lite.analysis.quadrature.shell_quadrature`). Densities are values at ``quad.points`` (shape
``(M,)``) or callables ``v -> values``; where they underflow in the tails (a KL of two Gaussians with very different
widths), pass **log-densities** and ``log_densities=True``. Scores are ``(M, d)``, or ``(M,)`` radial components
on a radial rule.

:func:`weighted_fisher_particles` is the Monte-Carlo version of :math:`I_k` from samples of :math:`f`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .._checks import (check_finite_float, check_finite_tensor, check_particles, check_positive, check_real,
                      check_same_device_dtype, check_tensor)
from .quadrature import Density, Quadrature, check_quadrature

__all__ = [
    "japanese_bracket",
    "integrate",
    "moment",
    "entropy",
    "kl_divergence",
    "lp_norm",
    "lp_distance",
    "sup_norm",
    "fisher_information",
    "relative_fisher_information",
    "weighted_fisher_particles",
    "PinskerRatios",
    "pinsker_ratios",
    "perturbation_limits",
]


# ----------------------------------------------------------------------------------------------
# the weight <v>
# ----------------------------------------------------------------------------------------------

def japanese_bracket(r: torch.Tensor, k: float = 1.0) -> torch.Tensor:
    r"""The weight :math:`\langle v\rangle^k = (1+|v|^2)^{k/2}` from radii :math:`r=|v|` (1-D) or points ``(M, d)``.

    A 1-D tensor is read as radii; a 2-D tensor as points (the norm is taken over the last axis).

    Example:
        >>> [round(x, 12) for x in japanese_bracket(torch.tensor([0.0, 1.0], dtype=torch.float64)).tolist()]
        [1.0, 1.414213562373]
        >>> japanese_bracket(torch.tensor([[1.0, 2.0, 2.0]], dtype=torch.float64), k=-2.0).tolist()   # 1 / 10
        [0.1]
    """
    r = check_finite_float(r, "r")
    k = check_real(k, "k")
    r2 = (r * r).sum(-1) if r.ndim == 2 else r * r
    return torch.sqrt(1.0 + r2) if k == 1.0 else (1.0 + r2).pow(0.5 * k)


def _weight(quad: Quadrature, k: float, like: torch.Tensor) -> torch.Tensor | float:
    """:math:`\\langle v_k\\rangle^k` at the nodes (the number 1.0 for ``k = 0``)."""
    if k == 0.0:
        return 1.0
    v = quad.points.to(dtype=like.dtype)
    return (1.0 + (v * v).sum(1)).pow(0.5 * k)


# ----------------------------------------------------------------------------------------------
# values at the nodes
# ----------------------------------------------------------------------------------------------

def _values(f: Density, quad: Quadrature, name: str) -> torch.Tensor:
    vals = quad.evaluate(f, name)
    check_finite_tensor(vals, name)
    return vals


def _density_and_log(f: Density, quad: Quadrature, name: str, log_densities: bool) -> tuple[torch.Tensor, torch.Tensor]:
    vals = quad.evaluate(f, name)
    if log_densities:
        if bool(torch.isnan(vals).any()) or bool((vals == math.inf).any()):
            raise ValueError(f"{name} (a log-density) must not be NaN or +inf")
        return torch.exp(vals), vals
    check_finite_tensor(vals, name)
    if bool((vals < 0).any()):
        raise ValueError(f"{name} must be >= 0 at every node (a density)")
    return vals, torch.log(vals)


def _density(f: Density, quad: Quadrature, name: str, log_densities: bool) -> torch.Tensor:
    """Density values at the nodes (``exp`` of log-densities), finite; no sign check for plain values."""
    return _density_and_log(f, quad, name, True)[0] if log_densities else _values(f, quad, name)


def _score_sq(s: Density, quad: Quadrature, name: str) -> torch.Tensor:
    r""":math:`|s|^2` at the nodes from scores ``(M, d)`` or, on a radial (or 1-D) rule, radial components ``(M,)``."""
    vals = s(quad.points) if callable(s) and not isinstance(s, torch.Tensor) else s
    vals = check_tensor(vals, name)
    radial_ok = quad.kind == "radial" or quad.d == 1
    if vals.shape == quad.points.shape:
        check_finite_tensor(vals, name)
        return (vals * vals).sum(1)
    if radial_ok and vals.shape == (quad.size,):
        check_finite_tensor(vals, name)
        return vals * vals
    want = f"{tuple(quad.points.shape)}" + (f" or ({quad.size},) (radial components)" if radial_ok else "")
    raise ValueError(f"{name} must have shape {want}, got {tuple(vals.shape)}")


def _check_k(k: object) -> float:
    return check_real(k, "k")


def _check_p(p: object) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"p must be a real number in [1, inf], got {type(p).__name__}")
    p = float(p)
    if p == math.inf:
        return p
    if math.isnan(p):
        raise ValueError("p must lie in [1, inf], got nan")
    return check_real(p, "p", lo=1.0)


# ----------------------------------------------------------------------------------------------
# integrals, moments, entropy, KL
# ----------------------------------------------------------------------------------------------

def integrate(f: Density, quad: Quadrature) -> torch.Tensor:
    r""":math:`\int f\,dv \approx \sum_k w_kf(v_k)`.

    Example:
        >>> from landau_lite.analysis.quadrature import radial_quadrature
        >>> q = radial_quadrature(3, 12.0)
        >>> round(float(integrate(lambda v: (2 * math.pi) ** -1.5 * torch.exp(-0.5 * (v * v).sum(1)), q)), 12)
        1.0
    """
    quad = check_quadrature(quad)
    return quad.integrate(quad.evaluate(f, "f"))


def moment(f: Density, quad: Quadrature, k: float = 0.0) -> torch.Tensor:
    r"""Weighted moment :math:`m_k(f) = \int f\langle v\rangle^k\approx\sum_iw_if_i\langle v_i\rangle^k` (0-dim tensor).

    (The particle version, :math:`\frac1N\sum_j\langle X_j\rangle^k`, is :func:`landau_lite.diagnostics.weighted_moment`.)

    Example (:math:`N(0, I)` in 3-D: :math:`m_2 = 1 + E|v|^2 = 4`):
        >>> from landau_lite.analysis.quadrature import radial_quadrature
        >>> q = radial_quadrature(3, 12.0, panels=64, order=16)
        >>> round(float(moment(lambda v: (2 * math.pi) ** -1.5 * torch.exp(-0.5 * (v * v).sum(1)), q, 2.0)), 10)
        4.0
    """
    quad = check_quadrature(quad)
    k = _check_k(k)
    fv = _values(f, quad, "f")
    return quad.integrate(fv * _weight(quad, k, fv))


def entropy(f: Density, quad: Quadrature, *, log_densities: bool = False) -> torch.Tensor:
    r"""Entropy functional :math:`H(f) = \int f\log f` (with :math:`0\log 0 = 0`).

    For :math:`N(\mu,\Sigma)`, :math:`H = -\frac d2\log(2\pi e) - \frac12\log\det\Sigma`
    (:func:`landau_lite.analysis.gaussian.gaussian_entropy`).

    Example:
        >>> from landau_lite.analysis.quadrature import line_quadrature
        >>> q = line_quadrature(12.0)
        >>> h = entropy(lambda v: torch.exp(-0.5 * v[:, 0] ** 2) / math.sqrt(2 * math.pi), q)
        >>> round(float(h), 10) == round(-0.5 * math.log(2 * math.pi * math.e), 10)
        True
    """
    quad = check_quadrature(quad)
    fv, lf = _density_and_log(f, quad, "f", log_densities)
    pos = fv > 0
    integrand = torch.where(pos, fv * torch.where(pos, lf, torch.zeros_like(lf)), torch.zeros_like(fv))
    return quad.integrate(integrand)


def kl_divergence(f: Density, g: Density, quad: Quadrature, *, log_densities: bool = False,
                  nonnegative: bool = False) -> torch.Tensor:
    r"""Relative entropy :math:`\mathrm{KL}(f\Vert g) = \int f\log\frac fg` by quadrature (:math:`0\log0 = 0`).

    Raises ``ValueError`` if :math:`g = 0` at a node where :math:`f > 0` (the divergence is :math:`+\infty` there);
    pass log-densities with ``log_densities=True`` when :math:`g` underflows in the tails.

    With ``nonnegative=True`` the integrand is :math:`f\log\frac fg-f+g\ \ge0` instead, whose integral is the same
    for two densities of equal mass. Every term is then nonnegative, so there is no cancellation: use it when
    :math:`f\approx g` and KL is tiny (the plain sum loses digits like :math:`10^{-16}/\mathrm{KL}^{1/2}`).

    Example (:math:`\mathrm{KL}(N(0,I)\Vert N(0,2I)) = \tfrac32(\log2-\tfrac12)` in 3-D, both forms):
        >>> from landau_lite.analysis.quadrature import radial_quadrature
        >>> q = radial_quadrature(3, 16.0, panels=64, order=16)
        >>> f = lambda v: (2 * math.pi) ** -1.5 * torch.exp(-(v * v).sum(1) / 2)
        >>> g = lambda v: (4 * math.pi) ** -1.5 * torch.exp(-(v * v).sum(1) / 4)
        >>> exact = 1.5 * (math.log(2) - 0.5)
        >>> [bool(abs(float(kl_divergence(f, g, q, nonnegative=b)) - exact) < 1e-10) for b in (False, True)]
        [True, True]
    """
    quad = check_quadrature(quad)
    if not isinstance(nonnegative, bool):
        raise TypeError("nonnegative must be a bool")
    fv, lf = _density_and_log(f, quad, "f", log_densities)
    gv, lg = _density_and_log(g, quad, "g", log_densities)
    if fv.dtype != gv.dtype:
        raise TypeError(f"f and g must have the same dtype, got {fv.dtype} and {gv.dtype}")
    pos = fv > 0
    if bool((pos & torch.isinf(lg)).any()):
        raise ValueError("g must be > 0 wherever f > 0 (otherwise KL(f||g) = +inf)")
    diff = torch.where(pos, lf - torch.where(pos, lg, torch.zeros_like(lg)), torch.zeros_like(lf))
    if not nonnegative:
        return quad.integrate(torch.where(pos, fv * diff, torch.zeros_like(fv)))
    # f log(f/g) - f + g = g * phi(x), x = f/g - 1, phi(x) = (1+x) log1p(x) - x >= 0: log1p keeps x ~ 0 accurate;
    # far from x = 0 (where there is no cancellation) the direct form avoids 0 * log(0)
    one = torch.ones_like(fv)
    fs, gs = torch.where(pos, fv, one), torch.where(pos, gv, one)
    x = torch.expm1(diff) if log_densities else fs / gs - 1.0
    near = x.abs() < 0.5
    xs = torch.where(near, x, torch.zeros_like(x))
    series = gs * ((1.0 + xs) * torch.log1p(xs) - xs)
    direct = fs * diff - fs + gs
    return quad.integrate(torch.where(pos, torch.where(near, series, direct), gv))


# ----------------------------------------------------------------------------------------------
# L^p norms and distances
# ----------------------------------------------------------------------------------------------

def _lp(values: torch.Tensor, quad: Quadrature, p: float) -> torch.Tensor:
    r""":math:`(\sum_kw_k|x_k|^p)^{1/p}` (``max |x_k|`` for ``p = inf``) of values that are already ``>= 0``."""
    if p == math.inf:
        return values.max()
    if p == 1.0:
        return quad.integrate(values)
    if p == 2.0:
        return quad.integrate(values * values).sqrt()
    return quad.integrate(values.pow(p)).pow(1.0 / p)


def lp_norm(f: Density, quad: Quadrature, p: float, *, k: float = 0.0, log_densities: bool = False) -> torch.Tensor:
    r"""Weighted norm :math:`\|\langle v\rangle^kf\|_{L^p} = \big(\int\langle v\rangle^{kp}|f|^p\big)^{1/p}`, :math:`1\le p\le\infty`.

    For :math:`p=\infty` the maximum of :math:`\langle v\rangle^k|f|` over the nodes (a lower estimate of the
    essential supremum). With :math:`k=3`, :math:`p=2` this is :math:`\|\langle v\rangle^3f\|_{L^2}`, the quantity of
    Lemma 3.2 and Lemma 3.3 of Ilin (2025).

    Example (:math:`\|f\|_{L^2}^2 = (4\pi)^{-3/2}` for :math:`N(0,I)` in 3-D):
        >>> from landau_lite.analysis.quadrature import radial_quadrature
        >>> q = radial_quadrature(3, 12.0, panels=64, order=16)
        >>> f = lambda v: (2 * math.pi) ** -1.5 * torch.exp(-(v * v).sum(1) / 2)
        >>> round(float(lp_norm(f, q, 2)) ** 2 * (4 * math.pi) ** 1.5, 10)
        1.0
    """
    quad = check_quadrature(quad)
    p = _check_p(p)
    k = _check_k(k)
    fv = _density(f, quad, "f", log_densities)
    return _lp(fv.abs() * _weight(quad, k, fv), quad, p)


def lp_distance(f: Density, g: Density, quad: Quadrature, p: float, *, log_densities: bool = False) -> torch.Tensor:
    r""":math:`\|f-g\|_{L^p} = \big(\int|f-g|^p\big)^{1/p}`, :math:`1\le p<\infty`; for :math:`p=\infty` the maximum of
    :math:`|f-g|` over the nodes (a lower estimate of the essential supremum).

    Example:
        >>> from landau_lite.analysis.quadrature import line_quadrature
        >>> q = line_quadrature(12.0)
        >>> f = lambda v: torch.exp(-0.5 * v[:, 0] ** 2) / math.sqrt(2 * math.pi)
        >>> round(float(lp_distance(f, lambda v: 0 * v[:, 0], q, 2)) ** 2, 12) == round(0.5 / math.sqrt(math.pi), 12)
        True
    """
    quad = check_quadrature(quad)
    p = _check_p(p)
    fv = _density(f, quad, "f", log_densities)
    gv = _density(g, quad, "g", log_densities)
    return _lp((fv - gv).abs(), quad, p)


def sup_norm(f: Density, quad: Quadrature, *, log_densities: bool = False) -> torch.Tensor:
    r""":math:`\max_k|f(v_k)|` over the nodes: a lower estimate of :math:`\|f\|_{L^\infty}` (exact if the maximiser is a node).

    Example:
        >>> from landau_lite.analysis.quadrature import line_quadrature
        >>> q = line_quadrature(5.0, panels=1, order=5)       # 0 is a node
        >>> float(sup_norm(lambda v: torch.exp(-v[:, 0] ** 2), q))
        1.0
    """
    return lp_norm(f, quad, math.inf, log_densities=log_densities)


# ----------------------------------------------------------------------------------------------
# Fisher information
# ----------------------------------------------------------------------------------------------

def _fisher(f: Density, sq: torch.Tensor, quad: Quadrature, k: float) -> torch.Tensor:
    r""":math:`\int f\langle v\rangle^k\,\text{sq}` with ``sq`` a squared score norm at the nodes."""
    fv = _values(f, quad, "f")
    if bool((fv < 0).any()):
        raise ValueError("f must be >= 0 at every node (a density)")
    return quad.integrate(fv * _weight(quad, k, fv) * sq)


def fisher_information(f: Density, score: Density, quad: Quadrature, *, k: float = 0.0) -> torch.Tensor:
    r"""Weighted Fisher information :math:`I_k(f) = \int f\langle v\rangle^k|\nabla\log f|^2` (:math:`I = I_0`).

    .. math:: I_k(f) \approx \sum_i w_i\, f(v_i)\,\langle v_i\rangle^k\,|s(v_i)|^2,\qquad s = \nabla\log f .

    Args:
        f: density values at the nodes ``(M,)`` or a callable.
        score: :math:`\nabla\log f` at the nodes ``(M, d)`` (or a callable), or its radial component ``(M,)`` on a
            radial rule (e.g. :meth:`landau_lite.radial.RadialGrid.score` on
            :func:`~landau_lite.analysis.quadrature.shell_quadrature`).
        quad: the rule. k: weight exponent (any real).

    Example (:math:`N(0,I)` in 3-D: :math:`I_0 = 3`, :math:`I_2 = E[(1+|v|^2)|v|^2] = 18`):
        >>> from landau_lite.analysis.quadrature import radial_quadrature
        >>> q = radial_quadrature(3, 12.0, panels=64, order=16)
        >>> f = lambda v: (2 * math.pi) ** -1.5 * torch.exp(-(v * v).sum(1) / 2)
        >>> [round(float(fisher_information(f, lambda v: -v, q, k=k)), 8) for k in (0, 2)]
        [3.0, 18.0]
    """
    quad = check_quadrature(quad)
    k = _check_k(k)
    return _fisher(f, _score_sq(score, quad, "score"), quad, k)


def relative_fisher_information(f: Density, score_f: Density, score_g: Density, quad: Quadrature, *,
                                k: float = 0.0) -> torch.Tensor:
    r"""Relative Fisher information :math:`I_k(f|g) = \int f\langle v\rangle^k\,|\nabla\log f - \nabla\log g|^2` (:math:`k=0` by default).

    ``score_f``, ``score_g``: values ``(M, d)`` at the nodes or callables ``v -> (M, d)`` (``(M,)`` radial components
    on a radial rule). For the Maxwellian :math:`M = N(0, I)`, :math:`\nabla\log M(v) = -v`.

    Example:
        >>> from landau_lite.analysis.quadrature import radial_quadrature
        >>> q = radial_quadrature(3, 12.0)
        >>> f = lambda v: (2 * math.pi * 2.0) ** -1.5 * torch.exp(-0.25 * (v * v).sum(1))    # N(0, 2 I)
        >>> round(float(relative_fisher_information(f, lambda v: -v / 2, lambda v: -v, q)), 10)   # d (1/2)^2 * 2
        1.5
    """
    quad = check_quadrature(quad)
    k = _check_k(k)
    sf = score_f(quad.points) if callable(score_f) and not isinstance(score_f, torch.Tensor) else score_f
    sg = score_g(quad.points) if callable(score_g) and not isinstance(score_g, torch.Tensor) else score_g
    sf, sg = check_tensor(sf, "score_f"), check_tensor(sg, "score_g")
    if sf.shape != sg.shape:
        raise ValueError(f"score_f and score_g must have the same shape, got {tuple(sf.shape)} and {tuple(sg.shape)}")
    return _fisher(f, _score_sq(sf - sg, quad, "score_f - score_g"), quad, k)


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
    k = _check_k(k)
    return ((1.0 + (x * x).sum(1)).pow(0.5 * k) * (s * s).sum(1)).mean()


# ----------------------------------------------------------------------------------------------
# Pinsker ratios
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PinskerRatios:
    r"""The quantities of the two Pinsker inequalities for one pair :math:`(f, g)` (0-dim tensors).

    Attributes:
        kl: :math:`\mathrm{KL}(f\Vert g)`.
        l1, l2: :math:`\|f-g\|_{L^1}`, :math:`\|f-g\|_{L^2}`.
        sup: :math:`\mathsf M = \max(\|f\|_\infty,\|g\|_\infty)` (as given, or the maximum over the nodes).
        ratio_l1: :math:`\|f-g\|_1^2/(2\,\mathrm{KL})` — classical Pinsker says :math:`\le 1`.
        ratio_l2: :math:`\|f-g\|_2^2/(2\mathsf M\,\mathrm{KL})` — the :math:`L^2` version (Lemma 2.3 of Ilin (2025),
            after Wang (2017)) says :math:`\le 1`.
    """

    kl: torch.Tensor
    l1: torch.Tensor
    l2: torch.Tensor
    sup: torch.Tensor
    ratio_l1: torch.Tensor
    ratio_l2: torch.Tensor


def _positive_like(value: object, name: str, like: torch.Tensor) -> torch.Tensor:
    v = float(value.detach()) if isinstance(value, torch.Tensor) else value
    return torch.as_tensor(check_positive(v, name), dtype=like.dtype, device=like.device)


def pinsker_ratios(f: Density, g: Density, quad: Quadrature, *, kl: object = None, sup: object = None,
                   log_densities: bool = False) -> PinskerRatios:
    r"""Both Pinsker ratios of a pair of densities:

    .. math::

        \rho_1 = \frac{\|f-g\|_{L^1}^2}{2\,\mathrm{KL}(f\Vert g)},\qquad
        \rho_2 = \frac{\|f-g\|_{L^2}^2}{2\max(\|f\|_\infty,\|g\|_\infty)\,\mathrm{KL}(f\Vert g)} .

    Args:
        f, g: densities (values at ``quad.points`` or callables); log-densities if ``log_densities``.
        quad: a :class:`~landau_lite.analysis.quadrature.Quadrature`.
        kl: an exact :math:`\mathrm{KL}(f\Vert g)` (e.g. :func:`landau_lite.analysis.gaussian.gaussian_kl`) to use
            instead of the quadrature value.
        sup: an exact :math:`\max(\|f\|_\infty,\|g\|_\infty)`; default: the maximum over the nodes, which can only
            underestimate it and so only *increase* :math:`\rho_2` (a conservative check of :math:`\rho_2\le1`).

    Raises:
        ValueError: if :math:`\mathrm{KL}(f\Vert g)\le 0` (the ratios are undefined for :math:`f = g`).

    Example:
        >>> from landau_lite.analysis.quadrature import line_quadrature
        >>> q = line_quadrature(14.0)
        >>> logn = lambda m: (lambda v: -0.5 * (v[:, 0] - m) ** 2 - 0.5 * math.log(2 * math.pi))
        >>> r = pinsker_ratios(logn(0.0), logn(0.5), q, log_densities=True)
        >>> round(float(r.kl), 10), bool(r.ratio_l1 <= 1), bool(r.ratio_l2 <= 1)
        (0.125, True, True)
    """
    quad = check_quadrature(quad)
    fv, _ = _density_and_log(f, quad, "f", log_densities)
    gv, _ = _density_and_log(g, quad, "g", log_densities)
    kl_t = kl_divergence(f, g, quad, log_densities=log_densities) if kl is None else _positive_like(kl, "kl", fv)
    if not bool(kl_t > 0):
        raise ValueError(f"KL(f||g) must be > 0 for the ratios to be defined, got {float(kl_t.detach()):.3g}")
    sup_t = torch.maximum(fv.abs().max(), gv.abs().max()) if sup is None else _positive_like(sup, "sup", fv)
    diff = (fv - gv).abs()
    l1 = _lp(diff, quad, 1.0)
    l2 = _lp(diff, quad, 2.0)
    return PinskerRatios(kl=kl_t, l1=l1, l2=l2, sup=sup_t,
                         ratio_l1=l1 * l1 / (2.0 * kl_t), ratio_l2=l2 * l2 / (2.0 * sup_t * kl_t))


def perturbation_limits(f: Density, h: Density, quad: Quadrature, *, sup: object = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Limits of the two Pinsker ratios for :math:`g_\varepsilon = f(1+\varepsilon h)`, :math:`\int fh = 0`, as :math:`\varepsilon\to0`.

    Since :math:`\mathrm{KL}(f\Vert g_\varepsilon) = \frac{\varepsilon^2}{2}\int fh^2 + O(\varepsilon^3)`,
    :math:`\|f-g_\varepsilon\|_1 = \varepsilon\int f|h|` and :math:`\|f-g_\varepsilon\|_2^2 = \varepsilon^2\int f^2h^2`:

    .. math::

        \rho_1 \to \frac{\big(\int f|h|\big)^2}{\int fh^2}\le 1,\qquad
        \rho_2 \to \frac{\int f^2h^2}{\|f\|_\infty\int fh^2}\le 1 .

    The first is 1 only if :math:`|h|` is constant on :math:`\{f>0\}`; the second only if :math:`f = \|f\|_\infty` where
    :math:`h\ne0`. ``sup``: exact :math:`\|f\|_\infty` (default: maximum over the nodes). Returns ``(rho1, rho2)``.

    Example:
        >>> from landau_lite.analysis.quadrature import line_quadrature
        >>> q = line_quadrature(14.0)
        >>> f = lambda v: torch.exp(-0.5 * v[:, 0] ** 2) / math.sqrt(2 * math.pi)
        >>> r1, r2 = perturbation_limits(f, lambda v: v[:, 0], q)      # a mean shift
        >>> round(float(r1), 10) == round(2 / math.pi, 10)
        True
    """
    quad = check_quadrature(quad)
    fv, _ = _density_and_log(f, quad, "f", False)
    hv = _values(h, quad, "h")
    m2 = quad.integrate(fv * hv * hv)
    if not bool(m2 > 0):
        raise ValueError("h must not vanish f-almost everywhere (int f h^2 > 0)")
    mean = quad.integrate(fv * hv)
    scale = quad.integrate(fv * hv.abs())
    if float(mean.detach().abs()) > 1e-6 * max(float(scale.detach()), 1e-300):
        raise ValueError(f"h must have zero mean under f (int f h = 0) for g = f(1 + eps h) to be a density; "
                         f"got {float(mean.detach()):.3g}")
    sup_t = fv.abs().max() if sup is None else _positive_like(sup, "sup", fv)
    return scale * scale / m2, quad.integrate(fv * fv * hv * hv) / (sup_t * m2)
