r"""Time integrators for the particle Landau equation :math:`\dot X_i = U_i[s]`.

The right-hand side is the Landau velocity of a score field :math:`s\approx\nabla\log f_t`,

.. math::

    U_i = -\frac{1}{N}\sum_{j=1}^N A(X_i - X_j)\big(s(X_i) - s(X_j)\big),
    \qquad A(z) = C|z|^\gamma\big(|z|^2 I - z\otimes z\big),

evaluated by a :class:`Drift` (score method + :func:`~landau_lite.velocity.velocity`). An
:class:`Integrator` advances the particles by one step :math:`h` with :meth:`Integrator.step`, given the
drift already evaluated at :math:`(X^k, t_k)` (the solver records diagnostics from that evaluation):

* :class:`Euler` (forward Euler): :math:`X^{k+1} = X^k + h\,U(X^k, s^k)`. Momentum :math:`\sum_i X_i` is
  conserved to round-off (:math:`\sum_i U_i = 0`), and the energy :math:`\sum_i|X_i|^2` grows by exactly
  :math:`h^2\sum_i|U_i|^2` per step (because :math:`\sum_i X_i\cdot U_i = 0`).
* :class:`Heun` (explicit trapezoidal rule), second order:

  .. math::

      \tilde X &= X^k + h\,U(X^k, s(X^k, t_k)), \\
      X^{k+1} &= X^k + \tfrac{h}{2}\big(U(X^k, s(X^k,t_k)) + U(\tilde X, s(\tilde X, t_{k+1}))\big).

  The energy error per step is :math:`\tfrac{h^2}{4}\sum_i|U_i^{(1)} - U_i^{(2)}|^2 = O(h^4)`. The score is
  updated twice per step (at :math:`X^k` and at :math:`\tilde X`), so a **neural score (SBTM) is trained
  twice per step** under Heun, and the corrector's training moves the network.

:func:`euler_step` and :func:`heun_step` are the one-step functions on plain tensors.

**Finite values without host synchronisation.** A :class:`FiniteGuard` keeps, on the device, the first
(step, quantity) at which a score, velocity or particle array held NaN/inf (:func:`all_finite`: one
min/max reduction per array); the :class:`Drift`, the integrators and the solver report every array to it.
Scores and predictor particles are returned with non-finite entries replaced by 0, so that the next
evaluation (which validates its input) does not raise, and the solver freezes the particles at the last
finite state. Reading the flag (:meth:`FiniteGuard.first_failure`) is the only synchronisation, done when
the solver records.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist

from ._checks import check_choice, check_positive, check_real
from .distributed import is_distributed
from .velocity import VelocityField, velocity

if TYPE_CHECKING:  # pragma: no cover
    from .scores import ScoreMethod

__all__ = ["all_finite", "FiniteGuard", "Drift", "Integrator", "Euler", "Heun", "INTEGRATORS", "METHODS",
           "make_integrator", "euler_step", "heun_step"]


# ----------------------------------------------------------------------------------------------
# device-side finite monitoring
# ----------------------------------------------------------------------------------------------

def all_finite(x: torch.Tensor) -> torch.Tensor:
    r"""0-dim bool tensor, true when every entry of ``x`` is finite (no host synchronisation).

    Computed from one min/max reduction (NaN and :math:`\pm\infty` propagate through it):
    :math:`\min x > -\infty` and :math:`\max x < \infty`, both false for NaN. This is several times faster on
    the CPU than ``torch.isfinite(x).all()`` and exact (no overflow as with a sum).

    Example:
        >>> bool(all_finite(torch.ones(3))), bool(all_finite(torch.tensor([1.0, float("nan")])))
        (True, False)
        >>> big = torch.tensor([1e308, 1e308], dtype=torch.float64)          # its sum would overflow
        >>> bool(all_finite(torch.tensor([-float("inf"), 0.0]))), bool(all_finite(big))
        (False, True)
    """
    lo, hi = torch.aminmax(x)
    return torch.logical_and(lo > -math.inf, hi < math.inf)


class FiniteGuard:
    """Device-side record of the first non-finite array, read only on request.

    :meth:`check` reports an array under a quantity name at the current step (:meth:`at_step`): it queues a
    finiteness test on the device (:func:`all_finite`), keeps the number of the first failing check in a 0-dim
    int64 tensor (``torch.minimum``/``torch.where``: no ``.item()``, no host-device synchronisation) and
    returns the array with NaN/inf entries replaced by 0 (``sanitize=True``) so that later calls that
    validate their input do not raise. :attr:`ok` is a 0-dim bool tensor, true while nothing has failed;
    :meth:`first_failure` reads the flag (one synchronisation) and returns ``(step, quantity)`` or ``None``.

    Example:
        >>> g = FiniteGuard(torch.device("cpu"))
        >>> g.at_step(0); _ = g.check(torch.ones(3), "velocity")
        >>> g.at_step(1); y = g.check(torch.tensor([1.0, float("nan")]), "score")
        >>> g.at_step(2); _ = g.check(torch.tensor([float("inf")]), "particles")
        >>> y.tolist(), g.first_failure(), bool(g.ok)
        ([1.0, 0.0], (1, 'score'), False)
    """

    _NONE = 2**62

    def __init__(self, device: torch.device, process_group: object = None) -> None:
        self._first = torch.full((), self._NONE, dtype=torch.int64, device=device)
        self._group = process_group                  # a distributed run agrees on the first failure of any rank
        self._labels: list[tuple[int, str]] = []     # (step, quantity) of the checks since the last clean read
        self._offset = 0                             # number of checks before those
        self._step = 0

    def at_step(self, k: int) -> None:
        """Set the step index attached to the next checks."""
        self._step = int(k)

    def check(self, x: torch.Tensor, quantity: str, *, sanitize: bool = True) -> torch.Tensor:
        """Report ``x`` under ``quantity``; return ``x`` (with NaN/inf entries replaced by 0 if ``sanitize``)."""
        number = self._offset + len(self._labels)
        self._labels.append((self._step, quantity))
        self._first = torch.minimum(self._first, torch.where(all_finite(x), self._NONE, number))
        return torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0) if sanitize else x

    @property
    def ok(self) -> torch.Tensor:
        """True while no check has failed (a 0-dim bool tensor, on the device)."""
        return self._first == self._NONE

    def first_failure(self) -> tuple[int, str] | None:
        """``(step, quantity)`` of the first non-finite array, or ``None`` (reads the device flag)."""
        if is_distributed(self._group):
            dist.all_reduce(self._first, op=dist.ReduceOp.MIN, group=self._group)
        number = int(self._first)
        if number == self._NONE:
            self._offset += len(self._labels)
            self._labels.clear()
            return None
        return self._labels[number - self._offset]


# ----------------------------------------------------------------------------------------------
# the right-hand side
# ----------------------------------------------------------------------------------------------

class Drift:
    r"""The right-hand side of :math:`\dot X = U[s]`: ``drift(x, t) -> (s, U)``.

    ``s = score.update(x, t)`` (the score method refreshes itself at the particles) and
    :math:`U = U[x, s]` from a :class:`~landau_lite.velocity.VelocityField` with the kernel ``(gamma, C)`` (no
    host read per call).

    With a :class:`FiniteGuard`, ``s`` and ``U`` are reported to it as ``"score"``/``"velocity"`` (with
    ``" (STAGE)"`` appended for a named stage), and the non-finite entries of ``s`` are replaced by 0 so
    that the velocity evaluation, which validates its input, does not raise.

    Example:
        >>> from landau_lite.problems import get_problem
        >>> from landau_lite.scores import make_score
        >>> p = get_problem("maxwellian")
        >>> x = p.sample(100, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        >>> sc = make_score("exact", problem=p); sc.initialize(x, p.t0, p)
        >>> s, U = Drift(sc, gamma=p.gamma, C=p.C)(x, p.t0)
        >>> float(U.abs().max()) < 1e-14          # a Maxwellian is stationary: U = 0
        True
    """

    def __init__(self, score: "ScoreMethod", *, gamma: float, C: float, backend: str = "auto",
                 guard: FiniteGuard | None = None, process_group: object = None) -> None:
        self.score = score
        self.gamma = float(gamma)
        self.C = float(C)
        self.backend = backend
        self.guard = guard
        self.process_group = process_group
        self._fields: dict[int, VelocityField] = {}

    def field(self, d: int) -> VelocityField:
        """The :class:`~landau_lite.velocity.VelocityField` of this kernel in dimension ``d`` (built once)."""
        if d not in self._fields:
            self._fields[d] = VelocityField(d, self.gamma, self.C, backend=self.backend,
                                            process_group=self.process_group)
        return self._fields[d]

    def __call__(self, x: torch.Tensor, t: float, *, stage: str = "") -> tuple[torch.Tensor, torch.Tensor]:
        """Score and velocity at particles ``x`` and time ``t``; ``stage`` names an integrator stage."""
        suffix = f" ({stage})" if stage else ""
        s = self.score.update(x, t)
        if s.shape != x.shape or s.dtype != x.dtype or s.device != x.device:
            raise ValueError(f"{type(self.score).__name__}.update returned a score of shape {tuple(s.shape)}, "
                             f"{s.dtype} on {s.device}; expected {tuple(x.shape)}, {x.dtype} on {x.device}")
        if self.guard is not None:
            s = self.guard.check(s, "score" + suffix)
        U = self.field(x.shape[1])(x, s)
        if self.guard is not None:     # U only enters sums whose result is checked again: no need to sanitise
            U = self.guard.check(U, "velocity" + suffix, sanitize=False)
        return s, U


# ----------------------------------------------------------------------------------------------
# integrators
# ----------------------------------------------------------------------------------------------

class Integrator(ABC):
    """One time step of :math:`\\dot X = U[s]`, given the drift already evaluated at the current state.

    Attributes:
        name: ``'euler'``, ``'heun'``, ...
        drift_evaluations: score updates (and velocity evaluations) per step, counting the one at
            :math:`(X^k, t_k)` that the caller makes.
    """

    name: str = "integrator"
    drift_evaluations: int = 1

    @abstractmethod
    def step(self, x: torch.Tensor, t: float, h: float, s: torch.Tensor, U: torch.Tensor,
             drift: Drift) -> tuple[torch.Tensor, torch.Tensor]:
        """Advance ``x`` at time ``t`` by ``h``, given ``(s, U) = drift(x, t)``.

        Returns ``(x_new, U_applied)``: :math:`X^{k+1}` and the velocity actually applied,
        :math:`(X^{k+1} - X^k)/h` up to rounding.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Euler(Integrator):
    r"""Forward Euler, :math:`X^{k+1} = X^k + h\,U^k` (first order, one score update per step).

    Example:
        >>> x = torch.zeros(2, 2); U = torch.ones(2, 2)
        >>> Euler().step(x, 0.0, 0.5, -x, U, drift=None)[0].tolist()
        [[0.5, 0.5], [0.5, 0.5]]
    """

    name = "euler"
    drift_evaluations = 1

    def step(self, x, t, h, s, U, drift):
        return x + h * U, U


class Heun(Integrator):
    r"""Heun's method (explicit trapezoidal rule), second order:
    :math:`\tilde X = X^k + hU^k`, :math:`X^{k+1} = X^k + \frac h2\big(U^k + U[\tilde X, s(\tilde X, t_k+h)]\big)`.

    The corrector calls ``drift(x_pred, t + h)``: **a neural score is trained twice per step**. The predictor
    particles are reported to the drift's guard as ``"particles (Heun predictor)"``, the corrector's score
    and velocity as ``"score (Heun corrector)"`` and ``"velocity (Heun corrector)"``.
    """

    name = "heun"
    drift_evaluations = 2

    def step(self, x, t, h, s, U, drift):
        x_pred = x + h * U
        if drift.guard is not None:
            x_pred = drift.guard.check(x_pred, "particles (Heun predictor)")
        _, U2 = drift(x_pred, t + h, stage="Heun corrector")
        return x + (0.5 * h) * (U + U2), 0.5 * (U + U2)


#: integrators by name
INTEGRATORS: dict[str, type[Integrator]] = {"euler": Euler, "heun": Heun}

#: names accepted by :func:`make_integrator` (and ``simulate(method=...)``)
METHODS = tuple(INTEGRATORS)


def make_integrator(method: str) -> Integrator:
    """The integrator called ``method`` (``'euler'`` or ``'heun'``).

    Example:
        >>> make_integrator("heun").drift_evaluations
        2
    """
    return INTEGRATORS[check_choice(method, "method", METHODS)]()


# ----------------------------------------------------------------------------------------------
# one-step functions on tensors
# ----------------------------------------------------------------------------------------------

def euler_step(x: torch.Tensor, s: torch.Tensor, dt: float, *, gamma: float, C: float,
               backend: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    r"""One forward-Euler step :math:`X^{k+1} = X^k + \Delta t\,U(X^k, s)`.

    .. math::

        U_i = -\frac{1}{N}\sum_j A(x_i - x_j)(s_i - s_j).

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
    return Euler().step(x, 0.0, dt, s, U, drift=None)


def heun_step(x: torch.Tensor, score: "ScoreMethod", t: float, dt: float, *, gamma: float, C: float,
              backend: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    r"""One Heun (explicit trapezoidal) step, second order in :math:`\Delta t`:

    .. math::

        U^{(1)} &= U(X^k, s(X^k, t)),\qquad \tilde X = X^k + \Delta t\,U^{(1)}, \\
        U^{(2)} &= U(\tilde X, s(\tilde X, t + \Delta t)), \\
        X^{k+1} &= X^k + \tfrac{\Delta t}{2}\big(U^{(1)} + U^{(2)}\big).

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
    drift = Drift(score, gamma=gamma, C=C, backend=backend)
    s1, U1 = drift(x, t)
    return Heun().step(x, t, dt, s1, U1, drift)
