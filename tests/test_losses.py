"""Score-matching losses and the MLP: exact divergence, the ISM identity, unbiasedness of DSM/Hutchinson."""

import math

import pytest
import torch
from torch.func import jacrev, vmap

from landau_lite.losses import (antithetic_denoising_loss, antithetic_denoising_loss_from_noise, denoising_loss,
                                denoising_loss_from_noise, divergence, draw_noise, dsm_loss,
                                dsm_loss_from_noise, explicit_relative_loss, ism_loss_exact, ism_loss_hutchinson,
                                score_and_divergence)
from landau_lite.networks import ACTIVATIONS, MLP

F64 = torch.float64
torch.set_num_threads(1)


def _x(n, d=3, seed=0, dtype=F64):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _jac_trace(f, x):
    jac = vmap(jacrev(lambda y: f(y[None])[0]))(x)  # (N, d, d)
    return jac.diagonal(dim1=1, dim2=2).sum(-1)


# ------------------------------------------------------------------------------------------------ MLP
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_divergence_exact_vs_jacrev(activation, depth):
    net = MLP(3, width=17, depth=depth, activation=activation, seed=depth, dtype=F64)
    x = _x(40) * 2
    s, div = net.forward_and_divergence(x)
    assert torch.allclose(s, net(x), rtol=0, atol=1e-14)
    ref = _jac_trace(net, x)
    assert torch.allclose(div, ref, rtol=1e-12, atol=1e-12)
    assert torch.allclose(divergence(net, x), ref, rtol=1e-12, atol=1e-12)


def test_divergence_generic_callable_and_d5():
    net = MLP(5, width=9, depth=2, seed=3, dtype=F64)
    x = _x(25, d=5)
    f = lambda y: net(y) * 1.0  # noqa: E731  (plain callable: autograd path, d backward passes)
    assert torch.allclose(divergence(f, x), _jac_trace(net, x), rtol=1e-12, atol=1e-12)
    s, div = score_and_divergence(lambda y: -2.0 * y, x)
    assert torch.allclose(div, torch.full((25,), -10.0, dtype=F64))


def test_divergence_gradient_matches_autograd_double_backward():
    # the forward-tangent divergence must give the same parameter gradient as differentiating the jacobian trace
    net = MLP(3, width=12, depth=2, seed=1, dtype=F64)
    x = _x(30)
    g1 = torch.autograd.grad(ism_loss_exact(net, x), list(net.parameters()))
    g2 = torch.autograd.grad(ism_loss_exact(lambda y: net(y), x), list(net.parameters()))
    for a, b in zip(g1, g2):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)


def test_mlp_seed_dtype_device_and_init():
    a, b = MLP(3, 50, 2, seed=7, dtype=torch.float32), MLP(3, 50, 2, seed=7, dtype=torch.float32)
    c = MLP(3, 50, 2, seed=8, dtype=torch.float32)
    x = _x(10, dtype=torch.float32)
    assert torch.equal(a(x), b(x)) and not torch.equal(a(x), c(x))
    assert a(x).dtype == torch.float32 and a.dtype == torch.float32 and a.device.type == "cpu"
    big = MLP(3, 400, 1, seed=0, dtype=F64)
    w = big.layers[0].weight  # Glorot normal: std sqrt(2 / (fan_in + fan_out)), biases zero
    assert abs(float(w.detach().std()) / math.sqrt(2 / 403) - 1) < 0.1
    assert float(big.layers[0].bias.detach().abs().max()) == 0.0
    assert len(MLP(3, 8, 3).layers) == 4


@pytest.mark.parametrize("kw, exc, word", [
    ({"d": 1}, ValueError, "d"), ({"d": 3.0}, TypeError, "d"), ({"width": 0}, ValueError, "width"),
    ({"depth": 0}, ValueError, "depth"), ({"activation": "relu"}, ValueError, "activation"),
    ({"dtype": torch.int32}, TypeError, "dtype"),
])
def test_mlp_bad_arguments(kw, exc, word):
    args = {"d": 3, "width": 8, "depth": 1, **kw}
    with pytest.raises(exc, match=word):
        MLP(**args)


