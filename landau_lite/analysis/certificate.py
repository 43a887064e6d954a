r"""The a-posteriori certificate of Theorem 4.2 of Ilin (2025), and KL estimators for particle runs.

Setting (Theorem 4.2; the weight of the loss is our reconstruction, see the book's appendix 'What we rebuilt'):
:math:`f_t` is the exact Landau solution, :math:`g_t` the density of a score-based particle method (SBTM of
Ilin, Hu and Wang (2025) and Huang and Wang (2025), or the blob method of Carrillo, Hu, Wang and Wu (2020)),
transported by :math:`\partial_tg+\nabla\cdot(g\,U^s[g])=0` with :math:`U^s[g](v)=-\int A(v-w)(s(v)-s(w))g(w)\,dw`.
With :math:`\delta = s-\nabla\log g` and :math:`\Phi=\nabla\log(f/g)`,

.. math::

    \frac{d}{dt}\mathrm{KL}(f_t\Vert g_t) &= \underbrace{\iint f(v)g(w)\,\Phi(v)\cdot A(v-w)\big(\delta(v)-\delta(w)\big)}_{T_1}
    \\&\quad -\int f\,\Phi\cdot\bar a[g]\Phi-\int f\,\Phi\cdot R, \\
    R &= \bar a[f-g]\nabla\log f-\bar b[f-g],

and Cauchy–Schwarz in the positive semi-definite forms :math:`A(v-w)` and :math:`\bar a[g]=A*g` gives

.. math::

    \frac{d}{dt}\mathrm{KL}(f_t\Vert g_t) &\le \tfrac14\big(\sqrt{\mathcal L_t}+\sqrt{\mathcal R_t}\big)^2, \\
    \mathcal L_t &= \iint f(v)g(w)\,(\delta(v)-\delta(w))\cdot A(v-w)(\delta(v)-\delta(w)), \\
    \mathcal R_t &= \int f\,R\cdot\bar a[g]^{-1}R .

This module computes the particle versions of these quantities:

* the A-weighted pair loss :math:`\hat{\mathcal L}` is :func:`landau_lite.diagnostics.pair_weighted_loss` (the solver
  logs it); :func:`abar_weighted_loss` is :math:`\int g\,\delta\cdot\bar a[g]\delta`, the :math:`\bar a`-weighted
  loss; :math:`\hat{\mathcal L}\le 4\,\hat{\mathcal L}_{\bar a}` on particles;
* :func:`maxwell_remainder` — :math:`\mathcal R_t` for Maxwell molecules (:math:`\gamma=0`), where
  :math:`\bar a[f-g]` and :math:`\bar b[f-g]` depend only on moments; :func:`sample_at` — exact samples of :math:`f_t`;
* :func:`sharp_bound` — the bound above integrated in time (the general Grönwall bound is
  :func:`landau_lite.analysis.gronwall.gronwall_bound`);
* **KL from particles**: :func:`kl_kde` (:math:`f_t` known, a Gaussian KDE of the particles) and
  :func:`kl_kde_samples` (two samples, the same estimator with a KDE for :math:`f` too), with :func:`kde_kl_bias`, the
  predicted bias on exact samples; :func:`gaussian_fit_kl` (moments only); and :func:`kl_from_log_ratio` with
  :func:`velocity_divergence`, :func:`score_jacobian` and :class:`CharacteristicTracker` — the density carried along
  the particle paths, :math:`\frac{d}{dt}\log g(X_t)=-\nabla\cdot U^s(X_t)`, which gives both
  :math:`\mathrm{KL}(f\Vert g)` and :math:`\mathrm{KL}(g\Vert f)` from the particles alone.

Since :math:`\nabla\log g` is unknown, the particle losses use the **proxy**
:math:`\tilde\delta = s-\nabla\log f` (exact score of the test problem). The triangle inequality in the
seminorm gives :math:`\sqrt{\mathcal L}\le\sqrt{\tilde{\mathcal L}}+\sqrt{\mathcal L[\Phi]}`, and
:math:`\mathcal L[\Phi]` is second order in :math:`g-f`; so the proxy certificate agrees with the theorem's to
first order but is not itself a proven bound.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch

from .._checks import (check_choice, check_field_inputs, check_finite_float, check_gamma, check_int, check_pair,
                       check_particles, check_points, check_positive, check_real, check_same_device_dtype)
from ..diagnostics import kde_bandwidth, kde_density, log_kde_density, pair_weighted_loss
from ..problems import BKW, Maxwellian, Problem
from ..velocity import VelocityField, collision_drift, collision_matrix, velocity_at
from .divergences import kl_divergence
from .gaussian import gaussian_kl
from .gronwall import Series, check_series, gronwall_bound
from .quadrature import radial_quadrature

__all__ = [
    "abar_weighted_loss",
    "sharp_bound",
    "sample_at",
    "maxwell_remainder",
    "kl_kde",
    "kl_kde_samples",
    "kde_kl_bias",
    "gaussian_fit_kl",
    "kl_from_log_ratio",
    "score_jacobian",
    "velocity_divergence",
    "CharacteristicTracker",
]

def abar_weighted_loss(x: torch.Tensor, delta: torch.Tensor, *, gamma: float, C: float,
                       y: torch.Tensor | None = None, delta_y: torch.Tensor | None = None,
                       chunk_size: int | None = None) -> float:
    r"""The :math:`\bar a`-weighted score-matching loss ("weighted score matching loss" of the authors' code).

    .. math::

        \hat{\mathcal L}_{\bar a} = \frac1M\sum_m \delta(y_m)\cdot\bar a[g^N](y_m)\,\delta(y_m),\qquad
        \bar a[g^N](v) = \frac1N\sum_j A(v-x_j),

    with :math:`y=x` (the particles) by default. On the particles,
    :math:`(\delta_i-\delta_j)\cdot A(\delta_i-\delta_j)\le 2\delta_i\cdot A\delta_i+2\delta_j\cdot A\delta_j` gives
    :math:`\hat{\mathcal L}\le 4\,\hat{\mathcal L}_{\bar a}` (:func:`pair_weighted_loss`).

    Args:
        x: particles ``(N, d)``; delta: field at the particles (used when ``y`` is None).
        gamma, C: kernel. y, delta_y: optional evaluation points ``(M, d)`` and the field there.
        chunk_size: rows per chunk of :func:`landau_lite.velocity.collision_matrix` (:math:`\gamma\ne0`).

    Example:
        >>> x = torch.randn(300, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        >>> d = torch.randn(300, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
        >>> pair_weighted_loss(x, d, gamma=0.0, C=1.0) <= 4 * abar_weighted_loss(x, d, gamma=0.0, C=1.0)
        True
    """
    x, delta, gamma, C, y, delta_y = check_field_inputs(x, delta, gamma, C, y, delta_y)
    if y is None:
        y, delta_y = x, delta
    if chunk_size is not None:
        check_int(chunk_size, "chunk_size", lo=1)
    abar = collision_matrix(y, x, gamma=gamma, C=C, chunk_size=chunk_size)
    return float(torch.einsum("mi,mij,mj->m", delta_y, abar, delta_y).mean())


# ----------------------------------------------------------------------------------------------
# the bound of Theorem 4.2
# ----------------------------------------------------------------------------------------------

def sharp_bound(times: Series, loss: Series, remainder: Series | None = None,
                initial: float = 0.0) -> torch.Tensor | np.ndarray:
    r"""The certificate with the coercive term spent entirely (Young's inequality optimised pointwise):

    .. math::

        \mathrm{KL}(f_t\Vert g_t)\le\mathrm{KL}(f_0\Vert g_0)+\frac14\int_{t_0}^t\big(\sqrt{\mathcal L_\tau}+\sqrt{\mathcal R_\tau}\big)^2d\tau ,

    :func:`landau_lite.analysis.gronwall.gronwall_bound` with no rate and this source. ``loss`` is
    :math:`\mathcal L_\tau\ge0`, ``remainder`` is :math:`\mathcal R_\tau\ge0` (default 0), sampled at ``times``; the result
    has the kind of ``times`` (tensor or numpy array).

    Example:
        >>> sharp_bound([0.0, 1.0], [4.0, 4.0]).tolist()
        [0.0, 1.0]
    """
    t, L = check_series(times, loss, "loss")
    rho = torch.zeros_like(L) if remainder is None else check_series(times, remainder, "remainder")[1]
    if bool((L < 0).any()) or bool((rho < 0).any()):
        raise ValueError("loss and remainder must be >= 0")
    y0 = check_real(initial, "initial", lo=0.0)
    return gronwall_bound(times, y0, source=0.25 * (torch.sqrt(L) + torch.sqrt(rho)) ** 2)


# ----------------------------------------------------------------------------------------------
# exact side: samples of f_t, the Maxwell-molecule remainder
# ----------------------------------------------------------------------------------------------

def _check_problem(problem: Any) -> Problem:
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a landau_lite Problem, got {type(problem).__name__}")
    return problem


def sample_at(problem: Any, t: float, n: int, *, generator: torch.Generator | None = None,
              dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu") -> torch.Tensor:
    r"""``n`` exact samples of :math:`f(t,\cdot)` for a problem known at every time (``problem.exact_in_time``).

    :meth:`~landau_lite.problems.Problem.sample` with ``t``: BKW is sampled exactly, a Maxwellian is stationary, and
    the isotropic Coulomb problem (``bkw3_coulomb``) draws the radius from its radial reference.

    Example:
        >>> from landau_lite.problems import get_problem
        >>> sample_at(get_problem("bkw3"), 7.0, 5, generator=torch.Generator().manual_seed(0)).shape
        torch.Size([5, 3])
        >>> sample_at(get_problem("bkw3_coulomb"), 1.0, 4, generator=torch.Generator().manual_seed(0)).shape
        torch.Size([4, 3])
    """
    problem = _check_problem(problem)
    t = check_real(t, "t")
    n = check_int(n, "n", lo=1)
    if not problem.exact_in_time:
        raise ValueError(f"problem must be known at every time (exact_in_time), e.g. bkw3, bkw3_coulomb or a "
                         f"Maxwellian; got {type(problem).__name__} {problem.name!r}")
    if t < problem.t_min:
        raise ValueError(f"t must be >= {problem.t_min:.6g}, the earliest time of {problem.name!r} (for BKW: its "
                         f"critical time), got {t}")
    return problem.sample(n, t=t, generator=generator, dtype=dtype, device=device)


def maxwell_remainder(problem: Any, t: float, x: torch.Tensor, *, n_mc: int = 4000,
                      generator: torch.Generator | None = None, exact_moments: bool = False) -> float:
    r"""The Lemma 3.3 remainder :math:`\mathcal R_t=\int f\,R\cdot\bar a[g]^{-1}R` for Maxwell molecules (:math:`\gamma=0`).

    For :math:`h=f-g` with :math:`\int h=0`, :math:`\mu=\int hw`, :math:`E=\int h|w|^2`, :math:`\Sigma_2=\int h\,ww^T`,
    the kernel :math:`A(z)=C(|z|^2I-zz^T)` is quadratic, so

    .. math::

        \bar a[h](v) &= C\big[(E-2v\cdot\mu)I+v\mu^T+\mu v^T-\Sigma_2\big],\qquad \bar b[h]=C(d-1)\mu, \\
        R &= \bar a[h]\nabla\log f-\bar b[h].

    The moments of :math:`g` are those of the particles ``x``, :math:`\bar a[g]` is the particles' collision matrix
    (closed form), and the :math:`f`-integral is a Monte-Carlo mean over ``n_mc`` exact samples of :math:`f_t`.
    With ``exact_moments=True`` the continuum identities :math:`\mu=0`, :math:`E=0` (momentum and energy are
    conserved by :math:`U^s[g]`) are used and only :math:`M` is taken from the particles.

    Example:
        >>> from landau_lite.problems import get_problem
        >>> p = get_problem("bkw3"); g = torch.Generator().manual_seed(0)
        >>> x = sample_at(p, 6.5, 2000, generator=g)
        >>> 0.0 <= maxwell_remainder(p, 6.5, x, generator=g) < 0.01
        True
    """
    problem = _check_problem(problem)
    x = check_particles(x, "x")
    if problem.gamma != 0.0:
        raise ValueError(f"maxwell_remainder needs gamma = 0 (Maxwell molecules); problem has gamma = {problem.gamma}")
    if x.shape[1] != problem.d:
        raise ValueError(f"x must have dimension d = {problem.d}, got {x.shape[1]}")
    t = check_real(t, "t")
    n_mc = check_int(n_mc, "n_mc", lo=1)
    ref = problem.reference(t)
    if ref is None or "cov" not in ref:
        raise ValueError("problem.reference(t) must give the exact mean and covariance")
    dtype, dev = x.dtype, x.device
    d, C = problem.d, float(problem.C)
    mu_f = torch.as_tensor(ref["mean"], dtype=dtype).to(dev)
    M_f = torch.as_tensor(ref["cov"], dtype=dtype).to(dev) + torch.outer(mu_f, mu_f)
    mu_g = x.mean(0)
    M_g = x.T @ x / x.shape[0]
    mu = mu_f - mu_g
    M = M_f - M_g
    E = torch.trace(M)
    if exact_moments:
        mu = torch.zeros_like(mu)
        E = torch.zeros((), dtype=dtype, device=dev)
    y = sample_at(problem, t, n_mc, generator=generator, dtype=dtype, device=dev)
    s = problem.score(y, t)
    # a[h](y) s = C[(E - 2 y.mu) s + y (mu.s) + mu (y.s) - M s]
    ah_s = C * ((E - 2.0 * (y @ mu))[:, None] * s + y * (s @ mu)[:, None] + mu[None, :] * (y * s).sum(1, keepdim=True)
                - s @ M.T)
    R = ah_s - C * (d - 1) * mu[None, :]
    abar = collision_matrix(y, x, gamma=0.0, C=C)
    sol = torch.linalg.solve(abar, R.unsqueeze(-1)).squeeze(-1)
    return max(float((R * sol).sum(1).mean()), 0.0)


# ----------------------------------------------------------------------------------------------
# KL estimators
# ----------------------------------------------------------------------------------------------

def kl_kde_samples(x_f: torch.Tensor, x_g: torch.Tensor, *, log_f: torch.Tensor | None = None,
                   bandwidth: float | str | torch.Tensor = "scott", leave_one_out: bool = True) -> tuple[float, float]:
    r"""Estimate of :math:`\mathrm{KL}(f\Vert g)` from samples :math:`X_i\sim f` and particles :math:`Y_j\sim g`, with a Gaussian KDE of :math:`g`.

    .. math::

        \widehat{\mathrm{KL}} = \frac1N\sum_{i=1}^N\log\frac{f(X_i)}{\hat g(X_i)},\qquad
        \hat g(x) = \frac1{N'}\sum_j\phi_H(x-Y_j),

    where :math:`\log f(X_i)` is ``log_f`` when :math:`f` is known, and otherwise the leave-one-out KDE
    :math:`\hat f_{-i}(X_i) = \frac1{N-1}\sum_{l\ne i}\phi_H(X_i-X_l)` with the same kernel (``leave_one_out=False``:
    the plain KDE). ``bandwidth``: a number :math:`h` (:math:`H=h^2I`), a ``(d, d)`` matrix :math:`H`, or a rule
    (``"scott"``, ``"silverman"``, :func:`landau_lite.diagnostics.kde_bandwidth`) applied to the smoothed samples: the
    particles alone when ``log_f`` is given, the pooled sample otherwise.

    **Biased.** Smoothing lowers the divergence (data processing:
    :math:`\mathrm{KL}(f*\phi_H\Vert g*\phi_H)\le\mathrm{KL}(f\Vert g)`), but with :math:`f` known only :math:`g` is
    smoothed and even exact samples give :math:`\widehat{\mathrm{KL}}\approx\mathrm{KL}(f\Vert f*\phi_H)>0`
    (:func:`kde_kl_bias`); the sampling noise of the KDEs adds a positive bias of order :math:`1/(N\det H^{1/2})`, so a
    perturbation below the noise level is invisible.

    Returns:
        ``(estimate, standard error)`` (floats; the error is that of the mean over the :math:`X_i`).

    Example (two samples of the same law: the estimate is near 0, not exactly 0):
        >>> gen = torch.Generator().manual_seed(0)
        >>> x, y = (torch.randn(2000, 3, generator=gen, dtype=torch.float64) for _ in range(2))
        >>> abs(kl_kde_samples(x, y)[0]) < 0.05
        True
    """
    x_f = check_particles(x_f, "x_f", min_n=1 if log_f is not None else 2)
    x_g = check_particles(x_g, "x_g", min_n=1)
    if x_g.shape[1] != x_f.shape[1]:
        raise ValueError(f"x_g must have d = {x_f.shape[1]} columns like x_f, got {x_g.shape[1]}")
    check_same_device_dtype(x_f, x_g, "x_f", "x_g")
    if not isinstance(leave_one_out, bool):
        raise TypeError("leave_one_out must be a bool")
    tiny = torch.finfo(x_f.dtype).tiny
    if log_f is not None:
        if not isinstance(log_f, torch.Tensor) or log_f.shape != (x_f.shape[0],):
            raise ValueError(f"log_f must be a tensor of shape ({x_f.shape[0]},) (log f at the samples x_f)")
        check_same_device_dtype(x_f, log_f, "x_f", "log_f")
        H = bandwidth
    else:
        n, d = x_f.shape
        if isinstance(bandwidth, str):
            H = kde_bandwidth(torch.cat([x_f, x_g]), check_choice(bandwidth, "bandwidth", ("scott", "silverman")))
        elif isinstance(bandwidth, torch.Tensor) and bandwidth.ndim == 2:
            H = bandwidth
        else:
            b = float(bandwidth.reshape(())) if isinstance(bandwidth, torch.Tensor) else bandwidth
            h = check_positive(b, "bandwidth")
            H = h * h * torch.eye(d, dtype=x_f.dtype, device=x_f.device)
        f_hat = kde_density(x_f, x_f, bandwidth=H)          # validates H
        if leave_one_out:
            L = torch.linalg.cholesky(H.to(dtype=x_f.dtype, device=x_f.device))
            self_term = math.exp(-0.5 * d * math.log(2 * math.pi)) / float(torch.diagonal(L).prod())
            f_hat = (f_hat * n - self_term) / (n - 1)
        log_f = torch.log(f_hat.clamp_min(tiny))
    diff = log_f - log_kde_density(x_g, x_f, bandwidth=H)        # streamed: finite where the KDE underflows
    return float(diff.mean()), float(diff.std() / math.sqrt(diff.numel()))


def kl_kde(problem: Any, t: float, x: torch.Tensor, *, n_mc: int | None = None,
           generator: torch.Generator | None = None, bandwidth: float | str | torch.Tensor = "scott",
           y: torch.Tensor | None = None) -> tuple[float, float]:
    r""":math:`\mathrm{KL}(f_t\Vert g)` with :math:`g` a Gaussian KDE of the particles, by Monte Carlo under the exact :math:`f_t`:

    .. math::

        \widehat{\mathrm{KL}} &= \frac1M\sum_{m=1}^M\big(\log f_t(Y_m)-\log\hat g(Y_m)\big),\qquad Y_m\sim f_t, \\
        \hat g &= \frac1N\sum_j\phi_H(\cdot-x_j),

    i.e. :func:`kl_kde_samples` with ``log_f`` from the problem. The KDE smooths: even exact samples give
    :math:`\widehat{\mathrm{KL}}\approx\mathrm{KL}(f\Vert f*\phi_H)>0` (for :math:`f=N(0,I)`, :math:`H=h^2I`:
    :math:`\frac d2(\log(1+h^2)-\frac{h^2}{1+h^2})\approx\frac{d h^4}{4}`), plus a variance term of order
    :math:`1/(Nh^d)` (:func:`kde_kl_bias`). Compare runs with the same ``N`` and bandwidth rule, and with exact samples.

    Args:
        problem, t: an exact problem and the time. x: particles ``(N, d)``.
        n_mc: number of samples of :math:`f_t` (default ``4 N``), drawn with ``generator``; or pass them as ``y``.
        bandwidth: as in :func:`~landau_lite.diagnostics.kde_density` (a rule is applied to the particles).

    Returns:
        ``(estimate, standard error)`` (floats).

    Example:
        >>> from landau_lite.problems import get_problem
        >>> p = get_problem("bkw3"); g = torch.Generator().manual_seed(0)
        >>> kl, se = kl_kde(p, 6.0, sample_at(p, 6.0, 1000, generator=g), generator=g)
        >>> 0.0 < kl < 0.05
        True
    """
    problem = _check_problem(problem)
    x = check_particles(x, "x")
    t = check_real(t, "t")
    if x.shape[1] != problem.d:
        raise ValueError(f"x must have shape (N, {problem.d}) (the dimension of problem {problem.name!r}), "
                         f"got {tuple(x.shape)}")
    if y is None:
        m = 4 * x.shape[0] if n_mc is None else check_int(n_mc, "n_mc", lo=2)
        y = sample_at(problem, t, m, generator=generator, dtype=x.dtype, device=x.device)
    else:
        y = check_points(y, x.shape[1], "y")
        check_same_device_dtype(x, y, "x", "y")
    return kl_kde_samples(y, x, log_f=problem.log_density(y, t), bandwidth=bandwidth)


def gaussian_fit_kl(x_f: torch.Tensor, x_g: torch.Tensor) -> torch.Tensor:
    r"""KL between the Gaussians fitted to two samples, :math:`\mathrm{KL}(N(\hat m_f,\hat\Sigma_f)\Vert N(\hat m_g,\hat\Sigma_g))`.

    Sees only means and covariances (:func:`landau_lite.analysis.gaussian.gaussian_kl` of the sample moments): it is
    **not** an estimate of :math:`\mathrm{KL}(f\Vert g)` unless both are Gaussian, and it is blind to perturbations
    that keep the first two moments (e.g. two BKW solutions with the same energy: the fitted KL is pure sampling
    noise). Neither a lower nor an upper bound in general.

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


def _bkw_smoothed_density(problem: Any, v: torch.Tensor, t: float, s2: float) -> torch.Tensor:
    r""":math:`(f_t*\phi_{s^2})(v)` for BKW: with :math:`f=\phi_K(P+Q|v|^2)`, :math:`m=\frac{K}{K+s^2}v`, :math:`\sigma^2=\frac{Ks^2}{K+s^2}`,
    :math:`f*\phi_{s^2}=\phi_{K+s^2}(v)\big(P+Q(|m|^2+d\sigma^2)\big)`."""
    d = problem.d
    K, P, Q = problem.K(t), problem.P(t), problem.Q(t)
    Ks = K + s2
    r2 = (v * v).sum(1)
    m2 = (K / Ks) ** 2 * r2
    return (2.0 * math.pi * Ks) ** (-0.5 * d) * torch.exp(-r2 / (2.0 * Ks)) * (P + Q * (m2 + d * K * s2 / Ks))


def kde_kl_bias(problem: Any, t: float, n: int, bandwidth: float, *, r_max: float = 14.0,
                panels: int = 64) -> dict[str, float]:
    r"""Predicted bias of :func:`kl_kde` on ``n`` **exact** samples of a BKW solution, isotropic kernel :math:`H=h^2I`.

    Second-order expansion of :math:`\mathbb E[-\log\hat g]` around :math:`\bar g=f*\phi_{h^2}`
    (:math:`\mathbb E\log\hat g\approx\log\bar g-\operatorname{Var}\hat g/(2\bar g^2)`, with
    :math:`\operatorname{Var}\hat g=\frac1n\big((4\pi h^2)^{-d/2}f*\phi_{h^2/2}-\bar g^2\big)` for the Gaussian kernel):

    .. math::

        \mathbb E\,\widehat{\mathrm{KL}}\approx\underbrace{\mathrm{KL}(f\Vert f*\phi_{h^2})}_{\text{smoothing}}
        +\underbrace{\frac1{2n}\Big((4\pi h^2)^{-d/2}\int f\,\frac{f*\phi_{h^2/2}}{(f*\phi_{h^2})^2}-1\Big)}_{\text{variance}},

    both by radial quadrature (the smoothed BKW density is closed form). Returns ``smoothing``, ``variance`` and
    ``total``. The expansion neglects higher-order terms of :math:`\log`; it is a guide to 10–30 %.

    Example:
        >>> from landau_lite.problems import get_problem
        >>> b = kde_kl_bias(get_problem("bkw3"), 8.0, 1000, 1000 ** (-1 / 7))
        >>> 0.0 < b["smoothing"] < b["total"] < 0.1
        True
    """
    problem = _check_problem(problem)
    if not isinstance(problem, BKW):
        raise ValueError(f"problem must be a BKW problem, got {type(problem).__name__}")
    t = check_real(t, "t")
    if t < problem.critical_time:
        raise ValueError(f"t must be >= the critical time {problem.critical_time:.6g}, got {t}")
    n = check_int(n, "n", lo=1)
    h = check_positive(bandwidth, "bandwidth")
    q = radial_quadrature(problem.d, check_positive(r_max, "r_max"), panels=check_int(panels, "panels", lo=1))
    v = q.points
    f = torch.exp(problem.log_density(v, t))
    g = _bkw_smoothed_density(problem, v, t, h * h)
    g_half = _bkw_smoothed_density(problem, v, t, 0.5 * h * h)
    smoothing = float(kl_divergence(f, g, q))
    ratio = float(q.integrate(f * g_half / (g * g)))
    variance = 0.5 / n * ((4.0 * math.pi * h * h) ** (-0.5 * problem.d) * ratio - 1.0)
    return {"smoothing": smoothing, "variance": variance, "total": smoothing + variance}


def kl_from_log_ratio(log_f: torch.Tensor, log_g: torch.Tensor) -> dict[str, float]:
    r"""Both KL directions from the values :math:`\log f(X_i)`, :math:`\log g(X_i)` at particles :math:`X_i\sim g`.

    With :math:`r=f/g` (so :math:`\mathbb E_g r=1`):

    .. math::

        \mathrm{KL}(f\Vert g)=\mathbb E_g\big[r\log r-r+1\big],\qquad
        \mathrm{KL}(g\Vert f)=\mathbb E_g\big[r-1-\log r\big];

    both integrands are :math:`\ge0` (the :math:`\pm(r-1)` terms have mean zero and reduce the variance).

    Returns a dict with ``kl_fg``, ``kl_gf``, ``mass`` (:math:`\frac1N\sum r_i`, should be near 1) and the
    standard errors ``se_fg``, ``se_gf``, ``se_mass`` (of the three means).

    Example:
        >>> z = torch.zeros(10, dtype=torch.float64)
        >>> kl_from_log_ratio(z, z)["kl_fg"]
        0.0
    """
    if not isinstance(log_f, torch.Tensor) or not isinstance(log_g, torch.Tensor):
        raise TypeError("log_f and log_g must be torch tensors")
    if log_f.ndim != 1 or log_f.numel() < 2:
        raise ValueError(f"log_f must be 1-D with at least 2 entries, got shape {tuple(log_f.shape)}")
    check_finite_float(log_f, "log_f")
    log_g = check_pair(log_f, log_g, "log_f", "log_g")
    lr = (log_f - log_g).to(torch.float64)
    top = float(lr.max())
    limit = math.log(torch.finfo(torch.float64).max) - math.log(lr.numel()) - 1.0
    if top > limit:
        raise ValueError(f"log_f - log_g reaches {top:.4g} at a particle: f/g = e^{top:.4g} overflows float64 (the "
                         f"limit here is {limit:.4g}); KL(f||g) is then dominated by a few particles and this "
                         f"estimator is not reliable")
    r = torch.exp(lr)
    a = r * lr - r + 1.0
    b = r - 1.0 - lr
    n = math.sqrt(lr.numel())
    return {"kl_fg": float(a.mean()), "kl_gf": float(b.mean()), "mass": float(r.mean()),
            "se_fg": float(a.std() / n), "se_gf": float(b.std() / n), "se_mass": float(r.std() / n)}


# ----------------------------------------------------------------------------------------------
# density along characteristics
# ----------------------------------------------------------------------------------------------

def score_jacobian(score: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *,
                   h: float | None = None) -> torch.Tensor:
    r"""Jacobian :math:`J_{i,k,l}=\partial_k s_l(x_i)` of a score field by central differences,

    .. math:: \partial_k s(x)\approx\frac{s(x+he_k)-s(x-he_k)}{2h},

    error :math:`O(h^2)`; default :math:`h=\varepsilon^{1/3}` (:math:`\varepsilon` = machine epsilon of ``x``'s dtype).
    ``score`` is any callable ``(M, d) -> (M, d)``: a :class:`~landau_lite.scores.ScoreMethod`, a network,
    ``lambda v: problem.score(v, t)``. Returns ``(N, d, d)``.

    Example:
        >>> J = score_jacobian(lambda v: -2.0 * v, torch.zeros(4, 3, dtype=torch.float64))
        >>> torch.allclose(J, -2.0 * torch.eye(3, dtype=torch.float64).expand(4, 3, 3))
        True
    """
    if not callable(score):
        raise TypeError(f"score must be callable (M, d) -> (M, d), got {type(score).__name__}")
    x = check_particles(x, "x", min_n=1)
    h = float(torch.finfo(x.dtype).eps) ** (1.0 / 3.0) if h is None else check_positive(h, "h")
    n, d = x.shape
    eye = torch.eye(d, dtype=x.dtype, device=x.device)
    pts = torch.cat([x[None] + h * eye[:, None, :], x[None] - h * eye[:, None, :]], dim=0).reshape(2 * d * n, d)
    vals = score(pts)
    if not isinstance(vals, torch.Tensor) or vals.shape != (2 * d * n, d):
        raise ValueError(f"score must return a tensor of shape (M, {d})")
    vals = vals.reshape(2, d, n, d)
    return ((vals[0] - vals[1]) / (2.0 * h)).permute(1, 0, 2)


def velocity_divergence(v: torch.Tensor, s_v: torch.Tensor, jac_v: torch.Tensor, x: torch.Tensor, s: torch.Tensor,
                        *, gamma: float, C: float, chunk_size: int | None = None) -> torch.Tensor:
    r"""Divergence of the particle velocity field :math:`U^s(v)=-\frac1N\sum_jA(v-x_j)(s(v)-s_j)` at points ``v``:

    .. math::

        \nabla\cdot U^s(v) &= -\frac1N\sum_{j}\Big[A(v-x_j):\nabla s(v) \\
        &\qquad\qquad -(d-1)C|v-x_j|^\gamma (v-x_j)\cdot(s(v)-s_j)\Big] \\
        &= -\bar a(v):J(v)-\bar b(v)\cdot s(v) \\
        &\quad -\frac{C(d-1)}N\sum_j|v-x_j|^\gamma (v-x_j)\cdot s_j ,

    with :math:`A(z)=C|z|^\gamma(|z|^2I-z\otimes z)`, :math:`\bar a(v)=\frac1N\sum_jA(v-x_j)`,
    :math:`\bar b(v)=\frac1N\sum_j(\nabla\cdot A)(v-x_j)` (:math:`\nabla\cdot A(z)=-(d-1)C|z|^\gamma z` and :math:`A` is
    symmetric); a term with :math:`v=x_j` is 0.
    ``jac_v`` is :math:`J_{m,k,l}=\partial_ks_l(v_m)` (see :func:`score_jacobian`). Pass ``v = x`` for the divergence
    at the particles themselves. O(M + N) for :math:`\gamma=0`, chunked O(MN) otherwise.

    Args:
        v: points ``(M, d)``; s_v: score there ``(M, d)``; jac_v: ``(M, d, d)``.
        x: particles ``(N, d)``; s: scores at the particles. gamma, C: kernel. chunk_size: rows per chunk.

    Example:
        >>> x = torch.randn(4000, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        >>> J = -torch.eye(3, dtype=torch.float64).expand(4000, 3, 3)
        >>> div = velocity_divergence(x, -x, J, x, -x, gamma=0.0, C=1.0)   # U[N(0,I)] = 0 in the limit
        >>> float(div.abs().mean()) < 0.1
        True
    """
    x = check_particles(x, "x")
    s = check_pair(x, s, "x", "s")
    n, d = x.shape
    v = check_points(v, d, "v")
    check_same_device_dtype(x, v, "x", "v")
    s_v = check_pair(v, s_v, "v", "s_v")
    m = v.shape[0]
    if not isinstance(jac_v, torch.Tensor) or jac_v.shape != (m, d, d):
        raise ValueError(f"jac_v must be a tensor of shape ({m}, {d}, {d}), got "
                         f"{tuple(jac_v.shape) if isinstance(jac_v, torch.Tensor) else type(jac_v).__name__}")
    check_same_device_dtype(v, jac_v, "v", "jac_v")
    gamma = check_gamma(gamma, d)
    C = check_positive(C, "C")
    if chunk_size is not None:
        check_int(chunk_size, "chunk_size", lo=1)
    abar = collision_matrix(v, x, gamma=gamma, C=C, chunk_size=chunk_size)
    bbar = collision_drift(v, x, gamma=gamma, C=C, chunk_size=chunk_size)
    term1 = -torch.einsum("nkl,nkl->n", abar, jac_v)
    term2 = -(bbar * s_v).sum(1)
    return term1 + term2 + VelocityField(d, gamma, C, chunk_size=chunk_size).drift_dot(v, x, s)


class CharacteristicTracker:
    r"""Carry :math:`\log g` and :math:`\nabla\log g` along the paths of the particle flow; record the certificate.

    Use as the ``callback`` of :func:`landau_lite.solver.simulate` (**forward Euler**), with the **same** score
    object that the run uses (the tracker evaluates it off the particles). With :math:`U=U^s` the particle
    velocity field (:func:`landau_lite.velocity.velocity_at`) and :math:`\ell=\log g`, the continuity equation
    gives along a path :math:`\dot Y=U(Y)` (the Lagrangian form of :math:`\partial_tg+\nabla\cdot(gU)=0`)

    .. math::

        \frac{d}{dt}\ell(Y_t)=-\nabla\cdot U(Y_t),\qquad
        \frac{d}{dt}\nabla\ell(Y_t)=-(DU)^{T}\nabla\ell-\nabla(\nabla\cdot U),

    and the tracker integrates both with the explicit Euler rule of the particles
    (:math:`Y\leftarrow Y+hU`, :math:`\ell\leftarrow\ell-h\nabla\cdot U`, and :math:`\nabla\ell` as the exact gradient of that
    update: :math:`(I+h\,DU)\nabla\ell_{\rm new}=\nabla\ell-h\nabla(\nabla\cdot U)`, with :math:`DU_{ki}=\partial_kU_i`), from
    :math:`\ell=\log f_0`, :math:`\nabla\ell=\nabla\log f_0` (:math:`DU` and :math:`\nabla(\nabla\cdot U)` by central
    differences, :func:`velocity_divergence` for :math:`\nabla\cdot U`). At recorded points it stores

    * ``entropy``: :math:`H(g)\approx\frac1M\sum_m\ell(Y_m)`; ``log_g_max``: :math:`\max_m\ell(Y_m)` (a lower
      estimate of :math:`\log\|g\|_\infty`);
    * for problems exact in time: ``kl_fg``, ``kl_gf``, ``mass`` and their standard errors ``se_fg``, ``se_gf``,
      ``se_mass`` (:func:`kl_from_log_ratio`, :math:`r=f/g`);
      ``loss_true``: the theorem's pair loss :math:`\mathcal L_t` with the true :math:`\delta=s-\nabla\log g`, outer
      weight :math:`f\otimes g` through the importance ratios :math:`r_m` (:func:`landau_lite.diagnostics.pair_weighted_loss`);
      ``rel_fisher``: :math:`I(f|g)=\int f|\nabla\log\frac fg|^2\approx\frac1M\sum_m r_m|\Phi(Y_m)|^2`;
      ``abar_loss``: the :math:`\bar a`-weighted loss of the particles with the proxy :math:`\tilde\delta=s-\nabla\log f_t`;
      with ``n_mc > 0``: ``pair_loss_fg`` (proxy pair loss, :math:`f\otimes g` with fresh samples of :math:`f_t`) and,
      for Maxwell molecules, ``remainder`` :math:`\mathcal R_t` (:func:`maxwell_remainder`).

    **Witnesses.** ``tracers=M`` (default ``M = N``) draws :math:`M` fresh samples of :math:`f(t_0)` that ride
    the flow *passively*: they are not in the empirical measure and the network is never trained on them,
    so they are exact samples of :math:`g_t`, the push-forward of :math:`f_0` by the flow of the particle
    field. ``tracers=0`` uses the particles themselves (no :math:`\nabla\log g`, no ``loss_true``); for a score
    fitted to the particles (a network trained on them, the blob score) this is biased, because the field
    adapts to where the particles are. Use a ``seed`` different from the run's, or the tracers start on the
    particles.

    Args:
        problem: the run's problem (the run must start at ``problem.t0`` unless the problem is exact in time);
            score: the run's :class:`~landau_lite.scores.ScoreMethod` (callable at any points).
        tracers: number of passive witnesses (``None``: as many as particles; ``0``: the particles), or their
            initial positions ``(M, d)`` (they must then be distributed as :math:`f` at the start time).
        n_mc: exact samples per recorded point for ``pair_loss_fg`` and ``remainder`` (0: skip).
        seed: seed of the witnesses and samples. every: record every ``every`` grid points (the transport
            runs at every point). fd_step, fd_step_outer: central-difference steps for :math:`\nabla s` and for
            :math:`DU`, :math:`\nabla(\nabla\cdot U)` (defaults :math:`\varepsilon^{1/3}`, :math:`\varepsilon^{1/5}`; float64 advised).

    Example:
        >>> from landau_lite.problems import get_problem
        >>> from landau_lite.scores import ExactScore
        >>> from landau_lite.solver import simulate
        >>> p = get_problem("bkw3"); sc = ExactScore(p)
        >>> tr = CharacteristicTracker(p, sc, seed=1)
        >>> run = simulate(p, sc, n=500, dt=0.1, t_end=6.5, progress=False, callback=tr)
        >>> abs(tr.kl_gf[-1]) < 1e-3 and tr.loss_true[-1] < 1e-3   # exact score: g stays f along the paths
        True
    """

    KEYS = ("t", "kl_fg", "kl_gf", "mass", "se_fg", "se_gf", "se_mass", "entropy", "log_g_max", "loss_true", "rel_fisher", "abar_loss",
            "pair_loss_fg", "remainder")

    def __init__(self, problem: Any, score: Callable[[torch.Tensor], torch.Tensor], *,
                 tracers: int | torch.Tensor | None = None, n_mc: int = 0, seed: int = 1, every: int = 1,
                 fd_step: float | None = None, fd_step_outer: float | None = None) -> None:
        self.problem = _check_problem(problem)
        if not callable(score):
            raise TypeError(f"score must be a callable score method, got {type(score).__name__}")
        self.score = score
        self._y0: torch.Tensor | None = None
        if isinstance(tracers, torch.Tensor):
            self._y0 = check_particles(tracers, "tracers", min_n=1)
            if self._y0.shape[1] != problem.d:
                raise ValueError(f"tracers must have shape (M, {problem.d}), got {tuple(self._y0.shape)}")
            self.tracers: int | None = self._y0.shape[0]
        else:
            self.tracers = None if tracers is None else check_int(tracers, "tracers", lo=0)
        self.n_mc = check_int(n_mc, "n_mc", lo=0)
        self.seed = check_int(seed, "seed", lo=0)
        self.every = check_int(every, "every", lo=1)
        self.fd_step = None if fd_step is None else check_positive(fd_step, "fd_step")
        self.fd_step_outer = None if fd_step_outer is None else check_positive(fd_step_outer, "fd_step_outer")
        self.exact = bool(getattr(problem, "exact_in_time", False))
        self.y: torch.Tensor | None = None
        self.log_g: torch.Tensor | None = None
        self.grad_log_g: torch.Tensor | None = None
        self._rates: tuple[torch.Tensor, ...] | None = None
        self._t_prev: float | None = None
        self._k = 0
        self._gen: torch.Generator | None = None
        for key in self.KEYS:
            setattr(self, key, [])

    @property
    def passive(self) -> bool:
        """True when the witnesses are passive tracers (not the particles)."""
        return self.tracers != 0

    # -- transport ------------------------------------------------------------------------------
    def _start(self, t: float, x: torch.Tensor) -> None:
        p = self.problem
        self._gen = torch.Generator().manual_seed(self.seed)
        if not self.passive:
            self.y = x
        else:
            m = x.shape[0] if self.tracers is None else self.tracers
            if self._y0 is not None:
                self.y = self._y0.to(dtype=x.dtype, device=x.device).clone()
            elif self.exact:
                self.y = sample_at(p, t, m, generator=self._gen, dtype=x.dtype, device=x.device)
            elif abs(t - float(p.t0)) <= 1e-12 * max(1.0, abs(float(p.t0))):
                self.y = p.sample(m, generator=self._gen, dtype=x.dtype, device=x.device)
            else:
                raise ValueError(f"passive tracers need the run to start at problem.t0 = {p.t0:g} "
                                 f"(the density is known only there), got t = {t:g}")
            self.grad_log_g = p.score(self.y, t).clone()
        self.log_g = p.log_density(self.y, t).clone()

    def _field(self, v: torch.Tensor, x: torch.Tensor, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Score, velocity and velocity divergence of the current particle field at points ``v``."""
        p = self.problem
        s_v = self.score(v)
        jac = score_jacobian(self.score, v, h=self.fd_step)
        div = velocity_divergence(v, s_v, jac, x, s, gamma=p.gamma, C=p.C)
        return s_v, velocity_at(v, s_v, x, s, gamma=p.gamma, C=p.C), div

    def __call__(self, k: int, t: float, x: torch.Tensor, s: torch.Tensor, U: torch.Tensor) -> bool:
        p = self.problem
        t = float(t)
        if self.log_g is None:
            self._start(t, x)
        else:
            assert self._rates is not None and self._t_prev is not None and self.y is not None
            h = t - self._t_prev
            if self.passive:
                vel, div, DU, grad_div = self._rates
                self.y = self.y + h * vel
                # exact gradient of the Euler-updated log g: (I + h DU) G_new = G - h grad(div U)
                eye = torch.eye(DU.shape[1], dtype=DU.dtype, device=DU.device)
                rhs = (self.grad_log_g - h * grad_div).unsqueeze(-1)
                self.grad_log_g = torch.linalg.solve(eye + h * DU, rhs).squeeze(-1)
            else:
                (div,) = self._rates
                self.y = x
            self.log_g = self.log_g - h * div
        y = self.y
        if self.passive:
            s_y, vel, div = self._field(y, x, s)
            m, d = y.shape
            ho = float(torch.finfo(y.dtype).eps) ** 0.2 if self.fd_step_outer is None else self.fd_step_outer
            eye = torch.eye(d, dtype=y.dtype, device=y.device)
            pts = torch.cat([y[None] + ho * eye[:, None, :], y[None] - ho * eye[:, None, :]], 0).reshape(2 * d * m, d)
            _, vel_p, div_p = self._field(pts, x, s)
            vel_p, div_p = vel_p.reshape(2, d, m, d), div_p.reshape(2, d, m)
            DU = ((vel_p[0] - vel_p[1]) / (2.0 * ho)).permute(1, 0, 2)        # DU[m, k, i] = d_k U_i
            grad_div = ((div_p[0] - div_p[1]) / (2.0 * ho)).T                  # (M, d)
            self._rates = (vel, div, DU, grad_div)
            self._s_y = s_y
        else:
            jac = score_jacobian(self.score, y, h=self.fd_step)
            self._rates = (velocity_divergence(y, s, jac, x, s, gamma=p.gamma, C=p.C),)
        self._t_prev = t
        record = self._k % self.every == 0
        self._k += 1
        if record:
            self._record(t, x, s)
        return False

    # -- records ----------------------------------------------------------------------------------
    def _record(self, t: float, x: torch.Tensor, s: torch.Tensor) -> None:
        p = self.problem
        assert self.log_g is not None and self.y is not None
        self.t.append(t)
        self.entropy.append(float(self.log_g.mean()))
        self.log_g_max.append(float(self.log_g.max()))
        if not self.exact:
            return
        y = self.y
        log_f = p.log_density(y, t)
        kl = kl_from_log_ratio(log_f, self.log_g)
        for key in ("kl_fg", "kl_gf", "mass", "se_fg", "se_gf", "se_mass"):
            getattr(self, key).append(kl[key])
        if self.passive:
            assert self.grad_log_g is not None
            r = torch.exp(log_f - self.log_g)
            delta_true = self._s_y - self.grad_log_g
            self.loss_true.append(pair_weighted_loss(y, delta_true, gamma=p.gamma, C=p.C, y=y, delta_y=delta_true,
                                                     weights=r))
            phi = p.score(y, t) - self.grad_log_g
            self.rel_fisher.append(float((r * (phi * phi).sum(1)).sum() / r.sum()))
        delta = s - p.score(x, t)
        self.abar_loss.append(abar_weighted_loss(x, delta, gamma=p.gamma, C=p.C))
        if self.n_mc > 0:
            yf = sample_at(p, t, self.n_mc, generator=self._gen, dtype=x.dtype, device=x.device)
            dy = self.score(yf) - p.score(yf, t)
            self.pair_loss_fg.append(pair_weighted_loss(x, delta, gamma=p.gamma, C=p.C, y=yf, delta_y=dy))
            if p.gamma == 0.0:
                self.remainder.append(maxwell_remainder(p, t, x, n_mc=self.n_mc, generator=self._gen))

    def series(self, key: str) -> np.ndarray:
        """A recorded list as a float array (one of ``KEYS``)."""
        check_choice(key, "key", self.KEYS)
        return np.asarray(getattr(self, key), dtype=float)
