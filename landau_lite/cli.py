r"""Command line: ``python -m landau_lite run ...`` and ``python -m landau_lite bench ...``.

``run`` simulates the particle Landau equation (see :func:`landau_lite.solver.simulate`) and writes the
time series as JSON (or everything, particles included, as ``.pt``)::

    python -m landau_lite run --problem bkw3 --score exact --n 2000 --dt 0.01 --t-end 6.5 --out run.json

The JSON holds the run parameters, ``status``, ``wall_time``, ``t``, ``mean``, ``cov``, ``energy``, ``m4``,
``entropy_rate`` (and the other diagnostics), the per-step arrays, and ``reference`` (exact values of
the same moments at the same times, or ``null``). A one-line summary is printed on stdout.

Nothing computed is lost: every argument and the output path (a writable directory; an existing file only
with ``--force``) are checked before the run starts; the file is written atomically (a temporary file,
``fsync``, then a rename: a failed write leaves the previous file as it was); and a run that stops early
(a non-finite value, a failure, Ctrl-C, SIGTERM, also during the score's initial fit) still writes its
partial run, with a one-line message on stderr.

``bench`` hands its arguments to :func:`landau_lite.bench.main`.

Exit codes of ``run``:

====  =============================================================================================
0     completed
1     stopped on a non-finite score, velocity or particle value (partial run written)
2     bad arguments (argparse-style message naming the option; nothing computed)
3     runtime failure, e.g. in a score method (one-line message; partial run written)
4     the output path is not usable (missing or read-only directory, a directory, an existing file
      without ``--force``; checked before computing) or the final write failed
130   interrupted by SIGINT / Ctrl-C (partial run written)
143   terminated by SIGTERM (partial run written)
====  =============================================================================================
"""

from __future__ import annotations

import argparse
import json
import math
import re
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator

__all__ = ["main", "build_parser", "Terminated", "EXIT_OK", "EXIT_NONFINITE", "EXIT_USAGE", "EXIT_FAILURE",
           "EXIT_OUTPUT", "EXIT_SIGINT", "EXIT_SIGTERM"]

EXIT_OK = 0
EXIT_NONFINITE = 1
EXIT_USAGE = 2
EXIT_FAILURE = 3
EXIT_OUTPUT = 4
EXIT_SIGINT = 130
EXIT_SIGTERM = 143

_EPILOG = """\
exit codes:
  0    completed
  1    stopped on a non-finite value (partial run written)
  2    bad arguments (nothing computed)
  3    runtime failure, e.g. in a score method (partial run written)
  4    output path not usable (checked before computing: missing or read-only
       directory, a directory, an existing file without --force) or the write failed
  130  interrupted by Ctrl-C / SIGINT (partial run written)
  143  terminated by SIGTERM (partial run written)

The output is written atomically (temporary file, fsync, rename)."""

_DTYPES = ("float32", "float64")

#: simulate() argument -> command-line option, for naming the option in error messages
_OPTIONS = {"problem": "--problem", "score": "--score", "score_kwargs": "--score-opt", "n": "--n", "dt": "--dt",
            "t_end": "--t-end", "t0": "--t0", "method": "--method", "seed": "--seed", "device": "--device",
            "dtype": "--dtype", "record_every": "--record-every", "backend": "--backend"}


class Terminated(KeyboardInterrupt):
    """Raised by the command line's SIGTERM handler; like Ctrl-C, the partial run is kept and written."""


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


def _out_path(text: str) -> str:
    if not (text.endswith(".json") or text.endswith(".pt")):
        raise argparse.ArgumentTypeError(f"must end with .json or .pt, got {text!r}")
    return text


def build_parser() -> argparse.ArgumentParser:
    """The ``argparse`` parser of ``python -m landau_lite``."""
    from .integrators import METHODS
    from .problems import PROBLEMS
    from .scores import SCORE_METHODS
    from .velocity import BACKENDS

    problems = tuple(PROBLEMS)
    parser = argparse.ArgumentParser(prog="python -m landau_lite",
                                     description="Particle solvers for the spatially homogeneous Landau equation.",
                                     epilog="'python -m landau_lite run --help' lists the exit codes of 'run'.")
    sub = parser.add_subparsers(dest="command", metavar="{run,bench}")
    sub.required = True

    run = sub.add_parser("run", help="simulate one problem and write the time series",
                         description="Simulate the particle Landau equation and write the diagnostics.",
                         epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--problem", required=True, choices=problems, metavar="NAME",
                     help="test problem: " + ", ".join(problems))
    run.add_argument("--score", default="exact", choices=SCORE_METHODS, help="score method (default: exact)")
    run.add_argument("--n", type=_int_at_least(2), required=True, help="number of particles (>= 2)")
    run.add_argument("--dt", type=_positive_float, required=True, help="time step (> 0)")
    run.add_argument("--t-end", dest="t_end", type=_finite_float, required=True, help="final time (> t0)")
    run.add_argument("--t0", type=_finite_float, default=None, help="start time (default: the problem's t0)")
    run.add_argument("--seed", type=_int_at_least(0), default=0, help="random seed (default 0)")
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
    run.add_argument("--out", type=_out_path, default=None,
                     help="output file, .json (time series) or .pt (everything); its directory must exist and "
                          "be writable (checked before computing)")
    run.add_argument("--force", action="store_true",
                     help="overwrite an existing --out file (without it an existing file is an error, exit 4)")
    run.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    run.add_argument("--distributed", action="store_true",
                     help="spread the run over the processes of torchrun (one per GPU; gloo on CPUs): launch "
                          "`torchrun --standalone --nproc_per_node=P -m landau_lite -- run --distributed ...`; "
                          "--device is then each rank's own (cuda:LOCAL_RANK or cpu); rank 0 writes --out")
    run.set_defaults(subparser=run)

    sub.add_parser("bench", help="benchmarks (arguments are passed to landau_lite.bench)", add_help=False)
    return parser


