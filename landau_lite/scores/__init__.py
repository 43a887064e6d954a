r"""Score methods: how a particle solver gets :math:`s\approx\nabla\log f_t` at the particles.

* :class:`ExactScore` — the problem's known score :math:`\nabla\log f(v,t)` (reference runs).
* :class:`BlobScore` — the regularised-entropy blob score of Carrillo, Hu, Wang and Wu (2020).
* :class:`NeuralScore` — score-based transport modelling (SBTM; Boffi and Vanden-Eijnden 2023; Ilin, Hu and Wang 2025): an MLP fitted to the
  initial score, then warm-started and trained by score matching at every time step.

All share the :class:`ScoreMethod` interface that the solver calls:
``initialize(x0, t0, problem)`` once, ``update(x, t) -> s`` every step, and ``__call__(v)`` to evaluate the
current score model at arbitrary points. :func:`make_score` builds one by name.
"""

from __future__ import annotations

from typing import Any

from .._checks import check_choice
from .base import ScoreMethod, _problem_dim
from .blob import BLOB_BACKENDS, BlobScore, blob_bandwidth, blob_score
from .exact import ExactScore
from .neural import COMPILE_MIN_N, NeuralScore

__all__ = [
    "ScoreMethod",
    "ExactScore",
    "BlobScore",
    "NeuralScore",
    "make_score",
    "blob_bandwidth",
    "blob_score",
    "SCORE_METHODS",
    "BLOB_BACKENDS",
    "COMPILE_MIN_N",
]

#: names accepted by :func:`make_score`
SCORE_METHODS = ("exact", "blob", "sbtm", "neural")


# ----------------------------------------------------------------------------------------------------
# factory
# ----------------------------------------------------------------------------------------------------
def make_score(name: str, problem: Any = None, **kw: Any) -> ScoreMethod:
    r"""Build a score method by name: ``"exact"`` (needs ``problem``), ``"blob"``, ``"sbtm"``/``"neural"``.

    For ``"sbtm"`` the dimension ``d`` defaults to ``problem.d``. Extra keywords go to the constructor.

    >>> make_score("blob", epsilon=0.3)
    BlobScore(epsilon=0.3)
    >>> make_score("sbtm", d=3, width=32).width
    32
    """
    check_choice(name, "name", SCORE_METHODS)
    if name == "exact":
        if kw:
            raise TypeError(f"make_score('exact') takes no keyword arguments, got {sorted(kw)}")
        return ExactScore(problem)
    if name == "blob":
        return BlobScore(**kw)
    if "d" not in kw:
        d = _problem_dim(problem)
        if d is None:
            raise TypeError("make_score('sbtm') needs d=... or a problem with an integer attribute .d")
        kw["d"] = d
    return NeuralScore(**kw)
