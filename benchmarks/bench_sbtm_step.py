r"""Benchmark: one full SBTM time step on 3-D BKW (Maxwell molecules), float32, one thread.

A step is what the solver does per time step::

    s = score.update(x, t)                        # steps_per_update Adam steps + s_theta(x)
    U = velocity(x, s, gamma=0, C=C)              # O(N) moment backend for gamma = 0
    x = x + dt * U

for the neural score with the DSM (25 steps, the default of [7]: three network passes on 3N points), the
single-pass denoising loss (Vincent 2011: one pass on N points), its antithetic form (one pass on
2N points; the package default, with 10 steps and width 64: ``--steps 10 --width 64``), exact-ISM (forward tangents)
and Hutchinson losses, eager and ``torch.compile``-d, and for the blob score, at N = 1024, 4096, 16384.
Target (issue 2): < 0.5 s per step at N = 4096 with the denoising loss on one thread.

Run::

    .venv/bin/python benchmarks/bench_sbtm_step.py                 # all N, all variants
    .venv/bin/python benchmarks/bench_sbtm_step.py --n 4096 --variants dsm dsm+compile
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_sbtm_step.py --n 1024 4096 16384 \
        --variants dsm denoising denoising+compile --reps 3

Times are wall-clock and process CPU seconds per step: median and best over ``--reps`` steps after
warm-up steps (the first step, which includes compilation, is reported separately). On a shared
machine the CPU time is the more stable number. The script re-executes itself once with the glibc
malloc settings of ``_MALLOC`` (large temporaries otherwise page-fault on every call); pass
``--no-malloc-tuning`` to keep the default allocator.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

_MALLOC = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "17179869184",
           "MALLOC_TOP_PAD_": "1073741824"}

VARIANTS = ("dsm", "dsm+compile", "denoising", "denoising+compile", "antithetic", "antithetic+compile", "ism",
            "ism+compile", "hutchinson", "blob")


def _parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[1024, 4096, 16384], help="particle numbers")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    ap.add_argument("--reps", type=int, default=5, help="timed steps per variant (after warm-up)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps (the first includes compilation)")
    ap.add_argument("--steps", type=int, default=25, help="Adam steps per update")
    ap.add_argument("--width", type=int, default=100, help="hidden units per layer of the score network")
    ap.add_argument("--dt", type=float, default=0.01, help="time step")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--blob-max-n", type=int, default=16384, help="skip the blob score above this N")
    ap.add_argument("--no-malloc-tuning", action="store_true")
    return ap.parse_args()


def main() -> None:
    args = _parse()
    if not args.no_malloc_tuning and any(os.environ.get(k) != v for k, v in _MALLOC.items()):
        env = dict(os.environ, **_MALLOC)
        env.setdefault("OMP_NUM_THREADS", str(args.threads))
        os.execve(sys.executable, [sys.executable, *sys.argv], env)

    import torch

    from landau_lite.problems import get_problem
    from landau_lite.scores import BlobScore, NeuralScore

    try:
        from landau_lite.velocity import velocity
    except ImportError:  # the velocity module is optional for this benchmark
        velocity = None

    torch.set_num_threads(args.threads)
    problem = get_problem("bkw3")
    dtype = torch.float32
    print(f"# SBTM step benchmark: 3-D BKW (gamma={problem.gamma}, C={problem.C:.6g}), dtype=float32, "
          f"torch.get_num_threads()={torch.get_num_threads()}, torch {torch.__version__}, "
          f"python {platform.python_version()}, {platform.machine()}, cpus={os.cpu_count()}, "
          f"malloc tuning={'off' if args.no_malloc_tuning else 'on'}")
    print(f"# velocity: {'landau_lite.velocity.velocity (backend auto -> moments for gamma=0)' if velocity else 'n/a'}")
    print(f"# {args.steps} Adam steps per update; times in ms per full step: median / best over {args.reps} steps; "
          "first = first step (includes torch.compile)")
    header = f"{'N':>6} {'variant':<13} {'wall med':>9} {'wall best':>9} {'cpu med':>9} {'cpu best':>9} " \
             f"{'first':>9} {'score/step':>10} {'velocity':>9}"
    print(header)

    ms = lambda v: 1e3 * v  # noqa: E731
    for n in args.n:
        x0 = problem.sample(n, generator=torch.Generator().manual_seed(0), dtype=dtype)
        # calibration: what this machine gives right now for the dominant matmul shape (3N x 100 @ 100 x 100)
        h, w = torch.randn(3 * n, 100), torch.randn(100, 100)
        for _ in range(3):
            h @ w
        c0 = time.process_time()
        for _ in range(20):
            h @ w
        gflops = 20 * 2 * 3 * n * 100 * 100 / max(time.process_time() - c0, 1e-9) / 1e9
        print(f"# N={n}: calibration 3N x 100 @ 100 x 100 f32 matmul: {gflops:.1f} GFLOP/s (CPU time)")
        runs = {}
        for variant in args.variants:
            if variant == "blob":
                if n > args.blob_max_n:
                    continue
                score = BlobScore()
            else:
                loss, _, comp = variant.partition("+")
                score = NeuralScore(problem.d, loss=loss, steps_per_update=args.steps, width=args.width,
                                    init_steps=20, init_polish=0, compile=bool(comp), seed=0)
            score.initialize(x0, problem.t0, problem)  # short fit: only the speed is measured here
            runs[variant] = {"score": score, "x": x0.clone(), "t": problem.t0, "wall": [], "cpu": [],
                             "score_t": [], "vel_t": [], "first": float("nan")}

        def one_step(run: dict) -> tuple[float, float, float, float]:
            w0, c0 = time.perf_counter(), time.process_time()
            s = run["score"].update(run["x"], run["t"])
            w1 = time.perf_counter()
            u = velocity(run["x"], s, gamma=problem.gamma, C=problem.C) if velocity is not None else 0.0 * s
            run["x"] = run["x"] + args.dt * u
            run["t"] += args.dt
            w2, c2 = time.perf_counter(), time.process_time()
            return w2 - w0, c2 - c0, w1 - w0, w2 - w1

        for run in runs.values():  # warm-up (the first step compiles where asked)
            for k in range(args.warmup):
                wall = one_step(run)[0]
                if k == 0:
                    run["first"] = wall
        for _ in range(args.reps):  # interleaved rounds: every variant sees the same machine load
            for run in runs.values():
                wall, cpu, ts, tv = one_step(run)
                run["wall"].append(wall)
                run["cpu"].append(cpu)
                run["score_t"].append(ts)
                run["vel_t"].append(tv)
        for variant, run in runs.items():
            print(f"{n:>6} {variant:<13} {ms(statistics.median(run['wall'])):9.1f} {ms(min(run['wall'])):9.1f} "
                  f"{ms(statistics.median(run['cpu'])):9.1f} {ms(min(run['cpu'])):9.1f} {ms(run['first']):9.1f} "
                  f"{ms(statistics.median(run['score_t'])):10.1f} {ms(statistics.median(run['vel_t'])):9.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
