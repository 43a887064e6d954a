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
    from landau_lite.velocity import VelocityField
    real = VelocityField.__call__
    calls = {"n": 0}

    def flaky_velocity(self, x, s):
        calls["n"] += 1
        U = real(self, x, s)
        return U * float("nan") if calls["n"] == 3 else U

    monkeypatch.setattr(VelocityField, "__call__", flaky_velocity)
    out = tmp_path / "r.json"
    code = cli.main(["run", "--problem", "maxwellian", "--n", "20", "--dt", "0.1", "--t-end", "1", "--no-progress",
                     "--out", str(out)])
    assert code == 1
    cap = capsys.readouterr()
    assert "non-finite velocity at step" in cap.err
    data = json.loads(out.read_text())
    assert data["status"].startswith("stopped: non-finite velocity")


# ---------------------------------------------------------------------------------------------
# nothing a user computed is lost: output checked first, atomic write, partial runs, exit codes
# ---------------------------------------------------------------------------------------------

SHORT = ["run", "--problem", "maxwellian", "--n", "20", "--dt", "0.1", "--t-end", "0.5", "--no-progress"]


@pytest.fixture
def no_compute(monkeypatch):
    import landau_lite.solver as solver
    monkeypatch.setattr(solver.Simulation, "run", lambda *a, **k: pytest.fail("compute started"))


@pytest.mark.parametrize("case", ["missing_dir", "read_only_dir", "is_directory", "exists"])
def test_unusable_output_exits_4_before_computing(tmp_path, monkeypatch, capsys, no_compute, make_read_only,
                                                  case):
    # before: found after the whole run, with a traceback, and the results were gone
    out = tmp_path / "r.json"
    if case == "missing_dir":
        out = tmp_path / "nowhere" / "r.json"
    elif case == "read_only_dir":
        (tmp_path / "ro").mkdir()
        out = tmp_path / "ro" / "r.json"
        make_read_only(tmp_path / "ro")
    elif case == "is_directory":
        out.mkdir()
    else:
        out.write_text("previous run")
    assert cli.main(SHORT + ["--out", str(out)]) == cli.EXIT_OUTPUT
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error: argument --out:") and str(out) in err
    assert "Traceback" not in err
    if case == "exists":
        assert out.read_text() == "previous run" and "--force" in err


def test_force_overwrites(tmp_path, capsys):
    out = tmp_path / "r.json"
    out.write_text("previous run")
    assert cli.main(SHORT + ["--out", str(out), "--force"]) == 0
    assert Run.load(out).status == "completed"


def test_failed_final_write_exits_4_and_keeps_previous_file(tmp_path, monkeypatch, capsys):
    import errno
    import landau_lite.run as run_module
    out = tmp_path / "r.json"
    out.write_text("previous run")

    def full_disk(obj, fh, *a, **k):
        fh.write('{"format": "landau')
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(run_module.json, "dump", full_disk)
    assert cli.main(SHORT + ["--out", str(out), "--force"]) == cli.EXIT_OUTPUT
    err = capsys.readouterr().err
    assert "No space left" in err and "unchanged" in err
    assert out.read_text() == "previous run" and os.listdir(tmp_path) == ["r.json"]


