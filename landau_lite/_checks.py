"""Argument validation shared by the whole package.

Every public function validates its input with these helpers *before* any computation, so that a
mistake surfaces as a ``ValueError``/``TypeError`` that names the argument and the allowed range.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Iterable

import torch

FLOAT_DTYPES = (torch.float32, torch.float64)


def check_tensor(x: object, name: str) -> torch.Tensor:
    """Return ``x`` if it is a floating-point torch tensor (float32/float64), else raise ``TypeError``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {x.dtype}")
    if x.device.type == "meta":
        raise ValueError(f"{name} is on the 'meta' device, which holds shapes but no values; landau_lite computes "
                         f"on real tensors (cpu or cuda)")
    return x


def check_finite_tensor(x: torch.Tensor, name: str) -> torch.Tensor:
    """Raise ``ValueError`` if ``x`` holds NaN or ±inf."""
    if not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} must be finite; it holds {bad} NaN/inf entries")
    return x


def check_finite_float(x: object, name: str) -> torch.Tensor:
    """A float32/float64 tensor with only finite entries (any shape)."""
    return check_finite_tensor(check_tensor(x, name), name)


def check_particles(x: object, name: str = "x", *, min_n: int = 2, finite: bool = True) -> torch.Tensor:
    """Validate a particle array of shape ``(N, d)`` with ``N >= min_n`` and ``d >= 2``."""
    x = check_tensor(x, name)
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (N, d), got shape {tuple(x.shape)}")
    n, d = x.shape
    if n < min_n:
        raise ValueError(f"{name} must hold at least N >= {min_n} particles, got N = {n}")
    if d < 2:
        raise ValueError(f"{name} must have dimension d >= 2, got d = {d}")
    if finite:
        check_finite_tensor(x, name)
    return x


def check_points(v: object, d: int, name: str = "v", *, finite: bool = True) -> torch.Tensor:
    """Validate query points of shape ``(M, d)`` (any ``M >= 1``) with the given dimension."""
    v = check_tensor(v, name)
    if v.ndim != 2 or v.shape[1] != d:
        raise ValueError(f"{name} must have shape (M, {d}), got shape {tuple(v.shape)}")
    if v.shape[0] < 1:
        raise ValueError(f"{name} must hold at least one point")
    if finite:
        check_finite_tensor(v, name)
    return v


def check_pair(a: torch.Tensor, b: object, name_a: str, name_b: str, *, finite: bool = True) -> torch.Tensor:
    """Validate that ``b`` matches ``a`` in shape, dtype and device (``a`` already validated)."""
    b = check_tensor(b, name_b)
    if b.shape != a.shape:
        raise ValueError(f"{name_b} must have the same shape as {name_a} {tuple(a.shape)}, got {tuple(b.shape)}")
    if b.dtype != a.dtype:
        raise TypeError(f"{name_b} must have the same dtype as {name_a} ({a.dtype}), got {b.dtype}")
    if b.device != a.device:
        raise ValueError(f"{name_b} must be on the same device as {name_a} ({a.device}), got {b.device}")
    if finite:
        check_finite_tensor(b, name_b)
    return b


def check_same_device_dtype(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """Raise if two tensors differ in dtype or device."""
    if b.dtype != a.dtype:
        raise TypeError(f"{name_b} must have the same dtype as {name_a} ({a.dtype}), got {b.dtype}")
    if b.device != a.device:
        raise ValueError(f"{name_b} must be on the same device as {name_a} ({a.device}), got {b.device}")


def check_real(value: object, name: str, *, lo: float = -math.inf, hi: float = math.inf,
               lo_open: bool = False, hi_open: bool = False) -> float:
    """Return ``value`` as a float if it is a finite real number in the given interval."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    bad_lo = v <= lo if lo_open else v < lo
    bad_hi = v >= hi if hi_open else v > hi
    if bad_lo or bad_hi:
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        raise ValueError(f"{name} must lie in {left}{lo}, {hi}{right}, got {v}")
    return v


def check_positive(value: object, name: str) -> float:
    """Return ``value`` as a float if it is a finite real number ``> 0``."""
    return check_real(value, name, lo=0.0, lo_open=True)


def check_int(value: object, name: str, *, lo: int | None = None, hi: int | None = None) -> int:
    """Return ``value`` if it is an integer in ``[lo, hi]``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ValueError(f"{name} must lie in [{lo if lo is not None else '-inf'}, "
                         f"{hi if hi is not None else 'inf'}], got {v}")
    return v


def check_choice(value: object, name: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices`` (strings)."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}")
    return value


def check_gamma(gamma: object, d: int) -> float:
    r"""Validate the kernel exponent: :math:`-d-1 \le \gamma \le 1`."""
    return check_real(gamma, "gamma", lo=-d - 1.0, hi=1.0)


def check_dim(d: object, name: str = "d") -> int:
    """Validate a velocity dimension ``d >= 2``."""
    return check_int(d, name, lo=2)


def check_field_inputs(x: object, delta: object, gamma: object, C: object, y: object = None,
                       delta_y: object = None) -> tuple:
    """Arguments of a weighted score-error loss: particles ``x`` with the field ``delta`` there, the kernel
    ``gamma``/``C``, and optional outer points ``y`` with the field ``delta_y`` there (both or neither).

    Returns ``(x, delta, gamma, C, y, delta_y)`` with ``y``/``delta_y`` still ``None`` when not given."""
    x = check_particles(x, "x")
    delta = check_pair(x, delta, "x", "delta")
    gamma = check_gamma(gamma, x.shape[1])
    C = check_positive(C, "C")
    if (y is None) != (delta_y is None):
        raise ValueError("y and delta_y must be given together (or neither)")
    if y is not None:
        y = check_points(y, x.shape[1], "y")
        check_same_device_dtype(x, y, "x", "y")
        delta_y = check_pair(y, delta_y, "y", "delta_y")
    return x, delta, gamma, C, y, delta_y
