r"""Gaussian closed forms: KL, entropy, :math:`L^2` distance and sup norm, Gaussians moved by linear fields.

For :math:`f = N(\mu_f,\Sigma_f)`, :math:`g = N(\mu_g,\Sigma_g)` on :math:`\mathbb R^d` every functional of
:mod:`landau_lite.analysis.divergences` has a closed form, and a linear velocity field :math:`u(v) = Bv + c` keeps
Gaussians Gaussian. These are the exact references of the quadrature rules and of the KL identity
(Lemma 3.3(a) of Ilin (2025)):

.. math::

    \frac{d}{dt}\mathrm{KL}(f_t\Vert g_t) &= \int f\,(u_f-u_g)\cdot\nabla\log\frac fg \\
    &\quad\text{for}\quad \partial_tf+\nabla\cdot(fu_f) = 0,\ \ \partial_tg+\nabla\cdot(gu_g) = 0 .
"""

from __future__ import annotations

import math

import torch

from .._checks import check_finite_float, check_real, check_same_device_dtype, check_tensor

__all__ = [
    "gaussian_kl",
    "gaussian_entropy",
    "gaussian_l2_distance",
    "gaussian_sup_norm",
    "gaussian_linear_flow",
    "gaussian_kl_rate",
]


# ----------------------------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------------------------

def _check_gaussian(mean: object, cov: object, name_m: str, name_c: str, *,
                    like: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mean, cov)``: a finite ``(d,)`` mean and a symmetric positive definite ``(d, d)`` covariance.

    ``like``: a tensor whose shape ``(d,)``, dtype and device the mean must match.
    """
    mean = check_tensor(mean, name_m)
    cov = check_tensor(cov, name_c)
    if mean.ndim != 1 or mean.shape[0] < 1:
        raise ValueError(f"{name_m} must have shape (d,), got {tuple(mean.shape)}")
    d = mean.shape[0]
    if cov.shape != (d, d):
        raise ValueError(f"{name_c} must have shape ({d}, {d}), got {tuple(cov.shape)}")
    check_same_device_dtype(mean, cov, name_m, name_c)
    if like is not None:
        if mean.shape != like.shape:
            raise ValueError(f"{name_m} must have shape {tuple(like.shape)}, got {tuple(mean.shape)}")
        check_same_device_dtype(like, mean, "the first mean", name_m)
    check_finite_float(mean, name_m)
    check_finite_float(cov, name_c)
    tol = 1e-10 if cov.dtype == torch.float64 else 1e-5
    c = cov.detach()      # the checks read values only: no autograd graph, no warning under requires_grad
    if float((c - c.T).abs().max()) > tol * max(1.0, float(c.abs().max())):
        raise ValueError(f"{name_c} must be symmetric")
    if float(torch.linalg.eigvalsh(0.5 * (c + c.T)).min()) <= 0.0:
        raise ValueError(f"{name_c} must be positive definite")
    return mean, cov


def _sym(S: torch.Tensor) -> torch.Tensor:
    """:math:`(S+S^T)/2`: the symmetric part that the closed forms use (``S`` itself when it is symmetric)."""
    return 0.5 * (S + S.T)


def _check_cov(cov: object) -> torch.Tensor:
    cov = check_tensor(cov, "cov")
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or cov.shape[0] < 1:
        raise ValueError(f"cov must be a square (d, d) matrix, got {tuple(cov.shape)}")
    return _sym(_check_gaussian(torch.zeros(cov.shape[0], dtype=cov.dtype, device=cov.device), cov, "mean", "cov")[1])


def _check_field(value: object, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    value = check_finite_float(value, name)
    if tuple(value.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(value.shape)}")
    check_same_device_dtype(like, value, "the covariance", name)
    return value


# ----------------------------------------------------------------------------------------------
# functionals
# ----------------------------------------------------------------------------------------------

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
    mf, Sf = _check_gaussian(mean_f, cov_f, "mean_f", "cov_f")
    mg, Sg = _check_gaussian(mean_g, cov_g, "mean_g", "cov_g", like=mf)
    Sf, Sg = _sym(Sf), _sym(Sg)
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
    S = _check_cov(cov)
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
    mf, Sf = _check_gaussian(mean_f, cov_f, "mean_f", "cov_f")
    mg, Sg = _check_gaussian(mean_g, cov_g, "mean_g", "cov_g", like=mf)
    Sf, Sg = _sym(Sf), _sym(Sg)
    sq = _gaussian_overlap(mf, Sf, mf, Sf) + _gaussian_overlap(mg, Sg, mg, Sg) - 2.0 * _gaussian_overlap(mf, Sf, mg, Sg)
    return torch.clamp(sq, min=0.0).sqrt()


def gaussian_sup_norm(cov: torch.Tensor) -> torch.Tensor:
    r""":math:`\|N(\mu,\Sigma)\|_\infty = (2\pi)^{-d/2}(\det\Sigma)^{-1/2}` (the value at the mean).

    Example:
        >>> round(float(gaussian_sup_norm(torch.eye(1, dtype=torch.float64))), 10) == round(1 / math.sqrt(2 * math.pi), 10)
        True
    """
    S = _check_cov(cov)
    d = S.shape[0]
    return torch.exp(-0.5 * d * math.log(2.0 * math.pi) - 0.5 * torch.linalg.slogdet(S)[1])


# ----------------------------------------------------------------------------------------------
# Gaussians moved by linear velocity fields
# ----------------------------------------------------------------------------------------------

def gaussian_linear_flow(mean0: torch.Tensor, cov0: torch.Tensor, B: torch.Tensor, c: torch.Tensor,
                         t: float) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Exact transport of :math:`N(m_0,\Sigma_0)` by the linear field :math:`u(v)=Bv+c` for a time :math:`t`.

    The continuity equation :math:`\partial_tf+\nabla\cdot(f\,u)=0` moves particles by :math:`\dot X=BX+c`, so
    Gaussians stay Gaussian with

    .. math::

        \dot m &= Bm + c,\qquad \dot\Sigma = B\Sigma+\Sigma B^T
        \quad\Longrightarrow \\
        \Sigma(t) &= e^{tB}\Sigma_0e^{tB^T},\qquad m(t) = e^{tB}m_0 + \int_0^te^{sB}ds\,c ,

    computed with one matrix exponential of the augmented matrix :math:`\begin{pmatrix}B&c\\0&0\end{pmatrix}`.

    Returns:
        ``(mean_t, cov_t)``, dtype/device of ``cov0``.

    Example:
        >>> I = torch.eye(2, dtype=torch.float64); z = torch.zeros(2, dtype=torch.float64)
        >>> m, S = gaussian_linear_flow(z, I, -I, torch.ones(2, dtype=torch.float64), 1.0)
        >>> round(float(S[0, 0]), 6), round(float(m[0]), 6)        # e^{-2}, 1 - e^{-1}
        (0.135335, 0.632121)
    """
    mean0, cov0 = _check_gaussian(mean0, cov0, "mean0", "cov0")
    d = cov0.shape[0]
    B = _check_field(B, "B", (d, d), cov0)
    c = _check_field(c, "c", (d,), cov0)
    t = check_real(t, "t")
    aug = torch.zeros(d + 1, d + 1, dtype=cov0.dtype, device=cov0.device)
    aug[:d, :d] = B
    aug[:d, d] = c
    E = torch.linalg.matrix_exp(t * aug)
    eB = E[:d, :d]
    return eB @ mean0 + E[:d, d], eB @ cov0 @ eB.T


