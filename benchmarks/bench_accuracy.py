r"""Accuracy per second of the score methods on 3-D BKW (the setting of [7]'s GradientFlows.jl experiments).

Setting: 3-D BKW with :math:`C=1/24`, :math:`c_{\rm bkw}=1`, started at :math:`t_0=5.5` (just after the critical
time), ``n = 2000`` particles, forward Euler with ``dt = 0.01`` for 1000 steps (to :math:`t=15.5`), float64, one
thread. For every seed the initial particles are drawn once and shared by every row (``x0=``), and an
exact-score run from them is the reference. Per row (score method and settings) the script reports

* **ms/step**: median wall time of one solver step (score update + velocity + the solver's own diagnostics),
  from the ``callback`` time stamps of :func:`landau_lite.simulate`, over all steps of all seeds; the torch
  thread count is pinned (``torch.set_num_threads``) and printed, and ``/proc/loadavg`` is recorded per row;
* **paired** :math:`\Delta E|v|^4`: :math:`E|v|^4` of the row's particles minus that of the exact-score run from
  the *same* initial particles, at the final time (mean, standard deviation and mean absolute value over
  seeds). Unpaired errors against the analytic :math:`E|v|^4(t)` are dominated by sampling noise at this ``n``
  (they are printed for the exact run in the header);
* the **relative Fisher error** :math:`\sum_i|s_i-\nabla\log f_t(X_i)|^2/\sum_i|\nabla\log f_t(X_i)|^2` logged by
  the solver: first recorded step, last step and maximum over the run (mean over seeds);
* the **KDE** :math:`L^2` **error** as GradientFlows.jl computes it: a Gaussian KDE of the final particles with
  bandwidth matrix :math:`H=\hat\Sigma\,n^{-2/(d+4)}` (Scott; :math:`n^{-2/7}` in 3-D), compared in
  :math:`L^2` with the exact density on a ``grid``:sup:`3` cell-centred grid over the particle box
  :math:`[-x_{\max},x_{\max}]^3`, :math:`x_{\max}=\max_{i,k}|X_{ik}|`:
  :math:`\big(h^3\sum_{\rm cells}(\hat f-f)^2\big)^{1/2}`;
* for SBTM rows, the relative error of the initial fit (``NeuralScore.init_loss``) and the time it took.

Scores are built with :func:`landau_lite.make_score` (exactly what ``simulate(score=name, score_kwargs=...)``
does, with the run seed passed to a neural score) and handed to :func:`landau_lite.simulate` with ``x0=``.

Rows are presets (``--rows``, see ``PRESETS``) or custom ``--row LABEL=SCORE:key=value,key=value`` (values are
Python literals, e.g. ``--row d05=sbtm:loss='dsm',dsm_alpha=0.05,steps_per_update=10``).

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_accuracy.py            # the full table (slow)
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_accuracy.py --quick    # tiny smoke run (< 60 s)
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_accuracy.py --time-only --steps 200   # re-time, low load
    .venv/bin/python benchmarks/bench_accuracy.py --render results.json --md results.md     # re-render a table
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_accuracy.py --steps 300 --seeds 0 --rows sbtm \
        --row den=sbtm:loss='denoising',denoising_sigma=0.05 --md /tmp/screen.md --json /tmp/screen.json

Outputs: a markdown table (``--md``; header: command line, thread count, CPU model, load), a JSON file
(``--json``: every number per seed, the Fisher-error and paired-error curves) and a CSV file (``--csv``: one line per
row, the data of an "error versus ms/step" plot).
"""

from __future__ import annotations

import argparse
import ast
import csv
import datetime
import io
import json
import math
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

import landau_lite as ll
from landau_lite.diagnostics import kde_density
from landau_lite.problems import get_problem

