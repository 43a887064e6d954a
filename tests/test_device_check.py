"""The GPU check runs end to end in its CPU smoke mode, so it cannot rot between GPU sessions."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_device_check_cpu_smoke(tmp_path):
    out = tmp_path / "report.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "device_check.py"), "--cpu-smoke", "--out",
                          str(out), "--budget-min", "5"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    steps = json.loads(out.read_text())["steps"]
    assert steps["environment"]["device"] == "cpu"
    assert steps["tests"]["returncode"] == 0 and "passed" in steps["tests"]["summary"]
    (nb,) = steps["notebooks"]
    assert nb["error"] is None and nb["checks_passed"] > 0 and nb["checks_failed"] == 0
    timed = [r for r in steps["velocity"] if "ms" in r]
    assert {r["backend"] for r in timed} >= {"compiled", "chunked", "naive batched"}
    assert all(0 < r["fraction_of_fp32_peak"] < 5 for r in timed)
    assert steps["sbtm_step"][0]["ms_per_step"] > 0
