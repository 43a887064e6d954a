r"""The Landau velocity field on particles, and the collision matrix and drift at query points.

Continuity form of the Landau equation: :math:`\partial_t f + \nabla\cdot(f\,U[f]) = 0` with

.. math::

    U[f](v) &= -\int A(v-w)\big(\nabla\log f(v) - \nabla\log f(w)\big) f(w)\,dw \\
            &= -\bar a[f](v)\,\nabla\log f(v) + \bar b[f](v), \\
    \bar a[f] &= A*f,\qquad \bar b[f] = (\nabla\cdot A)*f,

where the kernel :math:`A(z) = C|z|^\gamma(|z|^2I - z\otimes z)` carries the collision constant :math:`C`
(:mod:`landau_lite.kernel`). For particles :math:`x_1,\dots,x_N` with score values :math:`s_i \approx \nabla\log f(x_i)`:

.. math::

    U_i &= -\frac{1}{N}\sum_{j=1}^N A(z_{ij})\,w_{ij} \\
        &= -\frac{C}{N}\sum_{j=1}^N |z_{ij}|^{\gamma}\Big(|z_{ij}|^2\,w_{ij} - (z_{ij}\cdot w_{ij})\,z_{ij}\Big), \\
    z_{ij} &= x_i - x_j,\qquad w_{ij} = s_i - s_j .

The :math:`j=i` term is exactly zero. The summand is antisymmetric in :math:`(i,j)`, so
:math:`\sum_i U_i = 0` (momentum), and :math:`\sum_i x_i\cdot U_i = 0` because :math:`A(z)z = 0` (energy): both
hold to round-off by construction.

Backends (all with :math:`O(N\cdot\text{chunk})` memory at most, never an :math:`N\times N` tensor):

* ``"moments"`` (only :math:`\gamma = 0`): exact :math:`O(N)` formula. :math:`A` is a quadratic polynomial in
  :math:`z`, so the pair sum expands into a handful of moments of the centred particles and scores.
* ``"compiled"`` / ``"chunked"`` / ``"auto"``: the pair sum on the engine :mod:`landau_lite.pairs` (fused
  ``torch.compile`` kernel / eager row blocks / compiled once the work pays for it). ``"auto"`` uses ``"moments"``
  for :math:`\gamma=0`.

For :math:`\gamma=-3` the summand is evaluated as :math:`|z|^{-1}\big(w-(\hat z\cdot w)\hat z\big)`,
:math:`\hat z=z/|z|`, which stays finite for near-coincident particles. Gradients (autograd) are exact for every
backend: the powers of :math:`|z|` use a double ``where``, so the :math:`j=i` term has a zero (not NaN) gradient.
"""

from __future__ import annotations

import functools
import math

import torch

from ._checks import check_choice, check_gamma, check_int, check_pair, check_particles, check_points, check_positive
from .kernel import radial_power
from .distributed import all_reduce_sum, is_distributed, ring_pair_reduce
from .pairs import PairKernel, pair_reduce

__all__ = [
    "VelocityField",
    "velocity",
    "velocity_at",
    "collision_matrix",
    "collision_drift",
    "velocity_kernel",
    "BACKENDS",
    "FLOPS_PER_PAIR",
]

BACKENDS = ("auto", "compiled", "chunked", "moments")

#: Floating-point operations per pair of the fused velocity kernel in 3-D, used for the roofline fraction of
#: ``python -m landau_lite bench`` (for γ = -3, 32 = 6 differences, 2 dot products (10), the masked reciprocal
#: square root (counted 2), ẑ·w scaling (2), and 4 per component (12)).
FLOPS_PER_PAIR = {-3.0: 32, "other": 36}


# ----------------------------------------------------------------------------------------------
# pair functions (component-major: rows = [x_q; s_q] (2d, B), cols = [x; s] (2d, N))
# ----------------------------------------------------------------------------------------------

