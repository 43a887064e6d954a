r"""The blob (regularised-entropy) score of Carrillo, Hu, Wang and Wu."""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import Tensor

from .._checks import check_choice, check_int, check_particles, check_points, check_positive, check_real
from ..distributed import gather_rows
from ..gauss_sums import gauss_weighted_differences, log_gauss_sum
from .base import ScoreMethod, _check_state

__all__ = ["BlobScore", "blob_score", "blob_bandwidth", "BLOB_BACKENDS"]


# ----------------------------------------------------------------------------------------------------
# blob
# ----------------------------------------------------------------------------------------------------
def blob_bandwidth(x: Tensor) -> float:
    r"""Default blob bandwidth :math:`\varepsilon=4\,(\det\hat\Sigma)^{1/d}\,N^{-2/(d+4)}` (the rule of the published code of Ilin, Hu and Wang 2025).

    :math:`\hat\Sigma` is the sample covariance of the particles ``x`` (N, d). (Their code uses the
    product of the diagonal of :math:`\hat\Sigma`; the two agree for isotropic data.) The mollifier
    :math:`\psi_\varepsilon` has variance :math:`\varepsilon/2` per coordinate.

    >>> x = torch.randn(2000, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> round(blob_bandwidth(x), 2)
    0.45
    """
    check_particles(x, "x")
    n, d = x.shape
    cov = torch.cov(x.detach().to(torch.float64).T)
    sign, logdet = torch.linalg.slogdet(cov)
    if float(sign) <= 0:
        raise ValueError("x must have a non-degenerate sample covariance to set the blob bandwidth")
    return 4.0 * math.exp(float(logdet) / d) * n ** (-2.0 / (d + 4))


BLOB_BACKENDS = ("auto", "compiled", "chunked")


def _check_blob_range(x: Tensor, eps: float, name: str = "x") -> None:
    """Refuse data whose squared distances overflow the dtype, and an epsilon whose inverse does."""
    fmax = torch.finfo(x.dtype).max
    if not 1.0 / eps < fmax:
        raise ValueError(f"epsilon = {eps:g} is too small for {x.dtype}: 1/epsilon overflows (need epsilon > "
                         f"{1.0 / fmax:.3g})")
    span = float(x.detach().abs().amax()) * 2.0 * math.sqrt(x.shape[1])
    if not span * span < fmax:
        raise ValueError(f"{name} has entries up to {span / (2 * math.sqrt(x.shape[1])):.3g}: squared distances "
                         f"overflow {x.dtype}; rescale the data or use float64")


