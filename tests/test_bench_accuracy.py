"""benchmarks/bench_accuracy.py: the --quick run's output structure, paired errors and the KDE L2 error."""

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch

from landau_lite.diagnostics import kde_bandwidth

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_accuracy", ROOT / "benchmarks" / "bench_accuracy.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def quick(bench, tmp_path_factory):
    out = tmp_path_factory.mktemp("acc")
    torch_threads = torch.get_num_threads()
    try:
        result = bench.main(["--quick", "--md", str(out / "acc.md"), "--json", str(out / "acc.json"),
                             "--csv", str(out / "acc.csv")])
    finally:
        torch.set_num_threads(torch_threads)
    return result, out


def test_quick_structure(bench, quick):
    result, out = quick
    q = bench.QUICK
    assert [r["label"] for r in result["rows"]] == q["rows"]
    assert result["setting"]["n"] == q["n"] and result["setting"]["steps"] == q["steps"]
    assert math.isclose(result["setting"]["t_end"], 5.5 + q["steps"] * 0.01)
    assert result["machine"]["threads"] == 1
    for row in result["rows"]:
        assert [p["seed"] for p in row["per_seed"]] == q["seeds"]
        assert row["ms_per_step"] > 0 and math.isfinite(row["kde_l2_mean"]) and row["kde_l2_mean"] > 0
        for p in row["per_seed"]:
            assert len(p["step_ms"]) == q["steps"]  # one interval per step between the callback time stamps
            assert len(p["fisher_curve"]) == len(p["times"]) and p["times"][0] == 5.5
    md = (out / "acc.md").read_text()
    assert "--quick" in md and "torch threads = 1" in md and "load average" in md
    assert all(f"| {label} |" in md for label in q["rows"])
    data = json.loads((out / "acc.json").read_text())
    assert [p["label"] for p in data["figure"]] == q["rows"]
    assert {"ms_per_step", "paired_dm4_mean", "fisher_end", "kde_l2_mean"} <= set(data["figure"][0])
    lines = (out / "acc.csv").read_text().splitlines()
    assert lines[0].startswith("label,score,settings,ms_per_step,cpu_ms_per_step,paired_dm4_mean")
    assert [line.split(",")[0] for line in lines[1:]] == q["rows"]
    # --render rebuilds the tables from the JSON alone (the figure data exactly, rounded to 6 digits as stored)
    bench.main(["--render", str(out / "acc.json"), "--md", str(out / "re.md"), "--csv", str(out / "re.csv")])
    assert (out / "re.csv").read_text() == (out / "acc.csv").read_text()
    assert len((out / "re.md").read_text().splitlines()) == len(md.splitlines())


def test_quick_paired_errors(quick):
    # the exact row is a second exact-score run from the shared initial particles: its paired error is exactly 0
    # (not if the rows drew their own particles, or a run were not reproducible), while the blob and SBTM scores
    # move the particles differently (a paired error of 0 there would mean the reference was compared to itself)
    result, _ = quick
    rows = {r["label"]: r for r in result["rows"]}
    assert [p["paired_dm4"] for p in rows["exact"]["per_seed"]] == [0.0, 0.0, 0.0]
    assert rows["exact"]["fisher_max"] == 0.0
    for label in ("blob", "sbtm"):
        assert all(p["paired_dm4"] != 0.0 for p in rows[label]["per_seed"])
        assert all(0 < p["fisher_start"] < 1 for p in rows[label]["per_seed"])
    assert 0 < rows["sbtm"]["init_loss"] < 0.1


class _Zero:
    d = 3

    def density(self, v, t):
        return torch.zeros(v.shape[0], dtype=v.dtype)


def test_kde_l2_error_against_closed_form(bench):
    # with a zero "exact" density the error is the L2 norm of the KDE, known in closed form:
    # ||f_hat||^2 = N^-2 sum_ij phi_{2H}(X_i - X_j). A missing h^3, a missing square root or shifted cells fail.
    x = torch.randn(300, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    H2 = 2.0 * kde_bandwidth(x)
    z = (x[:, None, :] - x[None, :, :]).reshape(-1, 3)
    quad = (z @ torch.linalg.inv(H2) * z).sum(1)
    phi = torch.exp(-0.5 * quad) / math.sqrt((2 * math.pi) ** 3 * float(torch.linalg.det(H2)))
    exact = math.sqrt(float(phi.mean()))
    got = bench.kde_l2_error(x, _Zero(), 0.0, grid=32)
    assert got == pytest.approx(exact, rel=0.02)


def test_parse_row(bench):
    label, score, kw = bench.parse_row("d05=sbtm:loss='dsm',dsm_alpha=0.05,steps_per_update=10")
    assert (label, score, kw) == ("d05", "sbtm", {"loss": "dsm", "dsm_alpha": 0.05, "steps_per_update": 10})
    assert bench.parse_row("b=blob") == ("b", "blob", {})
    for bad in ("nolabel", "x=kde:a=1", "x=sbtm:width", "x=sbtm:loss=dsm"):
        with pytest.raises(Exception, match="row"):
            bench.parse_row(bad)


def test_time_only_structure(bench, tmp_path):
    threads = torch.get_num_threads()
    try:
        result = bench.main(["--time-only", "--n", "100", "--steps", "3", "--rows", "exact", "blob",
                             "--md", str(tmp_path / "t.md"), "--json", str(tmp_path / "t.json")])
    finally:
        torch.set_num_threads(threads)
    assert [r["label"] for r in result["rows"]] == ["exact", "blob"] and result["reference"] == {}
    assert all(r["ms_per_step"] > 0 and r["ms_p10"] <= r["ms_per_step"] <= r["ms_p90"] for r in result["rows"])
    md = (tmp_path / "t.md").read_text()
    assert "time per step" in md and "--time-only" in md and "| blob |" in md
    assert [r["label"] for r in json.loads((tmp_path / "t.json").read_text())["rows"]] == ["exact", "blob"]
