r"""The :class:`Run` record of a simulation (save/load), and :class:`NonFiniteError`."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = ["Run", "NonFiniteError", "DIAGNOSTIC_KEYS", "STEP_KEYS"]

#: Diagnostics recorded at every recorded time (see :class:`Run`).
DIAGNOSTIC_KEYS = ("mean", "cov", "energy", "m4", "entropy_rate", "score_loss", "fisher_error",
                   "weighted_score_error", "wall")

#: Per-step arrays (one entry per time-grid point visited).
STEP_KEYS = ("step_t", "step_weighted_loss", "step_score_loss")

_PARAM_KEYS = ("problem", "score", "n", "dt", "t0", "t_end", "method", "seed", "dtype", "device",
               "gamma", "C", "d", "record_every", "backend")

_FORMAT = "landau_lite.Run/1"


def _to_plain(v: Any) -> Any:
    """Tensors/NumPy values → Python floats/lists (JSON- and ``weights_only``-friendly)."""
    if isinstance(v, torch.Tensor):
        v = v.detach().cpu()
        return v.item() if v.ndim == 0 else v.tolist()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


@dataclass(repr=False)
class Run:
    r"""Everything a simulation computed.

    Parameters of the run: ``problem, score, n, dt, t0, t_end, method, seed, dtype, device, gamma, C, d``
    (plus ``record_every`` and ``backend``).

    Results:

    * ``times``: the recorded times.
    * ``diagnostics[key]``: one entry per recorded time, for ``key`` in :data:`DIAGNOSTIC_KEYS`:
      ``'mean'`` (list of d floats), ``'cov'`` (d×d nested list), ``'energy'`` (:math:`\frac1N\sum|X_i|^2`),
      ``'m4'`` (:math:`\frac1N\sum|X_i|^4`), ``'entropy_rate'`` (:math:`\frac1N\sum_i s_i\cdot U_i`),
      ``'score_loss'`` (last training loss of the score method, or ``None``), ``'fisher_error'``
      (relative Fisher error against the exact score, ``None`` if the problem has none),
      ``'weighted_score_error'`` (:math:`\hat{\mathcal L}_t`, see :func:`landau_lite.diagnostics.pair_weighted_loss`; ``None``
      without an exact score), ``'wall'`` (seconds since the start of the run).
    * ``reference``: exact ``'mean','cov','energy','m4'`` at the recorded times, for the keys the problem
      knows at some recorded time (``None`` entries where unknown, e.g. the covariance of a Coulomb problem
      after ``t0``); ``None`` if the problem has no reference at all.
    * ``step_t``, ``step_weighted_loss``, ``step_score_loss``: one entry per time-grid point visited
      (every step, plus the final time), for integrating :math:`\int\hat{\mathcal L}_t\,dt`.
    * ``snapshots``: ``{requested time: particles (CPU tensor)}``; ``x_final``: last particles (CPU).
    * ``steps``: number of completed time steps; ``wall_time``: total seconds;
      ``status``: ``'completed'``, ``'stopped: non-finite ... at step k, t=...'``, ``'interrupted ...'``
      or ``'stopped by callback ...'``.

    Save with :meth:`save` (``.json``: parameters and time series; ``.pt``: everything) and load with
    :meth:`load`.
    """

    problem: str
    score: str
    n: int
    dt: float
    t0: float
    t_end: float
    method: str
    seed: int
    dtype: str
    device: str
    gamma: float
    C: float
    d: int
    record_every: int | float = 1
    backend: str = "auto"
    times: list[float] = field(default_factory=list)
    diagnostics: dict[str, list] = field(default_factory=lambda: {k: [] for k in DIAGNOSTIC_KEYS})
    reference: dict[str, list] | None = None
    step_t: list[float] = field(default_factory=list)
    step_weighted_loss: list[float | None] = field(default_factory=list)
    step_score_loss: list[float | None] = field(default_factory=list)
    snapshots: dict[float, torch.Tensor] = field(default_factory=dict)
    x_final: torch.Tensor | None = None
    steps: int = 0
    wall_time: float = 0.0
    status: str = "running"

    def __repr__(self) -> str:
        return (f"Run(problem={self.problem!r}, score={self.score!r}, n={self.n}, dt={self.dt:g}, "
                f"t=[{self.t0:g}, {self.t_end:g}], method={self.method!r}, steps={self.steps}, "
                f"recorded={len(self.times)}, snapshots={len(self.snapshots)}, status={self.status!r})")

    # -- access --------------------------------------------------------------------------------
    def series(self, key: str, *, reference: bool = False) -> np.ndarray:
        """Time series as a float NumPy array (``None`` → NaN).

        ``key``: ``'t'``/``'times'``, a diagnostic key (``'mean'`` gives shape ``(T, d)``, ``'cov'``
        ``(T, d, d)``), or a per-step key (``'step_t'``, ``'step_weighted_loss'``, ``'step_score_loss'``).
        With ``reference=True`` the exact reference series of that key is returned.
        """
        if reference:
            if self.reference is None or key not in self.reference:
                known = [] if self.reference is None else sorted(self.reference)
                raise KeyError(f"no reference series {key!r}; known: {known}")
            values = self.reference[key]
        elif key in ("t", "times"):
            values = self.times
        elif key in STEP_KEYS:
            values = getattr(self, key)
        elif key in self.diagnostics:
            values = self.diagnostics[key]
        else:
            raise KeyError(f"unknown series {key!r}; known: 't', {', '.join(map(repr, self.diagnostics))}, "
                           f"{', '.join(map(repr, STEP_KEYS))}")
        template = next((np.asarray(v, dtype=float) for v in values if v is not None), None)
        filled = [np.full(template.shape, np.nan) if v is None and template is not None else v for v in values]
        return np.array(_none_to_nan(filled), dtype=float)

    def params(self) -> dict[str, Any]:
        """The run parameters as a plain dict."""
        return {k: getattr(self, k) for k in _PARAM_KEYS}

    # -- serialisation -------------------------------------------------------------------------
    def to_json_dict(self) -> dict[str, Any]:
        """Parameters, status, wall time and all time series (no particles), JSON-serialisable.

        Layout: the parameters at top level; ``'t'`` (recorded times); every diagnostic key at top
        level (``'mean'``, ``'cov'``, ``'energy'``, ``'m4'``, ``'entropy_rate'``, ...); ``'reference'``
        (dict of the same keys, or ``None``); the per-step arrays; ``'snapshot_times'``.
        """
        out: dict[str, Any] = {"format": _FORMAT}
        out.update(self.params())
        out.update(status=self.status, steps=self.steps, wall_time=self.wall_time, t=list(self.times))
        out["diagnostic_keys"] = list(self.diagnostics)
        for k, v in self.diagnostics.items():
            out[k] = list(v)
        out["reference"] = None if self.reference is None else {k: list(v) for k, v in self.reference.items()}
        for k in STEP_KEYS:
            out[k] = list(getattr(self, k))
        out["snapshot_times"] = list(self.snapshots)
        return out

    def save(self, path: str | os.PathLike) -> None:
        """Save to ``.json`` (parameters + time series) or ``.pt`` (everything, incl. particles)."""
        path = os.fspath(path)
        if path.endswith(".json"):
            with open(path, "w") as fh:
                json.dump(self.to_json_dict(), fh, separators=(",", ":"))
        elif path.endswith(".pt"):
            payload = self.to_json_dict()
            payload["snapshots"] = {float(t): x.detach().cpu() for t, x in self.snapshots.items()}
            payload["x_final"] = None if self.x_final is None else self.x_final.detach().cpu()
            torch.save(payload, path)
        else:
            raise ValueError(f"path must end with '.json' or '.pt', got {path!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Run":
        """Rebuild a :class:`Run` from :meth:`to_json_dict` output (plus optional tensors)."""
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError(f"not a saved landau_lite Run (expected format {_FORMAT!r})")
        keys = data.get("diagnostic_keys", list(DIAGNOSTIC_KEYS))
        kwargs = {k: data[k] for k in _PARAM_KEYS}
        ref = data.get("reference")
        return cls(**kwargs, times=list(data["t"]), diagnostics={k: list(data[k]) for k in keys},
                   reference=None if ref is None else {k: list(v) for k, v in ref.items()},
                   step_t=list(data["step_t"]), step_weighted_loss=list(data["step_weighted_loss"]),
                   step_score_loss=list(data["step_score_loss"]),
                   snapshots={float(t): x for t, x in (data.get("snapshots") or {}).items()},
                   x_final=data.get("x_final"), steps=int(data["steps"]), wall_time=float(data["wall_time"]),
                   status=str(data["status"]))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Run":
        """Load a run saved by :meth:`save` (``.pt`` via ``torch.load(weights_only=True)``, or ``.json``).

        A ``.json`` file holds no particles: ``snapshots`` is then empty and ``x_final`` is ``None``.
        """
        path = os.fspath(path)
        if path.endswith(".json"):
            with open(path) as fh:
                data = json.load(fh)
        elif path.endswith(".pt"):
            data = torch.load(path, map_location="cpu", weights_only=True)
        else:
            raise ValueError(f"path must end with '.json' or '.pt', got {path!r}")
        return cls.from_dict(data)

    def summary(self) -> str:
        """One line: problem, score, N, dt, interval, status, wall time and the final moments."""
        parts = [f"{self.problem} | score={self.score} n={self.n} dt={self.dt:g} {self.method} "
                 f"t=[{self.t0:g}, {self.t_end:g}] {self.dtype} {self.device}: {self.status} "
                 f"({self.steps} steps, {self.wall_time:.2f} s)"]
        if self.times:
            for key in ("energy", "m4"):
                val = self.diagnostics[key][-1]
                exact = None if self.reference is None else (self.reference.get(key) or [None])[-1]
                ref = "" if exact is None else f" (exact {exact:.5g})"
                parts.append(f"{key}({self.times[-1]:g})={val:.5g}{ref}")
        return "; ".join(parts)


def _none_to_nan(values: Any) -> Any:
    if values is None:
        return math.nan
    if isinstance(values, (list, tuple)):
        return [_none_to_nan(v) for v in values]
    return values


class NonFiniteError(RuntimeError):
    """A score value, velocity or particle became NaN/inf during :func:`simulate`.

    The message names the step index, the time and the quantity (``'score'``, ``'velocity'`` or
    ``'particles'``). The attribute :attr:`run` holds the partial :class:`Run` with everything computed
    before the failure (its ``status`` says what happened, ``x_final`` holds the last finite particles).

    Example::

        try:
            run = simulate("aniso_coulomb", "blob", n=1000, dt=5.0, t_end=300.0)
        except NonFiniteError as err:
            run = err.run          # diagnostics up to the failure
    """

    def __init__(self, message: str, run: Run, *, step: int, t: float, quantity: str):
        super().__init__(message)
        self.run = run
        self.step = step
        self.t = t
        self.quantity = quantity
