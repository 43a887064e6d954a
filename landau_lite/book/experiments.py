r"""The particle experiments of chapters 8 and 9, as functions that the notebooks and the tests both call.

A particle check must be able to fail when the particles move wrongly: frozen, reversed, or with the collision
constant off by a factor 2 (``tests/test_mutations_ch8.py`` and ``tests/test_mutations_ch9.py`` run these
functions under such mutations of the velocity field). So every check here compares a quantity that *moves*
with the dynamics against the exact solution, with a tolerance set by error bars that the experiment measures:

* **paired moment increments** (:func:`paired_runs`, :func:`check_increment`): several seeds; for each seed, one
  set of initial particles :math:`X^0` is shared by every method (common random numbers), and the statistic is the
  increment

  .. math::

      \Delta_k(t) = \frac1N\sum_i|X_i(t)|^4 - \frac1N\sum_i|X^0_i|^4 ,

  compared with the exact :math:`E|v|^4(t)-E|v|^4(t_0)`. The sampling noise of the initial law largely cancels in
  the difference (for 3-D BKW with :math:`N=1000`: a standard deviation of about 0.05 for the increment over
  :math:`[6,10]`, against about 0.5 for :math:`E|v|^4` itself), while frozen particles give 0 and a halved collision
  constant about two thirds of the exact increment;
* **the entropy dissipated** (:func:`check_entropy_change`): the time integral of the particle estimate
  :math:`\frac1N\sum_is_i\cdot U_i` of the entropy production rate against :math:`H(f_T)-H(f_{t_0})`
  (:func:`exact_entropy`); it is linear in the velocity, so a frozen, reversed or halved field changes it by
  100 %, 200 % or 50 %;
* **the a-posteriori certificate** (:func:`certificate_runs`, :func:`check_tracker_control`,
  :func:`check_certificate`, :func:`coulomb_rate`, :func:`coulomb_bound_log10`): runs with the characteristic
  tracker of :mod:`landau_lite.analysis.certificate`, the control run with the exact score, and the two bounds.

The learned scores' accuracy (SBTM, blob) is reported as measured, with error bars (:func:`increment_summary`,
:func:`kde_kl_excess`), not checked: it depends on the network, :math:`N` and the time step.

Example (a small paired experiment with the exact score; the increment matches the exact one):
    >>> from landau_lite.problems import get_problem
    >>> res = paired_runs(get_problem("bkw3"), {"exact score": "exact"}, n=400, dt=0.2, t_end=10.0,
    ...                   seeds=range(3), device="cpu")
    >>> err = check_increment(res, "exact score")   # doctest: +ELLIPSIS
    ✓ exact score: E|v|^4 increment over [6, 10], mean of 3 seeds (tolerance 4 std. errors): ...
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._checks import check_int, check_positive, check_real
from ..problems import BKW, IsotropicCoulomb, Problem, as_problem, get_problem
from ..run import Run
from ..scores import ExactScore, ScoreMethod, make_score
from ..solver import simulate
from .verify import check_close, check_le, fmt

__all__ = [
    "PairedRuns", "paired_runs", "check_increment", "increment_summary", "findings_table", "plot_increments",
    "plot_cost_accuracy",
    "check_entropy_change", "exact_entropy", "exact_entropy_rate", "deviation_fisher_ratio",
    "kde_kl_excess",
    "CertificateRun", "certificate_runs", "check_tracker_control", "check_certificate", "check_sharp_bound",
    "coulomb_rate", "coulomb_bound_log10",
]

def _method(label: str, spec: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str) and isinstance(spec[1], Mapping):
        return spec[0], dict(spec[1])
    raise TypeError(f"methods[{label!r}] must be a score name or a pair (name, score_kwargs), got {spec!r}")


# ----------------------------------------------------------------------------------------------
# paired moment increments
# ----------------------------------------------------------------------------------------------

@dataclass
class PairedRuns:
    r"""Runs of several methods from shared initial particles, one set per seed (:func:`paired_runs`).

    Attributes:
        problem: the problem. seeds: the seeds (one initial sample each). n, dt, t0, t_end: the run sizes.
        times: the recorded times (the same for every run). exact: :math:`E|v|^4(t)-E|v|^4(t_0)` of the exact
            solution at ``times``. increments: ``label -> (S, T)`` array of the particle increments
            :math:`\Delta_k(t)`. entropy_exact: :math:`H(f_{t_{\rm end}})-H(f_{t_0})`. entropy_changes:
            ``label -> (S,)`` time integrals of the particle entropy production rate
            :math:`\frac1N\sum_is_i\cdot U_i` (trapezoidal rule on the recorded times). runs:
            ``label -> [Run per seed]``. step_seconds: ``label -> (S,)`` median wall time of one time step per seed
            (from time stamps taken at every step, the first step left out: it holds one-time costs).
    """

    problem: Problem
    seeds: list[int]
    n: int
    dt: float
    t0: float
    t_end: float
    times: np.ndarray
    exact: np.ndarray
    increments: dict[str, np.ndarray] = field(default_factory=dict)
    entropy_exact: float = math.nan
    entropy_changes: dict[str, np.ndarray] = field(default_factory=dict)
    runs: dict[str, list[Run]] = field(default_factory=dict)
    step_seconds: dict[str, np.ndarray] = field(default_factory=dict)

    def paired_difference(self, label: str, reference: str) -> np.ndarray:
        r"""Per seed, :math:`E|v|^4` of method ``label`` minus that of method ``reference`` at the final time; both
        started from the same particles, so the sampling error of the initial draw cancels.

        >>> res = PairedRuns(problem=None, seeds=[0, 1], n=2, dt=1.0, t0=0.0, t_end=1.0, times=np.zeros(2),
        ...                  exact=np.zeros(2), increments={"a": np.array([[0.0, 1.0], [0.0, 2.0]]),
        ...                                                 "b": np.array([[0.0, 1.5], [0.0, 1.5]])})
        >>> res.paired_difference("b", "a").tolist()
        [0.5, -0.5]
        """
        return self.increments[self._label(label)][:, -1] - self.increments[self._label(reference)][:, -1]

    def mean(self, label: str) -> np.ndarray:
        """Mean increment over the seeds at every recorded time."""
        return self.increments[self._label(label)].mean(0)

    def se(self, label: str) -> np.ndarray:
        """Standard error of :meth:`mean` from the scatter over the seeds (sample standard deviation / √S)."""
        inc = self.increments[self._label(label)]
        return inc.std(0, ddof=1) / math.sqrt(inc.shape[0])

    def _label(self, label: str) -> str:
        if label not in self.increments:
            raise KeyError(f"no method {label!r}; have {list(self.increments)}")
        return label


def paired_runs(problem: Problem | str, methods: Mapping[str, Any], *, n: int, dt: float, t_end: float,
                seeds: Iterable[int], device: str | torch.device = "auto", record_every: int = 1,
                progress: bool = False) -> PairedRuns:
    r"""Run every method from the same initial particles, for several seeds; record the :math:`E|v|^4` increments.

    For each seed :math:`k`, :math:`X^0` is ``problem.sample(n)`` drawn with ``torch.Generator().manual_seed(k)``
    (on the CPU, so the draw is the same on every device), and every method starts from it
    (``simulate(..., x0=X^0, seed=k)``: a neural score also takes its seed from ``k``).

    Args:
        problem: an ``exact_in_time`` problem (its reference gives :math:`E|v|^4(t)`).
        methods: ``label -> "exact" | "blob" | ("sbtm", score_kwargs)``.
        n, dt, t_end: particles, time step, final time (from ``problem.t0``). seeds: at least 2 seeds.
        device, record_every, progress: as in :func:`landau_lite.solver.simulate`.

    Returns:
        a :class:`PairedRuns`.
    """
    p = as_problem(problem)
    if not p.exact_in_time:
        raise ValueError(f"problem must be known at every time (exact_in_time); got {p.name!r}")
    if not isinstance(methods, Mapping) or not methods:
        raise TypeError("methods must be a non-empty dict label -> score name or (name, score_kwargs)")
    specs = {str(label): _method(str(label), spec) for label, spec in methods.items()}
    seeds = [check_int(s, "seed", lo=0) for s in seeds]
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must hold at least 2 distinct seeds (error bars come from their scatter), got {seeds}")
    n = check_int(n, "n", lo=2)
    dt = check_positive(dt, "dt")
    t0 = float(p.t0)
    t_end = check_real(t_end, "t_end", lo=t0, lo_open=True)
    res = PairedRuns(problem=p, seeds=seeds, n=n, dt=dt, t0=t0, t_end=t_end, times=np.zeros(0), exact=np.zeros(0))
    from ..analysis.gronwall import cumulative_integral
    incs: dict[str, list[np.ndarray]] = {label: [] for label in specs}
    dH: dict[str, list[float]] = {label: [] for label in specs}
    secs: dict[str, list[float]] = {label: [] for label in specs}
    for label in specs:
        res.runs[label] = []
    for seed in seeds:
        x0 = p.sample(n, generator=torch.Generator().manual_seed(seed))
        for label, (name, kw) in specs.items():
            stamps: list[float] = []

            def stamp(*_: Any) -> bool:
                stamps.append(time.perf_counter())
                return False
            run = simulate(p, name, n=n, dt=dt, t_end=t_end, x0=x0, seed=seed, device=device,
                           record_every=record_every, progress=progress, score_kwargs=kw or None, callback=stamp)
            gaps = np.diff(stamps)
            secs[label].append(float(np.median(gaps[1:] if gaps.size > 1 else gaps)) if gaps.size else math.nan)
            m4 = run.series("m4")
            if res.times.size == 0:
                res.times = run.series("t")
                ref = run.series("m4", reference=True)
                res.exact = ref - ref[0]
            incs[label].append(m4 - m4[0])
            dH[label].append(float(cumulative_integral(run.series("t"), run.series("entropy_rate"))[-1]))
            res.runs[label].append(run)
    res.increments = {label: np.stack(v) for label, v in incs.items()}
    res.entropy_changes = {label: np.array(v) for label, v in dH.items()}
    res.step_seconds = {label: np.array(v) for label, v in secs.items()}
    res.entropy_exact = exact_entropy(p, float(res.times[-1])) - exact_entropy(p, t0)
    return res


def check_increment(res: PairedRuns, label: str, *, n_se: float = 4.0, allowance: float = 0.0,
                    digits: int = 3) -> float:
    r"""Check the mean :math:`E|v|^4` increment of a method at the final time against the exact increment.

    Tolerance: ``n_se`` standard errors of the mean over the seeds plus a stated method allowance
    ``allowance`` :math:`\times` the exact increment (0 for the exact score). Frozen particles give an increment 0,
    reversed ones a negative increment, a halved collision constant the exact increment over half the time span:
    all far outside the tolerance when the experiment resolves the dynamics (the exact increment is many standard
    errors). Returns the absolute error.
    """
    mean, se, exact = float(res.mean(label)[-1]), float(res.se(label)[-1]), float(res.exact[-1])
    tol = n_se * se + allowance * abs(exact)
    what = f"{fmt(n_se, 2)} std. errors" + (f" + {fmt(100 * allowance, 2)} % of the exact" if allowance else "")
    return check_close(f"{label}: E|v|^4 increment over [{res.t0:g}, {res.t_end:g}], mean of "
                       f"{len(res.seeds)} seeds (tolerance {what})", mean, exact, atol=tol, digits=digits)


def deviation_fisher_ratio(problem: Problem | str, t: float) -> float:
    r"""How much a relative score error is amplified in the force that moves the particles:

    .. math::

        \frac{\int f_t|\nabla\log f_t|^2}{\int f_t|\nabla\log f_t+v|^2}
        = \frac{I(f_t)}{I(f_t\,|\,M)} ,

    for the isotropic problems with the equilibrium :math:`M=N(0,I)` (BKW, the isotropic Coulomb problem). The
    particle velocity :math:`U=-\bar a[g](s-\ldots)` does not change when :math:`v` is added to the score
    (:math:`A(z)z=0`), so it is driven by the deviation :math:`\nabla\log f+v`; a score error
    :math:`\delta` with :math:`\int f|\delta|^2=\epsilon\,I(f)` is, relative to that deviation, the error
    :math:`\epsilon\,I(f)/I(f|M)`. Radial quadrature (:math:`|v|\le10`, 64 panels).

    Example:
        >>> round(deviation_fisher_ratio("bkw3", 6.0), 2)
        7.78
    """
    from ..analysis.divergences import fisher_information, relative_fisher_information
    from ..analysis.quadrature import radial_quadrature
    p = as_problem(problem)
    t = check_real(t, "t")
    if not isinstance(p, (BKW, IsotropicCoulomb)):
        raise ValueError(f"deviation_fisher_ratio knows BKW and the isotropic Coulomb problem; got {p.name!r}")
    quad = radial_quadrature(p.d, 10.0, panels=64)
    dens, score = (lambda v: p.density(v, t)), (lambda v: p.score(v, t))
    return float(fisher_information(dens, score, quad)) / float(
        relative_fisher_information(dens, score, lambda v: -v, quad))


def check_entropy_change(res: PairedRuns, label: str, *, n_se: float = 4.0, allowance: float = 0.0,
                         digits: int = 3) -> float:
    r"""Check the entropy dissipated by the particles, :math:`\int_{t_0}^{T}\frac1N\sum_is_i\cdot U_i\,dt` (mean over
    the seeds), against :math:`H(f_T)-H(f_{t_0})` of the exact solution.

    Tolerance: ``n_se`` standard errors of the mean over the seeds plus ``allowance`` times the exact change. The
    integrand is linear in the velocity field: frozen particles give 0 (relative error 1), a reversed field the
    opposite sign (error 2), a halved one half the change (error 0.5). Returns the absolute error.
    """
    dH = res.entropy_changes[res._label(label)]
    mean, se = float(dH.mean()), float(dH.std(ddof=1) / math.sqrt(dH.size))
    tol = n_se * se + allowance * abs(res.entropy_exact)
    what = f"{fmt(n_se, 2)} std. errors" + (f" + {fmt(100 * allowance, 2)} % of the exact" if allowance else "")
    return check_close(f"{label}: entropy change over [{res.t0:g}, {res.t_end:g}] from the particle rate "
                       f"(tolerance {what})", mean, res.entropy_exact, atol=tol, digits=digits)


def increment_summary(res: PairedRuns, digits: int = 2) -> list[tuple[str, str, str]]:
    r"""Rows ``(method, increment ± standard error, ratio to the exact increment ± standard error)`` at the
    final time (numbers rounded to ``digits`` significant digits)."""
    exact = float(res.exact[-1])
    rows = [("exact solution", fmt(exact, digits + 1), "1")]
    for label in res.increments:
        m, s = float(res.mean(label)[-1]), float(res.se(label)[-1])
        rows.append((label, f"{fmt(m, digits + 1)} ± {fmt(s, digits)}", f"{fmt(m / exact, digits + 1)} ± "
                     f"{fmt(s / abs(exact), digits)}"))
    return rows


def findings_table(res: PairedRuns, digits: int = 2) -> str:
    r"""A Markdown table of the methods of ``res`` at the final time: the :math:`E|v|^4` increment ± standard error,
    its ratio to the exact increment, and the relative Fisher error of the score (mean over the seeds) measured
    against :math:`\nabla\log f_T` and against the deviation :math:`\nabla\log f_T+v` that moves the particles
    (:func:`deviation_fisher_ratio`)."""
    amp = deviation_fisher_ratio(res.problem, res.t_end)
    rows = ["| method | E\\|v\\|⁴ increment | ratio to exact | score error vs ∇log f, vs ∇log f + v |",
            "|---|---|---|---|"]
    for (label, inc, ratio), name in zip(increment_summary(res, digits)[1:], res.increments):
        err = float(np.mean([run.series("fisher_error")[-1] for run in res.runs[name]]))
        rows.append(f"| {label} | {inc} | {ratio} | {fmt(err, digits)}, {fmt(err * amp, digits)} |")
    rows.append(f"| exact solution | {fmt(res.exact[-1], digits + 1)} | 1 | — |")
    return "\n".join(rows)


def plot_increments(ax: Any, res: PairedRuns, labels: Sequence[str] | None = None, *, band: float = 2.0) -> None:
    r"""Draw the exact increment :math:`E|v|^4(t)-E|v|^4(t_0)` and, for each method, the mean particle increment
    over the seeds with a band of ``band`` standard errors, on a matplotlib axis."""
    ax.plot(res.times, res.exact, "k--", lw=2, label="exact solution")
    for i, label in enumerate(res.increments if labels is None else labels):
        m, se = res.mean(label), res.se(label)
        ax.plot(res.times, m, f"C{i}-", label=f"{label} ({len(res.seeds)} seeds)")
        ax.fill_between(res.times, m - band * se, m + band * se, color=f"C{i}", alpha=0.25, lw=0)
    ax.set_xlabel("t")
    ax.set_ylabel(r"$E|v|^4(t)-E|v|^4(t_0)$")


def plot_cost_accuracy(ax: Any, res: PairedRuns, reference: str, labels: Sequence[str] | None = None) -> None:
    r"""Accuracy against cost: for each method, the mean over the seeds of :math:`|E|v|^4-E|v|^4_{\rm ref}|` at the
    final time (paired with method ``reference`` from the same particles; error bar: one standard error of the
    mean) against its median wall time per step in milliseconds (log scale), one labelled point per method."""
    names = [lab for lab in (res.increments if labels is None else labels) if lab != reference]
    for i, label in enumerate(names):
        d = np.abs(res.paired_difference(label, reference))
        ms = 1e3 * float(np.median(res.step_seconds[label]))
        se = float(d.std(ddof=1) / math.sqrt(d.size)) if d.size > 1 else 0.0
        ax.errorbar([ms], [float(d.mean())], yerr=[se], fmt="o", color=f"C{i}", capsize=3, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("wall time per step (ms)")
    ax.set_ylabel(f"mean |E|v|⁴ − E|v|⁴ ({reference})| at T")
    ax.set_ylim(bottom=0)


# ----------------------------------------------------------------------------------------------
# entropy production
# ----------------------------------------------------------------------------------------------

def exact_entropy(problem: Problem | str, t: float) -> float:
    r""":math:`H(f_t)=\int f_t\log f_t` of the exact solution: BKW by radial quadrature (:math:`|v|\le14`, 64 panels),
    the isotropic Coulomb problem from its radial reference (:meth:`~landau_lite.problems.IsotropicCoulomb.entropy`).

    Example:
        >>> round(exact_entropy("bkw3", 6.0), 4), round(exact_entropy("bkw3_coulomb", 0.0), 4)
        (-4.219, -4.219)
    """
    p = as_problem(problem)
    t = check_real(t, "t")
    if isinstance(p, BKW):
        from ..analysis.divergences import entropy
        from ..analysis.quadrature import radial_quadrature
        return float(entropy(lambda v: p.density(v, t), radial_quadrature(p.d, 14.0, panels=64)))
    if isinstance(p, IsotropicCoulomb):
        return p.entropy(t)
    raise ValueError(f"exact_entropy knows BKW and the isotropic Coulomb problem; got {p.name!r}")


def exact_entropy_rate(problem: Problem | str, t: float, *, h: float = 0.02) -> float:
    r""":math:`\frac{d}{dt}H(f_t)` of the exact solution, :math:`H=\int f\log f`.

    * BKW (Maxwell molecules, unit temperature, zero mean): :math:`\frac{d}{dt}H=-C(d-1)\int f|\nabla\log f+v|^2`,
      the relative Fisher information with respect to the Maxwellian (the kernel :math:`A` contains :math:`C`),
      by radial quadrature;
    * the isotropic Coulomb problem: the central difference :math:`(H(t+h)-H(t-h))/2h` of the radial reference's
      entropy (error :math:`O(h^2)` plus :math:`10^{-7}/h`; one-sided at :math:`t_0`).

    Example:
        >>> round(exact_entropy_rate("bkw3", 6.0), 5)
        -0.03689
    """
    p = as_problem(problem)
    t = check_real(t, "t")
    if isinstance(p, BKW):
        from ..analysis.divergences import relative_fisher_information
        from ..analysis.quadrature import radial_quadrature
        quad = radial_quadrature(p.d, 14.0, panels=64)
        i_rel = relative_fisher_information(lambda v: p.density(v, t), lambda v: p.score(v, t), lambda v: -v, quad)
        return -float(p.C) * (p.d - 1) * float(i_rel)
    if isinstance(p, IsotropicCoulomb):
        h = check_positive(h, "h")
        lo = max(t - h, float(p.t0))
        return (p.entropy(t + h) - p.entropy(lo)) / (t + h - lo)
    raise ValueError(f"exact_entropy_rate knows BKW and the isotropic Coulomb problem; got {p.name!r}")


# ----------------------------------------------------------------------------------------------
# KL by kernel density estimation, against exact samples
# ----------------------------------------------------------------------------------------------

def kde_kl_excess(problem: Problem | str, t: float, x: torch.Tensor, *, draws: int = 3, seed: int = 0,
                  bandwidth: float | None = None) -> dict[str, float]:
    r"""KDE estimate of :math:`\mathrm{KL}(f_t\Vert g)` for particles ``x``, and the same estimator on exact samples.

    :func:`landau_lite.analysis.certificate.kl_kde` is biased upwards (the kernel smooths, its noise enters the
    logarithm); the bias depends on :math:`N` and the bandwidth, not on the particles, so the **excess**
    :math:`\widehat{\mathrm{KL}}(x)-\overline{\widehat{\mathrm{KL}}}(\text{exact samples})` estimates the part due to
    the method. ``draws`` exact samples of size ``N`` give the baseline and its scatter; the bandwidth is
    :math:`h=N^{-1/(d+4)}` (Scott's rule for unit covariance) unless given.

    Returns:
        ``estimate``, ``baseline`` (mean over the draws), ``baseline_sd`` (their standard deviation), ``excess``.
    """
    from ..analysis import certificate as cert
    p = as_problem(problem)
    n, d = x.shape
    h = n ** (-1.0 / (d + 4)) if bandwidth is None else check_positive(bandwidth, "bandwidth")
    draws = check_int(draws, "draws", lo=2)
    gen = torch.Generator().manual_seed(check_int(seed, "seed", lo=0))
    x = x.to(torch.float64).cpu()
    est = cert.kl_kde(p, t, x, bandwidth=h, generator=gen)[0]
    base = np.array([cert.kl_kde(p, t, cert.sample_at(p, t, n, generator=gen), bandwidth=h, generator=gen)[0]
                     for _ in range(draws)])
    return {"estimate": est, "baseline": float(base.mean()), "baseline_sd": float(base.std(ddof=1)),
            "excess": est - float(base.mean())}


# ----------------------------------------------------------------------------------------------
# the a-posteriori certificate (chapter 9)
# ----------------------------------------------------------------------------------------------

@dataclass
class CertificateRun:
    r"""One run with the characteristic tracker (:func:`certificate_runs`).

    Attributes:
        run: the :class:`~landau_lite.run.Run`. tracker: the
            :class:`~landau_lite.analysis.certificate.CharacteristicTracker`. t: the tracker's record times.
        series: ``kl_fg``, ``kl_gf``, ``se_fg``, ``mass``, ``loss_true`` (:math:`\mathcal L_t`), ``loss_proxy``
            (proxy pair loss with fresh samples of :math:`f_t`, if ``n_mc > 0``), ``abar_loss``, ``remainder``
            (:math:`\rho_t`, Maxwell molecules only), ``rel_fisher``; and the time integrals ``int_true``,
            ``int_proxy`` (of the losses) and ``int_logged`` (of the solver's logged proxy loss, at the step times
            ``step_t``).
    """

    run: Run
    tracker: Any
    t: np.ndarray
    series: dict[str, np.ndarray]


def certificate_runs(problem: Problem | str, configs: Mapping[str, Mapping[str, Any] | None], *, n: int, dt: float,
                     t_end: float, tracers: int, n_mc: int = 0, seed: int = 0, tracer_seed: int = 7, every: int = 2,
                     device: str | torch.device = "auto") -> dict[str, CertificateRun]:
    r"""Run each configuration from the same initial particles with a characteristic tracker.

    ``configs``: ``label -> None`` (the exact score) or the keyword arguments of a
    :class:`~landau_lite.scores.NeuralScore` (SBTM). Every run uses ``seed`` for its particles and network; the
    tracker's ``tracers`` passive witnesses and its ``n_mc`` exact samples per record use ``tracer_seed``.
    """
    from ..analysis import certificate as cert
    from ..analysis import gronwall as gw
    p = as_problem(problem)
    out: dict[str, CertificateRun] = {}
    for label, kw in configs.items():
        score: ScoreMethod = ExactScore(p) if kw is None else make_score("sbtm", problem=p, **dict(kw, seed=seed))
        tr = cert.CharacteristicTracker(p, score, tracers=tracers, n_mc=n_mc, seed=tracer_seed, every=every)
        run = simulate(p, score, n=n, dt=dt, t_end=t_end, seed=seed, device=device, progress=False,
                       callback=tr, record_every=every)
        t = tr.series("t")
        s = {key: tr.series(key) for key in ("kl_fg", "kl_gf", "se_fg", "mass", "se_mass", "loss_true", "abar_loss",
                                             "rel_fisher", "remainder", "entropy", "log_g_max")}
        s["loss_proxy"] = tr.series("pair_loss_fg")
        s["step_t"], s["loss_logged"] = run.series("step_t"), run.series("step_weighted_loss")
        s["int_true"] = np.asarray(gw.cumulative_integral(t, s["loss_true"]))
        s["int_logged"] = np.asarray(gw.cumulative_integral(s["step_t"], s["loss_logged"]))
        if s["loss_proxy"].size:
            s["int_proxy"] = np.asarray(gw.cumulative_integral(t, s["loss_proxy"]))
        out[label] = CertificateRun(run=run, tracker=tr, t=t, series=s)
    return out


def check_tracker_control(res: CertificateRun, label: str, *, kl_tol: float, n_se: float = 4.0,
                          mass_tol: float = 3e-3) -> None:
    r"""The control run (exact score): the density carried along the characteristics must stay the exact one.

    Checks: the largest :math:`\mathrm{KL}(f_t\Vert g_t)` and :math:`\mathrm{KL}(g_t\Vert f_t)` along the run
    :math:`\le` ``kl_tol`` (what the empirical velocity field, forward Euler and the tracker's finite differences
    leave); and at every record the mean of :math:`r=f/g` over the tracers (the mass of :math:`f`, exactly 1) within
    ``n_se`` standard errors plus ``mass_tol`` of 1 (``mass_tol``: the discretisation error of the tracker, forward
    Euler and central differences, about :math:`10^{-3}` at the book's step sizes). Frozen, reversed or halved
    particles leave :math:`g_t` behind :math:`f_t`: the relative entropy grows with the lag, and :math:`\log g`,
    which the tracker moves with the divergence of the true particle field, no longer belongs to the tracers'
    positions, so the mean of :math:`f/g` leaves 1.
    """
    s = res.series
    k = int(np.argmax(s["kl_fg"]))
    check_le(f"{label}: largest KL(f‖g) along the run (characteristics, t = {res.t[k]:g})",
             float(s["kl_fg"][k]), kl_tol, digits=2)
    k = int(np.argmax(s["kl_gf"]))
    check_le(f"{label}: largest KL(g‖f) along the run (characteristics, t = {res.t[k]:g})",
             float(s["kl_gf"][k]), kl_tol, digits=2)
    tol = n_se * s["se_mass"] + check_positive(mass_tol, "mass_tol")
    k = int(np.argmax(np.abs(s["mass"] - 1.0) / tol))
    check_close(f"{label}: mean of f/g over the tracers, worst record (t = {res.t[k]:g}; tolerance "
                f"{fmt(n_se, 2)} std. errors + {fmt(mass_tol, 2)})", float(s["mass"][k]), 1.0, atol=float(tol[k]),
                digits=4)


def check_certificate(results: Mapping[str, CertificateRun]) -> dict[str, float]:
    r"""Check the sharp bound (:func:`check_sharp_bound`) along every run of ``results``, in order (put the control
    run with the exact score first: a solver whose particles do not follow the velocity field of their score
    violates the bound already there). Returns ``label -> largest ratio KL / bound``."""
    if not isinstance(results, Mapping) or not results:
        raise TypeError("results must be a non-empty dict label -> CertificateRun")
    return {label: check_sharp_bound(res, label) for label, res in results.items()}


def check_sharp_bound(res: CertificateRun, label: str) -> float:
    r"""Maxwell molecules: :math:`\mathrm{KL}(f_t\Vert g_t)` (characteristics) :math:`\le` the sharp bound
    :math:`\frac14\int(\sqrt{\mathcal L}+\sqrt\rho)^2` with the true loss, at every record. Returns the largest
    ratio KL / bound (after the first record)."""
    from ..analysis import certificate as cert
    s = res.series
    bound = np.asarray(cert.sharp_bound(res.t, s["loss_true"], s["remainder"]))
    ratio = s["kl_fg"][1:] / bound[1:]
    k = int(np.argmax(ratio)) + 1
    check_le(f"{label}: KL(f‖g) vs the sharp bound with the true loss, largest ratio (t = {res.t[k]:g})",
             float(s["kl_fg"][k]), float(bound[k]), digits=3)
    return float(ratio.max())


def coulomb_rate(problem: IsotropicCoulomb, times: Sequence[float], *, g_sup: Sequence[float] | None = None,
                 n_shells: int = 400, r_max: float = 10.0) -> dict[str, np.ndarray]:
    r"""The Grönwall rate :math:`\Lambda(t)` of chapter 7 along the radial reference :math:`f_t` of the Coulomb
    problem, with the coercivity constant of :math:`\bar a[f_t]` in place of that of :math:`\bar a[g_t]`:

    .. math::

        \Lambda(t) = \frac{C^2}{c_t}\Big(k_a(B_t)\,I_3(f_t)+k_b(B_t)\,\|\langle v\rangle^3f_t\|_{L^2}\Big),\qquad
        B_t=\max(\|f_t\|_\infty, \texttt{g\_sup}_t),

    (:func:`landau_lite.analysis.stability.lemma33_rate`; :math:`c_t`, :math:`I_3`, the weighted :math:`L^2` norm and
    :math:`\|f_t\|_\infty` by :func:`landau_lite.analysis.stability.radial_key_terms` on ``n_shells`` shells of radius
    ``r_max``). It is an **estimate** of the rate of the numerical pair: :math:`c_t` and :math:`\|g_t\|_\infty` of
    the particle density are not known, and ``g_sup`` (e.g. the largest :math:`g` seen on the tracers) is a lower
    estimate of :math:`\|g_t\|_\infty`.

    Returns ``rate``, ``c``, ``B``, ``fisher3``, ``weighted_l2`` (arrays over ``times``).
    """
    from .. import radial as rd
    from ..analysis import stability as st
    if not isinstance(problem, IsotropicCoulomb):
        raise TypeError(f"problem must be the isotropic Coulomb problem, got {type(problem).__name__}")
    times = np.asarray(times, dtype=float)
    sup_g = np.zeros_like(times) if g_sup is None else np.asarray(g_sup, dtype=float)
    if sup_g.shape != times.shape:
        raise ValueError(f"g_sup must have the shape of times {times.shape}, got {sup_g.shape}")
    grid = rd.RadialGrid(R=check_positive(r_max, "r_max"), n=check_int(n_shells, "n_shells", lo=8))
    r = grid.centres()
    on_axis = torch.stack([r, torch.zeros_like(r), torch.zeros_like(r)], dim=1)
    keys = ("c", "fisher3", "f_w_l2", "f_sup")
    vals: dict[str, list[float]] = {k: [] for k in keys}
    for t in times:
        f = problem.density(on_axis, float(t))
        f = f / grid.integrate(f)
        terms = st.radial_key_terms(f, f, grid, gamma=-3.0, C=float(problem.C))
        for k in keys:
            vals[k].append(float(terms[k]))
    arr = {k: np.array(v) for k, v in vals.items()}
    B = np.maximum(arr["f_sup"], sup_g)
    rate = st.lemma33_rate(torch.from_numpy(arr["c"]), torch.from_numpy(B), torch.from_numpy(arr["fisher3"]),
                           torch.from_numpy(arr["f_w_l2"]), C=float(problem.C)).numpy()
    return {"rate": rate, "c": arr["c"], "B": B, "fisher3": arr["fisher3"], "weighted_l2": arr["f_w_l2"]}


def coulomb_bound_log10(times: Sequence[float], loss: Sequence[float], rate: Sequence[float],
                        kl0: float = 0.0) -> np.ndarray:
    r""":math:`\log_{10}` of the Coulomb a-posteriori bound
    :math:`e^{\int_{t_0}^t\Lambda}\big(\mathrm{KL}(f_0\Vert g_0)+\frac12\int_{t_0}^t\mathcal L_\tau\,d\tau\big)` at ``times``
    (trapezoidal integrals; evaluated in logarithms, the exponential overflows). At :math:`t_0` with
    ``kl0 = 0`` the value is :math:`-\infty`.

    Example:
        >>> [round(float(v), 4) for v in coulomb_bound_log10([0.0, 1.0], [2.0, 2.0], [0.0, 0.0])]
        [-inf, 0.0]
    """
    from ..analysis import gronwall as gw
    t = np.asarray(times, dtype=float)
    L, lam = np.asarray(loss, dtype=float), np.asarray(rate, dtype=float)
    if not (t.shape == L.shape == lam.shape) or t.ndim != 1:
        raise ValueError("times, loss and rate must be 1-D of the same length")
    if (L < 0).any() or (lam < 0).any():
        raise ValueError("loss and rate must be >= 0")
    kl0 = check_real(kl0, "kl0", lo=0.0)
    int_L = np.asarray(gw.cumulative_integral(t, L))
    int_lam = np.asarray(gw.cumulative_integral(t, lam))
    with np.errstate(divide="ignore"):
        return int_lam / math.log(10.0) + np.log10(kl0 + 0.5 * int_L)
