r"""Diagnostics of particle runs: moments, entropy production, score error, Gaussian KDE, the A-weighted pair loss.

All functions take and return torch tensors with the dtype and device of their input. The KDE works in
blocks, so its memory is :math:`O(\text{block}\times\text{chunk})`, never :math:`M\times N\times d`.
"""

from __future__ import annotations

import math

import torch

from ._checks import (check_choice, check_field_inputs, check_finite_tensor, check_int, check_pair,
                      check_particles, check_points, check_positive, check_real, check_same_device_dtype,
                      check_tensor)
from .gauss_sums import log_gauss_sum
from .velocity import VelocityField

__all__ = [
    "moments",
    "entropy_production_rate",
    "relative_fisher_error",
    "kde_density",
    "log_kde_density",
    "kde_bandwidth",
    "grid_2d",
    "weighted_moment",
    "BANDWIDTH_RULES",
    "pair_weighted_loss",
]

BANDWIDTH_RULES = ("scott", "silverman")



def moments(x: torch.Tensor) -> dict[str, torch.Tensor]:
    r"""Empirical moments of particles :math:`x_1,\dots,x_N` (equal weights :math:`1/N`).

    .. math::

        m &= \frac1N\sum_i x_i,\qquad \Sigma = \frac1N\sum_i (x_i-m)(x_i-m)^T\ \text{(population)}, \\
        E|v|^2 &= \frac1N\sum_i|x_i|^2,\qquad E|v|^4 = \frac1N\sum_i|x_i|^4 .

    Returns a dict with ``mean`` ``(d,)``, ``cov`` ``(d, d)``, ``energy`` and ``m4`` (0-dim), same dtype/device as ``x``.

    Example:
        >>> x = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64)
        >>> m = moments(x); m["cov"].tolist(), float(m["energy"]), float(m["m4"])
        ([[1.0, 0.0], [0.0, 0.0]], 1.0, 1.0)
    """
    x = check_particles(x, "x", min_n=1)
    n = x.shape[0]
    mean = x.mean(0)
    xc = x - mean
    r2 = (x * x).sum(1)
    return {"mean": mean, "cov": xc.T @ xc / n, "energy": r2.mean(), "m4": (r2 * r2).mean()}


def weighted_moment(x: torch.Tensor, k: float) -> torch.Tensor:
    r"""Weighted moment :math:`m_k = \frac1N\sum_i\langle x_i\rangle^k`, :math:`\langle v\rangle = (1+|v|^2)^{1/2}` (any real :math:`k`).

    Example:
        >>> float(weighted_moment(torch.zeros(3, 2, dtype=torch.float64), 3.0))
        1.0
    """
    x = check_particles(x, "x", min_n=1)
    k = check_real(k, "k")
    return (1.0 + (x * x).sum(1)).pow(0.5 * k).mean()


def entropy_production_rate(s: torch.Tensor, U: torch.Tensor) -> torch.Tensor:
    r"""Estimated entropy production rate :math:`\frac1N\sum_i s_i\cdot U_i`.

    For the Landau particle field :math:`U_i = -\frac1N\sum_jA(x_i-x_j)(s_i-s_j)` (the kernel :math:`A` contains the
    collision constant :math:`C`) it equals :math:`-\frac{1}{2N^2}\sum_{ij}(s_i-s_j)\cdot A(x_i-x_j)(s_i-s_j)\le 0`
    for any score values :math:`s`: the particle version of :math:`\frac{d}{dt}H(f)=\int f\,\nabla\log f\cdot U`.

    Example:
        >>> s = torch.tensor([[1.0, 0.0], [0.0, 1.0]]); float(entropy_production_rate(s, -s))
        -1.0
    """
    s = check_particles(s, "s", min_n=1)
    U = check_pair(s, U, "s", "U")
    return (s * U).sum(1).mean()


