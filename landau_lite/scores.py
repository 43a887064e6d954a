r"""Score methods: how a particle solver gets :math:`s\approx\nabla\log f_t` at the particles.

* :class:`ExactScore` — the problem's known score :math:`\nabla\log f(v,t)` (reference runs).
* :class:`BlobScore` — the regularised-entropy blob score of Carrillo–Hu–Wang–Wu (math.md §5.5).
* :class:`NeuralScore` — score-based transport modelling (SBTM, math.md §5.2): an MLP fitted to the
  initial score, then warm-started and trained by score matching at every time step.

All share the :class:`ScoreMethod` interface that the solver calls:
``initialize(x0, t0, problem)`` once, ``update(x, t) -> s`` every step, and ``__call__(v)`` to evaluate the
current score model at arbitrary points. :func:`make_score` builds one by name.
"""

from __future__ import annotations

import math
import os
import types
import warnings
from abc import ABC, abstractmethod
from typing import Any, Callable

import torch
from torch import Tensor

from ._checks import (check_choice, check_dim, check_finite_tensor, check_int, check_particles, check_points,
                      check_positive, check_real)
from .losses import denoising_loss_from_noise, dsm_loss_from_noise, draw_noise, hutchinson_loss_from_probes
from .networks import ACTIVATIONS, MLP

__all__ = [
    "ScoreMethod",
    "ExactScore",
    "BlobScore",
    "NeuralScore",
    "make_score",
    "blob_bandwidth",
    "blob_score",
    "SCORE_METHODS",
    "BLOB_BACKENDS",
]

#: names accepted by :func:`make_score`
SCORE_METHODS = ("exact", "blob", "sbtm", "neural")

#: ``compile="auto"`` compiles a loss on the CPU when the batch holds at least this many points (always on CUDA).
#: Measured (1 thread, f32, width 100, 25 steps): compiling speeds ISM-exact up by ~1.6x and DSM by ~1.1-1.2x, and
#: costs 5-40 s once per process and shape, so it pays only for long runs at these sizes. Denoising (3-D BKW,
#: benchmarks/bench_sbtm_step.py, AVX2): eager / compiled 119 / 92 ms per step at N = 1024, 300 / 272 ms at 4096,
#: 1407 / 1112 ms at 16384, for ~3.5-4 s of compilation: break-even after ~150 steps at N = 1024, ~60-120 at 4096.
COMPILE_MIN_N = {"ism": 1024, "dsm": 4096, "denoising": 4096, "explicit": 4096}


# ----------------------------------------------------------------------------------------------------
# validation helpers shared by the score methods
# ----------------------------------------------------------------------------------------------------
def _check_problem(problem: object, name: str = "problem") -> Any:
    if problem is None or not callable(getattr(problem, "score", None)):
        raise TypeError(f"{name} must be a Problem with a .score(v, t) method, got {type(problem).__name__}")
    return problem


def _check_state(x: object, name: str, d: int | None, dtype: torch.dtype | None = None,
                 device: torch.device | None = None) -> Tensor:
    """Particles for update(): (N, d) float tensor, matching dtype/device, finite. Mismatches -> ValueError."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"{name} must have dtype float32 or float64, got {x.dtype}")
    if x.ndim != 2 or x.shape[0] < 1 or (d is not None and x.shape[1] != d):
        want = f"(N, {d})" if d is not None else "(N, d)"
        raise ValueError(f"{name} must have shape {want} with N >= 1, got shape {tuple(x.shape)}")
    if d is None and x.shape[1] < 2:
        raise ValueError(f"{name} must have dimension d >= 2, got d = {x.shape[1]}")
    if dtype is not None and x.dtype != dtype:
        raise ValueError(f"{name} must have dtype {dtype} (the score model's dtype), got {x.dtype}")
    if device is not None and x.device != device:
        raise ValueError(f"{name} must be on device {device} (the score model's device), got {x.device}")
    check_finite_tensor(x, name)
    return x


def _problem_dim(problem: Any) -> int | None:
    d = getattr(problem, "d", None)
    return int(d) if isinstance(d, int) else None


# ----------------------------------------------------------------------------------------------------
# interface
# ----------------------------------------------------------------------------------------------------
class ScoreMethod(ABC):
    r"""Interface of a score method :math:`s_t\approx\nabla\log f_t` used by the particle solver.

    Attributes
    ----------
    name : str
        Short name (``"exact"``, ``"blob"``, ``"sbtm"``).
    last_loss : float or None
        Training loss of the last :meth:`update` (None for methods that do not train).
    history : list of dict
        Per-update log, e.g. ``{"t": ..., "loss": ..., "steps": ..., "phase": "update"}``.
    """

    name: str = "score"

    def __init__(self) -> None:
        self.last_loss: float | None = None
        self.history: list[dict] = []

    @abstractmethod
    def initialize(self, x0: Tensor, t0: float, problem: Any = None) -> None:
        """Prepare the method for a run that starts from particles ``x0`` (N, d) at time ``t0``."""

    @abstractmethod
    def update(self, x: Tensor, t: float) -> Tensor:
        """Refresh the score model for particles ``x`` (N, d) at time ``t``; return ``s`` at ``x`` (N, d)."""

    @abstractmethod
    def __call__(self, v: Tensor) -> Tensor:
        """Evaluate the current score model at points ``v`` (M, d); returns (M, d)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# ----------------------------------------------------------------------------------------------------
