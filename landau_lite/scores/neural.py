r"""Score-based transport modelling (SBTM): a neural score trained by score matching at every step."""

from __future__ import annotations

import os
import types
import warnings
from typing import Any, Callable

import torch
from torch import Tensor

from .._checks import check_choice, check_dim, check_int, check_positive, check_real
from ..losses import denoising_loss_from_noise, dsm_loss_from_noise, draw_noise, hutchinson_loss_from_probes
from ..networks import ACTIVATIONS, MLP
from .base import ScoreMethod, _check_problem, _check_state

__all__ = ["NeuralScore", "COMPILE_MIN_N"]

#: ``compile="auto"`` compiles a loss on the CPU when the batch holds at least this many points (always on CUDA).
#: Measured (1 thread, f32, width 100, 25 steps): compiling speeds ISM-exact up by ~1.6x and DSM by ~1.1-1.2x, and
#: costs 5-40 s once per process and shape, so it pays only for long runs at these sizes. Denoising (3-D BKW,
#: benchmarks/bench_sbtm_step.py, AVX2): eager / compiled 119 / 92 ms per step at N = 1024, 300 / 272 ms at 4096,
#: 1407 / 1112 ms at 16384, for ~3.5-4 s of compilation: break-even after ~150 steps at N = 1024, ~60-120 at 4096.
COMPILE_MIN_N = {"ism": 1024, "dsm": 4096, "denoising": 4096, "explicit": 4096}


def _compile_disabled() -> bool:
    """``LANDAU_LITE_COMPILE=0`` turns every ``torch.compile`` path of the package off."""
    return os.environ.get("LANDAU_LITE_COMPILE", "1") == "0"


# ----------------------------------------------------------------------------------------------------
# neural (SBTM)
# ----------------------------------------------------------------------------------------------------
def _relative_l2(s: Tensor, s_true: Tensor) -> Tensor:
    return ((s - s_true) ** 2).sum() / (s_true * s_true).sum()