def gaussian_kl_rate(mean_f: torch.Tensor, cov_f: torch.Tensor, B_f: torch.Tensor, c_f: torch.Tensor,
                     mean_g: torch.Tensor, cov_g: torch.Tensor, B_g: torch.Tensor, c_g: torch.Tensor) -> torch.Tensor:
    r"""Closed form of :math:`\int f\,(u_f-u_g)\cdot\nabla\log\frac fg` for :math:`f=N(m_f,\Sigma_f)`, :math:`g=N(m_g,\Sigma_g)`, :math:`u=Bv+c`.

    With :math:`D=B_f-B_g`, :math:`e=c_f-c_g`, :math:`\Phi(v)=Pv+q`, :math:`P=\Sigma_g^{-1}-\Sigma_f^{-1}`,
    :math:`q=\Sigma_f^{-1}m_f-\Sigma_g^{-1}m_g`, and :math:`E_f[vv^T]=\Sigma_f+m_fm_f^T`:

    .. math::

        \int f\,(Dv+e)\cdot(Pv+q) &= \operatorname{tr}\big(D^TP(\Sigma_f+m_fm_f^T)\big) \\
        &\quad + m_f^TD^Tq + e^TPm_f + e^Tq .

    By the KL identity (Lemma 3.3(a) of Ilin (2025)) this equals :math:`\frac{d}{dt}\mathrm{KL}(f_t\Vert g_t)` when
    :math:`f_t, g_t` are moved by the two fields (:func:`gaussian_linear_flow`).

    Example (the same field moves both densities: KL is invariant under the common flow map, rate 0):
        >>> I = torch.eye(2, dtype=torch.float64); z = torch.zeros(2, dtype=torch.float64)
        >>> float(gaussian_kl_rate(z, I, I, z, z, 2 * I, I, z))
        0.0
    """
    mean_f, cov_f = _check_gaussian(mean_f, cov_f, "mean_f", "cov_f")
    d = cov_f.shape[0]
    mean_g, cov_g = _check_gaussian(mean_g, cov_g, "mean_g", "cov_g", like=mean_f)
    D = _check_field(B_f, "B_f", (d, d), cov_f) - _check_field(B_g, "B_g", (d, d), cov_f)
    e = _check_field(c_f, "c_f", (d,), cov_f) - _check_field(c_g, "c_g", (d,), cov_f)
    Sf_inv = torch.linalg.inv(cov_f)
    Sg_inv = torch.linalg.inv(cov_g)
    P = Sg_inv - Sf_inv
    q = Sf_inv @ mean_f - Sg_inv @ mean_g
    second = cov_f + torch.outer(mean_f, mean_f)
    return torch.trace(D.T @ P @ second) + mean_f @ (D.T @ q) + e @ (P @ mean_f) + e @ q
