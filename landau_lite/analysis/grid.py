r"""Grid quadrature for :math:`\bar a[h] = A*h` and :math:`\bar b[h] = (\nabla\cdot A)*h` (3-D and 2-D).

Lemma 3.3 (the key computation) needs the collision matrix and the drift of a *signed* density
:math:`h = f-g`,

.. math::

    \bar a[h](v) &= \int A(v-w)\,h(w)\,dw, \\
    \bar b[h](v) &= \int (\nabla\cdot A)(v-w)\,h(w)\,dw = \nabla\cdot\bar a[h](v), \\
    A(z) &= C|z|^{\gamma}\big(|z|^2 I - z\otimes z\big),\qquad (\nabla\cdot A)(z) = -(d-1)\,C|z|^{\gamma} z,

for densities given by their values at the centres :math:`w_j` of a uniform grid of cells :math:`Q_j`
(side :math:`\delta = 2L/n`, volume :math:`|Q| = \delta^d`) on :math:`[-L, L]^d`. The kernel contains the
collision constant :math:`C`, a scalar factor: the tables below are computed for :math:`C=1` and the result is
multiplied by :math:`C`. For Coulomb (:math:`d=3`,
:math:`\gamma=-3`) the kernels are singular, :math:`|A|\sim|z|^{-1}` and :math:`|\nabla\cdot A|\sim|z|^{-2}`, but
locally integrable, so the singular cell is **integrated**, never dropped or :math:`\varepsilon`-regularised.
(:math:`|A(z)| = |z|^{\gamma+2}` is locally integrable for every :math:`\gamma\ge-d-1`; :math:`\nabla\cdot A` only
for :math:`\gamma>-d-1`.)

**Method.**

1. *Product integration.* Freeze :math:`h` on each cell and integrate the kernel exactly:

   .. math::

       \bar a[h](w_i) &\approx \sum_j h(w_j)\int_{Q_j}A(w_i-w)\,dw = \sum_j h_j\,|Q|\,\bar A_{i-j}, \\
       \bar A_k &= \frac{1}{|Q|}\int_{k\delta + [-\delta/2,\delta/2]^d} A(z)\,dz .

   The sum is a discrete linear convolution; it is evaluated with zero-padded FFTs of size :math:`2n` per
   axis (offsets :math:`k\in\{-(n-1),\dots,n-1\}^d`, so nothing wraps around).

2. *Cell averages* :math:`\bar A_k`. The centred cell uses the cubic symmetry,
   :math:`\int_Q z_iz_j|z|^\gamma dz = \frac{\delta_{ij}}{d}\int_Q|z|^{\gamma+2}dz`, so

   .. math::

       \bar A_0 &= C\,\frac{d-1}{d}\,\delta^{\gamma+2}\,U_{\gamma+2}\,I, \\
       U_p &= \int_{[-\frac12,\frac12]^d}|z|^p\,dz
           = \frac{2^{d-1}d}{p+d}\int_{[0,\frac12]^{d-1}}\big(\tfrac14+|y|^2\big)^{p/2}dy ,

   where the second form splits the cube into :math:`d` pyramids with apex at the origin (a Duffy
   transform): the radial integral :math:`\int_0^1 t^{p+d-1}dt = 1/(p+d)` is done exactly and what is left is a
   smooth integral, computed by Gauss–Legendre quadrature to machine precision (in 3-D Coulomb,
   :math:`\bar A_0 = \frac{2C}{3\delta}\,U_{-1}I` with :math:`U_{-1} = 3\ln\frac{\sqrt3+1}{\sqrt3-1}-\frac\pi2`).
   Every other cell lies at distance :math:`\ge\delta/2` from the origin, so :math:`A` is analytic on it, and
   tensor Gauss–Legendre with 16, 6, 4 or 3 points per axis (from the nearest to the far cells) is accurate to
   :math:`10^{-10}` relative or better. Reflection and permutation symmetries of :math:`A` reduce the work to
   the wedge :math:`k_1\ge\dots\ge k_d\ge0`.

3. *Deconvolution correction.* The table of cell averages is the kernel smoothed by the box,
   :math:`\bar A = A + \frac{\delta^2}{24}\nabla^2 A + O(\delta^4)` away from the origin, so the product rule has
   an :math:`O(\delta^2)` error :math:`\approx\frac{\delta^2}{24}\,A*\nabla^2 h`. We undo the box smoothing on
   the table itself, one axis after the other (the per-axis factor :math:`1-\frac1{24}\times` second difference
   inverts :math:`\operatorname{sinc}(\delta\xi_l/2)` to second order):

   .. math::

       \tilde A = \prod_{l=1}^d\Big(1 - \tfrac{1}{24}\,\delta_l^2\Big)\bar A,\qquad
       \delta_l^2\bar A_k = \bar A_{k+e_l} - 2\bar A_k + \bar A_{k-e_l}.

   This keeps the exact singular cell integrals, and it makes the rule *exact* for Maxwell molecules
   (:math:`\gamma=0`, where :math:`\tilde A_k = A(k\delta)`). What is left is :math:`O(\delta^4)` from the smooth
   part of the symbol plus :math:`O(\delta^{d+\gamma+4})` from the aliased images of the singularity (for the
   even kernel :math:`A` their first-order terms cancel in pairs :math:`\pm m`), so the expected order is
   :math:`\min(4, d+\gamma+4)`: 4 for 3-D Coulomb, 3 for the 2-D :math:`\gamma=-3` kernel.

4. *Drift* :math:`\bar b = \nabla\cdot\bar a`. The drift table is the eighth-order central divergence of the
   corrected matrix table, :math:`\tilde B_k = \sum_j D_j\tilde A_{\cdot j}\big|_k`, with
   :math:`D_jT_k = \delta^{-1}\sum_{t=1}^4 c_t\,(T_{k+te_j}-T_{k-te_j})`,
   :math:`c = (\frac45, -\frac15, \frac4{105}, -\frac1{280})`. So the discrete drift is exactly the discrete
   divergence of the discrete matrix (the identity :math:`\bar b = \nabla\cdot\bar a` holds on the grid), its
   centred entry is exactly :math:`0` (as the cell average of the odd kernel :math:`\nabla\cdot A` over the centred
   cell is), its order is that of :math:`\bar a`, and it is defined on the whole range :math:`-d-1\le\gamma\le1`
   (at :math:`\gamma=-d-1` the kernel :math:`\nabla\cdot A\sim|z|^{-d}` is not locally integrable, but
   :math:`\bar b = A*\nabla h` is; this is the case of the 2-D :math:`\gamma=-3` kernel of Carrillo, Hu, Wang and
   Wu (2020) and Huang and Wang (2025)). We tried convolving directly with the cell averages of the odd kernel
   :math:`\nabla\cdot A`: that is only second order, because for an odd kernel the aliased images do not
   cancel and leave an :math:`O(\delta^{d+\gamma+2})\,\nabla h` error (relative error :math:`1.1\times10^{-2}`
   at :math:`n=48` in the 3-D test below, :math:`5.9\times10^{-3}` with the deconvolution correction, against
   :math:`6\times10^{-5}` with the divergence table).

**Observed accuracy** (max relative error over :math:`|v|\le L/2` against the closed forms of
:mod:`landau_lite.closed_forms`, Maxwellian :math:`T=1`, :math:`L=6`, :math:`C=1`, float64; ``tests/test_grid.py``):

==========================  ========  ==========  ==========  ==========  ==========
case                        quantity  coarsest    2nd         3rd         finest
==========================  ========  ==========  ==========  ==========  ==========
3-D, n = 16, 24, 32, 48     ā         1.5e-3      2.7e-4      9.5e-5      1.8e-5
3-D, n = 16, 24, 32, 48     b̄         6.0e-3      1.1e-3      3.2e-4      6.1e-5
2-D, n = 32, 64, 128, 256   ā         1.0e-3      1.4e-4      1.8e-5      2.3e-6
2-D, n = 32, 64, 128, 256   b̄         1.2e-3      1.7e-4      2.4e-5      3.1e-6
==========================  ========  ==========  ==========  ==========  ==========

(:math:`\gamma=-3` in both; observed order 4 in 3-D and 3 in 2-D.)
At :math:`n=64` in 3-D the errors are :math:`5.9\times10^{-6}` and :math:`2.0\times10^{-5}`. For
:math:`\gamma=0` the result is exact up to rounding. :math:`U[M_T]` vanishes to the same accuracy for every
:math:`\gamma` tried (3-D: :math:`1, 0, -1, -2, -3, -3.5`; at :math:`\gamma=-4=-d-1` the convergence is
slower and less regular). The densities must be negligible outside :math:`[-L,L]^d`: the integral is truncated
to the box.

The FFTs of the kernel tables are cached per ``(grid, gamma, dtype, device)`` (:func:`functools.lru_cache`,
see :func:`clear_kernel_cache`). For :math:`n=64` in 3-D they take :math:`9\times 128^2\cdot 65` complex
numbers (about 150 MB in float64).

**On the same grid.** :func:`grid_quadrature` is the midpoint rule of a :class:`Grid` as a
:class:`~landau_lite.analysis.quadrature.Quadrature`, so every functional of :mod:`landau_lite.analysis.divergences`
(entropy, KL, :math:`L^p`, Fisher information) applies to grid values; :func:`kl_on_grid` and
:func:`lp_distance_on_grid` are the two that the book uses most, written through it. Derivatives:
:func:`gradient_on_grid` (finite differences) and :func:`divergence_on_grid_spectral` (Fourier).
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch

from .._checks import (check_dim, check_finite_float, check_finite_tensor, check_gamma, check_int, check_positive,
                      check_same_device_dtype, check_tensor)
from .divergences import kl_divergence, lp_distance
from .quadrature import Quadrature

__all__ = [
    "Grid",
    "grid_quadrature",
    "collision_matrix_on_grid",
    "collision_drift_on_grid",
    "landau_velocity_on_grid",
    "gradient_on_grid",
    "divergence_on_grid_spectral",
    "kl_on_grid",
    "lp_distance_on_grid",
    "kernel_cell_averages",
    "clear_kernel_cache",
]


# ----------------------------------------------------------------------------------------------
# the grid
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Grid:
    r"""Uniform cell-centred grid on :math:`[-L, L]^d` with ``n`` points per axis.

    The points are :math:`x_i = -L + (i + \tfrac12)\delta`, :math:`\delta = 2L/n`, the centres of the cells
    :math:`x_i + [-\delta/2, \delta/2]^d`. Values on the grid are stored as flat tensors of shape
    ``(n**d, ...)`` in C order (axis 0 varies slowest), the order of :meth:`points`.

    Args:
        d: dimension, ``d >= 2``.
        L: half-width of the box, ``L > 0``.
        n: points per axis, ``n >= 2``.

    Example:
        >>> g = Grid(d=3, L=6.0, n=4)
        >>> g.spacing, g.cell_volume, tuple(g.points().shape)
        (3.0, 27.0, (64, 3))
    """

    d: int
    L: float
    n: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "d", check_dim(self.d, "d"))
        object.__setattr__(self, "L", check_positive(self.L, "L"))
        object.__setattr__(self, "n", check_int(self.n, "n", lo=2))

    @property
    def spacing(self) -> float:
        r"""Cell side :math:`\delta = 2L/n`."""
        return 2.0 * self.L / self.n

    @property
    def cell_volume(self) -> float:
        r"""Cell volume :math:`\delta^d`."""
        return self.spacing ** self.d

    @property
    def shape(self) -> tuple[int, ...]:
        """``(n,) * d``."""
        return (self.n,) * self.d

    @property
    def size(self) -> int:
        """Number of grid points ``n**d``."""
        return self.n ** self.d

    def axis(self, *, dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu") -> torch.Tensor:
        r"""The ``n`` cell centres :math:`-L + (i+\frac12)\delta` of one axis."""
        return -self.L + (torch.arange(self.n, dtype=dtype, device=device) + 0.5) * self.spacing

    def points(self, *, dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu") -> torch.Tensor:
        r"""All grid points, shape ``(n**d, d)``, C order (axis 0 slowest).

        Example:
            >>> Grid(d=2, L=1.0, n=2).points()
            tensor([[-0.5000, -0.5000],
                    [-0.5000,  0.5000],
                    [ 0.5000, -0.5000],
                    [ 0.5000,  0.5000]], dtype=torch.float64)
        """
        x = self.axis(dtype=dtype, device=device)
        return torch.stack(torch.meshgrid(*([x] * self.d), indexing="ij"), dim=-1).reshape(-1, self.d)

    def reshape(self, values: torch.Tensor) -> torch.Tensor:
        """``(n**d, ...) -> (n,)*d + (...)`` (a view when possible; any dtype).

        Example:
            >>> g = Grid(d=2, L=1.0, n=3)
            >>> tuple(g.reshape(torch.zeros(9, 2)).shape)
            (3, 3, 2)
        """
        if not isinstance(values, torch.Tensor):
            raise TypeError(f"values must be a torch.Tensor, got {type(values).__name__}")
        if values.ndim < 1 or values.shape[0] != self.size:
            raise ValueError(f"values must have shape ({self.size}, ...) for the grid (d={self.d}, n={self.n}), "
                             f"got shape {tuple(values.shape)}")
        return values.reshape(self.shape + tuple(values.shape[1:]))

    def integrate(self, values: torch.Tensor) -> torch.Tensor:
        r"""Midpoint rule :math:`\sum_i \text{values}_i\,\delta^d` over axis 0 (shape ``(n**d, ...) -> (...)``).

        Example:
            >>> g = Grid(d=3, L=6.0, n=24)
            >>> v = g.points()
            >>> m = (2 * math.pi) ** -1.5 * torch.exp(-0.5 * (v * v).sum(1))
            >>> round(float(g.integrate(m)), 6)       # the box [-6, 6]^3 misses 4e-9 of the mass
            1.0
        """
        values = _check_grid_values(values, self, "values", finite=False)
        return values.sum(dim=0) * self.cell_volume


# ----------------------------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------------------------

def _check_grid(grid: object) -> Grid:
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a landau_lite.analysis.grid.Grid, got {type(grid).__name__}")
    return grid


def _check_grid_values(x: object, grid: Grid, name: str, *, trailing: tuple[int, ...] | None = None,
                       finite: bool = True) -> torch.Tensor:
    """``x`` must be a float tensor of shape ``(n**d,) + trailing`` (any trailing shape if ``trailing`` is None)."""
    x = check_tensor(x, name)
    if x.ndim < 1 or x.shape[0] != grid.size or (trailing is not None and tuple(x.shape[1:]) != trailing):
        want = str((grid.size,) + trailing) if trailing is not None else f"({grid.size}, ...)"
        raise ValueError(f"{name} must have shape {want} for the grid (d={grid.d}, n={grid.n}: n**d = {grid.size} "
                         f"points), got shape {tuple(x.shape)}")
    if finite:
        check_finite_tensor(x, name)
    return x


def _check_C(C: object) -> float:
    return check_positive(C, "C")


# ----------------------------------------------------------------------------------------------
# kernel cell averages
# ----------------------------------------------------------------------------------------------

def _pairs(d: int) -> list[tuple[int, int]]:
    """Upper-triangle index pairs ``(i, j)``, ``i <= j``, row-major: the stored components of symmetric A."""
    return [(i, j) for i in range(d) for j in range(i, d)]


@functools.lru_cache(maxsize=None)
def _gauss_legendre(q: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes on [-1/2, 1/2] and weights summing to 1."""
    x, w = np.polynomial.legendre.leggauss(q)
    return x / 2.0, w / 2.0


