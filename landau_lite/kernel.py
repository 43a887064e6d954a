r"""The Landau collision kernel.

.. math::

    A(z) = C\,|z|^{\gamma}\,\big(|z|^2 I_d - z\otimes z\big), \qquad -d-1 \le \gamma \le 1 .

:math:`A(z)` is even, symmetric and positive semi-definite, :math:`A(z)z = 0`, and its non-zero
eigenvalue :math:`C|z|^{\gamma+2}` has the eigenspace :math:`z^\perp`. Its divergence (row-wise) is

.. math::

    (\nabla\cdot A)(z) = -(d-1)\,C\,|z|^{\gamma} z .

We never build the :math:`d\times d` matrix in hot loops: :math:`A(z)w = C|z|^\gamma(|z|^2 w - (z\cdot w) z)`.
At :math:`z = 0` every function here returns exactly ``0`` (no :math:`\varepsilon` is added to
:math:`|z|`), which is the value the particle sums need for the :math:`j=i` term.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._checks import check_dim, check_gamma, check_positive, check_tensor

__all__ = ["CollisionKernel", "coulomb", "maxwell", "radial_power"]


def radial_power(r2: torch.Tensor, gamma: float) -> torch.Tensor:
    r"""Return :math:`|z|^\gamma` from :math:`r^2 = |z|^2`, with the value ``0`` where ``r2 == 0``.

    The zero at the origin is what the kernel needs: every use multiplies it by a factor that
    vanishes at least like :math:`|z|^2`, and for the particle sums the :math:`j=i` term is exactly 0.
    The power is taken of ``where(r2 > 0, r2, 1)`` and then masked (the "double where"), so that its gradient
    is finite everywhere: with a single ``where`` the discarded branch :math:`0^{\gamma/2}=\infty` would turn
    the gradient at :math:`z=0` into ``0 * inf = nan``.

    >>> r2 = torch.tensor([0.0, 4.0], dtype=torch.float64, requires_grad=True)
    >>> p = radial_power(r2, -3.0); p.sum().backward()
    >>> p.tolist(), r2.grad.tolist()
    ([0.0, 0.125], [0.0, -0.046875])
    """
    pos = r2 > 0
    safe = torch.where(pos, r2, torch.ones_like(r2))
    if gamma == 0.0:
        return torch.where(pos, torch.ones_like(r2), torch.zeros_like(r2))
    if gamma == -3.0:
        rinv = torch.rsqrt(safe)
        return torch.where(pos, rinv * rinv * rinv, torch.zeros_like(r2))
    return torch.where(pos, safe.pow(0.5 * gamma), torch.zeros_like(r2))


@dataclass(frozen=True)
class CollisionKernel:
    r"""The kernel :math:`A(z) = C|z|^\gamma(|z|^2 I - z\otimes z)` in dimension :math:`d`.

    Args:
        d: velocity dimension, ``d >= 2``.
        gamma: exponent, :math:`-d-1 \le \gamma \le 1` (``-3`` with ``d=3`` is Coulomb, ``0`` Maxwell molecules).
        C: collision constant :math:`C > 0` (multiplying :math:`A` by :math:`C` rescales time by :math:`C`).

    Example:
        >>> k = CollisionKernel(d=3, gamma=-3.0, C=1.0)
        >>> z = torch.tensor([[1.0, 0.0, 0.0]]); w = torch.tensor([[1.0, 2.0, 0.0]])
        >>> k.apply(z, w)   # A(z)w = |z|^{-1} (w - (ẑ·w) ẑ)
        tensor([[0., 2., 0.]])
    """

    d: int
    gamma: float
    C: float = 1.0

    def __post_init__(self) -> None:
        check_dim(self.d)
        object.__setattr__(self, "gamma", check_gamma(self.gamma, self.d))
        object.__setattr__(self, "C", check_positive(self.C, "C"))

    @property
    def regime(self) -> str:
        """``'Maxwell molecules'`` (γ=0), ``'hard'`` (γ>0), ``'moderately soft'`` (−2≤γ<0), ``'very soft'`` (γ<−2)."""
        if self.gamma == 0:
            return "Maxwell molecules"
        if self.gamma > 0:
            return "hard"
        return "moderately soft" if self.gamma >= -2 else "very soft"

    @property
    def is_coulomb(self) -> bool:
        """True for the physical Coulomb case ``d = 3, gamma = -3``."""
        return self.d == 3 and self.gamma == -3.0

    def _check_z(self, z: torch.Tensor, name: str = "z") -> torch.Tensor:
        z = check_tensor(z, name)
        if z.shape[-1] != self.d:
            raise ValueError(f"{name} must have last dimension d = {self.d}, got shape {tuple(z.shape)}")
        return z

    def apply(self, z: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        r""":math:`A(z)w = C|z|^\gamma(|z|^2 w - (z\cdot w)z)` for batches ``(..., d)``."""
        z = self._check_z(z)
        w = self._check_z(w, "w")
        r2 = (z * z).sum(-1, keepdim=True)
        p = radial_power(r2, self.gamma)
        return self.C * p * (r2 * w - (z * w).sum(-1, keepdim=True) * z)

    def matrix(self, z: torch.Tensor) -> torch.Tensor:
        r"""The matrix :math:`A(z)`, shape ``(..., d, d)`` (for small batches and tests only)."""
        z = self._check_z(z)
        r2 = (z * z).sum(-1)
        p = radial_power(r2, self.gamma)[..., None, None]
        eye = torch.eye(self.d, dtype=z.dtype, device=z.device)
        return self.C * p * (r2[..., None, None] * eye - z[..., :, None] * z[..., None, :])

    def div(self, z: torch.Tensor) -> torch.Tensor:
        r"""Row divergence :math:`(\nabla\cdot A)(z) = -(d-1)C|z|^\gamma z`, shape ``(..., d)``."""
        z = self._check_z(z)
        r2 = (z * z).sum(-1, keepdim=True)
        return -(self.d - 1) * self.C * radial_power(r2, self.gamma) * z


def coulomb(C: float = 1.0) -> CollisionKernel:
    """The Coulomb kernel: ``d = 3``, ``gamma = -3``."""
    return CollisionKernel(d=3, gamma=-3.0, C=C)


def maxwell(d: int = 3, C: float = 1.0) -> CollisionKernel:
    """Maxwell molecules: ``gamma = 0`` (A is a quadratic polynomial in z)."""
    return CollisionKernel(d=d, gamma=0.0, C=C)
