"""The pieces of `simulate`: the lazy time grid, the device-side finite flag (no per-step host reads), the
integrator objects, pluggable recorders, validation of custom problems, and interrupts that keep the run
consistent (also during the score's initial fit)."""

import ast
import math
import pathlib
import sys

import pytest
import torch

import landau_lite.solver as solver
from landau_lite.integrators import Drift, Euler, FiniteGuard, Heun, heun_step, make_integrator
from landau_lite.problems import Maxwellian, get_problem
from landau_lite.recorders import Recorder, default_recorders
from landau_lite.run import DIAGNOSTIC_KEYS, NonFiniteError, Run
from landau_lite.scores import ExactScore, ScoreMethod, make_score
from landau_lite.solver import Simulation, TimeGrid, simulate

torch.set_num_threads(1)
F64 = torch.float64
PKG = pathlib.Path(solver.__file__).parent


# ---------------------------------------------------------------------------------------------
# the time grid
# ---------------------------------------------------------------------------------------------

def _eager_points(t0, t_end, dt, record_every, snapshot_times):
    """The list the previous solver built up front (kept here as the oracle of the lazy grid)."""
    n_base = max(1, math.ceil((t_end - t0) / dt - 1e-9))
    times = [t0 + k * dt for k in range(n_base)] + [t_end]
    if isinstance(record_every, int):
        rec = [k % record_every == 0 for k in range(n_base + 1)]
    else:
        bins = [math.floor((t - t0) / record_every + 1e-9) for t in times]
        rec = [True] + [bins[k] > bins[k - 1] for k in range(1, n_base + 1)]
    rec[-1] = True
    points = [[t, r, []] for t, r in zip(times, rec)]
    for tau in sorted(set(float(t) for t in snapshot_times)):
        k = min(range(len(points)), key=lambda i: abs(points[i][0] - tau))
        if abs(points[k][0] - tau) <= 1e-6 * dt:
            points[k][2].append(tau)
        else:
            points.insert(k + 1 if points[k][0] < tau else k, [tau, False, [tau]])
    return [(t, r, tuple(s)) for t, r, s in points]


GRIDS = [
    (6.0, 6.5, 0.01, 10, (6.255, 6.5, 6.0)),
    (0.0, 1.0, 0.3, 2, (0.5,)),
    (0.0, 1.0, 0.03, 0.1, ()),
    (0.0, 2.0, 0.1, 0.5, (0.05, 0.3, 1.0, 1.95, 2.0)),
    (1.0, 1.5, 0.1, 0.25, (1.0 + 3e-8,)),          # within 1e-6 dt of a grid point: taken there
    (0.0, 1.0, 0.7, 1, (0.35, 0.36, 0.99)),        # two insertions in one step, one in the shortened last step
    (-2.0, 5.0, 1.3, 3, (-1.0, 4.99)),
]


@pytest.mark.parametrize("args", GRIDS)
def test_lazy_grid_matches_the_eager_grid(args):
    # wrong answers caught: a record flag off by one step, a snapshot attached to the wrong point, a step
    # not split at an inserted snapshot, a different rounding of t0 + k dt (bitwise reproducibility)
    grid = TimeGrid(*args)
    points = list(grid)
    assert [(p.t, p.record, p.snapshots) for p in points] == _eager_points(*args)
    assert len(grid) == len(points) and grid.steps == len(points) - 1
    assert [p.index for p in points] == list(range(len(points)))
    assert [p.t_next for p in points] == [p.t for p in points[1:]] + [None]


def test_tiny_dt_does_not_build_the_grid():
    # dt = 1e-9 on [0, 1]: 10^9 steps; the previous solver built a list of 10^9 points (MemoryError)
    grid = TimeGrid(0.0, 1.0, 1e-9)
    assert grid.steps == 10**9
    run = simulate("maxwellian", "exact", n=10, dt=1e-9, t_end=1.0, progress=False, callback=lambda k, *a: k == 2)
    assert run.steps == 2 and run.step_t == pytest.approx([0.0, 1e-9, 2e-9], abs=1e-20)


# ---------------------------------------------------------------------------------------------
# the finite flag
# ---------------------------------------------------------------------------------------------

def test_finite_guard_keeps_the_first_failure_and_sanitises():
    g = FiniteGuard(torch.device("cpu"))
    g.at_step(0)
    ok = g.check(torch.ones(4), "score")
    assert bool(g.ok) and g.first_failure() is None and torch.equal(ok, torch.ones(4))
    g.at_step(5)
    y = g.check(torch.tensor([1.0, float("inf"), float("nan")]), "velocity")
    g.at_step(6)
    g.check(torch.tensor([float("nan")]), "particles")          # a later failure does not overwrite the first
    assert g.first_failure() == (5, "velocity") and not bool(g.ok)
    assert y.tolist() == [1.0, 0.0, 0.0]


