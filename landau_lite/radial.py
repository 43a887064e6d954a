r"""Isotropic solutions of the Landau equation in 3-D on a radial grid (Coulomb :math:`\gamma=-3`, Maxwell :math:`\gamma=0`).

An isotropic density :math:`f(t,v)=\varphi(t,|v|)` stays isotropic under the Landau flow. Every vector field is then
radial and :math:`\bar a[f](v)=\lambda_\parallel(r)\,\hat v\otimes\hat v+\lambda_\perp(r)(I-\hat v\otimes\hat v)`,
:math:`\bar b[f](v)=b(r)\,\hat v` (:math:`r=|v|`, :math:`\hat v=v/r`), so the equation
:math:`\partial_tf=\nabla\cdot\big(\bar a[f]\nabla f-\bar b[f]f\big)` becomes the one-dimensional conservation law

.. math::

    \partial_t f + \frac{1}{r^2}\,\partial_r\big(r^2J\big) = 0,\qquad
    J = -\lambda_\parallel[f]\,\partial_rf + b[f]\,f,\qquad J(0)=0,

whose coefficients follow from 1-D integrals (Newton's shell theorem; :math:`P_p(r)=\int_0^r\varphi s^pds`,
:math:`Q(r)=\int_r^\infty\varphi s\,ds`). Coulomb:

.. math::

    \lambda_\parallel = \frac{8\pi C}{3}\Big[\frac{P_4}{r^3}+Q\Big],\qquad
    \lambda_\perp = 4\pi C\Big[\frac{P_2}{r}-\frac{P_4}{3r^3}+\frac23Q\Big],\qquad
    b = -\frac{8\pi C\,P_2}{r^2};

Maxwell molecules (mass :math:`\rho`, energy :math:`E=\int f|v|^2`): :math:`\lambda_\parallel=\frac23CE`,
:math:`\lambda_\perp=C(\rho r^2+\frac23E)`, :math:`b=-2C\rho r`.

Contents: :class:`RadialGrid` (finite volumes in spherical shells), :func:`radial_collision_coefficients` (the
coefficients above from values on the grid), :func:`solve_radial_landau` → :class:`RadialRun` (deterministic,
mass-conserving; how the book gets Coulomb solutions accurate enough for Fisher information and KL between two
solutions) and :class:`RadialReference` (a solution tabulated once and interpolated in :math:`(|v|, t)`, with
Richardson-extrapolated moments: the reference of :class:`landau_lite.problems.IsotropicCoulomb`). The analysis
functions built on this grid live in :mod:`landau_lite.analysis`, which this module does not import:
:func:`landau_lite.analysis.coercivity.coercivity_constant_shells` (the coercivity constant of a radial density)
and :func:`landau_lite.analysis.stability.radial_key_terms` (every term of Lemma 3.3 for two radial densities).

For a density given as a *function* of the radius (not values on a grid),
:func:`landau_lite.analysis.coercivity.radial_collision_eigenvalues` evaluates the same :math:`\lambda_\parallel,\lambda_\perp`
to near machine precision by Gauss–Legendre quadrature; here the integrals treat :math:`f` as constant on each shell
(second order in the shell width), which is what the finite-volume solver needs.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from ._checks import check_choice, check_finite_float, check_int, check_positive, check_real

__all__ = [
    "RadialGrid",
    "radial_collision_coefficients",
    "RadialRun",
    "solve_radial_landau",
    "RadialReference",
]



@dataclass(frozen=True)
class RadialGrid:
    r"""Uniform finite-volume grid in the radius :math:`r=|v|\in[0,R]` for isotropic densities on :math:`\mathbb R^3`.

    Cells (spherical shells) :math:`[e_i,e_{i+1}]`, :math:`e_i=i\Delta`, :math:`\Delta=R/n`; centres
    :math:`c_i=(i+\frac12)\Delta`; volumes :math:`V_i=\frac{4\pi}3(e_{i+1}^3-e_i^3)`. A density is stored by its values
    :math:`f_i` at the centres, and :math:`\int F(f)\,dv\approx\sum_iV_iF(f_i)` (midpoint rule in shells, second order).

    Example:
        >>> g = RadialGrid(R=2.0, n=4)
        >>> g.spacing, round(float(g.volumes().sum()), 10) == round(4 * math.pi * 8 / 3, 10)
        (0.5, True)
    """

    R: float
    n: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "R", check_positive(self.R, "R"))
        object.__setattr__(self, "n", check_int(self.n, "n", lo=3))

    @property
    def spacing(self) -> float:
        r""":math:`\Delta=R/n`."""
        return self.R / self.n

    def _np_edges(self) -> np.ndarray:
        return np.arange(self.n + 1, dtype=np.float64) * self.spacing

    def _np_centres(self) -> np.ndarray:
        return (np.arange(self.n, dtype=np.float64) + 0.5) * self.spacing

    def _np_volumes(self) -> np.ndarray:
        e = self._np_edges()
        return 4.0 * math.pi / 3.0 * (e[1:] ** 3 - e[:-1] ** 3)

    def edges(self, *, dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu") -> torch.Tensor:
        r"""The ``n + 1`` shell boundaries :math:`e_i=i\Delta`."""
        return torch.tensor(self._np_edges(), dtype=dtype, device=device)

    def centres(self, *, dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu") -> torch.Tensor:
        r"""The ``n`` cell centres :math:`c_i=(i+\frac12)\Delta`."""
        return torch.tensor(self._np_centres(), dtype=dtype, device=device)

    def volumes(self, *, dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu") -> torch.Tensor:
        r"""Shell volumes :math:`V_i = \frac{4\pi}{3}(e_{i+1}^3-e_i^3)`."""
        return torch.tensor(self._np_volumes(), dtype=dtype, device=device)

    def quadrature(self, *, dtype: torch.dtype = torch.float64,
                   device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """``(centres, volumes)``: nodes and weights for the quadrature estimators of this module."""
        return self.centres(dtype=dtype, device=device), self.volumes(dtype=dtype, device=device)

    def check_values(self, f: object, name: str = "f") -> torch.Tensor:
        """Validate values on the grid: a float tensor of shape ``(n,)`` (or ``(T, n)``)."""
        f = check_finite_float(f, name)
        if f.shape[-1:] != (self.n,) or f.ndim not in (1, 2):
            raise ValueError(f"{name} must have shape ({self.n},) or (T, {self.n}) for this RadialGrid, "
                             f"got {tuple(f.shape)}")
        return f

    def integrate(self, values: torch.Tensor) -> torch.Tensor:
        r""":math:`\sum_iV_i\,\text{values}_i` over the last axis."""
        values = self.check_values(values, "values")
        return (values * self.volumes(dtype=values.dtype, device=values.device)).sum(-1)

    def second_moment(self, f: torch.Tensor) -> torch.Tensor:
        r"""Energy :math:`\int f|v|^2dv=4\pi\sum_if_i\int_{e_i}^{e_{i+1}}r^4dr` (exact in each shell), over the last axis."""
        f = self.check_values(f)
        e = self._np_edges()
        k4 = torch.tensor((e[1:] ** 5 - e[:-1] ** 5) / 5.0, dtype=f.dtype, device=f.device)
        return 4.0 * math.pi * (f * k4).sum(-1)

    def score(self, f: torch.Tensor) -> torch.Tensor:
        r"""Radial score :math:`\partial_r\log f` at the centres (second-order central differences).

        At the first cell the even reflection :math:`f(-c_0)=f(c_0)` is used; at the last cell a one-sided
        difference. Values :math:`\le0` are replaced by the smallest positive float before the logarithm
        (their weight :math:`f\,s^2` in Fisher integrals is then 0 to round-off).
        """
        f = self.check_values(f)
        tiny = torch.finfo(f.dtype).tiny
        lf = torch.log(f.clamp_min(tiny))
        h = self.spacing
        left = torch.cat([lf[..., :1], lf[..., :-1]], dim=-1)
        right = torch.cat([lf[..., 1:], lf[..., -1:]], dim=-1)
        s = (right - left) / (2.0 * h)
        s[..., -1] = (lf[..., -1] - lf[..., -2]) / h
        return s


def _check_radial_gamma(gamma: object) -> float:
    gamma = check_real(gamma, "gamma")
    if gamma not in (0.0, -3.0):
        raise ValueError(f"gamma must be 0 (Maxwell molecules) or -3 (Coulomb) for radial densities, got {gamma}")
    return gamma


def _shell_integrals(e: np.ndarray, p: int) -> np.ndarray:
    return (e[1:] ** (p + 1) - e[:-1] ** (p + 1)) / (p + 1)


@functools.lru_cache(maxsize=16)
def _geometry(grid: RadialGrid) -> dict[str, np.ndarray]:
    """Arrays that depend on the grid only (cached: the solver needs them at every step)."""
    e = grid._np_edges()
    c = grid._np_centres()
    geo = {"e": e, "c": c, "V": grid._np_volumes(), "S": 4.0 * math.pi * e * e}
    for p in (1, 2, 4):
        geo[f"K{p}"] = _shell_integrals(e, p)
    with np.errstate(divide="ignore"):
        geo["inv_e"] = np.where(e > 0, 1.0 / np.where(e > 0, e, 1.0), 0.0)
    geo["inv_c"] = 1.0 / c
    geo["c3"] = (c ** 3 - e[:-1] ** 3) / 3.0
    geo["c5"] = (c ** 5 - e[:-1] ** 5) / 5.0
    geo["c2"] = (e[1:] ** 2 - c ** 2) / 2.0
    for key in geo:
        geo[key].setflags(write=False)
    return geo


def _radial_coefficients_np(f: np.ndarray, grid: RadialGrid, gamma: float, C: float, at: str,
                            moments: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""(lambda_par, lambda_perp, b_r) at the edges (all n+1, the end values included) or at the centres.

    For gamma = 0, ``moments = (mass, energy)`` overrides the moments of ``f`` (the solver freezes them).
    """
    geo = _geometry(grid)
    rho = geo["e"] if at == "edges" else geo["c"]
    if gamma == 0.0:
        if moments is None:
            mass = 4.0 * math.pi * float(f @ geo["K2"])
            energy = 4.0 * math.pi * float(f @ geo["K4"])
        else:
            mass, energy = moments
        lam_par = np.full_like(rho, 2.0 * C * energy / 3.0)
        lam_perp = C * (mass * rho ** 2 + 2.0 * energy / 3.0)
        drift = -2.0 * C * mass * rho
        return lam_par, lam_perp, drift
    n = f.shape[0]
    P2e = np.zeros(n + 1)
    P4e = np.zeros(n + 1)
    Q1e = np.zeros(n + 1)
    np.cumsum(f * geo["K2"], out=P2e[1:])                  # int_0^{e_j} f s^2 ds
    np.cumsum(f * geo["K4"], out=P4e[1:])
    np.cumsum((f * geo["K1"])[::-1], out=Q1e[-2::-1])       # int_{e_j}^inf f s ds
    if at == "edges":
        P2, P4, Q1, inv = P2e, P4e, Q1e, geo["inv_e"]
    else:
        P2 = P2e[:-1] + f * geo["c3"]
        P4 = P4e[:-1] + f * geo["c5"]
        Q1 = Q1e[1:] + f * geo["c2"]
        inv = geo["inv_c"]
    inv3 = inv ** 3
    lam_par = (C * 8.0 * math.pi / 3.0) * (P4 * inv3 + Q1)
    lam_perp = (C * 4.0 * math.pi) * (P2 * inv - P4 * inv3 / 3.0 + 2.0 / 3.0 * Q1)
    drift = (-8.0 * math.pi * C) * P2 * inv * inv
    if at == "edges":   # r = 0: isotropic matrix (8 pi / 3) C int f s ds, no drift
        lam_par[0] = lam_perp[0] = C * (8.0 * math.pi / 3.0) * Q1[0]
        drift[0] = 0.0
    return lam_par, lam_perp, drift


