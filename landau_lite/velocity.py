r"""The Landau velocity field on particles, and the collision matrix and drift at query points.

Continuity form of the Landau equation: :math:`\partial_t f + \nabla\cdot(f\,U[f]) = 0` with

.. math::

    U[f](v) = -\int A(v-w)\big(\nabla\log f(v) - \nabla\log f(w)\big) f(w)\,dw
            = -\bar a[f](v)\,\nabla\log f(v) + \bar b[f](v),
    \qquad \bar a[f] = A*f,\quad \bar b[f] = (\nabla\cdot A)*f .

For particles :math:`x_1,\dots,x_N` with score values :math:`s_i \approx \nabla\log f(x_i)`:

.. math::

    U_i = -\frac{C}{N}\sum_{j=1}^N |z_{ij}|^{\gamma}\Big(|z_{ij}|^2\,w_{ij} - (z_{ij}\cdot w_{ij})\,z_{ij}\Big),
    \qquad z_{ij} = x_i - x_j,\ w_{ij} = s_i - s_j .

The :math:`j=i` term is exactly zero. The summand is antisymmetric in :math:`(i,j)`, so
:math:`\sum_i U_i = 0` (momentum), and :math:`x_i\cdot U_i` summed over :math:`i` vanishes because
:math:`A(z)z = 0` (energy): both hold to round-off by construction.

Backends (all O(N) extra memory or O(N·chunk), never an N×N×d tensor):

* ``"moments"`` (only :math:`\gamma = 0`): exact O(N) formula. :math:`A` is a quadratic polynomial in
  :math:`z`, so the pair sum expands into a handful of moments of the centred particles and scores.
* ``"compiled"``: one ``torch.compile``-fused loop over all pairs (Inductor emits a single vectorised
  reduction; nothing N×N is allocated).
* ``"chunked"``: eager torch over blocks of rows, with the :math:`j`-contraction done by matrix products.
* ``"auto"``: ``moments`` for γ=0, ``compiled`` for large N or CUDA, otherwise ``chunked``.
"""

from __future__ import annotations

import os
import types
import warnings
from typing import Callable

import torch

from ._checks import check_choice, check_gamma, check_int, check_pair, check_particles, check_points, check_positive
from .kernel import radial_power

__all__ = [
    "velocity",
    "velocity_at",
    "collision_matrix",
    "collision_drift",
    "BACKENDS",
    "default_chunk_size",
]

BACKENDS = ("auto", "compiled", "chunked", "moments")

#: N from which ``backend="auto"`` compiles on the CPU (compiling costs seconds once per process).
COMPILE_THRESHOLD_CPU = 4096


