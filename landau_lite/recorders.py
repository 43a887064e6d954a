r"""Recorders: what :func:`landau_lite.solver.simulate` writes into a :class:`~landau_lite.run.Run` at recorded times.

At every recorded time :math:`t` the solver builds a :class:`RecordState` (particles :math:`X`, scores
:math:`s`, velocities :math:`U`, the exact score where the problem knows it, the per-step losses, the wall
clock) and asks every :class:`Recorder` for its values; the record is appended to the run whole
(:meth:`~landau_lite.run.Run.append_record`) once every recorder has answered.

The default set (:func:`default_recorders`) gives the run's standard diagnostics, in this order:

* :class:`MomentsRecorder` — ``mean`` :math:`\frac1N\sum_iX_i`, ``cov`` (population), ``energy``
  :math:`\frac1N\sum_i|X_i|^2`, ``m4`` :math:`\frac1N\sum_i|X_i|^4`;
* :class:`EntropyRateRecorder` — ``entropy_rate`` :math:`\frac1N\sum_i s_i\cdot U_i`;
* :class:`ScoreLossRecorder` — ``score_loss``, the last training loss of the score method (or ``None``);
* :class:`ScoreErrorRecorder` — ``fisher_error`` :math:`\sum_i|s_i-s^*_i|^2/\sum_i|s^*_i|^2` and
  ``weighted_score_error`` :math:`\hat{\mathcal L}_t` (``None`` without an exact score :math:`s^*`);
* :class:`WallRecorder` — ``wall``, seconds since the start of the run;
* :class:`ReferenceRecorder` — the problem's exact ``mean``, ``cov``, ``energy``, ``m4`` at :math:`t`
  (stored in ``run.reference``, not in ``run.diagnostics``).

A custom recorder subclasses :class:`Recorder`, names its ``keys`` and returns one plain value (number,
list, ``None``) per key; pass ``recorders=default_recorders() + [MyRecorder()]`` to ``simulate``.

Example:
    >>> class MaxSpeed(Recorder):
    ...     keys = ("max_speed",)
    ...     def record(self, state):
    ...         return {"max_speed": float(state.x.norm(dim=1).max())}
    >>> from landau_lite.solver import simulate
    >>> run = simulate("maxwellian", "exact", n=50, dt=0.1, t_end=0.2, progress=False,
    ...                recorders=default_recorders() + [MaxSpeed()])
    >>> len(run.diagnostics["max_speed"]) == len(run.times) == 3
    True
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from .diagnostics import entropy_production_rate, moments, relative_fisher_error
from .run import REFERENCE_KEYS, to_plain

if TYPE_CHECKING:  # pragma: no cover
    from .problems import Problem
    from .scores import ScoreMethod

__all__ = ["RecordState", "Recorder", "MomentsRecorder", "EntropyRateRecorder", "ScoreLossRecorder",
           "ScoreErrorRecorder", "WallRecorder", "ReferenceRecorder", "default_recorders"]


@dataclass(frozen=True)
class RecordState:
    """What a recorder sees at a recorded time (all tensors on the run's device; finite).

    Attributes:
        step: index of the grid point (0 at ``t0``); t: its time.
        x, s, U: particles, score values and velocities, each ``(N, d)``.
        problem, score: the run's problem and score method.
        score_loss: last training loss of the score method (``None`` if it does not train).
        exact_score: :math:`\\nabla\\log f(t, X_i)` when the problem knows it at every time, else ``None``
            (it may hold NaN/inf where the exact score is singular).
        weighted_loss: the weighted pair loss :math:`\\hat{\\mathcal L}_t` of this step (``None`` without an
            exact score, NaN where the exact score is not finite).
        wall: seconds since the start of the run.
    """

    step: int
    t: float
    x: torch.Tensor
    s: torch.Tensor
    U: torch.Tensor
    problem: "Problem"
    score: "ScoreMethod"
    score_loss: float | None
    exact_score: torch.Tensor | None
    weighted_loss: float | None
    wall: float


class Recorder(ABC):
    """Computes named values at recorded times.

    Attributes:
        keys: the names of the values :meth:`record` returns (distinct across the recorders of a run, and
            not a top-level field of the saved run such as ``'t'`` or ``'status'``).
        section: ``'diagnostics'`` (default: ``run.diagnostics[key]``) or ``'reference'`` (exact values,
            ``run.reference[key]``, keys among ``'mean', 'cov', 'energy', 'm4'``; ``None`` where unknown).
    """

    keys: tuple[str, ...] = ()
    section: str = "diagnostics"

    @abstractmethod
    def record(self, state: RecordState) -> dict[str, Any]:
        """One plain value (float, nested list, ``None``) per key of :attr:`keys`."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MomentsRecorder(Recorder):
    """``mean``, ``cov``, ``energy``, ``m4`` of the particles (:func:`landau_lite.diagnostics.moments`)."""

    keys = ("mean", "cov", "energy", "m4")

    def record(self, state: RecordState) -> dict[str, Any]:
        m = moments(state.x)
        return {key: to_plain(m[key]) for key in self.keys}


class EntropyRateRecorder(Recorder):
    r"""``entropy_rate`` :math:`\frac1N\sum_i s_i\cdot U_i`
    (:func:`landau_lite.diagnostics.entropy_production_rate`)."""

    keys = ("entropy_rate",)

    def record(self, state: RecordState) -> dict[str, Any]:
        return {"entropy_rate": float(entropy_production_rate(state.s, state.U))}


class ScoreLossRecorder(Recorder):
    """``score_loss``: the last training loss of the score method (``None`` for methods that do not train)."""

    keys = ("score_loss",)

    def record(self, state: RecordState) -> dict[str, Any]:
        return {"score_loss": state.score_loss}


class ScoreErrorRecorder(Recorder):
    r"""``fisher_error`` (relative Fisher error against the exact score) and ``weighted_score_error``
    (:math:`\hat{\mathcal L}_t`); both ``None`` without an exact score, ``fisher_error`` also where the exact
    score is not finite or vanishes."""

    keys = ("fisher_error", "weighted_score_error")

    def record(self, state: RecordState) -> dict[str, Any]:
        s_ex = state.exact_score
        fisher = None
        if s_ex is not None and bool(torch.isfinite(s_ex).all()) and bool((s_ex * s_ex).sum() > 0):
            fisher = float(relative_fisher_error(state.s, s_ex))
        return {"fisher_error": fisher, "weighted_score_error": state.weighted_loss}


class WallRecorder(Recorder):
    """``wall``: seconds since the start of the run."""

    keys = ("wall",)

    def record(self, state: RecordState) -> dict[str, Any]:
        return {"wall": state.wall}


class ReferenceRecorder(Recorder):
    """The problem's exact moments at the recorded time (:meth:`~landau_lite.problems.Problem.reference`)."""

    keys = REFERENCE_KEYS
    section = "reference"

    def record(self, state: RecordState) -> dict[str, Any]:
        ref = state.problem.reference(state.t)
        if ref is None:
            return {key: None for key in self.keys}
        return {key: to_plain(ref.get(key)) for key in self.keys}


def default_recorders() -> list[Recorder]:
    """The recorders of a standard run, in the order of :data:`landau_lite.run.DIAGNOSTIC_KEYS`, then the reference.

    Example:
        >>> [k for r in default_recorders() if r.section == "diagnostics" for k in r.keys]
        ['mean', 'cov', 'energy', 'm4', 'entropy_rate', 'score_loss', 'fisher_error', 'weighted_score_error', 'wall']
    """
    return [MomentsRecorder(), EntropyRateRecorder(), ScoreLossRecorder(), ScoreErrorRecorder(), WallRecorder(),
            ReferenceRecorder()]
