r"""Interactive SBTM explorer and the plotting helpers behind it.

The form (:func:`sbtm_explorer`) runs :func:`landau_lite.solver.simulate` with the parameters a reader picks
and draws three live panels along the run (:func:`plot_run_panels`):

1. moments against the exact reference: :math:`E|v|^4=\frac1N\sum_i|X_i|^4` for problems known at every time
   (BKW; the isotropic Coulomb problem, whose reference is the radial solver's), otherwise the diagonal of the covariance :math:`\Sigma_{kk}` against its exact value
   (Maxwell molecules) or its equilibrium value (Coulomb);
2. the score error: the relative Fisher error
   :math:`\sum_i|s_i-\nabla\log f_t(X_i)|^2/\sum_i|\nabla\log f_t(X_i)|^2` when the exact score is known,
   otherwise the last training loss of the score method;
3. the particle entropy production rate :math:`\frac1N\sum_i s_i\cdot U_i` (optionally against an exact
   :math:`dH/dt`).

:func:`record_diagnostics` appends one record to a history dict (it is the ``callback`` of ``simulate``),
:func:`run_history` builds the same dict from a finished :class:`~landau_lite.solver.Run`, and
:func:`precomputed_runs_animation` renders several finished runs as a self-contained HTML animation (a
JavaScript slider that works in a static page without a kernel).

ipywidgets is imported lazily, only by :func:`sbtm_explorer`; core widgets only (ipywidgets 7.7 and 8).
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from .._checks import check_choice, check_int, check_positive, check_real
from ..device import by_device, pick_device
from ..diagnostics import moments, relative_fisher_error
from ..problems import Problem, as_problem, get_problem

__all__ = [
    "EXPLORER_PROBLEMS", "HISTORY_KEYS", "empty_history", "record_diagnostics", "run_history",
    "plot_run_panels", "precomputed_runs_animation", "sbtm_explorer",
]

#: problems offered by the form, with their default time step and final time
EXPLORER_PROBLEMS: dict[str, dict[str, float]] = {
    "bkw3": dict(dt=0.1, t_end=10.0),
    "bkw3_coulomb": dict(dt=0.05, t_end=1.0),
    "aniso_maxwell": dict(dt=0.05, t_end=2.0),
    "aniso_coulomb": dict(dt=1.0, t_end=40.0),
}

#: keys of a history dict (one list entry per recorded time)
HISTORY_KEYS: tuple[str, ...] = ("t", "m4", "m4_ref", "diag", "diag_ref", "err", "rate")

_SCORES = ("sbtm", "blob", "exact")
#: problems of the form whose density and score are known at every time
_EXACT_PROBLEMS = tuple(name for name in EXPLORER_PROBLEMS if get_problem(name).exact_in_time)
_FORM_DEFAULTS: dict[str, Any] = dict(problem="bkw3", score="sbtm", n=1000, dt=None, t_end=None, width=32,
                                      depth=2, lr=1e-4, steps_per_update=10, loss="ism", init_steps=300,
                                      init_tol=1e-3, init_lr=1e-2, seed=0)


def _check_history(history: object) -> dict[str, list]:
    if not isinstance(history, Mapping):
        raise TypeError(f"history must be a dict with keys {HISTORY_KEYS}, got {type(history).__name__}")
    missing = [k for k in HISTORY_KEYS if k not in history]
    if missing:
        raise ValueError(f"history must have the keys {HISTORY_KEYS}; missing {missing}")
    lengths = {len(history[k]) for k in HISTORY_KEYS}
    if len(lengths) != 1:
        raise ValueError(f"history lists must have equal lengths, got "
                         f"{ {k: len(history[k]) for k in HISTORY_KEYS} }")
    return history  # type: ignore[return-value]


def empty_history() -> dict[str, list]:
    """A history dict with an empty list for every key of :data:`HISTORY_KEYS`."""
    return {k: [] for k in HISTORY_KEYS}


def record_diagnostics(history: dict[str, list], problem: Problem | str, t: float, x: torch.Tensor,
                       s: torch.Tensor, U: torch.Tensor, *, score_loss: float | None = None) -> dict[str, list]:
    r"""Append the diagnostics of the particles ``x`` at time ``t`` to ``history`` (in place; returned).

    Recorded (host floats):

    * ``t``; ``m4`` :math:`=\frac1N\sum_i|X_i|^4`; ``diag`` the diagonal of the population covariance;
    * ``m4_ref``, ``diag_ref``: the exact values from ``problem.reference(t)`` where known, else NaN for
      ``m4`` and the equilibrium temperature :math:`T=E|v-u|^2/d` for every diagonal entry;
    * ``err``: the relative Fisher error
      :math:`\sum_i|s_i-\nabla\log f_t(X_i)|^2/\sum_i|\nabla\log f_t(X_i)|^2` if ``problem.exact_in_time``,
      else ``score_loss`` (NaN when ``None``);
    * ``rate``: the particle entropy production rate :math:`\frac1N\sum_i s_i\cdot U_i`.

    Args:
        history: a dict from :func:`empty_history`.
        problem: a ``Problem`` or its name.
        t: the time of the particles (finite).
        x, s, U: particles, scores and velocities, each ``(N, problem.d)``, same dtype and device.
        score_loss: the last training loss of the score method (used when no exact score is known).

    Example:
        >>> from landau_lite.problems import get_problem
        >>> p = get_problem("bkw3"); x = p.sample(200, generator=torch.Generator().manual_seed(0))
        >>> h = record_diagnostics(empty_history(), p, p.t0, x, p.score(x, p.t0), torch.zeros_like(x))
        >>> len(h["t"]), h["rate"][0]
        (1, 0.0)
    """
    _check_history(history)
    p = as_problem(problem)
    t = check_real(t, "t")
    for name, tensor in (("x", x), ("s", s), ("U", U)):
        if not isinstance(tensor, torch.Tensor) or tensor.ndim != 2 or tensor.shape[1] != p.d:
            raise ValueError(f"{name} must be a tensor of shape (N, {p.d})")
    if s.shape != x.shape or U.shape != x.shape:
        raise ValueError(f"x, s and U must have the same shape, got {tuple(x.shape)}, {tuple(s.shape)}, "
                         f"{tuple(U.shape)}")
    if score_loss is not None:
        score_loss = float(score_loss)
    m = moments(x)
    ref = p.reference(t) or {}
    history["t"].append(t)
    history["m4"].append(float(m["m4"]))
    history["diag"].append([float(v) for v in torch.diagonal(m["cov"])])
    history["m4_ref"].append(float(ref["m4"]) if ref.get("m4") is not None else math.nan)
    if ref.get("cov") is not None:
        history["diag_ref"].append([float(v) for v in torch.diagonal(ref["cov"])])
    else:
        temperature = float(p.equilibrium().T)
        history["diag_ref"].append([temperature] * p.d)
    if p.exact_in_time:
        history["err"].append(float(relative_fisher_error(s, p.score(x, t))))
    else:
        history["err"].append(math.nan if score_loss is None else score_loss)
    history["rate"].append(float((s * U).sum(1).mean()))
    return history


def run_history(run: Any, problem: Problem | str | None = None) -> dict[str, list]:
    r"""The history dict of :func:`record_diagnostics` built from a finished :class:`~landau_lite.solver.Run`.

    ``err`` is the run's relative Fisher error where the problem has an exact score, else its score loss;
    ``m4_ref``/``diag_ref`` come from the run's reference series (NaN / the equilibrium temperature where
    unknown). ``problem`` defaults to ``get_problem(run.problem)``.
    """
    for attr in ("series", "problem", "times"):
        if not hasattr(run, attr):
            raise TypeError(f"run must be a landau_lite.solver.Run, got {type(run).__name__}")
    p = as_problem(run.problem if problem is None else problem)
    t = run.series("t")
    nan = np.full(len(t), np.nan)

    def ref(key: str) -> np.ndarray | None:
        try:
            return run.series(key, reference=True)
        except KeyError:
            return None

    m4_ref, cov_ref = ref("m4"), ref("cov")
    cov = run.series("cov")
    diag = np.diagonal(cov, axis1=1, axis2=2)
    if cov_ref is None or cov_ref.ndim != 3:
        diag_ref = np.full_like(diag, float(p.equilibrium().T))
    else:
        diag_ref = np.diagonal(cov_ref, axis1=1, axis2=2)
        diag_ref = np.where(np.isnan(diag_ref), float(p.equilibrium().T), diag_ref)
    err = run.series("fisher_error") if p.exact_in_time else run.series("score_loss")
    if err.shape != t.shape:
        err = nan
    return {"t": t.tolist(), "m4": run.series("m4").tolist(),
            "m4_ref": (nan if m4_ref is None else m4_ref).tolist(), "diag": diag.tolist(),
            "diag_ref": diag_ref.tolist(), "err": err.tolist(), "rate": run.series("entropy_rate").tolist()}


def plot_run_panels(axes: Sequence[Any], history: Mapping[str, Sequence], problem: Problem | str, *,
                    title: str = "", entropy_rate_ref: tuple[Sequence[float], Sequence[float]] | None = None,
                    max_diag: int = 2) -> None:
    r"""Draw a run on three matplotlib axes: moments vs reference, score error, entropy production rate.

    Left: :math:`E|v|^4` of the particles and the exact value (``problem.exact_in_time``), else the first
    ``max_diag`` diagonal covariance entries :math:`\Sigma_{kk}` and their exact (γ = 0) or equilibrium values.
    Middle: the relative Fisher error (log scale) or, without an exact score, the training loss. Right:
    :math:`\frac1N\sum_i s_i\cdot U_i` and, if given, ``entropy_rate_ref = (times, dH/dt)``.

    Args:
        axes: three matplotlib axes.
        history: a dict with the keys :data:`HISTORY_KEYS` (:func:`record_diagnostics`, :func:`run_history`).
        problem: the problem of the run (or its name).
        title: title of the left panel.
        entropy_rate_ref: optional exact entropy production rate as ``(times, values)``.
        max_diag: how many covariance diagonal entries to draw (``>= 1``).
    """
    axes = list(axes)
    if len(axes) != 3:
        raise ValueError(f"axes must hold exactly 3 axes, got {len(axes)}")
    _check_history(history)
    p = as_problem(problem)
    check_int(max_diag, "max_diag", lo=1)
    if entropy_rate_ref is not None:
        if len(entropy_rate_ref) != 2 or len(entropy_rate_ref[0]) != len(entropy_rate_ref[1]):
            raise ValueError("entropy_rate_ref must be a pair (times, values) of equal lengths")
    ax0, ax1, ax2 = axes
    t = np.asarray(history["t"], dtype=float)
    if p.exact_in_time:
        ax0.plot(t, history["m4_ref"], "k--", label="exact")
        ax0.plot(t, history["m4"], "C0-", label="particles")
        ax0.set_ylabel(r"$E|v|^4$")
    else:
        diag = np.asarray(history["diag"], dtype=float).reshape(len(t), -1)
        diag_ref = np.asarray(history["diag_ref"], dtype=float).reshape(len(t), -1)
        for k in range(min(max_diag, diag.shape[1])):
            ax0.plot(t, diag[:, k], f"C{k}-", label=rf"$\Sigma_{{{k + 1}{k + 1}}}$")
            ax0.plot(t, diag_ref[:, k], f"C{k}--", label="exact" if p.gamma == 0 else "equilibrium")
        ax0.set_ylabel("covariance")
    ax0.set_xlabel("t")
    ax0.set_title(title)
    if len(t):
        ax0.legend(fontsize=10)
    err = np.asarray(history["err"], dtype=float)
    if p.exact_in_time:
        ax1.semilogy(t, np.maximum(err, 1e-6), "C1-")
        ax1.set_ylim(1e-3, 1.0)
        ax1.set_ylabel("relative Fisher error")
        if len(err) and np.nanmax(np.nan_to_num(err)) == 0:
            ax1.text(0.5, 0.5, "exact score: no score error", transform=ax1.transAxes, ha="center")
    else:
        ax1.plot(t, err, "C1-")
        ax1.set_ylabel("training loss")
    ax1.set_xlabel("t")
    if entropy_rate_ref is not None:
        ax2.plot(entropy_rate_ref[0], entropy_rate_ref[1], "k--", label=r"exact $dH/dt$")
    ax2.plot(t, history["rate"], "C2-", label=r"$\frac{1}{N}\sum_i s_i\cdot U_i$")
    ax2.set_xlabel("t")
    ax2.set_ylabel("entropy production rate")
    if entropy_rate_ref is not None:
        ax2.legend(fontsize=10)


def precomputed_runs_animation(runs: Sequence[tuple[str, Any]], problem: Problem | str | None = None, *,
                               entropy_rate_ref: tuple[Sequence[float], Sequence[float]]
                               | Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
                               dpi: int = 100, interval: int = 1500, figsize: tuple[float, float] = (7.0, 8.4),
                               fontsize: float = 11.0, offline: bool = True) -> str:
    r"""Self-contained HTML (``FuncAnimation.to_jshtml``) showing one frame per finished run.

    Each frame draws :func:`plot_run_panels` of one run, **one panel per row** (so that the page column of about
    680 px shows them at full size, with text of ``fontsize`` points); the buttons/slider of the animation switch
    runs in a static page without a kernel. Keep it small: at most 20 runs.

    Args:
        runs: ``[(label, Run), ...]``, 1 to 20 entries.
        problem: the problem of every run; ``None`` (default): each run's own ``run.problem`` (so one animation may
            mix problems).
        entropy_rate_ref: optional exact entropy production rate ``(times, values)`` drawn in every frame, or a dict
            ``label -> (times, values)`` (frames whose label is missing draw none).
        dpi, interval, figsize, fontsize: figure resolution, milliseconds per frame, figure size (inches), base
            font size (points).
        offline: drop the font-awesome stylesheet link (the book's theme ships the icons; no network).

    Returns:
        the HTML string (display with ``IPython.display.HTML``).
    """
    runs = list(runs)
    if not 1 <= len(runs) <= 20:
        raise ValueError(f"runs must hold 1 to 20 (label, Run) pairs, got {len(runs)}")
    for item in runs:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise TypeError("runs must be a sequence of (label: str, Run) pairs")
    check_int(dpi, "dpi", lo=10, hi=600)
    check_int(interval, "interval", lo=1)
    check_positive(fontsize, "fontsize")
    frames = []
    for label, run in runs:
        p = as_problem(run.problem if problem is None else problem)
        if isinstance(entropy_rate_ref, Mapping):
            ref = entropy_rate_ref.get(label)
        else:
            ref = entropy_rate_ref
        frames.append((label, run_history(run, p), p, ref))

    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation

    with plt.rc_context({"font.size": fontsize}):
        fig, axes = plt.subplots(3, 1, figsize=figsize, dpi=dpi)

        def show_frame(i: int) -> None:
            for ax in axes:
                ax.clear()
            label, hist, p, ref = frames[i]
            plot_run_panels(axes, hist, p, title=label, entropy_rate_ref=ref)
            fig.tight_layout()

        try:
            anim = FuncAnimation(fig, show_frame, frames=len(frames), interval=interval)
            html = anim.to_jshtml(default_mode="once")
        finally:
            plt.close(fig)
    if offline:
        html = re.sub(r'<link rel="stylesheet"\s*href="https://[^"]*font-awesome[^"]*">', "", html)
    return html


def _check_defaults(defaults: Mapping[str, Any] | None) -> dict[str, Any]:
    values = dict(_FORM_DEFAULTS)
    if defaults is None:
        return values
    if not isinstance(defaults, Mapping):
        raise TypeError(f"defaults must be a dict or None, got {type(defaults).__name__}")
    unknown = sorted(set(defaults) - set(values) - {"steps"})
    if unknown:
        raise ValueError(f"defaults: unknown keys {unknown}; allowed: {sorted(values)}")
    values.update(defaults)
    if "steps" in defaults:
        values["steps_per_update"] = defaults["steps"]
    check_choice(values["problem"], "defaults['problem']", EXPLORER_PROBLEMS)
    check_choice(values["score"], "defaults['score']", _SCORES)
    check_int(values["n"], "defaults['n']", lo=2)
    for key in ("dt", "t_end"):
        if values[key] is not None:
            check_positive(values[key], f"defaults[{key!r}]")
    check_int(values["width"], "defaults['width']", lo=1)
    check_int(values["depth"], "defaults['depth']", lo=1)
    check_positive(values["lr"], "defaults['lr']")
    check_int(values["steps_per_update"], "defaults['steps_per_update']", lo=0)
    check_int(values["init_steps"], "defaults['init_steps']", lo=0)
    check_positive(values["init_tol"], "defaults['init_tol']")
    check_positive(values["init_lr"], "defaults['init_lr']")
    check_int(values["seed"], "defaults['seed']", lo=0)
    return values


def sbtm_explorer(*, defaults: dict | None = None, device: str | torch.device = "auto") -> Any:
    r"""An ipywidgets form that runs one SBTM (or blob / exact-score) simulation with live plots.

    Controls: problem (:data:`EXPLORER_PROBLEMS`), score method, :math:`N`, :math:`\Delta t`, final time, and
    for SBTM the network width and depth, the learning rate, the training steps per time step and the
    loss; a *Run* button, a progress bar, a message area and the three panels of :func:`plot_run_panels`
    redrawn about 12 times along the run. Invalid values (e.g. :math:`\Delta t\le 0`, a final time before
    :math:`t_0`) print a message instead of raising.

    Args:
        defaults: initial values, keys among ``problem, score, n, dt, t_end, width, depth, lr,
            steps_per_update, loss, init_steps, init_tol, init_lr, seed`` (``dt``/``t_end`` ``None``: the
            problem's defaults in :data:`EXPLORER_PROBLEMS`).
        device: ``'auto'``, ``'cpu'``, ``'cuda'`` or a ``torch.device`` for the runs.

    Returns:
        the form (an ``ipywidgets.VBox``; display it or make it the last expression of a cell). For scripted
        use it carries ``controls`` (dict of widgets), ``run_button``, ``progress``, ``history`` (the history
        dict of the last run, see :func:`record_diagnostics`), ``messages`` (list of message lines),
        ``last_run`` (a :class:`~landau_lite.solver.Run` or ``None``) and ``run()`` (what the button does).

    Raises:
        ImportError: ipywidgets is not installed (``pip install ipywidgets``).

    Example (build the form; a notebook displays it, a script can press ``form.run()``):
        >>> form = sbtm_explorer(defaults=dict(n=200))
        >>> type(form).__name__, form.controls["n"].value, form.last_run is None
        ('VBox', 200, True)
    """
    try:
        import ipywidgets as W
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("sbtm_explorer needs ipywidgets: pip install ipywidgets (Colab has it)") from exc
    from ..scores import NeuralScore, make_score
    from ..solver import NonFiniteError, simulate

    dev = pick_device(device)
    v = _check_defaults(defaults)
    pdef = EXPLORER_PROBLEMS[v["problem"]]
    dt0 = pdef["dt"] if v["dt"] is None else v["dt"]
    t_end0 = pdef["t_end"] if v["t_end"] is None else v["t_end"]
    n_max = max(by_device(cpu=8000, cuda=100_000, device=dev), int(v["n"]))
    losses = tuple(NeuralScore.LOSSES)
    if v["loss"] not in losses:
        raise ValueError(f"defaults['loss'] must be one of {losses}; got {v['loss']!r}")

    style = {"description_width": "110px"}
    controls = dict(
        problem=W.Dropdown(options=list(EXPLORER_PROBLEMS), value=v["problem"], description="problem", style=style),
        score=W.Dropdown(options=list(_SCORES), value=v["score"], description="score method", style=style),
        n=W.IntSlider(value=int(v["n"]), min=2, max=n_max, step=2, description="N", style=style),
        dt=W.FloatText(value=float(dt0), description="dt", style=style),
        t_end=W.FloatText(value=float(t_end0), description="final time", style=style),
        width=W.IntSlider(value=int(v["width"]), min=1, max=max(256, int(v["width"])), description="width",
                          style=style),
        depth=W.IntSlider(value=int(v["depth"]), min=1, max=max(4, int(v["depth"])), description="depth",
                          style=style),
        lr=W.FloatLogSlider(value=float(v["lr"]), base=10, min=-6, max=-2, description="learning rate",
                            style=style),
        steps=W.IntSlider(value=int(v["steps_per_update"]), min=0, max=max(50, int(v["steps_per_update"])),
                          description="steps / step", style=style),
        loss=W.Dropdown(options=list(losses), value=v["loss"], description="loss", style=style),
    )
    button = W.Button(description="Run SBTM", button_style="primary")
    progress = W.IntProgress(value=0, min=0, max=1, description="progress", style=style)
    # no reserved height: a saved page (no kernel) must not show an empty panel; it is set when a run starts
    log, plots = W.Output(), W.Output()
    keys = list(controls)
    form = W.VBox([W.HBox([W.VBox([controls[k] for k in keys[:5]]), W.VBox([controls[k] for k in keys[5:]])]),
                   W.HBox([button, progress]), log, plots])

    def say(msg: str) -> None:
        form.messages.append(msg)
        with log:
            print(msg)

    def show(p: Problem, hist: dict[str, list], title: str) -> None:
        import matplotlib.pyplot as plt
        try:
            from IPython import get_ipython
            live = get_ipython() is not None
        except ImportError:  # pragma: no cover
            live = False
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
        try:
            plot_run_panels(axes, hist, p, title=title)
            fig.tight_layout()
            if live:
                from IPython.display import display
                with plots:
                    plots.clear_output(wait=True)
                    display(fig)
        finally:
            plt.close(fig)

    def set_defaults(change: dict) -> None:
        d = EXPLORER_PROBLEMS[change["new"]]
        controls["dt"].value, controls["t_end"].value = d["dt"], d["t_end"]

    controls["problem"].observe(set_defaults, names="value")

    def run() -> None:
        log.clear_output()
        plots.clear_output()
        plots.layout.min_height = "300px"
        form.messages.clear()
        form.history = hist = empty_history()
        form.last_run = None
        progress.value, progress.bar_style = 0, ""
        p = get_problem(controls["problem"].value)
        name = controls["score"].value
        if name == "exact" and not p.exact_in_time:
            say(f"the exact score is known at every time only for {', '.join(_EXACT_PROBLEMS)}; "
                f"choose 'sbtm' or 'blob' for {p.name}")
            return
        try:
            n = check_int(controls["n"].value, "N", lo=2)
            dt = check_positive(controls["dt"].value, "dt")
            t_end = check_real(controls["t_end"].value, "final time", lo=p.t0, lo_open=True)
            kw: dict[str, Any] = {}
            if name == "sbtm":
                kw = dict(width=controls["width"].value, depth=controls["depth"].value, lr=controls["lr"].value,
                          loss=controls["loss"].value, steps_per_update=controls["steps"].value,
                          init_steps=v["init_steps"], init_tol=v["init_tol"], init_lr=v["init_lr"],
                          seed=v["seed"])
            score = make_score(name, problem=p, **kw)
        except (ValueError, TypeError) as err:
            say(f"invalid parameters: {err}")
            return
        n_steps = max(1, math.ceil((t_end - p.t0) / dt - 1e-9))
        every = max(1, n_steps // 12)
        progress.max = n_steps

        def record(k: int, t: float, x: torch.Tensor, s: torch.Tensor, U: torch.Tensor) -> bool:
            record_diagnostics(hist, p, t, x, s, U, score_loss=score.last_loss)
            progress.value = min(k, n_steps)
            if k % every == 0:
                show(p, hist, f"{p.name}, {name}, t = {t:.3g}")
            return False

        try:
            form.last_run = simulate(p, score, n=n, dt=dt, t_end=t_end, seed=v["seed"], device=dev,
                                     progress=False, callback=record)
            say(form.last_run.summary())
            progress.value, progress.bar_style = progress.max, "success"
        except (ValueError, TypeError) as err:
            say(f"invalid parameters: {err}")
            progress.bar_style = "danger"
        except NonFiniteError as err:
            say(str(err))
            progress.bar_style = "danger"
        if hist["t"]:
            show(p, hist, f"{p.name}, {name}, t = {hist['t'][-1]:.3g}")

    def _on_run(_button: Any = None) -> None:
        run()

    button.on_click(_on_run)
    form.controls, form.run_button, form.progress = controls, button, progress
    form.log_output, form.plot_output = log, plots
    form.history, form.messages, form.last_run = empty_history(), [], None
    form.run, form._on_run = run, _on_run
    return form
