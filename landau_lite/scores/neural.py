r"""Score-based transport modelling (SBTM): a neural score trained by score matching at every step."""

from __future__ import annotations

import math
import types
import warnings
from typing import Any, Callable

import torch
from torch import Tensor

from .._checks import check_choice, check_dim, check_int, check_positive, check_real
from ..device import check_device
from ..distributed import all_reduce_sum, gather_rows, is_distributed, rank
from ..losses import (antithetic_denoising_loss_from_noise, denoising_loss_from_noise, dsm_loss_from_noise, draw_noise,
                      hutchinson_loss_from_probes)
from ..networks import ACTIVATIONS, MLP
from ..pairs import compile_enabled
from .base import ScoreMethod, _check_problem, _check_state

__all__ = ["NeuralScore", "COMPILE_MIN_N", "SEED_MAX"]

#: largest accepted ``seed`` (``torch.Generator.manual_seed`` takes a signed 64-bit integer)
SEED_MAX = 2**63 - 1

#: a fit phase has stalled when its best loss improved by less than this fraction over its patience window
_STALL_RTOL = 0.01
#: L-BFGS iterations per round of the initial-fit polish (progress is checked between rounds)
_LBFGS_ROUND = 20

#: ``compile="auto"`` compiles a loss on the CPU when the batch holds at least this many points (always on CUDA).
#: Measured (1 thread, f32, width 100, 25 steps): compiling speeds ISM-exact up by ~1.6x and DSM by ~1.1-1.2x, and
#: costs 5-40 s once per process and shape, so it pays only for long runs at these sizes. Denoising (3-D BKW,
#: benchmarks/bench_sbtm_step.py, AVX2): eager / compiled 119 / 92 ms per step at N = 1024, 300 / 272 ms at 4096,
#: 1407 / 1112 ms at 16384, for ~3.5-4 s of compilation: break-even after ~150 steps at N = 1024, ~60-120 at 4096.
COMPILE_MIN_N = {"ism": 1024, "dsm": 4096, "denoising": 4096, "antithetic": 4096, "explicit": 4096}


# ----------------------------------------------------------------------------------------------------
# neural (SBTM)
# ----------------------------------------------------------------------------------------------------
def _relative_l2(s: Tensor, s_true: Tensor) -> Tensor:
    return ((s - s_true) ** 2).sum() / (s_true * s_true).sum()