def test_interrupt_during_initial_fit_writes_partial_run(tmp_path, monkeypatch, capsys):
    # before: a traceback and nothing written
    from landau_lite.scores import NeuralScore

    def interrupted(self, *a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(NeuralScore, "initialize", interrupted)
    out = tmp_path / "r.pt"
    code = cli.main(SHORT + ["--score", "sbtm", "--out", str(out)])
    assert code == cli.EXIT_SIGINT == 130
    run = Run.load(out)
    assert run.status == "interrupted during the score's initial fit" and run.x_final.shape == (20, 3)
    assert "interrupted during the score's initial fit" in capsys.readouterr().err


@pytest.mark.parametrize("when", ["loop", "fit"])
def test_sigterm_writes_partial_run_and_exits_143(tmp_path, monkeypatch, capsys, when):
    # before: SIGTERM killed the process and nothing was written
    import signal
    from landau_lite.scores import NeuralScore
    from landau_lite.velocity import VelocityField
    before = signal.getsignal(signal.SIGTERM)
    calls = {"n": 0}
    real = VelocityField.__call__

    def velocity_then_term(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(*a, **k)

    def fit_then_term(self, *a, **k):
        os.kill(os.getpid(), signal.SIGTERM)

    if when == "loop":
        monkeypatch.setattr(VelocityField, "__call__", velocity_then_term)
        argv = SHORT
    else:
        monkeypatch.setattr(NeuralScore, "initialize", fit_then_term)
        argv = SHORT + ["--score", "sbtm"]
    out = tmp_path / "r.json"
    assert cli.main(argv + ["--out", str(out)]) == cli.EXIT_SIGTERM == 143
    status = Run.load(out).status
    # two field evaluations per step (drift and the weighted pair loss): the 3rd is at step 1
    assert status.startswith("interrupted at step 1" if when == "loop" else "interrupted during the score's")
    assert signal.getsignal(signal.SIGTERM) is before          # the handler is restored


def test_sigterm_to_a_running_process(tmp_path):
    import signal
    import time
    out = tmp_path / "r.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    argv = [sys.executable, "-m", "landau_lite", "run", "--problem", "maxwellian", "--n", "50", "--dt", "1e-6",
            "--t-end", "1", "--record-every", "0.5", "--out", str(out)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = proc.stderr.read(1)           # the progress bar appears once the run has started
        assert first, proc.communicate()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    data = json.loads(out.read_text())
    assert data["status"].startswith("interrupted") and len(data["step_t"]) == len(data["step_score_loss"])


def test_runtime_failure_exits_3_with_one_line_and_partial_run(tmp_path, monkeypatch, capsys):
    # before: a traceback and exit code 1 (the code of a non-finite stop)
    from landau_lite.scores import ExactScore
    real = ExactScore.update
    calls = {"n": 0}

    def failing(self, x, t):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("out of memory\nsecond line")
        return real(self, x, t)

    monkeypatch.setattr(ExactScore, "update", failing)
    out = tmp_path / "r.json"
    assert cli.main(SHORT + ["--out", str(out)]) == cli.EXIT_FAILURE == 3
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert err.startswith("error: RuntimeError: out of memory") and f"partial run written to {out}" in err
    data = json.loads(out.read_text())
    assert data["status"] == "failed: RuntimeError at step 3, t=0.3" and len(data["t"]) == 3


OPTION_ERRORS = [
    (["--device", "meta"], "argument --device: device must be"),
    (["--score", "sbtm", "--score-opt", "device=nope"], "argument --score-opt:"),
    (["--score", "sbtm", "--score-opt", "seed=1e23"], "argument --score-opt: seed must be an integer"),
    (["--score", "sbtm", "--score-opt", "d=2"], "argument --score-opt: the network's dimension d = 2"),
    (["--score", "sbtm", "--score-opt", "seed=100000000000000000000000"], "argument --score-opt: seed must lie"),
    (["--score", "blob", "--score-opt", "width=3"], "argument --score-opt:"),
    (["--backend", "moments", "--problem", "maxwellian_coulomb"], "argument --backend:"),
]


@pytest.mark.parametrize("extra,message", OPTION_ERRORS, ids=[" ".join(e) for e, _ in OPTION_ERRORS])
def test_option_errors_exit_2_naming_the_option(capsys, no_compute, extra, message):
    # before: tracebacks (RuntimeError from torch.device, Tensor.item() on meta tensors, a shape mismatch)
    with pytest.raises(SystemExit) as info:
        cli.main(SHORT + extra)
    assert info.value.code == cli.EXIT_USAGE == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_n_lower_bound_has_one_message(capsys):
    messages = []
    for n in ("0", "1"):
        with pytest.raises(SystemExit):
            cli.main(["run", "--problem", "bkw3", "--n", n, "--dt", "0.1", "--t-end", "7"])
        messages.append(capsys.readouterr().err.splitlines()[-1])
    assert messages == [f"python -m landau_lite run: error: argument --n: must be >= 2, got {n}" for n in "01"]


def test_help_lists_exit_codes(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    out = capsys.readouterr().out
    for code in ("0 ", "1 ", "2 ", "3 ", "4 ", "130", "143", "--force"):
        assert code in out


def test_ctrl_c_while_writing_finishes_the_file(tmp_path, monkeypatch):
    # a Ctrl-C during the write is held until the file is complete, then the exit code says so
    import signal
    real = Run.save

    def save_with_interrupt(self, path):
        os.kill(os.getpid(), signal.SIGINT)
        real(self, path)

    monkeypatch.setattr(Run, "save", save_with_interrupt)
    out = tmp_path / "r.json"
    before = signal.getsignal(signal.SIGINT)      # default_int_handler, or SIG_IGN in a background job
    assert cli.main(SHORT + ["--out", str(out)]) == cli.EXIT_SIGINT
    assert Run.load(out).status == "completed"
    assert signal.getsignal(signal.SIGINT) is before   # the handler the CLI found is put back
