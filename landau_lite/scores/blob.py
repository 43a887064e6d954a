r"""The blob (regularised-entropy) score of Carrillo, Hu, Wang and Wu."""

from __future__ import annotations

import math
import os
import types
import warnings
from typing import Any, Callable

import torch
from torch import Tensor

from .._checks import check_choice, check_int, check_particles, check_points, check_positive, check_real
from .base import ScoreMethod, _check_state

__all__ = ["BlobScore", "blob_score", "blob_bandwidth", "BLOB_BACKENDS"]


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
