r"""The :class:`Run` record of a simulation (atomic save, validated load), and :class:`NonFiniteError`.

A :class:`Run` holds what :func:`landau_lite.solver.simulate` computed: the parameters, the diagnostics at the
recorded times :math:`t_0 = \tau_0 < \tau_1 < \dots` (moments, entropy production rate
:math:`\frac1N\sum_i s_i\cdot U_i`, score errors, wall time), the exact reference moments where the problem
knows them, the per-step arrays (one entry per time-grid point :math:`t_k`, for integrating the weighted
loss :math:`\int\hat{\mathcal L}_t\,dt`) and particle snapshots.

Saving is atomic: :meth:`Run.save` writes a temporary file in the target directory, flushes it to disk
(``fsync``) and renames it over the target, so an interrupted or failed write (full disk, Ctrl-C) leaves
the previous file untouched. :meth:`Run.load` validates every field (types, ranges, list lengths) and
reports a bad file as one ``ValueError`` naming the file; ``.pt`` files are read with
``torch.load(weights_only=True)`` only. :func:`check_output_path` checks an output path before a long
computation.

Example:
    >>> run = Run(problem="p", score="exact", n=2, dt=0.1, t0=0.0, t_end=0.1, method="euler", seed=0,
    ...           dtype="float64", device="cpu", gamma=0.0, C=1.0, d=2)
    >>> run.append_record(0.0, {"mean": [0.0, 0.0], "cov": [[1.0, 0.0], [0.0, 1.0]], "energy": 2.0, "m4": 8.0,
    ...                         "entropy_rate": -0.1, "score_loss": None, "fisher_error": 0.0,
    ...                         "weighted_score_error": 0.0, "wall": 0.0}, {"energy": 2.0})
    >>> run.times, run.reference
    ([0.0], {'energy': [2.0]})
"""

from __future__ import annotations

import errno
import json
import math
import os
import secrets
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, Callable, Mapping

import numpy as np
import torch

__all__ = ["Run", "NonFiniteError", "DIAGNOSTIC_KEYS", "STEP_KEYS", "REFERENCE_KEYS", "RUN_SUFFIXES",
           "check_output_path", "to_plain"]

#: Diagnostics recorded at every recorded time (see :class:`Run`), in this order.
DIAGNOSTIC_KEYS = ("mean", "cov", "energy", "m4", "entropy_rate", "score_loss", "fisher_error",
                   "weighted_score_error", "wall")

#: Per-step arrays (one entry per time-grid point visited).
STEP_KEYS = ("step_t", "step_weighted_loss", "step_score_loss")

#: Moments that a problem's exact reference may give.
REFERENCE_KEYS = ("mean", "cov", "energy", "m4")

#: File suffixes of :meth:`Run.save` / :meth:`Run.load`.
RUN_SUFFIXES = (".json", ".pt")

_PARAM_KEYS = ("problem", "score", "n", "dt", "t0", "t_end", "method", "seed", "dtype", "device",
               "gamma", "C", "d", "record_every", "backend")

#: top-level names of the JSON layout that a diagnostic key must not take
RESERVED_KEYS = frozenset(_PARAM_KEYS) | {"format", "status", "steps", "wall_time", "t", "diagnostic_keys",
                                          "reference", "snapshot_times", "snapshots", "x_final"} | set(STEP_KEYS)

_FORMAT = "landau_lite.Run/1"


def to_plain(v: Any) -> Any:
    """Tensors/NumPy values → Python floats/lists (JSON- and ``weights_only``-friendly); other values as is.

    Example:
        >>> to_plain(torch.tensor([1.0, 2.0])), to_plain(np.float64(0.5)), to_plain(None)
        ([1.0, 2.0], 0.5, None)
    """
    if isinstance(v, torch.Tensor):
        v = v.detach().cpu()
        return v.item() if v.ndim == 0 else v.tolist()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _suffix(path: str) -> str:
    for suffix in RUN_SUFFIXES:
        if path.endswith(suffix):
            return suffix
    raise ValueError(f"path must end with '.json' or '.pt', got {path!r}")