def _to_np(f: torch.Tensor) -> np.ndarray:
    return f.detach().to(device="cpu", dtype=torch.float64).numpy()


def radial_collision_coefficients(f: torch.Tensor, grid: RadialGrid, *, gamma: float, C: float,
                                  at: str = "centres") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Eigenvalues of :math:`\bar a[f]` and the radial drift :math:`\bar b[f]\cdot\hat v` for an isotropic :math:`f` in 3-D.

    For :math:`f(v)=\varphi(|v|)`, :math:`\bar a[f](v)=\lambda_\parallel(r)\hat v\otimes\hat v+\lambda_\perp(r)(I-\hat v\otimes\hat v)`
    and :math:`\bar b[f](v)=b(r)\hat v`. **Coulomb** (:math:`\gamma=-3`), from the Rosenbluth potentials and the shell
    theorem (:math:`P_p(r)=\int_0^r\varphi s^pds`, :math:`Q(r)=\int_r^\infty\varphi s\,ds`):

    .. math::

        \lambda_\parallel &= \frac{8\pi C}{3}\Big[\frac{P_4}{r^3}+Q\Big],\qquad
        \lambda_\perp = 4\pi C\Big[\frac{P_2}{r}-\frac{P_4}{3r^3}+\frac23Q\Big], \\
        b &= -\frac{2C\,m(r)}{r^2},\qquad m(r)=4\pi P_2(r)

    (:math:`\lambda_\parallel = Cg_R''`, :math:`\lambda_\perp = Cg_R'/r` with :math:`g_R=f*|\cdot|`, and :math:`b=2Ch'` with
    :math:`h=f*|\cdot|^{-1}`). **Maxwell molecules** (:math:`\gamma=0`), with mass :math:`\rho` and
    :math:`E=\int f|v|^2`: :math:`\lambda_\parallel=\frac23CE`, :math:`\lambda_\perp=C(\rho r^2+\frac23E)`, :math:`b=-2C\rho r`.

    The integrals treat :math:`f` as constant on each shell (second order in :math:`\Delta`).

    Args:
        f: values at the centres ``(n,)``.
        grid: the :class:`RadialGrid`.
        gamma: ``-3`` or ``0``; C: collision constant :math:`>0`.
        at: ``"centres"`` (``n`` values) or ``"edges"`` (``n+1`` values, :math:`r=0` included).

    Returns:
        ``(lam_par, lam_perp, b)``, dtype/device of ``f``.

    Example (Maxwellian, :math:`T=1`: :math:`\lambda(0)=\frac23\sqrt{2/\pi}=0.5319`):
        >>> g = RadialGrid(10.0, 1000)
        >>> r = g.centres()
        >>> lp, lq, b = radial_collision_coefficients((2 * math.pi) ** -1.5 * torch.exp(-r * r / 2), g, gamma=-3.0,
        ...                                           C=1.0, at="edges")
        >>> round(float(lp[0]), 4)
        0.5319
    """
    if not isinstance(grid, RadialGrid):
        raise TypeError(f"grid must be a RadialGrid, got {type(grid).__name__}")
    f = grid.check_values(f)
    if f.ndim != 1:
        raise ValueError(f"f must have shape ({grid.n},), got {tuple(f.shape)}")
    gamma = _check_radial_gamma(gamma)
    C = check_positive(C, "C")
    at = check_choice(at, "at", ("centres", "edges"))
    out = _radial_coefficients_np(_to_np(f), grid, gamma, C, at)
    return tuple(torch.tensor(x, dtype=f.dtype, device=f.device) for x in out)


def _bernoulli(x: np.ndarray) -> np.ndarray:
    r""":math:`B(x)=x/(e^x-1)`, :math:`B(0)=1` (Scharfetter–Gummel weights)."""
    small = np.abs(x) < 1e-6
    xs = np.where(small, 1.0, np.minimum(x, 700.0))
    out = xs / np.expm1(xs)
    out[small] = 1.0 - 0.5 * x[small]
    return out


def _flux_coefficients(f: np.ndarray, grid: RadialGrid, gamma: float, C: float,
                       moments: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray]:
    r"""Scharfetter–Gummel flux :math:`J_j=\alpha_jf_{j-1}-\beta_jf_j` at the edges (:math:`J_0=J_n=0`)."""
    lam, _, b = _radial_coefficients_np(f, grid, gamma, C, "edges", moments)
    h = grid.spacing
    lam = np.maximum(lam, 1e-300)
    pe = b * h / lam
    alpha = lam / h * _bernoulli(-pe)
    beta = lam / h * _bernoulli(pe)
    alpha[0] = alpha[-1] = beta[0] = beta[-1] = 0.0
    return alpha, beta


def _operator_bands(f: np.ndarray, grid: RadialGrid, gamma: float, C: float,
                    moments: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tridiagonal L (df/dt = L f with frozen coefficients): (lower, diag, upper) rows."""
    alpha, beta = _flux_coefficients(f, grid, gamma, C, moments)
    geo = _geometry(grid)
    V = geo["V"]
    Sa, Sb = geo["S"] * alpha, geo["S"] * beta
    diag = -(Sa[1:] + Sb[:-1]) / V
    upper = Sb[1:] / V          # coefficient of f_{i+1} in row i (0 in the last row)
    lower = Sa[:-1] / V         # coefficient of f_{i-1} in row i (0 in the first row)
    return lower, diag, upper