# exact
# ----------------------------------------------------------------------------------------------------
class ExactScore(ScoreMethod):
    r"""The exact score :math:`s(v)=\nabla_v\log f(v,t)` of a problem with a known solution.

    ``update(x, t)`` returns ``problem.score(x, t)``; ``__call__(v)`` evaluates it at the last ``t``.

    Example
    -------
    >>> class Gauss:  # any object with .score(v, t) works
    ...     d = 2
    ...     def score(self, v, t): return -v
    >>> sc = ExactScore(Gauss())
    >>> sc.initialize(torch.zeros(4, 2), 0.0)
    >>> sc(torch.ones(1, 2))
    tensor([[-1., -1.]])
    """

    name = "exact"

    def __init__(self, problem: Any) -> None:
        super().__init__()
        self.problem = _check_problem(problem)
        self.d = _problem_dim(problem)
        self.t: float | None = None

    def initialize(self, x0: Tensor, t0: float, problem: Any = None) -> None:
        """Record the start time ``t0`` (and switch to ``problem`` if one is given)."""
        if problem is not None:
            self.problem = _check_problem(problem)
            self.d = _problem_dim(problem)
        _check_state(x0, "x0", self.d)
        self.t = check_real(t0, "t0")

    def update(self, x: Tensor, t: float) -> Tensor:
        r"""Return :math:`\nabla\log f(x,t)` from the problem, shape ``(N, d)``."""
        _check_state(x, "x", self.d)
        self.t = check_real(t, "t")
        return self.problem.score(x, self.t)

    def __call__(self, v: Tensor) -> Tensor:
        """Exact score at ``v`` (M, d) at the time of the last ``initialize``/``update``."""
        if self.t is None:
            raise RuntimeError("ExactScore: call initialize() or update() before evaluating the score")
        _check_state(v, "v", self.d)
        return self.problem.score(v, self.t)

    def __repr__(self) -> str:
        return f"ExactScore({type(self.problem).__name__})"