def _differences(rows: torch.Tensor, cols: torch.Tensor, d: int):
    zs = [rows[k][:, None] - cols[k][None, :] for k in range(d)]
    ws = [rows[d + k][:, None] - cols[d + k][None, :] for k in range(d)]
    r2 = zs[0] * zs[0]
    zw = zs[0] * ws[0]
    for k in range(1, d):
        r2 = r2 + zs[k] * zs[k]
        zw = zw + zs[k] * ws[k]
    return zs, ws, r2, zw


def _point_differences(rows: torch.Tensor, cols: torch.Tensor, d: int):
    """:math:`z_k = v_k - x_k` per component and :math:`|z|^2` for rows ``v`` and columns ``x`` (first ``d`` rows)."""
    zs = [rows[k][:, None] - cols[k][None, :] for k in range(d)]
    r2 = zs[0] * zs[0]
    for k in range(1, d):
        r2 = r2 + zs[k] * zs[k]
    return zs, r2


def _coulomb_inverse(r2: torch.Tensor) -> torch.Tensor:
    r""":math:`1/|z|` with the value 0 (and a zero gradient) at :math:`z=0`."""
    pos = r2 > 0
    return torch.where(pos, torch.rsqrt(torch.where(pos, r2, 1.0)), 0.0)


@functools.lru_cache(maxsize=None)
def velocity_kernel(d: int, gamma: float) -> PairKernel:
    r"""The :class:`~landau_lite.pairs.PairKernel` of :math:`\sum_j |z|^\gamma(|z|^2w-(z\cdot w)z)`, output ``(d, B)``."""

    if gamma == -3.0:
        def fused(rows, cols, consts):
            zs, ws, r2, zw = _differences(rows, cols, d)
            rinv = _coulomb_inverse(r2)
            c = zw * rinv * rinv
            return torch.stack([(rinv * (ws[k] - c * zs[k])).sum(1) for k in range(d)])

        def eager(rows, cols, consts):
            # the same sum, contracted by matrix products: sum_j a_ij (s_i - s_j) - b_ij (x_i - x_j)
            xq, sq, x, s = rows[:d], rows[d:], cols[:d], cols[d:]
            zs = [xq[k][:, None] - x[k][None, :] for k in range(d)]
            r2 = zs[0] * zs[0]
            zw = zs[0] * (sq[0][:, None] - s[0][None, :])
            for k in range(1, d):
                r2.addcmul_(zs[k], zs[k])
                zw.addcmul_(zs[k], sq[k][:, None] - s[k][None, :])
            a = _coulomb_inverse(r2)
            b = zw.mul_(a).mul_(a).mul_(a)
            return (sq * a.sum(1) - (a @ s.T).T) - (xq * b.sum(1) - (b @ x.T).T)
    else:
        def fused(rows, cols, consts):
            zs, ws, r2, zw = _differences(rows, cols, d)
            p = radial_power(r2, gamma)
            a = p * r2
            b = p * zw
            return torch.stack([(a * ws[k] - b * zs[k]).sum(1) for k in range(d)])

        eager = None
    tag = f"landau_velocity_d{d}_g{gamma:g}"
    return PairKernel(tag, fused, eager)


@functools.lru_cache(maxsize=None)
def _matrix_kernel(d: int, gamma: float) -> PairKernel:
    pairs = [(k, l) for k in range(d) for l in range(k, d)]

    def fused(rows, cols, consts):
        zs, r2 = _point_differences(rows, cols, d)
        p = radial_power(r2, gamma)
        diag = (p * r2).sum(1)
        return torch.stack([(diag if k == l else 0.0) - (p * zs[k] * zs[l]).sum(1) for k, l in pairs])

    return PairKernel(f"landau_matrix_d{d}_g{gamma:g}", fused)


@functools.lru_cache(maxsize=None)
def _drift_kernel(d: int, gamma: float) -> PairKernel:
    def fused(rows, cols, consts):
        zs, r2 = _point_differences(rows, cols, d)
        p = radial_power(r2, gamma)
        return torch.stack([(p * z).sum(1) for z in zs])

    return PairKernel(f"landau_drift_d{d}_g{gamma:g}", fused)


