"""Time stepping and runs: BKW moments against the exact solution, conservation, Heun vs Euler, the Maxwell
covariance ODE, non-finite detection, the weighted score loss identity, save/load, argument validation."""

import json
import math

import numpy as np
import pytest
import torch

import landau_lite.solver as solver
from landau_lite.problems import get_problem
from landau_lite.scores import ScoreMethod
from landau_lite.diagnostics import pair_weighted_loss as weighted_score_loss
from landau_lite.integrators import euler_step, heun_step
from landau_lite.run import NonFiniteError, Run
from landau_lite.solver import simulate
from landau_lite.velocity import velocity

torch.set_num_threads(1)
F64 = torch.float64

BKW = dict(n=2000, dt=0.01, t_end=6.5, progress=False, seed=0)


class _Accumulate:
    """Callback summing the forward-Euler energy increment dt^2 * mean_i |U_i|^2 of every step."""

    def __init__(self, grid):
        self.grid, self.total = grid, 0.0

    def __call__(self, k, t, x, s, U):
        if k + 1 < len(self.grid):
            h = self.grid[k + 1] - t
            self.total += h * h * float((U * U).sum(1).mean())


@pytest.fixture(scope="module")
def bkw_euler():
    grid = [6.0 + 0.01 * k for k in range(50)] + [6.5]
    acc = _Accumulate(grid)
    run = simulate("bkw3", "exact", **BKW, snapshot_times=(6.0, 6.5), callback=acc)
    return run, acc.total


@pytest.fixture(scope="module")
def bkw_heun():
    return simulate("bkw3", "exact", **BKW, method="heun", snapshot_times=(6.0, 6.5))


# ---------------------------------------------------------------------------------------------
# BKW, exact score
# ---------------------------------------------------------------------------------------------

def test_bkw3_fourth_moment_matches_exact_within_mc_error(bkw_euler):
    run, _ = bkw_euler
    assert run.status == "completed" and run.steps == 50
    assert run.times[0] == 6.0 and run.times[-1] == 6.5 and len(run.times) == 51
    m4, ref = run.series("m4"), run.series("m4", reference=True)
    p = get_problem("bkw3")
    assert ref[-1] == pytest.approx(p.fourth_moment(6.5), rel=1e-12)
    x0, x1 = run.snapshots[6.0], run.snapshots[6.5]
    assert torch.equal(x1, run.x_final)
    r4_0, r4_1 = (x0 * x0).sum(1) ** 2, (x1 * x1).sum(1) ** 2
    n = x0.shape[0]
    # E|v|^4 at every recorded time, against the exact value, within 4 standard errors of |v|^4
    se = float(r4_1.std()) / math.sqrt(n)
    assert np.all(np.abs(m4 - ref) < 4 * se), (np.abs(m4 - ref).max(), se)
    # the change of E|v|^4 along the flow (each particle carries its own initial sampling error, so the
    # standard error of the per-particle change |X_i(t)|^4 - |X_i(t0)|^4 is the right, much smaller, scale)
    se_change = float((r4_1 - r4_0).std()) / math.sqrt(n)
    exact_change = ref[-1] - ref[0]
    assert abs(exact_change) > 8 * se_change            # the check can tell a moving solution from a frozen one
    assert abs((m4[-1] - m4[0]) - exact_change) < 4 * se_change


def test_bkw3_euler_conservation(bkw_euler):
    run, increments = bkw_euler
    mean = run.series("mean")
    assert np.abs(mean - mean[0]).max() < 1e-13                  # momentum: round-off
    E = run.series("energy")
    dE = E[-1] - E[0]
    # forward Euler: E^{k+1} - E^k = dt^2 mean|U^k|^2 exactly (sum_i x_i.U_i = 0), so the drift is O(dt^2 * steps)
    assert dE > 0
    assert dE == pytest.approx(increments, rel=1e-8)
    U0 = velocity(run.snapshots[6.0], get_problem("bkw3").score(run.snapshots[6.0], 6.0), gamma=0.0, C=1 / 24)
    assert dE < 2 * run.steps * run.dt**2 * float((U0 * U0).sum(1).mean())
    # the entropy production rate with the exact score approximates dH/dt = -3.6892e-2 at t = 6 (math.md §6.1)
    rate = run.series("entropy_rate")
    assert np.all(rate < 0)
    assert rate[0] == pytest.approx(-3.6892e-2, rel=0.15)


