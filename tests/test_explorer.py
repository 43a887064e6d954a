"""Tests of landau_lite.book.explorer: the SBTM form built headlessly, its run callback, the plotting helpers."""
import base64
import io
import math
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from landau_lite.book import explorer as ex  # noqa: E402
from landau_lite.problems import get_problem  # noqa: E402
from landau_lite.solver import simulate  # noqa: E402

torch.set_num_threads(1)
pytest.importorskip("ipywidgets")


def _small_form(**over):
    d = dict(n=40, dt=0.1, t_end=6.2, width=8, depth=1, steps_per_update=1, init_steps=5)
    d.update(over)
    return ex.sbtm_explorer(defaults=d, device="cpu")


def test_form_builds_with_defaults_and_controls():
    form = _small_form()
    assert set(form.controls) == {"problem", "score", "n", "dt", "t_end", "width", "depth", "lr", "steps", "loss"}
    assert form.controls["n"].value == 40 and form.controls["dt"].value == pytest.approx(0.1)
    assert "ism" in form.controls["loss"].options
    # changing the problem resets dt and the final time to that problem's defaults
    form.controls["problem"].value = "aniso_maxwell"
    assert form.controls["t_end"].value == pytest.approx(ex.EXPLORER_PROBLEMS["aniso_maxwell"]["t_end"])


def test_button_click_runs_sbtm_and_records_history():
    form = _small_form()
    form.run_button.click()                      # the same handler the notebook's button calls
    h = form.history
    assert form.last_run is not None and form.last_run.status == "completed", form.messages
    assert set(h) == set(ex.HISTORY_KEYS)
    assert len(h["t"]) == 3                       # t0, t0 + dt, t_end (2 steps)
    assert all(len(h[k]) == 3 for k in ex.HISTORY_KEYS)
    assert h["t"][0] == pytest.approx(6.0) and h["t"][-1] == pytest.approx(6.2)
    assert all(len(row) == 3 for row in h["diag"])
    assert all(math.isfinite(v) and v > 0 for v in h["m4"]) and all(math.isfinite(v) for v in h["m4_ref"])
    assert all(0 <= v < 10 for v in h["err"])     # relative Fisher error against the exact BKW score
    np.testing.assert_allclose(h["m4"], form.last_run.series("m4"), rtol=1e-12)
    assert form.progress.value == form.progress.max == 2
    assert form.messages and "invalid" not in form.messages[0]


def test_exact_and_non_exact_problem():
    form = _small_form(score="exact")
    form._on_run(None)
    assert form.last_run.status == "completed" and max(form.history["err"]) < 1e-12
    form = _small_form(problem="aniso_maxwell", score="blob", dt=0.1, t_end=0.2)
    form.run()
    h = form.history
    assert len(h["t"]) == 3 and all(math.isfinite(v) for v in h["rate"])
    assert all(len(r) == 3 for r in h["diag_ref"])


@pytest.mark.parametrize("field,value", [("dt", -0.1), ("dt", 0.0), ("t_end", 5.0)])
def test_invalid_values_give_a_message(field, value):
    form = _small_form()
    form.controls[field].value = value
    form.run_button.click()                       # must not raise
    assert form.last_run is None and form.history["t"] == []
    assert len(form.messages) == 1 and form.messages[0].startswith("invalid parameters")


def test_exact_score_without_exact_solution_gives_a_message():
    form = _small_form(problem="aniso_coulomb", score="exact")
    form.run()
    assert form.last_run is None and "exact score" in form.messages[0]


def test_bad_defaults_raise():
    with pytest.raises(ValueError, match="unknown keys"):
        ex.sbtm_explorer(defaults={"nn": 3})
    with pytest.raises(ValueError, match="problem"):
        ex.sbtm_explorer(defaults={"problem": "nope"})
    with pytest.raises(ValueError, match="n"):
        ex.sbtm_explorer(defaults={"n": 1})
    with pytest.raises(TypeError, match="defaults"):
        ex.sbtm_explorer(defaults=[1, 2])


