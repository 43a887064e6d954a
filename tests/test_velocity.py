"""The velocity field: every backend against the naive reference sum, conservation, Maxwellian equilibrium."""

import math

import pytest
import torch

from landau_lite.kernel import CollisionKernel, coulomb, maxwell
from landau_lite.reference import velocity_naive
from landau_lite.velocity import collision_drift, collision_matrix, velocity, velocity_at

F64 = torch.float64


def _data(n, d, seed=0, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=dtype)
    sig = torch.linspace(0.7, 1.5, d, dtype=dtype)
    s = -x / sig**2 + 0.3 * torch.sin(2 * x)      # a non-equilibrium score
    return x, s


@pytest.mark.parametrize("d", [2, 3, 5])
@pytest.mark.parametrize("gamma", [-3.0, -1.5, 0.0, 1.0])
@pytest.mark.parametrize("backend", ["chunked", "compiled", "moments"])
def test_backends_match_reference(d, gamma, backend):
    if backend == "moments" and gamma != 0.0:
        pytest.skip("moments is exact for gamma = 0 only")
    if backend == "compiled" and (d, gamma) not in {(3, -3.0), (2, -3.0), (3, 0.0), (3, -1.5)}:
        pytest.skip("compile time: a representative subset is compiled")
    x, s = _data(257, d, seed=d)
    ref = velocity_naive(x, s, gamma=gamma, C=0.7)
    U = velocity(x, s, gamma=gamma, C=0.7, backend=backend, chunk_size=50)
    assert U.dtype == x.dtype and U.shape == x.shape
    assert torch.allclose(U, ref, rtol=0, atol=1e-12 * float(ref.abs().max()))


@pytest.mark.parametrize("gamma", [-3.0, 0.0])
@pytest.mark.parametrize("backend", ["chunked", "compiled", "auto"])
def test_conservation_to_roundoff(gamma, backend):
    x, s = _data(1000, 3, seed=1)
    U = velocity(x, s, gamma=gamma, C=1.0, backend=backend)
    scale = float(U.abs().sum())
    eps = torch.finfo(F64).eps
    # momentum: sum_i U_i = 0 ; energy: sum_i x_i . U_i = 0 ; entropy production <= 0
    assert float(U.sum(0).abs().max()) < 1e3 * eps * scale
    assert abs(float((x * U).sum())) < 1e3 * eps * float((x * U).abs().sum())
    assert float((s * U).sum()) < 0


def test_float32_agrees_with_float64():
    x, s = _data(600, 3, seed=2)
    U64 = velocity(x, s, gamma=-3.0)
    U32 = velocity(x.float(), s.float(), gamma=-3.0)
    assert U32.dtype == torch.float32
    assert float((U32.double() - U64).abs().max() / U64.abs().max()) < 1e-5


def test_diagonal_term_is_exactly_zero():
    # two particles: U_1 = -(C/2) A(x1-x2)(s1-s2), no epsilon bias from the j = i term
    x = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]], dtype=F64)
    s = torch.tensor([[0.0, 1.0, 0.0], [0.0, -1.0, 0.0]], dtype=F64)
    U = velocity(x, s, gamma=-3.0, backend="chunked")
    expected = -0.5 * coulomb().apply(x[0:1] - x[1:2], s[0:1] - s[1:2])
    assert torch.equal(U[0:1], expected)
    assert torch.equal(U[0], -U[1])


def test_maxwellian_score_gives_zero_velocity_in_the_mean():
    # U[M] = 0 for a Maxwellian with its exact score: the particle field is a zero-mean Monte-Carlo error
    g = torch.Generator().manual_seed(3)
    T = 1.3
    n = 4000
    x = math.sqrt(T) * torch.randn(n, 3, generator=g, dtype=F64)
    U = velocity(x, -x / T, gamma=-3.0)
    speed = float(x.norm(dim=1).mean())
    # the velocity is O(1/sqrt(N)) noise: far smaller than the O(1) field of a non-equilibrium score
    x2, s2 = _data(n, 3, seed=3)
    U2 = velocity(x2, s2, gamma=-3.0)
    assert float(U.norm(dim=1).mean()) < 0.1 * float(U2.norm(dim=1).mean())
    assert float(U.norm(dim=1).mean()) < 3.0 * speed / math.sqrt(n) * 2


