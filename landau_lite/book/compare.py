r"""Methods side by side: run score methods × particle numbers × seeds on one problem and measure the dynamics.

A run of the comparison is one :class:`RunSpec` (problem, score method, :math:`N`, :math:`\Delta t`, horizon, seed,
velocity backend, score options). Each run is made either in-process (:func:`landau_lite.solver.simulate`) or through
the command line, ``python -m landau_lite run ...`` (:meth:`RunSpec.command`); :func:`metrics` reads the saved run
(``.json`` or ``.pt``) or the :class:`~landau_lite.solver.Run` object. Over the window :math:`[t_0, T]` of the run it
computes

* ``m4_change`` :math:`\hat m_4(T)-\hat m_4(t_0)` of the particles (:math:`\hat m_4=\frac1N\sum_i|X_i|^4`), the exact
  ``m4_change_ref`` :math:`E_{f_T}|v|^4-E_{f_{t_0}}|v|^4`, and their ratio ``relaxation`` (1: the relaxation of the
  fourth moment is resolved; 0: frozen particles; :math:`\approx\frac12`: a collision constant half as large);
* ``entropy_change`` :math:`\int_{t_0}^T\frac1N\sum_is_i\cdot U_i\,dt` (trapezoidal rule over the recorded times;
  with the exact score a Monte-Carlo estimate of :math:`H(f_T)-H(f_{t_0})`, :math:`H=\int f\log f`), the exact
  ``entropy_change_ref`` (:func:`landau_lite.book.experiments.exact_entropy`) and their ratio ``dissipation``;
* ``weighted_error`` :math:`\int_{t_0}^T\hat{\mathcal L}_t\,dt\,/\,2|H(f_T)-H(f_{t_0})|`: the score error in the
  quadratic form of the collision operator, :math:`\hat{\mathcal L}_t=\frac1{N^2}\sum_{i,j}(\delta_i-\delta_j)\cdot
  A(X_i-X_j)(\delta_i-\delta_j)` with :math:`\delta_i=s_i-\nabla\log f_t(X_i)`, relative to the same form of the
  exact score, :math:`\int 2D\,dt=2|\Delta H|` (:math:`D=-dH/dt` the entropy dissipation); 0 for the exact score;
* ``m4``, ``m4_ref``, ``m4_err`` :math:`|\hat m_4(T)-E_{f_T}|v|^4|/E_{f_T}|v|^4`; ``cov_err``
  :math:`\max_{kl}|\hat\Sigma_{kl}-\Sigma_{kl}|` (``nan`` where the covariance is not known);
* ``fisher_err`` at :math:`T`: :math:`\sum_i|s_i-\nabla\log f_T(X_i)|^2/\sum_i|\nabla\log f_T(X_i)|^2` (0 for the exact
  score);
* with ``kde=True`` (needs the particles: a ``.pt`` file or a ``Run``): ``kl_kde``, ``kl_base``, ``kl_excess``, the
  kernel-density estimate of :math:`\mathrm{KL}(f_T\Vert\hat g)` of :func:`landau_lite.analysis.certificate.kl_kde`,
  the same estimator on exact samples (its bias) and their difference;
* ``wall_time`` (machine-dependent) and ``steps``.

Several seeds of one spec are combined by :func:`aggregate` (mean and standard error over the seeds);
:func:`paired_differences` subtracts, seed by seed, the exact-score run that started from the **same** initial
particles (common random numbers: the sampling error of the start cancels). :func:`check_change` is the check of
the book's chapter 10: the change of a quantity over the window, averaged over seeds, against the exact change.
:func:`format_table` prints a Markdown table with words as headers (:data:`COLUMN_TITLES`), ``mean ± s.e.`` cells
for aggregated rows.

From the shell, after the commands of :func:`shell_commands`, ``python -m landau_lite.book.compare DIR/*.pt`` prints
the same table.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import shlex
import sys
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from .._checks import check_choice, check_int, check_positive, check_real
from ..cli import EXIT_FAILURE, EXIT_NONFINITE, EXIT_OK, EXIT_OUTPUT, EXIT_SIGINT, EXIT_SIGTERM, EXIT_USAGE

__all__ = [
    "RunSpec",
    "run_spec",
    "metrics",
    "compare_methods",
    "summarize",
    "aggregate",
    "paired_differences",
    "check_change",
    "format_table",
    "fmt_pm",
    "shell_commands",
    "COLUMN_TITLES",
    "DEFAULT_COLUMNS",
    "CLI_EXIT_CODES",
]

#: columns of :func:`format_table` by default (wall time is machine-dependent: ask for it explicitly)
DEFAULT_COLUMNS = ("problem", "method", "n", "seeds", "relaxation", "dissipation", "weighted_error", "fisher_err")

#: table headers: words, not variable names
COLUMN_TITLES = {
    "problem": "problem",
    "score": "score",
    "method": "method",
    "n": "N",
    "seed": "seed",
    "seeds": "seeds",
    "dt": "Δt",
    "t_end": "T",
    "steps": "steps",
    "status": "status",
    "m4": "E|v|⁴(T) of the particles",
    "m4_ref": "exact E|v|⁴(T)",
    "m4_err": "rel. error of E|v|⁴(T)",
    "m4_change": "change of E|v|⁴",
    "m4_change_ref": "exact change of E|v|⁴",
    "relaxation": "E|v|⁴ change / exact",
    "entropy_change": "change of entropy",
    "entropy_change_ref": "exact change of entropy",
    "dissipation": "entropy change / exact",
    "weighted_error": "collision-norm error",
    "fisher_err": "Fisher error at T",
    "cov_err": "covariance error at T",
    "kl_kde": "KDE estimate of KL",
    "kl_base": "KDE estimate on exact samples",
    "kl_excess": "KL excess over exact samples",
    "m4_vs_exact": "E|v|⁴(T) minus exact-score run",
    "wall_time": "wall time [s]",
    "per_step": "per step [s]",
}

#: meaning of the exit codes of ``python -m landau_lite run`` (see ``python -m landau_lite run --help``)
CLI_EXIT_CODES = {EXIT_OK: "completed", EXIT_NONFINITE: "stopped on a non-finite value", EXIT_USAGE: "bad arguments",
                  EXIT_FAILURE: "runtime failure", EXIT_OUTPUT: "output path not usable", EXIT_SIGINT: "interrupted",
                  EXIT_SIGTERM: "terminated"}


def _fmt_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


@dataclass(frozen=True)
class RunSpec:
    r"""One run of the comparison: the arguments of :func:`landau_lite.solver.simulate` / of the CLI.

    Args:
        problem: problem name (:func:`landau_lite.problems.get_problem`); score: ``'exact'``, ``'blob'`` or ``'sbtm'``.
        n: particles (``>= 2``); dt: time step; t_end: final time; seed: seed of the initial particles (and of a
            neural score): runs with the same problem, ``n`` and seed start from the same particles;
            method: ``'euler'``/``'heun'``; dtype: ``'float64'``/``'float32'``; device: ``'auto'``, ``'cpu'``...;
            backend: velocity backend (``'auto'``, ``'compiled'``, ``'chunked'``, ``'moments'``).
        score_kwargs: options of the score method (:func:`landau_lite.scores.make_score`), as a dict.
        name: the method's name in tables (default: the score method, e.g. ``'sbtm'``); not passed to the run.

    Example:
        >>> RunSpec("bkw3", "exact", n=500, dt=0.05, t_end=6.5).command("runs/exact_500.pt")
        'python -m landau_lite run --problem bkw3 --score exact --n 500 --dt 0.05 --t-end 6.5 --seed 0 --method euler --dtype float64 --device auto --out runs/exact_500.pt'
        >>> RunSpec("bkw3", "blob", n=500, dt=0.05, t_end=6.5, backend="compiled",
        ...         score_kwargs={"backend": "compiled"}).cli_args()[-4:]
        ['--backend', 'compiled', '--score-opt', 'backend=compiled']
    """

    problem: str = "bkw3"
    score: str = "exact"
    n: int = 1000
    dt: float = 0.05
    t_end: float = 7.0
    seed: int = 0
    method: str = "euler"
    dtype: str = "float64"
    device: str = "auto"
    backend: str = "auto"
    score_kwargs: dict = field(default_factory=dict, hash=False)
    name: str = ""

    def __post_init__(self) -> None:
        from ..problems import PROBLEMS
        from ..scores import SCORE_METHODS
        from ..velocity import BACKENDS

        check_choice(self.problem, "problem", PROBLEMS)
        check_choice(self.score, "score", SCORE_METHODS)
        check_int(self.n, "n", lo=2)
        check_positive(self.dt, "dt")
        check_real(self.t_end, "t_end")
        check_int(self.seed, "seed", lo=0)
        check_choice(self.method, "method", ("euler", "heun"))
        check_choice(self.dtype, "dtype", ("float64", "float32"))
        check_choice(self.backend, "backend", BACKENDS)
        if not isinstance(self.device, str):
            raise TypeError(f"device must be a string ('auto', 'cpu', 'cuda'), got {type(self.device).__name__}")
        if not isinstance(self.score_kwargs, dict) or not all(isinstance(k, str) for k in self.score_kwargs):
            raise TypeError("score_kwargs must be a dict with string keys")
        if self.score_kwargs and self.score == "exact":
            raise ValueError("score_kwargs must be empty for score='exact'")
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a string, got {type(self.name).__name__}")

    @property
    def method_name(self) -> str:
        """The method's name in tables: ``name`` if set, else the score method."""
        return self.name or self.score

    @property
    def label(self) -> str:
        """Short name, e.g. ``'sbtm N=1000'``."""
        return f"{self.method_name} N={self.n}"

    def cli_args(self, out: str | None = None) -> list[str]:
        """Arguments of ``python -m landau_lite`` (starting with ``run``) that reproduce this run.

        Score options become ``--score-opt KEY=VALUE`` (one per option); ``--backend`` is given when not ``auto``.
        """
        args = ["run", "--problem", self.problem, "--score", self.score, "--n", str(self.n), "--dt", repr(self.dt),
                "--t-end", repr(self.t_end), "--seed", str(self.seed), "--method", self.method,
                "--dtype", self.dtype, "--device", self.device]
        if self.backend != "auto":
            args += ["--backend", self.backend]
        for key, value in self.score_kwargs.items():
            args += ["--score-opt", f"{key}={_fmt_value(value)}"]
        if out is not None:
            args += ["--out", str(out)]
        return args

    def command(self, out: str | None = None) -> str:
        """The shell command ``python -m landau_lite run ...`` for this run."""
        return "python -m landau_lite " + " ".join(shlex.quote(a) for a in self.cli_args(out))

    def file_name(self) -> str:
        """``{problem}_{name}_{n}_seed{seed}.pt``: where :func:`compare_methods` and :func:`shell_commands` save it."""
        return f"{self.problem}_{self.method_name}_{self.n}_seed{self.seed}.pt"


