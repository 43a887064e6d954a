r"""The GPU check: prove the CUDA path of landau_lite on any machine with one CUDA GPU, in minutes.

``bash scripts/device_check.sh`` (or ``python benchmarks/device_check.py``) on a CUDA machine:

1. runs the device-parametrised tests (``pytest -m device``: velocity backends against the naive oracle, scores,
   losses, simulate with every score method, KDE, the certificate's estimators) on CUDA;
2. executes every notebook at its GPU sizes (``ll.by_device``), in a scratch copy, and records each check's verdict
   (the ``✓`` / ``✗ FAILED`` lines that :mod:`landau_lite.book.verify` prints) and the wall time per notebook — the
   outputs are not compared with the committed CPU outputs;
3. times the Coulomb velocity (float32 and float64) at :math:`N = 10^4, 10^5, 10^6` for each backend against a naive
   batched broadcast sum where it fits, with the attained GFLOP/s (FLOPs per pair stated in the report) and the
   fraction of the GPU's FP32 peak (a float32 matrix product without TF32, timed in the same run); and one SBTM
   time step (the package's default score-matching settings, velocity included) at :math:`N=10^4` and :math:`10^5`;
4. writes one JSON report (GPU name, torch and CUDA versions, every number) to
   ``benchmarks/results/device_check_<gpu>.json`` (atomically; a partial report is written if a step fails or the
   time budget runs out).

``--cpu-smoke`` runs the same steps on the CPU at tiny sizes (one notebook), so the script cannot rot: the test
command runs it (``tests/test_device_check.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import landau_lite as ll  # noqa: E402
from landau_lite.bench import time_call  # noqa: E402
from landau_lite.velocity import FLOPS_PER_PAIR, VelocityField  # noqa: E402

REQUIRED_MODULES = ("nbclient", "nbformat", "ipykernel", "matplotlib", "tqdm", "scipy", "pytest")


class Report:
    """The JSON report, rewritten atomically after every step (nothing measured is lost)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "steps": {}}

    def put(self, key: str, value: Any) -> None:
        self.data["steps"][key] = value
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, default=str))
        os.replace(tmp, self.path)


def environment(device: torch.device) -> dict[str, Any]:
    env = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
           "device": str(device), "cpu": platform.processor() or platform.machine(),
           "threads": torch.get_num_threads(), "landau_lite": ll.__version__}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                   multiprocessors=props.multi_processor_count)
    missing = []
    for mod in REQUIRED_MODULES:
        try:
            __import__(mod)
        except ImportError:
            missing.append(mod)
    env["missing_modules"] = missing
    return env


def run_device_tests(device: torch.device, budget_s: float) -> dict[str, Any]:
    """``pytest -m device`` restricted to this device's parametrisation."""
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "device", "-k", device.type,
           str(ROOT / "tests" / "test_devices.py")]
    try:
        res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=budget_s)
        tail = (res.stdout + res.stderr).strip().splitlines()[-15:]
        rc = res.returncode
    except subprocess.TimeoutExpired:
        tail, rc = ["timed out"], -1
    summary = next((ln for ln in reversed(tail) if re.search(r"\d+ (passed|failed)", ln)), "")
    return {"returncode": rc, "summary": summary, "tail": tail, "seconds": time.perf_counter() - t0}