def test_softsign_double_backward_is_exact():
    # the custom softsign backward must support create_graph (used by the Hutchinson loss)
    net = MLP(3, width=10, depth=2, seed=2, dtype=F64)
    ref = MLP(3, width=10, depth=2, seed=2, dtype=F64)
    ref._act_fwd = lambda p: p / (1 + p.abs())  # composite autograd version
    x = _x(20)
    probes = draw_noise(x, torch.Generator().manual_seed(0), kind="rademacher")[None]
    from landau_lite.losses import hutchinson_loss_from_probes
    g1 = torch.autograd.grad(hutchinson_loss_from_probes(net, x, probes), list(net.parameters()))
    g2 = torch.autograd.grad(hutchinson_loss_from_probes(ref, x, probes), list(ref.parameters()))
    for a, b in zip(g1, g2):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------------------------- losses
def test_explicit_relative_loss():
    s_true = _x(50)
    assert float(explicit_relative_loss(s_true, s_true)) == 0.0
    assert math.isclose(float(explicit_relative_loss(0.9 * s_true, s_true)), 0.01, rel_tol=1e-12)
    with pytest.raises(ValueError, match="s_true"):
        explicit_relative_loss(s_true, torch.zeros_like(s_true))
    with pytest.raises(ValueError, match="s_true"):
        explicit_relative_loss(s_true, s_true[:10])
    with pytest.raises(TypeError, match="s_true"):
        explicit_relative_loss(s_true, s_true.float())


def _gaussian(n, seed=0):
    mu = torch.tensor([0.5, -1.0, 0.2], dtype=F64)
    L = torch.tensor([[1.2, 0.0, 0.0], [0.3, 0.7, 0.0], [-0.2, 0.1, 0.9]], dtype=F64)
    x = mu + _x(n, seed=seed) @ L.T
    prec = torch.linalg.inv(L @ L.T)
    return x, (lambda v: -(v - mu) @ prec), prec  # prec is symmetric


def test_ism_identity_exact_gaussian_score():
    # E[|s|^2 + 2 div s] = E|s - grad log f|^2 - E|grad log f|^2 = -tr(Sigma^{-1}) for s = grad log f
    x, score, prec = _gaussian(20000)
    per = (score(x) ** 2).sum(1) - 2.0 * torch.trace(prec)
    se = float(per.std()) / math.sqrt(len(x))
    loss = ism_loss_exact(score, x).item()
    assert abs(loss - (-float(torch.trace(prec)))) < 4 * se
    assert math.isclose(loss, float(per.mean()), rel_tol=1e-12)


def test_ism_identity_fisher_divergence_minus_constant():
    # for a network s (not the true score): ISM = Fisher divergence - E|grad log f|^2 up to MC error
    x, score, _ = _gaussian(20000, seed=1)
    net = MLP(3, width=16, depth=2, seed=5, dtype=F64)
    s, div = score_and_divergence(net, x)
    s, div = s.detach(), div.detach()
    st = score(x)
    lhs = (s * s).sum(1) + 2 * div
    rhs = ((s - st) ** 2).sum(1) - (st * st).sum(1)
    diff = lhs - rhs  # = 2 (div s + s . grad log f), mean zero by integration by parts
    se = float(diff.std()) / math.sqrt(len(x))
    assert abs(float(diff.mean())) < 4 * se
    assert math.isclose(ism_loss_exact(net, x).item(), float(lhs.mean()), rel_tol=1e-10)


