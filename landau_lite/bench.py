r"""Benchmark of the velocity backends against the naive broadcast version, measured in one run.

``python -m landau_lite bench`` prints, for several N, dtypes and :math:`\gamma`, the best and median
milliseconds per evaluation of every backend and of :func:`landau_lite.reference.velocity_naive`, and the
median over interleaved rounds of ``t(naive) / t(backend)`` (so both times of a ratio are taken under the
same machine load). The torch thread count is pinned (default 1) and printed. On Linux the peak extra
resident memory of one call (``VmHWM`` rise after ``clear_refs``) is reported too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from typing import Callable, Sequence

import torch

from .reference import MAX_N_NAIVE, velocity_naive
from .velocity import velocity

__all__ = ["main", "time_call", "peak_extra_memory_mib"]


def time_call(fn: Callable[[], object], device: torch.device) -> float:
    """Wall time of one call in seconds (CUDA synchronised)."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t


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


def _data(n: int, d: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(n)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    s = -x / torch.tensor([1.0, 1.5, 0.7] + [1.0] * (d - 3), dtype=torch.float64)[:d] ** 2 + 0.3 * torch.sin(2 * x)
    return x.to(dtype=dtype, device=device), s.to(dtype=dtype, device=device)


def run_benchmark(ns: Sequence[int], dtypes: Sequence[str], gammas: Sequence[float], *, d: int = 3,
                  rounds: int = 5, naive_max_n: int = 4096, device: str = "cpu",
                  print_fn: Callable[[str], None] = print) -> list[dict]:
    """Time every backend and the naive version in interleaved rounds; return one row per measurement."""
    dev = torch.device(device)
    rows: list[dict] = []
    for gamma in gammas:
        for dt_name in dtypes:
            dtype = {"float32": torch.float32, "float64": torch.float64}[dt_name]
            for n in ns:
                x, s = _data(n, d, dtype, dev)
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
                        times[k].append(time_call(fn, dev))
                for k in variants:
                    ratio = None
                    if "naive" in times:
                        ratio = statistics.median(tn / tk for tn, tk in zip(times["naive"], times[k]))
                    mem = peak_extra_memory_mib(variants[k], dev)
                    row = {"gamma": gamma, "dtype": dt_name, "n": n, "backend": k,
                           "best_ms": 1e3 * min(times[k]), "median_ms": 1e3 * statistics.median(times[k]),
                           "speedup_vs_naive": ratio, "peak_extra_mib": mem}
                    rows.append(row)
                    rs = f"{ratio:8.1f}x" if ratio is not None else "       -"
                    ms = f"{mem:9.1f}" if mem is not None else "        -"
                    print_fn(f"{gamma:6.1f} {dt_name:8s} {n:7d} {k:9s} {row['best_ms']:10.3f} {row['median_ms']:10.3f} {rs} {ms}")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: ``python -m landau_lite bench [--n 1024 4096 ...] [--threads 1] [--json out.json]``."""
    p = argparse.ArgumentParser(prog="python -m landau_lite bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, nargs="+", default=[1024, 4096, 16384])
    p.add_argument("--dtype", nargs="+", choices=["float32", "float64"], default=["float32", "float64"])
    p.add_argument("--gamma", type=float, nargs="+", default=[-3.0, 0.0])
    p.add_argument("--d", type=int, default=3)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: robust on shared 2-vCPU machines)")
    p.add_argument("--naive-max-n", type=int, default=4096)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = p.parse_args(argv)
    if any(n < 2 for n in args.n):
        p.error("--n values must be >= 2")
    if args.threads < 1:
        p.error("--threads must be >= 1")
    if args.rounds < 1:
        p.error("--rounds must be >= 1")
    if not -args.d - 1 <= min(args.gamma) <= max(args.gamma) <= 1:
        p.error(f"--gamma values must lie in [{-args.d - 1}, 1]")
    torch.set_num_threads(args.threads)
    print(f"# landau_lite velocity benchmark | torch {torch.__version__} | threads {torch.get_num_threads()} | "
          f"device {args.device} | {platform.processor() or platform.machine()} | "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')} | rounds {args.rounds}")
    print(f"# {'gamma':>5} {'dtype':8s} {'N':>7s} {'backend':9s} {'best ms':>10s} {'median ms':>10s} "
          f"{'vs naive':>9s} {'peak MiB':>9s}")
    rows = run_benchmark(args.n, args.dtype, args.gamma, d=args.d, rounds=args.rounds,
                         naive_max_n=args.naive_max_n, device=args.device)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"threads": torch.get_num_threads(), "torch": torch.__version__, "rows": rows}, fh, indent=1)
    return 0
