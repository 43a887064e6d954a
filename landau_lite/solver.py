r"""Simulations of the particle Landau equation, built from public pieces.

The particles move with the Landau velocity of a score field :math:`s\approx\nabla\log f_t`:

.. math::

    \frac{dX_i}{dt} &= U_i, \qquad
    U_i = -\frac{1}{N}\sum_{j=1}^N A(X_i - X_j)\big(s(X_i) - s(X_j)\big), \\
    A(z) &= C|z|^\gamma\big(|z|^2 I - z\otimes z\big).

A simulation is assembled from four pieces, each a public object:

* a **problem** (:class:`~landau_lite.problems.Problem`): the kernel :math:`(d, \gamma, C)`, the initial
  law, and where known the exact score (``exact_in_time``) and reference moments (``reference(t)``);
* a **score method** (:class:`~landau_lite.scores.ScoreMethod`): ``initialize`` once, ``update(x, t)`` at
  every drift evaluation;
* an **integrator** (:class:`~landau_lite.integrators.Integrator`: :class:`~landau_lite.integrators.Euler`
  or :class:`~landau_lite.integrators.Heun`, which trains a neural score twice per step), stepping on the
  time grid :class:`TimeGrid`;
* **recorders** (:class:`~landau_lite.recorders.Recorder`, default
  :func:`~landau_lite.recorders.default_recorders`) that fill the :class:`~landau_lite.run.Run` at recorded
  times.

:meth:`Simulation.build` validates every argument and builds these pieces before any compute;
:meth:`Simulation.run` samples the initial particles with a seeded generator, steps in time and returns a
:class:`Run`. :func:`simulate` does both.

**Non-finite values.** Every score, velocity and particle array is checked on the device
(:class:`~landau_lite.integrators.FiniteGuard`): the first non-finite (step, quantity) is kept in a device
flag, the particles are frozen at the last finite state, and the flag is read only when something is
recorded (a recorded time, a snapshot, a callback, the final time), so a run on a GPU does not wait for the
device at every step. :class:`NonFiniteError` then names the step, the time and the quantity, and carries
the partial run.

**Weighted score-matching loss** (a-posteriori estimate of Theorem 4.2). When the problem has an
exact score :math:`\nabla\log f(t,\cdot)`, every step logs, with :math:`\delta_i = s_i - \nabla\log f(t, X_i)`,

.. math::

    \hat{\mathcal L}_t = \frac{1}{N^2}\sum_{i,j}(\delta_i - \delta_j)\cdot A(X_i - X_j)(\delta_i - \delta_j)
    = -\frac{2}{N}\sum_i \delta_i\cdot U_i[\delta],

where :math:`U[\delta]` is the particle velocity with :math:`\delta` in place of the score
(:func:`landau_lite.diagnostics.pair_weighted_loss`). The per-step arrays ``step_t``,
``step_weighted_loss`` and ``step_score_loss`` of the :class:`Run` let one integrate
:math:`\int\hat{\mathcal L}_t\,dt`.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, Callable, Iterator, Sequence

import torch
import torch.distributed as dist

from ._checks import check_choice, check_dim, check_gamma, check_int, check_particles, check_positive, check_real
from .device import check_device
from .distributed import gather_rows, is_distributed, rank, shard_bounds, world
from .integrators import METHODS, Drift, FiniteGuard, Integrator, all_finite, make_integrator
from .problems import PROBLEMS, Problem, as_problem, get_problem
from .recorders import Recorder, RecordState, default_recorders
from .run import REFERENCE_KEYS, RESERVED_KEYS, NonFiniteError, Run, to_plain
from .scores import SCORE_METHODS, ExactScore, NeuralScore, ScoreMethod, make_score
from .velocity import BACKENDS

__all__ = ["simulate", "Simulation", "TimeGrid", "GridPoint", "Run", "NonFiniteError"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64, torch.float32: torch.float32,
           torch.float64: torch.float64}

#: quantities checked before a grid point is recorded (a failure there drops that point's entries)
_BEFORE_RECORD = ("score", "velocity")

#: the device flag is read at least every this many steps (bounds the per-step values held on the device)
_MAX_PENDING = 256


# ----------------------------------------------------------------------------------------------
# the time grid
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GridPoint:
    """One point of a :class:`TimeGrid`.

    Attributes:
        index: position in the grid (0 at ``t0``; the ``k`` given to a ``simulate`` callback).
        t: the time. record: whether diagnostics are recorded here.
        snapshots: the requested snapshot times taken at this point.
        t_next: the next grid time, ``None`` at the final time.
    """

    index: int
    t: float
    record: bool
    snapshots: tuple[float, ...]
    t_next: float | None


class TimeGrid:
    r"""The time grid of a simulation, generated lazily (any number of steps, O(1) memory).

    The base grid is :math:`t_k = t_0 + k\,\Delta t` for :math:`0\le k < K`, :math:`K=\max(1,\lceil
    (t_{\rm end}-t_0)/\Delta t - 10^{-9}\rceil)`, then :math:`t_K = t_{\rm end}` (the last step is shortened).
    ``record_every`` an ``int`` :math:`m` records the base points :math:`k\equiv 0 \pmod m`; a ``float``
    :math:`\tau` records the first base point at or after every multiple of :math:`\tau`
    (:math:`\lfloor (t_k-t_0)/\tau + 10^{-9}\rfloor` increases); :math:`t_0` and :math:`t_{\rm end}` are always
    recorded. A snapshot time within :math:`10^{-6}\Delta t` of a grid point is taken there; any other
    snapshot time is inserted as an extra (unrecorded) point, which splits the step across it.

    Example:
        >>> g = TimeGrid(0.0, 1.0, 0.3, record_every=2, snapshot_times=(0.5,))
        >>> [(p.t, p.record, p.snapshots) for p in g]          # doctest: +NORMALIZE_WHITESPACE
        [(0.0, True, ()), (0.3, False, ()), (0.5, False, (0.5,)), (0.6, True, ()),
         (0.8999999999999999, False, ()), (1.0, True, ())]
        >>> g.steps, len(TimeGrid(0.0, 1.0, 1e-9))            # no list of 10^9 points is built
        (5, 1000000001)
    """

    def __init__(self, t0: float, t_end: float, dt: float, record_every: int | float = 1,
                 snapshot_times: Sequence[float] = ()) -> None:
        self.t0 = check_real(t0, "t0")
        self.t_end = check_real(t_end, "t_end")
        self.dt = check_positive(dt, "dt")
        if not self.t_end > self.t0:
            raise ValueError(f"t_end must be > t0 (={self.t0:g}), got t_end = {self.t_end:g}")
        self.record_every = _check_record_every(record_every)
        self.n_base = max(1, math.ceil((self.t_end - self.t0) / self.dt - 1e-9))
        tol = 1e-6 * self.dt
        self._attached: dict[int, list[float]] = {}
        self._inserted: list[tuple[float, list[float]]] = []
        taus = [check_real(s, f"snapshot_times[{i}]") for i, s in enumerate(snapshot_times)]
        for tau in sorted(set(taus)):
            if not self.t0 - tol <= tau <= self.t_end + tol:
                raise ValueError(f"snapshot time {tau:g} lies outside [t0, t_end] = [{self.t0:g}, {self.t_end:g}]")
            u = (tau - self.t0) / self.dt
            near = [j for j in range(math.floor(u) - 1, math.floor(u) + 3) if 0 <= j <= self.n_base]
            j = min(near or [self.n_base], key=lambda i: abs(self.time(i) - tau))
            dist = abs(self.time(j) - tau)
            if self._inserted and abs(self._inserted[-1][0] - tau) < dist:
                if abs(self._inserted[-1][0] - tau) <= tol:
                    self._inserted[-1][1].append(tau)
                    continue
            elif dist <= tol:
                self._attached.setdefault(j, []).append(tau)
                continue
            self._inserted.append((tau, [tau]))
        self.steps = self.n_base + len(self._inserted)

    def time(self, k: int) -> float:
        """Base grid time :math:`t_k` (``t_end`` for ``k = n_base``)."""
        return self.t0 + k * self.dt if k < self.n_base else self.t_end

    def __len__(self) -> int:
        return self.steps + 1

    def _raw(self) -> Iterator[tuple[float, bool, tuple[float, ...]]]:
        inserted = iter(self._inserted)
        nxt = next(inserted, None)
        every = self.record_every
        prev_bin = None
        for k in range(self.n_base + 1):
            tk = self.time(k)
            while nxt is not None and nxt[0] < tk:
                yield nxt[0], False, tuple(nxt[1])
                nxt = next(inserted, None)
            if isinstance(every, int):
                record = k % every == 0
            else:
                b = math.floor((tk - self.t0) / every + 1e-9)
                record = prev_bin is None or b > prev_bin
                prev_bin = b
            yield tk, record or k == self.n_base, tuple(self._attached.get(k, ()))

    def __iter__(self) -> Iterator[GridPoint]:
        it = self._raw()
        cur = next(it)
        index = 0
        for nxt in it:
            yield GridPoint(index, cur[0], cur[1], cur[2], nxt[0])
            index += 1
            cur = nxt
        yield GridPoint(index, cur[0], cur[1], cur[2], None)

    def __repr__(self) -> str:
        return (f"TimeGrid(t0={self.t0:g}, t_end={self.t_end:g}, dt={self.dt:g}, "
                f"record_every={self.record_every!r}, steps={self.steps})")


def _check_record_every(record_every: Any) -> int | float:
    if isinstance(record_every, bool) or not isinstance(record_every, Real):
        raise TypeError(f"record_every must be an int (steps) or a float (time interval), "
                        f"got {type(record_every).__name__}")
    if isinstance(record_every, Integral):
        return check_int(record_every, "record_every", lo=1)
    return check_positive(record_every, "record_every")


# ----------------------------------------------------------------------------------------------
# validation helpers
# ----------------------------------------------------------------------------------------------

def _check_dtype(dtype: Any) -> torch.dtype:
    try:
        return _DTYPES[dtype]
    except (KeyError, TypeError):
        raise ValueError(f"dtype must be torch.float32, torch.float64, 'float32' or 'float64'; got {dtype!r}") \
            from None


def _same_device(a: torch.device, b: torch.device) -> bool:
    if a.type != b.type:
        return False
    if a.type != "cuda":
        return True
    current = torch.cuda.current_device()
    return (current if a.index is None else a.index) == (current if b.index is None else b.index)


def _check_problem(problem: Problem) -> None:
    """The attributes of a (possibly custom) problem that the solver relies on."""
    if not isinstance(problem.name, str) or not problem.name:
        raise TypeError(f"problem.name must be a non-empty string, got {problem.name!r}")
    d = check_dim(problem.d, "problem.d")
    check_gamma(problem.gamma, d)
    check_positive(problem.C, "problem.C")
    check_real(problem.t0, "problem.t0")
    if not isinstance(problem.exact_in_time, bool):
        raise TypeError(f"problem.exact_in_time must be a bool, got {type(problem.exact_in_time).__name__}")


def _check_score_fits(score: ScoreMethod, problem: Problem, dtype: torch.dtype, device: torch.device,
                      label: str) -> None:
    """A score method that cannot run on this problem/dtype/device fails here, before any compute."""
    if isinstance(score, ExactScore) and not problem.exact_in_time:
        raise ValueError(f"score='exact' needs a problem whose score is known at every time; problem "
                         f"{problem.name!r} knows it only at t0 (exact_in_time is False): use 'blob' or 'sbtm'")
    if isinstance(score, NeuralScore):
        if score.d != problem.d:
            raise ValueError(f"{label}: the network's dimension d = {score.d} differs from the problem's "
                             f"d = {problem.d}")
        if score.dtype is not None and score.dtype != dtype:
            raise ValueError(f"{label}: the network's dtype {score.dtype} differs from the run's dtype {dtype}")
        if score.device is not None and not _same_device(score.device, device):
            raise ValueError(f"{label}: the network's device {score.device} differs from the run's device "
                             f"{device}")
        if not -(2**63) <= score.seed <= 2**64 - 1:
            raise ValueError(f"{label}: seed must lie in [-2**63, 2**64 - 1], got {score.seed}")


def _check_recorders(recorders: Any) -> tuple[Recorder, ...]:
    if recorders is None:
        return tuple(default_recorders())
    if isinstance(recorders, (str, bytes, Recorder)) or not isinstance(recorders, Sequence):
        raise TypeError(f"recorders must be a list of Recorder objects, got {type(recorders).__name__}")
    seen: set[str] = set()
    n_ref = 0
    for i, rec in enumerate(recorders):
        if not isinstance(rec, Recorder):
            raise TypeError(f"recorders[{i}] must be a landau_lite.recorders.Recorder, got {type(rec).__name__}")
        keys = rec.keys
        if not isinstance(keys, tuple) or not keys or not all(isinstance(k, str) and k for k in keys):
            raise ValueError(f"recorders[{i}].keys must be a non-empty tuple of names, got {keys!r}")
        if rec.section == "reference":
            n_ref += 1
            if n_ref > 1 or not set(keys) <= set(REFERENCE_KEYS):
                raise ValueError(f"recorders[{i}]: at most one reference recorder, with keys among "
                                 f"{list(REFERENCE_KEYS)}; got {keys!r}")
            continue
        if rec.section != "diagnostics":
            raise ValueError(f"recorders[{i}].section must be 'diagnostics' or 'reference', got {rec.section!r}")
        clash = [k for k in keys if k in seen or k in RESERVED_KEYS]
        if clash:
            raise ValueError(f"recorders[{i}] key(s) {clash} repeat another recorder's key or a reserved field")
        seen.update(keys)
    return tuple(recorders)


# ----------------------------------------------------------------------------------------------
# the simulation
# ----------------------------------------------------------------------------------------------

@dataclass
class _Entry:
    """Per-step values of one grid point, kept on the device until the next synchronisation."""

    k: int
    t: float
    weighted_loss: Any          # None, float or 0-dim tensor
    exact_ok: Any               # None or 0-dim bool tensor: the exact score was finite
    score_loss: Any             # None, float or 0-dim tensor
    exact_score: torch.Tensor | None

    def plain(self) -> tuple[float | None, float | None]:
        wl = to_plain(self.weighted_loss)
        if self.exact_ok is not None and not bool(self.exact_ok):
            wl = math.nan
        return wl, to_plain(self.score_loss)


def _read_pending(entries: list[_Entry]) -> None:
    """Turn the 0-dim device tensors held by ``entries`` (losses, finite flags) into Python values with one
    transfer per dtype, instead of one synchronising read per entry and value."""
    slots = [(e, name) for e in entries for name in ("weighted_loss", "exact_ok", "score_loss")
             if isinstance(getattr(e, name), torch.Tensor) and getattr(e, name).ndim == 0]
    groups: dict[tuple, list[tuple[_Entry, str]]] = {}
    for e, name in slots:
        v = getattr(e, name)
        groups.setdefault((v.dtype, v.device), []).append((e, name))
    for group in groups.values():
        values = torch.stack([getattr(e, name).detach() for e, name in group]).cpu().tolist()
        for (e, name), v in zip(group, values):
            setattr(e, name, v)


@dataclass(frozen=True, eq=False)
class Simulation:
    """A validated simulation: problem, score method, integrator, time grid and recorders (no compute yet).

    Build it with :meth:`build` (the arguments of :func:`simulate`; every one is checked and a mistake
    raises ``ValueError``/``TypeError`` naming it), then call :meth:`run`. The command line builds one the
    same way before it checks the output file and starts computing.

    Attributes:
        problem, score: the :class:`~landau_lite.problems.Problem` and :class:`~landau_lite.scores.ScoreMethod`.
        integrator: the :class:`~landau_lite.integrators.Integrator`; grid: the :class:`TimeGrid`.
        recorders: the :class:`~landau_lite.recorders.Recorder` objects, in order.
        n, dt, t0, t_end, seed, device, dtype, backend, progress, x0, callback: as in :func:`simulate`.

    Example:
        >>> sim = Simulation.build("bkw3", "exact", n=200, dt=0.1, t_end=6.3, progress=False)
        >>> sim.grid.steps, sim.integrator.name, sim.problem.d
        (3, 'euler', 3)
        >>> sim.run().status
        'completed'
    """

    problem: Problem
    score: ScoreMethod
    score_name: str
    n: int
    dt: float
    t0: float
    t_end: float
    integrator: Integrator
    seed: int
    device: torch.device
    dtype: torch.dtype
    record_every: int | float
    snapshot_times: tuple[float, ...]
    backend: str
    progress: bool
    x0: torch.Tensor | None
    callback: Callable | None
    recorders: tuple[Recorder, ...]
    grid: TimeGrid = field(repr=False)
    process_group: Any = field(default=None, repr=False)

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def build(cls, problem: Problem | str, score: ScoreMethod | str = "exact", *, n: int, dt: float,
              t_end: float, t0: float | None = None, method: str = "euler", seed: int = 0,
              device: str | torch.device = "auto", dtype: torch.dtype | str = torch.float64,
              record_every: int | float = 1, snapshot_times: Sequence[float] = (), backend: str = "auto",
              progress: bool = True, x0: torch.Tensor | None = None, score_kwargs: dict | None = None,
              callback: Callable | None = None, recorders: Sequence[Recorder] | None = None,
              process_group: Any = None) -> "Simulation":
        """Validate the arguments of :func:`simulate` and build the pieces (problem, score, integrator, grid)."""
        n = check_int(n, "n", lo=2)
        dt = check_positive(dt, "dt")
        integrator = make_integrator(check_choice(method, "method", METHODS))
        seed = check_int(seed, "seed", lo=0, hi=2**63 - 1)
        dtype = _check_dtype(dtype)
        device = check_device(device)
        backend = check_choice(backend, "backend", BACKENDS)
        if not isinstance(progress, bool):
            raise TypeError(f"progress must be a bool, got {type(progress).__name__}")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
        if score_kwargs is not None and not isinstance(score_kwargs, dict):
            raise TypeError(f"score_kwargs must be a dict or None, got {type(score_kwargs).__name__}")
        recorders = _check_recorders(recorders)
        if process_group is not None and not (dist.is_available() and dist.is_initialized()):
            raise ValueError("process_group needs torch.distributed to be initialised (torchrun, or "
                             "torch.distributed.init_process_group)")

        # problem
        if isinstance(problem, str):
            check_choice(problem, "problem", PROBLEMS)
        problem_obj = as_problem(problem)
        _check_problem(problem_obj)
        d = problem_obj.d
        if backend == "moments" and problem_obj.gamma != 0.0:
            raise ValueError(f"backend='moments' needs gamma = 0 (Maxwell molecules); problem "
                             f"{problem_obj.name!r} has gamma = {problem_obj.gamma}")

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
                    raise ValueError(f"t0 = {t0:g}: cannot start problem {problem_obj.name!r} there ({exc})") \
                        from exc
            else:
                raise ValueError(f"t0 = {t0:g} differs from problem.t0 = {problem_obj.t0:g}; pass x0 (particles "
                                 f"at t0) or a problem built with t0={t0:g}")
        record_every = _check_record_every(record_every)
        if snapshot_times is None:
            snapshot_times = ()
        if isinstance(snapshot_times, (str, bytes)) or not isinstance(snapshot_times, Sequence):
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
            check_choice(score, "score", SCORE_METHODS)
            kw = dict(score_kwargs or {})
            label = "score_kwargs" if kw else "score"
            if score in ("sbtm", "neural"):
                kw.setdefault("seed", seed)
            try:
                score_obj = make_score(score, problem=problem_obj, **kw)
            except TypeError as exc:
                raise TypeError(f"{label}: {exc}") from exc
            except (ValueError, RuntimeError) as exc:      # RuntimeError: torch.device("nope")
                raise ValueError(f"{label}: {exc}") from exc
            score_name = score
        elif isinstance(score, ScoreMethod):
            if score_kwargs:
                raise ValueError("score_kwargs is only used with a score name; configure the ScoreMethod "
                                 "instance instead")
            score_obj, score_name, label = score, str(score.name), "score"
        else:
            raise TypeError(f"score must be a score name {SCORE_METHODS} or a ScoreMethod, got "
                            f"{type(score).__name__}")
        _check_score_fits(score_obj, problem_obj, dtype, device, label)

        grid = TimeGrid(t0, t_end, dt, record_every, snaps)
        return cls(problem=problem_obj, score=score_obj, score_name=score_name, n=n, dt=dt, t0=t0, t_end=t_end,
                   integrator=integrator, seed=seed, device=device, dtype=dtype, record_every=record_every,
                   snapshot_times=tuple(snaps), backend=backend, progress=progress, x0=x0, callback=callback,
                   recorders=recorders, grid=grid, process_group=process_group)

    @property
    def method(self) -> str:
        """The integrator's name."""
        return self.integrator.name

    def new_run(self) -> Run:
        """An empty :class:`Run` with this simulation's parameters and the recorders' diagnostic keys."""
        p = self.problem
        keys = [k for r in self.recorders if r.section == "diagnostics" for k in r.keys]
        return Run(problem=str(p.name), score=self.score_name, n=self.n, dt=self.dt, t0=self.t0, t_end=self.t_end,
                   method=self.method, seed=self.seed, dtype=str(self.dtype).replace("torch.", ""),
                   device=str(self.device), gamma=float(p.gamma), C=float(p.C), d=int(p.d),
                   record_every=self.record_every, backend=self.backend, diagnostics={k: [] for k in keys})

    # -- compute -----------------------------------------------------------------------------
    def initial_particles(self) -> torch.Tensor:
        """``x0`` on the run's device, or ``n`` samples of the problem (seeded), checked once."""
        if self.x0 is not None:
            return self.x0.to(device=self.device).clone()
        gen = torch.Generator().manual_seed(self.seed)
        x = self.problem.sample(self.n, generator=gen, dtype=self.dtype, device=self.device)
        want = f"a ({self.n}, {self.problem.d}) {self.dtype} tensor on {self.device}"
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"problem.sample returned {type(x).__name__}; expected {want}")
        if tuple(x.shape) != (self.n, self.problem.d) or x.dtype != self.dtype or \
                not _same_device(x.device, self.device):
            raise ValueError(f"problem.sample returned a {tuple(x.shape)} {x.dtype} tensor on {x.device}; "
                             f"expected {want}")
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"problem.sample returned {int((~torch.isfinite(x)).sum())} NaN/inf entries")
        return x

    def run(self) -> Run:
        """Run the simulation and return the :class:`Run` (see :func:`simulate` for what is raised)."""
        from tqdm.auto import tqdm

        run = self.new_run()
        problem, score, callback = self.problem, self.score, self.callback
        gamma, C = float(problem.gamma), float(problem.C)
        group = self.process_group if is_distributed(self.process_group) else None
        full = functools.partial(gather_rows, group=group)     # a distributed run records every rank's rows
        guard = FiniteGuard(self.device, group)
        drift = Drift(score, gamma=gamma, C=C, backend=self.backend, guard=guard, process_group=group)
        checked_inputs, score_group = score.check_inputs, score.process_group
        score.check_inputs = False           # the guard checks on the device; update() need not read back
        score.process_group = group
        diag_recorders = [r for r in self.recorders if r.section == "diagnostics"]
        ref_recorders = [r for r in self.recorders if r.section == "reference"]
        start = time.perf_counter()
        pending: list[_Entry] = []             # per-step entries since the last synchronisation
        last_synced = (0, self.t0)             # (k, t) of the last synchronised point
        x: torch.Tensor | None = None
        k, t, phase = 0, self.t0, "setup"

        def flush(upto: int | None = None) -> None:
            """Append the pending per-step entries (those with k < upto) to the run."""
            _read_pending(pending)
            done = len(run.step_t)
            for e in pending:
                if e.k >= done and (upto is None or e.k < upto):
                    run.append_step(e.t, *e.plain())
            pending[:] = [e for e in pending if upto is not None and e.k >= upto]

        def check_finite() -> None:
            """Read the device flag; on a failure keep what precedes it and raise NonFiniteError."""
            failure = guard.first_failure()
            if failure is None:
                return
            k_fail, quantity = failure
            flush(upto=k_fail if quantity in _BEFORE_RECORD else k_fail + 1)
            times = dict([last_synced] + [(e.k, e.t) for e in pending])
            t_fail = times.get(k_fail, t)
            run.steps = k_fail
            run.status = f"stopped: non-finite {quantity} at step {k_fail}, t={t_fail:.6g}"
            run.x_final = full(x).detach().cpu().clone()
            run.wall_time = time.perf_counter() - start
            raise NonFiniteError(f"non-finite {quantity} at step {k_fail}, t={t_fail:.6g} (problem "
                                 f"{run.problem!r}, score {run.score!r}, dt={run.dt:g}); the partial run is "
                                 f"attached as .run ({k_fail} steps completed)", run, step=k_fail, t=t_fail,
                                 quantity=quantity)

        bar = tqdm(total=self.grid.steps, disable=not self.progress or rank(group) != 0,
                   desc=f"{run.problem}/{run.score}", unit="step")
        try:
            x = self.initial_particles()
            if group is not None:           # this rank's contiguous shard of the (seeded, identical) sample
                a, b = shard_bounds(self.n, world(group), rank(group))
                x = x[a:b].clone()
            phase = "fit"
            score.initialize(x, self.t0, problem)
            phase = "loop"
            for point in self.grid:
                k, t = point.index, point.t
                guard.at_step(k)
                s, U = drift(x, t)
                entry = self._step_entry(k, t, x, s, drift)
                if pending:
                    pending[-1].exact_score = None     # only the current point's exact score is kept
                pending.append(entry)
                last = point.t_next is None
                if point.record or point.snapshots or last or callback is not None or len(pending) >= _MAX_PENDING:
                    check_finite()
                    flush()
                    last_synced = (k, t)
                    if point.record:
                        if group is not None:
                            entry.exact_score = None if entry.exact_score is None else full(entry.exact_score)
                        self._record(run, diag_recorders, ref_recorders, entry, full(x), full(s), full(U), start)
                    for tau in point.snapshots:
                        run.snapshots[tau] = full(x).detach().cpu().clone()
                    if callback is not None and callback(k, t, x, s, U):
                        run.status = f"stopped by callback at step {k}, t={t:.6g}"
                        break
                if last:
                    run.status = "completed"
                    break
                x_new, _ = self.integrator.step(x, t, point.t_next - t, s, U, drift)
                x_new = guard.check(x_new, "particles", sanitize=False)
                x = torch.where(guard.ok, x_new, x)      # frozen at the last finite state after a failure
                run.steps = k + 1
                bar.update(1)
        except KeyboardInterrupt:
            run.truncate()                             # drop a record or step entry appended only in part
            if x is not None:
                check_finite()
            flush()
            where = {"setup": "before the first step", "fit": "during the score's initial fit"}.get(
                phase, f"at step {k}, t={t:.6g}")
            run.status = f"interrupted {where}"
        except NonFiniteError:
            raise
        except Exception as exc:
            # a non-finite value earlier in the run is the first cause: report it (this exception follows)
            run.truncate()
            if x is not None:
                try:
                    check_finite()
                except NonFiniteError as err:
                    raise err from exc
                flush()
            where = {"setup": "before the first step", "fit": "during the score's initial fit"}.get(
                phase, f"at step {k}, t={t:.6g}")
            run.status = f"failed: {type(exc).__name__} {where}"
            run.x_final = None if x is None else x.detach().cpu().clone()    # (this rank's rows: no collective here)
            run.wall_time = time.perf_counter() - start
            try:
                exc.run = run  # type: ignore[attr-defined]
            except AttributeError:  # pragma: no cover - exceptions without a __dict__
                pass
            raise
        finally:
            bar.close()
            score.check_inputs, score.process_group = checked_inputs, score_group
        run.x_final = None if x is None else full(x).detach().cpu().clone()
        run.wall_time = time.perf_counter() - start
        return run

    def _step_entry(self, k: int, t: float, x: torch.Tensor, s: torch.Tensor, drift: Drift) -> _Entry:
        """Per-step values: the score method's loss and, with an exact score, the weighted pair loss."""
        if not self.problem.exact_in_time:
            return _Entry(k, t, None, None, self.score.pending_loss(), None)
        s_ex = self.problem.score(x, t, check=False)
        delta = torch.nan_to_num(s - s_ex, nan=0.0, posinf=0.0, neginf=0.0)   # NaN where s_ex is not finite
        wloss = drift.field(x.shape[1]).pair_loss(x, delta)            # a 0-dim tensor: no host read
        return _Entry(k, t, wloss, all_finite(s_ex), self.score.pending_loss(), s_ex)

    def _record(self, run: Run, diag_recorders: list[Recorder], ref_recorders: list[Recorder], entry: _Entry,
                x: torch.Tensor, s: torch.Tensor, U: torch.Tensor, start: float) -> None:
        """Ask every recorder, then append the record whole."""
        wl, sl = entry.plain()
        state = RecordState(step=entry.k, t=entry.t, x=x, s=s, U=U, problem=self.problem, score=self.score,
                            score_loss=sl, exact_score=entry.exact_score, weighted_loss=wl,
                            wall=time.perf_counter() - start)
        values: dict[str, Any] = {}
        reference: dict[str, Any] | None = None
        for rec in diag_recorders + ref_recorders:
            out = rec.record(state)
            if not isinstance(out, dict) or set(out) != set(rec.keys):
                raise ValueError(f"{type(rec).__name__}.record must return a dict with the keys {list(rec.keys)}, "
                                 f"got {sorted(out) if isinstance(out, dict) else type(out).__name__}")
            if rec.section == "reference":
                reference = out
            else:
                values.update(out)
        run.append_record(entry.t, values, reference)