def check_output_path(path: str | os.PathLike, *, overwrite: bool = False) -> str:
    """Check, before any compute, that a run can be saved to ``path``; return it as a ``str``.

    Raises ``ValueError`` for a suffix other than ``.json``/``.pt``, and an ``OSError`` naming the path when
    the file cannot be written: ``FileNotFoundError`` (the directory does not exist), ``NotADirectoryError``
    (a parent is a file), ``IsADirectoryError`` (``path`` is a directory), ``PermissionError`` (the
    directory is not writable: a probe file is created and removed), ``FileExistsError`` (the file exists and
    ``overwrite`` is false).

    Example:
        >>> import tempfile
        >>> d = tempfile.mkdtemp()
        >>> check_output_path(os.path.join(d, "run.json")).endswith("run.json")
        True
        >>> try:
        ...     check_output_path(os.path.join(d, "missing", "run.json"))
        ... except FileNotFoundError as exc:
        ...     print(exc.strerror.endswith("directory does not exist"))
        True
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    _suffix(path)
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, f"{path}: is a directory, not a file")
    if not os.path.exists(directory):
        raise FileNotFoundError(errno.ENOENT, f"{path}: directory does not exist")
    if not os.path.isdir(directory):
        raise NotADirectoryError(errno.ENOTDIR, f"{path}: {directory} is not a directory")
    if os.path.lexists(path) and not overwrite:
        raise FileExistsError(errno.EEXIST, f"{path}: file exists (pass --force / overwrite to replace it)")
    probe = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(4)}.probe")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise PermissionError(exc.errno or errno.EACCES,
                              f"{path}: directory {directory} is not writable ({exc.strerror})") from None
    os.close(fd)
    os.unlink(probe)
    return path


def _atomic_write(path: str, write: Callable[[Any], None], *, binary: bool) -> None:
    """Write through ``write(file)`` into a temporary file next to ``path``, fsync it, then ``os.replace``."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)   # the umask applies, as for open()
    try:
        with os.fdopen(fd, "wb" if binary else "w") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:   # make the rename itself durable (not possible on every platform/filesystem)
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


