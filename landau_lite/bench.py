r"""Benchmarks of the pair engine, measured in one run: ``python -m landau_lite bench``.

Sections (``--sections``, all by default):

* ``velocity`` — every backend of :func:`landau_lite.velocity.velocity` and the naive broadcast sum
  (:func:`landau_lite.reference.velocity_naive`) for several :math:`N`, dtypes and :math:`\gamma`: best and median
  ms per evaluation, the median over interleaved rounds of ``t(naive) / t(backend)`` (both times of a ratio under the
  same machine load), the attained GFLOP/s with the FLOPs per pair stated in the header, the fraction of this
  machine's roofline (a one-thread matrix product timed in the same run), and the peak extra memory of one call;
* ``blob`` — :func:`landau_lite.scores.blob_score` per backend: ms and peak memory;
* ``memory`` — peak extra memory of the compiled blob score for :math:`N=10^4\to5\cdot10^4` (float32), against the
  :math:`N\times N` buffer an unstreamed log-sum-exp would need;
* ``nchange`` — the compiled Coulomb kernel at each :math:`N` after other sizes ran in the same process, against a
  fresh process at that :math:`N` (the ratio must stay near 1: one dynamic-shape kernel serves every size);
* ``small`` — ``backend="auto"`` at small :math:`N`: its first call (eager, nothing compiled), and its steady state
  after the engine's tiered switch, against the compiled kernel.

The torch thread count is pinned (default 1) and printed. Peak memory is the CUDA peak allocation, or the rise of
the resident-set peak (``VmHWM`` after ``clear_refs``; Linux only) on the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Callable, Sequence

import torch

from . import pairs
from .reference import MAX_N_NAIVE, velocity_naive
from .scores import blob_score
from .velocity import FLOPS_PER_PAIR, velocity

__all__ = ["main", "time_call", "peak_extra_memory_mib", "roofline_gflops", "SECTIONS"]

SECTIONS = ("velocity", "blob", "memory", "nchange", "small")
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def time_call(fn: Callable[[], object], device: torch.device, *, min_seconds: float = 0.02) -> float:
    """Wall time of one call in seconds (CUDA synchronised).

    A call shorter than ``min_seconds / 10`` is timed as the mean of enough back-to-back calls to fill ``min_seconds``
    (as ``timeit``'s autorange does): one sub-millisecond call alone measures the cold caches left by whatever ran
    before it, not the call.
    """
    def once(k: int) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(k):
            fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return (time.perf_counter() - t) / k

    first = once(1)
    if first >= min_seconds / 10:
        return first
    return once(max(2, int(min_seconds / max(first, 1e-7))))


def _proc_status_kib(key: str) -> int | None:
    """A ``/proc/self/status`` memory field (``VmHWM``, ``VmRSS``) in KiB, or None off Linux."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_extra_memory_mib(fn: Callable[[], object], device: torch.device) -> float | None:
    """Rise of the peak memory during one call: CUDA peak allocated, or the CPU ``VmHWM`` (Linux only)."""
    if device.type == "cuda":
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # reset VmHWM to the current RSS
    except OSError:
        return None
    base = _proc_status_kib("VmRSS")
    fn()
    peak = _proc_status_kib("VmHWM")
    if base is None or peak is None:
        return None
    return max(0.0, (peak - base) / 1024)


def roofline_gflops(dtype: torch.dtype, device: torch.device, *, size: int = 1024, reps: int = 5) -> float:
    """GFLOP/s of a ``size³`` matrix product (best of ``reps``) with the current thread count: the machine's roofline."""
    a = torch.randn(size, size, dtype=dtype, device=device)
    b = torch.randn(size, size, dtype=dtype, device=device)
    a @ b
    best = min(time_call(lambda: a @ b, device) for _ in range(reps))
    return 2.0 * size**3 / best / 1e9


def _data(n: int, d: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(n)
    x = torch.randn(n, d, generator=g, dtype=torch.float64, device="cpu")
    s = -x / torch.tensor([1.0, 1.5, 0.7] + [1.0] * (d - 3), dtype=torch.float64, device="cpu")[:d] ** 2 + 0.3 * torch.sin(2 * x)
    return x.to(dtype=dtype, device=device), s.to(dtype=dtype, device=device)


def _flops(gamma: float) -> int:
    return FLOPS_PER_PAIR[-3.0] if gamma == -3.0 else FLOPS_PER_PAIR["other"]


def bench_velocity(ns: Sequence[int], dtypes: Sequence[str], gammas: Sequence[float], *, d: int, rounds: int,
                   naive_max_n: int, device: torch.device, roof: dict[str, float],
                   out: Callable[[str], None]) -> list[dict]:
    """Every velocity backend and the naive sum, interleaved rounds; one row per (γ, dtype, N, backend)."""
    rows: list[dict] = []
    out(f"# velocity | FLOPs per pair: {FLOPS_PER_PAIR[-3.0]} (gamma = -3), {FLOPS_PER_PAIR['other']} (other gamma; "
        f"d = 3) | roofline = 1-thread matmul GFLOP/s")
    out(f"# {'gamma':>5} {'dtype':8s} {'N':>7s} {'backend':9s} {'best ms':>10s} {'median ms':>10s} {'vs naive':>9s} "
        f"{'GFLOP/s':>8s} {'roofline':>8s} {'peak MiB':>9s}")
    for gamma in gammas:
        for dt_name in dtypes:
            dtype = _DTYPES[dt_name]
            for n in ns:
                x, s = _data(n, d, dtype, device)
                variants: dict[str, Callable[[], object]] = {}
                if gamma == 0.0:
                    variants["moments"] = lambda: velocity(x, s, gamma=gamma, backend="moments")
                variants["compiled"] = lambda: velocity(x, s, gamma=gamma, backend="compiled")
                if n <= 16384:
                    variants["chunked"] = lambda: velocity(x, s, gamma=gamma, backend="chunked")
                if n <= min(naive_max_n, MAX_N_NAIVE):
                    variants["naive"] = lambda: velocity_naive(x, s, gamma=gamma)
                for fn in variants.values():  # warm-up (compiles)
                    fn()
                times: dict[str, list[float]] = {k: [] for k in variants}
                for _ in range(rounds):
                    for k, fn in variants.items():
                        times[k].append(time_call(fn, device))
                for k in variants:
                    ratio = None
                    if "naive" in times:
                        ratio = statistics.median(tn / tk for tn, tk in zip(times["naive"], times[k]))
                    mem = peak_extra_memory_mib(variants[k], device)
                    best = min(times[k])
                    gf = None if k == "moments" else _flops(gamma) * n * n / best / 1e9
                    frac = None if gf is None else gf / roof[dt_name]
                    row = {"section": "velocity", "gamma": gamma, "dtype": dt_name, "n": n, "backend": k,
                           "best_ms": 1e3 * best, "median_ms": 1e3 * statistics.median(times[k]),
                           "speedup_vs_naive": ratio, "gflops": gf, "roofline_fraction": frac, "peak_extra_mib": mem}
                    rows.append(row)
                    rs = f"{ratio:8.1f}x" if ratio is not None else "       -"
                    gs = f"{gf:8.1f}" if gf is not None else "       -"
                    fs = f"{100 * frac:7.1f}%" if frac is not None else "       -"
                    ms = f"{mem:9.1f}" if mem is not None else "        -"
                    out(f"{gamma:7.1f} {dt_name:8s} {n:7d} {k:9s} {row['best_ms']:10.3f} {row['median_ms']:10.3f} "
                        f"{rs} {gs} {fs} {ms}")
    return rows


def bench_blob(ns: Sequence[int], dtypes: Sequence[str], *, rounds: int, device: torch.device,
               out: Callable[[str], None]) -> list[dict]:
    """The blob score per backend (3-D Gaussian particles, epsilon = 0.3)."""
    rows: list[dict] = []
    out(f"# blob score (d = 3, epsilon = 0.3) | {'dtype':8s} {'N':>7s} {'backend':9s} {'best ms':>10s} {'peak MiB':>9s}")
    for dt_name in dtypes:
        for n in ns:
            x, _ = _data(n, 3, _DTYPES[dt_name], device)
            for backend in ("compiled", "chunked"):
                if backend == "chunked" and n > 16384:
                    continue
                fn = lambda: blob_score(x, epsilon=0.3, backend=backend)  # noqa: E731
                fn()
                best = min(time_call(fn, device) for _ in range(rounds))
                mem = peak_extra_memory_mib(fn, device)
                rows.append({"section": "blob", "dtype": dt_name, "n": n, "backend": backend, "best_ms": 1e3 * best,
                             "peak_extra_mib": mem})
                ms = f"{mem:9.1f}" if mem is not None else "        -"
                out(f"  blob {dt_name:8s} {n:7d} {backend:9s} {1e3 * best:10.2f} {ms}")
    return rows


def bench_memory(ns: Sequence[int], *, device: torch.device, out: Callable[[str], None]) -> list[dict]:
    """Peak extra memory of the compiled blob score against N (float32), next to the size of an N x N buffer."""
    rows: list[dict] = []
    out(f"# memory vs N: compiled blob score, float32 | {'N':>7s} {'peak MiB':>9s} {'N x N MiB':>10s} {'s/call':>7s}")
    x0, _ = _data(2048, 3, torch.float32, device)
    blob_score(x0, epsilon=0.3, backend="compiled")
    for n in ns:
        x, _ = _data(n, 3, torch.float32, device)
        t0 = time.perf_counter()
        mem = peak_extra_memory_mib(lambda: blob_score(x, epsilon=0.3, backend="compiled"), device)
        secs = time.perf_counter() - t0
        nxn = n * n * 4 / 2**20
        rows.append({"section": "memory", "n": n, "peak_extra_mib": mem, "nxn_mib": nxn, "seconds": secs})
        ms = f"{mem:9.1f}" if mem is not None else "        -"
        out(f"  memory {n:7d} {ms} {nxn:10.0f} {secs:7.2f}")
    return rows


def _in_fresh_process(call: str, threads: int) -> str:
    """Evaluate ``call`` (an expression over this module's names) in a new Python process with ``threads`` torch
    threads, nothing compiled there before; return what it printed last (``json.dumps`` of the result)."""
    code = (f"import json, torch; from landau_lite.bench import _small_here, _steady_ms; "
            f"torch.set_num_threads({threads}); print(json.dumps({call}))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return res.stdout.strip().splitlines()[-1]


def _fresh_ms(n: int, dt_name: str, gamma: float, rounds: int, threads: int) -> float:
    """Best ms of the compiled velocity at ``n`` in a fresh process (nothing compiled there before)."""
    return float(_in_fresh_process(f"_steady_ms({n}, {dt_name!r}, {gamma!r}, {rounds})", threads))


def _steady_ms(n: int, dt_name: str, gamma: float, rounds: int, backend: str = "compiled") -> float:
    x, s = _data(n, 3, _DTYPES[dt_name], torch.device("cpu"))
    velocity(x, s, gamma=gamma, backend=backend)
    return 1e3 * min(time_call(lambda: velocity(x, s, gamma=gamma, backend=backend), torch.device("cpu"))
                     for _ in range(rounds))


def bench_nchange(ns: Sequence[int], *, dt_name: str, gamma: float, rounds: int, threads: int,
                  out: Callable[[str], None]) -> list[dict]:
    """The compiled kernel at each N after the other sizes ran in this process, against a fresh process."""
    rows: list[dict] = []
    out(f"# N change: compiled velocity (gamma = {gamma:g}, {dt_name}) after other N in this process vs a fresh "
        f"process | {'N':>7s} {'here ms':>9s} {'fresh ms':>9s} {'ratio':>6s}")
    for n in list(ns)[::-1]:          # compile at the largest size first: every later size is a shape change
        _steady_ms(n, dt_name, gamma, 1)
    for n in ns:
        here = _steady_ms(n, dt_name, gamma, rounds)
        fresh = _fresh_ms(n, dt_name, gamma, rounds, threads)
        rows.append({"section": "nchange", "n": n, "dtype": dt_name, "gamma": gamma, "here_ms": here,
                     "fresh_ms": fresh, "ratio": here / fresh})
        out(f"  nchange {n:7d} {here:9.3f} {fresh:9.3f} {here / fresh:6.2f}")
    return rows


def _small_in_fresh_process(n: int, dt_name: str, gamma: float, rounds: int, threads: int) -> dict:
    return json.loads(_in_fresh_process(f"_small_here({n}, {dt_name!r}, {gamma!r}, {rounds})", threads))


def _small_here(n: int, dt_name: str, gamma: float, rounds: int) -> dict:
    dev = torch.device("cpu")
    x, s = _data(n, 3, _DTYPES[dt_name], dev)
    first = 1e3 * time_call(lambda: velocity(x, s, gamma=gamma, backend="auto"), dev, min_seconds=0.0)
    calls = 1
    while not pairs.compiled_kernels():
        velocity(x, s, gamma=gamma, backend="auto")
        calls += 1
    steady = 1e3 * min(time_call(lambda: velocity(x, s, gamma=gamma, backend="auto"), dev) for _ in range(rounds))
    comp = _steady_ms(n, dt_name, gamma, rounds)
    return {"first_ms": first, "steady_ms": steady, "compiled_ms": comp, "calls_to_switch": calls}


def bench_small(ns: Sequence[int], *, dt_name: str, gamma: float, rounds: int, threads: int,
                out: Callable[[str], None]) -> list[dict]:
    """``backend="auto"`` at small N, each N in a fresh process: first call (eager, no compiler), the number of calls
    until the tiered switch, and the steady state against the compiled kernel."""
    rows: list[dict] = []
    out(f"# small N, backend='auto' (gamma = {gamma:g}, {dt_name}), fresh process per N | {'N':>7s} "
        f"{'1st call ms':>11s} {'calls to switch':>15s} {'steady ms':>10s} {'compiled ms':>11s} {'steady/compiled':>15s}")
    for n in ns:
        r = _small_in_fresh_process(n, dt_name, gamma, rounds, threads)
        ratio = r["steady_ms"] / r["compiled_ms"]
        rows.append({"section": "small", "n": n, **r, "steady_over_compiled": ratio})
        out(f"  small {n:7d} {r['first_ms']:11.3f} {r['calls_to_switch']:15d} {r['steady_ms']:10.3f} "
            f"{r['compiled_ms']:11.3f} {ratio:15.2f}")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: ``python -m landau_lite bench [--n 1024 4096 ...] [--threads 1] [--json out.json]``."""
    p = argparse.ArgumentParser(prog="python -m landau_lite bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    p.add_argument("--n", type=int, nargs="+", default=[1024, 4096, 16384], help="velocity and blob sizes")
    p.add_argument("--dtype", nargs="+", choices=list(_DTYPES), default=["float32", "float64"])
    p.add_argument("--gamma", type=float, nargs="+", default=[-3.0, 0.0])
    p.add_argument("--d", type=int, default=3)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: robust on shared 2-vCPU machines)")
    p.add_argument("--naive-max-n", type=int, default=4096)
    p.add_argument("--memory-n", type=int, nargs="+", default=[10_000, 20_000, 50_000])
    p.add_argument("--nchange-n", type=int, nargs="+", default=[1024, 4096, 16384])
    p.add_argument("--small-n", type=int, nargs="+", default=[512, 1024, 2048])
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = p.parse_args(argv)
    for name in ("n", "memory_n", "nchange_n", "small_n"):
        if any(n < 2 for n in getattr(args, name)):
            p.error(f"--{name.replace('_', '-')} values must be >= 2")
    if args.threads < 1:
        p.error("--threads must be >= 1")
    if args.rounds < 1:
        p.error("--rounds must be >= 1")
    if args.d < 2:
        p.error("--d must be >= 2")
    if not -args.d - 1 <= min(args.gamma) <= max(args.gamma) <= 1:
        p.error(f"--gamma values must lie in [{-args.d - 1}, 1]")
    try:
        device = torch.device(args.device)
        torch.empty(0, device=device)
    except (RuntimeError, ValueError) as exc:
        p.error(f"--device {args.device!r}: {exc}")
    if device.type == "meta":
        p.error("--device meta holds no data: use cpu or cuda")
    torch.set_num_threads(args.threads)
    roof = {dt: roofline_gflops(_DTYPES[dt], device) for dt in args.dtype}
    print(f"# landau_lite benchmark | torch {torch.__version__} | threads {torch.get_num_threads()} | device "
          f"{device} | {platform.processor() or platform.machine()} | OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', '-')} | load {os.getloadavg()[0]:.2f} | rounds {args.rounds} | "
          + " | ".join(f"roofline {dt} {g:.1f} GFLOP/s" for dt, g in roof.items()))
    rows: list[dict] = []
    if "velocity" in args.sections:
        rows += bench_velocity(args.n, args.dtype, args.gamma, d=args.d, rounds=args.rounds,
                               naive_max_n=args.naive_max_n, device=device, roof=roof, out=print)
    if "blob" in args.sections:
        rows += bench_blob(args.n, args.dtype, rounds=max(1, args.rounds // 2), device=device, out=print)
    if "memory" in args.sections:
        rows += bench_memory(args.memory_n, device=device, out=print)
    if device.type == "cpu" and "nchange" in args.sections:
        rows += bench_nchange(args.nchange_n, dt_name="float32", gamma=-3.0, rounds=args.rounds,
                              threads=args.threads, out=print)
    if device.type == "cpu" and "small" in args.sections:
        rows += bench_small(args.small_n, dt_name="float32", gamma=-3.0, rounds=args.rounds, threads=args.threads,
                            out=print)
    if args.json:
        payload = {"threads": torch.get_num_threads(), "torch": torch.__version__, "roofline_gflops": roof,
                   "rows": rows}
        tmp = args.json + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(payload, fh, indent=1)
        os.replace(tmp, args.json)
    return 0
