r"""Grönwall bounds along a time series, and the polynomial envelopes of Theorems 3.1 and 4.1 (one home).

If :math:`y\ge0` satisfies :math:`y'\le\Lambda(t)\,y+\mathcal S(t)` then

.. math::

    y(t)\le e^{E(t)}\Big(y(t_0)+\int_{t_0}^te^{-E(\tau)}\mathcal S(\tau)\,d\tau\Big),\qquad E(t)=\int_{t_0}^t\Lambda .

With :math:`y=\mathrm{KL}(f_t\Vert g_t)` this is how Theorem 4.1 of Ilin (2025) (a rate :math:`\Lambda`, no source)
and Theorem 4.2 (a source from the score-matching loss) turn a differential inequality into a bound. The
integrals of sampled rates are trapezoidal sums (:func:`cumulative_integral`); for a rigorous bound pass an upper
envelope of the rate, such as :func:`polynomial_envelope`, whose Grönwall bound is closed form
(:func:`polynomial_gronwall_bound`).

Every function takes torch tensors or numpy arrays / sequences and returns the kind of ``times``: a tensor with
the dtype and device of ``times``, or a float64 ``numpy.ndarray``.
"""

from __future__ import annotations

import math
from typing import Sequence, Union

import numpy as np
import torch

from .._checks import check_finite_float, check_real, check_tensor

__all__ = [
    "Series",
    "check_series",
    "cumulative_integral",
    "gronwall_bound",
    "polynomial_envelope",
    "polynomial_gronwall_bound",
]

#: A time series, given as a 1-D torch tensor, a numpy array or a sequence of floats.
Series = Union[torch.Tensor, np.ndarray, Sequence[float]]


# ----------------------------------------------------------------------------------------------
# validation: one series type in, the same type out
# ----------------------------------------------------------------------------------------------