def test_run_history_matches_live_record_and_plots():
    p = get_problem("bkw3")
    live = ex.empty_history()
    run = simulate(p, "blob", n=40, dt=0.1, t_end=6.2, seed=0, device="cpu", progress=False,
                   callback=lambda k, t, x, s, U: bool(ex.record_diagnostics(live, p, t, x, s, U)) and False)
    hist = ex.run_history(run)
    for key in ("t", "m4", "m4_ref", "err", "rate"):
        np.testing.assert_allclose(hist[key], live[key], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(hist["diag"], live["diag"], rtol=1e-10)
    fig, axes = plt.subplots(1, 3)
    ex.plot_run_panels(axes, hist, p, title="blob", entropy_rate_ref=(hist["t"], hist["rate"]))
    assert axes[0].get_title() == "blob" and len(axes[0].lines) == 2 and len(axes[2].lines) == 2
    plt.close(fig)
    with pytest.raises(ValueError, match="axes"):
        ex.plot_run_panels(axes[:2], hist, p)
    with pytest.raises(ValueError, match="missing"):
        ex.plot_run_panels(axes, {"t": []}, p)
    with pytest.raises(ValueError, match="shape"):
        ex.record_diagnostics(ex.empty_history(), p, 6.0, torch.zeros(4, 2), torch.zeros(4, 2), torch.zeros(4, 2))


def test_precomputed_runs_animation_html():
    p = get_problem("bkw3")
    runs = [(name, simulate(p, name, n=30, dt=0.1, t_end=6.2, seed=0, device="cpu", progress=False))
            for name in ("exact", "blob")]
    html = ex.precomputed_runs_animation(runs, dpi=30)
    assert html.count("<img") + html.count("frames[") >= 2 and "font-awesome" not in html
    with pytest.raises(ValueError, match="runs"):
        ex.precomputed_runs_animation([])
    with pytest.raises(TypeError, match="pairs"):
        ex.precomputed_runs_animation([runs[0][1]])


def test_form_reserves_no_blank_panel_until_a_run():
    # a saved page (no kernel) shows the widget state as it was built: no empty plot area may be reserved
    form = _small_form()
    assert not form.plot_output.layout.min_height
    form.run()
    assert form.plot_output.layout.min_height == "300px"


def test_exact_score_runs_on_the_coulomb_problem():
    form = _small_form(problem="bkw3_coulomb", score="exact", dt=0.05, t_end=0.1)
    form.run()
    h = form.history
    assert form.last_run is not None and form.last_run.status == "completed", form.messages
    assert max(h["err"]) < 1e-12 and all(math.isfinite(v) for v in h["m4_ref"])


def test_animation_mixes_problems_one_panel_per_row():
    runs = [("BKW", simulate("bkw3", "exact", n=30, dt=0.1, t_end=6.2, seed=0, device="cpu", progress=False)),
            ("Coulomb", simulate("bkw3_coulomb", "exact", n=30, dt=0.05, t_end=0.1, seed=0, device="cpu",
                                 progress=False))]
    refs = {"BKW": ([6.0, 6.2], [-0.037, -0.033])}                 # a frame without an entry draws none
    html = ex.precomputed_runs_animation(runs, entropy_rate_ref=refs, dpi=30)
    assert html.count("data:image/png") >= 2
    # one panel per row: the frames are taller than wide (the base64 text is split by backslash-newlines)
    first = re.search(r'data:image/png;base64,([A-Za-z0-9+/=\\\n]+)"', html).group(1).replace("\\\n", "")
    w, h = Image.open(io.BytesIO(base64.b64decode(first))).size
    assert h > w
    with pytest.raises(ValueError, match="fontsize"):
        ex.precomputed_runs_animation(runs, fontsize=0)