@functools.lru_cache(maxsize=None)
def _pair_loss_kernel(d: int, gamma: float) -> PairKernel:
    r"""rows ``[y; a]`` (2d, B), cols ``[x; b]`` (2d, N): :math:`\sum_j|z|^\gamma(|z|^2|u|^2-(z\cdot u)^2)`, ``(1, B)``."""

    def fused(rows, cols, consts):
        zs, us, r2, zu = _differences(rows, cols, d)
        u2 = us[0] * us[0]
        for k in range(1, d):
            u2 = u2 + us[k] * us[k]
        if gamma == -3.0:
            rinv = _coulomb_inverse(r2)
            q = zu * rinv
            val = rinv * (u2 - q * q)
        else:
            val = radial_power(r2, gamma) * (r2 * u2 - zu * zu)
        return val.sum(1)[None]

    return PairKernel(f"landau_pair_loss_d{d}_g{gamma:g}", fused)


@functools.lru_cache(maxsize=None)
def _drift_dot_kernel(d: int, gamma: float) -> PairKernel:
    r"""rows ``v`` (d, B), cols ``[x; s]`` (2d, N): :math:`\sum_j|v-x_j|^\gamma(v-x_j)\cdot s_j`, ``(1, B)``."""

    def fused(rows, cols, consts):
        zs, r2 = _point_differences(rows, cols, d)
        zs_dot = zs[0] * cols[d][None, :]
        for k in range(1, d):
            zs_dot = zs_dot + zs[k] * cols[d + k][None, :]
        return (radial_power(r2, gamma) * zs_dot).sum(1)[None]

    return PairKernel(f"landau_drift_dot_d{d}_g{gamma:g}", fused)


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
    a2_j = (a_j * a_j).sum(1, keepdim=True)
    aq_j = (a_j * q_j).sum(1, keepdim=True)
    S = a2_j.sum()
    Maa = a_j.T @ a_j
    Maq = a_j.T @ q_j
    c = aq_j.sum()
    v2 = (a2_j * q_j).sum(0)
    v3 = (aq_j * a_j).sum(0)
    a2 = (a * a).sum(1, keepdim=True)
    aq = (a * q).sum(1, keepdim=True)
    return (n * a2 * q + a @ (2.0 * Maq - Maq.T) + S * q - v2
            - n * aq * a - q @ Maa - c * a + v3)


def _velocity_moments_global(x: torch.Tensor, s: torch.Tensor, n: torch.Tensor, group: object) -> torch.Tensor:
    """:func:`_velocity_moments` for this rank's rows with the moments of every rank's particles (two all-reduces)."""
    d = x.shape[1]
    means = all_reduce_sum(torch.cat([x.sum(0), s.sum(0)]), group) / n
    xm, sm = means[:d], means[d:]
    a_j, q_j = x - xm, s - sm
    a2_j = (a_j * a_j).sum(1, keepdim=True)
    aq_j = (a_j * q_j).sum(1, keepdim=True)
    packed = torch.cat([a2_j.sum().reshape(1), (a_j.T @ a_j).reshape(-1), (a_j.T @ q_j).reshape(-1),
                        aq_j.sum().reshape(1), (a2_j * q_j).sum(0), (aq_j * a_j).sum(0)])
    packed = all_reduce_sum(packed, group)
    S, c = packed[0], packed[1 + 2 * d * d]
    Maa = packed[1:1 + d * d].reshape(d, d)
    Maq = packed[1 + d * d:1 + 2 * d * d].reshape(d, d)
    v2 = packed[2 + 2 * d * d:2 + 2 * d * d + d]
    v3 = packed[2 + 2 * d * d + d:]
    a, q = a_j, q_j
    a2 = a2_j
    aq = aq_j
    return (n * a2 * q + a @ (2.0 * Maq - Maq.T) + S * q - v2
            - n * aq * a - q @ Maa - c * a + v3)


# ----------------------------------------------------------------------------------------------
# validation shared by the public functions
# ----------------------------------------------------------------------------------------------

def _resolve_backend(backend: str, gamma: float) -> str:
    check_choice(backend, "backend", BACKENDS)
    if backend == "moments" and gamma != 0.0:
        raise ValueError(f"backend='moments' is exact only for gamma = 0 (Maxwell molecules), got gamma = {gamma}")
    if backend == "auto" and gamma == 0.0:
        return "moments"
    return backend