def run_spec(spec: RunSpec, *, out: str | os.PathLike | None = None, via_cli: bool = False,
             progress: bool = False, force: bool = False) -> Any:
    r"""Run one spec and return the :class:`~landau_lite.solver.Run`.

    ``via_cli=False``: :func:`landau_lite.solver.simulate` in this process (saved to ``out`` if given).
    ``via_cli=True``: :func:`landau_lite.cli.main` with :meth:`RunSpec.cli_args` (``out`` required, ``.json`` or
    ``.pt``; ``force=True`` adds ``--force``, without which the CLI refuses an existing file), then :meth:`Run.load`
    — exactly what the shell command does. A non-zero exit code raises ``RuntimeError`` naming its meaning
    (:data:`CLI_EXIT_CODES`).
    """
    from ..solver import Run, simulate

    if not isinstance(spec, RunSpec):
        raise TypeError(f"spec must be a RunSpec, got {type(spec).__name__}")
    for name, flag in (("via_cli", via_cli), ("progress", progress), ("force", force)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")
    if out is not None:
        out = os.fspath(out)
        if not (out.endswith(".json") or out.endswith(".pt")):
            raise ValueError(f"out must end with .json or .pt, got {out!r}")
    if via_cli:
        from ..cli import main as cli_main

        if out is None:
            raise ValueError("via_cli=True needs out=... (the CLI writes the run to a file)")
        argv = spec.cli_args(out) + ([] if progress else ["--no-progress"]) + (["--force"] if force else [])
        with contextlib.redirect_stdout(io.StringIO()):          # the CLI prints a one-line summary
            code = cli_main(argv)
        code = 0 if code is None else code
        if code != 0:
            raise RuntimeError(f"python -m landau_lite {' '.join(argv)} exited with code {code} "
                               f"({CLI_EXIT_CODES.get(code, 'unknown')})")
        return Run.load(out)
    dtype = torch.float64 if spec.dtype == "float64" else torch.float32
    run = simulate(spec.problem, spec.score, n=spec.n, dt=spec.dt, t_end=spec.t_end, method=spec.method,
                   seed=spec.seed, device=spec.device, dtype=dtype, progress=progress, backend=spec.backend,
                   score_kwargs=dict(spec.score_kwargs) or None)
    if out is not None:
        run.save(out)
    return run


def _last(values: Sequence[Any]) -> float:
    v = values[-1] if len(values) else None
    return math.nan if v is None else float(v)


def _trapezoid(y: np.ndarray, t: np.ndarray) -> float:
    ok = np.isfinite(y)
    if len(y) < 2 or not ok.all():
        return math.nan
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(t)))