def test_velocity_at_particles_equals_velocity():
    x, s = _data(300, 3, seed=4)
    assert torch.allclose(velocity_at(x, s, x, s, gamma=-3.0), velocity(x, s, gamma=-3.0), atol=1e-13)
    assert torch.allclose(velocity_at(x[:7], s[:7], x, s, gamma=0.0, backend="moments"),
                          velocity(x, s, gamma=0.0)[:7], atol=1e-12)


@pytest.mark.parametrize("gamma", [-3.0, 0.0, -2.0])
def test_collision_matrix_and_drift_match_pair_sums(gamma):
    x, _ = _data(400, 3, seed=5)
    v = torch.randn(9, 3, generator=torch.Generator().manual_seed(9), dtype=F64)
    k = CollisionKernel(3, gamma, 0.5)
    a_ref = k.matrix(v[:, None, :] - x[None]).mean(1)
    b_ref = k.div(v[:, None, :] - x[None]).mean(1)
    assert torch.allclose(collision_matrix(v, x, gamma=gamma, C=0.5, chunk_size=4), a_ref, atol=1e-12)
    assert torch.allclose(collision_drift(v, x, gamma=gamma, C=0.5, chunk_size=4), b_ref, atol=1e-12)


def test_continuum_identity_U_equals_minus_a_s_plus_b_for_gaussian_score():
    # For the linear score s(v) = -v the pair sum equals -ā s(v) + b̄-type terms exactly:
    # U^s(v) = -ā(v) s(v) + (1/N) Σ_j C A(v - x_j) s_j ; check this algebraic identity at query points.
    x, s = _data(350, 3, seed=6)
    v, sv = x[:11] + 0.1, s[:11]
    a = collision_matrix(v, x, gamma=-3.0)
    k = coulomb()
    As = k.apply(v[:, None, :] - x[None], s[None].expand(11, -1, -1)).mean(1)
    assert torch.allclose(velocity_at(v, sv, x, s, gamma=-3.0), -(a @ sv[:, :, None])[:, :, 0] + As, atol=1e-12)


def test_kernel_properties():
    k = maxwell(d=4, C=2.0)
    z = torch.randn(5, 4, dtype=F64)
    A = k.matrix(z)
    assert torch.allclose(A, A.transpose(1, 2))
    assert torch.allclose((A @ z[:, :, None])[:, :, 0], torch.zeros_like(z), atol=1e-12)
    eig = torch.linalg.eigvalsh(A)
    assert float(eig.min()) > -1e-12
    assert torch.allclose(eig[:, -1], 2.0 * (z * z).sum(1), rtol=1e-12)
    assert k.regime == "Maxwell molecules" and coulomb().is_coulomb


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda x, s: velocity(x.numpy(), s, gamma=-3.0), TypeError, "x must be a torch.Tensor"),
        (lambda x, s: velocity(x[:1], s[:1], gamma=-3.0), ValueError, "N >= 2"),
        (lambda x, s: velocity(x, s[:, :2], gamma=-3.0), ValueError, "same shape"),
        (lambda x, s: velocity(x, s.float(), gamma=-3.0), TypeError, "same dtype"),
        (lambda x, s: velocity(x[:, :1], s[:, :1], gamma=-3.0), ValueError, "d >= 2"),
        (lambda x, s: velocity(x, s, gamma=-5.0), ValueError, "gamma must lie in"),
        (lambda x, s: velocity(x, s, gamma=1.5), ValueError, "gamma must lie in"),
        (lambda x, s: velocity(x, s, gamma=-3.0, C=0.0), ValueError, "C must lie in"),
        (lambda x, s: velocity(x, s, gamma=-3.0, backend="gpu"), ValueError, "backend must be one of"),
        (lambda x, s: velocity(x, s, gamma=-3.0, backend="moments"), ValueError, "gamma = 0"),
        (lambda x, s: velocity(x, s * float("nan"), gamma=-3.0), ValueError, "s must be finite"),
        (lambda x, s: velocity(x.to(torch.int64), s, gamma=-3.0), TypeError, "float32 or float64"),
        (lambda x, s: velocity(x, s, gamma=-3.0, chunk_size=0), ValueError, "chunk_size"),
        (lambda x, s: collision_matrix(x[:, :2], x, gamma=-3.0), ValueError, "v must have shape"),
        (lambda x, s: CollisionKernel(d=1, gamma=0.0), ValueError, "d must lie in"),
    ],
)
def test_bad_input_is_rejected(call, exc, match):
    x, s = _data(10, 3)
    with pytest.raises(exc, match=match):
        call(x, s)
