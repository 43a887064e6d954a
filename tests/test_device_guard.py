"""Device and dtype leaks caught without a GPU.

With torch's default device set to ``meta`` while the data live on the CPU, any tensor that the package creates
without an explicit device lands on ``meta`` and the computation fails loudly ("Cannot copy out of meta tensor",
a device mismatch): on a GPU the same line would put a tensor on the CPU next to CUDA data, or pull data back to the
host every step. With the default dtype switched to the other float type, a tensor created without an explicit
dtype changes the result's dtype (a float32 run silently computed in float64, or the reverse).

Every public entry point of the library runs here under both guards: the velocity field (every backend), the
collision matrix and drift, the blob score and KDE, every score method's initialize/update/call, simulate with each
score method, the pair loss, and the certificate's estimators.
"""

from __future__ import annotations

import contextlib

import pytest
import torch

import landau_lite as ll
from landau_lite.analysis import certificate as cert
from landau_lite.diagnostics import kde_density, log_kde_density, pair_weighted_loss
from landau_lite.scores import BlobScore, ExactScore, NeuralScore, blob_score

TINY_SBTM = dict(width=8, depth=1, init_steps=5, steps_per_update=1)


@contextlib.contextmanager
def default_device(device: str):
    torch.set_default_device(device)
    try:
        yield
    finally:
        torch.set_default_device(None)


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype):
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def _data(dtype, n=48):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, generator=g, dtype=torch.float64)
    return x.to(dtype), (-x + 0.2 * torch.sin(2 * x)).to(dtype)


def _entry_points(dtype):
    """(name, function returning tensors whose dtype/device must be those of the data)."""
    x, s = _data(dtype)
    p = ll.get_problem("bkw3")
    q = x[:5] + 0.1
    calls = {
        "velocity chunked": lambda: ll.velocity(x, s, gamma=-3.0, backend="chunked"),
        "velocity compiled": lambda: ll.velocity(x, s, gamma=-3.0, backend="compiled"),
        "velocity moments": lambda: ll.velocity(x, s, gamma=0.0),
        "velocity_at": lambda: ll.velocity_at(q, s[:5], x, s, gamma=-1.0),
        "collision_matrix": lambda: ll.collision_matrix(q, x, gamma=-3.0),
        "collision_drift": lambda: ll.collision_drift(q, x, gamma=-3.0),
        "blob_score": lambda: blob_score(x, q, epsilon=0.3),
        "kde": lambda: kde_density(x, q, bandwidth="scott"),
        "log_kde": lambda: log_kde_density(x, q, bandwidth=0.5),
        "pair loss": lambda: torch.tensor(pair_weighted_loss(x, s, gamma=-3.0, C=1.0), dtype=dtype, device="cpu"),
    }

    def blob_method():
        sc = BlobScore()
        sc.initialize(x, 0.0)
        return sc.update(x, 0.1), sc(q)

    def exact_method():
        sc = ExactScore(p)
        sc.initialize(x, p.t0)
        return sc.update(x, p.t0 + 0.1), sc(q)

    def neural_method():
        sc = NeuralScore(3, **TINY_SBTM)
        sc.initialize(x, p.t0, p)
        return sc.update(x, p.t0 + 0.1), sc(q)

    def run_x(score, problem, t_end, **kw):
        run = ll.simulate(problem, score, n=32, dt=0.1, t_end=t_end, progress=False, device="cpu", dtype=dtype,
                          **kw)
        assert run.status == "completed"
        return run.x_final

    calls.update({
        "BlobScore": blob_method,
        "ExactScore": exact_method,
        "NeuralScore": neural_method,
        "simulate exact": lambda: run_x("exact", "bkw3", p.t0 + 0.2),
        "simulate blob (Coulomb)": lambda: run_x("blob", "bkw3_coulomb", 0.2),
        "simulate sbtm": lambda: run_x("sbtm", "bkw3", p.t0 + 0.2, score_kwargs=TINY_SBTM),
        "simulate heun": lambda: run_x("exact", "bkw3", p.t0 + 0.2, method="heun"),
        "kl_kde": lambda: torch.tensor(cert.kl_kde(p, p.t0, x.double(), n_mc=64,
                                                   generator=torch.Generator().manual_seed(1)), dtype=dtype,
                                      device="cpu"),
    })
    return calls


NAMES = list(_entry_points(torch.float64))


def _check(out, dtype):
    for t in out if isinstance(out, tuple) else (out,):
        assert t.device.type == "cpu", t.device
        assert t.dtype == dtype, t.dtype
        assert bool(torch.isfinite(t).all())


@pytest.mark.parametrize("name", NAMES)
def test_no_tensor_without_a_device(name):
    fn = _entry_points(torch.float64)[name]
    with default_device("meta"):
        out = fn()
    _check(out, torch.float64)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("data, default", [(torch.float32, torch.float64), (torch.float64, torch.float32)])
def test_no_tensor_without_a_dtype(name, data, default):
    fn = _entry_points(data)[name]
    with default_dtype(default):
        out = fn()
    _check(out, data)