def test_bkw3_heun_energy_error_much_smaller(bkw_euler, bkw_heun):
    run_e, _ = bkw_euler
    run_h = bkw_heun
    assert run_h.status == "completed" and run_h.method == "heun"
    assert torch.equal(run_h.snapshots[6.0], run_e.snapshots[6.0])            # same seed, same particles
    dE_e = run_e.series("energy")[-1] - run_e.series("energy")[0]
    dE_h = run_h.series("energy")[-1] - run_h.series("energy")[0]
    # Heun: dt^2/4 sum|U1 - U2|^2 per step = O(dt^4) per step
    assert 0 <= dE_h < 1e-3 * dE_e
    assert np.abs(run_h.series("mean") - run_h.series("mean")[0]).max() < 1e-13
    # and it reaches the same moments (both are O(dt) / O(dt^2) close to the flow)
    assert abs(run_h.series("m4")[-1] - run_e.series("m4")[-1]) < 0.01


def test_bkw3_exact_score_diagnostics(bkw_euler):
    run, _ = bkw_euler
    # the exact score: zero score error, zero weighted loss, every step logged (including the final time)
    assert run.diagnostics["fisher_error"] == [0.0] * len(run.times)
    assert run.step_weighted_loss == [0.0] * (run.steps + 1)
    assert run.step_score_loss == [None] * (run.steps + 1)
    assert run.step_t[0] == 6.0 and run.step_t[-1] == 6.5 and len(run.step_t) == run.steps + 1
    assert set(run.reference) == {"mean", "cov", "energy", "m4"}
    wall = run.series("wall")
    assert np.all(np.diff(wall) >= 0)


def test_single_steps_match_simulate():
    p = get_problem("bkw3")
    x = p.sample(300, generator=torch.Generator().manual_seed(1), dtype=F64, device="cpu")
    s = p.score(x, 6.0)
    x1, U = euler_step(x, s, 0.01, gamma=0.0, C=p.C)
    run = simulate(p, "exact", n=300, dt=0.01, t_end=6.01, x0=x, progress=False, snapshot_times=(6.01,))
    assert torch.allclose(run.snapshots[6.01], x1, rtol=0, atol=1e-15)
    from landau_lite.scores import make_score
    sc = make_score("exact", problem=p)
    sc.initialize(x, 6.0, p)
    xh, Uh = heun_step(x, sc, 6.0, 0.01, gamma=0.0, C=p.C)
    run_h = simulate(p, "exact", n=300, dt=0.01, t_end=6.01, x0=x, progress=False, method="heun")
    assert torch.allclose(run_h.x_final, xh, rtol=0, atol=1e-15)
    # Heun's energy change is dt^2/4 |U1 - U2|^2 >= 0 and tiny
    dE = float((xh * xh).sum(1).mean() - (x * x).sum(1).mean())
    assert 0 <= dE < 1e-3 * 0.01**2 * float((U * U).sum(1).mean())


# ---------------------------------------------------------------------------------------------
# Maxwell molecules, anisotropic Gaussian: covariance ODE (math.md §3.3)
# ---------------------------------------------------------------------------------------------

def test_aniso_maxwell_covariance_follows_exact_ode():
    # SBTM (blob smoothing biases the relaxation of the narrow direction by ~3 standard errors at these N)
    n = 500
    kw = dict(width=32, depth=2, loss="ism", init_steps=300, init_lr=1e-2, compile=False)
    run = simulate("aniso_maxwell", "sbtm", n=n, dt=0.1, t_end=2.0, progress=False, seed=0, score_kwargs=kw,
                   record_every=0.5)
    assert run.status == "completed"
    assert run.times == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])
    cov, ref = run.series("cov"), run.series("cov", reference=True)
    # exact ODE: Sigma(t) = I + (Sigma0 - I) exp(-4 d C t), rate 1/2 for d = 3, C = 1/24
    sig0 = np.diag([1.8, 0.2, 1.0])
    for t, r in zip(run.times, ref):
        assert np.allclose(r, np.eye(3) + (sig0 - np.eye(3)) * math.exp(-0.5 * t), atol=1e-12)
    x = run.x_final.double()
    xc = x - x.mean(0)
    se = np.array([[float((xc[:, a] * xc[:, b]).std()) / math.sqrt(n) for b in range(3)] for a in range(3)])
    assert np.all(np.abs(cov[-1] - ref[-1]) < 4 * se), (cov[-1] - ref[-1]) / se
    assert abs(ref[-1][1, 1] - ref[0][1, 1]) > 5 * se[1, 1]     # the relaxation is resolved by the test
    # the neural score logged its training loss; no exact score for this problem
    assert all(v is not None for v in run.diagnostics["score_loss"])
    assert run.diagnostics["fisher_error"] == [None] * len(run.times)
    assert all(v is None for v in run.step_weighted_loss)


