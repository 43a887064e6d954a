r"""Gaussian pair sums: the log-sum-exp behind the kernel density estimate and the blob score.

For query points :math:`v_i` and sources :math:`y_l` with :math:`D_{il}=|v_i-y_l|^2/\varepsilon`,

.. math::

    L_i = \log\sum_{l} e^{-D_{il}},\qquad
    G_i = \sum_l \big(e^{-D_{il}-L_i} + e^{-D_{il}-Z_l}\big)(v_i-y_l)

(:math:`Z_l` given per source). Both are streamed over the sources by the pair engine
(:mod:`landau_lite.pairs`): nothing of size :math:`M\times N` is stored, whatever the backend. The log-sum-exp is
stabilised without a stored maximum: the row minimum :math:`m_i=\min_l|v_i-y_l|^2` is one fused reduction, and

.. math::

    L_i = -\frac{m_i}{\varepsilon} + S_i,\qquad S_i=\log\sum_l e^{-(|v_i-y_l|^2-m_i)/\varepsilon}\ \ge 0,

where every exponent is :math:`\le 0` and one of them is 0, so :math:`S_i` is finite for any :math:`\varepsilon>0` and
any distance (no underflow to :math:`\log 0`). When the queries are the sources themselves the self term gives
:math:`m_i=0` exactly (differences are formed componentwise, never as :math:`|a|^2+|b|^2-2a\cdot b`), and the
minimum pass is skipped.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from .distributed import ring_pair_reduce
from .pairs import PairKernel

__all__ = ["log_gauss_sum", "gauss_weighted_differences"]


def _sqdist(rows: Tensor, cols: Tensor, d: int) -> Tensor:
    r2 = (rows[0][:, None] - cols[0][None, :]) ** 2
    for k in range(1, d):
        r2 = r2 + (rows[k][:, None] - cols[k][None, :]) ** 2
    return r2


@functools.lru_cache(maxsize=None)
def _min_kernel(d: int) -> PairKernel:
    def fused(rows, cols, consts):
        return _sqdist(rows, cols, d).amin(1)[None]

    return PairKernel(f"gauss_min_sqdist_d{d}", fused)


@functools.lru_cache(maxsize=None)
def _sum_kernel(d: int) -> PairKernel:
    # rows [v (d); m (1)], consts [1/eps]: sum_l exp(-(|v - y_l|^2 - m) / eps)
    def fused(rows, cols, consts):
        r2 = _sqdist(rows, cols, d)
        return torch.exp((rows[d][:, None] - r2) * consts[0]).sum(1)[None]

    return PairKernel(f"gauss_shifted_sum_d{d}", fused)


@functools.lru_cache(maxsize=None)
def _apply_kernel(d: int) -> PairKernel:
    # rows [v (d); m (1); S (1)], cols [y (d); Z (1)], consts [1/eps]
    def fused(rows, cols, consts):
        zs = [rows[k][:, None] - cols[k][None, :] for k in range(d)]
        r2 = zs[0] * zs[0]
        for k in range(1, d):
            r2 = r2 + zs[k] * zs[k]
        ie = consts[0]
        c = torch.exp((rows[d][:, None] - r2) * ie - rows[d + 1][:, None]) + torch.exp(-r2 * ie - cols[d][None, :])
        return torch.stack([(c * z).sum(1) for z in zs])

    return PairKernel(f"gauss_weighted_differences_d{d}", fused)


def _shift_and_log_sum(v: Tensor, y: Tensor, inv_eps: Tensor, backend: str, chunk_size: int | None,
                       self_query: bool, group: object) -> tuple[Tensor, Tensor]:
    d = y.shape[1]
    vt, yt = v.T.contiguous(), y.T.contiguous()
    if self_query:
        m = torch.zeros(v.shape[0], dtype=v.dtype, device=v.device)
    else:
        m = ring_pair_reduce(_min_kernel(d), vt, yt, group=group, combine="min", backend=backend,
                             chunk_size=chunk_size)[0]
    rows = torch.cat([vt, m[None]])
    S = torch.log(ring_pair_reduce(_sum_kernel(d), rows, yt, inv_eps.reshape(1), group=group, backend=backend,
                                   chunk_size=chunk_size)[0])
    return m, S


def log_gauss_sum(v: Tensor, y: Tensor, epsilon: float | Tensor, *, backend: str = "auto",
                  chunk_size: int | None = None, group: object = None) -> Tensor:
    r""":math:`L_i=\log\sum_l e^{-|v_i-y_l|^2/\varepsilon}` for ``v`` ``(M, d)`` and ``y`` ``(N, d)``, shape ``(M,)``.

    Pass ``v is y`` for the sum of the sources over themselves (then :math:`L_i\ge0` and no minimum pass is needed).
    In a distributed run (``group``, :mod:`landau_lite.distributed`) ``y`` is this rank's shard and the sum runs over
    the sources of every rank.
    The caller validates the arguments (this is the kernel behind :func:`landau_lite.diagnostics.log_kde_density`
    and :func:`landau_lite.scores.blob_score`).

    Example:
        >>> y = torch.tensor([[0.0, 0.0], [3.0, 4.0]], dtype=torch.float64)
        >>> v = torch.tensor([[300.0, 400.0]], dtype=torch.float64)   # far away: e^{-D} underflows, L does not
        >>> round(float(log_gauss_sum(v, y, 1.0)), 6)
        -245025.0
    """
    inv_eps = torch.as_tensor(1.0 / epsilon, dtype=y.dtype, device=y.device)
    m, S = _shift_and_log_sum(v, y, inv_eps, backend, chunk_size, v is y, group)
    return S - m * inv_eps


def gauss_weighted_differences(v: Tensor, y: Tensor, epsilon: float, log_z: Tensor, *, backend: str = "auto",
                               chunk_size: int | None = None, group: object = None) -> Tensor:
    r""":math:`G_i=\sum_l\big(e^{-D_{il}-L_i}+e^{-D_{il}-Z_l}\big)(v_i-y_l)`, shape ``(M, d)``, with ``log_z`` = :math:`Z_l`.

    Every exponential is :math:`\le1` when :math:`Z_l\ge0` (true for :math:`Z=` ``log_gauss_sum(y, y, eps)``), so
    the sum is finite for every :math:`\varepsilon>0`; :math:`L_i` is computed internally in its stable split form.
    """
    inv_eps = torch.as_tensor(1.0 / epsilon, dtype=y.dtype, device=y.device)
    if v is y:   # self query: m = 0 and S = L = Z
        m, S = torch.zeros_like(log_z), log_z
    else:
        m, S = _shift_and_log_sum(v, y, inv_eps, backend, chunk_size, False, group)
    rows = torch.cat([v.T, m[None], S[None]]).contiguous()
    cols = torch.cat([y.T, log_z[None]]).contiguous()
    return ring_pair_reduce(_apply_kernel(y.shape[1]), rows, cols, inv_eps.reshape(1), group=group,
                            backend=backend, chunk_size=chunk_size).T
