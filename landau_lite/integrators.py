r"""Time integrators for the particle Landau equation :math:`\dot X_i = U_i[s]`.

* **forward Euler** (:func:`euler_step`): :math:`X^{k+1} = X^k + \Delta t\,U(X^k, s^k)`. Momentum
  :math:`\sum_i X_i` is conserved to round-off (:math:`\sum_i U_i = 0`), and the energy :math:`\sum_i|X_i|^2` grows by
  exactly :math:`\Delta t^2\sum_i|U_i|^2` per step (because :math:`\sum_i X_i\cdot U_i = 0`).
* **Heun** (explicit trapezoidal rule, :func:`heun_step`), second order; the score is updated twice per step,
  so a neural score (SBTM) is trained twice per step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ._checks import check_positive, check_real
from .velocity import velocity

if TYPE_CHECKING:  # pragma: no cover
    from .scores import ScoreMethod

__all__ = ["euler_step", "heun_step", "METHODS"]

METHODS = ("euler", "heun")


def euler_step(x: torch.Tensor, s: torch.Tensor, dt: float, *, gamma: float, C: float,
               backend: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    r"""One forward-Euler step :math:`X^{k+1} = X^k + \Delta t\,U(X^k, s)`.

    .. math:: U_i = -\frac{C}{N}\sum_j A(x_i - x_j)(s_i - s_j).

    Args:
        x: particles, shape ``(N, d)``, float32/float64.
        s: score values at the particles, same shape/dtype/device.
        dt: time step, ``> 0``.
        gamma: kernel exponent; C: collision constant ``> 0``; backend: see :func:`landau_lite.velocity.velocity`.

    Returns:
        ``(x_new, U)``: the new particles and the velocity used (dtype and device of ``x``).

    Example:
        >>> x = torch.randn(100, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        >>> x1, U = euler_step(x, -x, 0.01, gamma=0.0, C=1.0)
        >>> float((x1.sum(0) - x.sum(0)).abs().max()) < 1e-12     # momentum is conserved
        True
    """
    dt = check_positive(dt, "dt")
    U = velocity(x, s, gamma=gamma, C=C, backend=backend)
    return x + dt * U, U


def heun_step(x: torch.Tensor, score: "ScoreMethod", t: float, dt: float, *, gamma: float, C: float,
              backend: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    r"""One Heun (explicit trapezoidal) step, second order in :math:`\Delta t`:

    .. math::

        U^{(1)} = U(X^k, s(X^k, t)),\quad \tilde X = X^k + \Delta t\,U^{(1)},\quad
        U^{(2)} = U(\tilde X, s(\tilde X, t + \Delta t)),\quad
        X^{k+1} = X^k + \tfrac{\Delta t}{2}\big(U^{(1)} + U^{(2)}\big).

    The score is obtained with ``score.update(x, t)`` (predictor) and ``score.update(x_pred, t + dt)``
    (corrector). **A neural score (SBTM) is therefore trained twice per step**, once on each set of
    particles.

    Args:
        x: particles ``(N, d)``; score: a :class:`~landau_lite.scores.ScoreMethod` (already initialized);
        t: current time; dt: step ``> 0``; gamma, C, backend: as in :func:`euler_step`.

    Returns:
        ``(x_new, U)`` with :math:`U = (U^{(1)} + U^{(2)})/2`, the velocity actually applied.

    Example:
        >>> from landau_lite.scores import make_score
        >>> from landau_lite.problems import get_problem
        >>> p = get_problem("maxwellian")
        >>> x = p.sample(200, generator=torch.Generator().manual_seed(0), dtype=torch.float64, device="cpu")
        >>> sc = make_score("exact", problem=p); sc.initialize(x, p.t0, p)
        >>> x1, U = heun_step(x, sc, p.t0, 0.01, gamma=p.gamma, C=p.C)
        >>> x1.shape == x.shape
        True
    """
    dt = check_positive(dt, "dt")
    t = check_real(t, "t")
    s1 = score.update(x, t)
    U1 = velocity(x, s1, gamma=gamma, C=C, backend=backend)
    x_pred = x + dt * U1
    s2 = score.update(x_pred, t + dt)
    U2 = velocity(x_pred, s2, gamma=gamma, C=C, backend=backend)
    U = 0.5 * (U1 + U2)
    return x + dt * U, U