# ----------------------------------------------------------------------------------------------------
# blob
# ----------------------------------------------------------------------------------------------------
def blob_bandwidth(x: Tensor) -> float:
    r"""Default blob bandwidth :math:`\varepsilon=4\,(\det\hat\Sigma)^{1/d}\,N^{-2/(d+4)}` ([code] GradientFlows.jl).

    :math:`\hat\Sigma` is the sample covariance of the particles ``x`` (N, d). (GradientFlows.jl uses the
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


def _default_chunk(n: int) -> int:
    # about 2.6e5 pair entries per (chunk x N) temporary (L2-sized; larger blocks page-fault, see performance.md)
    return max(1, min(n, 262_144 // max(n, 1)))


def _compile_disabled() -> bool:
    """``LANDAU_LITE_COMPILE=0`` turns every ``torch.compile`` path of the package off."""
    return os.environ.get("LANDAU_LITE_COMPILE", "1") == "0"


def _sqdist(a: Tensor, b: Tensor, b2: Tensor) -> Tensor:
    """|a_i - b_l|^2 for a chunk of rows a (B, d) against all b (N, d); b2 = |b|^2 (N,)."""
    a2 = (a * a).sum(dim=1, keepdim=True)
    return (a2 + b2.unsqueeze(0) - 2.0 * (a @ b.T)).clamp_min_(0.0)


def _lse_chunked(vq: Tensor, y: Tensor, inv_eps: float, chunk: int) -> Tensor:
    r""":math:`L_i=\log\sum_l e^{-|v_i-y_l|^2/\varepsilon}` (log-sum-exp, row chunks)."""
    y2 = (y * y).sum(dim=1)
    out = torch.empty(vq.shape[0], dtype=y.dtype, device=y.device)
    for i in range(0, vq.shape[0], chunk):
        out[i:i + chunk] = torch.logsumexp(_sqdist(vq[i:i + chunk], y, y2).mul_(-inv_eps), dim=1)
    return out


def _apply_chunked(vq: Tensor, y: Tensor, lse: Tensor, u: Tensor, w: Tensor, inv_eps: float,
                   chunk: int) -> Tensor:
    r""":math:`F_i=-\frac2\varepsilon\sum_l c_{il}(v_i-y_l)`, :math:`c_{il}=e^{-D_{il}-L_i}(1+u_iw_l)` (row chunks)."""
    y2 = (y * y).sum(dim=1)
    out = torch.empty_like(vq)
    for i in range(0, vq.shape[0], chunk):
        vc = vq[i:i + chunk]
        c = _sqdist(vc, y, y2).mul_(-inv_eps).sub_(lse[i:i + chunk, None]).exp_()
        c.mul_(torch.addcmul(torch.ones_like(c[:1]), u[i:i + chunk, None], w[None, :]))
        out[i:i + chunk] = (vc * c.sum(dim=1, keepdim=True) - c @ y).mul_(-2.0 * inv_eps)
    return out


def _lse_fused(vq: Tensor, y: Tensor, inv_eps: Tensor) -> Tensor:
    """Component-wise log-sum-exp row function written for Inductor (one fused reduction, O(N) memory)."""
    r2 = (vq[:, 0, None] - y[None, :, 0]) ** 2
    for k in range(1, y.shape[1]):
        r2 = r2 + (vq[:, k, None] - y[None, :, k]) ** 2
    return torch.logsumexp(-r2 * inv_eps, dim=1)


def _apply_fused(vq: Tensor, y: Tensor, lse: Tensor, u: Tensor, w: Tensor, inv_eps: Tensor) -> Tensor:
    """Component-wise blob row function written for Inductor (one fused reduction, O(N) memory)."""
    zs = [vq[:, k, None] - y[None, :, k] for k in range(y.shape[1])]
    r2 = zs[0] * zs[0]
    for z in zs[1:]:
        r2 = r2 + z * z
    c = torch.exp(-r2 * inv_eps - lse[:, None]) * (1.0 + u[:, None] * w[None, :])
    return torch.stack([(c * z).sum(dim=1) for z in zs], dim=1) * (-2.0 * inv_eps)


_BLOB_COMPILED: dict[tuple, Callable] = {}
_BLOB_COMPILE_BROKEN: set[tuple] = set()

#: N from which ``backend="auto"`` uses the compiled blob kernels on the CPU (always on CUDA)
BLOB_COMPILE_MIN_N = 4096


def _blob_compiled(key: tuple) -> Callable:
    """One compiled function per (kind, d, dtype, device); each gets its own code object (own recompile budget)."""
    fn = _BLOB_COMPILED.get(key)
    if fn is None:
        base = _lse_fused if key[0] == "lse" else _apply_fused
        tag = "_".join(str(k) for k in key).replace(".", "p").replace(":", "_")
        code = base.__code__.replace(co_name=f"blob_{tag}")
        fresh = types.FunctionType(code, base.__globals__, f"blob_{tag}", base.__defaults__, base.__closure__)
        fn = torch.compile(fresh, fullgraph=True)
        _BLOB_COMPILED[key] = fn
    return fn


def _blob_backend(backend: str, n: int, device: torch.device) -> str:
    if backend == "auto":
        use = not _compile_disabled() and (device.type == "cuda" or n >= BLOB_COMPILE_MIN_N)
        return "compiled" if use else "chunked"
    return backend


def _blob_lse(vq: Tensor, y: Tensor, eps: float, chunk: int, backend: str) -> Tensor:
    if _blob_backend(backend, y.shape[0], y.device) == "compiled":
        key = ("lse", y.shape[1], str(y.dtype), str(y.device))
        if key not in _BLOB_COMPILE_BROKEN and not _compile_disabled():
            try:
                return _blob_compiled(key)(vq, y, torch.tensor(1.0 / eps, dtype=y.dtype, device=y.device))
            except Exception as exc:  # noqa: BLE001 - needs a C++ compiler (CPU) or triton (GPU)
                _BLOB_COMPILE_BROKEN.add(key)
                warnings.warn(f"torch.compile unavailable for the blob score ({type(exc).__name__}: "
                              f"{str(exc)[:200]}); falling back to the eager chunked backend",
                              RuntimeWarning, stacklevel=3)
    return _lse_chunked(vq, y, 1.0 / eps, chunk)


def _blob_apply(vq: Tensor, y: Tensor, lse: Tensor, logz: Tensor, eps: float, chunk: int,
                backend: str) -> Tensor:
    u = torch.exp(lse)      # <= N; underflows to 0 only where the second term is negligible
    w = torch.exp(-logz)    # in [1/N, 1]: Z_l >= 0 because of the self term
    if _blob_backend(backend, y.shape[0], y.device) == "compiled":
        key = ("apply", y.shape[1], str(y.dtype), str(y.device))
        if key not in _BLOB_COMPILE_BROKEN and not _compile_disabled():
            try:
                return _blob_compiled(key)(vq, y, lse, u, w, torch.tensor(1.0 / eps, dtype=y.dtype, device=y.device))
            except Exception as exc:  # noqa: BLE001
                _BLOB_COMPILE_BROKEN.add(key)
                warnings.warn(f"torch.compile unavailable for the blob score ({type(exc).__name__}: "
                              f"{str(exc)[:200]}); falling back to the eager chunked backend",
                              RuntimeWarning, stacklevel=3)
    return _apply_chunked(vq, y, lse, u, w, 1.0 / eps, chunk)


BLOB_BACKENDS = ("auto", "compiled", "chunked")


def blob_score(x: Tensor, v: Tensor | None = None, *, epsilon: float,
               chunk_size: int | None = None, backend: str = "auto") -> Tensor:
    r"""Blob (regularised-entropy) score of the particles ``x`` (N, d), at ``v`` (default: at ``x``).

    With equal weights :math:`1/N` and :math:`\psi_\varepsilon(z)=(\pi\varepsilon)^{-d/2}e^{-|z|^2/\varepsilon}`
    (math.md §5.5, Carrillo–Hu–Wang–Wu),

    .. math::

        F(v)=\sum_l\frac{\nabla\psi_\varepsilon(v-v_l)}{\sum_k\psi_\varepsilon(v-v_k)}
            +\sum_l\frac{\nabla\psi_\varepsilon(v-v_l)}{\sum_k\psi_\varepsilon(v_l-v_k)} ,
        \qquad \nabla\psi_\varepsilon(z)=-\tfrac{2z}{\varepsilon}\psi_\varepsilon(z).

    The first term is :math:`\nabla\log(f^N*\psi_\varepsilon)`; the second is
    :math:`\nabla\big(\psi_\varepsilon*\frac{f^N}{f^N*\psi_\varepsilon}\big)`, a correction that cancels the
    :math:`O(\varepsilon)` smoothing bias (for a Gaussian, in the limit :math:`N\to\infty`,
    :math:`F=\nabla\log f+O(\varepsilon^2)` while the first term alone is :math:`\nabla\log f+O(\varepsilon)`), so
    :math:`F\approx\nabla\log f`. :math:`F` is the gradient of the first variation of
    :math:`E_\varepsilon(f)=\int f\log(f*\psi_\varepsilon)`. With :math:`D_l=|v-v_l|^2/\varepsilon`,
    :math:`L=\log\sum_le^{-D_l}` and :math:`Z_l=\log\sum_ke^{-|v_l-v_k|^2/\varepsilon}\ (\ge 0)`, it is computed as

    .. math::

        F(v)=-\frac2\varepsilon\sum_l c_l\,(v-v_l),\qquad c_l=e^{-D_l-L}\big(1+e^{L}e^{-Z_l}\big),

    where every exponential is :math:`\le 1` except :math:`e^L\le N` (log-sum-exp stabilised; far from the
    particles :math:`e^L` underflows harmlessly). Work :math:`O(NM)`; memory :math:`O(N\cdot\text{chunk})` for
    ``backend="chunked"`` (row blocks, contractions by GEMM) and :math:`O(N+M)` for ``"compiled"`` (one fused
    ``torch.compile`` reduction). ``"auto"`` compiles for :math:`N\ge` ``BLOB_COMPILE_MIN_N`` or on CUDA and
    falls back to the chunked path (one warning) if compilation fails.

    >>> x = torch.randn(2000, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> s = blob_score(x, epsilon=0.4)
    >>> rel = float(((s + x) ** 2).sum() / (x ** 2).sum())  # N(0, I) score is -x
    >>> round(rel, 3)
    0.029
    """
    check_particles(x, "x")
    eps = check_positive(epsilon, "epsilon")
    check_choice(backend, "backend", BLOB_BACKENDS)
    if v is None:
        v = x
    else:
        check_points(v, x.shape[1], "v")
        if v.dtype != x.dtype or v.device != x.device:
            raise ValueError(f"v must have the dtype/device of x ({x.dtype}, {x.device}), got ({v.dtype}, {v.device})")
    chunk = _default_chunk(x.shape[0]) if chunk_size is None else check_int(chunk_size, "chunk_size", lo=1)
    center = x.mean(dim=0, keepdim=True)  # centring reduces cancellation in |a|^2 + |b|^2 - 2 a.b
    y = x - center
    logz = _blob_lse(y, y, eps, chunk, backend)
    if v is x:
        return _blob_apply(y, y, logz, logz, eps, chunk, backend)
    vq = v - center
    return _blob_apply(vq, y, _blob_lse(vq, y, eps, chunk, backend), logz, eps, chunk, backend)


class BlobScore(ScoreMethod):
    r"""Blob score method (Carrillo–Hu–Wang–Wu), see :func:`blob_score` for the formula.

    Parameters
    ----------
    epsilon : float, "auto" or callable
        Mollifier parameter :math:`\varepsilon>0` (:math:`\psi_\varepsilon` has variance :math:`\varepsilon/2` per
        coordinate). ``"auto"``: :func:`blob_bandwidth`, :math:`4(\det\hat\Sigma)^{1/d}N^{-2/(d+4)}`; a callable
        ``x -> float`` is applied to the particles. The rule is evaluated at :meth:`initialize` and kept fixed
        (as in [7]'s code) unless ``recompute=True``, which re-evaluates it at every update.
    chunk_size : int or None
        Rows per block of the eager pass (memory :math:`O(N\cdot\text{chunk})`); default about
        :math:`2.6\cdot10^5/N`.
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
        self._y: Tensor | None = None
        self._logz: Tensor | None = None
        self._center: Tensor | None = None
        self._pending: Tensor | None = None

    def _bandwidth(self, x: Tensor) -> float:
        if isinstance(self.rule, str):
            return blob_bandwidth(x)
        if callable(self.rule):
            return check_positive(self.rule(x), "epsilon(x)")
        return float(self.rule)

    def _chunk(self, n: int) -> int:
        return _default_chunk(n) if self.chunk_size is None else self.chunk_size

    def _set_particles(self, x: Tensor) -> Tensor:
        """Store the particles and their log-normalisers :math:`Z_l`; return the score at the particles."""
        assert self.epsilon is not None
        self.x = x
        self._center = x.mean(dim=0, keepdim=True)
        self._y = x - self._center
        chunk = self._chunk(x.shape[0])
        self._logz = _blob_lse(self._y, self._y, self.epsilon, chunk, self.backend)
        return _blob_apply(self._y, self._y, self._logz, self._logz, self.epsilon, chunk, self.backend)

    def initialize(self, x0: Tensor, t0: float, problem: Any = None) -> None:
        """Fix the bandwidth from ``x0`` (for ``"auto"``/callable rules) and store the particles."""
        x0 = _check_state(x0, "x0", None)
        check_particles(x0, "x0")
        self.t = check_real(t0, "t0")
        self.epsilon = self._bandwidth(x0)
        self.x, self._y, self._logz, self._center = None, None, None, None
        self._pending = x0  # the N^2 pass is done lazily: by update(), or by the first __call__
        self.history = []

    def update(self, x: Tensor, t: float) -> Tensor:
        """Blob score of the particles ``x`` at the particles themselves, shape ``(N, d)``."""
        x = _check_state(x, "x", None)
        check_particles(x, "x")
        self.t = check_real(t, "t")
        if self.epsilon is None or self.recompute:
            self.epsilon = self._bandwidth(x)
        s = self._set_particles(x)
        self._pending = None
        self.history.append({"t": self.t, "epsilon": self.epsilon, "phase": "update"})
        return s

    def __call__(self, v: Tensor) -> Tensor:
        """Blob score of the current particles (those of the last update) at arbitrary points ``v`` (M, d)."""
        if self._y is None and self._pending is not None:
            self._set_particles(self._pending)
            self._pending = None
        if self._y is None or self._logz is None or self._center is None or self.epsilon is None:
            raise RuntimeError("BlobScore: call update() before evaluating the score")
        assert self.x is not None
        _check_state(v, "v", self.x.shape[1], self.x.dtype, self.x.device)
        vq = v - self._center
        chunk = self._chunk(self._y.shape[0])
        lse = _blob_lse(vq, self._y, self.epsilon, chunk, self.backend)
        return _blob_apply(vq, self._y, lse, self._logz, self.epsilon, chunk, self.backend)

    def __repr__(self) -> str:
        return f"BlobScore(epsilon={self.rule!r})"


# ----------------------------------------------------------------------------------------------------
# neural (SBTM)
# ----------------------------------------------------------------------------------------------------
def _relative_l2(s: Tensor, s_true: Tensor) -> Tensor:
    return ((s - s_true) ** 2).sum() / (s_true * s_true).sum()


class NeuralScore(ScoreMethod):
    r"""Score-based transport modelling (SBTM): a neural score :math:`s_\theta\approx\nabla\log f_t`.

    1. :meth:`initialize`: fit the :class:`~landau_lite.networks.MLP` to the known initial score with the
       explicit relative loss :math:`\sum_i|s_\theta(X_i)-s_0(X_i)|^2/\sum_i|s_0(X_i)|^2` (Adam, ``init_lr``)
       until it drops below ``init_tol`` or after ``init_steps`` steps.
    2. :meth:`update`: ``steps_per_update`` Adam steps (``lr``, optimiser state kept between updates),
       warm-started from the previous network, on the chosen loss (see :mod:`landau_lite.losses`):

       * ``"dsm"`` — :math:`\frac1N\sum_i|s(X_i)|^2+\frac1\alpha(s(X_i+\alpha\zeta_i)-s(X_i-\alpha\zeta_i))\cdot\zeta_i`
         with fresh :math:`\zeta\sim N(0,I)` each step, :math:`\alpha=` ``dsm_alpha`` ([7]: 25 steps, lr 4e-4, α=0.4);
       * ``"denoising"`` — single-pass denoising score matching (Vincent 2011),
         :math:`\frac1N\sum_i|s(Y_i)|^2+\frac2\sigma\zeta_i\cdot s(Y_i)`, :math:`Y_i=X_i+\sigma\zeta_i`,
         :math:`\sigma=` ``denoising_sigma``: one network pass on :math:`N` points (the DSM loss needs three on
         :math:`3N`), but its minimiser is :math:`\nabla\log(f*N(0,\sigma^2I))=\nabla\log f+O(\sigma^2)` (a bias);
       * ``"ism"`` — :math:`\frac1N\sum_i|s(X_i)|^2+2\nabla\cdot s(X_i)` with the exact (forward-tangent) divergence;
       * ``"hutchinson"`` — the same with a one-probe Rademacher divergence estimate;

       then return :math:`s_\theta(x)` (no grad).

    Parameters
    ----------
    d : int
        Dimension (``>= 2``).
    width, depth, activation :
        Network shape (see :class:`~landau_lite.networks.MLP`).
    loss : {"dsm", "denoising", "ism", "hutchinson"}
    steps_per_update : int
        Adam steps per :meth:`update` (``>= 0``).
    lr, init_lr : float
        Adam learning rates for the updates and the initial fit (``> 0``).
    init_steps : int
        Maximum number of initial-fit steps (``>= 0``).
    init_tol : float
        Stop the initial fit when the relative loss is below this (``> 0``).
    dsm_alpha : float
        Finite-difference step :math:`\alpha>0` of the DSM loss.
    denoising_sigma : float
        Noise level :math:`\sigma>0` of the denoising loss.
    batch_size : int or None
        Minibatch size drawn (without replacement) for every step; None = full batch.
    compile : bool or "auto"
        ``torch.compile`` the DSM/denoising/ISM/initial losses. ``"auto"``: compile on CUDA, and on the CPU when
        the batch holds at least ``COMPILE_MIN_N[loss]`` points (ISM 1024, DSM, denoising and the initial fit
        4096); the
        environment variable ``LANDAU_LITE_COMPILE=0`` turns it off. If compilation fails, warn once and fall
        back to eager. The Hutchinson loss (double backward) is always eager.
    seed : int
        Seeds the network initialisation and the noise/minibatch generator: runs are deterministic.
    dtype, device :
        Network dtype/device; default: those of ``x0`` at :meth:`initialize`.

    Example
    -------
    >>> class Gauss:
    ...     d = 2
    ...     def score(self, v, t): return -v
    >>> x = torch.randn(256, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> sc = NeuralScore(2, width=16, init_steps=300, init_tol=1e-3, steps_per_update=2)
    >>> sc.initialize(x, 0.0, Gauss())
    >>> sc.update(x, 0.01).shape
    torch.Size([256, 2])
    """

    name = "sbtm"
    LOSSES = ("dsm", "denoising", "ism", "hutchinson")
    _instances = 0  # counter for the names of compiled loss functions

    def __init__(self, d: int, *, width: int = 100, depth: int = 2, activation: str = "softsign",
                 loss: str = "dsm", steps_per_update: int = 25, lr: float = 4e-4, init_steps: int = 2000,
                 init_tol: float = 1e-4, init_lr: float = 1e-3, dsm_alpha: float = 0.4,
                 denoising_sigma: float = 0.1,
                 batch_size: int | None = None, compile: bool | str = "auto", seed: int = 0,
                 dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> None:
        super().__init__()
        self.d = check_dim(d, "d")
        self.width = check_int(width, "width", lo=1)
        self.depth = check_int(depth, "depth", lo=1)
        self.activation = check_choice(activation, "activation", ACTIVATIONS)
        self.loss = check_choice(loss, "loss", self.LOSSES)
        self.steps_per_update = check_int(steps_per_update, "steps_per_update", lo=0)
        self.lr = check_positive(lr, "lr")
        self.init_steps = check_int(init_steps, "init_steps", lo=0)
        self.init_tol = check_positive(init_tol, "init_tol")
        self.init_lr = check_positive(init_lr, "init_lr")
        self.dsm_alpha = check_positive(dsm_alpha, "dsm_alpha")
        self.denoising_sigma = check_positive(denoising_sigma, "denoising_sigma")
        self.batch_size = None if batch_size is None else check_int(batch_size, "batch_size", lo=1)
        if not isinstance(compile, bool):
            check_choice(compile, "compile", ("auto",))
        self.compile = compile
        self.seed = check_int(seed, "seed")
        if dtype is not None and dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32, torch.float64 or None, got {dtype!r}")
        self.dtype = dtype
        self.device = None if device is None else torch.device(device)
        self.net: MLP | None = None
        self.init_loss: float | None = None
        self.t: float | None = None
        self._opt: torch.optim.Optimizer | None = None
        self._gen: torch.Generator | None = None
        self._compiled: dict[str, Callable] = {}
        self._compile_failed = False

    # -- helpers ---------------------------------------------------------------------------------------
    def _use_compile(self, n: int, loss: str) -> bool:
        if self._compile_failed or loss == "hutchinson" or self.compile is False or _compile_disabled():
            return False
        if self.compile is True or (self.net is not None and self.net.device.type == "cuda"):
            return True
        return n >= COMPILE_MIN_N.get(loss, 4096)

    def _loss_fn(self, loss: str) -> Callable[..., Tensor]:
        """The loss as a pure function of tensors (noise/probes/targets are arguments, no RNG inside)."""
        net = self.net
        assert net is not None
        if loss == "dsm":
            alpha = self.dsm_alpha

            def dsm(x: Tensor, z: Tensor) -> Tensor:
                return dsm_loss_from_noise(net, x, z, alpha)
            return dsm
        if loss == "denoising":
            sigma = self.denoising_sigma

            def denoising(x: Tensor, z: Tensor) -> Tensor:
                return denoising_loss_from_noise(net, x, z, sigma)
            return denoising
        if loss == "ism":
            def ism(x: Tensor) -> Tensor:
                s, div = net.forward_and_divergence(x)
                return ((s * s).sum(dim=1) + 2.0 * div).mean()
            return ism
        if loss == "hutchinson":
            def hutchinson(x: Tensor, probes: Tensor) -> Tensor:
                return hutchinson_loss_from_probes(net, x, probes)
            return hutchinson

        def explicit(x: Tensor, s_true: Tensor) -> Tensor:
            return _relative_l2(net(x), s_true)
        return explicit

    def __getstate__(self) -> dict:
        # compiled functions close over *this* network and cannot be pickled: a copy compiles its own
        state = self.__dict__.copy()
        state["_compiled"] = {}
        return state

    def _compiled_loss(self, loss: str) -> Callable[..., Tensor]:
        fn = self._compiled.get(loss)
        if fn is None:
            # a fresh code object per instance and loss: dynamo's per-code recompile budget is never shared
            # between NeuralScore instances (each closes over its own network)
            base = self._loss_fn(loss)
            NeuralScore._instances += 1
            name = f"{loss}_loss_{NeuralScore._instances}"
            code = base.__code__.replace(co_name=name)
            fresh = types.FunctionType(code, base.__globals__, name, base.__defaults__, base.__closure__)
            fn = torch.compile(fresh, dynamic=False)
            self._compiled[loss] = fn
        return fn

    def _step(self, opt: torch.optim.Optimizer, loss: str, *args: Tensor) -> Tensor:
        """One optimiser step on ``loss``; returns the (detached) loss before the step."""
        if self._use_compile(args[0].shape[0], loss):
            try:
                opt.zero_grad(set_to_none=True)
                value = self._compiled_loss(loss)(*args)
                value.backward()
                opt.step()
                return value.detach()
            except Exception as exc:  # noqa: BLE001 - any compiler failure: fall back to eager, once
                self._compile_failed = True
                warnings.warn(f"NeuralScore: torch.compile failed ({type(exc).__name__}: {str(exc)[:200]}); "
                              "falling back to eager mode", RuntimeWarning, stacklevel=3)
        opt.zero_grad(set_to_none=True)
        value = self._loss_fn(loss)(*args)
        value.backward()
        opt.step()
        return value.detach()

    def _adam(self, lr: float) -> torch.optim.Optimizer:
        assert self.net is not None
        try:  # the fused kernel saves a few per-step launches; not every torch/device has it
            return torch.optim.Adam(self.net.parameters(), lr=lr, fused=True)
        except (RuntimeError, TypeError, ValueError):
            return torch.optim.Adam(self.net.parameters(), lr=lr)

    def _batch(self, n: int) -> Tensor | None:
        if self.batch_size is None or self.batch_size >= n:
            return None
        assert self._gen is not None
        return torch.randperm(n, generator=self._gen, device=self._gen.device)[: self.batch_size]

    # -- interface -------------------------------------------------------------------------------------
    def initialize(self, x0: Tensor, t0: float, problem: Any = None, *, s0: Tensor | None = None) -> None:
        r"""Build the network (seeded) and fit it to the initial score.

        The target is ``s0`` if given, else ``problem.score(x0, t0)``. Records ``init_loss`` (relative loss
        on all of ``x0`` after the fit) and a ``history`` entry with ``phase="init"``.
        """
        x0 = _check_state(x0, "x0", self.d)
        t0 = check_real(t0, "t0")
        if s0 is None:
            if problem is None:
                raise TypeError("NeuralScore.initialize needs problem (with .score(v, t)) or s0 for the initial fit")
            s0 = _check_problem(problem).score(x0, t0)
        s0 = _check_state(s0, "s0", self.d, x0.dtype, x0.device)
        if s0.shape != x0.shape:
            raise ValueError(f"s0 must have the shape of x0 {tuple(x0.shape)}, got {tuple(s0.shape)}")
        dtype = self.dtype or x0.dtype
        device = self.device or x0.device
        x0 = x0.detach().to(dtype=dtype, device=device)
        s0 = s0.detach().to(dtype=dtype, device=device)
        self.net = MLP(self.d, self.width, self.depth, self.activation, seed=self.seed, dtype=dtype, device=device)
        self._gen = torch.Generator(device=device).manual_seed(self.seed)
        self._compiled = {}
        self.history = []
        self.last_loss = None

        opt = self._adam(self.init_lr)
        n = x0.shape[0]
        steps = 0
        for _ in range(self.init_steps):
            idx = self._batch(n)
            xb, sb = (x0, s0) if idx is None else (x0[idx], s0[idx])
            value = self._step(opt, "explicit", xb, sb)
            steps += 1
            if float(value) < self.init_tol:
                break
        with torch.no_grad():
            self.init_loss = float(_relative_l2(self.net(x0), s0))
        self.history.append({"t": t0, "loss": self.init_loss, "steps": steps, "phase": "init"})
        self._opt = self._adam(self.lr)
        self.t = t0

    def update(self, x: Tensor, t: float) -> Tensor:
        r"""``steps_per_update`` warm-started Adam steps on the chosen loss at ``x``; return :math:`s_\theta(x)`."""
        if self.net is None or self._opt is None:
            raise RuntimeError("NeuralScore: call initialize() before update()")
        x = _check_state(x, "x", self.d, self.net.dtype, self.net.device)
        t = check_real(t, "t")
        x = x.detach()
        n = x.shape[0]
        value: Tensor | None = None
        for _ in range(self.steps_per_update):
            idx = self._batch(n)
            xb = x if idx is None else x[idx]
            if self.loss in ("dsm", "denoising"):
                value = self._step(self._opt, self.loss, xb, draw_noise(xb, self._gen))
            elif self.loss == "ism":
                value = self._step(self._opt, "ism", xb)
            else:
                probes = draw_noise(xb, self._gen, kind="rademacher").unsqueeze(0)
                value = self._step(self._opt, "hutchinson", xb, probes)
        self.last_loss = None if value is None else float(value)
        self.history.append({"t": t, "loss": self.last_loss, "steps": self.steps_per_update, "phase": "update"})
        self.t = t
        with torch.no_grad():
            return self.net(x)

    def __call__(self, v: Tensor) -> Tensor:
        """Evaluate the current network at ``v`` (M, d), without gradient."""
        if self.net is None:
            raise RuntimeError("NeuralScore: call initialize() before evaluating the score")
        v = _check_state(v, "v", self.d, self.net.dtype, self.net.device)
        with torch.no_grad():
            return self.net(v)

    def __repr__(self) -> str:
        return (f"NeuralScore(d={self.d}, width={self.width}, depth={self.depth}, activation={self.activation!r}, "
                f"loss={self.loss!r}, steps_per_update={self.steps_per_update})")


# ----------------------------------------------------------------------------------------------------
# factory
# ----------------------------------------------------------------------------------------------------
def make_score(name: str, problem: Any = None, **kw: Any) -> ScoreMethod:
    r"""Build a score method by name: ``"exact"`` (needs ``problem``), ``"blob"``, ``"sbtm"``/``"neural"``.

    For ``"sbtm"`` the dimension ``d`` defaults to ``problem.d``. Extra keywords go to the constructor.

    >>> make_score("blob", epsilon=0.3)
    BlobScore(epsilon=0.3)
    >>> make_score("sbtm", d=3, width=32).width
    32
    """
    check_choice(name, "name", SCORE_METHODS)
    if name == "exact":
        if kw:
            raise TypeError(f"make_score('exact') takes no keyword arguments, got {sorted(kw)}")
        return ExactScore(problem)
    if name == "blob":
        return BlobScore(**kw)
    if "d" not in kw:
        d = _problem_dim(problem)
        if d is None:
            raise TypeError("make_score('sbtm') needs d=... or a problem with an integer attribute .d")
        kw["d"] = d
    return NeuralScore(**kw)
