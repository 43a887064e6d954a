r"""The score-method interface shared by the particle solver, and the validation helpers of the methods."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import Tensor

from .._checks import check_finite_tensor

__all__ = ["ScoreMethod"]


# ----------------------------------------------------------------------------------------------------
# validation helpers shared by the score methods
# ----------------------------------------------------------------------------------------------------
def _check_problem(problem: object, name: str = "problem") -> Any:
    if problem is None or not callable(getattr(problem, "score", None)):
        raise TypeError(f"{name} must be a Problem with a .score(v, t) method, got {type(problem).__name__}")
    return problem


def _check_state(x: object, name: str, d: int | None, dtype: torch.dtype | None = None,
                 device: torch.device | None = None, *, finite: bool = True) -> Tensor:
    """Particles for update(): (N, d) float tensor, matching dtype/device, finite (``finite=False``: no host read).

    Mismatches -> ValueError."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"{name} must have dtype float32 or float64, got {x.dtype}")
    if x.ndim != 2 or x.shape[0] < 1 or (d is not None and x.shape[1] != d):
        want = f"(N, {d})" if d is not None else "(N, d)"
        raise ValueError(f"{name} must have shape {want} with N >= 1, got shape {tuple(x.shape)}")
    if d is None and x.shape[1] < 2:
        raise ValueError(f"{name} must have dimension d >= 2, got d = {x.shape[1]}")
    if dtype is not None and x.dtype != dtype:
        raise ValueError(f"{name} must have dtype {dtype} (the score model's dtype), got {x.dtype}")
    if device is not None and x.device != device:
        raise ValueError(f"{name} must be on device {device} (the score model's device), got {x.device}")
    if finite:
        check_finite_tensor(x, name)
    return x


def _problem_dim(problem: Any) -> int | None:
    d = getattr(problem, "d", None)
    return int(d) if isinstance(d, int) else None


# ----------------------------------------------------------------------------------------------------
# interface
# ----------------------------------------------------------------------------------------------------
class ScoreMethod(ABC):
    r"""Interface of a score method :math:`s_t\approx\nabla\log f_t` used by the particle solver.

    Attributes
    ----------
    name : str
        Short name (``"exact"``, ``"blob"``, ``"sbtm"``).
    last_loss : float or None
        Training loss of the last :meth:`update` (None for methods that do not train).
    history : list of dict
        Per-update log, e.g. ``{"t": ..., "loss": ..., "steps": ..., "phase": "update"}``.
    check_inputs : bool
        ``True`` (default): :meth:`update` refuses non-finite particles with a ``ValueError``, which reads a value back
        from the device. :func:`landau_lite.simulate` sets it to ``False`` for the duration of a run, because it
        checks the particles, scores and velocities on the device and reads the verdict only at record times.
    """

    name: str = "score"
    check_inputs: bool = True
    #: ``torch.distributed`` group of a distributed run (``None``: one process). :func:`landau_lite.simulate` sets it
    #: for the duration of a run with ``process_group``: the particles passed to :meth:`update` are then this rank's
    #: shard; the blob score sums over every rank's particles, a neural score trains data-parallel.
    process_group: Any = None

    def __init__(self) -> None:
        self.last_loss: float | None = None
        self.history: list[dict] = []

    def pending_loss(self) -> float | Tensor | None:
        """The loss of the last :meth:`update` as it is held: a float, ``None``, or a 0-dim tensor on the device
        that nobody has read yet. The solver keeps it until its next synchronisation instead of waiting for the
        device at every step; :attr:`last_loss` is the same value as a float."""
        return self.last_loss

    @abstractmethod
    def initialize(self, x0: Tensor, t0: float, problem: Any = None) -> None:
        """Prepare the method for a run that starts from particles ``x0`` (N, d) at time ``t0``."""

    @abstractmethod
    def update(self, x: Tensor, t: float) -> Tensor:
        """Refresh the score model for particles ``x`` (N, d) at time ``t``; return ``s`` at ``x`` (N, d)."""

    @abstractmethod
    def __call__(self, v: Tensor) -> Tensor:
        """Evaluate the current score model at points ``v`` (M, d); returns (M, d)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
