r"""Plain reference implementations: the test oracle and the benchmark baseline.

These build the full :math:`N\times N\times d` tensors of pair differences and therefore need
:math:`O(N^2 d)` memory. They exist only to check the fast backends of :mod:`landau_lite.velocity` and to
measure how much faster those are. Do not use them for runs.
"""

from __future__ import annotations

import torch

from ._checks import check_gamma, check_pair, check_particles, check_positive
from .kernel import radial_power

__all__ = ["velocity_naive"]

#: refuse sizes whose temporaries would exceed a few GB
MAX_N_NAIVE = 8192


def velocity_naive(x: torch.Tensor, s: torch.Tensor, *, gamma: float, C: float = 1.0) -> torch.Tensor:
    r"""Broadcast evaluation of :math:`U_i = -\frac CN\sum_j |z_{ij}|^\gamma(|z_{ij}|^2 w_{ij} - (z_{ij}\cdot w_{ij})z_{ij})`.

    Materializes ``z = x[:, None] - x[None]`` and ``w = s[:, None] - s[None]`` (``N×N×d`` each).
    """
    x = check_particles(x, "x")
    s = check_pair(x, s, "x", "s")
    gamma = check_gamma(gamma, x.shape[1])
    C = check_positive(C, "C")
    if x.shape[0] > MAX_N_NAIVE:
        raise ValueError(f"x: the naive reference is limited to N <= {MAX_N_NAIVE} (O(N^2 d) memory), got N = {x.shape[0]}")
    z = x[:, None, :] - x[None, :, :]
    w = s[:, None, :] - s[None, :, :]
    r2 = (z * z).sum(-1, keepdim=True)
    p = radial_power(r2, gamma)
    pair = p * (r2 * w - (z * w).sum(-1, keepdim=True) * z)
    return -C / x.shape[0] * pair.sum(1)
