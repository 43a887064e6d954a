r"""Methods side by side: run score methods × particle numbers on one problem and tabulate their accuracy.

A row of the table is one :class:`RunSpec` (problem, score method, :math:`N`, :math:`\Delta t`, horizon, seed,
score options). Each run is made either in-process (:func:`landau_lite.solver.simulate`) or through the
command line, ``python -m landau_lite run ...`` (:meth:`RunSpec.command`); :func:`metrics` reads the saved run
(``.json`` or ``.pt``) or the :class:`~landau_lite.solver.Run` object, and computes at the final time :math:`T`

* ``m4_err`` — :math:`|\hat E|v|^4-E|v|^4|/E|v|^4` against the exact reference;
* ``cov_err`` — :math:`\max_{kl}|\hat\Sigma_{kl}-\Sigma_{kl}|` (population covariance of the particles);
* ``fisher_err`` — relative Fisher error :math:`\sum_i|s_i-\nabla\log f(X_i)|^2/\sum_i|\nabla\log f(X_i)|^2`
  (0 for the exact score, ``nan`` where the problem has no exact score);
* ``kl_kde``, ``kl_base``, ``kl_excess`` (needs the particles: a ``.pt`` file or a ``Run``) —
  :math:`\mathrm{KL}(f_T\Vert\hat g)` with an isotropic Gaussian KDE :math:`\hat g` of the particles
  (:func:`landau_lite.analysis.certificate.kl_kde`, bandwidth :math:`h=\sqrt{\operatorname{tr}\hat\Sigma/d}\,N^{-1/(d+4)}`), the
  same estimator on exact samples of :math:`f_T` with the same :math:`N` and :math:`h` (mean of ``reps``
  draws: the estimator's own bias), and their difference;
* ``wall_time`` (machine-dependent) and ``steps``.

:func:`compare_methods` runs a list of specs and :func:`format_table` prints a Markdown table. From the shell, after
``python -m landau_lite run ... --out DIR/NAME.pt`` for every row (:meth:`RunSpec.command`),
``python -m landau_lite.book.compare DIR/*.pt`` prints the same table.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from .._checks import check_choice, check_int, check_positive, check_real

__all__ = [
    "RunSpec",
    "cli_supports_score_options",
    "run_spec",
    "metrics",
    "compare_methods",
    "summarize",
    "format_table",
    "DEFAULT_COLUMNS",
]

#: columns of :func:`format_table` by default (wall time is machine-dependent: ask for it explicitly)
DEFAULT_COLUMNS = ("score", "n", "m4_err", "cov_err", "fisher_err", "kl_excess")

_SCORE_OPT_FLAG = "--score-opt"


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
            neural score); method: ``'euler'``/``'heun'``; dtype: ``'float64'``/``'float32'``; device: ``'auto'``...
        score_kwargs: options of the score method (:func:`landau_lite.scores.make_score`), as a dict.

    Example:
        >>> RunSpec("bkw3", "exact", n=500, dt=0.05, t_end=6.5).command("runs/exact_500.pt")
        'python -m landau_lite run --problem bkw3 --score exact --n 500 --dt 0.05 --t-end 6.5 --seed 0 --method euler --dtype float64 --device auto --out runs/exact_500.pt'
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
    score_kwargs: dict = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        from ..problems import PROBLEMS
        from ..scores import SCORE_METHODS

        check_choice(self.problem, "problem", PROBLEMS)
        check_choice(self.score, "score", SCORE_METHODS)
        check_int(self.n, "n", lo=2)
        check_positive(self.dt, "dt")
        check_real(self.t_end, "t_end")
        check_int(self.seed, "seed", lo=0)
        check_choice(self.method, "method", ("euler", "heun"))
        check_choice(self.dtype, "dtype", ("float64", "float32"))
        if not isinstance(self.device, str):
            raise TypeError(f"device must be a string ('auto', 'cpu', 'cuda'), got {type(self.device).__name__}")
        if not isinstance(self.score_kwargs, dict) or not all(isinstance(k, str) for k in self.score_kwargs):
            raise TypeError("score_kwargs must be a dict with string keys")
        if self.score_kwargs and self.score == "exact":
            raise ValueError("score_kwargs must be empty for score='exact'")

    @property
    def label(self) -> str:
        """Short name, e.g. ``'sbtm N=1000'``."""
        return f"{self.score} N={self.n}"

    def cli_args(self, out: str | None = None) -> list[str]:
        """Arguments of ``python -m landau_lite`` (starting with ``run``) that reproduce this run.

        Score options become ``--score-opt KEY=VALUE`` (one per option); see :func:`cli_supports_score_options`.
        """
        args = ["run", "--problem", self.problem, "--score", self.score, "--n", str(self.n), "--dt", repr(self.dt),
                "--t-end", repr(self.t_end), "--seed", str(self.seed), "--method", self.method,
                "--dtype", self.dtype, "--device", self.device]
        for key, value in self.score_kwargs.items():
            args += [_SCORE_OPT_FLAG, f"{key}={_fmt_value(value)}"]
        if out is not None:
            args += ["--out", str(out)]
        return args

    def command(self, out: str | None = None) -> str:
        """The shell command ``python -m landau_lite run ...`` for this run."""
        return "python -m landau_lite " + " ".join(shlex.quote(a) for a in self.cli_args(out))


def cli_supports_score_options() -> bool:
    """True when ``python -m landau_lite run`` accepts ``--score-opt KEY=VALUE`` (score options for blob/SBTM)."""
    from ..cli import build_parser

    parser = build_parser()
    for action in parser._subparsers._group_actions:          # noqa: SLF001 - argparse has no public API for this
        for sub in getattr(action, "choices", {}).values():
            if any(_SCORE_OPT_FLAG in a.option_strings for a in sub._actions):   # noqa: SLF001
                return True
    return False


def run_spec(spec: RunSpec, *, out: str | os.PathLike | None = None, via_cli: bool = False,
             progress: bool = False) -> Any:
    r"""Run one spec and return the :class:`~landau_lite.solver.Run`.

    ``via_cli=False``: :func:`landau_lite.solver.simulate` in this process (saved to ``out`` if given).
    ``via_cli=True``: :func:`landau_lite.cli.main` with :meth:`RunSpec.cli_args` (``out`` required, ``.json`` or
    ``.pt``), then :meth:`Run.load` — exactly what the shell command does. A spec with score options needs
    a CLI with ``--score-opt`` (``ValueError`` otherwise).
    """
    from ..solver import Run, simulate

    if not isinstance(spec, RunSpec):
        raise TypeError(f"spec must be a RunSpec, got {type(spec).__name__}")
    if not isinstance(via_cli, bool) or not isinstance(progress, bool):
        raise TypeError("via_cli and progress must be bools")
    if out is not None:
        out = os.fspath(out)
        if not (out.endswith(".json") or out.endswith(".pt")):
            raise ValueError(f"out must end with .json or .pt, got {out!r}")
    if via_cli:
        from ..cli import main as cli_main

        if out is None:
            raise ValueError("via_cli=True needs out=... (the CLI writes the run to a file)")
        if spec.score_kwargs and not cli_supports_score_options():
            raise ValueError(f"the CLI does not accept {_SCORE_OPT_FLAG} yet, so score options "
                             f"{sorted(spec.score_kwargs)} cannot be passed; run in-process (via_cli=False)")
        argv = spec.cli_args(out) + ([] if progress else ["--no-progress"])
        code = cli_main(argv)
        if code not in (0, None):
            raise RuntimeError(f"python -m landau_lite {' '.join(argv)} exited with code {code}")
        return Run.load(out)
    dtype = torch.float64 if spec.dtype == "float64" else torch.float32
    run = simulate(spec.problem, spec.score, n=spec.n, dt=spec.dt, t_end=spec.t_end, method=spec.method,
                   seed=spec.seed, device=spec.device, dtype=dtype, progress=progress,
                   score_kwargs=dict(spec.score_kwargs) or None)
    if out is not None:
        run.save(out)
    return run


def _last(values: Sequence[Any]) -> float:
    v = values[-1] if len(values) else None
    return math.nan if v is None else float(v)


def metrics(run: Any, *, kde: bool = True, reps: int = 3, seed: int = 0, n_mc: int | None = None,
            device: str | torch.device = "auto") -> dict[str, Any]:
    r"""Accuracy of a run at its final time (see the module docstring for the definitions).

    Args:
        run: a :class:`~landau_lite.solver.Run` (or a path to a saved ``.json``/``.pt`` run).
        kde: compute the KDE-based KL numbers (needs the final particles and a problem with exact samples).
        reps: exact-sample draws for the estimator's baseline ``kl_base``. seed: seed of those draws.
        n_mc: samples of :math:`f_T` per KDE estimate (default :math:`\min(4N, 50\,000)`).
        device: where the KDE sums run (``'auto'``: CUDA when available; they cost :math:`O(N\cdot n_{mc})`).

    Returns:
        a dict with ``problem, score, n, dt, t_end, steps, status, wall_time, m4, m4_ref, m4_err, cov_err,
        fisher_err`` and, with ``kde``, ``kl_kde, kl_base, kl_excess`` (``nan`` where not computable).
    """
    from ..analysis.certificate import kl_kde, sample_at
    from ..device import pick_device
    from ..problems import get_problem
    from ..solver import Run

    if isinstance(run, (str, os.PathLike)):
        run = Run.load(run)
    if not isinstance(run, Run):
        raise TypeError(f"run must be a landau_lite Run or a path to a saved run, got {type(run).__name__}")
    reps = check_int(reps, "reps", lo=1)
    seed = check_int(seed, "seed", lo=0)
    if n_mc is not None:
        n_mc = check_int(n_mc, "n_mc", lo=2)
    dev = pick_device(device)
    if not run.times:
        raise ValueError("run has no recorded times")
    out: dict[str, Any] = {"problem": run.problem, "score": run.score, "n": run.n, "dt": run.dt,
                           "t_end": run.times[-1], "steps": run.steps, "status": run.status,
                           "wall_time": run.wall_time}
    m4 = _last(run.diagnostics["m4"])
    ref = run.reference or {}
    m4_ref = _last(ref["m4"]) if "m4" in ref and ref["m4"] else math.nan
    out.update(m4=m4, m4_ref=m4_ref, m4_err=abs(m4 - m4_ref) / abs(m4_ref) if m4_ref == m4_ref else math.nan)
    if "cov" in ref and ref["cov"] and ref["cov"][-1] is not None:
        cov = np.asarray(run.diagnostics["cov"][-1], dtype=float)
        out["cov_err"] = float(np.abs(cov - np.asarray(ref["cov"][-1], dtype=float)).max())
    else:
        out["cov_err"] = math.nan
    fe = _last(run.diagnostics["fisher_error"])
    out["fisher_err"] = 0.0 if (run.score == "exact" and fe != fe) else fe
    out.update(kl_kde=math.nan, kl_base=math.nan, kl_excess=math.nan)
    if kde and run.x_final is not None:
        try:
            problem = get_problem(run.problem)
        except ValueError:
            return out
        if not getattr(problem, "exact_in_time", False):
            return out
        x = run.x_final.to(device=dev, dtype=torch.float64)
        t = float(run.times[-1])
        n, d = x.shape
        m = min(4 * n, 50_000) if n_mc is None else n_mc
        xc = x - x.mean(0)
        h = math.sqrt(float((xc * xc).sum()) / (n * d)) * n ** (-1.0 / (d + 4))
        gen = torch.Generator().manual_seed(seed)
        kl, _ = kl_kde(problem, t, x, bandwidth=h, generator=gen, n_mc=m)
        base = [kl_kde(problem, t, sample_at(problem, t, n, generator=gen, device=dev), bandwidth=h, generator=gen,
                       n_mc=m)[0] for _ in range(reps)]
        out.update(kl_kde=kl, kl_base=float(np.mean(base)), kl_excess=kl - float(np.mean(base)))
    return out


def compare_methods(specs: Iterable[RunSpec], *, via_cli: bool = False, out_dir: str | os.PathLike | None = None,
            progress: bool = False, kde: bool = True, reps: int = 3) -> list[dict[str, Any]]:
    r"""Run every spec (:func:`run_spec`) and return one :func:`metrics` row per run, in order.

    With ``out_dir`` every run is saved as ``out_dir/{score}_{n}_seed{seed}.pt`` (needed for ``via_cli``).
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
        out = None if out_dir is None else os.path.join(os.fspath(out_dir), f"{spec.score}_{spec.n}_seed{spec.seed}.pt")
        run = run_spec(spec, out=out, via_cli=via_cli, progress=progress)
        rows.append(metrics(run, kde=kde, reps=reps, seed=spec.seed))
    return rows