# ---------------------------------------------------------------------------------------------
# non-finite values, interrupts, callbacks
# ---------------------------------------------------------------------------------------------

class _BadScore(ScoreMethod):
    """The exact BKW score, except that call number ``bad_call`` (0-based) returns ``value``."""

    name = "bad"

    def __init__(self, bad_call, value):
        super().__init__()
        self.bad_call, self.value, self.calls = bad_call, value, 0
        self.problem = get_problem("bkw3")

    def initialize(self, x0, t0, problem=None):
        self.calls = 0

    def update(self, x, t):
        s = self.problem.score(x, t)
        if self.calls == self.bad_call:
            s = s.clone()
            s[5, 1] = self.value
        self.calls += 1
        return s

    def __call__(self, v):
        raise NotImplementedError


def test_nonfinite_score_raises_with_partial_run():
    with pytest.raises(NonFiniteError) as info:
        simulate("bkw3", _BadScore(3, float("nan")), n=200, dt=0.01, t_end=6.5, progress=False)
    err = info.value
    assert "non-finite score at step 3" in str(err) and "t=6.03" in str(err)
    assert err.step == 3 and err.quantity == "score" and err.t == pytest.approx(6.03)
    run = err.run
    assert isinstance(run, Run)
    assert run.steps == 3 and len(run.step_t) == 3 and len(run.times) == 3
    assert run.status.startswith("stopped: non-finite score at step 3")
    assert run.x_final is not None and bool(torch.isfinite(run.x_final).all())


def test_nonfinite_velocity_is_named():
    with pytest.raises(NonFiniteError, match=r"non-finite velocity at step 2") as info:
        simulate("bkw3", _BadScore(2, 1e308), n=200, dt=0.01, t_end=6.5, progress=False)
    assert info.value.run.steps == 2


def test_heun_corrector_nonfinite_score():
    # Heun calls the score twice per step: call 1 is the corrector of step 0
    with pytest.raises(NonFiniteError, match=r"score \(Heun corrector\) at step 0") as info:
        simulate("bkw3", _BadScore(1, float("inf")), n=200, dt=0.01, t_end=6.5, progress=False, method="heun")
    assert info.value.run.steps == 0


def test_keyboard_interrupt_returns_partial_run():
    def stop(k, t, x, s, U):
        if k == 2:
            raise KeyboardInterrupt

    run = simulate("bkw3", "exact", n=200, dt=0.01, t_end=6.5, progress=False, callback=stop)
    assert run.status.startswith("interrupted") and run.steps == 2
    assert run.x_final.shape == (200, 3)


def test_other_exceptions_carry_the_partial_run():
    class Boom(_BadScore):
        def update(self, x, t):
            if self.calls == 3:
                raise RuntimeError("training diverged")
            return super().update(x, t)

    with pytest.raises(RuntimeError, match="training diverged") as info:
        simulate("bkw3", Boom(-1, 0.0), n=100, dt=0.01, t_end=6.5, progress=False)
    run = info.value.run
    assert run.steps == 3 and run.status.startswith("failed: RuntimeError at step 3")


def test_callback_can_stop():
    run = simulate("bkw3", "exact", n=200, dt=0.01, t_end=6.5, progress=False, callback=lambda k, *a: k == 4)
    assert run.status.startswith("stopped by callback at step 4") and run.steps == 4


# ---------------------------------------------------------------------------------------------
# the weighted score-matching loss
# ---------------------------------------------------------------------------------------------