def blob_score(x: Tensor, v: Tensor | None = None, *, epsilon: float,
               chunk_size: int | None = None, backend: str = "auto") -> Tensor:
    r"""Blob (regularised-entropy) score of the particles ``x`` (N, d), at ``v`` (default: at ``x``).

    With equal weights :math:`1/N` and :math:`\psi_\varepsilon(z)=(\pi\varepsilon)^{-d/2}e^{-|z|^2/\varepsilon}`
    (Carrillo, Hu, Wang and Wu 2020),

    .. math::

        F(v) &= \sum_l\frac{\nabla\psi_\varepsilon(v-v_l)}{\sum_k\psi_\varepsilon(v-v_k)}
               +\sum_l\frac{\nabla\psi_\varepsilon(v-v_l)}{\sum_k\psi_\varepsilon(v_l-v_k)}, \\
        \nabla\psi_\varepsilon(z) &= -\tfrac{2z}{\varepsilon}\psi_\varepsilon(z).

    The first term is :math:`\nabla\log(f^N*\psi_\varepsilon)`; the second is
    :math:`\nabla\big(\psi_\varepsilon*\frac{f^N}{f^N*\psi_\varepsilon}\big)`, a correction that cancels the
    :math:`O(\varepsilon)` smoothing bias (for a Gaussian, in the limit :math:`N\to\infty`,
    :math:`F=\nabla\log f+O(\varepsilon^2)` while the first term alone is :math:`\nabla\log f+O(\varepsilon)`), so
    :math:`F\approx\nabla\log f`. :math:`F` is the gradient of the first variation of
    :math:`E_\varepsilon(f)=\int f\log(f*\psi_\varepsilon)`. With :math:`D_l=|v-v_l|^2/\varepsilon`,
    :math:`L=\log\sum_le^{-D_l}` and :math:`Z_l=\log\sum_ke^{-|v_l-v_k|^2/\varepsilon}\ (\ge 0)`, it is

    .. math::

        F(v)=-\frac2\varepsilon\sum_l \big(e^{-D_l-L}+e^{-D_l-Z_l}\big)(v-v_l),

    where every exponential is :math:`\le 1`; the log-sum-exps are streamed (:mod:`landau_lite.gauss_sums`), so the
    result is finite for every :math:`\varepsilon>0`. Work :math:`O(NM)`; memory :math:`O(N\cdot\text{chunk})` for
    every backend (``"chunked"``: eager row blocks; ``"compiled"``: fused ``torch.compile`` reductions;
    ``"auto"``: compiled once the work pays for it, see :mod:`landau_lite.pairs`). Differentiable (autograd) through
    the eager path.

    >>> x = torch.randn(2000, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> s = blob_score(x, epsilon=0.4)
    >>> rel = float(((s + x) ** 2).sum() / (x ** 2).sum())  # N(0, I) score is -x
    >>> round(rel, 3)
    0.029
    """
    check_particles(x, "x")
    eps = check_positive(epsilon, "epsilon")
    check_choice(backend, "backend", BLOB_BACKENDS)
    if chunk_size is not None:
        check_int(chunk_size, "chunk_size", lo=1)
    _check_blob_range(x, eps)
    log_z = log_gauss_sum(x, x, eps, backend=backend, chunk_size=chunk_size)
    if v is None:
        v = x
    else:
        check_points(v, x.shape[1], "v")
        if v.dtype != x.dtype or v.device != x.device:
            raise ValueError(f"v must have the dtype/device of x ({x.dtype}, {x.device}), got ({v.dtype}, {v.device})")
        _check_blob_range(v, eps, "v")
    G = gauss_weighted_differences(v, x, eps, log_z, backend=backend, chunk_size=chunk_size)
    return G * (-2.0 / eps)


