"""The methods-comparison runner: specs, the CLI round trip, the measures over a window, seeds, checks, tables."""

import math

import pytest
import torch

from landau_lite.book import compare as cmp
from landau_lite.cli import build_parser

torch.set_num_threads(1)


def test_runspec_validation_and_command():
    spec = cmp.RunSpec("bkw3", "sbtm", n=300, dt=0.1, t_end=6.3, score_kwargs={"width": 16, "loss": "ism"})
    cmd = spec.command("r.pt")
    assert cmd.startswith("python -m landau_lite run --problem bkw3 --score sbtm --n 300 --dt 0.1 --t-end 6.3")
    assert "--score-opt width=16 --score-opt loss=ism --out r.pt" in cmd and "--backend" not in cmd
    assert spec.label == "sbtm N=300" and spec.file_name() == "bkw3_sbtm_300_seed0.pt"
    named = cmp.RunSpec("bkw3_coulomb", "blob", n=300, dt=0.1, t_end=0.3, backend="compiled", name="blob-small")
    assert named.method_name == "blob-small" and named.file_name() == "bkw3_coulomb_blob-small_300_seed0.pt"
    # the arguments are accepted by the CLI parser as they are, options and backend included
    args = build_parser().parse_args(named.cli_args("r.json"))
    assert (args.problem, args.score, args.n, args.dt, args.t_end, args.backend, args.out) == \
        ("bkw3_coulomb", "blob", 300, 0.1, 0.3, "compiled", "r.json")
    args = build_parser().parse_args(spec.cli_args("r.pt"))
    assert args.score_opts == ["width=16", "loss=ism"]
    for bad, match in (({"problem": "nope"}, "problem"), ({"n": 1}, "n"), ({"dt": 0.0}, "dt"),
                       ({"backend": "gpu"}, "backend"), ({"score_kwargs": {"width": 3}}, "score_kwargs")):
        with pytest.raises(ValueError, match=match):
            cmp.RunSpec(**bad)
    with pytest.raises(TypeError, match="name"):
        cmp.RunSpec(name=3)


def test_cli_round_trip_matches_in_process_run(tmp_path):
    spec = cmp.RunSpec("bkw3", "exact", n=300, dt=0.1, t_end=6.4, seed=3, device="cpu")
    run_a = cmp.run_spec(spec)
    run_b = cmp.run_spec(spec, out=tmp_path / "exact.pt", via_cli=True)
    assert run_b.times == pytest.approx(run_a.times)
    assert run_b.diagnostics["m4"] == pytest.approx(run_a.diagnostics["m4"], rel=1e-12)
    ma, mb = cmp.metrics(run_a, seed=1, kde=True), cmp.metrics(tmp_path / "exact.pt", seed=1, kde=True)
    for key in ("m4_err", "cov_err", "fisher_err", "relaxation", "dissipation", "kl_kde", "kl_excess"):
        assert ma[key] == pytest.approx(mb[key], rel=1e-9, abs=1e-12)
    assert ma["fisher_err"] == 0.0 and ma["weighted_error"] == 0.0 and ma["t_end"] == pytest.approx(6.4)
    # MC error of E|v|^4 at N = 300 is ~ 8 %; the estimator's excess over exact samples is small
    assert ma["m4_err"] < 0.3 and abs(ma["kl_excess"]) < 0.1
    with pytest.raises(ValueError, match="out"):
        cmp.run_spec(spec, via_cli=True)
    with pytest.raises(ValueError, match="out"):
        cmp.run_spec(spec, out=tmp_path / "exact.txt")


def test_cli_refuses_to_overwrite_without_force(tmp_path):
    spec = cmp.RunSpec("bkw3", "blob", n=200, dt=0.1, t_end=6.2, device="cpu", score_kwargs={"epsilon": 0.3})
    path = tmp_path / "blob.json"
    first = cmp.run_spec(spec, out=path, via_cli=True)
    same = cmp.run_spec(spec)                         # in-process, same options: the same run
    assert first.diagnostics["m4"] == pytest.approx(same.diagnostics["m4"], rel=1e-12)
    with pytest.raises(RuntimeError, match="exited with code 4 .output path not usable"):
        cmp.run_spec(spec, out=path, via_cli=True)
    assert cmp.run_spec(spec, out=path, via_cli=True, force=True).status == "completed"
    assert cmp.CLI_EXIT_CODES[4] == "output path not usable"


def test_metrics_of_frozen_particles():
    # a run whose particles do not move: change ratios 0 (what the chapter's checks must reject)
    run = cmp.run_spec(cmp.RunSpec("bkw3", "exact", n=500, dt=0.2, t_end=12.0, device="cpu"))
    m = cmp.metrics(run)
    assert 0.5 < m["relaxation"] < 2.0 and 0.5 < m["dissipation"] < 2.0
    run.diagnostics["m4"] = [run.diagnostics["m4"][0]] * len(run.times)
    run.diagnostics["entropy_rate"] = [0.0] * len(run.times)
    frozen = cmp.metrics(run)
    assert frozen["relaxation"] == 0.0 and frozen["dissipation"] == 0.0
    assert frozen["m4_change_ref"] == pytest.approx(m["m4_change_ref"]) and m["m4_change_ref"] > 0
    assert frozen["entropy_change_ref"] < 0