def _solve_shifted(lower: np.ndarray, diag: np.ndarray, upper: np.ndarray, a: float, dt: float,
                   rhs: np.ndarray) -> np.ndarray:
    """Solve (a I - dt L) x = rhs for tridiagonal L (LAPACK ``gtsv``)."""
    from scipy.linalg.lapack import dgtsv

    _, _, _, x, info = dgtsv(-dt * lower[1:], a - dt * diag, -dt * upper[:-1], rhs)
    if info != 0:
        raise RuntimeError(f"tridiagonal solve failed (LAPACK info = {info})")
    return x


class _Stepper:
    """The time loop of :func:`solve_radial_landau`, resumable: BDF2 carries ``f_prev`` and ``h_prev`` across calls,
    so advancing in pieces gives the same values as one call (a restart would take an Euler step)."""

    def __init__(self, f0: np.ndarray, grid: RadialGrid, gamma: float, C: float, method: str) -> None:
        self.f = f0.copy()
        self.grid, self.gamma, self.C, self.method = grid, gamma, C, method
        self.moments: tuple[float, float] | None = None
        if gamma == 0.0:   # Maxwell molecules: the coefficients depend on the conserved mass and energy only
            geo = _geometry(grid)
            self.moments = (4.0 * math.pi * float(self.f @ geo["K2"]), 4.0 * math.pi * float(self.f @ geo["K4"]))
        self.f_prev: np.ndarray | None = None
        self.h_prev = 0.0
        self.steps = 0

    def advance(self, span: float, dt: float) -> None:
        """Advance by ``span > 0`` in ``ceil(span / dt)`` equal steps."""
        k = max(1, int(math.ceil(span / dt - 1e-9)))
        h = span / k
        grid, gamma, C, moments = self.grid, self.gamma, self.C, self.moments
        for _ in range(k):
            f, f_prev = self.f, self.f_prev
            if self.method == "euler" or f_prev is None:
                lo, di, up = _operator_bands(f, grid, gamma, C, moments)
                f_new = _solve_shifted(lo, di, up, 1.0, h, f)
            else:
                # variable-step BDF2, w = h_n / h_{n-1}:
                # (1+2w)/(1+w) f^{n+1} - (1+w) f^n + w^2/(1+w) f^{n-1} = h L[f~] f^{n+1},
                # coefficients at the linear extrapolation f~ = f^n + w (f^n - f^{n-1}).
                w = h / self.h_prev
                extrap = np.maximum(f + w * (f - f_prev), 0.0)
                lo, di, up = _operator_bands(extrap, grid, gamma, C, moments)
                rhs = (1.0 + w) * f - (w * w / (1.0 + w)) * f_prev
                f_new = _solve_shifted(lo, di, up, (1.0 + 2.0 * w) / (1.0 + w), h, rhs)
            self.f_prev, self.f, self.h_prev = f, f_new, h
            self.steps += 1