class BlobScore(ScoreMethod):
    r"""Blob score method (Carrillo–Hu–Wang–Wu), see :func:`blob_score` for the formula.

    Parameters
    ----------
    epsilon : float, "auto" or callable
        Mollifier parameter :math:`\varepsilon>0` (:math:`\psi_\varepsilon` has variance :math:`\varepsilon/2` per
        coordinate). ``"auto"``: :func:`blob_bandwidth`, :math:`4(\det\hat\Sigma)^{1/d}N^{-2/(d+4)}`; a callable
        ``x -> float`` is applied to the particles. The rule is evaluated at :meth:`initialize` and kept fixed
        (as in the published code of Ilin, Hu and Wang 2025) unless ``recompute=True``, which re-evaluates it at every update.
    chunk_size : int or None
        Rows per block (memory :math:`O(N\cdot\text{chunk})`); default: the engine's budget
        (:mod:`landau_lite.pairs`).
    recompute : bool
        Re-evaluate an ``"auto"``/callable bandwidth at every :meth:`update`.
    backend : {"auto", "compiled", "chunked"}
        See :func:`blob_score`.

    Example
    -------
    >>> x = torch.randn(400, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> sc = BlobScore()
    >>> sc.initialize(x, 0.0)
    >>> sc.update(x, 0.0).shape, round(sc.epsilon, 2)
    (torch.Size([400, 3]), 0.71)
    """

    name = "blob"

    def __init__(self, epsilon: float | str | Callable[[Tensor], float] = "auto", *,
                 chunk_size: int | None = None, recompute: bool = False, backend: str = "auto") -> None:
        super().__init__()
        if isinstance(epsilon, str):
            check_choice(epsilon, "epsilon", ("auto",))
        elif not callable(epsilon):
            check_positive(epsilon, "epsilon")
        if chunk_size is not None:
            check_int(chunk_size, "chunk_size", lo=1)
        if not isinstance(recompute, bool):
            raise TypeError(f"recompute must be a bool, got {type(recompute).__name__}")
        self.backend = check_choice(backend, "backend", BLOB_BACKENDS)
        self.rule = epsilon
        self.chunk_size = chunk_size
        self.recompute = recompute
        self.epsilon: float | None = None if (isinstance(epsilon, str) or callable(epsilon)) else float(epsilon)
        self.x: Tensor | None = None
        self.t: float | None = None
        self._logz: Tensor | None = None
        self._pending: Tensor | None = None

    def _bandwidth(self, x: Tensor) -> float:
        if not isinstance(self.rule, str) and not callable(self.rule):
            return float(self.rule)
        x = gather_rows(x, self.process_group)       # a rule sees every rank's particles
        if isinstance(self.rule, str):
            return blob_bandwidth(x)
        return check_positive(self.rule(x), "epsilon(x)")

    def _set_particles(self, x: Tensor) -> Tensor:
        """Store the particles and their log-normalisers :math:`Z_l`; return the score at the particles."""
        assert self.epsilon is not None
        self.x = x
        group = self.process_group
        self._logz = log_gauss_sum(x, x, self.epsilon, backend=self.backend, chunk_size=self.chunk_size, group=group)
        return gauss_weighted_differences(x, x, self.epsilon, self._logz, backend=self.backend,
                                          chunk_size=self.chunk_size, group=group) * (-2.0 / self.epsilon)

    def initialize(self, x0: Tensor, t0: float, problem: Any = None) -> None:
        """Fix the bandwidth from ``x0`` (for ``"auto"``/callable rules) and store the particles."""
        x0 = _check_state(x0, "x0", None)
        check_particles(x0, "x0")
        self.t = check_real(t0, "t0")
        self.epsilon = self._bandwidth(x0)
        _check_blob_range(x0, self.epsilon, "x0")
        self.x, self._logz = None, None
        self._pending = x0  # the N^2 pass is done lazily: by update(), or by the first __call__
        self.history = []

    def update(self, x: Tensor, t: float) -> Tensor:
        """Blob score of the particles ``x`` at the particles themselves, shape ``(N, d)``.

        Non-finite particles raise ``ValueError`` unless :attr:`check_inputs` is False (see :class:`ScoreMethod`).
        """
        x = _check_state(x, "x", None, finite=self.check_inputs)
        check_particles(x, "x", finite=False)
        self.t = check_real(t, "t")
        if self.epsilon is None or self.recompute:
            self.epsilon = self._bandwidth(x)
        s = self._set_particles(x.detach())
        self._pending = None
        self.history.append({"t": self.t, "epsilon": self.epsilon, "phase": "update"})
        return s

    def __call__(self, v: Tensor) -> Tensor:
        """Blob score of the current particles (those of the last update) at arbitrary points ``v`` (M, d)."""
        if self.x is None and self._pending is not None:
            self._set_particles(self._pending)
            self._pending = None
        if self.x is None or self._logz is None or self.epsilon is None:
            raise RuntimeError("BlobScore: call update() before evaluating the score")
        _check_state(v, "v", self.x.shape[1], self.x.dtype, self.x.device)
        _check_blob_range(v, self.epsilon, "v")
        return gauss_weighted_differences(v, self.x, self.epsilon, self._logz, backend=self.backend,
                                          chunk_size=self.chunk_size, group=self.process_group) * (-2.0 / self.epsilon)

    def __repr__(self) -> str:
        return f"BlobScore(epsilon={self.rule!r})"