def _rows(changes, exact=1.0, quantity="m4", n=100):
    key, key_ref = ("m4_change", "m4_change_ref") if quantity == "m4" else ("entropy_change", "entropy_change_ref")
    return [{"problem": "bkw3", "score": "exact", "method": "exact", "n": n, "dt": 0.1, "t_end": 12.0, "seed": s,
             key: c, key_ref: exact} for s, c in enumerate(changes)]


def test_check_change_passes_and_fails(capsys):
    res = cmp.check_change(_rows([0.98, 1.03, 1.0, 0.99]), "m4", label="ok")
    assert capsys.readouterr().out.startswith("✓ ok: change of E|v|⁴")
    assert res["mean"] == pytest.approx(1.0) and res["tol"] < 0.5
    for wrong in ([0.0] * 4, [-1.0, -0.98, -1.02, -1.0], [0.5, 0.51, 0.49, 0.5]):     # frozen, reversed, halved
        with pytest.raises(AssertionError):
            cmp.check_change(_rows(wrong), "m4")
    with pytest.raises(AssertionError, match="entropy"):      # seeds too scattered: the check could not see C/2
        cmp.check_change(_rows([-0.5, -1.5, -1.0, -0.9], exact=-1.0, quantity="entropy"), "entropy")
    with pytest.raises(ValueError, match="two seeds"):
        cmp.check_change(_rows([1.0]), "m4")
    with pytest.raises(ValueError, match="distinct seeds"):
        cmp.check_change(_rows([1.0]) + _rows([1.0]), "m4")
    with pytest.raises(ValueError, match="quantity"):
        cmp.check_change(_rows([1.0, 1.0]), "energy")
    with pytest.raises(ValueError, match="confidence"):
        cmp.check_change(_rows([1.0, 1.0]), "m4", confidence=1.0)


def test_aggregate_and_paired_differences():
    rows = [{"problem": "bkw3", "method": m, "n": 10, "dt": 0.1, "t_end": 7.0, "seed": s, "m4": v}
            for m, vals in (("exact", (14.0, 15.0, 16.0)), ("blob", (13.5, 14.4, 15.6))) for s, v in enumerate(vals)]
    exact, blob = rows[:3], rows[3:]
    g_exact, g_blob = cmp.aggregate(rows, ["m4"])
    assert (g_exact["method"], g_exact["seeds"], g_exact["m4"]) == ("exact", 3, 15.0)
    assert g_exact["m4_se"] == pytest.approx(1 / math.sqrt(3))
    paired = cmp.aggregate(cmp.paired_differences(blob, exact, "m4"), ["m4_vs_exact"])[0]
    # common random numbers: the paired difference has a far smaller standard error than the unpaired values
    assert paired["m4_vs_exact"] == pytest.approx(-0.5) and paired["m4_vs_exact_se"] < g_blob["m4_se"] / 5
    with pytest.raises(ValueError, match="no baseline"):
        cmp.paired_differences(blob, exact[:2], "m4")
    with pytest.raises(ValueError, match="lacks"):
        cmp.aggregate(rows, ["nope"])


def test_table_and_commands(tmp_path, capsys):
    assert cmp.fmt_pm(1.02345, 0.0312) == "1.02 ± 0.03" and cmp.fmt_pm(3.0, float("nan")) == "3"
    rows = cmp.aggregate([{"problem": "bkw3", "method": "exact", "n": 10, "dt": 0.1, "t_end": 7.0, "relaxation": v}
                          for v in (0.9, 1.1)], ["relaxation"])
    table = cmp.format_table(rows, ["method", "n", "seeds", "relaxation"])
    assert table.splitlines()[0] == r"| method | N | seeds | E\|v\|⁴ change / exact |"
    assert table.splitlines()[2] == "| exact | 10 | 2 | 1.00 ± 0.10 |"
    with pytest.raises(ValueError, match="column"):
        cmp.format_table(rows, ["nope"])
    specs = [cmp.RunSpec("bkw3", s, n=200, dt=0.1, t_end=6.2, seed=k, device="cpu") for s in ("exact", "blob")
             for k in (0, 1)]
    lines = cmp.shell_commands(specs, out_dir=str(tmp_path))
    assert len(lines) == 3 and lines[0].startswith("for seed in 0 1; do python -m landau_lite run")
    argv = lines[1].split("; do python -m landau_lite ")[1].split("; done")[0].replace("$seed", "1").split()
    args = build_parser().parse_args(argv)
    assert (args.score, args.seed, args.out) == ("blob", 1, f"{tmp_path}/bkw3_blob_200_seed1.pt")
    # the table of saved runs, from the shell entry point (seeds combined)
    rows = cmp.compare_methods(specs, out_dir=tmp_path)
    assert [r["method"] for r in rows] == ["exact", "exact", "blob", "blob"]
    assert rows[2]["fisher_err"] > 0.0 and rows[2]["weighted_error"] > 0.0 and math.isnan(rows[2]["kl_kde"])
    assert cmp.main([str(p) for p in sorted(tmp_path.glob("*.pt"))]) == 0
    out = capsys.readouterr().out
    assert "| bkw3 | exact | 200 | 2 |" in out and "| bkw3 | blob | 200 | 2 |" in out
    with pytest.raises(TypeError, match="RunSpec"):
        cmp.compare_methods([1, 2])