class _Counting(ScoreMethod):
    """Exact score of ``problem``, counting ``update`` calls."""

    name = "counting"

    def __init__(self, problem):
        super().__init__()
        self.problem, self.calls = problem, 0

    def initialize(self, x0, t0, problem=None):
        self.calls = 0

    def update(self, x, t):
        self.calls += 1
        return self.problem.score(x, t)

    def __call__(self, v):
        raise NotImplementedError


_SYNC_METHODS = ("__bool__", "__float__", "__int__", "item", "tolist", "cpu")


def _host_reads(monkeypatch, fn):
    """Run ``fn`` counting tensor→host conversions made directly by the solver's own modules (and the neural
    score's: its loss stays on the device until a record reads it)."""
    mine = {str(PKG / f) for f in ("solver.py", "integrators.py", "recorders.py", "run.py", "scores/neural.py",
                                  "scores/base.py")}
    counts = {"n": 0}
    for name in _SYNC_METHODS:
        real = getattr(torch.Tensor, name)

        def wrapper(self, *a, _real=real, **k):
            if sys._getframe(1).f_code.co_filename in mine:
                counts["n"] += 1
            return _real(self, *a, **k)

        monkeypatch.setattr(torch.Tensor, name, wrapper)
    fn()
    monkeypatch.undo()
    return counts["n"]


@pytest.mark.parametrize("score", ["blob", "sbtm"])
def test_no_host_read_per_step(monkeypatch, score):
    # the previous loop read about seven isfinite flags per step (a device synchronisation each on a GPU), and a
    # neural score turned its loss into a float at every update; now the number of host reads depends on the
    # number of records, not on the number of steps
    p = get_problem("aniso_maxwell")            # no exact score: no per-step pair loss either
    kw = dict(width=8, steps_per_update=2, init_steps=5, init_polish=0, compile=False) if score == "sbtm" else None

    def go(t_end):
        return lambda: simulate(p, score, n=40, dt=0.01, t_end=t_end, progress=False, record_every=10**6,
                                method="heun", score_kwargs=kw)

    short, long = _host_reads(monkeypatch, go(0.08)), _host_reads(monkeypatch, go(0.64))
    assert short == long, (short, long)
    assert short > 0                            # the counter does see the record-time reads


def test_nonfinite_between_records_freezes_particles_and_truncates():
    class Bad(_Counting):
        def update(self, x, t):
            s = super().update(x, t)
            return s * float("nan") if self.calls == 4 else s          # call 4 = point 3

    p = get_problem("bkw3")
    with pytest.raises(NonFiniteError, match=r"non-finite score at step 3, t=6\.03") as info:
        simulate(p, Bad(p), n=100, dt=0.01, t_end=6.5, progress=False, record_every=10)
    run = info.value.run
    # nothing from the failed point or after it: 3 step entries, only the record at t0, 3 steps done
    assert run.steps == 3 and run.step_t == pytest.approx([6.0, 6.01, 6.02]) and run.times == [6.0]
    assert len(run.step_weighted_loss) == len(run.step_score_loss) == 3
    # the particles are those after step 2 -> 3, not moved by the sanitised values that followed
    clean = simulate(p, "exact", n=100, dt=0.01, t_end=6.5, progress=False, callback=lambda k, *a: k == 3)
    assert torch.equal(run.x_final, clean.x_final)


@pytest.mark.parametrize("method,bad_call,value,quantity,step", [
    ("heun", 1, 1e308, "velocity (Heun corrector)", 0),
    ("heun", 3, float("nan"), "score (Heun corrector)", 1),
    ("euler", 2, 1e308, "velocity", 2),
])
def test_nonfinite_quantity_and_step_are_named(method, bad_call, value, quantity, step):
    class Bad(_Counting):
        def update(self, x, t):
            s = super().update(x, t)
            if self.calls == bad_call + 1:
                s = s.clone()
                s[3, 0] = value
            return s

    p = get_problem("bkw3")
    with pytest.raises(NonFiniteError) as info:
        simulate(p, Bad(p), n=60, dt=0.01, t_end=6.5, progress=False, method=method, record_every=0.05)
    err = info.value
    assert (err.quantity, err.step) == (quantity, step) and err.run.steps == step
    assert bool(torch.isfinite(err.run.x_final).all())


# ---------------------------------------------------------------------------------------------
# integrators
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method,updates", [("euler", 1), ("heun", 2)])
def test_score_updates_per_step(method, updates):
    # Heun trains a neural score twice per step: exactly 2 updates per step plus 1 at the final time
    p = get_problem("maxwellian")
    sc = _Counting(p)
    run = simulate(p, sc, n=30, dt=0.1, t_end=0.5, progress=False, method=method)
    assert make_integrator(method).drift_evaluations == updates
    assert sc.calls == updates * run.steps + 1 and run.steps == 5