def metrics(run: Any, *, kde: bool = False, reps: int = 3, seed: int = 0, n_mc: int | None = None,
            device: str | torch.device = "auto") -> dict[str, Any]:
    r"""Accuracy of a run over its window :math:`[t_0, T]` (see the module docstring for the definitions).

    Args:
        run: a :class:`~landau_lite.solver.Run` (or a path to a saved ``.json``/``.pt`` run).
        kde: also compute the KDE-based KL numbers (needs the final particles and a problem with exact samples).
        reps: exact-sample draws for the estimator's baseline ``kl_base``. seed: seed of those draws.
        n_mc: samples of :math:`f_T` per KDE estimate (default :math:`\min(4N, 50\,000)`).
        device: where the KDE sums run (``'auto'``: CUDA when available; they cost :math:`O(N\cdot n_{mc})`).

    Returns:
        a dict with ``problem, score, n, seed, dt, t0, t_end, steps, status, wall_time, m4, m4_ref, m4_err,
        m4_change, m4_change_ref, relaxation, entropy_change, entropy_change_ref, dissipation, weighted_error,
        cov_err, fisher_err`` and, with ``kde``, ``kl_kde, kl_base, kl_excess`` (``nan`` where not computable).
    """
    from ..analysis.certificate import kl_kde
    from ..device import pick_device
    from .experiments import exact_entropy
    from ..problems import get_problem
    from ..solver import Run

    if isinstance(run, (str, os.PathLike)):
        run = Run.load(run)
    if not isinstance(run, Run):
        raise TypeError(f"run must be a landau_lite Run or a path to a saved run, got {type(run).__name__}")
    if not isinstance(kde, bool):
        raise TypeError(f"kde must be a bool, got {type(kde).__name__}")
    reps = check_int(reps, "reps", lo=1)
    seed = check_int(seed, "seed", lo=0)
    if n_mc is not None:
        n_mc = check_int(n_mc, "n_mc", lo=2)
    if len(run.times) < 2:
        raise ValueError(f"run must have at least two recorded times (start and end), got {len(run.times)}")
    t0, t_end = float(run.times[0]), float(run.times[-1])
    out: dict[str, Any] = {"problem": run.problem, "score": run.score, "n": run.n, "seed": run.seed, "dt": run.dt,
                           "t0": t0, "t_end": t_end, "steps": run.steps, "status": run.status,
                           "wall_time": run.wall_time}
    m4 = run.series("m4")
    ref = run.reference or {}
    m4_ref = np.array([math.nan if v is None else float(v) for v in ref.get("m4") or [None] * len(m4)])
    out.update(m4=float(m4[-1]), m4_ref=float(m4_ref[-1]),
               m4_err=abs(float(m4[-1]) - float(m4_ref[-1])) / abs(float(m4_ref[-1])),
               m4_change=float(m4[-1] - m4[0]), m4_change_ref=float(m4_ref[-1] - m4_ref[0]))
    out["relaxation"] = out["m4_change"] / out["m4_change_ref"] if out["m4_change_ref"] else math.nan
    if "cov" in ref and ref["cov"] and ref["cov"][-1] is not None:
        cov = np.asarray(run.diagnostics["cov"][-1], dtype=float)
        out["cov_err"] = float(np.abs(cov - np.asarray(ref["cov"][-1], dtype=float)).max())
    else:
        out["cov_err"] = math.nan
    fe = _last(run.diagnostics["fisher_error"])
    out["fisher_err"] = 0.0 if (run.score == "exact" and fe != fe) else fe

    times = np.asarray(run.times, dtype=float)
    out["entropy_change"] = _trapezoid(run.series("entropy_rate"), times)
    try:
        problem = get_problem(run.problem)
        h_ref = exact_entropy(problem, t_end) - exact_entropy(problem, t0)
    except ValueError:
        problem, h_ref = None, math.nan
    out["entropy_change_ref"] = h_ref
    out["dissipation"] = out["entropy_change"] / h_ref if h_ref == h_ref and h_ref != 0 else math.nan
    wl = _trapezoid(run.series("step_weighted_loss"), run.series("step_t"))
    out["weighted_error"] = 0.0 if run.score == "exact" else (wl / (2.0 * abs(h_ref)) if h_ref == h_ref else math.nan)

    out.update(kl_kde=math.nan, kl_base=math.nan, kl_excess=math.nan)
    if kde and run.x_final is not None and problem is not None and getattr(problem, "exact_in_time", False):
        dev = pick_device(device)
        x = run.x_final.to(device=dev, dtype=torch.float64)
        n, d = x.shape
        m = min(4 * n, 50_000) if n_mc is None else n_mc
        xc = x - x.mean(0)
        h = math.sqrt(float((xc * xc).sum()) / (n * d)) * n ** (-1.0 / (d + 4))
        gen = torch.Generator().manual_seed(seed)

        def exact(k: int) -> torch.Tensor:
            return problem.sample(k, t=t_end, generator=gen).to(dev)

        kl, _ = kl_kde(problem, t_end, x, bandwidth=h, y=exact(m))
        base = [kl_kde(problem, t_end, exact(n), bandwidth=h, y=exact(m))[0] for _ in range(reps)]
        out.update(kl_kde=kl, kl_base=float(np.mean(base)), kl_excess=kl - float(np.mean(base)))
    return out