def _times(times: Series, *, min_len: int = 1) -> torch.Tensor:
    """``times`` as a 1-D float tensor: finite, non-decreasing, at least ``min_len`` entries."""
    if isinstance(times, torch.Tensor):
        t = check_tensor(times, "times")
    else:
        try:
            t = torch.from_numpy(np.array(times, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"times must be a 1-D tensor, array or sequence of real numbers, "
                            f"got {type(times).__name__}") from exc
    if t.ndim != 1 or t.shape[0] < min_len:
        raise ValueError(f"times must be 1-D with at least {min_len} entries, got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()) or bool((t[1:] < t[:-1]).any()):
        raise ValueError("times must be finite and non-decreasing")
    return t


def _values(values: Series, name: str, t: torch.Tensor) -> torch.Tensor:
    """A series of the shape of ``t``, converted to its dtype and device, with finite entries."""
    if isinstance(values, torch.Tensor):
        v = check_tensor(values, name).to(dtype=t.dtype, device=t.device)
    else:
        try:
            v = torch.from_numpy(np.array(values, dtype=np.float64)).to(dtype=t.dtype, device=t.device)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be a tensor, array or sequence of real numbers (no None entries), "
                            f"got {type(values).__name__}") from exc
    if v.shape != t.shape:
        raise ValueError(f"{name} must have the shape of times {tuple(t.shape)}, got {tuple(v.shape)}")
    if not bool(torch.isfinite(v).all()):
        raise ValueError(f"{name} must be finite (no None/NaN entries)")
    return v


def check_series(times: Series, values: Series, name: str, *, min_len: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate a sampled series: ``(times, values)`` as tensors (the dtype/device of ``times`` if it is a tensor,
    float64 otherwise), ``times`` finite and non-decreasing with at least ``min_len`` entries, ``values`` finite and of
    the same shape. ``name`` names ``values`` in the error messages.

    Example:
        >>> t, v = check_series([0.0, 1.0], [2.0, 3.0], "loss")
        >>> v.tolist()
        [2.0, 3.0]
    """
    t = _times(times, min_len=min_len)
    return t, _values(values, name, t)


def _like_times(out: torch.Tensor, times: Series) -> torch.Tensor | np.ndarray:
    return out if isinstance(times, torch.Tensor) else out.numpy()


def _cumtrapz(t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    r""":math:`F_k=\sum_{i\le k}\frac12(t_i-t_{i-1})(v_i+v_{i-1})`, :math:`F_0=0`."""
    dt = t[1:] - t[:-1]
    return torch.cat([torch.zeros(1, dtype=t.dtype, device=t.device), torch.cumsum(0.5 * dt * (v[1:] + v[:-1]), 0)])


def _initial(initial: object) -> float:
    if isinstance(initial, torch.Tensor):
        initial = float(check_finite_float(initial, "initial").reshape(()))
    return check_real(initial, "initial", lo=0.0)


# ----------------------------------------------------------------------------------------------
# integrals and bounds of sampled series
# ----------------------------------------------------------------------------------------------

def cumulative_integral(times: Series, values: Series) -> torch.Tensor | np.ndarray:
    r"""Cumulative trapezoidal integral :math:`F_k=\int_{t_0}^{t_k}\phi\,d\tau` (:math:`F_0=0`), same length as ``times``.

    Example:
        >>> cumulative_integral([0.0, 1.0, 2.0], [1.0, 1.0, 3.0]).tolist()
        [0.0, 1.0, 3.0]
    """
    t = _times(times)
    return _like_times(_cumtrapz(t, _values(values, "values", t)), times)


def gronwall_bound(times: Series, initial: float | torch.Tensor, rate: Series | None = None,
                   source: Series | None = None, *, log: bool = False) -> torch.Tensor | np.ndarray:
    r"""Grönwall bound at every time: the solution of :math:`y'=\Lambda(t)\,y+\mathcal S(t)`, :math:`y(t_0)=y_0`,

    .. math::

        y(t) = e^{E(t)}\Big(y_0+\int_{t_0}^t e^{-E(\tau)}\mathcal S(\tau)\,d\tau\Big),\qquad E(t)=\int_{t_0}^t\Lambda,

    an upper bound of every :math:`y\ge0` with :math:`y'\le\Lambda y+\mathcal S` (e.g. :math:`y=\mathrm{KL}`). The time
    integrals are trapezoidal sums of the samples (use many samples; for a rigorous bound sample an upper envelope
    of :math:`\Lambda` such as :func:`polynomial_envelope`).

    Args:
        times: ``(T,)`` non-decreasing times (a tensor, an array or a sequence).
        initial: :math:`y_0\ge0` (a number or a 0-dim tensor).
        rate: :math:`\Lambda` at the times (default 0). source: :math:`\mathcal S` at the times (default 0).
        log: return :math:`\log y(t)` instead (use it when the exponent is huge: :math:`y` itself overflows to
            ``inf``); needs :math:`y>0`.

    Returns:
        ``(T,)``: a tensor with the dtype/device of ``times``, or a numpy array.

    Example (:math:`y' = 3y`, :math:`y_0 = 2`: :math:`2e^3`; :math:`y' = y + 1`, :math:`y_0 = 0`: :math:`e - 1` at :math:`t=1`):
        >>> t = torch.linspace(0, 1, 11, dtype=torch.float64)
        >>> round(float(gronwall_bound(t, 2.0, torch.full_like(t, 3.0))[-1]), 6)
        40.171074
        >>> tt = [k / 1000 for k in range(1001)]
        >>> round(float(gronwall_bound(tt, 0.0, [1.0] * 1001, [1.0] * 1001)[-1]), 6)
        1.718282
    """
    t = _times(times)
    y0 = _initial(initial)
    if not isinstance(log, bool):
        raise TypeError("log must be a bool")
    E = torch.zeros_like(t) if rate is None else _cumtrapz(t, _values(rate, "rate", t))
    if source is None:
        if log and y0 == 0.0:
            raise ValueError("initial must be > 0 for log=True (log 0 = -inf)")
        return _like_times(math.log(y0) + E if log else y0 * torch.exp(E), times)
    inner = y0 + _cumtrapz(t, torch.exp(-E) * _values(source, "source", t))
    if not log:
        return _like_times(torch.exp(E) * inner, times)
    if not bool((inner > 0).all()):
        raise ValueError("the bound must be > 0 at every time for log=True (initial = 0 and no source yet)")
    return _like_times(E + torch.log(inner), times)


# ----------------------------------------------------------------------------------------------
# polynomial envelopes
# ----------------------------------------------------------------------------------------------

def polynomial_envelope(times: Series, values: Series, *, t0: float | None = None) -> tuple[float, float]:
    r"""Fit an upper envelope :math:`c_1(1+t-t_0)^{\alpha}\ge` ``values`` (the form of the bounds (2.2), (3.1), (3.12)
    of Ilin (2025)).

    :math:`\alpha` is the least-squares slope of :math:`\log(\text{values})` against :math:`\log(1+t-t_0)`; then
    :math:`c_1=\max_i\text{values}_i/(1+t_i-t_0)^\alpha`, so the envelope touches the data at one point and lies
    above it everywhere else. The theorems only say that *some* :math:`c_1,\alpha` exist; this fit shows which ones a
    run needs (a negative :math:`\alpha` means the quantity decays).

    Returns:
        ``(c1, alpha)`` as floats.

    Example:
        >>> t = torch.linspace(0, 9, 10, dtype=torch.float64)
        >>> c1, a = polynomial_envelope(t, 2 * (1 + t) ** 0.5)
        >>> round(c1, 6), round(a, 6)
        (2.0, 0.5)
    """
    t = _times(times, min_len=2)
    v = _values(values, "values", t)
    if bool((v <= 0).any()):
        raise ValueError("values must be > 0")
    t0 = float(t[0]) if t0 is None else check_real(t0, "t0")
    if float(t[0]) < t0:
        raise ValueError(f"times must be >= t0 = {t0}")
    x = torch.log1p(t - t0).double().cpu()
    y = torch.log(v).double().cpu()
    xm = x - x.mean()
    denom = float((xm * xm).sum())
    alpha = float((xm * (y - y.mean())).sum()) / denom if denom > 0 else 0.0
    c1 = float(torch.exp(y - alpha * x).max())
    return c1, alpha


def polynomial_gronwall_bound(times: Series, kl0: float, c1: float, alpha: float, *,
                              t0: float | None = None, log: bool = False) -> torch.Tensor | np.ndarray:
    r"""Theorem 4.1's closed form: :math:`\mathrm{KL}_0\exp\big(c_1\,\frac{(1+t-t_0)^{\alpha+1}-1}{\alpha+1}\big)`
    (:math:`c_1\log(1+t-t_0)` in the exponent if :math:`\alpha=-1`).

    This is :math:`\mathrm{KL}_0\exp\int_{t_0}^tc_1(1+\tau-t_0)^\alpha d\tau`, the bound for a rate
    :math:`\Lambda(\tau)\le c_1(1+\tau-t_0)^\alpha` (:func:`polynomial_envelope`). With ``log=True`` the natural
    logarithm of the bound is returned (no overflow).

    Example:
        >>> t = torch.tensor([0.0, 1.0], dtype=torch.float64)
        >>> round(float(polynomial_gronwall_bound(t, 1.0, 2.0, 0.0)[1]), 6)      # e^2
        7.389056
    """
    t = _times(times)
    kl0 = check_real(kl0, "kl0", lo=0.0)
    c1 = check_real(c1, "c1", lo=0.0)
    alpha = check_real(alpha, "alpha")
    t0 = float(t[0]) if t0 is None else check_real(t0, "t0")
    s = 1.0 + (t - t0)
    if bool((s <= 0).any()):
        raise ValueError(f"times must be > t0 - 1 = {t0 - 1}")
    if not isinstance(log, bool):
        raise TypeError("log must be a bool")
    if log and kl0 == 0.0:
        raise ValueError("kl0 must be > 0 for log=True")
    if abs(alpha + 1.0) < 1e-12:
        integral = c1 * torch.log(s)
    else:
        integral = c1 * (s.pow(alpha + 1.0) - 1.0) / (alpha + 1.0)
    return _like_times(math.log(kl0) + integral if log else kl0 * torch.exp(integral), times)