def _weighted_loss_direct(x, delta, gamma, C):
    z = x[:, None, :] - x[None, :, :]
    w = delta[:, None, :] - delta[None, :, :]
    r2 = (z * z).sum(-1)
    p = torch.where(r2 > 0, r2.clamp_min(1e-300) ** (0.5 * gamma), torch.zeros_like(r2))
    quad = p * (r2 * (w * w).sum(-1) - (z * w).sum(-1) ** 2)      # w.A(z)w = |z|^g (|z|^2|w|^2 - (z.w)^2)
    return float(C * quad.sum() / x.shape[0] ** 2)


@pytest.mark.parametrize("gamma,d", [(-3.0, 3), (0.0, 3), (-3.0, 2), (-1.0, 4)])
def test_weighted_loss_identity_against_direct_sum(gamma, d):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(60, d, generator=g, dtype=F64)
    delta = torch.randn(60, d, generator=g, dtype=F64) * 0.3 + 0.1 * x**2
    direct = _weighted_loss_direct(x, delta, gamma, 0.7)
    fast = weighted_score_loss(x, delta, gamma=gamma, C=0.7)
    assert direct > 0
    assert fast == pytest.approx(direct, rel=1e-11)
    # constant shifts of delta are invisible (only differences enter)
    assert weighted_score_loss(x, delta + 2.0, gamma=gamma, C=0.7) == pytest.approx(direct, rel=1e-10)


class _PerturbedScore(ScoreMethod):
    """Exact score plus a fixed smooth perturbation eps * sin(v)."""

    name = "perturbed"

    def __init__(self, problem, eps):
        super().__init__()
        self.problem, self.eps = problem, eps

    def initialize(self, x0, t0, problem=None):
        pass

    def update(self, x, t):
        self.last_loss = 0.5
        return self.problem.score(x, t) + self.eps * torch.sin(x)

    def __call__(self, v):
        raise NotImplementedError


def test_weighted_loss_logged_every_step():
    p = get_problem("maxwellian_coulomb")
    sc = _PerturbedScore(p, 0.2)
    run = simulate(p, sc, n=150, dt=0.05, t_end=0.2, progress=False, record_every=2, seed=4,
                   snapshot_times=(0.1,))
    assert run.step_t == pytest.approx([0.0, 0.05, 0.1, 0.15, 0.2])
    assert run.times == pytest.approx([0.0, 0.1, 0.2])
    L = run.series("step_weighted_loss")
    assert np.all(L > 0) and np.all(np.isfinite(L))
    x = run.snapshots[0.1].double()
    delta = sc.eps * torch.sin(x)
    assert L[2] == pytest.approx(_weighted_loss_direct(x, delta, -3.0, p.C), rel=1e-10)
    assert run.diagnostics["weighted_score_error"][1] == pytest.approx(L[2])
    assert run.step_score_loss == [0.5] * 5
    fe = run.series("fisher_error")
    assert np.all((fe > 0) & (fe < 1))
    # the book integrates the loss in time with the trapezoidal rule
    assert float(np.trapezoid(L, run.series("step_t"))) > 0


# ---------------------------------------------------------------------------------------------
# time grid, recording, snapshots, t0
# ---------------------------------------------------------------------------------------------

def test_record_every_steps_and_time_and_snapshot_split():
    common = dict(n=100, dt=0.01, t_end=6.5, progress=False)
    a = simulate("bkw3", "exact", record_every=10, **common)
    b = simulate("bkw3", "exact", record_every=0.1, **common)
    assert a.times == pytest.approx([6.0 + 0.1 * m for m in range(6)])
    assert b.times == pytest.approx(a.times)
    c = simulate("bkw3", "exact", record_every=10, snapshot_times=(6.255, 6.5, 6.0), **common)
    assert sorted(c.snapshots) == [6.0, 6.255, 6.5]
    assert 6.255 in c.step_t and c.steps == 51                 # the step across 6.255 is split in two
    assert c.times == pytest.approx(a.times)
    # a dt that does not divide the interval: the last step is shortened
    d = simulate("bkw3", "exact", n=100, dt=0.03, t_end=6.1, progress=False)
    assert d.step_t == pytest.approx([6.0, 6.03, 6.06, 6.09, 6.1]) and d.times[-1] == 6.1