def compare_methods(specs: Iterable[RunSpec], *, via_cli: bool = False, out_dir: str | os.PathLike | None = None,
                    progress: bool = False, kde: bool = False, reps: int = 3,
                    keep_runs: bool = False) -> list[dict[str, Any]]:
    r"""Run every spec (:func:`run_spec`) and return one :func:`metrics` row per run, in order.

    Each row also carries ``method`` (:attr:`RunSpec.method_name`). With ``out_dir`` every run is saved as
    ``out_dir/`` :meth:`RunSpec.file_name` (needed for ``via_cli``). ``keep_runs=True`` adds the
    :class:`~landau_lite.solver.Run` itself under ``'run'``.
    """
    specs = list(specs)
    if not specs or not all(isinstance(s, RunSpec) for s in specs):
        raise TypeError("specs must be a non-empty iterable of RunSpec")
    if via_cli and out_dir is None:
        raise ValueError("via_cli=True needs out_dir=... (the CLI writes each run to a file)")
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
    rows = []
    for spec in specs:
        out = None if out_dir is None else os.path.join(os.fspath(out_dir), spec.file_name())
        run = run_spec(spec, out=out, via_cli=via_cli, progress=progress)
        row = metrics(run, kde=kde, reps=reps, seed=spec.seed)
        row["method"] = spec.method_name
        if keep_runs:
            row["run"] = run
        rows.append(row)
    return rows


