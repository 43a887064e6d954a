r"""Command line: ``python -m landau_lite run ...`` and ``python -m landau_lite bench ...``.

``run`` simulates the particle Landau equation (see :func:`landau_lite.solver.simulate`) and writes the
time series as JSON (or everything, particles included, as ``.pt``)::

    python -m landau_lite run --problem bkw3 --score exact --n 2000 --dt 0.01 --t-end 6.5 --out run.json

The JSON holds the run parameters, ``status``, ``wall_time``, ``t``, ``mean``, ``cov``, ``energy``, ``m4``,
``entropy_rate`` (and the other diagnostics), the per-step arrays, and ``reference`` (exact values of
the same moments at the same times, or ``null``). A one-line summary is printed.

``bench`` hands its arguments to :func:`landau_lite.bench.main`.

Exit codes: 0 success, 1 the run stopped on a non-finite value (the partial run is still written),
2 bad arguments (argparse style), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

__all__ = ["main", "build_parser"]

_DTYPES = ("float32", "float64")


def _int_at_least(lo: int):
    """An argparse type: an integer ``>= lo``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be >= {lo}, got {value}")
        return value
    return parse


_positive_int = _int_at_least(1)
_nonneg_int = _int_at_least(0)


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value:g}")
    return value


def _record_every(text: str) -> int | float:
    """``"10"`` → every 10 steps (int); ``"0.5"`` → every 0.5 time units (float)."""
    try:
        value: int | float = int(text)
    except ValueError:
        value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


def _names(module: str, attrs: tuple[str, ...], fallback: tuple[str, ...]) -> tuple[str, ...]:
    import importlib
    try:
        mod = importlib.import_module(f"landau_lite.{module}")
    except ImportError:
        return fallback
    for a in attrs:
        names = getattr(mod, a, None)
        if names:
            return tuple(names)
    return fallback


def build_parser() -> argparse.ArgumentParser:
    """The ``argparse`` parser of ``python -m landau_lite``."""
    from .integrators import METHODS
    from .velocity import BACKENDS

    problems = _names("problems", ("PROBLEMS", "PROBLEM_NAMES"), ())
    scores = _names("scores", ("SCORE_METHODS", "SCORE_NAMES"), ("exact", "blob", "sbtm"))
    parser = argparse.ArgumentParser(prog="python -m landau_lite",
                                     description="Particle solvers for the spatially homogeneous Landau equation.")
    sub = parser.add_subparsers(dest="command", metavar="{run,bench}")
    sub.required = True

    run = sub.add_parser("run", help="simulate one problem and write the time series",
                         description="Simulate the particle Landau equation and write the diagnostics.")
    run.add_argument("--problem", required=True, choices=problems or None, metavar="NAME",
                     help="test problem: " + ", ".join(problems))
    run.add_argument("--score", default="exact", choices=scores, help="score method (default: exact)")
    run.add_argument("--n", type=_positive_int, required=True, help="number of particles (>= 2)")
    run.add_argument("--dt", type=_positive_float, required=True, help="time step (> 0)")
    run.add_argument("--t-end", dest="t_end", type=_finite_float, required=True, help="final time (> t0)")
    run.add_argument("--t0", type=_finite_float, default=None, help="start time (default: the problem's t0)")
    run.add_argument("--seed", type=_nonneg_int, default=0, help="random seed (default 0)")
    run.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:K (default auto)")
    run.add_argument("--dtype", default="float64", choices=_DTYPES, help="default float64")
    run.add_argument("--method", default="euler", choices=METHODS, help="time integrator (default euler)")
    run.add_argument("--record-every", dest="record_every", type=_record_every, default=1,
                     help="an integer K records every K steps; a decimal number records every that much time "
                          "(default 1)")
    run.add_argument("--backend", default="auto", choices=BACKENDS, help="velocity backend (default auto)")
    run.add_argument("--score-opt", dest="score_opts", action="append", default=[], metavar="KEY=VALUE",
                     help="an option of the score method (repeatable), e.g. --score-opt width=32 --score-opt "
                          "loss=ism; a value is read as JSON (numbers, true/false) or else as a string")
    run.add_argument("--out", default=None, help="output file, .json (time series) or .pt (everything)")
    run.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    run.set_defaults(subparser=run)

    sub.add_parser("bench", help="benchmarks (arguments are passed to landau_lite.bench)", add_help=False)
    return parser


def _cmd_run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .run import NonFiniteError
    from .solver import _execute, _prepare

    run_parser: argparse.ArgumentParser = args.subparser
    if args.out is not None and not (args.out.endswith(".json") or args.out.endswith(".pt")):
        run_parser.error(f"argument --out: must end with .json or .pt, got {args.out!r}")
    if args.n < 2:
        run_parser.error(f"argument --n: must be >= 2, got {args.n}")
    score_kwargs = {}
    for item in args.score_opts:
        key, sep, text = item.partition("=")
        if not sep or not key.isidentifier():
            run_parser.error(f"argument --score-opt: expected KEY=VALUE, got {item!r}")
        try:
            score_kwargs[key] = json.loads(text)
        except json.JSONDecodeError:
            score_kwargs[key] = text
    try:
        setup = _prepare(args.problem, args.score, n=args.n, dt=args.dt, t_end=args.t_end, t0=args.t0,
                         method=args.method, seed=args.seed, device=args.device, dtype=args.dtype,
                         record_every=args.record_every, snapshot_times=(), backend=args.backend,
                         progress=args.progress, x0=None, score_kwargs=score_kwargs or None, callback=None)
    except (ValueError, TypeError) as exc:
        run_parser.error(str(exc))
    code = 0
    try:
        run = _execute(setup)
    except NonFiniteError as err:
        run, code = err.run, 1
        print(f"error: {err}", file=sys.stderr)
    if run.status.startswith("interrupted"):
        code = 130
    if args.out is not None:
        run.save(args.out)
    print(run.summary() + (f" -> {args.out}" if args.out else ""))
    return code


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m landau_lite`` (and the ``landau-lite`` script). Returns the exit code.

    Bad arguments exit with code 2 (``SystemExit``) and an argparse-style message.

    Example:
        >>> main(["run", "--problem", "bkw3", "--n", "200", "--dt", "0.1", "--t-end", "6.2", "--no-progress"])
        ... # doctest: +SKIP
        0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "bench":
        from . import bench   # the lead's module; imported lazily (it pulls in the benchmark harness)
        rc = bench.main(argv[1:])
        return int(rc or 0)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "run":
        return _cmd_run(args, parser)
    parser.error(f"unknown command {args.command!r}")   # unreachable: argparse checks the choices
    return 2