def _option_error(parser: argparse.ArgumentParser, exc: Exception) -> None:
    """Exit 2 with an argparse-style message that names the command-line option behind ``exc``."""
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if message.startswith("score_kwargs: "):
        parser.error(f"argument --score-opt: {message[len('score_kwargs: '):]}")
    word = re.match(r"[A-Za-z_][A-Za-z_0-9]*", message)
    option = _OPTIONS.get(word.group(0)) if word else None
    parser.error(f"argument {option}: {message}" if option else message)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class _Signals:
    """SIGTERM → :class:`Terminated` during the run; SIGINT/SIGTERM deferred while the output is written."""

    def __init__(self) -> None:
        self.active = threading.current_thread() is threading.main_thread()
        self.terminated = False
        self.deferred: int | None = None
        self._saved: dict[int, Any] = {}

    def _on_term(self, signum: int, frame: Any) -> None:
        self.terminated = True
        raise Terminated()

    def _defer(self, signum: int, frame: Any) -> None:
        self.deferred = signum
        if signum == signal.SIGTERM:
            self.terminated = True

    def install(self) -> None:
        if self.active:
            self._saved[signal.SIGTERM] = signal.signal(signal.SIGTERM, self._on_term)

    @contextmanager
    def deferred_during(self) -> Iterator[None]:
        if not self.active:
            yield
            return
        previous = {s: signal.signal(s, self._defer) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def restore(self) -> None:
        for s, handler in self._saved.items():
            signal.signal(s, handler)
        self._saved.clear()

    def exit_code(self) -> int:
        return EXIT_SIGTERM if self.terminated else EXIT_SIGINT


def _cmd_run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .run import NonFiniteError, Run, check_output_path
    from .solver import Simulation

    run_parser: argparse.ArgumentParser = args.subparser
    score_kwargs = {}
    for item in args.score_opts:
        key, sep, text = item.partition("=")
        if not sep or not key.isidentifier():
            run_parser.error(f"argument --score-opt: expected KEY=VALUE, got {item!r}")
        try:
            score_kwargs[key] = json.loads(text)
        except json.JSONDecodeError:
            score_kwargs[key] = text
    group, device, writer = None, args.device, True
    if args.distributed:
        import torch.distributed as dist

        from .distributed import init_from_env
        try:
            device = init_from_env()
        except RuntimeError as exc:
            run_parser.error(f"argument --distributed: {exc}")
        group, writer = dist.group.WORLD, dist.get_rank() == 0
    signals = _Signals()
    signals.install()
    started = False
    try:
        try:
            sim = Simulation.build(args.problem, args.score, n=args.n, dt=args.dt, t_end=args.t_end, t0=args.t0,
                                   method=args.method, seed=args.seed, device=device, dtype=args.dtype,
                                   record_every=args.record_every, backend=args.backend,
                                   progress=args.progress and writer, score_kwargs=score_kwargs or None,
                                   process_group=group)
        except (ValueError, TypeError) as exc:
            _option_error(run_parser, exc)
        if not writer:
            args.out = None          # one rank writes the (identical) run
        out_ok = True
        if args.out is not None:
            try:
                check_output_path(args.out, overwrite=args.force)
            except OSError as exc:
                print(f"error: argument --out: {exc.strerror or exc}; nothing was computed", file=sys.stderr)
                out_ok = False
        if group is not None:        # every rank stops if the writer cannot write (no rank left in a collective)
            import torch
            flag = torch.tensor([1.0 if out_ok else 0.0], device=device)
            dist.broadcast(flag, src=0, group=group)
            out_ok = bool(flag.item())
        if not out_ok:
            return EXIT_OUTPUT

        code, message, run = EXIT_OK, None, None
        started = True
        try:
            run = sim.run()
        except NonFiniteError as err:
            run, code = err.run, EXIT_NONFINITE
            message = f"non-finite {err.quantity} at step {err.step}, t={err.t:.6g}"
        except KeyboardInterrupt:      # escaped the run's own handling: nothing to write
            print("error: interrupted; no run to write", file=sys.stderr)
            return signals.exit_code()
        except Exception as exc:       # noqa: BLE001 - any failure: keep what was computed, exit 3
            partial = getattr(exc, "run", None)    # simulate attaches the partial run to the exception
            run = partial if isinstance(partial, Run) else None
            code, message = EXIT_FAILURE, f"{_one_line(exc)} ({'no run' if run is None else run.status})"
        if run is not None and run.status.startswith("interrupted"):
            code, message = signals.exit_code(), run.status

        where = ""
        if args.out is not None and run is not None:
            try:
                with signals.deferred_during():
                    run.save(args.out)
                where = f" -> {args.out}"
            except OSError as exc:
                print(f"error: could not write {args.out} ({_one_line(exc)}); an existing file there is unchanged",
                      file=sys.stderr)
                code = EXIT_OUTPUT
            if signals.deferred is not None and code == EXIT_OK:
                code = signals.exit_code()
        if run is not None and writer:
            print(run.summary() + where)
        if message is not None:
            saved = (f"partial run written to {args.out}" if where else
                     "partial run not written" + ("" if args.out else " (no --out)"))
            print(f"error: {message}; {saved}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        print("error: interrupted" + ("" if started else " before the run started; nothing was computed"),
              file=sys.stderr)
        return signals.exit_code()
    finally:
        signals.restore()


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m landau_lite`` (and the ``landau-lite`` script). Returns the exit code.

    Bad arguments exit with code 2 (``SystemExit``) and an argparse-style message; the other exit codes
    are listed in the module docstring and in ``python -m landau_lite run --help``.

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