@dataclass(repr=False)
class Run:
    r"""Everything a simulation computed.

    Parameters of the run: ``problem, score, n, dt, t0, t_end, method, seed, dtype, device, gamma, C, d``
    (plus ``record_every`` and ``backend``).

    Results:

    * ``times``: the recorded times.
    * ``diagnostics[key]``: one entry per recorded time, for ``key`` in :data:`DIAGNOSTIC_KEYS` (and the
      keys of any extra recorder): ``'mean'`` (list of d floats), ``'cov'`` (d×d nested list), ``'energy'``
      (:math:`\frac1N\sum|X_i|^2`), ``'m4'`` (:math:`\frac1N\sum|X_i|^4`), ``'entropy_rate'``
      (:math:`\frac1N\sum_i s_i\cdot U_i`), ``'score_loss'`` (last training loss of the score method, or
      ``None``), ``'fisher_error'`` (relative Fisher error against the exact score, ``None`` if the problem has
      none), ``'weighted_score_error'`` (:math:`\hat{\mathcal L}_t`, see
      :func:`landau_lite.diagnostics.pair_weighted_loss`; ``None`` without an exact score), ``'wall'``
      (seconds since the start of the run).
    * ``reference``: exact ``'mean','cov','energy','m4'`` at the recorded times, for the keys the problem
      knows at some recorded time (``None`` entries where unknown, e.g. the covariance of a Coulomb problem
      after ``t0``); ``None`` if the problem has no reference at all.
    * ``step_t``, ``step_weighted_loss``, ``step_score_loss``: one entry per time-grid point visited
      (every step, plus the final time), for integrating :math:`\int\hat{\mathcal L}_t\,dt`.
    * ``snapshots``: ``{requested time: particles (CPU tensor)}``; ``x_final``: last particles (CPU).
    * ``steps``: number of completed time steps; ``wall_time``: total seconds;
      ``status``: ``'completed'``, ``'stopped: non-finite ... at step k, t=...'``, ``'interrupted ...'``,
      ``'failed: ...'`` or ``'stopped by callback ...'``.

    A record is appended whole (:meth:`append_record`): all lists of recorded values keep the length of
    ``times``, and the per-step lists keep one common length, even when a run is interrupted.

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

    # -- building ------------------------------------------------------------------------------
    def append_record(self, t: float, diagnostics: Mapping[str, Any],
                      reference: Mapping[str, Any] | None = None) -> None:
        """Append one recorded time with a value for every diagnostic key (all keys at once).

        ``reference`` maps keys of :data:`REFERENCE_KEYS` to the exact value at ``t`` (``None``: unknown).
        A reference key enters ``reference`` the first time it is known, with ``None`` at the earlier
        recorded times. Raises ``KeyError`` (nothing appended) if a diagnostic key is missing or unknown.
        """
        if set(diagnostics) != set(self.diagnostics):
            raise KeyError(f"a record needs exactly the diagnostic keys {sorted(self.diagnostics)}, "
                           f"got {sorted(diagnostics)}")
        ref = {k: v for k, v in (reference or {}).items() if k in REFERENCE_KEYS}
        known = self.reference or {}
        new_keys = [k for k in REFERENCE_KEYS if ref.get(k) is not None and k not in known]
        n_before = len(self.times)
        # everything is computed above; below only appends
        self.times.append(float(t))
        for key, values in self.diagnostics.items():
            values.append(diagnostics[key])
        if new_keys:
            if self.reference is None:
                self.reference = {}
            for key in new_keys:
                self.reference[key] = [None] * n_before
        if self.reference is not None:
            for key, values in self.reference.items():
                values.append(ref.get(key))

    def append_step(self, t: float, weighted_loss: float | None, score_loss: float | None) -> None:
        """Append one entry to the per-step arrays :data:`STEP_KEYS`."""
        self.step_t.append(float(t))
        self.step_weighted_loss.append(weighted_loss)
        self.step_score_loss.append(score_loss)

    def truncate(self, records: int | None = None, steps: int | None = None) -> None:
        """Keep the first ``records`` recorded times and the first ``steps`` per-step entries.

        ``None`` (default) keeps as many as every list of the group holds, i.e. drops a record or step entry
        that an interrupt left appended only in part. Reference keys left without any known value are
        dropped (``reference`` becomes ``None`` if none is left).
        """
        ref_lists = [] if self.reference is None else list(self.reference.values())
        if records is None:
            records = min(len(v) for v in [self.times, *self.diagnostics.values(), *ref_lists])
        if steps is None:
            steps = min(len(getattr(self, key)) for key in STEP_KEYS)
        del self.times[records:]
        for values in self.diagnostics.values():
            del values[records:]
        if self.reference is not None:
            for values in self.reference.values():
                del values[records:]
            self.reference = {k: v for k, v in self.reference.items() if any(e is not None for e in v)} or None
        for key in STEP_KEYS:
            del getattr(self, key)[steps:]

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
        """Save to ``.json`` (parameters + time series) or ``.pt`` (everything, incl. particles).

        The write is atomic: a temporary file in the same directory is written, flushed to disk and renamed
        over ``path``; if anything fails (full disk, interrupt), ``path`` keeps its previous contents and the
        temporary file is removed. The payload is built before anything is written.
        """
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
        path = os.fspath(path)
        suffix = _suffix(path)
        payload = self.to_json_dict()
        if suffix == ".json":
            _atomic_write(path, lambda fh: json.dump(payload, fh, separators=(",", ":")), binary=False)
        else:
            payload["snapshots"] = {float(t): x.detach().cpu() for t, x in self.snapshots.items()}
            payload["x_final"] = None if self.x_final is None else self.x_final.detach().cpu()
            _atomic_write(path, lambda fh: torch.save(payload, fh), binary=True)

    @classmethod
    def from_dict(cls, data: Any) -> "Run":
        """Rebuild a :class:`Run` from :meth:`to_json_dict` output (plus optional tensors), validated.

        Every field is checked (type, range, list lengths against ``t`` and ``step_t``, shapes of the
        moments against ``d``); a bad field raises ``ValueError`` naming it.
        """
        _validate(data)
        keys = list(data["diagnostic_keys"])
        kwargs = {k: data[k] for k in _PARAM_KEYS}
        ref = data["reference"]
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
        A file that is not a valid saved run (truncated, empty, foreign, or with a field of the wrong type or
        range) raises one ``ValueError`` naming the file and the problem; a missing or unreadable file raises
        the usual ``OSError``.
        """
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
        path = os.fspath(path)
        suffix = _suffix(path)
        if os.path.isdir(path):
            raise IsADirectoryError(errno.EISDIR, f"{path}: is a directory")
        if suffix == ".json":
            with open(path, "rb") as fh:
                raw = fh.read()
            try:
                data = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ValueError(f"{path}: not a saved landau_lite Run (not valid JSON: {exc})") from None
        else:
            with open(path, "rb") as fh:     # OSError (missing, unreadable) passes through
                pass
            try:
                data = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as exc:         # noqa: BLE001 - torch raises many types for a bad file
                # torch's own message may advise weights_only=False: never repeat that for a foreign file
                raise ValueError(f"{path}: not a saved landau_lite Run (torch.load with weights_only=True "
                                 f"failed: {type(exc).__name__}; the file is truncated, empty or not a "
                                 f"file written by Run.save)") from None
        try:
            return cls.from_dict(data)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

    def summary(self) -> str:
        """One line: problem, score, N, dt, interval, status, wall time and the final moments."""
        parts = [f"{self.problem} | score={self.score} n={self.n} dt={self.dt:g} {self.method} "
                 f"t=[{self.t0:g}, {self.t_end:g}] {self.dtype} {self.device}: {self.status} "
                 f"({self.steps} steps, {self.wall_time:.2f} s)"]
        if self.times:
            for key in ("energy", "m4"):
                val = self.diagnostics.get(key, [None])[-1]
                if not isinstance(val, Real):
                    continue
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


