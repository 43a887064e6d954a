r"""Time stepping for the particle Landau equation, and the :class:`Run` record of a simulation.

The particles move with the Landau velocity of a score field :math:`s\approx\nabla\log f_t`:

.. math::

    \frac{dX_i}{dt} = U_i, \qquad
    U_i = -\frac{C}{N}\sum_{j=1}^N A(X_i - X_j)\big(s(X_i) - s(X_j)\big),
    \qquad A(z) = |z|^\gamma\big(|z|^2 I - z\otimes z\big).

Two integrators are provided:

* **forward Euler** (:func:`euler_step`): :math:`X^{k+1} = X^k + \Delta t\,U(X^k, s^k)`, with
  :math:`s^k = ` ``score.update(X^k, t_k)``. Momentum :math:`\sum_i X_i` is conserved to round-off
  (:math:`\sum_i U_i = 0`), and the energy :math:`\sum_i|X_i|^2` grows by exactly
  :math:`\Delta t^2\sum_i|U_i|^2` per step (because :math:`\sum_i X_i\cdot U_i = 0`).
* **Heun** (explicit trapezoidal rule, :func:`heun_step`), second order:

  .. math::

      \tilde X = X^k + \Delta t\,U(X^k, s(X^k, t_k)),\qquad
      X^{k+1} = X^k + \tfrac{\Delta t}{2}\big(U(X^k, s(X^k,t_k)) + U(\tilde X, s(\tilde X, t_{k+1}))\big).

  The energy error per step is :math:`\tfrac{\Delta t^2}{4}\sum_i|U_i^{(1)} - U_i^{(2)}|^2 = O(\Delta t^4)`.
  The score is updated twice per step (at :math:`X^k` and at :math:`\tilde X`), so a **neural score
  (SBTM) is trained twice per step** under Heun, and the corrector's training moves the network.

:func:`simulate` runs a whole simulation: it validates every argument before any compute, samples
the initial particles with a seeded generator, steps in time, checks that the score, the velocity and
the particles stay finite at every step (raising :class:`NonFiniteError` with the partial run
attached), records diagnostics, and returns a :class:`Run`, which can be saved and loaded.

**Weighted score-matching loss** (a-posteriori estimate of Theorem 4.2). When the problem has an
exact score :math:`\nabla\log f(t,\cdot)`, every step logs, with :math:`\delta_i = s_i - \nabla\log f(t, X_i)`,

.. math::

    \hat{\mathcal L}_t = \frac{1}{N^2}\sum_{i,j}(\delta_i - \delta_j)\cdot C A(X_i - X_j)(\delta_i - \delta_j)
    = -\frac{2}{N}\sum_i \delta_i\cdot U_i[\delta],

where :math:`U[\delta]` is the particle velocity with :math:`\delta` in place of the score
(symmetrise :math:`\sum_{ij}\delta_i\cdot A_{ij}(\delta_i-\delta_j)` in :math:`i\leftrightarrow j` using
:math:`A_{ij} = A_{ji}`). The per-step arrays ``step_t``, ``step_weighted_loss`` and
``step_score_loss`` of the :class:`Run` let one integrate :math:`\int\hat{\mathcal L}_t\,dt`.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import torch

from ._checks import check_choice, check_int, check_particles, check_positive, check_real
from .device import pick_device
from .diagnostics import pair_weighted_loss
from .integrators import METHODS
from .run import NonFiniteError, Run, _to_plain
from .velocity import BACKENDS, VelocityField

if TYPE_CHECKING:  # pragma: no cover
    from .problems import Problem
    from .scores import ScoreMethod

__all__ = ["simulate"]


# ----------------------------------------------------------------------------------------------
# simulate: validation
# ----------------------------------------------------------------------------------------------

@dataclass
class _Setup:
    """Validated arguments of :func:`simulate` (built before any compute)."""

    problem: Any
    problem_name: str
    score: Any
    score_name: str
    n: int
    dt: float
    t0: float
    t_end: float
    method: str
    seed: int
    device: torch.device
    dtype: torch.dtype
    record_every: int | float
    snapshot_times: tuple[float, ...]
    backend: str
    progress: bool
    x0: torch.Tensor | None
    callback: Callable | None
    points: list[tuple[float, bool, tuple[float, ...]]]   # (time, record?, snapshot times taken here)


_DTYPES = {"float32": torch.float32, "float64": torch.float64, torch.float32: torch.float32,
           torch.float64: torch.float64}


def _check_dtype(dtype: Any) -> torch.dtype:
    try:
        return _DTYPES[dtype]
    except (KeyError, TypeError):
        raise ValueError(f"dtype must be torch.float32, torch.float64, 'float32' or 'float64'; got {dtype!r}") \
            from None


def _problem_names() -> tuple[str, ...]:
    from . import problems
    names = getattr(problems, "PROBLEMS", None) or getattr(problems, "PROBLEM_NAMES", None)
    if names is None:
        raise RuntimeError("landau_lite.problems does not list its problem names")
    return tuple(names)


def _score_names() -> tuple[str, ...]:
    from . import scores
    names = getattr(scores, "SCORE_METHODS", None) or getattr(scores, "SCORE_NAMES", None)
    return tuple(names) if names is not None else ("exact", "blob", "sbtm")


def _build_points(t0: float, t_end: float, dt: float, record_every: int | float,
                  snapshot_times: Sequence[float]) -> list[tuple[float, bool, tuple[float, ...]]]:
    """Time grid ``t0 + k dt`` (last step shortened to end at ``t_end``), with record flags; snapshot
    times that are not grid points are inserted as extra points (the step across them is split)."""
    n_base = max(1, math.ceil((t_end - t0) / dt - 1e-9))
    times = [t0 + k * dt for k in range(n_base)] + [t_end]
    if isinstance(record_every, Integral):
        rec = [k % int(record_every) == 0 for k in range(n_base + 1)]
    else:
        bins = [math.floor((t - t0) / record_every + 1e-9) for t in times]
        rec = [True] + [bins[k] > bins[k - 1] for k in range(1, n_base + 1)]
    rec[-1] = True
    points: list[list] = [[t, r, []] for t, r in zip(times, rec)]
    tol = 1e-6 * dt
    for tau in sorted(set(float(t) for t in snapshot_times)):
        k = min(range(len(points)), key=lambda i: abs(points[i][0] - tau))
        if abs(points[k][0] - tau) <= tol:
            points[k][2].append(tau)
        else:
            at = k + 1 if points[k][0] < tau else k
            points.insert(at, [tau, False, [tau]])
    return [(t, r, tuple(sn)) for t, r, sn in points]


def _prepare(problem: Any, score: Any, *, n: Any, dt: Any, t_end: Any, t0: Any, method: Any, seed: Any,
             device: Any, dtype: Any, record_every: Any, snapshot_times: Any, backend: Any, progress: Any,
             x0: Any, score_kwargs: Any, callback: Any) -> _Setup:
    """Validate every argument of :func:`simulate` and build the problem and score objects (no compute)."""
    from .problems import get_problem
    from .scores import make_score

    n = check_int(n, "n", lo=2)
    dt = check_positive(dt, "dt")
    method = check_choice(method, "method", METHODS)
    seed = check_int(seed, "seed", lo=0, hi=2**63 - 1)
    dtype = _check_dtype(dtype)
    device = pick_device(device)
    backend = check_choice(backend, "backend", BACKENDS)
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be a bool, got {type(progress).__name__}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    if score_kwargs is not None and not isinstance(score_kwargs, dict):
        raise TypeError(f"score_kwargs must be a dict or None, got {type(score_kwargs).__name__}")

    # problem
    if isinstance(problem, str):
        names = _problem_names()
        check_choice(problem, "problem", names)
        problem_obj = get_problem(problem)
    elif all(hasattr(problem, a) for a in ("sample", "score", "d", "gamma", "C", "t0")):
        problem_obj = problem
    else:
        raise TypeError(f"problem must be a problem name (str) or a Problem, got {type(problem).__name__}")
    problem_name = str(getattr(problem_obj, "name", type(problem_obj).__name__))
    d = int(problem_obj.d)
    gamma = float(problem_obj.gamma)
    if backend == "moments" and gamma != 0.0:
        raise ValueError(f"backend='moments' needs gamma = 0 (Maxwell molecules); problem {problem_name!r} "
                         f"has gamma = {gamma}")

    # times
    t0 = float(problem_obj.t0) if t0 is None else check_real(t0, "t0")
    t_end = check_real(t_end, "t_end")
    if not t_end > t0:
        raise ValueError(f"t_end must be > t0 (={t0:g}), got t_end = {t_end:g}")
    if x0 is None and t0 != float(problem_obj.t0):
        if isinstance(problem, str):
            try:
                problem_obj = get_problem(problem, t0=t0)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"t0 = {t0:g}: cannot start problem {problem_name!r} there ({exc})") from exc
        else:
            raise ValueError(f"t0 = {t0:g} differs from problem.t0 = {problem_obj.t0:g}; pass x0 (particles at "
                             f"t0) or a problem built with t0={t0:g}")
    if isinstance(record_every, bool) or not isinstance(record_every, Real):
        raise TypeError(f"record_every must be an int (steps) or a float (time interval), "
                        f"got {type(record_every).__name__}")
    if isinstance(record_every, Integral):
        record_every = check_int(record_every, "record_every", lo=1)
    else:
        record_every = check_positive(record_every, "record_every")
    if snapshot_times is None:
        snapshot_times = ()
    if isinstance(snapshot_times, (str, bytes)) or not hasattr(snapshot_times, "__iter__"):
        raise TypeError(f"snapshot_times must be a sequence of times, got {type(snapshot_times).__name__}")
    snaps = []
    for i, tau in enumerate(snapshot_times):
        tau = check_real(tau, f"snapshot_times[{i}]")
        if tau < t0 - 1e-9 * dt or tau > t_end + 1e-9 * dt:
            raise ValueError(f"snapshot_times[{i}] must lie in [t0, t_end] = [{t0:g}, {t_end:g}], got {tau:g}")
        snaps.append(min(max(tau, t0), t_end))

    # initial particles
    if x0 is not None:
        x0 = check_particles(x0, "x0", finite=False)
        if tuple(x0.shape) != (n, d):
            raise ValueError(f"x0 must have shape (n, d) = ({n}, {d}), got {tuple(x0.shape)}")
        if x0.dtype != dtype:
            raise TypeError(f"x0 must have dtype {dtype} (the dtype argument), got {x0.dtype}")
        if not bool(torch.isfinite(x0).all()):
            raise ValueError(f"x0 must be finite; it holds {int((~torch.isfinite(x0)).sum())} NaN/inf entries")

    # score
    if isinstance(score, str):
        check_choice(score, "score", _score_names())
        kw = dict(score_kwargs or {})
        if score in ("sbtm", "neural"):
            kw.setdefault("seed", seed)
        score_obj = make_score(score, problem=problem_obj, **kw)
        score_name = score
    elif callable(getattr(score, "update", None)) and callable(getattr(score, "initialize", None)):
        if score_kwargs:
            raise ValueError("score_kwargs is only used with a score name; configure the ScoreMethod instance instead")
        score_obj = score
        score_name = str(getattr(score, "name", type(score).__name__))
    else:
        raise TypeError(f"score must be a score name {_score_names()} or a ScoreMethod, got {type(score).__name__}")

    if score_name == "exact" or type(score_obj).__name__ == "ExactScore":
        score_problem = getattr(score_obj, "problem", problem_obj)
        if not _exact_score(score_problem):
            raise ValueError(f"score='exact' needs a problem whose score is known at every time; problem "
                             f"{problem_name!r} knows it only at t0 (exact_in_time is False): use 'blob' or 'sbtm'")

    points = _build_points(t0, t_end, dt, record_every, snaps)
    return _Setup(problem=problem_obj, problem_name=problem_name, score=score_obj, score_name=score_name, n=n,
                  dt=dt, t0=t0, t_end=t_end, method=method, seed=seed, device=device, dtype=dtype,
                  record_every=record_every, snapshot_times=tuple(snaps), backend=backend, progress=progress,
                  x0=x0, callback=callback, points=points)


# ----------------------------------------------------------------------------------------------
# simulate: the loop
# ----------------------------------------------------------------------------------------------

def _finite(t: torch.Tensor) -> bool:
    return bool(torch.isfinite(t).all())


def _exact_score(problem: Any) -> bool:
    return bool(getattr(problem, "exact_in_time", False))


def _fisher_error(s: torch.Tensor, s_ex: torch.Tensor | None) -> float | None:
    """Relative Fisher error against the exact score, ``None`` where undefined."""
    from .diagnostics import relative_fisher_error

    if s_ex is None or not _finite(s_ex) or not bool((s_ex * s_ex).sum() > 0):
        return None
    return float(relative_fisher_error(s, s_ex))


def _execute(st: _Setup) -> Run:
    """Run a validated simulation (see :func:`simulate`)."""
    from tqdm.auto import tqdm

    from .diagnostics import entropy_production_rate, moments

    problem, score = st.problem, st.score
    d, gamma, C = int(problem.d), float(problem.gamma), float(problem.C)
    run = Run(problem=st.problem_name, score=st.score_name, n=st.n, dt=st.dt, t0=st.t0, t_end=st.t_end,
              method=st.method, seed=st.seed, dtype=str(st.dtype).replace("torch.", ""), device=str(st.device),
              gamma=gamma, C=C, d=d, record_every=st.record_every, backend=st.backend)
    has_exact = _exact_score(problem)
    start = time.perf_counter()
    gen = torch.Generator().manual_seed(st.seed)
    if st.x0 is None:
        x = problem.sample(st.n, generator=gen, dtype=st.dtype, device=st.device)
    else:
        x = st.x0.to(device=st.device).clone()
    score.initialize(x, st.t0, problem)

    def fail(quantity: str, k: int, t: float, x_keep: torch.Tensor) -> NonFiniteError:
        run.status = f"stopped: non-finite {quantity} at step {k}, t={t:.6g}"
        run.x_final = x_keep.detach().cpu().clone()
        run.wall_time = time.perf_counter() - start
        return NonFiniteError(f"non-finite {quantity} at step {k}, t={t:.6g} (problem {run.problem!r}, "
                              f"score {run.score!r}, dt={run.dt:g}); the partial run is attached as .run "
                              f"({k} steps completed)", run, step=k, t=t, quantity=quantity)

    vel = VelocityField(d, gamma, C, backend=st.backend)

    points = st.points
    bar = tqdm(total=len(points) - 1, disable=not st.progress, desc=f"{run.problem}/{run.score}", unit="step")
    k, t = 0, st.t0
    try:
        for k, (t, record, snaps) in enumerate(points):
            last = k == len(points) - 1
            s = score.update(x, t)
            if not _finite(s):
                raise fail("score", k, t, x)
            U = vel(x, s)
            if not _finite(U):
                raise fail("velocity", k, t, x)
            loss = _to_plain(getattr(score, "last_loss", None))
            wloss, s_ex = None, None
            if has_exact:
                s_ex = problem.score(x, t)
                wloss = pair_weighted_loss(x, s - s_ex, gamma=gamma, C=C, backend=st.backend) \
                    if _finite(s_ex) else math.nan
            run.step_t.append(float(t))
            run.step_weighted_loss.append(wloss)
            run.step_score_loss.append(loss)
            if record:
                m = moments(x)
                diag = run.diagnostics
                run.times.append(float(t))
                for key in ("mean", "cov", "energy", "m4"):
                    diag[key].append(_to_plain(m[key]))
                diag["entropy_rate"].append(float(entropy_production_rate(s, U)))
                diag["score_loss"].append(loss)
                diag["fisher_error"].append(_fisher_error(s, s_ex))
                diag["weighted_score_error"].append(wloss)
                diag["wall"].append(time.perf_counter() - start)
                ref = problem.reference(t) if hasattr(problem, "reference") else None
                n_rec = len(run.times)
                for key in ("mean", "cov", "energy", "m4"):
                    if ref is not None and ref.get(key) is not None and (run.reference is None
                                                                         or key not in run.reference):
                        run.reference = {} if run.reference is None else run.reference
                        run.reference[key] = [None] * (n_rec - 1)     # unknown at the earlier times
                    if run.reference is not None and key in run.reference:
                        run.reference[key].append(None if ref is None else _to_plain(ref.get(key)))
            for tau in snaps:
                run.snapshots[tau] = x.detach().cpu().clone()
            if st.callback is not None and st.callback(k, t, x, s, U):
                run.status = f"stopped by callback at step {k}, t={t:.6g}"
                break
            if last:
                run.status = "completed"
                break
            h = points[k + 1][0] - t
            if st.method == "euler":
                x_new = x + h * U
            else:
                x_pred = x + h * U
                s2 = score.update(x_pred, t + h)
                if not _finite(s2):
                    raise fail("score (Heun corrector)", k, t, x)
                U2 = vel(x_pred, s2)
                if not _finite(U2):
                    raise fail("velocity (Heun corrector)", k, t, x)
                x_new = x + (0.5 * h) * (U + U2)
            if not _finite(x_new):
                raise fail("particles", k, t, x)
            x = x_new
            run.steps = k + 1
            bar.update(1)
    except KeyboardInterrupt:
        run.status = f"interrupted at step {k}, t={t:.6g}"
    except NonFiniteError:
        raise
    except Exception as exc:
        # any other failure (e.g. inside a score method): keep what was computed, attached to the exception
        run.status = f"failed: {type(exc).__name__} at step {k}, t={t:.6g}"
        run.x_final = x.detach().cpu().clone()
        run.wall_time = time.perf_counter() - start
        try:
            exc.run = run  # type: ignore[attr-defined]
        except AttributeError:  # pragma: no cover - exceptions without a __dict__
            pass
        raise
    finally:
        bar.close()
    run.x_final = x.detach().cpu().clone()
    run.wall_time = time.perf_counter() - start
    return run


def simulate(problem: "Problem | str", score: "ScoreMethod | str" = "exact", *, n: int, dt: float, t_end: float,
             t0: float | None = None, method: str = "euler", seed: int = 0, device: str | torch.device = "auto",
             dtype: torch.dtype | str = torch.float64, record_every: int | float = 1,
             snapshot_times: Sequence[float] = (), backend: str = "auto", progress: bool = True,
             x0: torch.Tensor | None = None, score_kwargs: dict | None = None,
             callback: Callable | None = None) -> Run:
    r"""Simulate the particle Landau equation :math:`\dot X_i = U_i[s]` from ``t0`` to ``t_end``.

    Each step (forward Euler; Heun analogously, see :func:`heun_step`):

    .. math::

        s^k = \texttt{score.update}(X^k, t_k),\qquad
        U^k_i = -\frac{C}{N}\sum_j A(X^k_i - X^k_j)(s^k_i - s^k_j),\qquad
        X^{k+1} = X^k + \Delta t\,U^k .

    Args:
        problem: a problem name (see :func:`landau_lite.problems.get_problem`) or a ``Problem``; it gives
            ``d``, ``gamma``, the collision constant ``C``, the initial law and (where known) exact references.
        score: ``'exact'``, ``'blob'``, ``'sbtm'`` or a ``ScoreMethod`` instance.
        n: number of particles, ``>= 2``.
        dt: time step, finite and ``> 0``. The grid is ``t0 + k dt``; the last step is shortened to end at
            ``t_end``, and a step across a snapshot time is split there.
        t_end: final time, ``> t0``.
        t0: start time (default ``problem.t0``).
        method: ``'euler'`` or ``'heun'`` (Heun trains a neural score twice per step).
        seed: non-negative int; seeds the ``torch.Generator`` that samples the initial particles, and is
            passed as ``seed=`` to a neural score built by name (network initialisation, noise, minibatches)
            unless ``score_kwargs`` sets it. A ``ScoreMethod`` instance keeps its own seed.
        device: ``'auto'`` (CUDA if available), ``'cpu'``, ``'cuda'``, or a ``torch.device``.
        dtype: ``torch.float64`` (default) or ``torch.float32`` (or their names).
        record_every: an ``int`` K records diagnostics every K steps; a ``float`` τ records at the first
            grid time at or after every multiple of τ. ``t0`` and the final time are always recorded.
        snapshot_times: times in ``[t0, t_end]`` at which the particles are stored (CPU copies).
        backend: velocity backend (``'auto'``, ``'compiled'``, ``'chunked'``, ``'moments'``).
        progress: show a ``tqdm`` progress bar.
        x0: optional initial particles ``(n, d)`` with dtype ``dtype`` (moved to ``device``).
        score_kwargs: keyword arguments for :func:`landau_lite.scores.make_score` (only with a score name).
        callback: optional ``callback(k, t, x, s, U)`` called at every grid point; returning ``True``
            stops the run (status ``'stopped by callback ...'``).

    Returns:
        a :class:`Run`. Every argument is validated before any compute (``ValueError``/``TypeError``
        naming the argument).

    Raises:
        NonFiniteError: the score, the velocity or the particles became NaN/inf. The message names the
            step, the time and the quantity; ``err.run`` is the partial :class:`Run`.

    A ``KeyboardInterrupt`` (Ctrl-C, or the notebook's stop button) does not lose the work: the partial run
    is returned with status ``'interrupted at step k, t=...'``. Any other exception raised during the
    time loop (e.g. by a score method) is re-raised with the partial run attached as ``exc.run``.

    Cost: one score update and one velocity evaluation per step (two of each for Heun). When the problem
    has an exact score (``problem.exact_in_time``) and the score method is not the exact one, the weighted
    loss :math:`\hat{\mathcal L}_t` costs one more velocity evaluation per step (O(N) for
    :math:`\gamma = 0`, O(N²) otherwise).

    Example:
        >>> run = simulate("bkw3", "exact", n=500, dt=0.05, t_end=6.5, progress=False)
        >>> run.status, len(run.times)
        ('completed', 11)
    """
    st = _prepare(problem, score, n=n, dt=dt, t_end=t_end, t0=t0, method=method, seed=seed, device=device,
                  dtype=dtype, record_every=record_every, snapshot_times=snapshot_times, backend=backend,
                  progress=progress, x0=x0, score_kwargs=score_kwargs, callback=callback)
    return _execute(st)