def test_integrator_objects_match_the_step_functions():
    p = get_problem("bkw3")
    x = p.sample(80, generator=torch.Generator().manual_seed(2), dtype=F64)
    sc = make_score("exact", problem=p)
    sc.initialize(x, p.t0, p)
    drift = Drift(sc, gamma=p.gamma, C=p.C)
    s, U = drift(x, p.t0)
    x_h, U_h = Heun().step(x, p.t0, 0.05, s, U, drift)
    ref_x, ref_U = heun_step(x, sc, p.t0, 0.05, gamma=p.gamma, C=p.C)
    assert torch.equal(x_h, ref_x) and torch.equal(U_h, ref_U)
    x_e, U_e = Euler().step(x, p.t0, 0.05, s, U, drift)
    assert torch.equal(x_e, x + 0.05 * U) and not torch.equal(x_e, x_h)     # Heun is not Euler


# ---------------------------------------------------------------------------------------------
# recorders
# ---------------------------------------------------------------------------------------------

class _MaxSpeed(Recorder):
    keys = ("max_speed",)

    def record(self, state):
        return {"max_speed": float(state.x.norm(dim=1).max())}


def test_custom_recorder_is_saved_and_loaded(tmp_path):
    run = simulate("bkw3", "exact", n=50, dt=0.05, t_end=6.2, progress=False,
                   recorders=default_recorders() + [_MaxSpeed()])
    assert list(run.diagnostics) == list(DIAGNOSTIC_KEYS) + ["max_speed"]
    assert len(run.diagnostics["max_speed"]) == len(run.times) == 5
    assert run.diagnostics["max_speed"][-1] == pytest.approx(float(run.x_final.norm(dim=1).max()))
    run.save(tmp_path / "r.json")
    assert Run.load(tmp_path / "r.json").diagnostics["max_speed"] == run.diagnostics["max_speed"]
    # only the moments: the other keys are absent, and no reference is recorded
    only = simulate("bkw3", "exact", n=50, dt=0.05, t_end=6.2, progress=False, recorders=[_MaxSpeed()])
    assert list(only.diagnostics) == ["max_speed"] and only.reference is None and "bkw3" in only.summary()


class _Reserved(Recorder):
    keys = ("t",)

    def record(self, state):
        return {"t": 0.0}


@pytest.mark.parametrize("recorders,exc,match", [
    ([_MaxSpeed(), _MaxSpeed()], ValueError, "repeat"),
    ([_Reserved()], ValueError, "reserved"),
    ([object()], TypeError, r"recorders\[0\]"),
    (_MaxSpeed(), TypeError, "list of Recorder"),
])
def test_bad_recorders_rejected_before_compute(monkeypatch, recorders, exc, match):
    monkeypatch.setattr(Simulation, "run", lambda *a: pytest.fail("compute started"))
    with pytest.raises(exc, match=match):
        simulate("bkw3", n=10, dt=0.1, t_end=6.5, recorders=recorders)


# ---------------------------------------------------------------------------------------------
# problems and scores: isinstance with the public classes, checked before and at the start
# ---------------------------------------------------------------------------------------------

class _WrongSample(Maxwellian):
    def __init__(self, fault):
        super().__init__(3, gamma=0.0, C=1 / 24)
        self.fault = fault

    def _sample(self, n, generator, device):     # a defective problem class (the public sample() checks it)
        x = super()._sample(n, generator, device)
        if self.fault == "d":
            return x[:, :2]
        if self.fault == "dtype":
            return x.float()
        x[0, 0] = float("nan")
        return x


@pytest.mark.parametrize("fault,exc,match", [("d", RuntimeError, "(20, 2)"), ("dtype", RuntimeError, "float32"),
                                             ("nan", ValueError, "1 NaN/inf")])
def test_problem_sample_is_checked(fault, exc, match):
    # before: a wrong d or dtype ran to 'completed' and the Run recorded the problem's d/dtype
    with pytest.raises(exc, match="_sample returned|the samples must be finite") as info:
        simulate(_WrongSample(fault), "exact", n=20, dt=0.1, t_end=0.2, progress=False)
    assert info.value.run.status.startswith(f"failed: {exc.__name__} before the first step")
    assert match in str(info.value)