#: the initial fit and network of NeuralScore before issue 13 (Adam only, lr 1e-3, 2000 steps, width 100)
_OLD_INIT = {"width": 100, "init_steps": 2000, "init_lr": 1e-3, "init_patience": 2000, "init_polish": 0}

#: label -> (score name, constructor keywords). "sbtm" is the package default of NeuralScore.
PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "exact": ("exact", {}),
    "blob": ("blob", {}),
    "sbtm": ("sbtm", {}),
    # the defaults before issue 13: [7]'s antithetic DSM (alpha = 0.4, 25 Adam steps, lr 4e-4) and its initial fit
    "sbtm-dsm-a0.4-25": ("sbtm", {"loss": "dsm", "dsm_alpha": 0.4, "steps_per_update": 25, "lr": 4e-4, **_OLD_INIT}),
    # the setting of the published GradientFlows.jl code: DSM with alpha = 0.05, 10 Adam steps (same network/fit)
    "sbtm-dsm-a0.05-10": ("sbtm", {"loss": "dsm", "dsm_alpha": 0.05, "steps_per_update": 10, "lr": 4e-4,
                                   **_OLD_INIT}),
    # neighbours of the default: the same but with noise level 0.1 / 0.2 (the trade-off of the docstring)
    "sbtm-sigma0.1": ("sbtm", {"denoising_sigma": 0.1}),
    "sbtm-sigma0.2": ("sbtm", {"denoising_sigma": 0.2}),
}
DEFAULT_ROWS = ("exact", "blob", "sbtm", "sbtm-sigma0.1", "sbtm-sigma0.2", "sbtm-dsm-a0.05-10", "sbtm-dsm-a0.4-25")
QUICK = {"n": 200, "steps": 20, "seeds": [0, 1, 2], "grid": 16,
         "rows": ["exact", "blob", "sbtm"]}