@dataclass
class RadialRun:
    r"""Result of :func:`solve_radial_landau`: the density at the requested times.

    Attributes:
        grid: the :class:`RadialGrid`; gamma, C: the kernel.
        times: ``(T,)`` tensor of the recorded times; f: ``(T, n)`` values at the centres (dtype/device of ``f0``).
        steps: number of time steps taken; dt: the largest step used; method: ``"euler"`` or ``"bdf2"``.
    """

    grid: RadialGrid
    gamma: float
    C: float
    times: torch.Tensor
    f: torch.Tensor
    steps: int = 0
    dt: float = 0.0
    method: str = "bdf2"
    info: dict = field(default_factory=dict)


def solve_radial_landau(f0: torch.Tensor, grid: RadialGrid, *, gamma: float, C: float,
                        times: "Sequence[float] | torch.Tensor", dt: float,
                        method: str = "bdf2") -> RadialRun:
    r"""Solve the Landau equation for an isotropic density in 3-D (Coulomb :math:`\gamma=-3` or Maxwell :math:`\gamma=0`).

    In radial form, with the coefficients of :func:`radial_collision_coefficients`,

    .. math::

        \partial_t f + \frac1{r^2}\partial_r\big(r^2J\big) = 0,\qquad J = fU_r = -\lambda_\parallel[f]\,\partial_rf + b[f]\,f .

    **Space:** finite volumes in shells, zero flux at :math:`r=0` and :math:`r=R`, and the Scharfetter–Gummel
    flux at each edge, :math:`J=\frac{\lambda}{\Delta}\big(B(-P)f_{i}-B(P)f_{i+1}\big)`, :math:`P=b\Delta/\lambda`,
    :math:`B(x)=x/(e^x-1)`. It is exact for local equilibria :math:`f\propto e^{\int b/\lambda}`, so a Maxwellian
    (:math:`b/\lambda=-r/T`) is preserved up to the error of the coefficients, and its matrix is an M-matrix.
    **Time:** linearly implicit — the coefficients are frozen at a known state and the linear tridiagonal system is
    solved: ``"euler"`` (backward Euler, coefficients at :math:`f^n`; mass exactly conserved and :math:`f\ge0`
    for every :math:`\Delta t`) or ``"bdf2"`` (second order: :math:`\frac32f^{n+1}-2f^n+\frac12f^{n-1}=\Delta t\,L[2f^n-f^{n-1}]f^{n+1}`,
    in its variable-step form where the step changes, first step by Euler; mass exactly conserved). Energy is
    conserved up to the discretisation error (for Coulomb the temperature drifts by :math:`O(\Delta^2)` per
    relaxation time). For Maxwell molecules the coefficients depend on :math:`f` only through its mass and
    energy, which the equation conserves, so the solver takes them from ``f0`` (no temperature drift).

    The solve runs on the CPU in float64 (it is :math:`O(n)` per step); the result has the dtype/device of ``f0``.

    Args:
        f0: initial values at the centres ``(n,)``, :math:`\ge0`.
        grid: the :class:`RadialGrid` (take :math:`R` where :math:`f` is negligible).
        gamma: ``-3`` or ``0``; C: collision constant :math:`>0`.
        times: increasing times :math:`\ge0` at which to record (elapsed since ``f0``), e.g. ``[0, 0.5, 1]``.
        dt: largest time step :math:`>0` (each interval between record times is split into equal steps).
        method: ``"bdf2"`` (default) or ``"euler"``.

    Returns:
        a :class:`RadialRun`.

    Example (a Maxwellian stays put):
        >>> g = RadialGrid(8.0, 200); r = g.centres()
        >>> M = (2 * math.pi) ** -1.5 * torch.exp(-r * r / 2)
        >>> run = solve_radial_landau(M, g, gamma=-3.0, C=1.0, times=[0.0, 1.0], dt=0.05)
        >>> float((run.f[-1] - M).abs().max() / M.max()) < 1e-3
        True
    """
    if not isinstance(grid, RadialGrid):
        raise TypeError(f"grid must be a RadialGrid, got {type(grid).__name__}")
    f0 = grid.check_values(f0, "f0")
    if f0.ndim != 1:
        raise ValueError(f"f0 must have shape ({grid.n},), got {tuple(f0.shape)}")
    if bool((f0 < 0).any()):
        raise ValueError("f0 must be >= 0 (a density)")
    gamma = _check_radial_gamma(gamma)
    C = check_positive(C, "C")
    dt = check_positive(dt, "dt")
    method = check_choice(method, "method", ("bdf2", "euler"))
    if isinstance(times, torch.Tensor):
        times = times.detach().cpu().tolist()
    try:
        tlist = [check_real(t, "times[i]", lo=0.0) for t in times]
    except TypeError as exc:
        raise TypeError("times must be a sequence of real numbers") from exc
    if len(tlist) == 0 or any(b <= a for a, b in zip(tlist, tlist[1:])):
        raise ValueError("times must be a non-empty strictly increasing sequence of numbers >= 0")

    stepper = _Stepper(_to_np(f0), grid, gamma, C, method)
    out = []
    t = 0.0
    for t_rec in tlist:
        if t_rec > t:
            stepper.advance(t_rec - t, dt)
            t = t_rec
        out.append(stepper.f.copy())
    steps = stepper.steps
    fs = torch.tensor(np.stack(out), dtype=f0.dtype, device=f0.device)
    return RadialRun(grid=grid, gamma=gamma, C=C, times=torch.tensor(tlist, dtype=f0.dtype, device=f0.device),
                     f=fs, steps=steps, dt=dt, method=method)