def test_dsm_unbiased_within_mc_error():
    net = MLP(3, width=16, depth=2, seed=4, dtype=F64)
    x = _x(500, seed=2)
    exact = ism_loss_exact(net, x).item()
    g = torch.Generator().manual_seed(11)
    vals = torch.tensor([dsm_loss(net, x, alpha=1e-3, generator=g).item() for _ in range(200)], dtype=F64)
    se = float(vals.std()) / math.sqrt(len(vals))
    assert abs(float(vals.mean()) - exact) < 4 * se + 1e-4  # O(alpha^2) bias ~ 1e-6
    # affine score: the antithetic difference is exact for every alpha, per noise draw up to the zeta.A.zeta noise
    A = torch.tensor([[1.0, 0.2, 0.0], [0.0, 0.5, 0.1], [0.3, 0.0, 2.0]], dtype=F64)
    aff = lambda v: v @ A.T  # noqa: E731
    vals = torch.tensor([dsm_loss(aff, x, alpha=0.4, generator=g).item() for _ in range(200)], dtype=F64)
    se = float(vals.std()) / math.sqrt(len(vals))
    assert abs(float(vals.mean()) - ism_loss_exact(aff, x).item()) < 4 * se


def test_dsm_bias_is_second_order_in_alpha():
    net = MLP(3, width=16, depth=2, activation="tanh", seed=6, dtype=F64)  # smooth (softsign has a kink in s'')
    x = _x(300, seed=3)
    zeta = draw_noise(x.repeat(200, 1), torch.Generator().manual_seed(0))
    xr = x.repeat(200, 1)
    exact = ism_loss_exact(net, xr).item()
    # the same noise for every alpha: the MC noise of the alpha -> 0 limit cancels in the differences
    lim = dsm_loss_from_noise(net, xr, zeta, 1e-4).item()
    b1 = dsm_loss_from_noise(net, xr, zeta, 0.2).item() - lim
    b2 = dsm_loss_from_noise(net, xr, zeta, 0.1).item() - lim
    assert 3.0 < b1 / b2 < 5.0  # O(alpha^2)
    assert abs(lim - exact) < 0.2  # MC error of the finite-difference estimator itself


@pytest.mark.parametrize("sigma, antithetic", [(0.5, False), (0.2, True)])
def test_denoising_minimiser_is_the_noised_gaussian_score(sigma, antithetic):
    # f = N(0, T I): the minimiser of E L_sigma is grad log (f * N(0, sigma^2 I)) = -x / (T + sigma^2).
    # For s = -y/c: E L = d (T + sigma^2) / c^2 - 2 d / c. Same (x, zeta) for all three fields (common random
    # numbers). The gaps shrink like sigma^4 and the MC error like sigma^2 / sqrt(N): for sigma = 0.2 (gaps ~4e-3)
    # the noise is paired (zeta, -zeta), which cancels the zeta.x term of the loss (the loss itself is unchanged:
    # it is the mean over the 2N rows). Measured gap / se: 40-60 (sigma = 0.5), 9-10 (sigma = 0.2).
    T, d, n = 1.0, 3, 300_000
    g = torch.Generator().manual_seed(7)
    x = math.sqrt(T) * torch.randn(n, d, generator=g, dtype=F64)
    z = draw_noise(x, g)
    if antithetic:
        x, z = torch.cat([x, x]), torch.cat([z, -z])
    cs = {"opt": T + sigma ** 2, "T": T, "T+2s2": T + 2 * sigma ** 2}
    per, loss = {}, {}
    for k, c in cs.items():
        s = -(x + sigma * z) / c
        per[k] = (s * s).sum(1) + (2 / sigma) * (s * z).sum(1)
        loss[k] = denoising_loss_from_noise(lambda y, c=c: -y / c, x, z, sigma).item()
        assert math.isclose(loss[k], float(per[k].mean()), rel_tol=1e-10, abs_tol=1e-12)
    expect = {k: d * (T + sigma ** 2) / c ** 2 - 2 * d / c for k, c in cs.items()}
    for k in ("T", "T+2s2"):
        diff = per[k] - per["opt"]
        if antithetic:
            diff = 0.5 * (diff[:n] + diff[n:])  # independent pairs
        se = float(diff.std()) / math.sqrt(len(diff))
        gap = expect[k] - expect["opt"]
        assert loss[k] > loss["opt"]
        assert abs(loss[k] - loss["opt"] - gap) < 4 * se < gap, (k, loss[k] - loss["opt"], gap, se)