def default_chunk_size(n: int, device: torch.device) -> int:
    """Rows per block for the eager path: about 2.6e5 pair entries per temporary on CPU (L2-sized), 2^24 on GPU."""
    budget = 262_144 if device.type == "cpu" else 16_777_216
    return int(max(1, min(n, budget // max(n, 1))))


# ----------------------------------------------------------------------------------------------
# pairwise kernels
# ----------------------------------------------------------------------------------------------

def _pair_coefficients(xi: torch.Tensor, si: torch.Tensor, x: torch.Tensor, s: torch.Tensor,
                       gamma: float) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Block coefficients :math:`a_{ij} = |z|^{\gamma+2}` and :math:`b_{ij} = |z|^\gamma (z\cdot w)`, shape (B, N)."""
    d = x.shape[1]
    r2 = torch.zeros(xi.shape[0], x.shape[0], dtype=x.dtype, device=x.device)
    zw = torch.zeros_like(r2)
    for k in range(d):
        zk = xi[:, k, None] - x[None, :, k]
        wk = si[:, k, None] - s[None, :, k]
        r2.addcmul_(zk, zk)
        zw.addcmul_(zk, wk)
    p = radial_power(r2, gamma)
    return p * r2, p * zw


def _velocity_rows_chunked(xq: torch.Tensor, sq: torch.Tensor, x: torch.Tensor, s: torch.Tensor,
                           gamma: float, chunk_size: int) -> torch.Tensor:
    r"""Eager path: :math:`\sum_j a_{ij}(s_i - s_j) - b_{ij}(x_i - x_j)` by blocks of rows, contraction by GEMM."""
    out = torch.empty_like(xq)
    for start in range(0, xq.shape[0], chunk_size):
        stop = min(start + chunk_size, xq.shape[0])
        xi, si = xq[start:stop], sq[start:stop]
        a, b = _pair_coefficients(xi, si, x, s, gamma)
        out[start:stop] = (si * a.sum(1, keepdim=True) - a @ s) - (xi * b.sum(1, keepdim=True) - b @ x)
    return out


def _velocity_rows_fused(xq: torch.Tensor, sq: torch.Tensor, x: torch.Tensor, s: torch.Tensor,
                         gamma: float) -> torch.Tensor:
    """Component-wise row function written for Inductor, which fuses it into one reduction loop."""
    d = x.shape[1]
    zs = [xq[:, k, None] - x[None, :, k] for k in range(d)]
    ws = [sq[:, k, None] - s[None, :, k] for k in range(d)]
    r2 = zs[0] * zs[0]
    zw = zs[0] * ws[0]
    for k in range(1, d):
        r2 = r2 + zs[k] * zs[k]
        zw = zw + zs[k] * ws[k]
    if gamma == -3.0:
        rinv = torch.where(r2 > 0, torch.rsqrt(r2), 0.0)
        a = rinv
        b = rinv * rinv * rinv * zw
    else:
        p = radial_power(r2, gamma)
        a = p * r2
        b = p * zw
    return torch.stack([(a * ws[k] - b * zs[k]).sum(1) for k in range(d)], dim=1)


_COMPILED: dict[tuple, Callable] = {}
_COMPILE_BROKEN: set[tuple] = set()


def _compile_disabled() -> bool:
    return os.environ.get("LANDAU_LITE_COMPILE", "1") == "0"


def _compiled_rows(key: tuple) -> Callable:
    """One compiled row function per (gamma, d, dtype, device).

    Each key gets its own code object, so dynamo's per-code recompile limit never mixes keys: within a
    key the first compile is shape-static (fastest) and a second N switches to one dynamic-shape kernel.
    """
    fn = _COMPILED.get(key)
    if fn is None:
        gamma = key[0]

        def rows(xq, sq, x, s):
            return _velocity_rows_fused(xq, sq, x, s, gamma)

        tag = "_".join(str(k) for k in key).replace(".", "p").replace("-", "m").replace(":", "_")
        code = rows.__code__.replace(co_name=f"rows_{tag}")
        fresh = types.FunctionType(code, rows.__globals__, f"rows_{tag}", rows.__defaults__, rows.__closure__)
        fn = torch.compile(fresh, fullgraph=True)
        _COMPILED[key] = fn
    return fn


def _velocity_rows_compiled(xq, sq, x, s, gamma: float, chunk_size: int) -> torch.Tensor:
    """Fused path; falls back to the chunked path (with one warning) if compilation is unavailable."""
    key = (float(gamma), x.shape[1], str(x.dtype), str(x.device))
    if not _compile_disabled() and key not in _COMPILE_BROKEN:
        try:
            return _compiled_rows(key)(xq, sq, x, s)
        except Exception as exc:  # compilation needs a C++ compiler (CPU) or triton (GPU)
            _COMPILE_BROKEN.add(key)
            warnings.warn(f"torch.compile unavailable for {key} ({type(exc).__name__}: {str(exc)[:200]}); "
                          "landau_lite falls back to the eager chunked backend.", RuntimeWarning, stacklevel=3)
    return _velocity_rows_chunked(xq, sq, x, s, gamma, chunk_size)


# ----------------------------------------------------------------------------------------------
# Maxwell molecules: the exact O(N) moment formula
# ----------------------------------------------------------------------------------------------

def _velocity_moments(xq: torch.Tensor, sq: torch.Tensor, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    r"""Exact :math:`\sum_j A(x_i-x_j)(s_i-s_j)/C` for :math:`\gamma=0` in O(N) work.

    Centre :math:`a_j = x_j - \bar x`, :math:`q_j = s_j - \bar s` (the kernel only sees differences) and let
    :math:`a, q` be the centred query point and score. With :math:`S=\sum_j|a_j|^2`,
    :math:`M_{aa}=\sum_j a_ja_j^T`, :math:`M_{aq}=\sum_j a_jq_j^T`, :math:`c=\sum_j a_j\cdot q_j`,
    :math:`v_2=\sum_j|a_j|^2q_j`, :math:`v_3=\sum_j(a_j\cdot q_j)a_j`:

    .. math::

        \sum_j A(a-a_j)(q-q_j) = N|a|^2q + 2M_{aq}^Ta + Sq - v_2
            - N(a\cdot q)a - M_{aq}a - M_{aa}q - c\,a + v_3 .
    """
    n = x.shape[0]
    xm, sm = x.mean(0), s.mean(0)
    a_j, q_j = x - xm, s - sm
    a, q = xq - xm, sq - sm
    S = (a_j * a_j).sum()
    Maa = a_j.T @ a_j
    Maq = a_j.T @ q_j
    c = (a_j * q_j).sum()
    v2 = ((a_j * a_j).sum(1, keepdim=True) * q_j).sum(0)
    v3 = ((a_j * q_j).sum(1, keepdim=True) * a_j).sum(0)
    a2 = (a * a).sum(1, keepdim=True)
    aq = (a * q).sum(1, keepdim=True)
    return (n * a2 * q + 2.0 * a @ Maq + S * q - v2
            - n * aq * a - a @ Maq.T - q @ Maa.T - c * a + v3)


# ----------------------------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------------------------

def _resolve_backend(backend: str, gamma: float, n: int, device: torch.device) -> str:
    check_choice(backend, "backend", BACKENDS)
    if backend == "moments" and gamma != 0.0:
        raise ValueError(f"backend='moments' is exact only for gamma = 0 (Maxwell molecules), got gamma = {gamma}")
    if backend != "auto":
        return backend
    if gamma == 0.0:
        return "moments"
    if not _compile_disabled() and (device.type == "cuda" or n >= COMPILE_THRESHOLD_CPU):
        return "compiled"
    return "chunked"


def _velocity_core(xq, sq, x, s, gamma, C, backend, chunk_size) -> torch.Tensor:
    n = x.shape[0]
    which = _resolve_backend(backend, gamma, n, x.device)
    if chunk_size is None:
        chunk_size = default_chunk_size(n, x.device)
    else:
        chunk_size = check_int(chunk_size, "chunk_size", lo=1)
    if which == "moments":
        total = _velocity_moments(xq, sq, x, s)
    elif which == "compiled":
        total = _velocity_rows_compiled(xq, sq, x, s, gamma, chunk_size)
    else:
        total = _velocity_rows_chunked(xq, sq, x, s, gamma, chunk_size)
    return total.mul_(-C / n)


def velocity(x: torch.Tensor, s: torch.Tensor, *, gamma: float, C: float = 1.0, backend: str = "auto",
             chunk_size: int | None = None) -> torch.Tensor:
    r"""Landau particle velocity :math:`U_i = -\frac{C}{N}\sum_j A(x_i-x_j)(s_i-s_j)`.

    Args:
        x: particle positions (velocities in phase space), shape ``(N, d)``, float32 or float64, ``N >= 2``.
        s: score values :math:`s_i\approx\nabla\log f(x_i)`, same shape, dtype and device as ``x``.
        gamma: kernel exponent, :math:`-d-1\le\gamma\le1` (``-3`` Coulomb, ``0`` Maxwell molecules).
        C: collision constant, ``> 0``.
        backend: ``"auto"``, ``"compiled"``, ``"chunked"`` or ``"moments"`` (γ=0 only); see the module docstring.
        chunk_size: rows per block for the chunked path (default: about 2.6e5 / N on CPU).

    Returns:
        ``(N, d)`` tensor with the dtype and device of ``x``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(500, 3, generator=g, dtype=torch.float64)
        >>> U = velocity(x, -x, gamma=-3.0)          # the Maxwellian score -x gives U ≈ 0 on average
        >>> float(U.sum(0).abs().max()) < 1e-12      # momentum is conserved to round-off
        True
    """
    x = check_particles(x, "x")
    s = check_pair(x, s, "x", "s")
    gamma = check_gamma(gamma, x.shape[1])
    C = check_positive(C, "C")
    return _velocity_core(x, s, x, s, gamma, C, backend, chunk_size)


def velocity_at(v: torch.Tensor, s_v: torch.Tensor, x: torch.Tensor, s: torch.Tensor, *, gamma: float,
                C: float = 1.0, backend: str = "auto", chunk_size: int | None = None) -> torch.Tensor:
    r"""The velocity field of a score field at query points, for the empirical measure of ``x``:

    .. math:: U^s(v) = -\frac{C}{N}\sum_j A(v - x_j)\big(s(v) - s_j\big).

    ``v``: ``(M, d)`` query points, ``s_v``: score values there; ``x``, ``s``: particles and their scores.
    """
    x = check_particles(x, "x")
    s = check_pair(x, s, "x", "s")
    v = check_points(v, x.shape[1], "v")
    s_v = check_pair(v, s_v, "v", "s_v")
    if v.dtype != x.dtype or v.device != x.device:
        raise TypeError(f"v must have the dtype/device of x ({x.dtype}, {x.device}), got ({v.dtype}, {v.device})")
    gamma = check_gamma(gamma, x.shape[1])
    C = check_positive(C, "C")
    return _velocity_core(v, s_v, x, s, gamma, C, backend, chunk_size)


def _check_query(v, x, gamma, C):
    x = check_particles(x, "x", min_n=1)
    v = check_points(v, x.shape[1], "v")
    if v.dtype != x.dtype or v.device != x.device:
        raise TypeError(f"v must have the dtype/device of x ({x.dtype}, {x.device}), got ({v.dtype}, {v.device})")
    return v, x, check_gamma(gamma, x.shape[1]), check_positive(C, "C")


def collision_matrix(v: torch.Tensor, x: torch.Tensor, *, gamma: float, C: float = 1.0,
                     chunk_size: int | None = None) -> torch.Tensor:
    r"""Empirical collision matrix :math:`\bar a[f^N](v) = \frac{C}{N}\sum_j A(v - x_j)` at query points.

    For :math:`\gamma=0` the closed form :math:`C[(|v-u|^2+\operatorname{tr}\Sigma)I-(v-u)(v-u)^T-\Sigma]`
    with the empirical mean :math:`u` and covariance :math:`\Sigma` is used (exact, O(N)).
    Returns ``(M, d, d)``. A query point equal to a particle gets that particle's term as 0.
    """
    v, x, gamma, C = _check_query(v, x, gamma, C)
    n, d = x.shape
    eye = torch.eye(d, dtype=x.dtype, device=x.device)
    if gamma == 0.0:
        u = x.mean(0)
        xc = x - u
        cov = xc.T @ xc / n
        y = v - u
        return C * (((y * y).sum(1) + torch.trace(cov))[:, None, None] * eye
                    - y[:, :, None] * y[:, None, :] - cov)
    chunk = default_chunk_size(n, x.device) if chunk_size is None else check_int(chunk_size, "chunk_size", lo=1)
    out = torch.empty(v.shape[0], d, d, dtype=x.dtype, device=x.device)
    for start in range(0, v.shape[0], chunk):
        vb = v[start:start + chunk]
        zs = [vb[:, k, None] - x[None, :, k] for k in range(d)]
        r2 = sum(z * z for z in zs)
        p = radial_power(r2, gamma)
        diag = (p * r2).sum(1)
        blk = out[start:start + chunk]
        for k in range(d):
            for l in range(k, d):
                m = -(p * zs[k] * zs[l]).sum(1)
                if k == l:
                    m = m + diag
                blk[:, k, l] = m
                blk[:, l, k] = m
    return out.mul_(C / n)


def collision_drift(v: torch.Tensor, x: torch.Tensor, *, gamma: float, C: float = 1.0,
                    chunk_size: int | None = None) -> torch.Tensor:
    r"""Empirical drift :math:`\bar b[f^N](v) = \frac{C}{N}\sum_j (\nabla\cdot A)(v-x_j)
    = -\frac{(d-1)C}{N}\sum_j |v-x_j|^\gamma (v - x_j)` at query points, shape ``(M, d)``.

    Note: for :math:`\gamma\le-2` this is a singular kernel; as a Monte-Carlo estimate of
    :math:`(\nabla\cdot A)*f` it has infinite variance near particles (use ``landau_lite.analysis.grid`` for
    accurate values of smooth densities).
    """
    v, x, gamma, C = _check_query(v, x, gamma, C)
    n, d = x.shape
    if gamma == 0.0:
        return -(d - 1) * C * (v - x.mean(0))
    chunk = default_chunk_size(n, x.device) if chunk_size is None else check_int(chunk_size, "chunk_size", lo=1)
    out = torch.empty_like(v)
    for start in range(0, v.shape[0], chunk):
        vb = v[start:start + chunk]
        zs = [vb[:, k, None] - x[None, :, k] for k in range(d)]
        p = radial_power(sum(z * z for z in zs), gamma)
        out[start:start + chunk] = torch.stack([(p * z).sum(1) for z in zs], dim=1)
    return out.mul_(-(d - 1) * C / n)