def summarize(paths: Iterable[str | os.PathLike], *, kde: bool = False, reps: int = 3) -> list[dict[str, Any]]:
    """:func:`metrics` of saved runs (``.pt`` files carry the particles, so they also get the KL numbers).

    The method's name is read from the file name when it follows :meth:`RunSpec.file_name`, else the score."""
    rows = []
    for p in paths:
        row = metrics(p, kde=kde, reps=reps)
        stem = os.path.basename(os.fspath(p)).rsplit(".", 1)[0]
        prefix, suffix = f"{row['problem']}_", f"_{row['n']}_seed{row['seed']}"
        row["method"] = stem[len(prefix):-len(suffix)] if stem.startswith(prefix) and stem.endswith(suffix) \
            and len(stem) > len(prefix) + len(suffix) else row["score"]
        rows.append(row)
    return rows


_GROUP = ("problem", "method", "n", "dt", "t_end")


def aggregate(rows: Sequence[dict[str, Any]], keys: Sequence[str], *,
              by: Sequence[str] = _GROUP) -> list[dict[str, Any]]:
    r"""Combine the seeds of each group of rows: mean and standard error :math:`s/\sqrt S` over the :math:`S` seeds.

    Rows with equal values of ``by`` form a group (in order of first appearance). The result has the ``by`` values,
    ``seeds`` (:math:`S`), and for every key of ``keys`` its mean under ``key`` and its standard error under
    ``key + '_se'`` (``nan`` for a single seed).

    Example:
        >>> rows = [{"method": "exact", "n": 10, "x": v} for v in (1.0, 2.0, 3.0)]
        >>> g, = aggregate(rows, ["x"], by=["method", "n"])
        >>> g["seeds"], g["x"], round(g["x_se"], 4)
        (3, 2.0, 0.5774)
    """
    if not rows:
        raise ValueError("rows must not be empty")
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        missing = [k for k in list(by) + list(keys) if k not in r]
        if missing:
            raise ValueError(f"a row lacks {missing}; available: {sorted(r)}")
        groups.setdefault(tuple(r[k] for k in by), []).append(r)
    out = []
    for key, members in groups.items():
        g: dict[str, Any] = dict(zip(by, key))
        g["seeds"] = len(members)
        for k in keys:
            v = np.array([float(m[k]) for m in members])
            g[k] = float(v.mean())
            g[k + "_se"] = float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else math.nan
        out.append(g)
    return out