def _check_range(x: torch.Tensor, s: torch.Tensor | None, gamma: float, n: int, names: tuple[str, str]) -> None:
    r"""Refuse data so large that :math:`|z|^2` or the products in the pair sum overflow the dtype.

    The pair sum needs :math:`(2\sqrt d\,\max|x|)^{\max(2,\gamma+2)}\cdot\max(1,2\sqrt d\,\max|s|)\cdot N` below the
    largest float; one host read for both maxima (the finite check already reads the tensors).
    """
    d = x.shape[1]
    vals = torch.stack([x.detach().abs().amax(), s.detach().abs().amax() if s is not None else x.new_zeros(())])
    mx, ms = (float(v) for v in vals.tolist())
    for name, m, t in ((names[0], mx, x), (names[1], ms, s)):
        if not math.isfinite(m):
            bad = int((~torch.isfinite(t)).sum())
            raise ValueError(f"{name} must be finite; it holds {bad} NaN/inf entries")
    big = math.log(torch.finfo(x.dtype).max) - math.log(16.0 * max(n, 1))
    lx = math.log(max(2.0 * math.sqrt(d) * mx, 1e-300))
    ls = math.log(max(2.0 * math.sqrt(d) * ms, 1.0))
    power = max(2.0, gamma + 2.0)
    if lx * power + ls > big:
        raise ValueError(f"{names[0]} and {names[1]} have entries up to {mx:.3g} and {ms:.3g}: the pair sums overflow "
                         f"{x.dtype}, which needs (2 sqrt(d) max|{names[0]}|)^{power:g} * max(1, 2 sqrt(d) "
                         f"max|{names[1]}|) * 16 N < {torch.finfo(x.dtype).max:.3g} (N = {n}); rescale the data or "
                         f"use float64")


def _check_result(U: torch.Tensor, what: str) -> torch.Tensor:
    if not bool(torch.isfinite(U).all()):
        raise FloatingPointError(f"{what}: the pair sum of finite input gave NaN/inf (near-coincident particles closer "
                                 f"than the dtype resolves, or an overflow); use float64 or separate the particles")
    return U


def _pair_velocity(xq, sq, x, s, gamma, C, backend, chunk_size):
    n, d = x.shape
    which = _resolve_backend(backend, gamma)
    if which == "moments":
        total = _velocity_moments(xq, sq, x, s)
    else:
        rows = torch.cat([xq, sq], dim=1).T.contiguous()
        cols = rows if xq is x and sq is s else torch.cat([x, s], dim=1).T.contiguous()
        total = pair_reduce(velocity_kernel(d, gamma), rows, cols, backend=which, chunk_size=chunk_size).T
    return total * (-C / n)