def summarize(paths: Iterable[str | os.PathLike], *, kde: bool = True, reps: int = 3) -> list[dict[str, Any]]:
    """:func:`metrics` of saved runs (``.pt`` files carry the particles, so they also get the KL numbers)."""
    return [metrics(p, kde=kde, reps=reps) for p in paths]


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] = DEFAULT_COLUMNS, *,
                 digits: int = 3) -> str:
    """A Markdown table of ``rows`` (floats with ``digits`` significant digits).

    Example:
        >>> print(format_table([{"score": "exact", "n": 10, "m4_err": 0.012345}], ["score", "n", "m4_err"]))
        | score | n | m4_err |
        |---|---|---|
        | exact | 10 | 0.0123 |
    """
    digits = check_int(digits, "digits", lo=1)
    if not rows:
        raise ValueError("rows must not be empty")
    for c in columns:
        if not all(c in r for r in rows):
            raise ValueError(f"column {c!r} is missing from some rows; available: {sorted(rows[0])}")

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "nan" if v != v else f"{v:.{digits}g}"
        return str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r[c]) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m landau_lite.book.compare RUN.pt [RUN.pt ...]``: print the comparison table of saved runs."""
    ap = argparse.ArgumentParser(prog="python -m landau_lite.book.compare", description=main.__doc__)
    ap.add_argument("paths", nargs="+", help="saved runs (.pt for the KL columns, or .json)")
    ap.add_argument("--columns", nargs="+", default=list(DEFAULT_COLUMNS) + ["wall_time"])
    ap.add_argument("--no-kde", dest="kde", action="store_false", help="skip the KDE-based KL columns")
    args = ap.parse_args(list(sys.argv[1:] if argv is None else argv))
    print(format_table(summarize(args.paths, kde=args.kde), args.columns))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
