r"""Quadrature rules :math:`\int_{\mathbb R^d}\varphi(v)\,dv\approx\sum_k w_k\,\varphi(v_k)` for the analysis floor.

Every integral of :mod:`landau_lite.analysis` is a weighted sum over a :class:`Quadrature` (nodes and weights):

* :func:`line_quadrature` — composite Gauss–Legendre on an interval (``d = 1``);
* :func:`tensor_quadrature` — its tensor product on a box :math:`c + [-L, L]^d`;
* :func:`radial_quadrature` — for **radial** integrands only,
  :math:`\int_{\mathbb R^d}\varphi = |S^{d-1}|\int_0^\infty r^{d-1}\varphi(r e_1)\,dr`, nodes on the first axis;
* :func:`axial_quadrature` — for integrands symmetric about the :math:`e_1` axis (two isotropic Gaussians whose
  means lie on that axis): :math:`\int\varphi = |S^{d-2}|\int\!\!\int\rho^{d-2}\varphi(x e_1+\rho e_2)\,d\rho\,dx`;
* :func:`shell_quadrature` — the shell midpoint rule of a :class:`landau_lite.radial.RadialGrid` (values of the
  radial solver), nodes :math:`c_ie_1`, weights the shell volumes;
* the midpoint rule of a 3-D/2-D :class:`landau_lite.analysis.grid.Grid` is
  :func:`landau_lite.analysis.grid.grid_quadrature` (next to the grid it belongs to).

Densities are passed to the functionals of :mod:`landau_lite.analysis.divergences` either as values at
``quad.points`` (shape ``(M,)``) or as callables ``v -> values`` with ``v`` of shape ``(M, d)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Union

import numpy as np
import torch

from .._checks import check_finite_tensor, check_int, check_positive, check_real, check_tensor
from ..radial import RadialGrid

__all__ = [
    "Density",
    "Quadrature",
    "check_quadrature",
    "gauss_legendre_rule",
    "line_quadrature",
    "tensor_quadrature",
    "sphere_area",
    "radial_quadrature",
    "axial_quadrature",
    "shell_quadrature",
]

#: A density, or any integrand, given by its values at the nodes, shape ``(M,)``, or as a callable
#: ``v (M, d) -> (M,)``.
Density = Union[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]

QUADRATURE_KINDS = ("line", "tensor", "radial", "axial", "grid")


# ----------------------------------------------------------------------------------------------
# quadrature rules
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Quadrature:
    r"""A quadrature rule :math:`\int\varphi(v)\,dv \approx \sum_k w_k\,\varphi(v_k)` on :math:`\mathbb R^d`.

    Attributes:
        points: nodes :math:`v_k`, shape ``(M, d)``.
        weights: weights :math:`w_k > 0`, shape ``(M,)``, same dtype/device as ``points``.
        kind: ``"line"``, ``"tensor"``, ``"radial"`` (exact only for radial integrands), ``"axial"`` (only for
            integrands invariant under rotations about the :math:`e_1` axis) or ``"grid"``.

    Example:
        >>> q = line_quadrature(8.0)
        >>> round(float(q.integrate(torch.exp(-0.5 * q.points[:, 0] ** 2))), 12) == round(math.sqrt(2 * math.pi), 12)
        True
    """

    points: torch.Tensor
    weights: torch.Tensor
    kind: str

    def __post_init__(self) -> None:
        pts = check_tensor(self.points, "points")
        w = check_tensor(self.weights, "weights")
        if pts.ndim != 2 or pts.shape[0] < 1 or pts.shape[1] < 1:
            raise ValueError(f"points must have shape (M, d) with M, d >= 1, got {tuple(pts.shape)}")
        if w.shape != (pts.shape[0],):
            raise ValueError(f"weights must have shape ({pts.shape[0]},), got {tuple(w.shape)}")
        if w.dtype != pts.dtype or w.device != pts.device:
            raise TypeError("weights must have the dtype and device of points")
        if self.kind not in QUADRATURE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(map(repr, QUADRATURE_KINDS))}; got {self.kind!r}")
        check_finite_tensor(pts, "points")
        check_finite_tensor(w, "weights")
        if bool((w < 0).any()):
            raise ValueError("weights must be >= 0")

    @property
    def d(self) -> int:
        """Dimension of the nodes."""
        return int(self.points.shape[1])

    @property
    def size(self) -> int:
        """Number of nodes ``M``."""
        return int(self.points.shape[0])

    def integrate(self, values: torch.Tensor) -> torch.Tensor:
        r""":math:`\sum_k w_k\,\text{values}_k` over axis 0 (``(M, ...) -> (...)``)."""
        values = check_tensor(values, "values")
        if values.ndim < 1 or values.shape[0] != self.size:
            raise ValueError(f"values must have shape ({self.size}, ...), got {tuple(values.shape)}")
        w = self.weights.to(dtype=values.dtype)
        return torch.tensordot(w, values, dims=([0], [0]))

    def evaluate(self, density: Density, name: str = "f") -> torch.Tensor:
        r"""Values of ``density`` at the nodes: a callable is called on ``points``; a tensor is validated."""
        if callable(density) and not isinstance(density, torch.Tensor):
            values = density(self.points)
            if not isinstance(values, torch.Tensor):
                raise TypeError(f"{name}(points) must return a torch.Tensor, got {type(values).__name__}")
        else:
            values = density
        values = check_tensor(values, name)
        if values.shape != (self.size,):
            raise ValueError(f"{name} must have shape ({self.size},) (one value per node), got {tuple(values.shape)}")
        if values.device != self.points.device:
            raise ValueError(f"{name} must be on the device of the quadrature ({self.points.device}), got {values.device}")
        return values


def gauss_legendre_rule(a: float, b: float, *, panels: int = 1, order: int = 16,
                        dtype: torch.dtype = torch.float64,
                        device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    r"""Composite Gauss–Legendre rule on :math:`[a, b]`: ``panels`` equal panels, ``order`` nodes each.

    Exact for polynomials of degree :math:`2\,\text{order}-1` on each panel. Returns ``(nodes, weights)``, each of
    shape ``(panels * order,)``.

    Example:
        >>> x, w = gauss_legendre_rule(0.0, 1.0, panels=2, order=3)
        >>> round(float((w * x ** 5).sum()), 14)
        0.16666666666667
    """
    a = check_real(a, "a")
    b = check_real(b, "b")
    if not b > a:
        raise ValueError(f"b must be > a, got a = {a}, b = {b}")
    panels = check_int(panels, "panels", lo=1)
    order = check_int(order, "order", lo=1, hi=200)
    t, wt = np.polynomial.legendre.leggauss(order)
    edges = np.linspace(a, b, panels + 1)
    half = 0.5 * (edges[1:] - edges[:-1])
    mid = 0.5 * (edges[1:] + edges[:-1])
    nodes = (mid[:, None] + half[:, None] * t[None, :]).reshape(-1)
    weights = (half[:, None] * wt[None, :]).reshape(-1)
    return (torch.as_tensor(nodes, dtype=dtype, device=device),
            torch.as_tensor(weights, dtype=dtype, device=device))


def line_quadrature(L: float, *, center: float = 0.0, panels: int = 32, order: int = 8,
                    dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu") -> Quadrature:
    r"""Composite Gauss–Legendre rule on :math:`[c-L, c+L]\subset\mathbb R` (``d = 1``, points of shape ``(M, 1)``).

    Example:
        >>> q = line_quadrature(10.0)
        >>> round(float(q.integrate(torch.exp(-q.points[:, 0] ** 2))) ** 2, 12) == round(math.pi, 12)
        True
    """
    L = check_positive(L, "L")
    center = check_real(center, "center")
    x, w = gauss_legendre_rule(center - L, center + L, panels=panels, order=order, dtype=dtype, device=device)
    return Quadrature(points=x[:, None], weights=w, kind="line")


def tensor_quadrature(d: int, L: float, *, center: object = None, panels: int = 16, order: int = 8,
                      dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu") -> Quadrature:
    r"""Tensor-product composite Gauss–Legendre rule on the box :math:`c + [-L, L]^d`, :math:`(\text{panels}\cdot\text{order})^d` nodes.

    Args:
        d: dimension ``>= 1``. L: half-width ``> 0``. center: ``(d,)`` centre (default 0).
        panels, order: per axis. dtype, device: of the nodes.

    Example:
        >>> q = tensor_quadrature(2, 8.0, panels=16, order=8)
        >>> v = q.points
        >>> round(float(q.integrate(torch.exp(-0.5 * (v * v).sum(1)) / (2 * math.pi))), 12)
        1.0
    """
    d = check_int(d, "d", lo=1, hi=6)
    L = check_positive(L, "L")
    c = _center(center, d)
    x, w = gauss_legendre_rule(-L, L, panels=panels, order=order, dtype=dtype, device=device)
    m = x.numel()
    if m ** d > 20_000_000:
        raise ValueError(f"panels * order = {m} per axis gives {m ** d} nodes in d = {d}; keep it below 2e7")
    grids = torch.meshgrid(*([x] * d), indexing="ij")
    pts = torch.stack([g.reshape(-1) for g in grids], dim=1)
    wgrids = torch.meshgrid(*([w] * d), indexing="ij")
    wts = wgrids[0].reshape(-1).clone()
    for g in wgrids[1:]:
        wts = wts * g.reshape(-1)
    pts = pts + torch.as_tensor(c, dtype=dtype, device=device)
    return Quadrature(points=pts, weights=wts, kind="tensor")


def sphere_area(d: int) -> float:
    r"""Area of the unit sphere :math:`|S^{d-1}| = 2\pi^{d/2}/\Gamma(d/2)` (:math:`2, 2\pi, 4\pi, \dots` for :math:`d = 1, 2, 3`).

    Example:
        >>> round(sphere_area(3) / math.pi, 12)
        4.0
    """
    d = check_int(d, "d", lo=1)
    return 2.0 * math.pi ** (0.5 * d) / math.gamma(0.5 * d)


def radial_quadrature(d: int, r_max: float, *, panels: int = 32, order: int = 8, power: float = 1.0,
                      dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu") -> Quadrature:
    r"""Quadrature for **radial** integrands on :math:`\mathbb R^d`:

    .. math::

        \int_{\mathbb R^d}\varphi(v)\,dv = |S^{d-1}|\int_0^\infty r^{d-1}\varphi(r e_1)\,dr
        \approx \sum_k |S^{d-1}|\,r_k^{d-1}w_k\,\varphi(r_k e_1),

    with composite Gauss–Legendre nodes :math:`r_k\in(0, r_{\max})`; with ``power`` :math:`p>1` the nodes are
    :math:`r = r_{\max}s^p` for Gauss–Legendre nodes :math:`s\in(0,1)` (:math:`dr = p\,r_{\max}s^{p-1}ds`), which
    refines the rule near :math:`r = 0` (e.g. for BKW near its critical time). The nodes are the points :math:`r_k e_1`
    (shape ``(M, d)``), so densities written as functions of :math:`v` can be evaluated on them directly.
    Only valid when every integrand is radial (e.g. BKW, isotropic Gaussians centred at 0).

    Example:
        >>> q = radial_quadrature(3, 12.0)
        >>> r2 = (q.points ** 2).sum(1)
        >>> round(float(q.integrate((2 * math.pi) ** -1.5 * torch.exp(-0.5 * r2) * r2)), 12)    # E|v|^2 = 3
        3.0
    """
    d = check_int(d, "d", lo=1)
    r_max = check_positive(r_max, "r_max")
    power = check_real(power, "power", lo=1.0, hi=8.0)
    s, ws = gauss_legendre_rule(0.0, 1.0, panels=panels, order=order, dtype=dtype, device=device)
    r = r_max * s ** power
    w = ws * power * r_max * s ** (power - 1.0)
    pts = torch.zeros(r.numel(), d, dtype=dtype, device=device)
    pts[:, 0] = r
    return Quadrature(points=pts, weights=sphere_area(d) * r ** (d - 1) * w, kind="radial")


def axial_quadrature(d: int, L: float, rho_max: float, *, center: float = 0.0, panels: int = 32, order: int = 8,
                     dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu") -> Quadrature:
    r"""Quadrature for integrands on :math:`\mathbb R^d` that are invariant under rotations about the :math:`e_1` axis:

    .. math::

        \int_{\mathbb R^d}\varphi(v)\,dv = |S^{d-2}|\int_{-\infty}^{\infty}\int_0^\infty \rho^{d-2}\,
        \varphi(x e_1 + \rho e_2)\,d\rho\,dx ,

    with composite Gauss–Legendre rules on :math:`x\in[c-L, c+L]` and :math:`\rho\in[0,\rho_{\max}]`
    (:math:`|S^0| = 2`: in 2-D this is the reflection :math:`v_2\mapsto-v_2`). The nodes are the points
    :math:`x e_1+\rho e_2`, shape ``(M, d)``. Typical use: two isotropic Gaussians (or radial profiles) whose centres
    lie on the :math:`e_1` axis, where a 3-D integral becomes 2-D.

    Example:
        >>> q = axial_quadrature(3, 10.0, 10.0, center=1.0)
        >>> v = q.points
        >>> f = (2 * math.pi) ** -1.5 * torch.exp(-0.5 * ((v - torch.tensor([1.0, 0, 0])) ** 2).sum(1))
        >>> round(float(q.integrate(f)), 12), round(float(q.integrate(f * v[:, 0])), 12)
        (1.0, 1.0)
    """
    d = check_int(d, "d", lo=2)
    L = check_positive(L, "L")
    rho_max = check_positive(rho_max, "rho_max")
    center = check_real(center, "center")
    x, wx = gauss_legendre_rule(center - L, center + L, panels=panels, order=order, dtype=dtype, device=device)
    rho, wr = gauss_legendre_rule(0.0, rho_max, panels=panels, order=order, dtype=dtype, device=device)
    X, R = torch.meshgrid(x, rho, indexing="ij")
    W = wx[:, None] * (sphere_area(d - 1) * rho ** (d - 2) * wr)[None, :]
    pts = torch.zeros(X.numel(), d, dtype=dtype, device=device)
    pts[:, 0] = X.reshape(-1)
    pts[:, 1] = R.reshape(-1)
    return Quadrature(points=pts, weights=W.reshape(-1), kind="axial")


def _center(center: object, d: int) -> list[float]:
    if center is None:
        return [0.0] * d
    if isinstance(center, torch.Tensor):
        center = center.detach().cpu().reshape(-1).tolist()
    try:
        c = [float(a) for a in center]  # type: ignore[union-attr]
    except TypeError as exc:
        raise TypeError(f"center must be None or a sequence of {d} numbers") from exc
    if len(c) != d or not all(math.isfinite(a) for a in c):
        raise ValueError(f"center must hold {d} finite numbers, got {c}")
    return c


def shell_quadrature(grid: RadialGrid, *, dtype: torch.dtype = torch.float64,
                     device: str | torch.device = "cpu") -> Quadrature:
    r"""The shell midpoint rule of a :class:`~landau_lite.radial.RadialGrid` as a radial :class:`Quadrature` (3-D).

    .. math::

        \int_{\mathbb R^3}\varphi(v)\,dv\approx\sum_i V_i\,\varphi(c_ie_1),\qquad
        V_i=\tfrac{4\pi}{3}\big(e_{i+1}^3-e_i^3\big),

    with the shell centres :math:`c_i` and edges :math:`e_i` of the grid (second order in the shell width). Values
    of the radial solver (:func:`landau_lite.radial.solve_radial_landau`) are values at these nodes, so every
    functional of :mod:`landau_lite.analysis.divergences` applies to them directly.

    Example:
        >>> from landau_lite.radial import RadialGrid
        >>> q = shell_quadrature(RadialGrid(R=10.0, n=400))
        >>> r = q.points[:, 0]
        >>> round(float(q.integrate((2 * math.pi) ** -1.5 * torch.exp(-r * r / 2))), 3)    # error O(spacing^2)
        1.0
    """
    if not isinstance(grid, RadialGrid):
        raise TypeError(f"grid must be a landau_lite.radial.RadialGrid, got {type(grid).__name__}")
    c, V = grid.quadrature(dtype=dtype, device=device)
    pts = torch.zeros(c.numel(), 3, dtype=dtype, device=device)
    pts[:, 0] = c
    return Quadrature(points=pts, weights=V, kind="radial")


def check_quadrature(quad: object, name: str = "quad") -> Quadrature:
    """Return ``quad`` if it is a :class:`Quadrature`, else raise ``TypeError`` naming the argument."""
    if not isinstance(quad, Quadrature):
        raise TypeError(f"{name} must be a landau_lite.analysis.quadrature.Quadrature, got {type(quad).__name__}")
    return quad