def _tensor_rule(q: int, d: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Tensor Gauss–Legendre rule on the unit cube [-1/2,1/2]^d: nodes (q^d, d), weights (q^d,) summing to 1."""
    x, w = _gauss_legendre(q)
    xt = torch.tensor(x, dtype=torch.float64, device=device)
    wt = torch.tensor(w, dtype=torch.float64, device=device)
    nodes = torch.stack(torch.meshgrid(*([xt] * d), indexing="ij"), dim=-1).reshape(-1, d)
    weights = functools.reduce(lambda a, b: (a[..., None] * b), [wt] * d).reshape(-1)
    return nodes, weights


def _unit_cube_radial_mean(p: float, d: int, q: int = 24) -> float:
    r""":math:`U_p = \int_{[-1/2,1/2]^d}|z|^p\,dz` for :math:`p > -d` (pyramid / Duffy decomposition).

    .. math:: U_p = 2^d\,d\,\frac{1/2}{p+d}\int_{[0,1/2]^{d-1}}\big(\tfrac14 + |y|^2\big)^{p/2}\,dy .
    """
    x, w = _gauss_legendre(q)
    y1, w1 = (x + 0.5) / 2.0, w / 2.0                      # nodes on [0, 1/2], weights sum 1/2
    if d == 1:
        inner = 1.0
    else:
        grids = np.meshgrid(*([y1] * (d - 1)), indexing="ij")
        r2 = 0.25 + sum(g * g for g in grids)
        ww = functools.reduce(np.multiply.outer, [w1] * (d - 1))
        inner = float((ww * r2 ** (p / 2.0)).sum())
    return 2.0 ** d * d * 0.5 / (p + d) * inner


def _cell_quadrature(centres: torch.Tensor, nodes: torch.Tensor, weights: torch.Tensor, gamma: float) -> torch.Tensor:
    r"""Quadrature :math:`\sum_q w_q A_{ij}(c + x_q)` of the stored components (``i <= j``) for each centre ``c``.

    ``centres`` ``(M, d)``, ``nodes`` ``(Q, d)`` (already scaled), ``weights`` ``(Q,)``; no node may hit ``z = 0``.
    Uses :math:`A_{ij} = |z|^\gamma(|z|^2\delta_{ij} - z_iz_j)`, summed term by term.
    """
    d = centres.shape[-1]
    z = [centres[:, None, a] + nodes[None, :, a] for a in range(d)]
    r2 = functools.reduce(torch.add, [za * za for za in z])
    if gamma == 0.0:
        rg = torch.ones_like(r2)
    elif gamma == -3.0:
        rg = torch.rsqrt(r2) / r2
    else:
        rg = r2.pow(0.5 * gamma)
    rgw = rg * weights
    trace = (rgw * r2).sum(-1)
    out = []
    for i, j in _pairs(d):
        zz = ((rgw * z[i]) * z[j]).sum(-1)
        out.append(trace - zz if i == j else -zz)
    return torch.stack(out, dim=-1)


#: (largest max_l |k_l| of the tier, Gauss–Legendre points per axis) for the cells k != 0. The kernel is analytic
#: on a cell at distance ~ |k| cells from the origin, with Bernstein-ellipse parameter ~ 4|k| (>= 1 + sqrt 2 for
#: the nearest ones), so the relative quadrature error is 1e-10 or smaller in every tier (checked against q = 40).
_TIERS = ((2, 16), (6, 6), (16, 4), (None, 3))
_MAX_POINTS_PER_CHUNK = 1 << 19


def _wedge_cell_averages(d: int, spacing: float, gamma: float, K: int,
                         device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Cell averages of the ``A`` components on the wedge :math:`K\ge k_1\ge\dots\ge k_d\ge0`.

    Returns ``(ks, values)``: ``(M, d)`` integer offsets and ``(M, d(d+1)/2)`` float64 averages.
    """
    ks = torch.tensor([tuple(reversed(c)) for c in itertools.combinations_with_replacement(range(K + 1), d)],
                      dtype=torch.long, device=device).reshape(-1, d)
    kmax = ks[:, 0]
    m = d * (d + 1) // 2
    out = torch.zeros(ks.shape[0], m, dtype=torch.float64, device=device)
    lo = 1
    for hi, q in _TIERS:
        sel = (kmax >= lo) if hi is None else ((kmax >= lo) & (kmax <= hi))
        lo = (hi or 0) + 1
        idx = sel.nonzero().squeeze(-1)
        if idx.numel() == 0:
            continue
        nodes, weights = _tensor_rule(q, d, device)
        nodes = nodes * spacing
        centres = ks[idx].to(torch.float64) * spacing
        chunk = max(1, _MAX_POINTS_PER_CHUNK // nodes.shape[0])
        for s in range(0, idx.numel(), chunk):
            out[idx[s:s + chunk]] = _cell_quadrature(centres[s:s + chunk], nodes, weights, gamma)
    # the centred cell (k = 0 is the last wedge row): cubic symmetry + pyramid formula
    centre = (d - 1) / d * spacing ** (gamma + 2.0) * _unit_cube_radial_mean(gamma + 2.0, d)
    zero = (kmax == 0).nonzero().squeeze(-1)
    for c, (i, j) in enumerate(_pairs(d)):
        out[zero, c] = centre if i == j else 0.0
    return ks, out


def _octant_cell_averages(d: int, spacing: float, gamma: float, K: int, device: torch.device) -> torch.Tensor:
    r"""Cell averages :math:`\bar A_k` for :math:`k\in\{0..K\}^d`: tensor ``(K+1,)*d + (d(d+1)/2,)``, float64.

    Computed on the wedge :math:`k_1\ge\dots\ge k_d` and spread by the permutation symmetry
    :math:`A_{ij}(z) = A_{\sigma(i)\sigma(j)}(z_\sigma)` (the tensor Gauss rules are permutation invariant).
    """
    wedge_ks, wedge = _wedge_cell_averages(d, spacing, gamma, K, device)
    base = (K + 1) ** torch.arange(d - 1, -1, -1, device=device)
    lut = torch.full(((K + 1) ** d,), -1, dtype=torch.long, device=device)
    lut[(wedge_ks * base).sum(-1)] = torch.arange(wedge_ks.shape[0], device=device)
    ks = torch.stack(torch.meshgrid(*([torch.arange(K + 1, device=device)] * d), indexing="ij"),
                     dim=-1).reshape(-1, d)
    sorted_ks, order = ks.sort(dim=-1, descending=True, stable=True)      # sorted_ks[:, a] = ks[:, order[:, a]]
    rank = order.argsort(dim=-1)                                           # rank[:, i]: position of axis i
    row = lut[(sorted_ks * base).sum(-1)]
    pair_lut = torch.empty(d, d, dtype=torch.long, device=device)
    for c, (i, j) in enumerate(_pairs(d)):
        pair_lut[i, j] = pair_lut[j, i] = c
    comp = torch.stack([pair_lut[rank[:, i], rank[:, j]] for i, j in _pairs(d)], dim=-1)
    return wedge[row[:, None], comp].reshape((K + 1,) * d + (d * (d + 1) // 2,))


def _matrix_signs(d: int, axis: int) -> list[float]:
    """Sign of each stored ``A_ij`` under the reflection z_axis -> -z_axis (odd iff exactly one index is axis)."""
    return [-1.0 if ((i == axis) != (j == axis)) else 1.0 for i, j in _pairs(d)]


def _drift_signs(d: int, axis: int) -> list[float]:
    """Sign of each drift component ``b_i`` under z_axis -> -z_axis (odd iff i == axis)."""
    return [-1.0 if i == axis else 1.0 for i in range(d)]


def _stencil(table: torch.Tensor, axis: int, weights: dict[int, float], signs: list[float]) -> torch.Tensor:
    r"""Apply :math:`\sum_t w_t\,T_{k+t e_{axis}}` to an octant table (offsets :math:`k_{axis}\ge0`).

    Offsets below 0 come from the reflection symmetry (``signs`` per component). The result loses ``s = max|t|``
    entries at the top of ``axis``.
    """
    s = max(abs(t) for t in weights)
    size = table.shape[axis]
    sign = torch.tensor(signs, dtype=table.dtype, device=table.device)
    ext = torch.cat([table.narrow(axis, 1, s).flip(axis) * sign, table], dim=axis)   # ext[i] <-> k = i - s
    out = None
    for t, w in weights.items():
        term = w * ext.narrow(axis, s + t, size - s)
        out = term if out is None else out + term
    return out


#: per axis, ``1 - delta^2/24`` undoes the box average to second order: sinc(x/2)^{-1} = 1 + x^2/24 + O(x^4)
_DECONVOLUTION = {-1: -1.0 / 24.0, 0: 1.0 + 2.0 / 24.0, 1: -1.0 / 24.0}
#: eighth-order central first derivative (times the spacing)
_DERIVATIVE = {1: 4.0 / 5.0, 2: -1.0 / 5.0, 3: 4.0 / 105.0, 4: -1.0 / 280.0}
_DERIVATIVE.update({-t: -w for t, w in list(_DERIVATIVE.items())})
_REACH = 1 + 4


def _corrected_octants(grid: Grid, gamma: float, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Octants (offsets :math:`0..n-1` per axis) of the corrected matrix table :math:`\tilde A` and the drift
    table :math:`\tilde B`, float64, shapes ``(n,)*d + (d(d+1)/2,)`` and ``(n,)*d + (d,)`` (cell averages)."""
    d, n, dx = grid.d, grid.n, grid.spacing
    table = _octant_cell_averages(d, dx, gamma, n - 1 + _REACH, device)
    for axis in range(d):
        table = _stencil(table, axis, _DECONVOLUTION, _matrix_signs(d, axis))
    index = {p: c for c, p in enumerate(_pairs(d))}
    deriv = {t: w / dx for t, w in _DERIVATIVE.items()}
    drift = []
    for i in range(d):
        acc = None
        for j in range(d):
            c = index[(min(i, j), max(i, j))]
            dj = _stencil(table[..., c:c + 1], j, deriv, _matrix_signs(d, j)[c:c + 1])
            for a in range(d):
                dj = dj.narrow(a, 0, n)
            acc = dj if acc is None else acc + dj
        drift.append(acc[..., 0])
    for a in range(d):
        table = table.narrow(a, 0, n)
    return table, torch.stack(drift, dim=-1)


def _to_padded_fft(octant: torch.Tensor, d: int, signs: list[list[float]], dtype: torch.dtype,
                   device: torch.device) -> torch.Tensor:
    r"""Octant ``(n,)*d + (m,)`` -> rfft of the :math:`2n`-periodic table (offset k at index k mod 2n).

    Returns ``(m, 2n, ..., 2n, n+1)`` complex on ``device``; one component at a time (bounded memory).
    """
    n, m = octant.shape[0], octant.shape[-1]
    cdtype = torch.complex64 if dtype == torch.float32 else torch.complex128
    out = torch.empty((m,) + (2 * n,) * (d - 1) + (n + 1,), dtype=cdtype, device=device)
    for c in range(m):
        table = octant[..., c]
        for axis in range(d):
            zero = torch.zeros_like(table.narrow(axis, 0, 1))
            table = torch.cat([table, zero, table.narrow(axis, 1, n - 1).flip(axis) * signs[axis][c]], dim=axis)
        out[c] = torch.fft.rfftn(table.to(dtype), dim=list(range(d))).to(device)
    return out


def _table_device(device: torch.device) -> torch.device:
    # float64 is needed for the tables; MPS has none, so build them on the CPU there.
    return torch.device("cpu") if device.type == "mps" else device


@functools.lru_cache(maxsize=4)
def _kernel_ffts(grid: Grid, gamma: float, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Cached FFTs of (cell volume) x (corrected matrix table, drift table), component first."""
    d = grid.d
    matrix, drift = _corrected_octants(grid, gamma, _table_device(device))
    vol = grid.cell_volume
    a_hat = _to_padded_fft(matrix * vol, d, [_matrix_signs(d, a) for a in range(d)], dtype, device)
    b_hat = _to_padded_fft(drift * vol, d, [_drift_signs(d, a) for a in range(d)], dtype, device)
    return a_hat, b_hat


def _normalise_device(device: torch.device) -> torch.device:
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


def clear_kernel_cache() -> None:
    """Drop the cached kernel FFTs (they hold about 150 MB for ``n=64`` in 3-D, float64)."""
    _kernel_ffts.cache_clear()


def kernel_cell_averages(grid: Grid, gamma: float, *, dtype: torch.dtype = torch.float64,
                         device: torch.device | str = "cpu") -> torch.Tensor:
    r"""Raw cell averages :math:`\bar A_k = |Q|^{-1}\int_{k\delta+Q}A(z)\,dz` (:math:`C=1`) for :math:`k\in\{-(n-1)..n-1\}^d`.

    The centred entry is :math:`\frac{d-1}{d}\delta^{\gamma+2}U_{\gamma+2}\,I` (module docstring, step 2);
    e.g. for Coulomb, :math:`\bar A_0 = \frac{2}{3}\,\frac{1}{\delta}\int_{[-1/2,1/2]^3}\frac{dz}{|z|}\,I`.
    These are the raw averages, before the deconvolution correction used by the convolutions.

    Returns:
        ``(2n-1,)*d + (d, d)``, index ``k + (n-1)`` along each axis.

    Example:
        >>> t = kernel_cell_averages(Grid(d=3, L=1.0, n=2), -3.0)
        >>> tuple(t.shape), round(float(t[1, 1, 1, 0, 0]), 6)       # centre cell, spacing 1
        ((3, 3, 3, 3, 3), 1.586718)
    """
    grid = _check_grid(grid)
    gamma = check_gamma(gamma, grid.d)
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    device = torch.device(device)
    d, n = grid.d, grid.n
    table = _octant_cell_averages(d, grid.spacing, gamma, n - 1, _table_device(device))
    for axis in range(d):                                   # offsets 0..n-1 -> -(n-1)..n-1
        sign = torch.tensor(_matrix_signs(d, axis), dtype=table.dtype, device=table.device)
        table = torch.cat([table.narrow(axis, 1, n - 1).flip(axis) * sign, table], dim=axis)
    out = torch.zeros(table.shape[:-1] + (d, d), dtype=torch.float64, device=table.device)
    for c, (i, j) in enumerate(_pairs(d)):
        out[..., i, j] = table[..., c]
        out[..., j, i] = table[..., c]
    return out.to(dtype=dtype, device=device)


# ----------------------------------------------------------------------------------------------
# convolutions
# ----------------------------------------------------------------------------------------------

def _density_fft(h: torch.Tensor, grid: Grid) -> torch.Tensor:
    N = 2 * grid.n
    padded = h.new_zeros((N,) * grid.d)
    padded[(slice(0, grid.n),) * grid.d] = grid.reshape(h)
    return torch.fft.rfftn(padded)


def _convolve(h_hat: torch.Tensor, k_hat: torch.Tensor, grid: Grid) -> torch.Tensor:
    """``(n**d, m)``: discrete linear convolutions of the density with each kernel component."""
    N, n, d = 2 * grid.n, grid.n, grid.d
    cols = []
    for c in range(k_hat.shape[0]):
        full = torch.fft.irfftn(h_hat * k_hat[c], s=(N,) * d, dim=list(range(d)))
        cols.append(full[(slice(0, n),) * d].reshape(-1))
    return torch.stack(cols, dim=-1)


def _prepare(h: object, grid: object, gamma: object, C: object, name: str = "h") -> tuple[torch.Tensor, Grid, float, float]:
    grid = _check_grid(grid)
    h = _check_grid_values(h, grid, name, trailing=())
    gamma = check_gamma(gamma, grid.d)
    C = _check_C(C)
    return h, grid, gamma, C


def _symmetric(comps: torch.Tensor, d: int) -> torch.Tensor:
    out = comps.new_empty(comps.shape[:-1] + (d, d))
    for c, (i, j) in enumerate(_pairs(d)):
        out[..., i, j] = comps[..., c]
        out[..., j, i] = comps[..., c]
    return out


def _ffts_for(grid: Grid, gamma: float, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return _kernel_ffts(grid, float(gamma), h.dtype, _normalise_device(h.device))


def collision_matrix_on_grid(h: torch.Tensor, grid: Grid, *, gamma: float, C: float = 1.0) -> torch.Tensor:
    r"""Collision matrix :math:`\bar a[h](v_i) = \int A(v_i-w)\,h(w)\,dw` at every grid point.

    .. math::

        \bar a[h](v_i) \approx \sum_j h_j\,|Q|\,\tilde A_{i-j},

    with :math:`\tilde A` the corrected cell averages of :math:`A(z) = C|z|^\gamma(|z|^2I - z\otimes z)` (module
    docstring). Order :math:`\min(4, d+\gamma+4)` in the grid spacing for smooth ``h`` (4 for 3-D Coulomb);
    exact for :math:`\gamma = 0`. ``h`` may be signed (e.g. :math:`f-g`) and must be negligible outside the box.

    Args:
        h: values at the grid points, shape ``(n**d,)``, float32/float64.
        grid: the :class:`Grid`.
        gamma: kernel exponent, :math:`-d-1\le\gamma\le1`.
        C: collision constant, :math:`C>0`.

    Returns:
        ``(n**d, d, d)`` symmetric matrices, dtype/device of ``h``.

    Example:
        >>> g = Grid(d=3, L=6.0, n=24)
        >>> v = g.points()
        >>> m = (2 * math.pi) ** -1.5 * torch.exp(-0.5 * (v * v).sum(1))
        >>> a = collision_matrix_on_grid(m, g, gamma=0.0)       # Maxwell molecules: (|v|^2 + 2) I - v v^T
        >>> bool(torch.allclose(a, (v.pow(2).sum(1) + 2)[:, None, None] * torch.eye(3, dtype=v.dtype)
        ...                     - v[:, :, None] * v[:, None, :], atol=1e-8))
        True
    """
    h, grid, gamma, C = _prepare(h, grid, gamma, C)
    a_hat, _ = _ffts_for(grid, gamma, h)
    return C * _symmetric(_convolve(_density_fft(h, grid), a_hat, grid), grid.d)


def collision_drift_on_grid(h: torch.Tensor, grid: Grid, *, gamma: float, C: float = 1.0) -> torch.Tensor:
    r"""Drift :math:`\bar b[h](v_i) = \int(\nabla\cdot A)(v_i-w)\,h(w)\,dw = \nabla\cdot\bar a[h](v_i)` on the grid.

    .. math::

        (\nabla\cdot A)(z) &= -(d-1)\,C|z|^\gamma z, \\
        \bar b[h](v_i) &\approx \sum_j h_j\,|Q|\,\tilde B_{i-j},\qquad
        \tilde B_k = \sum_j D_j\tilde A_{\cdot j}\big|_k ,

    the eighth-order central divergence of the corrected matrix table (module docstring, step 4), so that the
    grid drift is exactly the grid divergence of the grid matrix. Same order as :func:`collision_matrix_on_grid`
    (4 for 3-D Coulomb); exact for :math:`\gamma = 0`.

    Args:
        h: values at the grid points, shape ``(n**d,)``.
        grid: the :class:`Grid`.
        gamma: kernel exponent, :math:`-d-1\le\gamma\le1`.
        C: collision constant, :math:`C>0`.

    Returns:
        ``(n**d, d)``, dtype/device of ``h``.

    Example:
        >>> g = Grid(d=3, L=6.0, n=24)
        >>> v = g.points()
        >>> m = (2 * math.pi) ** -1.5 * torch.exp(-0.5 * (v * v).sum(1))
        >>> b = collision_drift_on_grid(m, g, gamma=0.0)       # Maxwell molecules: -(d-1) v
        >>> bool(torch.allclose(b, -2 * v, atol=1e-8))
        True
    """
    h, grid, gamma, C = _prepare(h, grid, gamma, C)
    _, b_hat = _ffts_for(grid, gamma, h)
    return C * _convolve(_density_fft(h, grid), b_hat, grid)


def landau_velocity_on_grid(f: torch.Tensor, score: torch.Tensor, grid: Grid, *, gamma: float,
                            C: float = 1.0) -> torch.Tensor:
    r"""Landau velocity field :math:`U[f] = -\bar a[f]\,s + \bar b[f]` on the grid (the continuity form of the equation).

    With the exact score :math:`s = \nabla\log f` this is
    :math:`U[f](v) = -\int A(v-w)\big(\nabla\log f(v) - \nabla\log f(w)\big)f(w)\,dw`, which vanishes for
    Maxwellians (:math:`A(z)z = 0`).

    Args:
        f: density values, ``(n**d,)``.
        score: score values :math:`s(v_i)`, ``(n**d, d)``, same dtype/device as ``f``.
        grid: the :class:`Grid`.
        gamma: kernel exponent, :math:`-d-1\le\gamma\le1`.
        C: collision constant, :math:`C>0`.

    Returns:
        ``(n**d, d)``, dtype/device of ``f``.

    Example:
        >>> g = Grid(d=3, L=6.0, n=24)
        >>> v = g.points()
        >>> m = (2 * math.pi) ** -1.5 * torch.exp(-0.5 * (v * v).sum(1))
        >>> u = landau_velocity_on_grid(m, -v, g, gamma=-3.0)         # Maxwellian: U = 0
        >>> bool(u[(v * v).sum(1) <= 9].abs().max() < 1e-3)
        True
    """
    f, grid, gamma, C = _prepare(f, grid, gamma, C, name="f")
    score = _check_grid_values(score, grid, "score", trailing=(grid.d,))
    check_same_device_dtype(f, score, "f", "score")
    a_hat, b_hat = _ffts_for(grid, gamma, f)
    f_hat = _density_fft(f, grid)
    a = _symmetric(_convolve(f_hat, a_hat, grid), grid.d)
    b = _convolve(f_hat, b_hat, grid)
    return C * (b - torch.einsum("pij,pj->pi", a, score))


# ----------------------------------------------------------------------------------------------
# derivatives, divergences and distances on the grid
# ----------------------------------------------------------------------------------------------

def gradient_on_grid(values: torch.Tensor, grid: Grid) -> torch.Tensor:
    r"""Gradient by finite differences: central :math:`(u_{i+1}-u_{i-1})/2\delta` inside, second-order one-sided at the border.

    The border rows use :math:`(-3u_0 + 4u_1 - u_2)/2\delta` (``torch.gradient(edge_order=2)``; first order
    one-sided when ``n = 2``), so the whole stencil is second order.

    Args:
        values: ``(n**d,)`` (or ``(n**d, ...)``: each trailing component is differentiated).
        grid: the :class:`Grid`.

    Returns:
        ``(n**d, d)`` (or ``(n**d, ..., d)``), dtype/device of ``values``.

    Example:
        >>> g = Grid(d=2, L=1.0, n=8)
        >>> v = g.points()
        >>> bool(torch.allclose(gradient_on_grid(v[:, 0] ** 2, g)[:, 0], 2 * v[:, 0]))
        True
    """
    grid = _check_grid(grid)
    values = _check_grid_values(values, grid, "values")
    u = grid.reshape(values)
    dims = tuple(range(grid.d))
    parts = torch.gradient(u, spacing=grid.spacing, dim=dims, edge_order=2 if grid.n >= 3 else 1)
    return torch.stack(parts, dim=-1).reshape((grid.size,) + tuple(values.shape[1:]) + (grid.d,))


def _spectral_derivative(u: torch.Tensor, grid: Grid, axis: int) -> torch.Tensor:
    n = grid.n
    k = torch.fft.fftfreq(n, d=grid.spacing, dtype=u.dtype, device=u.device) * (2.0 * math.pi)
    if n % 2 == 0:
        k[n // 2] = 0.0                      # the Nyquist mode has no odd derivative
    shape = [1] * grid.d
    shape[axis] = n
    U = torch.fft.fft(u, dim=axis)
    return torch.fft.ifft(U * (1j * k.reshape(shape)), dim=axis).real


def divergence_on_grid_spectral(F: torch.Tensor, grid: Grid) -> torch.Tensor:
    r"""Divergence :math:`\nabla\cdot F` of a vector field on a :class:`Grid` by Fourier differentiation.

    .. math:: \partial_jF_j \approx \mathcal F^{-1}\big[i k_j\,\mathcal F F_j\big],\qquad k_j\in\tfrac{2\pi}{2L}\mathbb Z,

    exact (to round-off) for band-limited periodic fields and spectrally accurate for smooth fields that
    vanish at the border of the box (like :math:`fU[f]` for a density with Gaussian tails); *not* for fields
    that are non-negligible at the border.

    Args:
        F: ``(n**d, d)`` values at the grid points.
        grid: the :class:`Grid`.

    Returns:
        ``(n**d,)``, dtype/device of ``F``.

    Example:
        >>> g = Grid(d=2, L=8.0, n=64); v = g.points()
        >>> F = v * torch.exp(-(v * v).sum(1, keepdim=True) / 2)          # div = (2 - |v|^2) e^{-|v|^2/2}
        >>> ex = (2 - (v * v).sum(1)) * torch.exp(-(v * v).sum(1) / 2)
        >>> float((divergence_on_grid_spectral(F, g) - ex).abs().max()) < 1e-9
        True
    """
    grid = _check_grid(grid)
    F = check_finite_float(F, "F")
    if F.shape != (grid.size, grid.d):
        raise ValueError(f"F must have shape ({grid.size}, {grid.d}), got {tuple(F.shape)}")
    out = torch.zeros(grid.shape, dtype=F.dtype, device=F.device)
    for j in range(grid.d):
        out = out + _spectral_derivative(F[:, j].reshape(grid.shape), grid, j)
    return out.reshape(-1)


def grid_quadrature(grid: Grid, *, dtype: torch.dtype = torch.float64,
                    device: str | torch.device = "cpu") -> Quadrature:
    r"""The midpoint rule of a :class:`Grid` as a :class:`~landau_lite.analysis.quadrature.Quadrature`.

    Nodes ``grid.points()``, weights :math:`\delta^d`: :math:`\int\varphi\approx\delta^d\sum_i\varphi(v_i)`, the
    rule of :meth:`Grid.integrate`. Pass it to :mod:`landau_lite.analysis.divergences` for any functional of
    grid values.

    Example:
        >>> q = grid_quadrature(Grid(d=2, L=8.0, n=64))
        >>> v = q.points
        >>> round(float(q.integrate(torch.exp(-0.5 * (v * v).sum(1)) / (2 * math.pi))), 10)
        1.0
    """
    grid = _check_grid(grid)
    pts = grid.points(dtype=dtype, device=device)
    w = torch.full((pts.shape[0],), grid.cell_volume, dtype=dtype, device=device)
    return Quadrature(points=pts, weights=w, kind="grid")


def _check_density_pair(f: object, g: object, grid: object) -> tuple[torch.Tensor, torch.Tensor, Grid]:
    grid = _check_grid(grid)
    f = _check_grid_values(f, grid, "f", trailing=())
    g = _check_grid_values(g, grid, "g", trailing=())
    check_same_device_dtype(f, g, "f", "g")
    return f, g, grid


def kl_on_grid(f: torch.Tensor, g: torch.Tensor, grid: Grid) -> torch.Tensor:
    r"""Relative entropy :math:`\mathrm{KL}(f\Vert g) = \int f\log\frac fg\,dv` by the midpoint rule of the grid.

    This is :func:`landau_lite.analysis.divergences.kl_divergence` with :func:`grid_quadrature`: :math:`0\log0 = 0`
    (points with :math:`f = 0` contribute nothing), and the densities are taken as given (no normalisation); for
    probability densities the result is :math:`\ge 0` up to quadrature error.

    Raises:
        ValueError: if ``f`` or ``g`` has negative values, or if :math:`g = 0` at a point where :math:`f > 0`
            (the divergence is then :math:`+\infty`).

    Example:
        >>> g = Grid(d=2, L=8.0, n=64)
        >>> v = g.points()
        >>> p = torch.exp(-0.5 * (v * v).sum(1)) / (2 * math.pi)
        >>> q = torch.exp(-0.25 * (v * v).sum(1)) / (4 * math.pi)         # N(0, 2 I)
        >>> round(float(kl_on_grid(p, q, g)), 6)                             # = log 2 - 1/2
        0.193147
    """
    f, g, grid = _check_density_pair(f, g, grid)
    return kl_divergence(f, g, grid_quadrature(grid, dtype=f.dtype, device=f.device))


def lp_distance_on_grid(f: torch.Tensor, g: torch.Tensor, grid: Grid, p: float) -> torch.Tensor:
    r""":math:`\|f-g\|_{L^p} = \big(\int|f-g|^p\,dv\big)^{1/p}` by the midpoint rule; :math:`\max|f-g|` for :math:`p=\infty`.

    This is :func:`landau_lite.analysis.divergences.lp_distance` with :func:`grid_quadrature`.

    Args:
        f, g: values at the grid points, ``(n**d,)``, same dtype/device (may be signed).
        grid: the :class:`Grid`.
        p: exponent, :math:`1\le p\le\infty` (``math.inf`` or ``float("inf")`` for the sup norm).

    Example:
        >>> g = Grid(d=2, L=1.0, n=4)
        >>> f = torch.ones(16, dtype=torch.float64)
        >>> float(lp_distance_on_grid(f, 0 * f, g, 1)), float(lp_distance_on_grid(f, 0 * f, g, 2))
        (4.0, 2.0)
    """
    f, g, grid = _check_density_pair(f, g, grid)
    return lp_distance(f, g, grid_quadrature(grid, dtype=f.dtype, device=f.device), p)
