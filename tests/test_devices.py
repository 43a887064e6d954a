"""Device-parametrised checks: each runs on the CPU and, where a CUDA GPU is present, on CUDA.

``scripts/device_check.sh`` runs exactly these (``pytest -m device``) on a GPU machine. Each compares the device's
result with a float64 CPU computation or with the naive oracle, so a kernel that is wrong only on one device (a
missing device argument, a Triton reduction that drops a block, a dtype promoted to float64 on the GPU) fails.
"""

from __future__ import annotations

import pytest
import torch

import landau_lite as ll
from landau_lite.analysis import certificate as cert
from landau_lite.diagnostics import kde_density, log_kde_density
from landau_lite.losses import denoising_loss, dsm_loss, ism_loss_exact
from landau_lite.networks import MLP
from landau_lite.reference import velocity_naive
from landau_lite.scores import NeuralScore, blob_score

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
pytestmark = pytest.mark.device
F64 = torch.float64


def _data(n=300, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=F64)
    return x, -x + 0.3 * torch.sin(2 * x)


@pytest.fixture(params=DEVICES)
def device(request):
    return torch.device(request.param)


@pytest.mark.parametrize("backend", ["chunked", "compiled"])
@pytest.mark.parametrize("gamma", [-3.0, -1.0])
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 2e-5), (F64, 1e-12)])
def test_velocity_matches_the_oracle(device, backend, gamma, dtype, tol):
    x, s = _data()
    ref = velocity_naive(x, s, gamma=gamma)
    U = ll.velocity(x.to(device, dtype), s.to(device, dtype), gamma=gamma, backend=backend)
    assert U.device.type == device.type and U.dtype == dtype
    assert float((U.cpu().double() - ref).abs().max()) <= tol * float(ref.abs().max())


def test_moments_backend(device):
    x, s = _data()
    ref = velocity_naive(x, s, gamma=0.0)
    U = ll.velocity(x.to(device), s.to(device), gamma=0.0)
    assert float((U.cpu() - ref).abs().max()) <= 1e-12 * float(ref.abs().max())


@pytest.mark.parametrize("backend", ["chunked", "compiled"])
def test_blob_and_kde_match_cpu_float64(device, backend):
    x, _ = _data(400)
    q = x[:7] + 0.05
    ref = blob_score(x, q, epsilon=0.3, backend="chunked")
    out = blob_score(x.to(device), q.to(device), epsilon=0.3, backend=backend)
    assert torch.allclose(out.cpu(), ref, atol=1e-10, rtol=0)
    ref = log_kde_density(x, q, bandwidth="scott")
    out = log_kde_density(x.to(device), q.to(device), bandwidth="scott", backend=backend)
    assert torch.allclose(out.cpu(), ref, atol=1e-10, rtol=0)
    assert kde_density(x.to(device), q.to(device), bandwidth=0.5).device.type == device.type


def test_losses_and_network(device):
    x, _ = _data(64)
    net = MLP(3, 16, 2, seed=0, dtype=F64, device=device)
    xd = x.to(device)
    gen = torch.Generator(device=device).manual_seed(0)
    for value in (dsm_loss(net, xd, generator=gen), denoising_loss(net, xd, generator=gen), ism_loss_exact(net, xd)):
        assert value.device.type == device.type and bool(torch.isfinite(value))
    cpu = MLP(3, 16, 2, seed=0, dtype=F64)
    assert torch.allclose(ism_loss_exact(net, xd).cpu(), ism_loss_exact(cpu, x), atol=1e-12)


def test_neural_score_trains_on_the_device(device):
    p = ll.get_problem("bkw3")
    x = p.sample(200, generator=torch.Generator().manual_seed(0), device=device)
    sc = NeuralScore(3, width=16, depth=1, init_steps=50, steps_per_update=2)
    sc.initialize(x, p.t0, p)
    s = sc.update(x, p.t0 + 0.01)
    assert s.device.type == device.type and bool(torch.isfinite(s).all())


@pytest.mark.parametrize("score", ["exact", "blob", "sbtm"])
def test_simulate_on_the_device(device, score):
    kw = {"score_kwargs": dict(width=16, depth=1, init_steps=20, steps_per_update=1)} if score == "sbtm" else {}
    run = ll.simulate("bkw3", score, n=128, dt=0.05, t_end=6.2, progress=False, device=device, **kw)
    assert run.status == "completed" and run.x_final.device.type == "cpu"
    if score == "exact" and device.type != "cpu":
        cpu = ll.simulate("bkw3", "exact", n=128, dt=0.05, t_end=6.2, progress=False, device="cpu")
        assert abs(run.diagnostics["m4"][-1] - cpu.diagnostics["m4"][-1]) < 1e-9


def test_certificate_estimators(device):
    p = ll.get_problem("bkw3")
    x = cert.sample_at(p, p.t0, 400, generator=torch.Generator().manual_seed(2)).to(device)
    kl, se = cert.kl_kde(p, p.t0, x, n_mc=400, generator=torch.Generator().manual_seed(3))
    assert 0.0 < kl < 0.1 and se > 0