# ----------------------------------------------------------------------------------------------
# validation of a loaded run
# ----------------------------------------------------------------------------------------------

def _fail(key: str, what: str, value: Any) -> ValueError:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return ValueError(f"field {key!r} must be {what}, got {text}")


def _is_int(v: Any) -> bool:
    return isinstance(v, Integral) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    """A real number (NaN/inf allowed: a diagnostic may be NaN)."""
    return isinstance(v, Real) and not isinstance(v, bool)


def _is_finite(v: Any) -> bool:
    return _is_num(v) and math.isfinite(float(v))


def _vector(v: Any, d: int) -> bool:
    return isinstance(v, list) and len(v) == d and all(_is_num(e) for e in v)


def _matrix(v: Any, d: int) -> bool:
    return isinstance(v, list) and len(v) == d and all(_vector(r, d) for r in v)


def _check_value_list(key: str, values: Any, length: int, d: int, *, nullable: bool) -> None:
    """A list of ``length`` recorded values of ``key`` (shape by key; ``None`` entries if ``nullable``)."""
    if not isinstance(values, list) or len(values) != length:
        got = f"a list of length {len(values)}" if isinstance(values, list) else type(values).__name__
        raise ValueError(f"field {key!r} must be a list with one entry per recorded time ({length}), got {got}")
    shape = {"mean": ("a list of d numbers", lambda v: _vector(v, d)),
             "cov": ("a d×d nested list of numbers", lambda v: _matrix(v, d))}
    what, ok = shape.get(key.split(".")[-1], ("a number", _is_num))
    for i, v in enumerate(values):
        if v is None and nullable:
            continue
        if not ok(v):
            raise _fail(f"{key}[{i}]", what + (" or null" if nullable else ""), v)