class NeuralScore(ScoreMethod):
    r"""Score-based transport modelling (SBTM): a neural score :math:`s_\theta\approx\nabla\log f_t`.

    1. :meth:`initialize`: fit the :class:`~landau_lite.networks.MLP` to the known initial score with the
       explicit relative loss :math:`\sum_i|s_\theta(X_i)-s_0(X_i)|^2/\sum_i|s_0(X_i)|^2` (Adam, ``init_lr``)
       until it drops below ``init_tol`` or after ``init_steps`` steps.
    2. :meth:`update`: ``steps_per_update`` Adam steps (``lr``, optimiser state kept between updates),
       warm-started from the previous network, on the chosen loss (see :mod:`landau_lite.losses`):

       * ``"dsm"`` — :math:`\frac1N\sum_i|s(X_i)|^2+\frac1\alpha(s(X_i+\alpha\zeta_i)-s(X_i-\alpha\zeta_i))\cdot\zeta_i`
         with fresh :math:`\zeta\sim N(0,I)` each step, :math:`\alpha=` ``dsm_alpha`` (Ilin, Hu and Wang (2025): 25 steps, lr 4e-4, α=0.4);
       * ``"denoising"`` — single-pass denoising score matching (Vincent 2011),
         :math:`\frac1N\sum_i|s(Y_i)|^2+\frac2\sigma\zeta_i\cdot s(Y_i)`, :math:`Y_i=X_i+\sigma\zeta_i`,
         :math:`\sigma=` ``denoising_sigma``: one network pass on :math:`N` points (the DSM loss needs three on
         :math:`3N`), but its minimiser is :math:`\nabla\log(f*N(0,\sigma^2I))=\nabla\log f+O(\sigma^2)` (a bias);
       * ``"ism"`` — :math:`\frac1N\sum_i|s(X_i)|^2+2\nabla\cdot s(X_i)` with the exact (forward-tangent) divergence;
       * ``"hutchinson"`` — the same with a one-probe Rademacher divergence estimate;

       then return :math:`s_\theta(x)` (no grad).

    Parameters
    ----------
    d : int
        Dimension (``>= 2``).
    width, depth, activation :
        Network shape (see :class:`~landau_lite.networks.MLP`).
    loss : {"dsm", "denoising", "ism", "hutchinson"}
    steps_per_update : int
        Adam steps per :meth:`update` (``>= 0``).
    lr, init_lr : float
        Adam learning rates for the updates and the initial fit (``> 0``).
    init_steps : int
        Maximum number of initial-fit steps (``>= 0``).
    init_tol : float
        Stop the initial fit when the relative loss is below this (``> 0``).
    dsm_alpha : float
        Finite-difference step :math:`\alpha>0` of the DSM loss.
    denoising_sigma : float
        Noise level :math:`\sigma>0` of the denoising loss.
    batch_size : int or None
        Minibatch size drawn (without replacement) for every step; None = full batch.
    compile : bool or "auto"
        ``torch.compile`` the DSM/denoising/ISM/initial losses. ``"auto"``: compile on CUDA, and on the CPU when
        the batch holds at least ``COMPILE_MIN_N[loss]`` points (ISM 1024, DSM, denoising and the initial fit
        4096); the
        environment variable ``LANDAU_LITE_COMPILE=0`` turns it off. If compilation fails, warn once and fall
        back to eager. The Hutchinson loss (double backward) is always eager.
    seed : int
        Seeds the network initialisation and the noise/minibatch generator: runs are deterministic.
    dtype, device :
        Network dtype/device; default: those of ``x0`` at :meth:`initialize`.

    Example
    -------
    >>> class Gauss:
    ...     d = 2
    ...     def score(self, v, t): return -v
    >>> x = torch.randn(256, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> sc = NeuralScore(2, width=16, init_steps=300, init_tol=1e-3, steps_per_update=2)
    >>> sc.initialize(x, 0.0, Gauss())
    >>> sc.update(x, 0.01).shape
    torch.Size([256, 2])
    """

    name = "sbtm"
    LOSSES = ("dsm", "denoising", "ism", "hutchinson")
    _instances = 0  # counter for the names of compiled loss functions

    def __init__(self, d: int, *, width: int = 100, depth: int = 2, activation: str = "softsign",
                 loss: str = "dsm", steps_per_update: int = 25, lr: float = 4e-4, init_steps: int = 2000,
                 init_tol: float = 1e-4, init_lr: float = 1e-3, dsm_alpha: float = 0.4,
                 denoising_sigma: float = 0.1,
                 batch_size: int | None = None, compile: bool | str = "auto", seed: int = 0,
                 dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> None:
        super().__init__()
        self.d = check_dim(d, "d")
        self.width = check_int(width, "width", lo=1)
        self.depth = check_int(depth, "depth", lo=1)
        self.activation = check_choice(activation, "activation", ACTIVATIONS)
        self.loss = check_choice(loss, "loss", self.LOSSES)
        self.steps_per_update = check_int(steps_per_update, "steps_per_update", lo=0)
        self.lr = check_positive(lr, "lr")
        self.init_steps = check_int(init_steps, "init_steps", lo=0)
        self.init_tol = check_positive(init_tol, "init_tol")
        self.init_lr = check_positive(init_lr, "init_lr")
        self.dsm_alpha = check_positive(dsm_alpha, "dsm_alpha")
        self.denoising_sigma = check_positive(denoising_sigma, "denoising_sigma")
        self.batch_size = None if batch_size is None else check_int(batch_size, "batch_size", lo=1)
        if not isinstance(compile, bool):
            check_choice(compile, "compile", ("auto",))
        self.compile = compile
        self.seed = check_int(seed, "seed")
        if dtype is not None and dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32, torch.float64 or None, got {dtype!r}")
        self.dtype = dtype
        self.device = None if device is None else torch.device(device)
        self.net: MLP | None = None
        self.init_loss: float | None = None
        self.t: float | None = None
        self._opt: torch.optim.Optimizer | None = None
        self._gen: torch.Generator | None = None
        self._compiled: dict[str, Callable] = {}
        self._compile_failed = False

    # -- helpers ---------------------------------------------------------------------------------------
    def _use_compile(self, n: int, loss: str) -> bool:
        if self._compile_failed or loss == "hutchinson" or self.compile is False or _compile_disabled():
            return False
        if self.compile is True or (self.net is not None and self.net.device.type == "cuda"):
            return True
        return n >= COMPILE_MIN_N.get(loss, 4096)

    def _loss_fn(self, loss: str) -> Callable[..., Tensor]:
        """The loss as a pure function of tensors (noise/probes/targets are arguments, no RNG inside)."""
        net = self.net
        assert net is not None
        if loss == "dsm":
            alpha = self.dsm_alpha

            def dsm(x: Tensor, z: Tensor) -> Tensor:
                return dsm_loss_from_noise(net, x, z, alpha)
            return dsm
        if loss == "denoising":
            sigma = self.denoising_sigma

            def denoising(x: Tensor, z: Tensor) -> Tensor:
                return denoising_loss_from_noise(net, x, z, sigma)
            return denoising
        if loss == "ism":
            def ism(x: Tensor) -> Tensor:
                s, div = net.forward_and_divergence(x)
                return ((s * s).sum(dim=1) + 2.0 * div).mean()
            return ism
        if loss == "hutchinson":
            def hutchinson(x: Tensor, probes: Tensor) -> Tensor:
                return hutchinson_loss_from_probes(net, x, probes)
            return hutchinson

        def explicit(x: Tensor, s_true: Tensor) -> Tensor:
            return _relative_l2(net(x), s_true)
        return explicit

    def __getstate__(self) -> dict:
        # compiled functions close over *this* network and cannot be pickled: a copy compiles its own
        state = self.__dict__.copy()
        state["_compiled"] = {}
        return state

    def _compiled_loss(self, loss: str) -> Callable[..., Tensor]:
        fn = self._compiled.get(loss)
        if fn is None:
            # a fresh code object per instance and loss: dynamo's per-code recompile budget is never shared
            # between NeuralScore instances (each closes over its own network)
            base = self._loss_fn(loss)
            NeuralScore._instances += 1
            name = f"{loss}_loss_{NeuralScore._instances}"
            code = base.__code__.replace(co_name=name)
            fresh = types.FunctionType(code, base.__globals__, name, base.__defaults__, base.__closure__)
            fn = torch.compile(fresh, dynamic=False)
            self._compiled[loss] = fn
        return fn

    def _step(self, opt: torch.optim.Optimizer, loss: str, *args: Tensor) -> Tensor:
        """One optimiser step on ``loss``; returns the (detached) loss before the step."""
        if self._use_compile(args[0].shape[0], loss):
            try:
                opt.zero_grad(set_to_none=True)
                value = self._compiled_loss(loss)(*args)
                value.backward()
                opt.step()
                return value.detach()
            except Exception as exc:  # noqa: BLE001 - any compiler failure: fall back to eager, once
                self._compile_failed = True
                warnings.warn(f"NeuralScore: torch.compile failed ({type(exc).__name__}: {str(exc)[:200]}); "
                              "falling back to eager mode", RuntimeWarning, stacklevel=3)
        opt.zero_grad(set_to_none=True)
        value = self._loss_fn(loss)(*args)
        value.backward()
        opt.step()
        return value.detach()

    def _adam(self, lr: float) -> torch.optim.Optimizer:
        assert self.net is not None
        try:  # the fused kernel saves a few per-step launches; not every torch/device has it
            return torch.optim.Adam(self.net.parameters(), lr=lr, fused=True)
        except (RuntimeError, TypeError, ValueError):
            return torch.optim.Adam(self.net.parameters(), lr=lr)

    def _batch(self, n: int) -> Tensor | None:
        if self.batch_size is None or self.batch_size >= n:
            return None
        assert self._gen is not None
        return torch.randperm(n, generator=self._gen, device=self._gen.device)[: self.batch_size]

    # -- interface -------------------------------------------------------------------------------------
    def initialize(self, x0: Tensor, t0: float, problem: Any = None, *, s0: Tensor | None = None) -> None:
        r"""Build the network (seeded) and fit it to the initial score.

        The target is ``s0`` if given, else ``problem.score(x0, t0)``. Records ``init_loss`` (relative loss
        on all of ``x0`` after the fit) and a ``history`` entry with ``phase="init"``.
        """
        x0 = _check_state(x0, "x0", self.d)
        t0 = check_real(t0, "t0")
        if s0 is None:
            if problem is None:
                raise TypeError("NeuralScore.initialize needs problem (with .score(v, t)) or s0 for the initial fit")
            s0 = _check_problem(problem).score(x0, t0)
        s0 = _check_state(s0, "s0", self.d, x0.dtype, x0.device)
        if s0.shape != x0.shape:
            raise ValueError(f"s0 must have the shape of x0 {tuple(x0.shape)}, got {tuple(s0.shape)}")
        dtype = self.dtype or x0.dtype
        device = self.device or x0.device
        x0 = x0.detach().to(dtype=dtype, device=device)
        s0 = s0.detach().to(dtype=dtype, device=device)
        self.net = MLP(self.d, self.width, self.depth, self.activation, seed=self.seed, dtype=dtype, device=device)
        self._gen = torch.Generator(device=device).manual_seed(self.seed)
        self._compiled = {}
        self.history = []
        self.last_loss = None

        opt = self._adam(self.init_lr)
        n = x0.shape[0]
        steps = 0
        for _ in range(self.init_steps):
            idx = self._batch(n)
            xb, sb = (x0, s0) if idx is None else (x0[idx], s0[idx])
            value = self._step(opt, "explicit", xb, sb)
            steps += 1
            if float(value) < self.init_tol:
                break
        with torch.no_grad():
            self.init_loss = float(_relative_l2(self.net(x0), s0))
        self.history.append({"t": t0, "loss": self.init_loss, "steps": steps, "phase": "init"})
        self._opt = self._adam(self.lr)
        self.t = t0

    def update(self, x: Tensor, t: float) -> Tensor:
        r"""``steps_per_update`` warm-started Adam steps on the chosen loss at ``x``; return :math:`s_\theta(x)`."""
        if self.net is None or self._opt is None:
            raise RuntimeError("NeuralScore: call initialize() before update()")
        x = _check_state(x, "x", self.d, self.net.dtype, self.net.device)
        t = check_real(t, "t")
        x = x.detach()
        n = x.shape[0]
        value: Tensor | None = None
        for _ in range(self.steps_per_update):
            idx = self._batch(n)
            xb = x if idx is None else x[idx]
            if self.loss in ("dsm", "denoising"):
                value = self._step(self._opt, self.loss, xb, draw_noise(xb, self._gen))
            elif self.loss == "ism":
                value = self._step(self._opt, "ism", xb)
            else:
                probes = draw_noise(xb, self._gen, kind="rademacher").unsqueeze(0)
                value = self._step(self._opt, "hutchinson", xb, probes)
        self.last_loss = None if value is None else float(value)
        self.history.append({"t": t, "loss": self.last_loss, "steps": self.steps_per_update, "phase": "update"})
        self.t = t
        with torch.no_grad():
            return self.net(x)

    def __call__(self, v: Tensor) -> Tensor:
        """Evaluate the current network at ``v`` (M, d), without gradient."""
        if self.net is None:
            raise RuntimeError("NeuralScore: call initialize() before evaluating the score")
        v = _check_state(v, "v", self.d, self.net.dtype, self.net.device)
        with torch.no_grad():
            return self.net(v)

    def __repr__(self) -> str:
        return (f"NeuralScore(d={self.d}, width={self.width}, depth={self.depth}, activation={self.activation!r}, "
                f"loss={self.loss!r}, steps_per_update={self.steps_per_update})")