def simulate(problem: Problem | str, score: ScoreMethod | str = "exact", *, n: int, dt: float, t_end: float,
             t0: float | None = None, method: str = "euler", seed: int = 0, device: str | torch.device = "auto",
             dtype: torch.dtype | str = torch.float64, record_every: int | float = 1,
             snapshot_times: Sequence[float] = (), backend: str = "auto", progress: bool = True,
             x0: torch.Tensor | None = None, score_kwargs: dict | None = None,
             callback: Callable | None = None, recorders: Sequence[Recorder] | None = None,
             process_group: Any = None) -> Run:
    r"""Simulate the particle Landau equation :math:`\dot X_i = U_i[s]` from ``t0`` to ``t_end``.

    Each step (forward Euler; Heun analogously, see :class:`~landau_lite.integrators.Heun`):

    .. math::

        s^k &= \texttt{score.update}(X^k, t_k), \\
        U^k_i &= -\frac{1}{N}\sum_j A(X^k_i - X^k_j)(s^k_i - s^k_j), \\
        X^{k+1} &= X^k + \Delta t\,U^k .

    Same as ``Simulation.build(...).run()`` (see :class:`Simulation`).

    Args:
        problem: a problem name (see :func:`landau_lite.problems.get_problem`) or a ``Problem``; it gives
            ``d``, ``gamma``, the collision constant ``C``, the initial law and (where known) exact references.
        score: ``'exact'``, ``'blob'``, ``'sbtm'`` (``'neural'``) or a ``ScoreMethod`` instance.
        n: number of particles, ``>= 2``.
        dt: time step, finite and ``> 0``. The grid is ``t0 + k dt``; the last step is shortened to end at
            ``t_end``, and a step across a snapshot time is split there (:class:`TimeGrid`, generated lazily).
        t_end: final time, ``> t0``.
        t0: start time (default ``problem.t0``).
        method: ``'euler'`` or ``'heun'`` (Heun trains a neural score twice per step).
        seed: integer in ``[0, 2**63 - 1]``; seeds the ``torch.Generator`` that samples the initial particles,
            and is passed as ``seed=`` to a neural score built by name (network initialisation, noise,
            minibatches) unless ``score_kwargs`` sets it. A ``ScoreMethod`` instance keeps its own seed.
        device: ``'auto'`` (CUDA if available), ``'cpu'``, ``'cuda'``, ``'cuda:K'``, or a ``torch.device`` of
            one of these types.
        dtype: ``torch.float64`` (default) or ``torch.float32`` (or their names).
        record_every: an ``int`` K records diagnostics every K steps; a ``float`` τ records at the first
            grid time at or after every multiple of τ. ``t0`` and the final time are always recorded.
        snapshot_times: times in ``[t0, t_end]`` at which the particles are stored (CPU copies).
        backend: velocity backend (``'auto'``, ``'compiled'``, ``'chunked'``, ``'moments'``).
        progress: show a ``tqdm`` progress bar.
        x0: optional initial particles ``(n, d)`` with dtype ``dtype`` (moved to ``device``).
        score_kwargs: keyword arguments for :func:`landau_lite.scores.make_score` (only with a score name);
            an invalid option raises an error whose message starts with ``'score_kwargs: '``.
        callback: optional ``callback(k, t, x, s, U)`` called at every grid point with finite values;
            returning ``True`` stops the run (status ``'stopped by callback ...'``). With a callback the
            device's non-finite flag is read at every grid point.
        recorders: the :class:`~landau_lite.recorders.Recorder` objects that fill the run at recorded times
            (default :func:`~landau_lite.recorders.default_recorders`).
        process_group: a ``torch.distributed`` process group (e.g. ``torch.distributed.group.WORLD`` under
            ``torchrun``) to spread the run over its processes: every rank samples the same ``n`` particles and
            keeps its contiguous shard of about ``n / P``; pair sums run over every rank's particles
            (:mod:`landau_lite.distributed`); a neural score trains data-parallel (gradients all-reduced); the
            recorded diagnostics, snapshots and ``x_final`` hold every rank's particles, so the returned
            :class:`Run` is the same on every rank (let one rank write it). ``callback`` receives this rank's
            shard. ``None`` (default): one process.

    Returns:
        a :class:`Run`. Every argument is validated before any compute (``ValueError``/``TypeError``
        naming the argument); the particles that ``problem.sample`` returns are checked once (shape
        ``(n, d)``, dtype, device, finite values) before the first step.

    Raises:
        NonFiniteError: the score, the velocity or the particles became NaN/inf. The message names the
            step, the time and the quantity; ``err.run`` is the partial :class:`Run` (the last finite particles
            in ``x_final``).

    A ``KeyboardInterrupt`` (Ctrl-C, the notebook's stop button, or a handler that raises it on SIGTERM) does
    not lose the work, also during the score's initial fit: the partial run is returned with status
    ``'interrupted ...'``. Any other exception raised after the validation (e.g. by a score method) is
    re-raised with the partial run attached as ``exc.run`` (status ``'failed: ...'``). Records are appended
    whole: the lists of a returned run always have consistent lengths.

    Cost: one score update and one velocity evaluation per step (two of each for Heun). When the problem
    has an exact score (``problem.exact_in_time``) the weighted loss :math:`\hat{\mathcal L}_t` costs one more
    velocity evaluation per step (O(N) for :math:`\gamma = 0`, O(N²) otherwise).

    Example:
        >>> run = simulate("bkw3", "exact", n=500, dt=0.05, t_end=6.5, progress=False)
        >>> run.status, len(run.times)
        ('completed', 11)
    """
    return Simulation.build(problem, score, n=n, dt=dt, t_end=t_end, t0=t0, method=method, seed=seed,
                            device=device, dtype=dtype, record_every=record_every, snapshot_times=snapshot_times,
                            backend=backend, progress=progress, x0=x0, score_kwargs=score_kwargs,
                            callback=callback, recorders=recorders, process_group=process_group).run()
