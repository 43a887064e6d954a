"""The methods-comparison runner: specs, the CLI round trip, metrics and the table."""

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
    assert "--score-opt width=16 --score-opt loss=ism --out r.pt" in cmd
    assert spec.label == "sbtm N=300"
    # without score options the arguments are accepted by the CLI parser as they are
    args = build_parser().parse_args(cmp.RunSpec("bkw3", "blob", n=300, dt=0.1, t_end=6.3).cli_args("r.json"))
    assert (args.problem, args.score, args.n, args.dt, args.t_end, args.out) == ("bkw3", "blob", 300, 0.1, 6.3, "r.json")
    with pytest.raises(ValueError, match="problem"):
        cmp.RunSpec("nope")
    with pytest.raises(ValueError, match="n"):
        cmp.RunSpec(n=1)
    with pytest.raises(ValueError, match="dt"):
        cmp.RunSpec(dt=0.0)
    with pytest.raises(ValueError, match="score_kwargs"):
        cmp.RunSpec(score="exact", score_kwargs={"width": 3})


def test_cli_round_trip_matches_in_process_run(tmp_path):
    spec = cmp.RunSpec("bkw3", "exact", n=300, dt=0.1, t_end=6.4, seed=3, device="cpu")
    run_a = cmp.run_spec(spec)
    run_b = cmp.run_spec(spec, out=tmp_path / "exact.pt", via_cli=True)
    assert run_b.times == pytest.approx(run_a.times)
    assert run_b.diagnostics["m4"] == pytest.approx(run_a.diagnostics["m4"], rel=1e-12)
    ma, mb = cmp.metrics(run_a, seed=1), cmp.metrics(tmp_path / "exact.pt", seed=1)
    for key in ("m4_err", "cov_err", "fisher_err", "kl_kde", "kl_excess"):
        assert ma[key] == pytest.approx(mb[key], rel=1e-9, abs=1e-12)
    assert ma["fisher_err"] == 0.0 and ma["t_end"] == pytest.approx(6.4)
    # MC error of E|v|^4 at N = 300 is ~ 8 %; the estimator's excess over exact samples is small
    assert ma["m4_err"] < 0.3 and abs(ma["kl_excess"]) < 0.1
    with pytest.raises(ValueError, match="out"):
        cmp.run_spec(spec, via_cli=True)


def test_score_options_need_cli_support(tmp_path):
    spec = cmp.RunSpec("bkw3", "blob", n=200, dt=0.1, t_end=6.2, score_kwargs={"epsilon": 0.3})
    if cmp.cli_supports_score_options():
        run = cmp.run_spec(spec, out=tmp_path / "blob.json", via_cli=True)
        assert run.status == "completed"
    else:
        with pytest.raises(ValueError, match="score-opt"):
            cmp.run_spec(spec, out=tmp_path / "blob.json", via_cli=True)
    run = cmp.run_spec(spec)            # in-process always works
    assert run.status == "completed"


def test_compare_summarize_and_table(tmp_path, capsys):
    specs = [cmp.RunSpec("bkw3", s, n=200, dt=0.1, t_end=6.2, device="cpu") for s in ("exact", "blob")]
    rows = cmp.compare_methods(specs, out_dir=tmp_path, reps=1)
    assert [r["score"] for r in rows] == ["exact", "blob"]
    assert rows[1]["fisher_err"] > 0.0 and math.isfinite(rows[1]["kl_excess"])
    table = cmp.format_table(rows)
    assert table.splitlines()[0] == "| " + " | ".join(cmp.DEFAULT_COLUMNS) + " |" and len(table.splitlines()) == 4
    again = cmp.summarize(sorted(tmp_path.glob("*.pt")), reps=1)
    assert {r["score"] for r in again} == {"exact", "blob"}
    assert cmp.main([str(p) for p in sorted(tmp_path.glob("*.pt"))] + ["--no-kde"]) == 0
    assert "| exact | 200 |" in capsys.readouterr().out
    with pytest.raises(ValueError, match="column"):
        cmp.format_table(rows, ["nope"])
    with pytest.raises(TypeError, match="RunSpec"):
        cmp.compare_methods([1, 2])