def test_t0_override_and_x0():
    run = simulate("bkw3", "exact", n=100, dt=0.05, t0=7.0, t_end=7.1, progress=False)
    assert run.t0 == 7.0 and run.times[0] == 7.0
    assert run.reference["m4"][0] == pytest.approx(get_problem("bkw3").fourth_moment(7.0))
    x0 = torch.randn(100, 3, dtype=F64, generator=torch.Generator().manual_seed(0))
    r = simulate("maxwellian", "exact", n=100, dt=0.1, t_end=0.3, x0=x0, progress=False, snapshot_times=(0.0,))
    assert torch.equal(r.snapshots[0.0], x0)
    # the Maxwellian score s = -(v - u)/T gives U = 0 exactly (A(z) z = 0): the particles do not move
    assert torch.allclose(r.x_final, x0, rtol=0, atol=1e-14)
    assert r.diagnostics["mean"][0] == pytest.approx(x0.mean(0).tolist())


def test_float32_and_seed_reproducibility():
    a = simulate("bkw3", "exact", n=200, dt=0.02, t_end=6.1, progress=False, seed=7, dtype=torch.float32)
    b = simulate("bkw3", "exact", n=200, dt=0.02, t_end=6.1, progress=False, seed=7, dtype="float32")
    c = simulate("bkw3", "exact", n=200, dt=0.02, t_end=6.1, progress=False, seed=8, dtype="float32")
    assert a.x_final.dtype == torch.float32 and a.dtype == "float32"
    assert torch.equal(a.x_final, b.x_final) and not torch.equal(a.x_final, c.x_final)


# ---------------------------------------------------------------------------------------------
# save / load
# ---------------------------------------------------------------------------------------------

def test_save_load_round_trip(tmp_path):
    p = get_problem("maxwellian_coulomb")
    run = simulate(p, _PerturbedScore(p, 0.1), n=80, dt=0.05, t_end=0.1, progress=False, snapshot_times=(0.05,))
    run.save(tmp_path / "r.pt")
    run.save(tmp_path / "r.json")
    back = Run.load(tmp_path / "r.pt")
    for key in tuple(run.params()) + ("times", "diagnostics", "reference", "step_t", "step_weighted_loss",
                                     "step_score_loss", "steps", "wall_time", "status"):
        assert getattr(back, key) == getattr(run, key), key
    assert torch.equal(back.x_final, run.x_final)
    assert list(back.snapshots) == [0.05] and torch.equal(back.snapshots[0.05], run.snapshots[0.05])
    js = Run.load(tmp_path / "r.json")
    assert js.times == run.times and js.diagnostics == run.diagnostics and js.reference == run.reference
    assert js.step_weighted_loss == run.step_weighted_loss and js.status == run.status
    assert js.x_final is None and js.snapshots == {}
    data = json.loads((tmp_path / "r.json").read_text())
    for key in ("t", "mean", "cov", "energy", "m4", "entropy_rate", "reference", "status", "wall_time",
                "problem", "n", "dt", "step_t", "step_weighted_loss"):
        assert key in data
    assert np.allclose(js.series("cov"), run.series("cov"))
    assert "maxwellian_coulomb" in repr(run) and len(repr(run)) < 400
    with pytest.raises(ValueError, match="path"):
        run.save(tmp_path / "r.txt")
    with pytest.raises(KeyError):
        run.series("nope")


# ---------------------------------------------------------------------------------------------
# validation: every bad input raises before any compute
# ---------------------------------------------------------------------------------------------

x_ok = torch.zeros(10, 3, dtype=F64)
x_nan = x_ok.clone()
x_nan[0, 0] = float("nan")

