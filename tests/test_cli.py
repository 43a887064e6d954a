"""Command line: ``python -m landau_lite run`` writes the JSON time series; bad arguments exit with code 2."""

import json
import os
import subprocess
import sys

import pytest
import torch

import landau_lite.cli as cli
from landau_lite.run import Run

torch.set_num_threads(1)

RUN = ["run", "--problem", "bkw3", "--score", "exact", "--n", "300", "--dt", "0.02", "--t-end", "6.1",
       "--seed", "1", "--device", "cpu", "--dtype", "float64", "--method", "euler", "--record-every", "2",
       "--no-progress"]


def test_run_writes_json(tmp_path, capsys):
    out = tmp_path / "run.json"
    assert cli.main(RUN + ["--out", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    assert "\n" not in line and "bkw3" in line and "completed" in line and str(out) in line
    data = json.loads(out.read_text())
    for key in ("t", "mean", "cov", "m4", "energy", "entropy_rate", "reference", "status", "wall_time",
                "problem", "score", "n", "dt", "t0", "t_end", "seed", "method", "dtype", "device"):
        assert key in data, key
    assert data["t"] == pytest.approx([6.0, 6.04, 6.08, 6.1])
    assert len(data["m4"]) == len(data["t"]) and len(data["cov"][0]) == 3
    assert set(data["reference"]) >= {"mean", "cov", "energy", "m4"}
    assert len(data["reference"]["m4"]) == len(data["t"])
    assert data["status"] == "completed" and data["n"] == 300 and data["seed"] == 1
    run = Run.load(out)
    assert run.times == data["t"]


def test_run_pt_output_and_t0_and_float_record(tmp_path, capsys):
    out = tmp_path / "run.pt"
    args = ["run", "--problem", "maxwellian", "--n", "50", "--dt", "0.1", "--t-end", "1.5", "--t0", "1.0",
            "--record-every", "0.25", "--dtype", "float32", "--method", "heun", "--no-progress", "--out", str(out)]
    assert cli.main(args) == 0
    run = Run.load(out)
    assert run.t0 == 1.0 and run.times == pytest.approx([1.0, 1.3, 1.5])
    assert run.x_final.dtype == torch.float32 and run.method == "heun"


def test_python_dash_m_entry_point(tmp_path):
    out = tmp_path / "r.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "landau_lite"] + RUN + ["--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "completed" in proc.stdout and json.loads(out.read_text())["status"] == "completed"


BAD = [
    (["run", "--problem", "nope", "--n", "10", "--dt", "0.1", "--t-end", "7"], "invalid choice: 'nope'"),
    (["run", "--problem", "bkw3", "--score", "magic", "--n", "10", "--dt", "0.1", "--t-end", "7"], "--score"),
    (["run", "--problem", "bkw3", "--n", "1", "--dt", "0.1", "--t-end", "7"], "--n"),
    (["run", "--problem", "bkw3", "--n", "ten", "--dt", "0.1", "--t-end", "7"], "--n"),
    (["run", "--problem", "bkw3", "--n", "10", "--dt", "0", "--t-end", "7"], "--dt"),
    (["run", "--problem", "bkw3", "--n", "10", "--dt", "nan", "--t-end", "7"], "--dt"),
    (["run", "--problem", "bkw3", "--n", "10", "--dt", "0.1", "--t-end", "6"], "t_end must be > t0 (=6)"),
    (["run", "--problem", "bkw3", "--n", "10", "--dt", "0.1", "--t-end", "7", "--t0", "2"], "t0"),
    (["run", "--problem", "bkw3", "--n", "10", "--dt", "0.1", "--t-end", "7", "--record-every", "0"], "--record-every"),
    (["run", "--problem", "bkw3", "--n", "10", "--dt", "0.1", "--t-end", "7", "--dtype", "float16"], "--dtype"),
    (["run", "--problem", "bkw3", "--n", "10", "--dt", "0.1", "--t-end", "7", "--method", "rk4"], "--method"),
    (["run", "--problem", "bkw3", "--n", "10", "--dt", "0.1", "--t-end", "7", "--seed", "-3"], "--seed"),
    (["run", "--problem", "bkw3", "--n", "10", "--dt", "0.1", "--t-end", "7", "--device", "tpu"], "device"),
    (["run", "--problem", "bkw3", "--n", "10", "--dt", "0.1", "--t-end", "7", "--out", "x.csv"], "--out"),
    (["run", "--problem", "aniso_maxwell", "--n", "10", "--dt", "0.1", "--t-end", "1"], "score='exact'"),
    (["run", "--problem", "bkw3", "--n", "10", "--dt", "0.1"], "--t-end"),
    (["run", "--problem", "bkw3", "--n", "10", "--dt", "0.1", "--t-end", "7", "--bogus"], "unrecognized"),
    (["fly"], "invalid choice"),
    ([], "required"),
]


@pytest.mark.parametrize("argv,message", BAD, ids=[" ".join(a[-2:]) or "empty" for a, _ in BAD])
def test_bad_arguments_exit_2(monkeypatch, capsys, argv, message):
    import landau_lite.solver as solver
    monkeypatch.setattr(solver.Simulation, "run", lambda *a, **k: pytest.fail("compute started"))
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and message in err


def test_unknown_problem_lists_valid_names(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "--problem", "bkw9", "--n", "10", "--dt", "0.1", "--t-end", "7"])
    err = capsys.readouterr().err
    for name in ("bkw2", "bkw3", "aniso_maxwell", "aniso_coulomb", "two_bump", "maxwellian_coulomb"):
        assert name in err


def test_bench_delegates(monkeypatch):
    import landau_lite.bench as bench
    seen = {}

    def fake_main(argv):
        seen["argv"] = argv
        return 0

    monkeypatch.setattr(bench, "main", fake_main)
    assert cli.main(["bench", "--n", "128", "--rounds", "1"]) == 0
    assert seen["argv"] == ["--n", "128", "--rounds", "1"]


def test_nonfinite_run_writes_partial_and_exits_1(tmp_path, monkeypatch, capsys):
    import landau_lite.integrators as integrators
    real = integrators.velocity
    calls = {"n": 0}

    def flaky_velocity(x, s, **kw):
        calls["n"] += 1
        U = real(x, s, **kw)
        return U * float("nan") if calls["n"] == 3 else U

    monkeypatch.setattr(integrators, "velocity", flaky_velocity)
    out = tmp_path / "r.json"
    code = cli.main(["run", "--problem", "maxwellian", "--n", "20", "--dt", "0.1", "--t-end", "1", "--no-progress",
                     "--out", str(out)])
    assert code == 1
    cap = capsys.readouterr()
    assert "non-finite velocity at step" in cap.err
    data = json.loads(out.read_text())
    assert data["status"].startswith("stopped: non-finite velocity")