# ----------------------------------------------------------------------------------------------
# a tabulated reference solution: interpolation in (r, t), Richardson-extrapolated moments
# ----------------------------------------------------------------------------------------------

def _lagrange_weights(nodes: np.ndarray, x: float) -> np.ndarray:
    """Weights of the Lagrange polynomial through ``nodes`` (4 distinct times), evaluated at ``x``."""
    w = np.ones(len(nodes))
    for a in range(len(nodes)):
        for b in range(len(nodes)):
            if a != b:
                w[a] *= (x - nodes[b]) / (nodes[a] - nodes[b])
    return w


def _grid_moments(f: np.ndarray, grid: RadialGrid) -> np.ndarray:
    r"""``[mass, energy, m4, entropy]`` of grid values: :math:`4\pi\sum_if_i\int_{e_i}^{e_{i+1}}r^{2+p}dr` for
    :math:`p=0,2,4` and :math:`\sum_iV_if_i\log f_i`."""
    geo = _geometry(grid)
    e = geo["e"]
    k6 = (e[1:] ** 7 - e[:-1] ** 7) / 7.0
    return np.array([4.0 * math.pi * float(f @ geo["K2"]), 4.0 * math.pi * float(f @ geo["K4"]),
                     4.0 * math.pi * float(f @ k6), float(geo["V"] @ (f * np.log(f)))])