def relative_fisher_error(s: torch.Tensor, s_exact: torch.Tensor) -> torch.Tensor:
    r"""Relative score (Fisher) error :math:`\sum_i|s_i - s^*_i|^2 \big/ \sum_i|s^*_i|^2`.

    Raises ``ValueError`` if ``s_exact`` is identically zero (the ratio is undefined).

    Example:
        >>> e = torch.ones(4, 2, dtype=torch.float64)
        >>> round(float(relative_fisher_error(1.1 * e, e)), 12)
        0.01
    """
    s = check_particles(s, "s", min_n=1)
    s_exact = check_pair(s, s_exact, "s", "s_exact")
    den = (s_exact * s_exact).sum()
    if not bool(den > 0):
        raise ValueError("s_exact must not be identically zero (relative error undefined)")
    diff = s - s_exact
    return (diff * diff).sum() / den


def kde_bandwidth(x: torch.Tensor, rule: str = "scott") -> torch.Tensor:
    r"""Bandwidth (kernel covariance) matrix :math:`H` of a Gaussian KDE from the sample covariance :math:`\hat\Sigma` (1/(N−1)).

    .. math::

        H_{\rm scott} = \hat\Sigma\,N^{-2/(d+4)},\qquad
        H_{\rm silverman} = \hat\Sigma\,\Big(\frac{N(d+2)}{4}\Big)^{-2/(d+4)} .

    Scott's rule is what Ilin, Hu and Wang (2025) use for their :math:`L^2` error, and it equals ``scipy.stats.gaussian_kde``'s
    default kernel covariance.

    Returns ``(d, d)``, dtype/device of ``x``.

    Example:
        >>> x = torch.randn(1000, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        >>> kde_bandwidth(x).shape
        torch.Size([2, 2])
    """
    x = check_particles(x, "x", min_n=2)
    rule = check_choice(rule, "rule", BANDWIDTH_RULES)
    n, d = x.shape
    xc = x - x.mean(0)
    cov = xc.T @ xc / (n - 1)
    if rule == "scott":
        factor = n ** (-2.0 / (d + 4))
    else:
        factor = (n * (d + 2) / 4.0) ** (-2.0 / (d + 4))
    return cov * factor


def _bandwidth_matrix(bandwidth: object, points: torch.Tensor) -> torch.Tensor:
    """Resolve the ``bandwidth`` argument of :func:`kde_density` to a ``(d, d)`` covariance matrix."""
    d = points.shape[1]
    eye = torch.eye(d, dtype=points.dtype, device=points.device)
    if isinstance(bandwidth, str):
        return kde_bandwidth(points, check_choice(bandwidth, "bandwidth", BANDWIDTH_RULES))
    if isinstance(bandwidth, torch.Tensor):
        bw = check_tensor(bandwidth, "bandwidth").to(device=points.device, dtype=points.dtype)
        check_finite_tensor(bw, "bandwidth")
        if bw.ndim == 0:
            h = float(bw.reshape(()))
            if h <= 0:
                raise ValueError(f"bandwidth must be > 0, got {h}")
            return h * h * eye
        if bw.shape != (d, d):
            raise ValueError(f"bandwidth tensor must be 0-dim (a standard deviation) or a ({d}, {d}) covariance "
                             f"matrix, got shape {tuple(bw.shape)}")
        if float((bw - bw.T).abs().max()) > 1e-6 * float(bw.abs().max()):
            raise ValueError("bandwidth matrix must be symmetric")
        if float(torch.linalg.eigvalsh(bw).min()) <= 0:
            raise ValueError("bandwidth matrix must be positive definite")
        return bw
    h = check_positive(bandwidth, "bandwidth")
    return h * h * eye