def run_notebooks(paths: list[Path], device: torch.device, budget_s: float) -> list[dict[str, Any]]:
    """Execute each notebook in a scratch copy; count the verdict lines of its checks."""
    import nbformat
    from nbclient import NotebookClient

    env_cuda = os.environ.get("CUDA_VISIBLE_DEVICES")
    if device.type == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    out: list[dict[str, Any]] = []
    deadline = time.perf_counter() + budget_s
    try:
        with tempfile.TemporaryDirectory() as scratch:
            for path in paths:
                left = deadline - time.perf_counter()
                if left < 10:
                    out.append({"notebook": path.name, "skipped": "time budget spent"})
                    continue
                nb = nbformat.read(path, as_version=4)
                work = Path(scratch) / path.name
                t0 = time.perf_counter()
                error = None
                try:
                    NotebookClient(nb, timeout=int(left), kernel_name="python3", record_timing=False,
                                   resources={"metadata": {"path": str(path.parent)}}).execute()
                except Exception as exc:  # noqa: BLE001 - a failing notebook is a result, not a crash
                    error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:300] if str(exc) else ''}"
                nbformat.write(nb, work)
                text = "\n".join("".join(o.get("text", "")) for c in nb.cells if c.cell_type == "code"
                                 for o in c.get("outputs", []) if o.get("output_type") == "stream")
                out.append({"notebook": path.name, "seconds": round(time.perf_counter() - t0, 2),
                            "checks_passed": len(re.findall(r"^✓ ", text, flags=re.M)),
                            "checks_failed": len(re.findall(r"^✗ FAILED", text, flags=re.M)),
                            "findings": len(re.findall(r"^finding ", text, flags=re.M)), "error": error})
    finally:
        if env_cuda is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = env_cuda
    return out


def _naive_batched(x: torch.Tensor, s: torch.Tensor, gamma: float, rows: int) -> torch.Tensor:
    """The broadcast N x N x d sum, in row batches that fit the memory (the baseline)."""
    out = torch.empty_like(x)
    for a in range(0, x.shape[0], rows):
        z = x[a:a + rows, None, :] - x[None, :, :]
        w = s[a:a + rows, None, :] - s[None, :, :]
        r2 = (z * z).sum(-1, keepdim=True)
        p = torch.where(r2 > 0, torch.where(r2 > 0, r2, 1.0) ** (0.5 * gamma), 0.0)
        out[a:a + rows] = -(p * (r2 * w - (z * w).sum(-1, keepdim=True) * z)).sum(1) / x.shape[0]
    return out


def fp32_peak_gflops(device: torch.device, size: int) -> float:
    """FP32 matrix-product GFLOP/s without TF32 (the CUDA cores' FP32 peak on a GPU, the roofline on a CPU)."""
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        a = torch.randn(size, size, device=device)
        b = torch.randn(size, size, device=device)
        a @ b
        best = min(time_call(lambda: a @ b, device) for _ in range(5))
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32
    return 2.0 * size**3 / best / 1e9