# ---------------------------------------------------------------------------------------------- helpers
def parse_row(spec: str) -> tuple[str, str, dict[str, Any]]:
    """``LABEL=SCORE:key=value,key=value`` -> ``(label, score, kwargs)`` (values are Python literals)."""
    label, sep, rest = spec.partition("=")
    if not sep or not label:
        raise argparse.ArgumentTypeError(f"--row must look like LABEL=SCORE:key=value,...; got {spec!r}")
    score, _, body = rest.partition(":")
    if score not in ll.scores.SCORE_METHODS:
        raise argparse.ArgumentTypeError(f"--row {spec!r}: score must be one of {ll.scores.SCORE_METHODS}")
    kwargs: dict[str, Any] = {}
    for item in filter(None, body.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"--row {spec!r}: {item!r} is not key=value")
        try:
            kwargs[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            raise argparse.ArgumentTypeError(f"--row {spec!r}: {value!r} is not a Python literal") from None
    return label, score, kwargs


def kde_l2_error(x: torch.Tensor, problem: Any, t: float, grid: int) -> float:
    r""":math:`L^2` distance between the Scott-bandwidth Gaussian KDE of ``x`` and the exact density at ``t``,
    by the midpoint rule on ``grid``:sup:`d` cells covering :math:`[-x_{\max},x_{\max}]^d`."""
    x = x.to(torch.float64)
    d = x.shape[1]
    xmax = float(x.abs().max())
    h = 2.0 * xmax / grid
    axis = -xmax + h * (torch.arange(grid, dtype=torch.float64) + 0.5)
    pts = torch.stack(torch.meshgrid(*([axis] * d), indexing="ij"), dim=-1).reshape(-1, d)
    diff = kde_density(x, pts, bandwidth="scott") - problem.density(pts, t)
    return math.sqrt(float((diff * diff).sum()) * h ** d)


def _loadavg() -> list[float]:
    try:
        with open("/proc/loadavg") as fh:
            return [float(v) for v in fh.read().split()[:3]]
    except OSError:
        return [math.nan] * 3


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return math.nan, math.nan
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


# ---------------------------------------------------------------------------------------------- one run
def _one_run(problem: Any, x0: torch.Tensor, score_name: str, kwargs: dict[str, Any], seed: int, args: Any
             ) -> dict[str, Any]:
    kw = dict(kwargs)
    if score_name in ("sbtm", "neural"):
        kw.setdefault("seed", seed)  # what simulate(score="sbtm") does
    score = ll.make_score(score_name, problem, **kw)
    stamps: list[float] = []
    cpu_stamps: list[float] = []

    def stamp(k: int, t: float, x: torch.Tensor, s: torch.Tensor, U: torch.Tensor) -> None:
        stamps.append(time.perf_counter())
        cpu_stamps.append(time.process_time())

    t_call = time.perf_counter()
    run = ll.simulate(problem, score, n=args.n, dt=args.dt, t_end=problem.t0 + args.steps * args.dt,
                      x0=x0, seed=seed, dtype=torch.float64, device="cpu", record_every=args.record_every,
                      progress=False, callback=stamp)
    if run.status != "completed":
        raise RuntimeError(f"{score_name} {kwargs} seed {seed}: run {run.status}")
    steps_ms = [1e3 * (b - a) for a, b in zip(stamps, stamps[1:])]
    fisher = [float(v) for v in run.series("fisher_error")]
    out = {
        "m4": float(run.series("m4")[-1]),
        "m4_curve": [float(v) for v in run.series("m4")],
        "x_final": run.x_final,
        "step_ms": steps_ms,
        "cpu_ms_per_step": statistics.median(1e3 * (b - a) for a, b in zip(cpu_stamps, cpu_stamps[1:]))
        if len(cpu_stamps) > 1 else math.nan,
        # first callback = initialize() + one step
        "init_s": (stamps[0] - t_call) - (statistics.median(steps_ms) / 1e3 if steps_ms else 0.0),
        "times": [float(t) for t in run.times],
        "fisher": fisher,
        "init_loss": getattr(score, "init_loss", None),
        "init_steps": next((h["steps"] for h in getattr(score, "history", []) if h.get("phase") == "init"), None),
    }
    return out


# ---------------------------------------------------------------------------------------------- benchmark
def _setup(args: argparse.Namespace) -> tuple[Any, float, list[tuple[str, str, dict[str, Any]]]]:
    torch.set_num_threads(args.threads)
    problem = get_problem("bkw3", C=1.0 / 24.0, t0=args.t0)
    rows: list[tuple[str, str, dict[str, Any]]] = [(r, *PRESETS[r]) for r in args.rows] + list(args.row)
    labels = [r[0] for r in rows]
    if len(set(labels)) != len(labels):
        raise SystemExit(f"duplicate row labels: {labels}")
    return problem, problem.t0 + args.steps * args.dt, rows


def _header(args: argparse.Namespace, problem: Any, t_end: float) -> dict[str, Any]:
    return {
        "setting": {"problem": "bkw3", "C": problem.C, "c_bkw": problem.c_bkw, "t0": problem.t0, "t_end": t_end,
                    "n": args.n, "dt": args.dt, "steps": args.steps, "seeds": list(args.seeds),
                    "dtype": "float64", "method": "euler", "kde_grid": args.grid, "time_only": args.time_only},
        "machine": {"command": shlex.join(["benchmarks/bench_accuracy.py", *args.argv]),
                    "threads": torch.get_num_threads(), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
                    "cpu": _cpu_model(), "cpus": os.cpu_count(), "torch": torch.__version__,
                    "python": platform.python_version(),
                    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                    "load_start": _loadavg()},
        "reference": {},
        "rows": [],
    }


def run_timing(args: argparse.Namespace, on_row: Callable[[dict[str, Any]], None] | None = None
               ) -> dict[str, Any]:
    """``--time-only``: ms per step of every row (``--steps`` steps from the first seed's particles), no errors."""
    problem, t_end, rows = _setup(args)
    result = _header(args, problem, t_end)
    seed = args.seeds[0]
    x0 = problem.sample(args.n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    for label, score_name, kwargs in rows:
        load_before = _loadavg()
        r = _one_run(problem, x0, score_name, kwargs, seed, args)
        q = statistics.quantiles(r["step_ms"], n=10) if len(r["step_ms"]) > 1 else [math.nan] * 9
        result["rows"].append({"label": label, "score": score_name, "kwargs": kwargs,
                               "ms_per_step": statistics.median(r["step_ms"]), "ms_p10": q[0], "ms_p90": q[-1],
                               "cpu_ms_per_step": r["cpu_ms_per_step"],
                               "init_s": r["init_s"], "load": [load_before, _loadavg()]})
        print(f"  {label}: {result['rows'][-1]['ms_per_step']:.1f} ms/step, load {_loadavg()}", flush=True)
        result["machine"]["load_end"] = _loadavg()
        if on_row is not None:
            on_row(result)
    return result


def run_benchmark(args: argparse.Namespace, on_row: Callable[[dict[str, Any]], None] | None = None
                  ) -> dict[str, Any]:
    """Run every row for every seed; return all numbers (see the module docstring). ``on_row(result)`` is called
    after each row with the results so far (the outputs are rewritten then, so an interrupted run keeps them)."""
    problem, t_end, rows = _setup(args)
    result = _header(args, problem, t_end)
    exact_m4_analytic = problem.fourth_moment(t_end)
    refs: dict[int, dict[str, Any]] = {}
    x0s: dict[int, torch.Tensor] = {}
    for seed in args.seeds:
        x0s[seed] = problem.sample(args.n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        refs[seed] = _one_run(problem, x0s[seed], "exact", {}, seed, args)
        refs[seed]["kde_l2"] = kde_l2_error(refs[seed]["x_final"], problem, t_end, args.grid)
        refs[seed]["kde_l2_t0"] = kde_l2_error(x0s[seed], problem, problem.t0, args.grid)
    result["reference"] = {
        "m4_analytic_end": exact_m4_analytic,
        "m4_exact_run_end": {s: refs[s]["m4"] for s in args.seeds},
        "unpaired_m4_error_exact": {s: refs[s]["m4"] - exact_m4_analytic for s in args.seeds},
        "kde_l2_t0": {s: refs[s]["kde_l2_t0"] for s in args.seeds},
    }
    for label, score_name, kwargs in rows:
        load_before = _loadavg()
        per_seed = []
        for seed in args.seeds:
            r = _one_run(problem, x0s[seed], score_name, kwargs, seed, args)
            per_seed.append({
                "seed": seed,
                "paired_dm4": r["m4"] - refs[seed]["m4"],
                "paired_dm4_curve": [a - b for a, b in zip(r["m4_curve"], refs[seed]["m4_curve"])],
                "kde_l2": kde_l2_error(r["x_final"], problem, t_end, args.grid),
                "fisher_start": r["fisher"][0] if r["fisher"] else math.nan,
                "fisher_end": r["fisher"][-1] if r["fisher"] else math.nan,
                "fisher_max": max(r["fisher"]) if r["fisher"] else math.nan,
                "fisher_curve": r["fisher"],
                "times": r["times"],
                "step_ms": r["step_ms"],
                "cpu_ms_per_step": r["cpu_ms_per_step"],
                "init_s": r["init_s"],
                "init_loss": r["init_loss"],
                "init_steps": r["init_steps"],
            })
            print(f"  {label} seed {seed}: paired dE|v|^4 {per_seed[-1]['paired_dm4']:+.4f}, "
                  f"Fisher {per_seed[-1]['fisher_start']:.4f} -> {per_seed[-1]['fisher_end']:.4f}, "
                  f"ms/step {statistics.median(r['step_ms']):.1f}, load {_loadavg()[0]:.2f}", flush=True)
        all_ms = [v for p in per_seed for v in p["step_ms"]]
        dm4 = [p["paired_dm4"] for p in per_seed]
        summary = {
            "label": label, "score": score_name, "kwargs": kwargs,
            "ms_per_step": statistics.median(all_ms) if all_ms else math.nan,
            "cpu_ms_per_step": statistics.median(p["cpu_ms_per_step"] for p in per_seed),
            "paired_dm4_mean": _mean_sd(dm4)[0], "paired_dm4_sd": _mean_sd(dm4)[1],
            "paired_dm4_mean_abs": statistics.fmean(abs(v) for v in dm4),
            "kde_l2_mean": _mean_sd([p["kde_l2"] for p in per_seed])[0],
            "kde_l2_sd": _mean_sd([p["kde_l2"] for p in per_seed])[1],
            "fisher_start": _mean_sd([p["fisher_start"] for p in per_seed])[0],
            "fisher_end": _mean_sd([p["fisher_end"] for p in per_seed])[0],
            "fisher_max": _mean_sd([p["fisher_max"] for p in per_seed])[0],
            "init_s": statistics.fmean(p["init_s"] for p in per_seed),
            "init_loss": _mean_sd([p["init_loss"] for p in per_seed if p["init_loss"] is not None])[0],
            "load": [load_before, _loadavg()],
            "per_seed": per_seed,
        }
        result["rows"].append(summary)
        result["machine"]["load_end"] = _loadavg()
        if on_row is not None:
            on_row(result)
    return result


# ---------------------------------------------------------------------------------------------- output
def _fmt(v: float, spec: str) -> str:
    return "–" if v is None or not math.isfinite(v) else format(v, spec)


def format_markdown(result: dict[str, Any]) -> str:
    """The results as a markdown table with the command line, threads, CPU and load in its header."""
    s, m, ref = result["setting"], result["machine"], result["reference"]
    unpaired = list(ref["unpaired_m4_error_exact"].values())
    lines = [
        "# SBTM accuracy per second: 3-D BKW",
        "",
        f"Generated by `OMP_NUM_THREADS={m['OMP_NUM_THREADS']} {m['command']}`",
        "",
        f"- setting: 3-D BKW, C = {s['C']:.6g}, c_bkw = {s['c_bkw']:g}, t0 = {s['t0']:g} -> t = {s['t_end']:g}, "
        f"n = {s['n']}, dt = {s['dt']:g} ({s['steps']} Euler steps), {s['dtype']}, seeds {s['seeds']}",
        f"- machine: {m['cpu']} ({m['cpus']} logical CPUs), torch {m['torch']}, python {m['python']}, "
        f"torch threads = {m['threads']} (OMP_NUM_THREADS={m['OMP_NUM_THREADS']}), {m['date']}",
        f"- load average (1, 5, 15 min): start {m['load_start']}, end {m.get('load_end')}",
        f"- exact-score run: E|v|^4 at the end minus the analytic {ref['m4_analytic_end']:.4f} (unpaired, sampling "
        f"noise): {', '.join(f'{v:+.3f}' for v in unpaired)}; KDE L2 error at t0: "
        f"{', '.join(f'{v:.4f}' for v in ref['kde_l2_t0'].values())}",
        "- paired ΔE|v|^4 = E|v|^4(row) − E|v|^4(exact score, same initial particles) at the final time: "
        "mean ± standard deviation over seeds, and mean |Δ|; Fisher = relative Fisher error at the first step "
        "→ the last (max over the run), mean over seeds; KDE L2 = Scott-bandwidth KDE of the final particles "
        f"vs the exact density on a {s['kde_grid']}^3 grid over the particle box; ms/step = median wall time of "
        "one solver step (wall; CPU = process time, less sensitive to other jobs on the machine); init = initial "
        "fit (s, relative error); load = 1-min load average before/after the row.",
        "",
        "| row | settings | ms/step | CPU ms/step | paired ΔE\\|v\\|^4 | mean \\|Δ\\| | Fisher start → end (max) "
        "| KDE L2 | init s (rel. err) | load |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for r in result["rows"]:
        kw = ", ".join(f"{k}={v!r}" for k, v in r["kwargs"].items()) or "defaults"
        init = "–" if not math.isfinite(r["init_loss"]) else f"{r['init_s']:.1f} ({r['init_loss']:.1e})"
        lines.append(
            f"| {r['label']} | {r['score']}: {kw} | {_fmt(r['ms_per_step'], '.1f')} "
            f"| {_fmt(r.get('cpu_ms_per_step', math.nan), '.1f')} "
            f"| {_fmt(r['paired_dm4_mean'], '+.3f')} ± {_fmt(r['paired_dm4_sd'], '.3f')} "
            f"| {_fmt(r['paired_dm4_mean_abs'], '.3f')} "
            f"| {_fmt(r['fisher_start'], '.4f')} → {_fmt(r['fisher_end'], '.4f')} ({_fmt(r['fisher_max'], '.4f')}) "
            f"| {_fmt(r['kde_l2_mean'], '.4f')} ± {_fmt(r['kde_l2_sd'], '.4f')} | {init} "
            f"| {r['load'][0][0]:.2f}/{r['load'][1][0]:.2f} |")
    return "\n".join(lines) + "\n"


def format_timing_markdown(result: dict[str, Any]) -> str:
    """The ``--time-only`` table: ms per step (median, 10 % and 90 % quantiles) with the load."""
    s, m = result["setting"], result["machine"]
    lines = [
        "# SBTM time per step: 3-D BKW",
        "",
        f"Generated by `OMP_NUM_THREADS={m['OMP_NUM_THREADS']} {m['command']}`",
        "",
        f"- setting: 3-D BKW, t0 = {s['t0']:g}, n = {s['n']}, dt = {s['dt']:g}, {s['steps']} Euler steps from the "
        f"particles of seed {s['seeds'][0]}, {s['dtype']}; wall time of one solver step (score update, velocity, "
        "the solver's diagnostics), from the simulate callback time stamps",
        f"- machine: {m['cpu']} ({m['cpus']} logical CPUs), torch {m['torch']}, python {m['python']}, "
        f"torch threads = {m['threads']} (OMP_NUM_THREADS={m['OMP_NUM_THREADS']}), {m['date']}",
        f"- load average (1, 5, 15 min): start {m['load_start']}, end {m.get('load_end')}",
        "",
        "| row | settings | ms/step (median) | 10 %–90 % | CPU ms/step | init s | load |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in result["rows"]:
        kw = ", ".join(f"{k}={v!r}" for k, v in r["kwargs"].items()) or "defaults"
        lines.append(f"| {r['label']} | {r['score']}: {kw} | {_fmt(r['ms_per_step'], '.1f')} "
                     f"| {_fmt(r['ms_p10'], '.1f')}–{_fmt(r['ms_p90'], '.1f')} | {_fmt(r['cpu_ms_per_step'], '.1f')} "
                     f"| {_fmt(r['init_s'], '.1f')} "
                     f"| {r['load'][0][0]:.2f}/{r['load'][1][0]:.2f} |")
    return "\n".join(lines) + "\n"


def figure_data(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One point per row for an "error versus ms/step" plot."""
    keys = ("label", "score", "kwargs", "ms_per_step", "cpu_ms_per_step", "paired_dm4_mean", "paired_dm4_sd",
            "paired_dm4_mean_abs", "kde_l2_mean", "fisher_start", "fisher_end", "fisher_max")
    return [{k: r.get(k, math.nan) for k in keys} for r in result["rows"]]  # (older JSON: no CPU time)


def figure_csv(result: dict[str, Any]) -> str:
    """:func:`figure_data` as CSV (one row per score setting; settings as ``key=value;...``)."""
    cols = ("label", "score", "settings", "ms_per_step", "cpu_ms_per_step", "paired_dm4_mean", "paired_dm4_sd",
            "paired_dm4_mean_abs", "kde_l2_mean", "fisher_start", "fisher_end", "fisher_max")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(cols)
    for p in figure_data(result):
        settings = ";".join(f"{k}={v}" for k, v in p["kwargs"].items()) or "defaults"
        writer.writerow([p["label"], p["score"], settings] + [
            "" if not math.isfinite(p[c]) else f"{p[c]:.6g}" for c in cols[3:]])
    return buf.getvalue()


def _jsonable(obj: Any) -> Any:
    """Plain JSON: particles and per-step times dropped (the medians are kept), floats to 6 digits, NaN -> null."""
    if isinstance(obj, dict):
        out = {str(k): _jsonable(v) for k, v in obj.items() if k not in ("x_final", "step_ms")}
        if "step_ms" in obj and obj["step_ms"]:
            out["ms_per_step"] = float(f"{statistics.median(obj['step_ms']):.6g}")
        return out
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float):
        return float(f"{obj:.6g}") if math.isfinite(obj) else None
    return obj


def _null_to_nan(obj: Any) -> Any:
    """Inverse of :func:`_jsonable` for the numbers: JSON ``null`` -> NaN."""
    if isinstance(obj, dict):
        return {k: _null_to_nan(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_null_to_nan(v) for v in obj]
    return math.nan if obj is None else obj


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"tiny smoke run: {QUICK}")
    ap.add_argument("--time-only", action="store_true",
                    help="only time the rows (--steps steps from the first seed's particles; no reference, no errors)")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--steps", type=int, default=1000, help="Euler steps")
    ap.add_argument("--dt", type=float, default=0.01)
    ap.add_argument("--t0", type=float, default=5.5)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--rows", nargs="*", default=list(DEFAULT_ROWS), choices=sorted(PRESETS))
    ap.add_argument("--row", type=parse_row, action="append", default=[],
                    help="custom row LABEL=SCORE:key=value,... (repeatable)")
    ap.add_argument("--grid", type=int, default=64, help="KDE L2 grid points per axis")
    ap.add_argument("--record-every", type=int, default=10, help="solver diagnostics every K steps")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--md", type=Path, default=None, help="write the markdown table here")
    ap.add_argument("--json", type=Path, default=None, help="write all numbers (and the figure data) here")
    ap.add_argument("--csv", type=Path, default=None, help="write the 'error versus ms/step' figure data here")
    ap.add_argument("--render", type=Path, default=None,
                    help="run nothing: rewrite --md/--csv from this JSON file of an earlier run")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = ap.parse_args(argv)
    args.argv = argv
    if args.quick:
        for k, v in QUICK.items():
            setattr(args, k, v)
    return args


def write_outputs(result: dict[str, Any], args: argparse.Namespace) -> str:
    """Write the markdown table, the CSV and the JSON files asked for; return the table."""
    table = format_timing_markdown(result) if args.time_only else format_markdown(result)
    if args.md is not None:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text(table)
    if args.time_only:
        if args.json is not None:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(_jsonable(result)) + "\n")
        return table
    if args.csv is not None:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        args.csv.write_text(figure_csv(result))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = _jsonable({**result, "figure": figure_data(result)})
        args.json.write_text(json.dumps(payload) + "\n")
    return table


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.render is not None:
        result = _null_to_nan(json.loads(args.render.read_text()))
        args.time_only, args.json = bool(result["setting"].get("time_only")), None
        print(write_outputs(result, args))
        return result
    run = run_timing if args.time_only else run_benchmark
    result = run(args, on_row=lambda res: write_outputs(res, args))
    print(write_outputs(result, args))
    return result


if __name__ == "__main__":
    main()