def test_denoising_is_unbiased_ism_at_the_noised_points_and_has_vincents_gradient():
    # Stein: E[zeta . s(x + sigma zeta)] = sigma E[div s(x + sigma zeta)], so L_sigma is an unbiased estimate of the
    # ISM loss at Y = X + sigma zeta (for any f and any sigma)
    net = MLP(3, width=16, depth=2, seed=4, dtype=F64)
    x = _x(20000, seed=5)
    z = draw_noise(x, torch.Generator().manual_seed(6))
    sigma = 0.3
    y = x + sigma * z
    s, div = score_and_divergence(net, y)
    s, div = s.detach(), div.detach()
    diff = (2 / sigma) * (s * z).sum(1) - 2 * div
    se = float(diff.std()) / math.sqrt(len(diff))
    assert abs(float(diff.mean())) < 4 * se
    val = denoising_loss_from_noise(net, x, z, sigma)
    assert math.isclose(val.item(), float(((s * s).sum(1) + (2 / sigma) * (s * z).sum(1)).mean()), rel_tol=1e-10)
    # the same parameter gradient as Vincent's (1/N) sum |s(Y) + zeta / sigma|^2 (they differ by a constant)
    vincent = ((net(y) + z / sigma) ** 2).sum(1).mean()
    assert math.isclose(vincent.item() - val.item(), float((z * z).sum(1).mean()) / sigma ** 2, rel_tol=1e-10)
    g1 = torch.autograd.grad(val, list(net.parameters()))
    g2 = torch.autograd.grad(vincent, list(net.parameters()))
    for a, b in zip(g1, g2):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-11)
    # seeded wrapper = the pure function on the same noise; dtype kept
    a = denoising_loss(net, x[:100], sigma=sigma, generator=torch.Generator().manual_seed(3))
    zz = draw_noise(x[:100], torch.Generator().manual_seed(3))
    assert a.item() == denoising_loss_from_noise(net, x[:100], zz, sigma).item() and a.dtype == F64


def test_antithetic_denoising_is_the_paired_single_pass_loss_with_less_variance():
    # L^pm(x, zeta) is exactly the single-pass loss on the 2N rows (x, zeta), (x, -zeta): the same expectation and
    # minimiser (a sign error on the cross term or a factor 2 on |s|^2 breaks the identity), and its gradient too
    net = MLP(3, width=16, depth=2, seed=4, dtype=F64)
    x = _x(2000, seed=5)
    sigma = 0.05
    z = draw_noise(x, torch.Generator().manual_seed(6))
    a = antithetic_denoising_loss_from_noise(net, x, z, sigma)
    b = denoising_loss_from_noise(net, torch.cat([x, x]), torch.cat([z, -z]), sigma)
    assert math.isclose(a.item(), b.item(), rel_tol=1e-12)
    for ga, gb in zip(torch.autograd.grad(a, list(net.parameters())), torch.autograd.grad(b, list(net.parameters()))):
        assert torch.allclose(ga, gb, rtol=1e-10, atol=1e-13)
    # the zero-mean O(1/sigma) term (2/sigma) zeta.s(x) cancels in the pair: over fresh noise the antithetic loss
    # scatters far less than the single-pass one (measured std ratio 0.048 at sigma = 0.05)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        anti = torch.tensor([antithetic_denoising_loss(net, x, sigma=sigma, generator=g).item() for _ in range(100)])
        single = torch.tensor([denoising_loss(net, x, sigma=sigma, generator=g).item() for _ in range(100)])
    assert float(anti.std()) < 0.1 * float(single.std())
    # ... around the same mean (both estimate the ISM loss of f * N(0, sigma^2 I))
    assert abs(float(anti.mean() - single.mean())) < 4 * float(single.std()) / 10
    # seeded wrapper = the pure function on the same noise
    w = antithetic_denoising_loss(net, x[:100], sigma=sigma, generator=torch.Generator().manual_seed(3))
    zz = draw_noise(x[:100], torch.Generator().manual_seed(3))
    assert w.item() == antithetic_denoising_loss_from_noise(net, x[:100], zz, sigma).item()
    for bad in (0.0, -0.1, float("inf")):
        with pytest.raises(ValueError, match="sigma"):
            antithetic_denoising_loss(net, x, sigma=bad)


