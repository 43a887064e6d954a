r"""The score network: a plain multilayer perceptron :math:`\mathbb R^d\to\mathbb R^d`.

.. math::

    s_\theta(x) = W_{L+1}\,\sigma\big(W_L\cdots\sigma(W_1x+b_1)\cdots+b_L\big)+b_{L+1},

with ``depth`` :math:`=L` hidden layers of ``width`` units and an elementwise activation
:math:`\sigma` (softsign :math:`\sigma(p)=p/(1+|p|)` by default, as in the code of Ilin, Hu and Wang (2025)).
Weights are Glorot-normal, :math:`W_{jk}\sim N\big(0, 2/(\text{fan}_{in}+\text{fan}_{out})\big)`,
biases zero; the initialisation is drawn from a seeded CPU generator, so it is the same on every device.

Besides the forward pass, :meth:`MLP.forward_and_divergence` returns the **exact** divergence
:math:`\nabla\cdot s_\theta(x)=\operatorname{tr}\,Ds_\theta(x)` by pushing the :math:`d` input tangents
forward through the layers explicitly,

.. math::

    T_1 &= \sigma'(p_1)\odot W_1^{\top},\qquad T_{\ell} = \sigma'(p_\ell)\odot\big(T_{\ell-1}W_\ell^{\top}\big), \\
    \nabla\cdot s_\theta &= \sum_{k,j}(T_L)_{kj}(W_{L+1})_{kj},

where :math:`p_\ell` are the pre-activations and :math:`T_\ell\in\mathbb R^{d\times\text{width}}` per sample.
This costs about :math:`d` extra forward passes, keeps the autograd graph first order (so
``torch.compile`` can fuse the loss and its backward pass) and needs no double backward.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import Tensor, nn

from ._checks import check_choice, check_dim, check_int

__all__ = ["MLP", "ACTIVATIONS"]


def _softsign(p: Tensor) -> tuple[Tensor, Tensor]:
    q = 1.0 / (1.0 + p.abs())
    return p * q, q * q


def _tanh(p: Tensor) -> tuple[Tensor, Tensor]:
    h = torch.tanh(p)
    return h, 1.0 - h * h


def _softplus(p: Tensor) -> tuple[Tensor, Tensor]:
    return nn.functional.softplus(p), torch.sigmoid(p)


def _silu(p: Tensor) -> tuple[Tensor, Tensor]:
    g = torch.sigmoid(p)
    return p * g, g * (1.0 + p * (1.0 - g))


class _Softsign(torch.autograd.Function):
    r"""Softsign :math:`p/(1+|p|)` with a lean backward :math:`g/(1+|p|)^2` (about half the elementwise passes of
    the composite autograd version). The backward recomputes :math:`(1+|p|)^{-1}` from ``p`` with differentiable
    ops, so double backward (Hutchinson losses) is exact; ``torch.func`` transforms (``jacrev``, ``vmap``) work."""

    generate_vmap_rule = True

    @staticmethod
    def forward(p: Tensor) -> Tensor:  # type: ignore[override]
        return p / (p.abs() + 1.0)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Tensor) -> None:
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:  # type: ignore[override]
        (p,) = ctx.saved_tensors
        q = p.abs() + 1.0
        return grad / (q * q)


#: activation name -> function ``sigma(p)`` used by :meth:`MLP.forward`
ACTIVATION_FORWARD: dict[str, Callable[[Tensor], Tensor]] = {
    "softsign": _Softsign.apply,
    "tanh": torch.tanh,
    "softplus": nn.functional.softplus,
    "silu": nn.functional.silu,
}

#: activation name -> function returning ``(sigma(p), sigma'(p))`` (differentiable; used for exact divergences)
ACTIVATIONS: dict[str, Callable[[Tensor], tuple[Tensor, Tensor]]] = {
    "softsign": _softsign,
    "tanh": _tanh,
    "softplus": _softplus,
    "silu": _silu,
}


class MLP(nn.Module):
    r"""Score network :math:`s_\theta:\mathbb R^d\to\mathbb R^d` with ``depth`` hidden layers of ``width`` units.

    .. math::

        s_\theta(x)=W_{L+1}h_L+b_{L+1},\quad h_\ell=\sigma(p_\ell),\quad p_\ell=W_\ell h_{\ell-1}+b_\ell,\quad h_0=x .

    Parameters
    ----------
    d : int
        Velocity dimension, ``d >= 2`` (input and output size).
    width : int
        Hidden units per layer, ``>= 1``.
    depth : int
        Number of hidden layers ``L >= 1``.
    activation : str
        One of ``"softsign"`` (default), ``"tanh"``, ``"softplus"``, ``"silu"``.
    seed : int
        Seed of the Glorot-normal initialisation (drawn on the CPU, then moved to ``device``).
    dtype, device :
        Parameter dtype (float32/float64; default: ``torch.get_default_dtype()``) and device (default: the CPU,
        whatever ``torch.set_default_device`` says, so that no tensor is made where nobody asked for it).

    Example
    -------
    >>> net = MLP(3, width=16, depth=2, dtype=torch.float64)
    >>> x = torch.randn(5, 3, dtype=torch.float64)
    >>> s, div = net.forward_and_divergence(x)
    >>> s.shape, div.shape
    (torch.Size([5, 3]), torch.Size([5]))
    """

    def __init__(self, d: int, width: int = 100, depth: int = 2, activation: str = "softsign", *,
                 seed: int = 0, dtype: torch.dtype | None = None,
                 device: torch.device | str | None = None) -> None:
        super().__init__()
        d = check_dim(d, "d")
        width = check_int(width, "width", lo=1)
        depth = check_int(depth, "depth", lo=1)
        activation = check_choice(activation, "activation", ACTIVATIONS)
        seed = check_int(seed, "seed", lo=0, hi=2**63 - 1)
        dtype = torch.get_default_dtype() if dtype is None else dtype
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        self.d, self.width, self.depth, self.activation = d, width, depth, activation
        self._act = ACTIVATIONS[activation]
        self._act_fwd = ACTIVATION_FORWARD[activation]
        sizes = [d] + [width] * depth + [d]
        dev = torch.device("cpu") if device is None else torch.device(device)   # never the global default device
        self.layers = nn.ModuleList(nn.Linear(a, b, dtype=dtype, device=dev) for a, b in zip(sizes[:-1], sizes[1:]))
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for lin in self.layers:
                fan_out, fan_in = lin.weight.shape
                std = math.sqrt(2.0 / (fan_in + fan_out))
                lin.weight.copy_(torch.randn(lin.weight.shape, generator=gen, dtype=torch.float64, device="cpu") * std)
                lin.bias.zero_()

    @property
    def dtype(self) -> torch.dtype:
        """Parameter dtype."""
        return self.layers[0].weight.dtype

    @property
    def device(self) -> torch.device:
        """Parameter device."""
        return self.layers[0].weight.device

    def extra_repr(self) -> str:
        return f"d={self.d}, width={self.width}, depth={self.depth}, activation={self.activation!r}"

    def forward(self, x: Tensor) -> Tensor:
        r"""Evaluate :math:`s_\theta(x)` for ``x`` of shape ``(M, d)``; returns ``(M, d)``."""
        h = x
        for lin in self.layers[:-1]:
            h = self._act_fwd(lin(h))
        return self.layers[-1](h)

    def forward_and_divergence(self, x: Tensor) -> tuple[Tensor, Tensor]:
        r"""Return :math:`\big(s_\theta(x),\ \nabla\cdot s_\theta(x)\big)` with the exact divergence.

        The input tangents are pushed forward layer by layer,
        :math:`T_1=\sigma'(p_1)\odot W_1^\top` and :math:`T_\ell=\sigma'(p_\ell)\odot(T_{\ell-1}W_\ell^\top)`
        (shape ``(M, d, width)``), and :math:`\nabla\cdot s_\theta=\sum_{k,j}(T_L)_{kj}(W_{L+1})_{kj}`.
        Memory is :math:`O(M\,d\,\text{width})`; the graph is first order (differentiable in the
        parameters with one ordinary backward pass).

        >>> net = MLP(2, width=8, depth=1, dtype=torch.float64)
        >>> x = torch.zeros(1, 2, dtype=torch.float64)
        >>> s, div = net.forward_and_divergence(x)
        >>> J = torch.autograd.functional.jacobian(lambda y: net(y[None])[0], x[0])
        >>> bool(torch.allclose(div, torch.trace(J)))
        True
        """
        h = x
        tan: Tensor | None = None
        for lin in self.layers[:-1]:
            h, dh = self._act(lin(h))
            if tan is None:
                tan = dh.unsqueeze(1) * lin.weight.t().unsqueeze(0)
            else:
                tan = dh.unsqueeze(1) * torch.matmul(tan, lin.weight.t())
        last = self.layers[-1]
        assert tan is not None
        div = (tan * last.weight.unsqueeze(0)).sum(dim=(1, 2))
        return last(h), div