def _whitened(points: torch.Tensor, x: torch.Tensor, bandwidth: object) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Validate the KDE arguments; return the whitened particles, queries and the log of the normalisation."""
    points = check_particles(points, "points", min_n=1)
    n, d = points.shape
    x = check_points(x, d, "x")
    if x.dtype != points.dtype or x.device != points.device:
        raise TypeError(f"x must have the dtype/device of points ({points.dtype}, {points.device}), "
                        f"got ({x.dtype}, {x.device})")
    if isinstance(bandwidth, str) and n < 2:
        raise ValueError("points must hold at least 2 particles for a bandwidth rule; pass a number instead")
    H = _bandwidth_matrix(bandwidth, points)
    L, info = torch.linalg.cholesky_ex(H)
    diag = torch.diagonal(L)
    tiny = torch.finfo(points.dtype).tiny
    if int(info) != 0 or not bool((diag * diag > tiny / torch.finfo(points.dtype).eps).all()):
        raise ValueError(f"bandwidth is too small (or too ill-conditioned) for {points.dtype}: its covariance "
                         f"h^2 I or H must be positive definite with eigenvalues above about "
                         f"{tiny / torch.finfo(points.dtype).eps:.3g}")
    log_norm = -0.5 * d * math.log(2.0 * math.pi) - float(torch.log(diag).sum()) - math.log(n)
    # whiten: z^T H^{-1} z = |L^{-1} z|^2
    P = torch.linalg.solve_triangular(L, points.T, upper=False).T      # (N, d)
    Xq = torch.linalg.solve_triangular(L, x.T, upper=False).T          # (M, d)
    for name, t in (("points", P), ("x", Xq)):
        if not bool(torch.isfinite(t).all()) or not float(t.detach().abs().amax()) < 0.25 * math.sqrt(torch.finfo(t.dtype).max / d):
            raise ValueError(f"{name}: the whitened coordinates overflow {t.dtype} for this bandwidth; use a larger "
                             f"bandwidth or rescale the data")
    return P, Xq, log_norm


def log_kde_density(points: torch.Tensor, x: torch.Tensor, *, bandwidth: float | torch.Tensor | str = "scott",
                    chunk_size: int | None = None, backend: str = "auto") -> torch.Tensor:
    r"""Logarithm of the Gaussian kernel density estimate :math:`\log\hat f(x)` (see :func:`kde_density`).

    Computed as a streamed log-sum-exp (:func:`landau_lite.gauss_sums.log_gauss_sum`), so it is finite even where
    :math:`\hat f` underflows (far from all particles), which is what KL estimators need.

    Example:
        >>> X = torch.zeros(1, 2, dtype=torch.float64)
        >>> far = torch.tensor([[40.0, 0.0]], dtype=torch.float64)
        >>> float(kde_density(X, far, bandwidth=1.0)), round(float(log_kde_density(X, far, bandwidth=1.0)), 4)
        (0.0, -801.8379)
    """
    if chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size", lo=1)
    P, Xq, log_norm = _whitened(points, x, bandwidth)
    return log_gauss_sum(Xq, P, 2.0, backend=backend, chunk_size=chunk_size) + log_norm


def kde_density(points: torch.Tensor, x: torch.Tensor, *, bandwidth: float | torch.Tensor | str = "scott",
                chunk_size: int | None = None, backend: str = "auto") -> torch.Tensor:
    r"""Gaussian kernel density estimate of the particles ``points`` at query points ``x``.

    .. math::

        \hat f(x) &= \frac1N\sum_{j=1}^N \phi_H(x - X_j), \\
        \phi_H(z) &= (2\pi)^{-d/2}(\det H)^{-1/2}\exp\!\big(-\tfrac12 z^TH^{-1}z\big).

    Args:
        points: particles :math:`X_j`, ``(N, d)``.
        x: query points, ``(M, d)``, same dtype/device as ``points``.
        bandwidth: a positive number or 0-dim tensor :math:`h` (**standard deviation**: :math:`H = h^2 I`), a
            ``(d, d)`` SPD covariance matrix :math:`H`, or a rule ``"scott"``/``"silverman"`` (:func:`kde_bandwidth`).
        chunk_size: query rows per block (default: the pair engine's budget); memory :math:`O(N\cdot\text{chunk})`,
            never ``M×N``.
        backend: pair-engine backend (``"auto"``, ``"compiled"``, ``"chunked"``; :mod:`landau_lite.pairs`).

    Returns:
        ``(M,)`` densities, dtype/device of ``points``.

    Example:
        >>> X = torch.zeros(1, 2, dtype=torch.float64)
        >>> float(kde_density(X, X, bandwidth=1.0)) == 1 / (2 * math.pi)
        True
    """
    return torch.exp(log_kde_density(points, x, bandwidth=bandwidth, chunk_size=chunk_size, backend=backend))


def grid_2d(lim: float, n: int, *, dtype: torch.dtype = torch.float64,
            device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Uniform plotting grid on :math:`[-\ell,\ell]^2` with ``n`` nodes per axis (spacing :math:`2\ell/(n-1)`).

    Returns ``X, Y`` (``(n, n)``, ``"xy"`` indexing as in ``matplotlib.pyplot.contourf(X, Y, Z)``) and the
    ``(n*n, 2)`` points ``stack([X.ravel(), Y.ravel()])``; reshape values with ``.reshape(n, n)``.

    Example:
        >>> X, Y, pts = grid_2d(1.0, 3)
        >>> pts[:3].tolist()
        [[-1.0, -1.0], [0.0, -1.0], [1.0, -1.0]]
    """
    lim = check_positive(lim, "lim")
    n = check_int(n, "n", lo=2)
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    axis = torch.linspace(-lim, lim, n, dtype=dtype, device=device)
    X, Y = torch.meshgrid(axis, axis, indexing="xy")
    return X, Y, torch.stack([X.reshape(-1), Y.reshape(-1)], dim=1)


# ----------------------------------------------------------------------------------------------
# the A-weighted pair loss (logged per step by the solver)
# ----------------------------------------------------------------------------------------------

def pair_weighted_loss(x: torch.Tensor, delta: torch.Tensor, *, gamma: float, C: float,
                       y: torch.Tensor | None = None, delta_y: torch.Tensor | None = None,
                       weights: torch.Tensor | None = None, backend: str = "auto",
                       chunk_size: int | None = None) -> float:
    r"""The A-weighted pair loss of Theorem 4.2 on particles (the weight is our reconstruction, see the book's appendix
    'What we rebuilt').

    Without ``y`` (outer weight :math:`g\otimes g`, the particles twice):

    .. math::

        \hat{\mathcal L} = \frac1{N^2}\sum_{i,j}(\delta_i-\delta_j)\cdot A(x_i-x_j)(\delta_i-\delta_j)
        = -\frac2N\sum_i\delta_i\cdot U_i[\delta],

    computed with the Landau velocity :math:`U[\delta]` of the field :math:`\delta` (O(N) for :math:`\gamma=0`).
    With ``y`` (``(M, d)`` points, e.g. samples of :math:`f`) and ``delta_y`` (the field there), the outer weight
    is :math:`f\otimes g` as in the theorem; optional ``weights`` :math:`w_m\ge0` on the points ``y`` (e.g.
    importance ratios :math:`f/g` when ``y`` are samples of :math:`g`) give the self-normalised mean

    .. math::

        \hat{\mathcal L}_{f\otimes g} = \frac{1}{N\sum_mw_m}\sum_{m,j}w_m\,(\delta(y_m)-\delta_j)\cdot A(y_m-x_j)(\delta(y_m)-\delta_j)

    (:math:`w\equiv1` by default), evaluated in row chunks (memory :math:`O(\text{chunk}\cdot N)`).

    Args:
        x: particles ``(N, d)``; delta: :math:`\delta_i` at the particles, same shape/dtype/device.
        gamma, C: the kernel :math:`A(z)=C|z|^\gamma(|z|^2I-z\otimes z)` (``C > 0``).
        y, delta_y: optional outer points and :math:`\delta` there (both or neither).
        weights: optional ``(M,)`` non-negative weights of the points ``y`` (needs ``y``).
        backend: velocity backend for the :math:`g\otimes g` case; chunk_size: rows per chunk (``>= 1``).

    Returns:
        a float :math:`\ge 0`.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(200, 3, dtype=torch.float64, generator=g)
        >>> pair_weighted_loss(x, torch.ones_like(x), gamma=0.0, C=1.0)   # constant delta: no loss
        0.0
    """
    x, delta, gamma, C, y, delta_y = check_field_inputs(x, delta, gamma, C, y, delta_y)
    if weights is not None and y is None:
        raise ValueError("weights needs y (the points they belong to)")
    field = VelocityField(x.shape[1], gamma, C, backend=backend, chunk_size=chunk_size)
    if y is None:
        return float(field.pair_loss(x, delta))
    if weights is not None:
        if not isinstance(weights, torch.Tensor) or weights.shape != (y.shape[0],):
            raise ValueError(f"weights must be a tensor of shape ({y.shape[0]},)")
        check_same_device_dtype(y, weights, "y", "weights")
        if not bool(torch.isfinite(weights).all()) or bool((weights < 0).any()) or not float(weights.sum()) > 0:
            raise ValueError("weights must be finite, >= 0 and not all zero")
    return float(field.cross_pair_loss(y, delta_y, x, delta, weights))