def test_hutchinson_unbiased_within_mc_error():
    net = MLP(3, width=16, depth=2, seed=4, dtype=F64)
    x = _x(500, seed=2)
    exact = ism_loss_exact(net, x).item()
    g = torch.Generator().manual_seed(3)
    for probe in ("rademacher", "gaussian"):
        vals = torch.tensor([ism_loss_hutchinson(net, x, generator=g, probe=probe).item() for _ in range(100)],
                            dtype=F64)
        se = float(vals.std()) / math.sqrt(len(vals))
        assert abs(float(vals.mean()) - exact) < 4 * se
    many = ism_loss_hutchinson(net, x, generator=g, n_probes=64).item()
    assert abs(many - exact) < 0.05 * abs(exact) + 0.05


def test_losses_reproducible_and_differentiable():
    net = MLP(3, width=8, depth=1, seed=0, dtype=F64)
    x = _x(64)
    a = dsm_loss(net, x, generator=torch.Generator().manual_seed(5))
    b = dsm_loss(net, x, generator=torch.Generator().manual_seed(5))
    z = draw_noise(x, torch.Generator().manual_seed(5))
    assert a.item() == b.item() == dsm_loss_from_noise(net, x, z, 0.4).item()
    for loss in (a, ism_loss_exact(net, x), ism_loss_hutchinson(net, x, generator=torch.Generator().manual_seed(1))):
        grads = torch.autograd.grad(loss, list(net.parameters()))
        assert all(torch.isfinite(gr).all() for gr in grads) and any(float(gr.abs().sum()) > 0 for gr in grads)
    assert draw_noise(x.float(), None).dtype == torch.float32


def test_losses_bad_input():
    net = MLP(3, width=8, depth=1, dtype=F64)
    x = _x(10)
    with pytest.raises(ValueError, match="alpha"):
        dsm_loss(net, x, alpha=0.0)
    for bad in (0.0, -0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="sigma"):
            denoising_loss(net, x, sigma=bad)
    with pytest.raises(TypeError, match="sigma"):
        denoising_loss(net, x, sigma="small")
    with pytest.raises(TypeError, match="generator"):
        denoising_loss(net, x, generator=1)
    with pytest.raises(ValueError, match="x"):
        denoising_loss(net, x[:, 0])
    with pytest.raises(ValueError, match="n_probes"):
        ism_loss_hutchinson(net, x, n_probes=0)
    with pytest.raises(ValueError, match="probe"):
        ism_loss_hutchinson(net, x, probe="uniform")
    with pytest.raises(TypeError, match="generator"):
        dsm_loss(net, x, generator=5)
    with pytest.raises(TypeError, match="net"):
        ism_loss_exact("net", x)
    with pytest.raises(ValueError, match="x"):
        ism_loss_exact(net, x[:, 0])
    with pytest.raises(ValueError, match="x"):
        dsm_loss(net, torch.full((4, 3), float("nan"), dtype=F64))
    with pytest.raises(TypeError, match="x"):
        divergence(net, x.to(torch.int64))