class VelocityField:
    r"""The particle velocity :math:`U_i=-\frac CN\sum_j|z_{ij}|^\gamma(|z_{ij}|^2w_{ij}-(z_{ij}\cdot w_{ij})z_{ij})`
    for a fixed kernel, for loops: the parameters are validated once, and a call reads nothing back from the device.

    :func:`velocity` validates its data (finite, in range) at every call, which costs a host read; a time loop calls
    a :class:`VelocityField` instead and checks the result for non-finite values on the device (see
    :func:`landau_lite.simulate`).

    Args:
        d: dimension (``>= 2``); gamma: exponent in :math:`[-d-1, 1]`; C: collision constant ``> 0``;
        backend: as in :func:`velocity`; chunk_size: rows per block (``>= 1``) or None;
        process_group: a ``torch.distributed`` group (or ``None``, the default group when one is initialised):
            in a distributed run ``x`` and ``s`` are this rank's shard, the sum runs over every rank's particles
            (:mod:`landau_lite.distributed`), and :math:`N` is the total number of particles.

    Example:
        >>> field = VelocityField(3, -3.0, C=1.0)
        >>> x = torch.randn(300, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        >>> bool(torch.equal(field(x, -x), velocity(x, -x, gamma=-3.0)))
        True
        >>> field.pair_loss(x, torch.ones_like(x)).item()      # a constant field has no pair loss
        0.0
    """

    def __init__(self, d: int, gamma: float, C: float = 1.0, *, backend: str = "auto",
                 chunk_size: int | None = None, process_group: object = None) -> None:
        self.d = check_int(d, "d", lo=2)
        self.gamma = check_gamma(gamma, self.d)
        self.C = check_positive(C, "C")
        self.backend = backend
        _resolve_backend(backend, self.gamma)
        self.chunk_size = None if chunk_size is None else check_int(chunk_size, "chunk_size", lo=1)
        self.process_group = process_group

    def __repr__(self) -> str:
        return f"VelocityField(d={self.d}, gamma={self.gamma:g}, C={self.C:g}, backend={self.backend!r})"

    def __call__(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """:math:`U_i` for particles ``x`` and scores ``s`` (both ``(N, d)``, same dtype and device)."""
        if is_distributed(self.process_group):
            return self._distributed(x, s)
        return _pair_velocity(x, s, x, s, self.gamma, self.C, self.backend, self.chunk_size)

    def _distributed(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """This rank's rows of :math:`U` against every rank's particles (ring of blocks, or global moments)."""
        group = self.process_group
        n = all_reduce_sum(torch.tensor(float(x.shape[0]), dtype=x.dtype, device=x.device), group)
        if _resolve_backend(self.backend, self.gamma) == "moments":
            return _velocity_moments_global(x, s, n, group) * (-self.C / n)
        rows = torch.cat([x, s], dim=1).T.contiguous()
        total = ring_pair_reduce(velocity_kernel(self.d, self.gamma), rows, rows, group=group,
                                 backend=_engine(self.backend), chunk_size=self.chunk_size)
        return total.T * (-self.C / n)

    def at(self, v: torch.Tensor, s_v: torch.Tensor, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """The field at query points ``v`` with score values ``s_v`` (see :func:`velocity_at`)."""
        return _pair_velocity(v, s_v, x, s, self.gamma, self.C, self.backend, self.chunk_size)

    def pair_loss(self, x: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        r"""0-dim tensor :math:`\frac1{N^2}\sum_{i,j}(\delta_i-\delta_j)\cdot A(x_i-x_j)(\delta_i-\delta_j)
        =-\frac2N\sum_i\delta_i\cdot U_i[\delta]` (clamped at 0 against round-off)."""
        U = self(x, delta)
        n = all_reduce_sum(torch.tensor(float(x.shape[0]), dtype=x.dtype, device=x.device), self.process_group)
        total = all_reduce_sum((delta * U).sum(), self.process_group)
        return ((-2.0 / n) * total).clamp_min(0.0) + 0.0   # (+0.0: no -0.0)

    def cross_pair_loss(self, y: torch.Tensor, delta_y: torch.Tensor, x: torch.Tensor, delta: torch.Tensor,
                        weights: torch.Tensor | None = None) -> torch.Tensor:
        r"""0-dim tensor :math:`\frac{1}{N\sum_mw_m}\sum_{m,j}w_m(\delta(y_m)-\delta_j)\cdot A(y_m-x_j)
        (\delta(y_m)-\delta_j)` (:math:`w\equiv1` by default): the pair loss with outer points ``y``."""
        rows = torch.cat([y, delta_y], dim=1).T.contiguous()
        cols = torch.cat([x, delta], dim=1).T.contiguous()
        per_row = pair_reduce(_pair_loss_kernel(self.d, self.gamma), rows, cols, backend=_engine(self.backend),
                              chunk_size=self.chunk_size)[0]
        if weights is None:
            total, norm = per_row.sum(), float(y.shape[0])
        else:
            total, norm = (weights * per_row).sum(), weights.sum()
        return (total * (self.C / x.shape[0]) / norm).clamp_min(0.0) + 0.0

    def drift_dot(self, v: torch.Tensor, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        r"""``(M,)``: :math:`\frac1N\sum_j(\nabla\cdot A)(v_m-x_j)\cdot s_j=-\frac{(d-1)C}{N}\sum_j|v_m-x_j|^\gamma
        (v_m-x_j)\cdot s_j` (the term of :math:`\nabla\cdot U^s` that involves the particles' scores)."""
        n = x.shape[0]
        if self.gamma == 0.0:
            T = v @ s.sum(0) - (x * s).sum()
        else:
            T = pair_reduce(_drift_dot_kernel(self.d, self.gamma), v.T.contiguous(),
                            torch.cat([x, s], dim=1).T.contiguous(), backend=_engine(self.backend),
                            chunk_size=self.chunk_size)[0]
        return T * (-(self.d - 1) * self.C / n)


# ----------------------------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------------------------

def velocity(x: torch.Tensor, s: torch.Tensor, *, gamma: float, C: float = 1.0, backend: str = "auto",
             chunk_size: int | None = None) -> torch.Tensor:
    r"""Landau particle velocity :math:`U_i = -\frac{C}{N}\sum_j |z_{ij}|^\gamma(|z_{ij}|^2w_{ij}-(z_{ij}\cdot w_{ij})z_{ij})`.

    Args:
        x: particle positions (velocities in phase space), shape ``(N, d)``, float32 or float64, ``N >= 2``.
        s: score values :math:`s_i\approx\nabla\log f(x_i)`, same shape, dtype and device as ``x``.
        gamma: kernel exponent, :math:`-d-1\le\gamma\le1` (``-3`` Coulomb, ``0`` Maxwell molecules).
        C: collision constant, ``> 0`` (part of :math:`A`).
        backend: ``"auto"``, ``"compiled"``, ``"chunked"`` or ``"moments"`` (γ=0 only); see the module docstring.
        chunk_size: rows per block (default: a budget of pair entries per block, see :mod:`landau_lite.pairs`).

    Returns:
        ``(N, d)`` tensor with the dtype and device of ``x``.

    Raises:
        ValueError: bad arguments (named), non-finite input, or data large enough to overflow the dtype.
        TypeError: arguments of the wrong type (named).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(500, 3, generator=g, dtype=torch.float64)
        >>> U = velocity(x, -x, gamma=-3.0)          # the Maxwellian score -x gives U ≈ 0 on average
        >>> float(U.sum(0).abs().max()) < 1e-12      # momentum is conserved to round-off
        True
    """
    x = check_particles(x, "x", finite=False)
    s = check_pair(x, s, "x", "s", finite=False)
    gamma = check_gamma(gamma, x.shape[1])
    C = check_positive(C, "C")
    _resolve_backend(backend, gamma)
    if chunk_size is not None:
        check_int(chunk_size, "chunk_size", lo=1)
    _check_range(x, s, gamma, x.shape[0], ("x", "s"))
    return _check_result(_pair_velocity(x, s, x, s, gamma, C, backend, chunk_size), "velocity")


def velocity_at(v: torch.Tensor, s_v: torch.Tensor, x: torch.Tensor, s: torch.Tensor, *, gamma: float,
                C: float = 1.0, backend: str = "auto", chunk_size: int | None = None) -> torch.Tensor:
    r"""The velocity field of a score field at query points, for the empirical measure of ``x``:

    .. math::

        U^s(v) = -\frac{C}{N}\sum_j |v-x_j|^\gamma\Big(&|v-x_j|^2\big(s(v)-s_j\big) \\
            &- \big((v-x_j)\cdot(s(v)-s_j)\big)(v-x_j)\Big).

    ``v``: ``(M, d)`` query points, ``s_v``: score values there; ``x``, ``s``: particles and their scores.

    Example:
        >>> x = torch.randn(200, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        >>> bool(torch.allclose(velocity_at(x[:5], -x[:5], x, -x, gamma=-3.0), velocity(x, -x, gamma=-3.0)[:5]))
        True
    """
    x = check_particles(x, "x")
    s = check_pair(x, s, "x", "s")
    v = check_points(v, x.shape[1], "v")
    s_v = check_pair(v, s_v, "v", "s_v")
    if v.dtype != x.dtype or v.device != x.device:
        raise TypeError(f"v must have the dtype/device of x ({x.dtype}, {x.device}), got ({v.dtype}, {v.device})")
    gamma = check_gamma(gamma, x.shape[1])
    C = check_positive(C, "C")
    _resolve_backend(backend, gamma)
    _check_range(torch.cat([x, v]), torch.cat([s, s_v]), gamma, x.shape[0], ("x", "s"))
    return _check_result(_pair_velocity(v, s_v, x, s, gamma, C, backend, chunk_size), "velocity_at")


def _check_query(v, x, gamma, C):
    x = check_particles(x, "x", min_n=1)
    v = check_points(v, x.shape[1], "v")
    if v.dtype != x.dtype or v.device != x.device:
        raise TypeError(f"v must have the dtype/device of x ({x.dtype}, {x.device}), got ({v.dtype}, {v.device})")
    gamma = check_gamma(gamma, x.shape[1])
    C = check_positive(C, "C")
    _check_range(torch.cat([x, v]), None, gamma, x.shape[0], ("x", "x"))
    return v, x, gamma, C


def collision_matrix(v: torch.Tensor, x: torch.Tensor, *, gamma: float, C: float = 1.0,
                     chunk_size: int | None = None, backend: str = "auto") -> torch.Tensor:
    r"""Empirical collision matrix :math:`\bar a[f^N](v) = \frac{1}{N}\sum_j A(v - x_j)` at query points.

    For :math:`\gamma=0` the closed form :math:`C[(|v-u|^2+\operatorname{tr}\Sigma)I-(v-u)(v-u)^T-\Sigma]`
    with the empirical mean :math:`u` and covariance :math:`\Sigma` is used (exact, O(N)).
    Returns ``(M, d, d)``. A query point equal to a particle gets that particle's term as 0.

    Example:
        >>> x = torch.tensor([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]], dtype=torch.float64)
        >>> collision_matrix(torch.zeros(1, 3, dtype=torch.float64), x, gamma=-3.0)[0].diagonal().tolist()
        [0.0, 0.25, 0.25]
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
    comps = pair_reduce(_matrix_kernel(d, gamma), v.T.contiguous(), x.T.contiguous(), backend=_engine(backend),
                        chunk_size=chunk_size)
    out = torch.empty(v.shape[0], d, d, dtype=x.dtype, device=x.device)
    i = 0
    for k in range(d):
        for l in range(k, d):
            out[:, k, l] = comps[i]
            out[:, l, k] = comps[i]
            i += 1
    return out * (C / n)


def collision_drift(v: torch.Tensor, x: torch.Tensor, *, gamma: float, C: float = 1.0,
                    chunk_size: int | None = None, backend: str = "auto") -> torch.Tensor:
    r"""Empirical drift :math:`\bar b[f^N](v) = \frac{1}{N}\sum_j (\nabla\cdot A)(v-x_j)
    = -\frac{(d-1)C}{N}\sum_j |v-x_j|^\gamma (v - x_j)` at query points, shape ``(M, d)``.

    Note: for :math:`\gamma\le-2` this is a singular kernel; as a Monte-Carlo estimate of
    :math:`(\nabla\cdot A)*f` it has infinite variance near particles (use :mod:`landau_lite.analysis.grid` for
    accurate values of smooth densities).

    Example:
        >>> x = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
        >>> collision_drift(torch.zeros(1, 3, dtype=torch.float64), x, gamma=-3.0)[0, 0].item()   # -2 (0 - x)/|x|^3
        2.0
    """
    v, x, gamma, C = _check_query(v, x, gamma, C)
    n, d = x.shape
    if gamma == 0.0:
        return -(d - 1) * C * (v - x.mean(0))
    comps = pair_reduce(_drift_kernel(d, gamma), v.T.contiguous(), x.T.contiguous(), backend=_engine(backend),
                        chunk_size=chunk_size)
    return comps.T * (-(d - 1) * C / n)


def _engine(backend: str) -> str:
    """The engine backend for a velocity backend name (``"moments"`` has no pair-sum form: use ``"auto"``)."""
    check_choice(backend, "backend", BACKENDS)
    return "auto" if backend == "moments" else backend