def test_problem_attributes_and_types_checked_before_compute(monkeypatch):
    monkeypatch.setattr(Simulation, "run", lambda *a: pytest.fail("compute started"))
    p = Maxwellian(3)
    p.d = 1
    with pytest.raises(ValueError, match="problem.d"):
        simulate(p, "blob", n=10, dt=0.1, t_end=1.0)

    class Duck:                      # the attributes of a problem, but not a Problem
        name, d, gamma, C, t0, exact_in_time = "duck", 3, 0.0, 1.0, 0.0, True

        def sample(self, *a, **k): ...
        def score(self, *a, **k): ...

    with pytest.raises(TypeError, match="problem must be"):
        simulate(Duck(), "blob", n=10, dt=0.1, t_end=1.0)
    with pytest.raises(ValueError, match="score='exact'"):
        simulate("aniso_maxwell", ExactScore(get_problem("maxwellian")), n=10, dt=0.1, t_end=1.0)
    with pytest.raises(ValueError, match=r"score_kwargs: the network's dimension d = 2"):
        simulate("bkw3", "sbtm", n=10, dt=0.1, t_end=6.5, score_kwargs={"d": 2})
    with pytest.raises(ValueError, match="score_kwargs: .*dtype"):
        simulate("bkw3", "sbtm", n=10, dt=0.1, t_end=6.5, score_kwargs={"dtype": torch.float32})
    with pytest.raises(ValueError, match="score_kwargs: "):
        simulate("bkw3", "sbtm", n=10, dt=0.1, t_end=6.5, score_kwargs={"device": "nope"})
    with pytest.raises(ValueError, match="device must be 'auto', 'cpu', 'cuda'"):
        simulate("bkw3", n=10, dt=0.1, t_end=6.5, device="meta")
    with pytest.raises(ValueError, match="device must be"):
        simulate("bkw3", n=10, dt=0.1, t_end=6.5, device=torch.device("meta"))


# ---------------------------------------------------------------------------------------------
# interrupts keep a consistent run
# ---------------------------------------------------------------------------------------------

class _StopInFit(_Counting):
    def __init__(self, problem, exc):
        super().__init__(problem)
        self.exc = exc

    def initialize(self, x0, t0, problem=None):
        raise self.exc


def test_interrupt_during_initial_fit_returns_the_run():
    # before: the KeyboardInterrupt escaped simulate with a traceback and nothing was returned
    p = get_problem("maxwellian")
    run = simulate(p, _StopInFit(p, KeyboardInterrupt()), n=20, dt=0.1, t_end=1.0, progress=False)
    assert run.status == "interrupted during the score's initial fit"
    assert run.x_final.shape == (20, 3) and run.times == [] and run.steps == 0
    with pytest.raises(RuntimeError, match="fit diverged") as info:
        simulate(p, _StopInFit(p, RuntimeError("fit diverged")), n=20, dt=0.1, t_end=1.0, progress=False)
    assert info.value.run.status == "failed: RuntimeError during the score's initial fit"


class _InterruptingReference(Maxwellian):
    """Ctrl-C while the 4th record asks for the reference moments."""

    def __init__(self):
        super().__init__(3, gamma=0.0, C=1 / 24)
        self.calls = 0

    def _moments(self, t):
        self.calls += 1
        if self.calls == 4:
            raise KeyboardInterrupt
        return super()._moments(t)


def test_interrupt_while_recording_keeps_lists_consistent():
    # before: 4 entries in `times` and 3 in each reference list
    run = simulate(_InterruptingReference(), "exact", n=20, dt=0.1, t_end=1.0, progress=False)
    assert run.status == "interrupted at step 3, t=0.3"
    assert len(run.times) == 3
    assert all(len(v) == 3 for v in run.diagnostics.values())
    assert all(len(v) == 3 for v in run.reference.values())
    assert len(run.step_t) == len(run.step_weighted_loss) == len(run.step_score_loss) == 4
    Run.from_dict(run.to_json_dict())                # the saved layout is valid


def test_truncate_drops_a_partly_appended_record():
    run = simulate("two_bump", "blob", n=30, dt=0.1, t_end=0.2, progress=False)
    run.times.append(0.3)                            # an interrupt after the first append of a record ...
    run.diagnostics["mean"].append([0.0, 0.0])
    run.step_t.append(0.3)                           # ... and of a step entry
    run.truncate()
    assert run.times == pytest.approx([0.0, 0.1, 0.2]) and len(run.diagnostics["mean"]) == 3
    assert len(run.step_t) == 3
    assert run.reference["m4"] == [45.0, None, None]     # known only at t0 (gamma = -3)
    run.truncate(records=0, steps=0)
    assert run.reference is None and run.times == [] and run.step_t == []


# ---------------------------------------------------------------------------------------------
# no private imports across modules
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("module", ["cli.py", "solver.py", "integrators.py", "recorders.py", "run.py"])
def test_no_private_names_imported_across_modules(module):
    tree = ast.parse((PKG / module).read_text())
    private = [(node.module, a.name) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
               for a in node.names if a.name.startswith("_") and node.module != "__future__"]
    assert private == []
