r"""Score-matching losses. All are per-sample means over the particles.

For particles :math:`X_i\sim g` and a score model :math:`s`:

* explicit, relative :math:`L^2` (initial training, where :math:`\nabla\log f_0` is known):
  :math:`\sum_i|s(X_i)-s^*(X_i)|^2/\sum_i|s^*(X_i)|^2`;
* implicit (Hyvärinen) score matching,
  :math:`L_{\rm ISM}(s)=\frac1N\sum_i\big(|s(X_i)|^2+2\nabla\cdot s(X_i)\big)`, whose expectation is
  :math:`\int g|s-\nabla\log g|^2-\int g|\nabla\log g|^2` (the relative Fisher divergence up to a constant);
  the divergence is exact (:func:`ism_loss_exact`) or a Hutchinson estimate (:func:`ism_loss_hutchinson`);
* denoising / antithetic finite-difference form (eq. (3.5) of Ilin, Hu and Wang (2025)),
  :math:`L_\alpha(s)=\frac1N\sum_i\big(|s(X_i)|^2+\frac1\alpha(s(X_i+\alpha\zeta_i)-s(X_i-\alpha\zeta_i))\cdot\zeta_i\big)`,
  :math:`\zeta_i\sim N(0,I)`, which is unbiased for :math:`L_{\rm ISM}` up to :math:`O(\alpha^2)` (exactly unbiased
  when :math:`s` is affine);
* classical single-pass denoising score matching (Vincent 2011), :func:`denoising_loss`,
  :math:`L_\sigma(s)=\frac1N\sum_i\big(|s(X_i+\sigma\zeta_i)|^2+\frac2\sigma\,\zeta_i\cdot s(X_i+\sigma\zeta_i)\big)`,
  one network pass on :math:`N` points, whose minimiser is the score of the noised density
  :math:`f*\varphi_\sigma` (a bias :math:`O(\sigma^2)`);
* the same with antithetic noise pairs :math:`\pm\zeta_i`, :func:`antithetic_denoising_loss`, one pass on
  :math:`2N` points: same expectation and minimiser, but an :math:`O(1)` instead of :math:`O(\sigma^{-2})` variance.

Gradients flow to the parameters of ``net``; the particles ``x`` are treated as data.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ._checks import check_choice, check_int, check_pair, check_particles, check_positive

__all__ = [
    "explicit_relative_loss",
    "divergence",
    "score_and_divergence",
    "ism_loss_exact",
    "ism_loss_hutchinson",
    "dsm_loss",
    "dsm_loss_from_noise",
    "denoising_loss",
    "denoising_loss_from_noise",
    "antithetic_denoising_loss",
    "antithetic_denoising_loss_from_noise",
    "hutchinson_loss_from_probes",
    "draw_noise",
]

ScoreNet = Callable[[Tensor], Tensor]


def _check_net(net: object) -> None:
    if not callable(net):
        raise TypeError(f"net must be a callable (M, d) -> (M, d), got {type(net).__name__}")


def _check_generator(generator: object) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")


def draw_noise(x: Tensor, generator: torch.Generator | None = None, *, kind: str = "gaussian") -> Tensor:
    r"""Draw noise shaped like ``x``: standard Gaussian, or Rademacher (:math:`\pm1` with probability 1/2).

    The noise is drawn on the generator's device (``x.device`` when ``generator`` is None) and moved
    to ``x``'s device, so a CPU generator works for CUDA particles too.

    >>> z = draw_noise(torch.zeros(4, 3), torch.Generator().manual_seed(0), kind="rademacher")
    >>> sorted(set(z.flatten().tolist()))
    [-1.0, 1.0]
    """
    check_choice(kind, "kind", ("gaussian", "rademacher"))
    _check_generator(generator)
    dev = x.device if generator is None else generator.device
    if kind == "gaussian":
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=dev)
    else:
        z = torch.randint(0, 2, x.shape, generator=generator, device=dev).to(x.dtype).mul_(2.0).sub_(1.0)
    return z.to(x.device)


def _with_gaussian_noise(loss_from_noise: Callable[[ScoreNet, Tensor, Tensor, float], Tensor], net: ScoreNet,
                         x: Tensor, scale: float, name: str, generator: torch.Generator | None) -> Tensor:
    """Validate the arguments of a noise-based loss, draw :math:`\zeta\sim N(0,I)` and evaluate the loss."""
    _check_net(net)
    check_particles(x, "x", min_n=1)
    scale = check_positive(scale, name)
    _check_generator(generator)
    return loss_from_noise(net, x, draw_noise(x, generator, kind="gaussian"), scale)


def explicit_relative_loss(s: Tensor, s_true: Tensor) -> Tensor:
    r"""Relative :math:`L^2` score error :math:`\sum_i|s_i-s^*_i|^2\big/\sum_i|s^*_i|^2` (a 0-d tensor).

    >>> s_true = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    >>> float(explicit_relative_loss(1.1 * s_true, s_true))  # doctest: +ELLIPSIS
    0.01000...
    """
    check_particles(s, "s", min_n=1)
    check_pair(s, s_true, "s", "s_true")
    denom = (s_true * s_true).sum()
    if not bool(denom > 0):
        raise ValueError("s_true must not be identically zero (the relative loss divides by sum |s_true|^2)")
    return ((s - s_true) ** 2).sum() / denom


def score_and_divergence(net: ScoreNet, x: Tensor) -> tuple[Tensor, Tensor]:
    r"""Return :math:`(s(x),\ \nabla\cdot s(x))`, shapes ``(N, d)`` and ``(N,)``, with the exact divergence.

    If ``net`` has a ``forward_and_divergence`` method (:class:`landau_lite.networks.MLP`), the explicit
    forward-tangent formula is used (first-order graph, ``torch.compile``-friendly). Otherwise the trace of
    the Jacobian is assembled from :math:`d` reverse passes with ``create_graph=True``,
    :math:`\nabla\cdot s=\sum_k\partial_{x_k}s_k`.
    """
    _check_net(net)
    check_particles(x, "x", min_n=1)
    fwd = getattr(net, "forward_and_divergence", None)
    if fwd is not None:
        return fwd(x)
    xg = x.detach().requires_grad_(True)
    with torch.enable_grad():
        s = net(xg)
        div = torch.zeros(x.shape[0], dtype=s.dtype, device=s.device)
        for k in range(x.shape[1]):
            g = torch.autograd.grad(s[:, k].sum(), xg, create_graph=True)[0]
            div = div + g[:, k]
    return s, div


def divergence(net: ScoreNet, x: Tensor) -> Tensor:
    r"""Exact divergence :math:`\nabla\cdot s(x)=\operatorname{tr}Ds(x)` at each row of ``x``; shape ``(N,)``.

    >>> from landau_lite.networks import MLP
    >>> net = MLP(3, width=8, depth=2, dtype=torch.float64)
    >>> divergence(net, torch.zeros(2, 3, dtype=torch.float64)).shape
    torch.Size([2])
    """
    return score_and_divergence(net, x)[1]


def ism_loss_exact(net: ScoreNet, x: Tensor) -> Tensor:
    r"""Implicit score matching with the exact divergence,
    :math:`\frac1N\sum_i\big(|s(X_i)|^2+2\,\nabla\cdot s(X_i)\big)`.

    Its expectation under :math:`X_i\sim g` is :math:`\int g|s-\nabla\log g|^2-\int g|\nabla\log g|^2`.

    >>> x = torch.randn(1000, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> round(ism_loss_exact(lambda y: -y, x).item())  # = mean|x|^2 - 2d, about -3 for N(0, I) data
    -3
    """
    s, div = score_and_divergence(net, x)
    return ((s * s).sum(dim=1) + 2.0 * div).mean()


def hutchinson_loss_from_probes(net: ScoreNet, x: Tensor, probes: Tensor) -> Tensor:
    r"""Hutchinson ISM loss for given probes ``(P, N, d)``:
    :math:`\frac1N\sum_i\big(|s(X_i)|^2+\frac2P\sum_p\epsilon_{p,i}^\top Ds(X_i)\,\epsilon_{p,i}\big)`.

    Each :math:`\epsilon^\top Ds\,\epsilon` is one vector-Jacobian product with ``create_graph=True``.
    """
    xg = x.detach().requires_grad_(True)
    with torch.enable_grad():
        s = net(xg)
        quad = torch.zeros(x.shape[0], dtype=s.dtype, device=s.device)
        for eps in probes:
            g = torch.autograd.grad((s * eps).sum(), xg, create_graph=True)[0]
            quad = quad + (g * eps).sum(dim=1)
    return ((s * s).sum(dim=1) + 2.0 * quad / probes.shape[0]).mean()


def ism_loss_hutchinson(net: ScoreNet, x: Tensor, *, generator: torch.Generator | None = None,
                        n_probes: int = 1, probe: str = "rademacher") -> Tensor:
    r"""Implicit score matching with a Hutchinson divergence estimate,
    :math:`\nabla\cdot s(x)\approx\frac1P\sum_{p=1}^P\epsilon_p^\top Ds(x)\,\epsilon_p` with
    :math:`\mathbb E[\epsilon\epsilon^\top]=I` (Rademacher by default, or Gaussian).

    Unbiased for :func:`ism_loss_exact` (expectation over the probes). Needs a double backward pass
    when differentiated, so it is not ``torch.compile``-friendly.

    >>> from landau_lite.networks import MLP
    >>> net = MLP(2, width=8, depth=1, dtype=torch.float64)
    >>> x = torch.randn(64, 2, dtype=torch.float64)
    >>> ism_loss_hutchinson(net, x, generator=torch.Generator().manual_seed(0)).ndim
    0
    """
    _check_net(net)
    check_particles(x, "x", min_n=1)
    n_probes = check_int(n_probes, "n_probes", lo=1)
    check_choice(probe, "probe", ("rademacher", "gaussian"))
    _check_generator(generator)
    probes = torch.stack([draw_noise(x, generator, kind=probe) for _ in range(n_probes)])
    return hutchinson_loss_from_probes(net, x, probes)


def dsm_loss_from_noise(net: ScoreNet, x: Tensor, zeta: Tensor, alpha: float) -> Tensor:
    r"""Antithetic finite-difference loss for given noise ``zeta`` (same shape as ``x``):
    :math:`\frac1N\sum_i\big(|s(X_i)|^2+\frac1\alpha(s(X_i+\alpha\zeta_i)-s(X_i-\alpha\zeta_i))\cdot\zeta_i\big)`.

    The three evaluations are done as one forward pass on the ``3N`` stacked points. Pure function of
    its tensor inputs (no random numbers inside), so it can be compiled.
    """
    n = x.shape[0]
    out = net(torch.cat([x, x + alpha * zeta, x - alpha * zeta], dim=0))
    s, sp, sm = out[:n], out[n:2 * n], out[2 * n:]
    return ((s * s).sum(dim=1) + ((sp - sm) * zeta).sum(dim=1) / alpha).mean()


def dsm_loss(net: ScoreNet, x: Tensor, *, alpha: float = 0.4,
             generator: torch.Generator | None = None) -> Tensor:
    r"""Denoising (antithetic finite-difference Hutchinson) score-matching loss of Ilin, Hu and Wang (2025), eq. (3.5):

    .. math::

        L_\alpha(s) &= \frac1N\sum_i\Big(|s(X_i)|^2+\frac1\alpha\big(s(X_i+\alpha\zeta_i)-s(X_i-\alpha\zeta_i)\big)
            \cdot\zeta_i\Big), \\
        \zeta_i &\sim N(0,I).

    By Taylor expansion :math:`\mathbb E_\zeta\big[\frac1\alpha(s(x+\alpha\zeta)-s(x-\alpha\zeta))\cdot\zeta\big]
    =2\nabla\cdot s(x)+O(\alpha^2)` (odd orders cancel), so :math:`L_\alpha` is unbiased for the ISM loss up to
    :math:`O(\alpha^2)`. Ilin, Hu and Wang (2025) use :math:`\alpha=0.4`.

    >>> x = torch.randn(4000, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> loss = dsm_loss(lambda y: -y, x, alpha=0.4, generator=torch.Generator().manual_seed(1))
    >>> abs(loss.item() - ism_loss_exact(lambda y: -y, x).item()) < 0.2  # affine s: unbiased
    True
    """
    return _with_gaussian_noise(dsm_loss_from_noise, net, x, alpha, "alpha", generator)


def denoising_loss_from_noise(net: ScoreNet, x: Tensor, zeta: Tensor, sigma: float) -> Tensor:
    r"""Single-pass denoising score-matching loss for given noise ``zeta`` (same shape as ``x``):

    .. math::

        L_\sigma(s) &= \frac1N\sum_i\Big(|s(Y_i)|^2+\frac2\sigma\,\zeta_i\cdot s(Y_i)\Big) \\
            &= \frac1N\sum_i\Big(\big|s(Y_i)+\tfrac{\zeta_i}{\sigma}\big|^2-\tfrac{|\zeta_i|^2}{\sigma^2}\Big),
            \qquad Y_i=X_i+\sigma\zeta_i .

    One forward pass on the ``N`` noised points. Pure function of its tensor inputs (no random numbers
    inside), so it can be compiled. See :func:`denoising_loss` for the weighting and the minimiser.
    """
    s = net(x + sigma * zeta)
    return ((s * s).sum(dim=1) + (2.0 / sigma) * (s * zeta).sum(dim=1)).mean()


def denoising_loss(net: ScoreNet, x: Tensor, *, sigma: float = 0.1,
                   generator: torch.Generator | None = None) -> Tensor:
    r"""Classical (single-pass) denoising score matching of Vincent (2011), with fresh
    :math:`\zeta_i\sim N(0,I)` and :math:`Y_i=X_i+\sigma\zeta_i`:

    .. math::

        L_\sigma(s) &= \frac1N\sum_i\Big(\big|s(Y_i)+\tfrac{\zeta_i}{\sigma}\big|^2-\tfrac{|\zeta_i|^2}{\sigma^2}\Big) \\
            &= \frac1N\sum_i\Big(|s(Y_i)|^2+\frac2\sigma\,\zeta_i\cdot s(Y_i)\Big).

    *Weighting.* This is Vincent's loss :math:`\frac1N\sum_i|s(Y_i)+\zeta_i/\sigma|^2` with weight 1 (not the
    :math:`\sigma^2` of Song–Ermon) minus the parameter-free term :math:`|\zeta_i|^2/\sigma^2`: the gradient in the
    network parameters is Vincent's, and the value is on the scale of the ISM loss (:func:`ism_loss_exact`,
    :func:`dsm_loss`), negative for a good score. Adam is invariant to a constant factor on the loss, so a
    :math:`\sigma^2` weight would train the same.

    *Minimiser and bias.* Let :math:`f_\sigma=f*\varphi_\sigma`, :math:`\varphi_\sigma=N(0,\sigma^2I)`. Since
    :math:`\mathbb E[\zeta\,|\,Y]=-\sigma\nabla\log f_\sigma(Y)` for :math:`X\sim f`,

    .. math::

        \mathbb E\,L_\sigma(s)=\int f_\sigma\,|s-\nabla\log f_\sigma|^2-\int f_\sigma|\nabla\log f_\sigma|^2 ,

    i.e. the Fisher divergence to :math:`\nabla\log(f*\varphi_\sigma)` up to a constant (exactly the ISM loss of
    :math:`f_\sigma`). Its minimiser is :math:`s^\star=\nabla\log(f*\varphi_\sigma)=\nabla\log f+O(\sigma^2)`
    (heat flow for time :math:`\sigma^2/2`): a bias, unlike :func:`dsm_loss` whose bias vanishes for affine
    :math:`s`. For :math:`f=N(0,TI)`: :math:`s^\star(y)=-y/(T+\sigma^2)`, versus :math:`\nabla\log f(y)=-y/T`.

    >>> x = torch.randn(100000, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> loss = denoising_loss(lambda y: -y / 1.01, x, sigma=0.1, generator=torch.Generator().manual_seed(1))
    >>> abs(loss.item() + 3 / 1.01) < 0.4  # expectation -d/(T + sigma^2) for f = N(0, I); MC std ~ 0.11
    True
    """
    return _with_gaussian_noise(denoising_loss_from_noise, net, x, sigma, "sigma", generator)


def antithetic_denoising_loss_from_noise(net: ScoreNet, x: Tensor, zeta: Tensor, sigma: float) -> Tensor:
    r"""Antithetic denoising score-matching loss for given noise ``zeta`` (same shape as ``x``):

    .. math::

        \begin{aligned}
        L^{\pm}_\sigma(s)=\frac1N\sum_i\Big(&\tfrac12\big(|s(Y^+_i)|^2+|s(Y^-_i)|^2\big)\\
        &+\frac1\sigma\big(s(Y^+_i)-s(Y^-_i)\big)\cdot\zeta_i\Big),\qquad Y^\pm_i=X_i\pm\sigma\zeta_i .
        \end{aligned}

    One forward pass on the ``2N`` stacked points. Pure function of its tensor inputs, so it can be compiled.
    See :func:`antithetic_denoising_loss` for its expectation and variance.
    """
    n = x.shape[0]
    out = net(torch.cat([x + sigma * zeta, x - sigma * zeta], dim=0))
    sp, sm = out[:n], out[n:]
    return (0.5 * ((sp * sp).sum(dim=1) + (sm * sm).sum(dim=1)) + ((sp - sm) * zeta).sum(dim=1) / sigma).mean()


def antithetic_denoising_loss(net: ScoreNet, x: Tensor, *, sigma: float = 0.1,
                              generator: torch.Generator | None = None) -> Tensor:
    r"""Denoising score matching with antithetic noise pairs :math:`\pm\zeta_i`, :math:`\zeta_i\sim N(0,I)`:

    .. math::

        \begin{aligned}
        L^{\pm}_\sigma(s)=\frac1N\sum_i\Big(&\tfrac12\big(|s(X_i+\sigma\zeta_i)|^2+|s(X_i-\sigma\zeta_i)|^2\big)\\
        &+\frac1\sigma\big(s(X_i+\sigma\zeta_i)-s(X_i-\sigma\zeta_i)\big)\cdot\zeta_i\Big).
        \end{aligned}

    *Expectation.* Since :math:`-\zeta` has the law of :math:`\zeta`, :math:`L^{\pm}_\sigma` is the average of the
    single-pass loss :func:`denoising_loss` at :math:`\zeta` and at :math:`-\zeta`, so it has the same expectation,
    :math:`\int f_\sigma|s-\nabla\log f_\sigma|^2-\int f_\sigma|\nabla\log f_\sigma|^2` with
    :math:`f_\sigma=f*N(0,\sigma^2I)`, and the same minimiser :math:`\nabla\log f_\sigma=\nabla\log f+O(\sigma^2)`.
    A Gaussian smoothing bias keeps every Maxwellian a stationary state of the particle flow, because the
    smoothed score of a Maxwellian is again a multiple of :math:`-(v-u)` and :math:`A(z)z=0`.

    *Variance.* The single-pass term :math:`\frac2\sigma\zeta\cdot s(X+\sigma\zeta)` has variance
    :math:`O(\sigma^{-2})` (its part :math:`\frac2\sigma\zeta\cdot s(X)` has mean zero); in
    :math:`\frac1\sigma(s(X+\sigma\zeta)-s(X-\sigma\zeta))\cdot\zeta=2\zeta^\top Ds(X)\zeta+O(\sigma^2)` it cancels, so
    the variance stays :math:`O(1)` as :math:`\sigma\to0`. The cost is one pass on :math:`2N` points, between the
    single-pass loss (:math:`N`) and :func:`dsm_loss` (:math:`3N`).

    >>> x = torch.randn(100000, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> g = torch.Generator().manual_seed(1)
    >>> loss = antithetic_denoising_loss(lambda y: -y / 1.01, x, sigma=0.1, generator=g)
    >>> abs(loss.item() + 3 / 1.01) < 0.06  # mean -d/(T + sigma^2) for f = N(0, I); MC std 0.017 (single-pass: 0.11)
    True
    """
    return _with_gaussian_noise(antithetic_denoising_loss_from_noise, net, x, sigma, "sigma", generator)