class NeuralScore(ScoreMethod):
    r"""Score-based transport modelling (SBTM): a neural score :math:`s_\theta\approx\nabla\log f_t`.

    1. :meth:`initialize`: fit the :class:`~landau_lite.networks.MLP` to the known initial score with the
       explicit relative loss :math:`\sum_i|s_\theta(X_i)-s_0(X_i)|^2/\sum_i|s_0(X_i)|^2`: Adam (``init_lr``) for
       at most ``init_steps`` steps, ending early at ``init_tol`` or on a plateau (the best loss improved by less
       than 1 % over ``init_patience`` steps), then a full-batch L-BFGS polish (strong Wolfe line search) of at
       most ``init_polish`` iterations, checked every 20 iterations and ended at ``init_tol`` or when a round
       gains less than 1 %. The error reached is reported, not assumed: ``init_loss`` (relative error on all of
       ``x0``), ``init_converged`` (``init_loss < init_tol``) and the first ``history`` entry (``adam_steps``,
       ``lbfgs_iters``, ``stop`` in ``"tol"``, ``"plateau"``, ``"max_steps"``, or ``"non-finite"`` when an L-BFGS
       round diverged and the network of the round before was kept).
    2. :meth:`update`: ``steps_per_update`` Adam steps (``lr``, optimiser state kept between updates),
       warm-started from the previous network, on the chosen loss (see :mod:`landau_lite.losses`), with fresh
       :math:`\zeta_i\sim N(0,I)` at every step:

       * ``"antithetic"`` (default) — denoising score matching with antithetic pairs :math:`X_i\pm\sigma\zeta_i`,
         the loss :math:`L^\pm_\sigma` of :func:`~landau_lite.losses.antithetic_denoising_loss`,
         :math:`\sigma=` ``denoising_sigma``: one pass on :math:`2N` points; minimiser :math:`\nabla\log(f*N(0,\sigma^2I))` (Vincent 2011), with an
         :math:`O(1)` instead of :math:`O(\sigma^{-2})` variance
         (:func:`~landau_lite.losses.antithetic_denoising_loss`);
       * ``"denoising"`` — the single-pass form :math:`\frac1N\sum_i|s(Y_i)|^2+\frac2\sigma\zeta_i\cdot s(Y_i)`,
         :math:`Y_i=X_i+\sigma\zeta_i`: one pass on :math:`N` points, same minimiser, :math:`O(\sigma^{-2})` variance;
       * ``"dsm"`` — :math:`\frac1N\sum_i|s(X_i)|^2+\frac1\alpha(s(X_i+\alpha\zeta_i)-s(X_i-\alpha\zeta_i))\cdot\zeta_i`,
         :math:`\alpha=` ``dsm_alpha``: one pass on :math:`3N` points (Ilin, Hu and Wang (2025) use 25 steps, lr 4e-4, α = 0.4);
       * ``"ism"`` — :math:`\frac1N\sum_i|s(X_i)|^2+2\nabla\cdot s(X_i)` with the exact (forward-tangent) divergence;
       * ``"hutchinson"`` — the same with a one-probe Rademacher divergence estimate;

       then return :math:`s_\theta(x)` (no grad).

    **Defaults and their trade-off** (measured by ``benchmarks/bench_accuracy.py`` on 3-D BKW, :math:`C=1/24`,
    :math:`t_0=5.5`, ``n = 2000``, ``dt = 0.01``, 1000 Euler steps, float64, one thread; table in
    ``benchmarks/results/accuracy.md``). The error measure is the *paired* :math:`\Delta E|v|^4` at the end: the
    fourth moment minus that of the exact-score run from the same initial particles. The defaults —
    ``loss="antithetic"``, ``denoising_sigma=0.15``, ``steps_per_update=10``, ``lr=1e-3``, ``width=64``,
    ``depth=2`` — give a mean :math:`|\Delta E|v|^4|` below 0.15 over three seeds at well under 150 ms per step,
    where the previous defaults (the DSM setting of Ilin, Hu and Wang (2025) and their public code: α = 0.4,
    25 steps of lr 4e-4, width 100) gave +2.9 at 625 ms, and the same loss with α = 0.05 and 10 steps +0.13 at
    335 ms. What was measured along the way:

    * *the noise level sets the sign of the error*: the finite-sample minimiser of a denoising loss is the score
      of the particle cloud smoothed at scale :math:`\sigma` (a blob-like score), so a large σ slows the
      relaxation and biases :math:`E|v|^4` low (σ = 0.2: −0.10 to −0.26 at the end, more negative the longer
      one trains), while a small σ fits the particles' noise and drifts high (σ = 0.05: +0.30, Fisher error
      0.13 at the end); σ = 0.1 ends at +0.08 with a Fisher error of 0.06, σ = 0.15 in between;
    * *the antithetic pairs matter*: the single-pass loss with the same σ and steps lags (−0.5 at :math:`t=8.5`),
      its :math:`O(\sigma^{-2})` gradient noise kicks the network at every step;
    * *more training is not better*: on fixed particles, more Adam steps move the network towards the
      σ-smoothed empirical score and away from :math:`\nabla\log f` (relative error at :math:`t=6.1`: 0.059
      after 50 steps, 0.12 after 1000 at lr 3e-4); the warm start with few steps is a regulariser;
    * *width 64 instead of 100* costs little accuracy and halves the time per step.

    The relative Fisher error has a transient maximum of about 0.05–0.07 at :math:`t\approx5.6`–6.5 for every
    setting tried (the hole of the BKW density at :math:`v=0` fills within half a time unit, and 2000 particles
    hardly sample it); it then settles near 0.03 for the defaults. The initial fit is far from its
    ``init_tol = 1e-4`` on this problem (about 5e-3 at ``n = 2000`` in 4 s: the BKW score at the critical time
    is nearly singular at :math:`v=0`, and the relative error on fresh samples stays near 5e-3 however long one
    fits); it stops at its budgets and reports that error.

    Parameters
    ----------
    d : int
        Dimension (``>= 2``).
    width, depth, activation :
        Network shape (see :class:`~landau_lite.networks.MLP`).
    loss : {"antithetic", "denoising", "dsm", "ism", "hutchinson"}
    steps_per_update : int
        Adam steps per :meth:`update` (``>= 0``).
    lr, init_lr : float
        Adam learning rates for the updates and the initial fit (``> 0``).
    init_steps : int
        Maximum number of initial-fit Adam steps (``>= 0``).
    init_tol : float
        Target of the initial fit: stop when the relative loss is below this (``> 0``).
    init_patience : int
        Adam steps without a 1 % improvement of the best loss after which the Adam phase ends (``>= 1``).
    init_polish : int
        Maximum number of L-BFGS iterations after the Adam phase (``>= 0``; 0 = no polish).
    dsm_alpha : float
        Finite-difference step :math:`\alpha>0` of the DSM loss.
    denoising_sigma : float
        Noise level :math:`\sigma>0` of the antithetic and single-pass denoising losses.
    batch_size : int or None
        Minibatch size drawn (without replacement) for every Adam step; None = full batch. The L-BFGS polish
        always uses all of ``x0``.
    compile : bool or "auto"
        ``torch.compile`` the training losses (not the L-BFGS polish). ``"auto"``: compile on CUDA, and on the CPU
        when the batch holds at least ``COMPILE_MIN_N[loss]`` points (ISM 1024, the others 4096); the
        environment variable ``LANDAU_LITE_COMPILE=0`` turns it off. If compilation fails, warn once and fall
        back to eager. The Hutchinson loss (double backward) is always eager.
    seed : int
        Seeds the network initialisation and the noise/minibatch generator (``0 <= seed < 2**63``, what
        ``torch.Generator.manual_seed`` accepts): runs are deterministic.
    dtype, device :
        Network dtype (float32/float64) and device (``"cpu"``, or ``"cuda"``/``"cuda:K"`` when CUDA is
        available); default: those of ``x0`` at :meth:`initialize`. Both are checked at construction.

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
    LOSSES = ("dsm", "denoising", "antithetic", "ism", "hutchinson")
    _instances = 0  # counter for the names of compiled loss functions

    def __init__(self, d: int, *, width: int = 64, depth: int = 2, activation: str = "softsign",
                 loss: str = "antithetic", steps_per_update: int = 10, lr: float = 1e-3, init_steps: int = 300,
                 init_tol: float = 1e-4, init_lr: float = 3e-3, init_patience: int = 100, init_polish: int = 500,
                 dsm_alpha: float = 0.4, denoising_sigma: float = 0.15,
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
        self.init_patience = check_int(init_patience, "init_patience", lo=1)
        self.init_polish = check_int(init_polish, "init_polish", lo=0)
        self.dsm_alpha = check_positive(dsm_alpha, "dsm_alpha")
        self.denoising_sigma = check_positive(denoising_sigma, "denoising_sigma")
        self.batch_size = None if batch_size is None else check_int(batch_size, "batch_size", lo=1)
        if not isinstance(compile, bool):
            check_choice(compile, "compile", ("auto",))
        self.compile = compile
        self.seed = check_int(seed, "seed", lo=0, hi=SEED_MAX)
        if dtype is not None and dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32, torch.float64 or None, got {dtype!r}")
        self.dtype = dtype
        self.device = None if device is None else check_device(device, allow_auto=False)
        self.net: MLP | None = None
        self.init_loss: float | None = None
        self.init_converged: bool | None = None
        self.t: float | None = None
        self._opt: torch.optim.Optimizer | None = None
        self._gen: torch.Generator | None = None
        self._compiled: dict[str, Callable] = {}
        self._compile_failed = False
        self._grad_weight: Tensor | None = None   # n_local / N in a data-parallel update, else None

    # -- losses kept on the device until read ----------------------------------------------------------
    # update() stores the loss as a device tensor; it becomes a float when ``last_loss`` or ``history`` is read,
    # so that a run on a GPU does not wait for the device at every step.
    @property
    def last_loss(self) -> float | None:
        """Training loss of the last :meth:`update` (None before the first one)."""
        v = self._last_loss
        if isinstance(v, Tensor):
            v = self._last_loss = float(v)
        return v

    @last_loss.setter
    def last_loss(self, value: float | Tensor | None) -> None:
        self._last_loss = value

    def pending_loss(self) -> float | Tensor | None:
        """The last training loss as held: a 0-dim device tensor until :attr:`last_loss` has read it."""
        return self._last_loss

    @property
    def history(self) -> list[dict]:
        """Per-update log (see :class:`~landau_lite.scores.base.ScoreMethod`); losses as floats."""
        pending = [e for e in self._history if isinstance(e.get("loss"), Tensor)]
        if pending:
            values = torch.stack([e["loss"] for e in pending]).tolist()   # one read for all of them
            for e, v in zip(pending, values):
                e["loss"] = v
        return self._history

    @history.setter
    def history(self, value: list[dict]) -> None:
        self._history = value

    # -- helpers ---------------------------------------------------------------------------------------
    def _use_compile(self, n: int, loss: str) -> bool:
        if self._compile_failed or loss == "hutchinson" or self.compile is False:
            return False
        if not compile_enabled(None if self.net is None else self.net.device):
            return False
        if self.compile is True or (self.net is not None and self.net.device.type == "cuda"):
            return True
        return n >= COMPILE_MIN_N.get(loss, 4096)

    def _loss_fn(self, loss: str) -> Callable[..., Tensor]:
        """The loss as a pure function of tensors (noise/probes/targets are arguments, no RNG inside)."""
        net = self.net
        assert net is not None
        noise_losses = {"dsm": (dsm_loss_from_noise, self.dsm_alpha),
                        "denoising": (denoising_loss_from_noise, self.denoising_sigma),
                        "antithetic": (antithetic_denoising_loss_from_noise, self.denoising_sigma)}
        if loss in noise_losses:
            from_noise, scale = noise_losses[loss]

            def noise_loss(x: Tensor, z: Tensor) -> Tensor:
                return from_noise(net, x, z, scale)
            return noise_loss
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

    def _all_reduce_grads(self) -> None:
        r"""Data-parallel gradient: :math:`\nabla L=\sum_r\frac{n_r}{N}\nabla L_r` over the ranks of
        :attr:`process_group` (one all-reduce of all gradients flattened), so that every rank takes the same Adam
        step as one process training on all :math:`N` particles would (up to the noise draws)."""
        assert self.net is not None and self._grad_weight is not None
        grads = [p.grad for p in self.net.parameters() if p.grad is not None]
        flat = torch.cat([g.reshape(-1) for g in grads]) * self._grad_weight
        flat = all_reduce_sum(flat, self.process_group)
        offset = 0
        for g in grads:
            g.copy_(flat[offset: offset + g.numel()].view_as(g))
            offset += g.numel()

    def _step(self, opt: torch.optim.Optimizer, loss: str, *args: Tensor) -> Tensor:
        """One optimiser step on ``loss``; returns the (detached) loss before the step."""
        if self._use_compile(args[0].shape[0], loss):
            try:
                opt.zero_grad(set_to_none=True)
                value = self._compiled_loss(loss)(*args)
                value.backward()
                if self._grad_weight is not None:
                    self._all_reduce_grads()
                opt.step()
                return value.detach()
            except Exception as exc:  # noqa: BLE001 - any compiler failure: fall back to eager, once
                self._compile_failed = True
                warnings.warn(f"NeuralScore: torch.compile failed ({type(exc).__name__}: {str(exc)[:200]}); "
                              "falling back to eager mode", RuntimeWarning, stacklevel=3)
        opt.zero_grad(set_to_none=True)
        value = self._loss_fn(loss)(*args)
        value.backward()
        if self._grad_weight is not None:
            self._all_reduce_grads()
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

        The target is ``s0`` if given, else ``problem.score(x0, t0)``. Adam, then the L-BFGS polish (see the class
        docstring). Records ``init_loss`` (relative loss on all of ``x0`` after the fit), ``init_converged`` and a
        ``history`` entry with ``phase="init"``, ``adam_steps``, ``lbfgs_iters``, ``stop`` and ``converged``.
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
        group = self.process_group if is_distributed(self.process_group) else None
        if group is not None:            # every rank fits the same network to all ranks' particles
            x0, s0 = gather_rows(x0, group), gather_rows(s0, group)
        x0 = x0.detach().to(dtype=dtype, device=device)
        s0 = s0.detach().to(dtype=dtype, device=device)
        self.net = MLP(self.d, self.width, self.depth, self.activation, seed=self.seed, dtype=dtype, device=device)
        # the noise of the updates differs between ranks (their particles do too); rank 0 draws what one process would
        self._gen = torch.Generator(device=device).manual_seed((self.seed + 1_000_003 * rank(group)) % (SEED_MAX + 1))
        self._grad_weight = None
        self._compiled = {}
        self.history = []
        self.last_loss = None

        n = x0.shape[0]
        adam_steps, stop = self._fit_adam(x0, s0, n)
        lbfgs_iters = 0
        if stop != "tol" and self.init_polish > 0:
            lbfgs_iters, stop = self._fit_lbfgs(x0, s0)
        if group is not None:            # the same fit on the same data; rank 0's network is the one kept, bit for bit
            with torch.no_grad():
                for p in self.net.parameters():
                    torch.distributed.broadcast(p, src=torch.distributed.get_global_rank(group, 0), group=group)
        with torch.no_grad():
            self.init_loss = float(_relative_l2(self.net(x0), s0))
        self.init_converged = self.init_loss < self.init_tol
        self.history.append({"t": t0, "loss": self.init_loss, "steps": adam_steps + lbfgs_iters, "phase": "init",
                             "adam_steps": adam_steps, "lbfgs_iters": lbfgs_iters, "stop": stop,
                             "converged": self.init_converged})
        self._opt = self._adam(self.lr)
        self.t = t0

    def _fit_adam(self, x0: Tensor, s0: Tensor, n: int) -> tuple[int, str]:
        """Adam on the relative loss until ``init_tol``, a plateau (best loss improved by less than 1 % over
        ``init_patience`` steps) or ``init_steps`` steps. Returns (steps, reason)."""
        opt = self._adam(self.init_lr)
        best, since = math.inf, 0
        for step in range(1, self.init_steps + 1):
            idx = self._batch(n)
            xb, sb = (x0, s0) if idx is None else (x0[idx], s0[idx])
            value = float(self._step(opt, "explicit", xb, sb))
            if value < self.init_tol:
                return step, "tol"
            if value < best * (1.0 - _STALL_RTOL):
                best, since = value, 0
            else:
                since += 1
                if since >= self.init_patience:
                    return step, "plateau"
        return self.init_steps, "max_steps"

    def _fit_lbfgs(self, x0: Tensor, s0: Tensor) -> tuple[int, str]:
        """Full-batch L-BFGS (strong Wolfe line search) polish of the initial fit, in rounds of ``_LBFGS_ROUND``
        iterations, until ``init_tol``, a stalled round (less than 1 % progress) or ``init_polish`` iterations.
        Returns (iterations, reason)."""
        assert self.net is not None
        net = self.net
        opt = torch.optim.LBFGS(net.parameters(), lr=1.0, max_iter=_LBFGS_ROUND, history_size=20,
                                line_search_fn="strong_wolfe", tolerance_grad=0.0, tolerance_change=0.0)

        def closure() -> Tensor:
            opt.zero_grad(set_to_none=True)
            value = _relative_l2(net(x0), s0)
            value.backward()
            return value

        with torch.no_grad():
            best = float(_relative_l2(net(x0), s0))
        first = next(iter(net.parameters()))
        iters = 0
        while iters < self.init_polish:
            rnd = min(_LBFGS_ROUND, self.init_polish - iters)
            opt.param_groups[0].update(max_iter=rnd, max_eval=rnd * 5 // 4)
            saved = [p.detach().clone() for p in net.parameters()]
            opt.step(closure)
            done = opt.state[first].get("n_iter", 0)
            if done == iters:  # no step taken (zero gradient)
                return iters, "plateau"
            iters = done
            with torch.no_grad():
                value = float(_relative_l2(net(x0), s0))
                if not math.isfinite(value):  # a failed line search: keep the last finite network
                    for p, q in zip(net.parameters(), saved):
                        p.copy_(q)
                    return iters, "non-finite"
            if value < self.init_tol:
                return iters, "tol"
            if value > best * (1.0 - _STALL_RTOL):
                return iters, "plateau"
            best = value
        return iters, "max_steps"

    def update(self, x: Tensor, t: float) -> Tensor:
        r"""``steps_per_update`` warm-started Adam steps on the chosen loss at ``x``; return :math:`s_\theta(x)`."""
        if self.net is None or self._opt is None:
            raise RuntimeError("NeuralScore: call initialize() before update()")
        x = _check_state(x, "x", self.d, self.net.dtype, self.net.device, finite=self.check_inputs)
        t = check_real(t, "t")
        x = x.detach()
        n = x.shape[0]
        group = self.process_group if is_distributed(self.process_group) else None
        weight: Tensor | None = None
        if group is not None:            # this rank's share n_r / N of the global mean loss, kept on the device
            n_local = torch.tensor(float(n if self.batch_size is None else min(n, self.batch_size)),
                                   dtype=x.dtype, device=x.device)
            weight = n_local / all_reduce_sum(n_local, group)
        value: Tensor | None = None
        self._grad_weight = weight
        try:
            for _ in range(self.steps_per_update):
                idx = self._batch(n)
                xb = x if idx is None else x[idx]
                if self.loss in ("dsm", "denoising", "antithetic"):
                    value = self._step(self._opt, self.loss, xb, draw_noise(xb, self._gen))
                elif self.loss == "ism":
                    value = self._step(self._opt, "ism", xb)
                else:
                    probes = draw_noise(xb, self._gen, kind="rademacher").unsqueeze(0)
                    value = self._step(self._opt, "hutchinson", xb, probes)
        finally:
            self._grad_weight = None
        if value is not None and weight is not None:   # the global loss: the weighted sum over ranks
            value = all_reduce_sum(value * weight, group)
        self.last_loss = value                        # a device tensor; a float when read (see last_loss)
        self._history.append({"t": t, "loss": value, "steps": self.steps_per_update, "phase": "update"})
        self.t = t
        with torch.no_grad():
            return self.net(x)

    def __call__(self, v: Tensor) -> Tensor:
        """Evaluate the current network at ``v`` (M, d), without gradient."""
        if self.net is None:
            raise RuntimeError("NeuralScore: call initialize() before evaluating the score")
        v = _check_state(v, "v", self.d, self.net.dtype, self.net.device, finite=self.check_inputs)
        with torch.no_grad():
            return self.net(v)

    def __repr__(self) -> str:
        return (f"NeuralScore(d={self.d}, width={self.width}, depth={self.depth}, activation={self.activation!r}, "
                f"loss={self.loss!r}, steps_per_update={self.steps_per_update})")