def time_velocity(ns: list[int], device: torch.device, peak: float, reps: int, budget_s: float) -> list[dict]:
    rows = []
    deadline = time.perf_counter() + budget_s
    mem = torch.cuda.get_device_properties(device).total_memory if device.type == "cuda" else 2**31
    for dtype in (torch.float32, torch.float64):
        for n in ns:
            g = torch.Generator().manual_seed(n)
            x = torch.randn(n, 3, generator=g, dtype=torch.float64)
            s = -x + 0.3 * torch.sin(2 * x)
            x, s = x.to(device, dtype), s.to(device, dtype)
            variants: dict[str, Callable[[], object]] = {
                "compiled": lambda: ll.velocity(x, s, gamma=-3.0, backend="compiled"),
                "chunked": lambda: ll.velocity(x, s, gamma=-3.0, backend="chunked"),
            }
            bytes_per_row = 8 * n * 3 * x.element_size()
            rows_fit = int(min(n, 0.25 * mem // bytes_per_row))
            if rows_fit >= 1 and n <= 200_000:
                variants["naive batched"] = lambda: _naive_batched(x, s, -3.0, rows_fit)
            for name, fn in variants.items():
                if time.perf_counter() > deadline:
                    rows.append({"n": n, "dtype": str(dtype), "backend": name, "skipped": "time budget spent"})
                    continue
                est = n * n * (2e-10 if device.type == "cuda" else 2e-8) * (30 if name != "compiled" else 1)
                if est > 0.25 * max(0.0, deadline - time.perf_counter()):
                    rows.append({"n": n, "dtype": str(dtype), "backend": name, "skipped": "too slow for the budget"})
                    continue
                fn()
                best = min(time_call(fn, device) for _ in range(reps))
                gflops = FLOPS_PER_PAIR[-3.0] * n * n / best / 1e9
                rows.append({"n": n, "dtype": str(dtype), "backend": name, "ms": round(1e3 * best, 3),
                             "gflops": round(gflops, 1), "fraction_of_fp32_peak": round(gflops / peak, 4)})
    return rows


def time_sbtm_step(ns: list[int], device: torch.device, reps: int, budget_s: float) -> list[dict]:
    """One SBTM time step with the package defaults (score training + Coulomb velocity), 3-D BKW start data."""
    from landau_lite.scores import NeuralScore

    rows = []
    deadline = time.perf_counter() + budget_s
    p = ll.get_problem("bkw3_coulomb")
    field = VelocityField(3, -3.0, p.C)
    for n in ns:
        if time.perf_counter() > deadline:
            rows.append({"n": n, "skipped": "time budget spent"})
            continue
        x = p.sample(n, generator=torch.Generator().manual_seed(0), dtype=torch.float32, device=device)
        sc = NeuralScore(3, init_steps=200)
        sc.initialize(x, 0.0, p)

        def step():
            return field(x, sc.update(x, 0.01))

        step()
        best = min(time_call(step, device) for _ in range(reps))
        rows.append({"n": n, "ms_per_step": round(1e3 * best, 2), "loss": sc.last_loss,
                     "steps_per_update": sc.steps_per_update})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cpu-smoke", action="store_true", help="tiny sizes on the CPU (what the test command runs)")
    ap.add_argument("--out", default=None, help="report path (default benchmarks/results/device_check_<gpu>.json)")
    ap.add_argument("--budget-min", type=float, default=7.0, help="wall-time budget in minutes (default 7)")
    ap.add_argument("--notebooks", nargs="*", default=None, help="notebooks to execute (default: all chapters; "
                    "--cpu-smoke: the first chapter)")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    if args.cpu_smoke:
        device = torch.device("cpu")
    elif torch.cuda.is_available():
        device = torch.device("cuda")
    else:
        print("device_check: no CUDA GPU here; use --cpu-smoke for the CPU run", file=sys.stderr)
        return 2
    torch.set_num_threads(max(1, torch.get_num_threads()))
    name = "cpu_smoke" if args.cpu_smoke else re.sub(r"[^A-Za-z0-9]+", "_", torch.cuda.get_device_name()).strip("_")
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"device_check_{name}.json"
    report = Report(out)
    budget = 60.0 * args.budget_min

    def left(frac: float) -> float:
        return max(5.0, frac * (budget - (time.perf_counter() - t_start)))

    report.put("environment", environment(device))
    report.put("tests", run_device_tests(device, left(0.25)))
    chapters = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
    if args.notebooks is not None:
        chapters = [Path(p).resolve() for p in args.notebooks]
    elif args.cpu_smoke:
        chapters = chapters[:1]
    report.put("notebooks", run_notebooks(chapters, device, left(0.5)))
    peak = fp32_peak_gflops(device, 512 if args.cpu_smoke else 8192)
    report.put("fp32_peak_gflops", round(peak, 1))
    report.put("flops_per_pair", {"coulomb": FLOPS_PER_PAIR[-3.0],
                                  "counted": "6 differences, 2 dot products (10), masked rsqrt (2), "
                                             "z-hat scaling (2), 4 per component (12)"})
    ns = [256, 1024] if args.cpu_smoke else [10_000, 100_000, 1_000_000]
    report.put("velocity", time_velocity(ns, device, peak, 2 if args.cpu_smoke else 3, left(0.6)))
    report.put("sbtm_step", time_sbtm_step([256] if args.cpu_smoke else [10_000, 100_000], device,
                                           1 if args.cpu_smoke else 3, left(0.9)))
    report.data["seconds"] = round(time.perf_counter() - t_start, 1)
    report.save()
    tests = report.data["steps"]["tests"]
    nbs = report.data["steps"]["notebooks"]
    bad = tests["returncode"] != 0 or any(nb.get("error") or nb.get("checks_failed") for nb in nbs)
    print(f"device_check: {'FAILED' if bad else 'ok'} in {report.data['seconds']} s; report: {out}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
