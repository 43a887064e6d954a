r"""Strong scaling of the distributed pair engine: the same N on 1 and on P processes.

    OMP_NUM_THREADS=1 python benchmarks/bench_distributed.py --n 8192 16384 --procs 1 2

Each process pins one torch thread (printed). For every N it times, with the compiled fused kernel warmed up,
the Coulomb velocity of N particles (float32) and the blob score, on P processes (gloo on the CPU, NCCL on GPUs with
``--device cuda``, one GPU per rank), and prints ms per call, the speed-up over one process and the parallel
efficiency (speed-up / P). Timings are the median of ``--reps`` calls, each ended by a barrier.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from landau_lite.distributed import shard_bounds  # noqa: E402
from landau_lite.gauss_sums import gauss_weighted_differences, log_gauss_sum  # noqa: E402
from landau_lite.velocity import VelocityField  # noqa: E402


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(rk: int, size: int, port: int, ns: list[int], reps: int, device_kind: str, out: str) -> None:
    torch.set_num_threads(1)
    backend = "nccl" if device_kind == "cuda" else "gloo"
    dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=rk, world_size=size)
    device = torch.device("cuda", rk) if device_kind == "cuda" else torch.device("cpu")
    group = dist.group.WORLD
    rows = []
    for n in ns:
        g = torch.Generator().manual_seed(n)
        x = torch.randn(n, 3, generator=g, dtype=torch.float64)
        s = -x + 0.3 * torch.sin(2 * x)
        a, b = shard_bounds(n, size, rk)
        xl, sl = x[a:b].to(device, torch.float32), s[a:b].to(device, torch.float32)
        field = VelocityField(3, -3.0, backend="compiled", process_group=group)

        def velocity():
            return field(xl, sl)

        def blob():
            z = log_gauss_sum(xl, xl, 0.3, backend="compiled", group=group)
            return gauss_weighted_differences(xl, xl, 0.3, z, backend="compiled", group=group)

        for name, fn in (("velocity", velocity), ("blob", blob)):
            fn()
            times = []
            for _ in range(reps):
                dist.barrier()
                t0 = time.perf_counter()
                fn()
                if device.type == "cuda":
                    torch.cuda.synchronize()
                dist.barrier()
                times.append(time.perf_counter() - t0)
            rows.append({"n": n, "procs": size, "kernel": name, "ms": 1e3 * statistics.median(times)})
    if rk == 0:
        Path(out).write_text(json.dumps(rows))
    dist.destroy_process_group()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[8192, 16384])
    ap.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = "1"
    print(f"# distributed strong scaling | torch {torch.__version__} | 1 thread per process | device {args.device} "
          f"| cores {os.cpu_count()} | load {os.getloadavg()[0]:.2f}")
    results = []
    for p in args.procs:
        with tempfile.TemporaryDirectory() as tmp:
            out = str(Path(tmp) / "rows.json")
            mp.start_processes(_worker, args=(p, _port(), args.n, args.reps, args.device, out), nprocs=p,
                               join=True, start_method="spawn")
            results += json.loads(Path(out).read_text())
    base = {(r["n"], r["kernel"]): r["ms"] for r in results if r["procs"] == 1}
    print(f"# {'kernel':8s} {'N':>7s} {'procs':>5s} {'ms':>9s} {'speed-up':>8s} {'efficiency':>10s}")
    for r in results:
        one = base.get((r["n"], r["kernel"]))
        sp = one / r["ms"] if one else float("nan")
        r.update(speedup=sp, efficiency=sp / r["procs"])
        print(f"  {r['kernel']:8s} {r['n']:7d} {r['procs']:5d} {r['ms']:9.2f} {sp:8.2f} {sp / r['procs']:10.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