def paired_differences(rows: Sequence[dict[str, Any]], baseline: Sequence[dict[str, Any]], key: str, *,
                       name: str | None = None) -> list[dict[str, Any]]:
    r"""Seed by seed, ``row[key] - base[key]`` where ``base`` is the baseline run with the same problem, :math:`N`,
    :math:`\Delta t`, horizon and seed (i.e. the same initial particles). Returns copies of ``rows`` with the
    difference under ``name`` (default ``key + '_vs_exact'``). A row without its baseline is a ``ValueError``.
    """
    name = key + "_vs_exact" if name is None else name
    index = {(b["problem"], b["n"], b["dt"], b["t_end"], b["seed"]): b for b in baseline}
    out = []
    for r in rows:
        k = (r["problem"], r["n"], r["dt"], r["t_end"], r["seed"])
        if k not in index:
            raise ValueError(f"no baseline run for problem={k[0]!r}, N={k[1]}, dt={k[2]}, T={k[3]}, seed={k[4]}")
        out.append(dict(r, **{name: float(r[key]) - float(index[k][key])}))
    return out


_QUANTITIES = {"m4": ("m4_change", "m4_change_ref", "change of E|v|⁴"),
               "entropy": ("entropy_change", "entropy_change_ref", "change of entropy")}


def check_change(rows: Sequence[dict[str, Any]], quantity: str, *, confidence: float = 0.99, bias: float = 0.02,
                 label: str = "") -> dict[str, float]:
    r"""Check that the particles resolve the dynamics: the change of ``quantity`` over the window, averaged over
    the seeds in ``rows``, against the exact change.

    ``quantity``: ``'m4'`` (:math:`\Delta\hat m_4`) or ``'entropy'`` (:math:`\int\frac1N\sum_is_i\cdot U_i\,dt` against
    :math:`\Delta H`). ``rows``: :func:`metrics` rows of one spec with :math:`S\ge2` seeds. The tolerance is the
    half-width of the ``confidence`` interval of the seed mean, :math:`t_{S-1}\cdot s/\sqrt S` (Student :math:`t`
    quantile, :math:`s` the standard deviation over the seeds), plus ``bias`` times the exact change (room for the
    time-step error). The tolerance must also be below half the exact change, so that frozen particles (change 0),
    reversed particles (the opposite sign) and a collision constant off by a factor 2 (half the change) all fail.
    Prints one verdict line (:func:`landau_lite.book.verify.check_close`; a tolerance of half the change or more is
    reported by :func:`~landau_lite.book.verify.check_le` as a failure); raises ``AssertionError`` when either fails.
    Returns ``mean``, ``se`` (:math:`s/\sqrt S`), ``exact``, ``tol``.
    """
    from scipy.stats import t as student_t

    from .verify import check_close, check_le

    key, key_ref, what = _QUANTITIES[check_choice(quantity, "quantity", _QUANTITIES)]
    confidence = check_real(confidence, "confidence", lo=0.5, hi=1.0, hi_open=True)
    bias = check_real(bias, "bias", lo=0.0, hi=0.5)
    if len(rows) < 2:
        raise ValueError(f"rows must hold at least two seeds of one spec, got {len(rows)}")
    ids = {(r["problem"], r["score"], r["n"], r["dt"], r["t_end"]) for r in rows}
    if len(ids) != 1 or len({r["seed"] for r in rows}) != len(rows):
        raise ValueError("rows must be distinct seeds of one spec (same problem, score, N, dt, T)")
    v = np.array([float(r[key]) for r in rows])
    exact = float(rows[0][key_ref])
    if not math.isfinite(exact) or exact == 0:
        raise ValueError(f"the exact {what} is not available for problem {rows[0]['problem']!r}")
    S = len(v)
    mean, se = float(v.mean()), float(v.std(ddof=1) / math.sqrt(S))
    tol = float(student_t.ppf(0.5 + confidence / 2, S - 1)) * se + bias * abs(exact)
    head = f"{label}: " if label else ""
    if not tol < 0.5 * abs(exact):       # the check would not see a collision constant off by a factor 2
        check_le(f"{head}tolerance for the {what} vs half the exact change", tol, 0.5 * abs(exact), digits=2)
    check_close(f"{head}{what} over the window, mean of {S} seeds (tol.: {100 * confidence:g} % interval + "
                f"{100 * bias:g} %, < half the change)", mean, exact, atol=tol, digits=3)
    return {"mean": mean, "se": se, "exact": exact, "tol": tol}