def _validate(data: Any) -> None:
    """Raise ``ValueError`` naming the first field of a saved run that has the wrong type, range or length."""
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        raise ValueError(f"not a saved landau_lite Run (expected a dict with format {_FORMAT!r})")
    missing = [k for k in _PARAM_KEYS + ("status", "steps", "wall_time", "t", "reference") + STEP_KEYS
               if k not in data]
    if missing:
        raise ValueError(f"not a complete saved Run: missing fields {missing}")
    for key in ("problem", "score", "method", "device", "backend", "status"):
        if not isinstance(data[key], str) or not data[key]:
            raise _fail(key, "a non-empty string", data[key])
    if data["dtype"] not in ("float32", "float64"):
        raise _fail("dtype", "'float32' or 'float64'", data["dtype"])
    if not _is_int(data["n"]) or data["n"] < 2:
        raise _fail("n", "an integer >= 2", data["n"])
    if not _is_int(data["d"]) or data["d"] < 2:
        raise _fail("d", "an integer >= 2", data["d"])
    if not _is_int(data["seed"]) or data["seed"] < 0:
        raise _fail("seed", "an integer >= 0", data["seed"])
    if not _is_int(data["steps"]) or data["steps"] < 0:
        raise _fail("steps", "an integer >= 0", data["steps"])
    for key in ("dt", "C"):
        if not _is_finite(data[key]) or data[key] <= 0:
            raise _fail(key, "a finite number > 0", data[key])
    for key in ("t0", "gamma"):
        if not _is_finite(data[key]):
            raise _fail(key, "a finite number", data[key])
    if not _is_finite(data["t_end"]) or data["t_end"] <= data["t0"]:
        raise _fail("t_end", f"a finite number > t0 = {data['t0']!r}", data["t_end"])
    re = data["record_every"]
    if not ((_is_int(re) and re >= 1) or (isinstance(re, float) and math.isfinite(re) and re > 0)):
        raise _fail("record_every", "an integer >= 1 or a finite float > 0", re)
    if not _is_finite(data["wall_time"]) or data["wall_time"] < 0:
        raise _fail("wall_time", "a finite number >= 0", data["wall_time"])
    d = int(data["d"])
    times = data["t"]
    if not isinstance(times, list) or not all(_is_finite(v) for v in times):
        raise _fail("t", "a list of finite numbers", times)
    if any(b <= a for a, b in zip(times, times[1:])):
        raise ValueError("field 't' must be increasing")
    n_rec = len(times)
    keys = data.get("diagnostic_keys", list(DIAGNOSTIC_KEYS))
    if not isinstance(keys, list) or not all(isinstance(k, str) and k and k not in RESERVED_KEYS for k in keys) \
            or len(set(keys)) != len(keys):
        raise _fail("diagnostic_keys", "a list of distinct names (not a reserved field)", keys)
    for key in keys:
        if key not in data:
            raise ValueError(f"missing field {key!r} (listed in diagnostic_keys)")
        if key in DIAGNOSTIC_KEYS:
            _check_value_list(key, data[key], n_rec, d,
                              nullable=key in ("score_loss", "fisher_error", "weighted_score_error"))
        elif not isinstance(data[key], list) or len(data[key]) != n_rec:
            raise ValueError(f"field {key!r} must be a list with one entry per recorded time ({n_rec})")
    ref = data["reference"]
    if ref is not None:
        if not isinstance(ref, dict) or not ref or not set(ref) <= set(REFERENCE_KEYS):
            raise _fail("reference", f"null or a dict with keys among {list(REFERENCE_KEYS)}", ref)
        for key, values in ref.items():
            _check_value_list(f"reference.{key}", values, n_rec, d, nullable=True)
    step_t = data["step_t"]
    if not isinstance(step_t, list) or not all(_is_finite(v) for v in step_t):
        raise _fail("step_t", "a list of finite numbers", step_t)
    if any(b <= a for a, b in zip(step_t, step_t[1:])):
        raise ValueError("field 'step_t' must be increasing")
    for key in ("step_weighted_loss", "step_score_loss"):
        values = data[key]
        if not isinstance(values, list) or len(values) != len(step_t):
            raise ValueError(f"field {key!r} must be a list of the length of 'step_t' ({len(step_t)})")
        bad = next((i for i, v in enumerate(values) if v is not None and not _is_num(v)), None)
        if bad is not None:
            raise _fail(f"{key}[{bad}]", "a number or null", values[bad])
    snap_times = data.get("snapshot_times", [])
    if not isinstance(snap_times, list) or not all(_is_finite(v) for v in snap_times):
        raise _fail("snapshot_times", "a list of finite numbers", snap_times)
    _validate_tensors(data, d)


def _validate_tensors(data: Mapping, d: int) -> None:
    """The particle tensors of a ``.pt`` run: ``(n, d)`` float tensors of the run's dtype."""
    n, dtype = int(data["n"]), {"float32": torch.float32, "float64": torch.float64}[data["dtype"]]

    def check(key: str, x: Any) -> None:
        if not isinstance(x, torch.Tensor) or tuple(x.shape) != (n, d) or x.dtype != dtype:
            got = (f"a tensor of shape {tuple(x.shape)} and dtype {x.dtype}" if isinstance(x, torch.Tensor)
                   else type(x).__name__)
            raise ValueError(f"field {key!r} must be a ({n}, {d}) tensor of dtype {dtype}, got {got}")

    snaps = data.get("snapshots")
    if snaps is not None:
        if not isinstance(snaps, dict) or not all(_is_finite(t) for t in snaps):
            raise _fail("snapshots", "a dict {time: particles}", type(snaps).__name__)
        for t, x in snaps.items():
            check(f"snapshots[{t!r}]", x)
        if [float(t) for t in snaps] != [float(t) for t in data.get("snapshot_times", [])]:
            raise ValueError("field 'snapshots' must hold the times listed in 'snapshot_times'")
    if data.get("x_final") is not None:
        check("x_final", data["x_final"])


class NonFiniteError(RuntimeError):
    """A score value, velocity or particle became NaN/inf during :func:`~landau_lite.solver.simulate`.

    The message names the step index, the time and the quantity (``'score'``, ``'velocity'``,
    ``'particles'``, or a Heun stage such as ``'score (Heun corrector)'``). The attribute ``run`` holds the
    partial :class:`Run` with everything computed before the failure (its ``status`` says what happened,
    ``x_final`` holds the last finite particles).

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
