r"""Functional inequalities behind the Fisher-information bounds: Sobolev's :math:`L^3` bound and the pointwise
Hessian inequality.

* :math:`\|f\|_{L^3(\mathbb R^3)}\le\frac{c_S^2}{4}I(f)` (sharp Sobolev constant :math:`c_S` = :data:`SOBOLEV_3D`,
  :func:`l3_bound_from_fisher`);
* :math:`|\nabla f|^2/f\le 2\sup_{B(v,1)}\|D^2f\| + 4f` for radial :math:`f` (:func:`hessian_sup_on_balls`), the
  inequality behind Theorem 3.1 of Ilin (2025).

The Fisher information itself is :func:`landau_lite.analysis.divergences.fisher_information`.
"""

from __future__ import annotations

import math

import torch

from .._checks import check_finite_float, check_positive, check_real

__all__ = ["SOBOLEV_3D", "l3_bound_from_fisher", "hessian_sup_on_balls"]


#: Sharp Sobolev constant :math:`c_S` of :math:`\|u\|_{L^6(\mathbb R^3)}\le c_S\|\nabla u\|_{L^2}` (Aubin–Talenti):
#: :math:`c_S^2 = \frac{4}{3\,(2\pi^2)^{2/3}}` (:math:`2\pi^2 = |\mathbb S^3|`).
SOBOLEV_3D: float = math.sqrt(4.0 / (3.0 * (2.0 * math.pi ** 2) ** (2.0 / 3.0)))


def l3_bound_from_fisher(fisher: torch.Tensor | float) -> torch.Tensor | float:
    r"""Bound on :math:`\|f\|_{L^3(\mathbb R^3)}` by the Fisher information: :math:`\|f\|_{L^3}\le\frac{c_S^2}{4}\,I(f)`.

    Apply Sobolev to :math:`u=\sqrt f`: :math:`\|f\|_{L^3}=\|\sqrt f\|_{L^6}^2\le c_S^2\|\nabla\sqrt f\|_{L^2}^2 = c_S^2I(f)/4`.
    Since :math:`I(f_t)` does not increase along Landau flows (Guillen and Silvestre (2025)), this gives
    :math:`\sup_t\|f_t\|_{L^3}\le c_S^2I(f_0)/4` (the :math:`L^3` bound behind Lemma 2.1 of Ilin (2025)).

    Example:
        >>> round(l3_bound_from_fisher(3.0), 4)      # N(0, I): ||f||_3 = 1/(2 pi sqrt 3) = 0.0919
        0.1369
    """
    if isinstance(fisher, torch.Tensor):
        fisher = check_finite_float(fisher, "fisher")
        if bool((fisher < 0).any()):
            raise ValueError("fisher must be >= 0")
        return fisher * (SOBOLEV_3D ** 2 / 4.0)
    return check_real(fisher, "fisher", lo=0.0) * SOBOLEV_3D ** 2 / 4.0


def hessian_sup_on_balls(r: torch.Tensor, d1: torch.Tensor, d2: torch.Tensor, radius: float = 1.0) -> torch.Tensor:
    r"""For a radial :math:`f(v)=\varphi(|v|)` in 3-D: :math:`S(v)=\sup_{B(v,\rho)}\|D^2f\|` at every node :math:`|v|=r_i`.

    The Hessian of a radial function has eigenvalues :math:`\varphi''(r)` (along :math:`\hat v`) and
    :math:`\varphi'(r)/r` (twice, across), and the ball :math:`B(v,\rho)` meets exactly the radii
    :math:`[\max(0,|v|-\rho),|v|+\rho]`, so

    .. math:: S(v) = \max_{\max(0,|v|-\rho)\le s\le|v|+\rho}\ \max\big(|\varphi''(s)|,\,|\varphi'(s)/s|\big),

    taken over the nodes of the uniform grid ``r`` (a sliding-window maximum). This is the quantity of the
    pointwise inequality behind Theorem 3.1 of Ilin (2025), our self-contained version of the functional inequality
    of Toscani and Villani (2000), (3.3) there (our reconstruction; see the book's appendix 'What we rebuilt'):

    .. math:: \frac{|\nabla f(v)|^2}{f(v)} \le 2\,S(v) + 4f(v)\qquad(\rho=1).

    Args:
        r: uniform nodes :math:`0\le r_0<r_1<\dots` ``(M,)``; near the end of the grid the window is cut at
            :math:`r_{M-1}` (so use the result only for :math:`r_i\le r_{M-1}-\rho`).
        d1, d2: :math:`\varphi'` and :math:`\varphi''` at the nodes. At :math:`r=0`, :math:`\varphi'/r` is taken as :math:`\varphi''`.
        radius: :math:`\rho>0`.

    Returns:
        ``(M,)``, dtype/device of ``r``.

    Example (:math:`\varphi = e^{-r^2/2}`: :math:`\|D^2f\|\le1`, attained at 0):
        >>> r = torch.linspace(0, 6, 601, dtype=torch.float64)
        >>> S = hessian_sup_on_balls(r, -r * torch.exp(-r * r / 2), (r * r - 1) * torch.exp(-r * r / 2))
        >>> float(S[0]), float(S[100])
        (1.0, 1.0)
    """
    r = check_finite_float(r, "r")
    if r.ndim != 1 or r.shape[0] < 2:
        raise ValueError(f"r must be a 1-D grid with at least 2 nodes, got shape {tuple(r.shape)}")
    if bool((r < 0).any()):
        raise ValueError("r must be >= 0")
    dr = r[1:] - r[:-1]
    h = float(dr.mean())
    if h <= 0 or float((dr - h).abs().max()) > 1e-9 * max(1.0, float(r[-1])):
        raise ValueError("r must be uniformly spaced and increasing")
    d1 = check_finite_float(d1, "d1")
    d2 = check_finite_float(d2, "d2")
    if d1.shape != r.shape or d2.shape != r.shape:
        raise ValueError(f"d1 and d2 must have the shape of r {tuple(r.shape)}")
    rho = check_positive(radius, "radius")
    safe = torch.where(r > 0, r, torch.ones_like(r))
    across = torch.where(r > 0, d1 / safe, d2)
    H = torch.maximum(d2.abs(), across.abs())
    m = int(round(rho / h))
    if m == 0:
        return H
    m = min(m, r.shape[0] - 1)
    # sliding max over [i-m, i+m] (clipped to the grid): pad with -inf
    pad = torch.full((m,), -math.inf, dtype=H.dtype, device=H.device)
    Hp = torch.cat([pad, H, pad])
    return Hp.unfold(0, 2 * m + 1, 1).amax(dim=1)
