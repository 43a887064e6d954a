r"""The exact score of a problem with a known solution (reference runs)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .._checks import check_real
from ..problems import Problem
from .base import ScoreMethod, _check_problem, _check_state, _problem_dim

__all__ = ["ExactScore"]


# ----------------------------------------------------------------------------------------------------
# exact
# ----------------------------------------------------------------------------------------------------
class ExactScore(ScoreMethod):
    r"""The exact score :math:`s(v)=\nabla_v\log f(v,t)` of a problem with a known solution.

    ``update(x, t)`` returns ``problem.score(x, t)``; ``__call__(v)`` evaluates it at the last ``t``.

    Example
    -------
    >>> class Gauss:  # any object with .score(v, t) works
    ...     d = 2
    ...     def score(self, v, t): return -v
    >>> sc = ExactScore(Gauss())
    >>> sc.initialize(torch.zeros(4, 2), 0.0)
    >>> sc(torch.ones(1, 2))
    tensor([[-1., -1.]])
    """

    name = "exact"

    def __init__(self, problem: Any) -> None:
        super().__init__()
        self.problem = _check_problem(problem)
        self.d = _problem_dim(problem)
        self.t: float | None = None

    def initialize(self, x0: Tensor, t0: float, problem: Any = None) -> None:
        """Record the start time ``t0`` (and switch to ``problem`` if one is given)."""
        if problem is not None:
            self.problem = _check_problem(problem)
            self.d = _problem_dim(problem)
        _check_state(x0, "x0", self.d)
        self.t = check_real(t0, "t0")

    def update(self, x: Tensor, t: float) -> Tensor:
        r"""Return :math:`\nabla\log f(x,t)` from the problem, shape ``(N, d)``."""
        _check_state(x, "x", self.d, finite=self.check_inputs)
        self.t = check_real(t, "t")
        if isinstance(self.problem, Problem):
            return self.problem.score(x, self.t, check=self.check_inputs)
        return self.problem.score(x, self.t)

    def __call__(self, v: Tensor) -> Tensor:
        """Exact score at ``v`` (M, d) at the time of the last ``initialize``/``update``."""
        if self.t is None:
            raise RuntimeError("ExactScore: call initialize() or update() before evaluating the score")
        _check_state(v, "v", self.d)
        return self.problem.score(v, self.t)

    def __repr__(self) -> str:
        return f"ExactScore({type(self.problem).__name__})"