def fmt_pm(mean: float, se: float | None = None, *, digits: int = 3) -> str:
    r"""``'mean ± se'`` with the standard error to 1 significant digit (2 if it starts with 1) and the mean to the
    same decimal place; without a finite ``se``, the mean to ``digits`` significant digits.

    Example:
        >>> fmt_pm(1.02345, 0.0312), fmt_pm(0.5, 0.14), fmt_pm(12.3456, float("nan")), fmt_pm(0.0, 0.0)
        ('1.02 ± 0.03', '0.50 ± 0.14', '12.3', '0')
    """
    if not math.isfinite(mean):
        return "nan"
    if se is None or not math.isfinite(se) or se <= 0:
        return "0" if mean == 0 else f"{mean:.{digits}g}"
    exp = math.floor(math.log10(se))
    sig = 2 if f"{se:.1e}".startswith("1") else 1
    dec = max(0, sig - 1 - exp)
    return f"{mean:.{dec}f} ± {se:.{dec}f}"


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] = DEFAULT_COLUMNS, *,
                 digits: int = 3, titles: dict[str, str] | None = None) -> str:
    """A Markdown table of ``rows`` with word headers (:data:`COLUMN_TITLES`, overridden by ``titles``).

    A ``|`` inside a header or cell is escaped (``\\|``). A float cell with a ``key + '_se'`` entry in its row is printed as ``mean ± s.e.`` (:func:`fmt_pm`); other
    floats with ``digits`` significant digits.

    Example:
        >>> print(format_table([{"method": "exact", "n": 10, "m4_err": 0.012345}], ["method", "n", "m4_err"]))
        | method | N | rel. error of E\\|v\\|⁴(T) |
        |---|---|---|
        | exact | 10 | 0.0123 |
    """
    digits = check_int(digits, "digits", lo=1)
    if not rows:
        raise ValueError("rows must not be empty")
    for c in columns:
        if not all(c in r for r in rows):
            raise ValueError(f"column {c!r} is missing from some rows; available: {sorted(rows[0])}")
    names = dict(COLUMN_TITLES, **(titles or {}))

    def esc(text: str) -> str:             # a "|" inside a cell (as in E|v|⁴) would split it
        return text.replace("|", "\\|")

    def cell(r: dict[str, Any], c: str) -> str:
        v = r[c]
        if isinstance(v, float):
            if c + "_se" in r:
                return fmt_pm(v, r[c + "_se"], digits=digits)
            return "nan" if v != v else f"{v:.{digits}g}"
        return esc(str(v))

    lines = ["| " + " | ".join(esc(names.get(c, c)) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r, c) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def shell_commands(specs: Iterable[RunSpec], *, out_dir: str = "runs") -> list[str]:
    r"""Shell lines that regenerate the runs of ``specs``: one ``for seed in ...`` loop per spec that differs only
    in the seed, then the table.

    Example:
        >>> specs = [RunSpec("bkw3", "exact", n=100, dt=0.1, t_end=6.5, seed=s) for s in (0, 1)]
        >>> print("\n".join(shell_commands(specs)))
        for seed in 0 1; do python -m landau_lite run --problem bkw3 --score exact --n 100 --dt 0.1 --t-end 6.5 --seed $seed --method euler --dtype float64 --device auto --out runs/bkw3_exact_100_seed$seed.pt; done
        python -m landau_lite.book.compare runs/*.pt
    """
    groups: dict[RunSpec, list[int]] = {}
    for s in specs:
        if not isinstance(s, RunSpec):
            raise TypeError(f"specs must hold RunSpec objects, got {type(s).__name__}")
        groups.setdefault(replace(s, seed=0), []).append(s.seed)   # equal specs up to the seed
    lines = []
    for key, seeds in groups.items():
        out = f"{out_dir}/{key.file_name().replace('_seed0.pt', '_seed$seed.pt')}"
        cmd = key.command().replace("--seed 0 ", "--seed $seed ") + f" --out {out}"
        if len(seeds) == 1:
            lines.append(replace(key, seed=seeds[0]).command(f"{out_dir}/{replace(key, seed=seeds[0]).file_name()}"))
        else:
            lines.append(f"for seed in {' '.join(map(str, seeds))}; do {cmd}; done")
    lines.append(f"python -m landau_lite.book.compare {out_dir}/*.pt")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m landau_lite.book.compare RUN.pt [RUN.pt ...]``: the table of saved runs, seeds combined."""
    ap = argparse.ArgumentParser(prog="python -m landau_lite.book.compare", description=main.__doc__)
    ap.add_argument("paths", nargs="+", help="saved runs (.pt or .json)")
    ap.add_argument("--columns", nargs="+", default=list(DEFAULT_COLUMNS),
                    help=f"columns among: {', '.join(COLUMN_TITLES)}")
    ap.add_argument("--kde", action="store_true", help="add the KDE-based KL columns (needs .pt files)")
    ap.add_argument("--per-seed", action="store_true", help="one line per run instead of mean ± s.e. over seeds")
    args = ap.parse_args(list(sys.argv[1:] if argv is None else argv))
    rows = summarize(args.paths, kde=args.kde)
    if args.per_seed:
        args.columns = ["seed" if c == "seeds" else c for c in args.columns]
    else:
        keys = [c for c in args.columns if c not in _GROUP and c not in ("seeds", "score") and
                isinstance(rows[0].get(c), float)]
        rows = aggregate(rows, keys)
    print(format_table(rows, args.columns))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