BAD = [
    (dict(problem="nope"), ValueError, "problem must be one of"),
    (dict(score="nope"), ValueError, "score must be one of"),
    (dict(score=3), TypeError, "score must be"),
    (dict(method="rk4"), ValueError, "method"),
    (dict(n=1), ValueError, "n must"),
    (dict(n=2.5), TypeError, "n must"),
    (dict(dt=0.0), ValueError, "dt"),
    (dict(dt=-0.1), ValueError, "dt"),
    (dict(dt=float("nan")), ValueError, "dt"),
    (dict(dt=float("inf")), ValueError, "dt"),
    (dict(t_end=6.0), ValueError, r"t_end must be > t0 \(=6\)"),
    (dict(t_end=5.0), ValueError, r"t_end must be > t0"),
    (dict(t_end=float("nan")), ValueError, "t_end"),
    (dict(t0=5.0), ValueError, "t0"),                          # before the BKW critical time
    (dict(record_every=0), ValueError, "record_every"),
    (dict(record_every=-0.5), ValueError, "record_every"),
    (dict(record_every=True), TypeError, "record_every"),
    (dict(record_every="1"), TypeError, "record_every"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(dtype=torch.int64), ValueError, "dtype"),
    (dict(device="tpu"), ValueError, "device"),
    (dict(backend="fast"), ValueError, "backend"),
    (dict(problem="maxwellian_coulomb", backend="moments", t_end=1.0), ValueError, "moments"),
    (dict(problem="aniso_maxwell", t_end=1.0), ValueError, "score='exact'"),
    (dict(snapshot_times=(6.6,)), ValueError, r"snapshot_times\[0\]"),
    (dict(snapshot_times=(5.9,)), ValueError, r"snapshot_times\[0\]"),
    (dict(snapshot_times=6.1), TypeError, "snapshot_times"),
    (dict(x0=torch.zeros(9, 3, dtype=F64)), ValueError, r"x0 must have shape \(n, d\) = \(10, 3\)"),
    (dict(x0=torch.zeros(10, 2, dtype=F64)), ValueError, "x0 must have shape"),
    (dict(x0=torch.zeros(10, 3, dtype=torch.float32)), TypeError, "x0 must have dtype"),
    (dict(x0=x_nan), ValueError, "x0 must be finite"),
    (dict(x0=x_ok.numpy()), TypeError, "x0"),
    (dict(score_kwargs=[1]), TypeError, "score_kwargs"),
    (dict(score="blob", score_kwargs={"epsilon": -1.0}), ValueError, "epsilon"),
    (dict(callback=3), TypeError, "callback"),
    (dict(progress="yes"), TypeError, "progress"),
]


@pytest.mark.parametrize("bad,exc,match", BAD, ids=[str(sorted(b)) + str(i) for i, (b, _, _) in enumerate(BAD)])
def test_bad_arguments_raise_before_compute(monkeypatch, bad, exc, match):
    def no_compute(*a, **k):
        raise AssertionError("compute started")

    monkeypatch.setattr(solver.Simulation, "run", no_compute)
    kw = dict(problem="bkw3", score="exact", n=10, dt=0.01, t_end=6.1, progress=False)
    kw.update(bad)
    problem, score = kw.pop("problem"), kw.pop("score")
    with pytest.raises(exc, match=match):
        simulate(problem, score, **kw)


def test_unknown_problem_lists_names():
    with pytest.raises(ValueError) as info:
        simulate("bkw4", n=10, dt=0.1, t_end=1.0)
    for name in ("bkw2", "bkw3", "aniso_maxwell", "two_bump", "maxwellian_coulomb"):
        assert name in str(info.value)


def test_instance_score_with_kwargs_and_problem_t0_mismatch(monkeypatch):
    monkeypatch.setattr(solver.Simulation, "run", lambda *a, **k: pytest.fail("compute started"))
    p = get_problem("bkw3")
    with pytest.raises(ValueError, match="score_kwargs"):
        simulate(p, _BadScore(0, 0.0), n=10, dt=0.1, t_end=6.5, score_kwargs={"a": 1})
    with pytest.raises(ValueError, match="differs from problem.t0"):
        simulate(p, "exact", n=10, dt=0.1, t0=6.2, t_end=6.5)
    with pytest.raises(TypeError, match="problem must be"):
        simulate(3.0, n=10, dt=0.1, t_end=1.0)


def test_partial_reference_for_coulomb_problem():
    # two_bump (gamma = -3): mean and energy are exact for all t, covariance and E|v|^4 only at t0
    run = simulate("two_bump", "blob", n=100, dt=0.1, t_end=0.2, progress=False)
    assert run.reference["energy"] == pytest.approx([5.0, 5.0, 5.0])
    assert run.reference["m4"][0] == pytest.approx(45.0) and run.reference["m4"][1:] == [None, None]
    assert np.isnan(run.series("cov", reference=True)[1]).all()
    assert "m4(0.2)=" in run.summary() and "exact 5" in run.summary()
    assert run.diagnostics["fisher_error"] == [None] * 3
