r"""Divergences and distances of densities by quadrature, closed forms for Gaussians, Pinsker ratios.

The book compares densities :math:`f, g` on :math:`\mathbb R^d` through

.. math::

    H(f) = \int f\log f,\qquad
    \mathrm{KL}(f\Vert g) = \int f\log\frac fg,\qquad
    \|f-g\|_{L^p} = \Big(\int|f-g|^p\Big)^{1/p},\qquad
    I(f|g) = \int f\,\big|\nabla\log f - \nabla\log g\big|^2 ,

and through the two Pinsker ratios (math.md §4, Lemma 2.3, a *reconstructed* statement)

.. math::

    \rho_1 = \frac{\|f-g\|_{L^1}^2}{2\,\mathrm{KL}(f\Vert g)} \le 1,\qquad
    \rho_2 = \frac{\|f-g\|_{L^2}^2}{2\max(\|f\|_\infty,\|g\|_\infty)\,\mathrm{KL}(f\Vert g)} \le 1 .

Every integral is a weighted sum :math:`\int\varphi\approx\sum_k w_k\varphi(v_k)` over a :class:`Quadrature`:

* :func:`line_quadrature` — composite Gauss–Legendre on an interval (``d = 1``);
* :func:`tensor_quadrature` — its tensor product on a box :math:`[c-L, c+L]^d`;
* :func:`radial_quadrature` — for **radial** densities only:
  :math:`\int_{\mathbb R^d}\varphi = |S^{d-1}|\int_0^\infty r^{d-1}\varphi(r e_1)\,dr`, nodes on the first axis;
* :func:`axial_quadrature` — for densities symmetric about the :math:`e_1` axis (e.g. two isotropic Gaussians
  whose means lie on that axis): :math:`\int\varphi = |S^{d-2}|\int\!\!\int\rho^{d-2}\varphi(x e_1+\rho e_2)\,d\rho\,dx`;
* :func:`grid_quadrature` — the midpoint rule of a :class:`landau_lite.analysis.grid.Grid` (the values then agree
  with :func:`landau_lite.analysis.grid.kl_on_grid` and :func:`landau_lite.analysis.grid.lp_distance_on_grid`).

Densities are passed either as values at ``quad.points`` (a tensor of shape ``(M,)``) or as callables
``v -> values`` with ``v`` of shape ``(M, d)``. Where densities underflow in the tails (a KL of two Gaussians
with very different widths), pass **log-densities** and ``log_densities=True``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Union

import numpy as np
import torch

from .._checks import check_finite_tensor, check_int, check_positive, check_real, check_tensor

__all__ = [
    "Quadrature",
    "gauss_legendre_rule",
    "line_quadrature",
    "tensor_quadrature",
    "radial_quadrature",
    "axial_quadrature",
    "grid_quadrature",
    "sphere_area",
    "integrate",
    "entropy",
    "kl_divergence",
    "lp_distance",
    "sup_norm",
    "relative_fisher_information",
    "gaussian_kl",
    "gaussian_entropy",
    "gaussian_l2_distance",
    "gaussian_sup_norm",
    "PinskerRatios",
    "pinsker_ratios",
    "perturbation_limits",
]

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


def grid_quadrature(grid: object, *, dtype: torch.dtype = torch.float64,
                    device: str | torch.device = "cpu") -> Quadrature:
    r"""The midpoint rule of a :class:`landau_lite.analysis.grid.Grid`: nodes ``grid.points()``, weights :math:`\Delta^d`.

    Sums over this rule equal :func:`landau_lite.analysis.grid.kl_on_grid` / :func:`~landau_lite.analysis.grid.lp_distance_on_grid`.

    Example:
        >>> from landau_lite.analysis.grid import Grid
        >>> q = grid_quadrature(Grid(d=2, L=8.0, n=64))
        >>> v = q.points
        >>> round(float(q.integrate(torch.exp(-0.5 * (v * v).sum(1)) / (2 * math.pi))), 10)
        1.0
    """
    from .grid import Grid

    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a landau_lite.analysis.grid.Grid, got {type(grid).__name__}")
    pts = grid.points(dtype=dtype, device=device)
    w = torch.full((pts.shape[0],), grid.cell_volume, dtype=dtype, device=device)
    return Quadrature(points=pts, weights=w, kind="grid")


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


def _check_quad(quad: object) -> Quadrature:
    if not isinstance(quad, Quadrature):
        raise TypeError(f"quad must be a landau_lite.analysis.divergences.Quadrature, got {type(quad).__name__}")
    return quad


# ----------------------------------------------------------------------------------------------
# functionals by quadrature
# ----------------------------------------------------------------------------------------------

def integrate(f: Density, quad: Quadrature) -> torch.Tensor:
    r""":math:`\int f\,dv \approx \sum_k w_kf(v_k)`.

    Example:
        >>> q = radial_quadrature(3, 12.0)
        >>> round(float(integrate(lambda v: (2 * math.pi) ** -1.5 * torch.exp(-0.5 * (v * v).sum(1)), q)), 12)
        1.0
    """
    quad = _check_quad(quad)
    return quad.integrate(quad.evaluate(f, "f"))


def _density_and_log(f: Density, quad: Quadrature, name: str, log_densities: bool) -> tuple[torch.Tensor, torch.Tensor]:
    vals = quad.evaluate(f, name)
    if log_densities:
        if bool(torch.isnan(vals).any()) or bool((vals == math.inf).any()):
            raise ValueError(f"{name} (a log-density) must not be NaN or +inf")
        return torch.exp(vals), vals
    check_finite_tensor(vals, name)
    if bool((vals < 0).any()):
        raise ValueError(f"{name} must be >= 0 at every node (a density)")
    return vals, torch.log(vals)


def entropy(f: Density, quad: Quadrature, *, log_densities: bool = False) -> torch.Tensor:
    r"""Entropy functional :math:`H(f) = \int f\log f` (with :math:`0\log 0 = 0`).

    For :math:`N(\mu,\Sigma)`, :math:`H = -\frac d2\log(2\pi e) - \frac12\log\det\Sigma` (:func:`gaussian_entropy`).

    Example:
        >>> q = line_quadrature(12.0)
        >>> h = entropy(lambda v: torch.exp(-0.5 * v[:, 0] ** 2) / math.sqrt(2 * math.pi), q)
        >>> round(float(h), 10) == round(-0.5 * math.log(2 * math.pi * math.e), 10)
        True
    """
    quad = _check_quad(quad)
    fv, lf = _density_and_log(f, quad, "f", log_densities)
    pos = fv > 0
    integrand = torch.where(pos, fv * torch.where(pos, lf, torch.zeros_like(lf)), torch.zeros_like(fv))
    return quad.integrate(integrand)


def kl_divergence(f: Density, g: Density, quad: Quadrature, *, log_densities: bool = False) -> torch.Tensor:
    r"""Relative entropy :math:`\mathrm{KL}(f\Vert g) = \int f\log\frac fg` by quadrature (:math:`0\log0 = 0`).

    Raises ``ValueError`` if :math:`g = 0` at a node where :math:`f > 0` (the divergence is :math:`+\infty` there);
    pass log-densities with ``log_densities=True`` when :math:`g` underflows in the tails.

    Example:
        >>> q = line_quadrature(12.0)
        >>> p = lambda v: -0.5 * v[:, 0] ** 2 - 0.5 * math.log(2 * math.pi)             # log N(0, 1)
        >>> r = lambda v: -0.25 * v[:, 0] ** 2 - 0.5 * math.log(4 * math.pi)            # log N(0, 2)
        >>> round(float(kl_divergence(p, r, q, log_densities=True)), 10) == round(float(gaussian_kl(
        ...     torch.zeros(1, dtype=torch.float64), torch.ones(1, 1, dtype=torch.float64),
        ...     torch.zeros(1, dtype=torch.float64), 2 * torch.ones(1, 1, dtype=torch.float64))), 10)
        True
    """
    quad = _check_quad(quad)
    fv, lf = _density_and_log(f, quad, "f", log_densities)
    gv, lg = _density_and_log(g, quad, "g", log_densities)
    if fv.dtype != gv.dtype:
        raise TypeError(f"f and g must have the same dtype, got {fv.dtype} and {gv.dtype}")
    pos = fv > 0
    if bool((pos & torch.isinf(lg)).any()):
        raise ValueError("g must be > 0 wherever f > 0 (otherwise KL(f||g) = +inf)")
    diff = torch.where(pos, lf - torch.where(pos, lg, torch.zeros_like(lg)), torch.zeros_like(lf))
    return quad.integrate(torch.where(pos, fv * diff, torch.zeros_like(fv)))


def _check_p(p: object) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"p must be a real number in [1, inf], got {type(p).__name__}")
    p = float(p)
    if p == math.inf:
        return p
    if math.isnan(p):
        raise ValueError("p must lie in [1, inf], got nan")
    return check_real(p, "p", lo=1.0)


def lp_distance(f: Density, g: Density, quad: Quadrature, p: float, *, log_densities: bool = False) -> torch.Tensor:
    r""":math:`\|f-g\|_{L^p} = \big(\int|f-g|^p\big)^{1/p}`, :math:`1\le p<\infty`; for :math:`p=\infty` the maximum of
    :math:`|f-g|` over the nodes (a lower estimate of the essential supremum).

    Example:
        >>> q = line_quadrature(12.0)
        >>> f = lambda v: torch.exp(-0.5 * v[:, 0] ** 2) / math.sqrt(2 * math.pi)
        >>> round(float(lp_distance(f, lambda v: 0 * v[:, 0], q, 2)) ** 2, 12) == round(0.5 / math.sqrt(math.pi), 12)
        True
    """
    quad = _check_quad(quad)
    p = _check_p(p)
    fv = _density_and_log(f, quad, "f", True)[0] if log_densities else _values(f, quad, "f")
    gv = _density_and_log(g, quad, "g", True)[0] if log_densities else _values(g, quad, "g")
    diff = (fv - gv).abs()
    if p == math.inf:
        return diff.max()
    if p == 1.0:
        return quad.integrate(diff)
    if p == 2.0:
        return quad.integrate(diff * diff).sqrt()
    return quad.integrate(diff.pow(p)).pow(1.0 / p)


def _values(f: Density, quad: Quadrature, name: str) -> torch.Tensor:
    vals = quad.evaluate(f, name)
    check_finite_tensor(vals, name)
    return vals


def sup_norm(f: Density, quad: Quadrature, *, log_densities: bool = False) -> torch.Tensor:
    r""":math:`\max_k|f(v_k)|` over the nodes: a lower estimate of :math:`\|f\|_{L^\infty}` (exact if the maximiser is a node).

    Example:
        >>> q = line_quadrature(5.0, panels=1, order=5)       # 0 is a node
        >>> float(sup_norm(lambda v: torch.exp(-v[:, 0] ** 2), q))
        1.0
    """
    quad = _check_quad(quad)
    vals = _density_and_log(f, quad, "f", True)[0] if log_densities else _values(f, quad, "f")
    return vals.abs().max()


def relative_fisher_information(f: Density, score_f: Density, score_g: Density, quad: Quadrature) -> torch.Tensor:
    r"""Relative Fisher information :math:`I(f|g) = \int f\,|\nabla\log f - \nabla\log g|^2`.

    ``score_f``, ``score_g``: values ``(M, d)`` at the nodes or callables ``v -> (M, d)``. For the Maxwellian
    :math:`M = N(0, I)`, :math:`\nabla\log M(v) = -v`.

    Example:
        >>> q = radial_quadrature(3, 12.0)
        >>> f = lambda v: (2 * math.pi * 2.0) ** -1.5 * torch.exp(-0.25 * (v * v).sum(1))    # N(0, 2 I)
        >>> round(float(relative_fisher_information(f, lambda v: -v / 2, lambda v: -v, q)), 10)   # d (1/2)^2 * 2
        1.5
    """
    quad = _check_quad(quad)
    fv, _ = _density_and_log(f, quad, "f", False)
    sf = _score_values(score_f, quad, "score_f")
    sg = _score_values(score_g, quad, "score_g")
    diff = sf - sg
    return quad.integrate(fv * (diff * diff).sum(1))


def _score_values(s: Density, quad: Quadrature, name: str) -> torch.Tensor:
    vals = s(quad.points) if callable(s) and not isinstance(s, torch.Tensor) else s
    vals = check_tensor(vals, name)
    if vals.shape != quad.points.shape:
        raise ValueError(f"{name} must have shape {tuple(quad.points.shape)}, got {tuple(vals.shape)}")
    check_finite_tensor(vals, name)
    return vals


# ----------------------------------------------------------------------------------------------
# Gaussian closed forms
# ----------------------------------------------------------------------------------------------

def _gaussian_args(mean: object, cov: object, name_m: str, name_c: str) -> tuple[torch.Tensor, torch.Tensor]:
    mean = check_tensor(mean, name_m)
    cov = check_tensor(cov, name_c)
    if mean.ndim != 1 or mean.shape[0] < 1:
        raise ValueError(f"{name_m} must have shape (d,), got {tuple(mean.shape)}")
    d = mean.shape[0]
    if cov.shape != (d, d):
        raise ValueError(f"{name_c} must have shape ({d}, {d}), got {tuple(cov.shape)}")
    if cov.dtype != mean.dtype or cov.device != mean.device:
        raise TypeError(f"{name_c} must have the dtype/device of {name_m}")
    check_finite_tensor(mean, name_m)
    check_finite_tensor(cov, name_c)
    tol = 1e-10 if cov.dtype == torch.float64 else 1e-5
    c = cov.detach()      # the checks read values only: no autograd graph, no warning under requires_grad
    if float((c - c.T).abs().max()) > tol * max(1.0, float(c.abs().max())):
        raise ValueError(f"{name_c} must be symmetric")
    if float(torch.linalg.eigvalsh(0.5 * (c + c.T)).min()) <= 0.0:
        raise ValueError(f"{name_c} must be positive definite")
    return mean, 0.5 * (cov + cov.T)


def gaussian_kl(mean_f: torch.Tensor, cov_f: torch.Tensor, mean_g: torch.Tensor, cov_g: torch.Tensor) -> torch.Tensor:
    r"""Closed-form :math:`\mathrm{KL}\big(N(\mu_f,\Sigma_f)\,\Vert\,N(\mu_g,\Sigma_g)\big)`:

    .. math::

        \tfrac12\Big[\operatorname{tr}(\Sigma_g^{-1}\Sigma_f) + (\mu_g-\mu_f)^T\Sigma_g^{-1}(\mu_g-\mu_f) - d
        + \log\frac{\det\Sigma_g}{\det\Sigma_f}\Big].

    Example:
        >>> I = torch.eye(2, dtype=torch.float64)
        >>> float(gaussian_kl(torch.zeros(2, dtype=torch.float64), I, torch.tensor([1.0, 0.0], dtype=torch.float64), I))
        0.5
    """
    mf, Sf = _gaussian_args(mean_f, cov_f, "mean_f", "cov_f")
    mg, Sg = _gaussian_args(mean_g, cov_g, "mean_g", "cov_g")
    if mg.shape != mf.shape or mg.dtype != mf.dtype or mg.device != mf.device:
        raise ValueError("mean_g must match mean_f in shape, dtype and device")
    d = mf.shape[0]
    Lg = torch.linalg.cholesky(Sg)
    Lf = torch.linalg.cholesky(Sf)
    tr = torch.cholesky_solve(Sf, Lg).diagonal().sum()
    dm = (mg - mf)[:, None]
    quad = (dm * torch.cholesky_solve(dm, Lg)).sum()
    logdet = 2.0 * (torch.log(Lg.diagonal()).sum() - torch.log(Lf.diagonal()).sum())
    return 0.5 * (tr + quad - d + logdet)


def gaussian_entropy(cov: torch.Tensor) -> torch.Tensor:
    r"""Entropy functional of a Gaussian, :math:`H(N(\mu,\Sigma)) = \int f\log f = -\frac d2\log(2\pi e) - \frac12\log\det\Sigma`.

    It tends to :math:`+\infty` when :math:`\Sigma` degenerates (the density concentrates on a subspace); the physical
    entropy :math:`-H` tends to :math:`-\infty`.

    Example:
        >>> round(float(gaussian_entropy(torch.eye(3, dtype=torch.float64))), 6)
        -4.256816
    """
    cov = check_tensor(cov, "cov")
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or cov.shape[0] < 1:
        raise ValueError(f"cov must be a square (d, d) matrix, got {tuple(cov.shape)}")
    _, S = _gaussian_args(torch.zeros(cov.shape[0], dtype=cov.dtype, device=cov.device), cov, "mean", "cov")
    d = S.shape[0]
    return -0.5 * d * math.log(2.0 * math.pi * math.e) - 0.5 * torch.linalg.slogdet(S)[1]


def _gaussian_overlap(m1: torch.Tensor, S1: torch.Tensor, m2: torch.Tensor, S2: torch.Tensor) -> torch.Tensor:
    r""":math:`\int N(\mu_1,\Sigma_1)N(\mu_2,\Sigma_2) = N(\mu_1-\mu_2; 0, \Sigma_1+\Sigma_2)`."""
    S = S1 + S2
    L = torch.linalg.cholesky(S)
    dm = (m1 - m2)[:, None]
    quad = (dm * torch.cholesky_solve(dm, L)).sum()
    d = m1.shape[0]
    return torch.exp(-0.5 * quad - 0.5 * d * math.log(2.0 * math.pi) - torch.log(L.diagonal()).sum())


def gaussian_l2_distance(mean_f: torch.Tensor, cov_f: torch.Tensor, mean_g: torch.Tensor,
                         cov_g: torch.Tensor) -> torch.Tensor:
    r"""Closed-form :math:`\|N(\mu_f,\Sigma_f) - N(\mu_g,\Sigma_g)\|_{L^2}` from the overlaps
    :math:`\int N_1N_2 = N(\mu_1-\mu_2;\,0,\,\Sigma_1+\Sigma_2)`:

    .. math::

        \|f-g\|_2^2 = \int f^2 + \int g^2 - 2\int fg .

    Example:
        >>> I = torch.eye(1, dtype=torch.float64); z = torch.zeros(1, dtype=torch.float64)
        >>> float(gaussian_l2_distance(z, I, z, I))
        0.0
    """
    mf, Sf = _gaussian_args(mean_f, cov_f, "mean_f", "cov_f")
    mg, Sg = _gaussian_args(mean_g, cov_g, "mean_g", "cov_g")
    if mg.shape != mf.shape:
        raise ValueError("mean_g must have the shape of mean_f")
    sq = _gaussian_overlap(mf, Sf, mf, Sf) + _gaussian_overlap(mg, Sg, mg, Sg) - 2.0 * _gaussian_overlap(mf, Sf, mg, Sg)
    return torch.clamp(sq, min=0.0).sqrt()


def gaussian_sup_norm(cov: torch.Tensor) -> torch.Tensor:
    r""":math:`\|N(\mu,\Sigma)\|_\infty = (2\pi)^{-d/2}(\det\Sigma)^{-1/2}` (the value at the mean).

    Example:
        >>> round(float(gaussian_sup_norm(torch.eye(1, dtype=torch.float64))), 10) == round(1 / math.sqrt(2 * math.pi), 10)
        True
    """
    cov = check_tensor(cov, "cov")
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or cov.shape[0] < 1:
        raise ValueError(f"cov must be a square (d, d) matrix, got {tuple(cov.shape)}")
    _, S = _gaussian_args(torch.zeros(cov.shape[0], dtype=cov.dtype, device=cov.device), cov, "mean", "cov")
    d = S.shape[0]
    return torch.exp(-0.5 * d * math.log(2.0 * math.pi) - 0.5 * torch.linalg.slogdet(S)[1])


# ----------------------------------------------------------------------------------------------
# Pinsker ratios
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PinskerRatios:
    r"""The quantities of the two Pinsker inequalities for one pair :math:`(f, g)` (0-dim tensors).

    Attributes:
        kl: :math:`\mathrm{KL}(f\Vert g)`.
        l1, l2: :math:`\|f-g\|_{L^1}`, :math:`\|f-g\|_{L^2}`.
        sup: :math:`\mathsf M = \max(\|f\|_\infty,\|g\|_\infty)` (as given, or the maximum over the nodes).
        ratio_l1: :math:`\|f-g\|_1^2/(2\,\mathrm{KL})` — classical Pinsker says :math:`\le 1`.
        ratio_l2: :math:`\|f-g\|_2^2/(2\mathsf M\,\mathrm{KL})` — Lemma 2.3 (reconstructed) says :math:`\le 1`.
    """

    kl: torch.Tensor
    l1: torch.Tensor
    l2: torch.Tensor
    sup: torch.Tensor
    ratio_l1: torch.Tensor
    ratio_l2: torch.Tensor


def pinsker_ratios(f: Density, g: Density, quad: Quadrature, *, kl: object = None, sup: object = None,
                   log_densities: bool = False) -> PinskerRatios:
    r"""Both Pinsker ratios of a pair of densities:

    .. math::

        \rho_1 = \frac{\|f-g\|_{L^1}^2}{2\,\mathrm{KL}(f\Vert g)},\qquad
        \rho_2 = \frac{\|f-g\|_{L^2}^2}{2\max(\|f\|_\infty,\|g\|_\infty)\,\mathrm{KL}(f\Vert g)} .

    Args:
        f, g: densities (values at ``quad.points`` or callables); log-densities if ``log_densities``.
        quad: a :class:`Quadrature`.
        kl: an exact :math:`\mathrm{KL}(f\Vert g)` (e.g. :func:`gaussian_kl`) to use instead of the quadrature value.
        sup: an exact :math:`\max(\|f\|_\infty,\|g\|_\infty)`; default: the maximum over the nodes, which can only
            underestimate it and so only *increase* :math:`\rho_2` (a conservative check of :math:`\rho_2\le1`).

    Raises:
        ValueError: if :math:`\mathrm{KL}(f\Vert g)\le 0` (the ratios are undefined for :math:`f = g`).

    Example:
        >>> q = line_quadrature(14.0)
        >>> logn = lambda m: (lambda v: -0.5 * (v[:, 0] - m) ** 2 - 0.5 * math.log(2 * math.pi))
        >>> r = pinsker_ratios(logn(0.0), logn(0.5), q, log_densities=True)
        >>> round(float(r.kl), 10), bool(r.ratio_l1 <= 1), bool(r.ratio_l2 <= 1)
        (0.125, True, True)
    """
    quad = _check_quad(quad)
    if log_densities:
        fv, _ = _density_and_log(f, quad, "f", True)
        gv, _ = _density_and_log(g, quad, "g", True)
    else:
        fv, _ = _density_and_log(f, quad, "f", False)
        gv, _ = _density_and_log(g, quad, "g", False)
    if kl is None:
        kl_t = kl_divergence(f, g, quad, log_densities=log_densities)
    else:
        kl_t = torch.as_tensor(check_positive(float(kl.detach()) if isinstance(kl, torch.Tensor) else kl, "kl"),
                               dtype=fv.dtype, device=fv.device)
    if not bool(kl_t > 0):
        raise ValueError(f"KL(f||g) must be > 0 for the ratios to be defined, got {float(kl_t.detach()):.3g}")
    if sup is None:
        sup_t = torch.maximum(fv.abs().max(), gv.abs().max())
    else:
        sup_t = torch.as_tensor(check_positive(float(sup.detach()) if isinstance(sup, torch.Tensor) else sup, "sup"),
                                dtype=fv.dtype, device=fv.device)
    diff = (fv - gv).abs()
    l1 = quad.integrate(diff)
    l2 = quad.integrate(diff * diff).sqrt()
    return PinskerRatios(kl=kl_t, l1=l1, l2=l2, sup=sup_t,
                         ratio_l1=l1 * l1 / (2.0 * kl_t), ratio_l2=l2 * l2 / (2.0 * sup_t * kl_t))


def perturbation_limits(f: Density, h: Density, quad: Quadrature, *, sup: object = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Limits of the two Pinsker ratios for :math:`g_\varepsilon = f(1+\varepsilon h)`, :math:`\int fh = 0`, as :math:`\varepsilon\to0`.

    Since :math:`\mathrm{KL}(f\Vert g_\varepsilon) = \frac{\varepsilon^2}{2}\int fh^2 + O(\varepsilon^3)`,
    :math:`\|f-g_\varepsilon\|_1 = \varepsilon\int f|h|` and :math:`\|f-g_\varepsilon\|_2^2 = \varepsilon^2\int f^2h^2`:

    .. math::

        \rho_1 \to \frac{\big(\int f|h|\big)^2}{\int fh^2}\le 1,\qquad
        \rho_2 \to \frac{\int f^2h^2}{\|f\|_\infty\int fh^2}\le 1 .

    The first is 1 only if :math:`|h|` is constant on :math:`\{f>0\}`; the second only if :math:`f = \|f\|_\infty` where
    :math:`h\ne0`. ``sup``: exact :math:`\|f\|_\infty` (default: maximum over the nodes). Returns ``(rho1, rho2)``.

    Example:
        >>> q = line_quadrature(14.0)
        >>> f = lambda v: torch.exp(-0.5 * v[:, 0] ** 2) / math.sqrt(2 * math.pi)
        >>> r1, r2 = perturbation_limits(f, lambda v: v[:, 0], q)      # a mean shift
        >>> round(float(r1), 10) == round(2 / math.pi, 10)
        True
    """
    quad = _check_quad(quad)
    fv, _ = _density_and_log(f, quad, "f", False)
    hv = _values(h, quad, "h")
    m2 = quad.integrate(fv * hv * hv)
    if not bool(m2 > 0):
        raise ValueError("h must not vanish f-almost everywhere (int f h^2 > 0)")
    mean = quad.integrate(fv * hv)
    scale = quad.integrate(fv * hv.abs())
    if float(mean.detach().abs()) > 1e-6 * max(float(scale.detach()), 1e-300):
        raise ValueError(f"h must have zero mean under f (int f h = 0) for g = f(1 + eps h) to be a density; "
                         f"got {float(mean.detach()):.3g}")
    if sup is None:
        sup_t = fv.abs().max()
    else:
        sup_t = torch.as_tensor(check_positive(float(sup.detach()) if isinstance(sup, torch.Tensor) else sup, "sup"),
                                dtype=fv.dtype, device=fv.device)
    return scale * scale / m2, quad.integrate(fv * fv * hv * hv) / (sup_t * m2)