class _Track:
    """One grid's solution, recorded at given times (log-values and/or moments), extended on demand."""

    def __init__(self, f0: np.ndarray, grid: RadialGrid, gamma: float, keep_values: bool) -> None:
        self.grid, self.keep_values = grid, keep_values
        self.stepper = _Stepper(f0, grid, gamma, 1.0, "bdf2")
        self.logs: list[np.ndarray] = []
        self.moments: list[np.ndarray] = []
        self._record()

    def _record(self) -> None:
        f = self.stepper.f
        if not bool((f > 0.0).all()):
            raise RuntimeError(f"the radial reference lost positivity (min f = {float(f.min()):.3g}) on the grid "
                               f"R = {self.grid.R:g}, n = {self.grid.n}: take a smaller R or time step")
        if self.keep_values:
            self.logs.append(np.log(f))
        self.moments.append(_grid_moments(f, self.grid))

    def extend(self, records: int, span: float, dt: float) -> None:
        for _ in range(records):
            self.stepper.advance(span, dt)
            self._record()


class RadialReference:
    r"""An isotropic solution of the 3-D Landau equation tabulated by the radial solver, with interpolation.

    The equation is solved with :math:`C = 1`; for a kernel constant :math:`C` the solution at elapsed time
    :math:`t` is this one at the **reduced time** :math:`s = Ct` (the collision operator is linear in :math:`C`), so
    one table serves every :math:`C`. Two BDF2 solves (the scheme of :func:`solve_radial_landau`) run side by side
    from the same profile ``f0``: a *fine* one (``n`` shells, step ``dt``) and a *coarse* one (``n/2`` shells, step
    ``2 dt``). Both are second order in :math:`(\Delta, \Delta t)` together, so for the moments (mass, energy,
    :math:`E|v|^4`, entropy :math:`H=\int f\log f`) the Richardson combination

    .. math::

        M_\star = \tfrac43 M_{\rm fine} - \tfrac13 M_{\rm coarse}

    cancels the leading error (:meth:`moments`); :math:`|M_{\rm fine} - M_{\rm coarse}|/3` estimates the error of
    the fine solution (:meth:`error_estimate`). The density and the score come from the fine solution: its
    :math:`\log f` at the shell centres is recorded every ``record_every`` (reduced time), interpolated in time by
    the cubic Lagrange polynomial through four records, and in :math:`u=r^2` by a cubic spline (``scipy``'s
    not-a-knot ``CubicSpline``; :math:`\log f` of a smooth isotropic density is a smooth function of :math:`u`, the
    spline reproduces a Maxwellian exactly, and :math:`\nabla\log f = 2v\,\partial_u\log f` vanishes at the origin).
    Beyond the last centre :math:`\log f` is continued linearly in :math:`u` (a Gaussian tail).

    **Start-up.** A datum far from equilibrium can move fast at first (a density that is small at the origin fills
    up at a rate :math:`\propto 1/f`), so the first records are graded: ``startup`` levels of 10 records each, the
    record spacing and the time step halved per level (the finest level has :math:`2^{-\text{startup}}` of both), so
    neighbouring steps differ by a factor :math:`\le 2` (variable-step BDF2 is stable for ratios
    :math:`<1+\sqrt2`). After that the table grows in blocks of ``block`` reduced time when a later time is asked
    for; the BDF2 history is carried across blocks, so the values do not depend on the order of the requests.

    Args:
        f0: the initial profile, a function from a float64 tensor of radii to the (positive) density values.
        gamma: ``-3`` (Coulomb) or ``0`` (Maxwell molecules).
        R: outer radius (zero flux there; take it where :math:`f` is negligible, default 10).
        n: fine shells, even, ``>= 8`` (default 1000). dt: fine time step in reduced time (default 0.005).
        record_every: spacing of the records in reduced time, a multiple of ``2 dt`` (default 0.02).
        block: reduced time added per extension, a multiple of ``record_every``, at least 4 of them (default 5).
        startup: number of graded start-up levels, ``>= 0`` (default 4).

    Example (a Maxwellian stays a Maxwellian):
        >>> ref = RadialReference(lambda r: (2 * math.pi) ** -1.5 * torch.exp(-r * r / 2), gamma=-3.0,
        ...                       n=200, block=1.0)
        >>> m = ref.moments(0.5)
        >>> [round(m[k], 4) for k in ("mass", "energy", "m4")]
        [1.0, 3.0, 15.0]
        >>> u = torch.tensor([0.0, 1.0, 4.0], dtype=torch.float64)
        >>> [round(float(x), 3) for x in ref.dlog_du(u, 0.5)]
        [-0.5, -0.5, -0.5]
    """

    _STARTUP_RECORDS = 10

    def __init__(self, f0: "Callable[[torch.Tensor], torch.Tensor]", *, gamma: float, R: float = 10.0,
                 n: int = 1000, dt: float = 0.005, record_every: float = 0.02, block: float = 5.0,
                 startup: int = 4) -> None:
        if not callable(f0):
            raise TypeError(f"f0 must be a function of the radius, got {type(f0).__name__}")
        self.gamma = _check_radial_gamma(gamma)
        R = check_positive(R, "R")
        n = check_int(n, "n", lo=8)
        if n % 2:
            raise ValueError(f"n must be even (the coarse grid has n/2 shells), got n = {n}")
        self.dt = check_positive(dt, "dt")
        self.record_every = check_positive(record_every, "record_every")
        self.block = check_positive(block, "block")
        self.startup = check_int(startup, "startup", lo=0, hi=20)
        sub = self.record_every / (2.0 * self.dt)
        if abs(sub - round(sub)) > 1e-9 * sub or round(sub) < 1:
            raise ValueError(f"record_every must be a multiple of 2 dt = {2.0 * self.dt:g}, got {record_every}")
        per = self.block / self.record_every
        if abs(per - round(per)) > 1e-9 * per or round(per) < 4:
            raise ValueError(f"block must be a multiple of record_every = {self.record_every:g}, at least 4 of them, "
                             f"got {block}")
        self._per_block = int(round(per))
        self.fine_grid, self.coarse_grid = RadialGrid(R, n), RadialGrid(R, n // 2)
        tracks = []
        for grid, keep in ((self.fine_grid, True), (self.coarse_grid, False)):
            values = f0(grid.centres())
            if not isinstance(values, torch.Tensor) or values.shape != (grid.n,):
                raise ValueError(f"f0 must return a tensor of shape ({grid.n},) for {grid.n} radii")
            values = _to_np(values)
            if not bool(np.isfinite(values).all()) or not bool((values > 0).all()):
                raise ValueError("f0 must be finite and > 0 at every shell centre (log f is interpolated)")
            tracks.append(_Track(values, grid, self.gamma, keep))
        self._fine, self._coarse = tracks
        self._times: list[float] = [0.0]
        self._u = self.fine_grid._np_centres() ** 2
        self._spline_cache: tuple[float, np.ndarray, np.ndarray] | None = None
        for level in range(self.startup, 0, -1):            # graded start: spacing record_every / 2^level
            self._extend(self._STARTUP_RECORDS, self.record_every / 2 ** level, self.dt / 2 ** level)
        self._extend(self._per_block, self.record_every, self.dt)

    # -- the table --------------------------------------------------------------------------------
    @property
    def s_max(self) -> float:
        """Reduced time up to which the table is computed now."""
        return self._times[-1]

    @property
    def record_times(self) -> np.ndarray:
        """The reduced times of the records (graded start, then every ``record_every``)."""
        return np.array(self._times)

    def _extend(self, records: int, span: float, dt: float) -> None:
        self._fine.extend(records, span, dt)
        self._coarse.extend(records, span, 2.0 * dt)
        start = self._times[-1]
        self._times.extend(start + (k + 1) * span for k in range(records))

    def _stencil(self, s: object) -> tuple[int, np.ndarray]:
        """First record and Lagrange weights of the four records around reduced time ``s`` (extends the table)."""
        s = check_real(s, "s", lo=0.0)
        while self._times[-1] < s + 2.0 * self.record_every:
            self._extend(self._per_block, self.record_every, self.dt)
        times = self._times
        i = int(np.searchsorted(times, s, side="right")) - 1
        j0 = min(max(i - 1, 0), len(times) - 4)
        return j0, _lagrange_weights(np.array(times[j0:j0 + 4]), s)

    def _log_values(self, s: float) -> np.ndarray:
        j0, w = self._stencil(s)
        logs = self._fine.logs
        return w[0] * logs[j0] + w[1] * logs[j0 + 1] + w[2] * logs[j0 + 2] + w[3] * logs[j0 + 3]

    def _spline(self, s: float) -> tuple[np.ndarray, np.ndarray]:
        """Breakpoints (u at the centres) and the cubic's coefficients (4, n-1) at reduced time ``s`` (cached)."""
        from scipy.interpolate import CubicSpline

        s = check_real(s, "s", lo=0.0)
        if self._spline_cache is None or self._spline_cache[0] != s:
            spline = CubicSpline(self._u, self._log_values(s))
            self._spline_cache = (s, spline.x, spline.c)
        return self._spline_cache[1], self._spline_cache[2]

    def _evaluate(self, u: torch.Tensor, s: float, derivative: bool) -> torch.Tensor:
        u = check_finite_float(u, "u")
        if bool((u < 0).any()):
            raise ValueError("u = |v|^2 must be >= 0")
        x, c = self._spline(s)
        xt = torch.as_tensor(x, dtype=torch.float64, device=u.device)
        ct = torch.as_tensor(c, dtype=torch.float64, device=u.device)
        uu = u.to(torch.float64)
        last = xt.shape[0] - 1
        idx = (torch.searchsorted(xt, uu.contiguous(), right=True) - 1).clamp(0, last - 1)
        h = uu.clamp(max=float(x[-1])) - xt[idx]
        a, b, cc, d = ct[0, idx], ct[1, idx], ct[2, idx], ct[3, idx]
        slope_end = float(3.0 * c[0, -1] * (x[-1] - x[-2]) ** 2 + 2.0 * c[1, -1] * (x[-1] - x[-2]) + c[2, -1])
        beyond = uu > float(x[-1])
        if derivative:
            out = (3.0 * a * h + 2.0 * b) * h + cc
            out = torch.where(beyond, torch.full_like(out, slope_end), out)
        else:
            out = ((a * h + b) * h + cc) * h + d
            out = out + torch.where(beyond, slope_end * (uu - float(x[-1])), torch.zeros_like(out))
        return out.to(u.dtype)

    # -- public API ---------------------------------------------------------------------------------
    def log_density(self, u: torch.Tensor, s: float) -> torch.Tensor:
        r""":math:`\log f(s, r)` at :math:`u = r^2` (any shape, float32/float64, any device) and reduced time ``s``."""
        return self._evaluate(u, s, derivative=False)

    def dlog_du(self, u: torch.Tensor, s: float) -> torch.Tensor:
        r""":math:`\partial_u\log f(s, \sqrt u)`; the score is :math:`\nabla_v\log f = 2v\,\partial_u\log f`."""
        return self._evaluate(u, s, derivative=True)

    def _moment_series(self, s: float, track: _Track) -> np.ndarray:
        j0, w = self._stencil(s)
        return w @ np.stack(track.moments[j0:j0 + 4])

    def moments(self, s: float) -> dict[str, float]:
        r"""Richardson-extrapolated ``mass``, ``energy`` (:math:`E|v|^2`), ``m4`` (:math:`E|v|^4`), ``entropy``
        (:math:`\int f\log f`) at reduced time ``s`` (cubic interpolation between records)."""
        fine, coarse = self._moment_series(s, self._fine), self._moment_series(s, self._coarse)
        star = (4.0 * fine - coarse) / 3.0
        return dict(zip(("mass", "energy", "m4", "entropy"), (float(x) for x in star)))

    def error_estimate(self, s: float) -> dict[str, float]:
        r"""Estimated error of the *fine* solution's moments, :math:`|M_{\rm fine}-M_{\rm coarse}|/3` (the error of
        :meth:`moments` is of higher order, see ``tests/test_radial.py``)."""
        fine, coarse = self._moment_series(s, self._fine), self._moment_series(s, self._coarse)
        return dict(zip(("mass", "energy", "m4", "entropy"), (float(x) for x in np.abs(fine - coarse) / 3.0)))

    def sample_radius(self, n: int, s: float, *, generator: torch.Generator | None = None,
                      device: torch.device | str = "cpu") -> torch.Tensor:
        r"""``n`` radii drawn from :math:`4\pi r^2f(s,r)` by inverse CDF (float64).

        The CDF is the trapezoid rule of :math:`r^2e^{\log f}` (the spline above) on ``8 n_fine`` equal pieces of
        :math:`[0, R]`, inverted linearly, so the draws follow a density that is constant on pieces of width
        :math:`R/(8n)` (total-variation distance :math:`\approx R/(32n)\sup|\partial_r(r^2f)|`); mass beyond
        :math:`R` is dropped.
        """
        n = check_int(n, "n", lo=1)
        R = self.fine_grid.R
        r = np.linspace(0.0, R, 8 * self.fine_grid.n + 1)
        g = r * r * np.exp(self.log_density(torch.from_numpy(r * r), s).numpy())
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (g[1:] + g[:-1]))])
        cdf /= cdf[-1]
        gdev = generator.device if generator is not None else torch.device(device)
        q = torch.rand(n, generator=generator, dtype=torch.float64, device=gdev).cpu().numpy()
        return torch.from_numpy(np.interp(q, cdf, r)).to(device=device)
