r"""Visible numerical checks for the book's notebooks.

A check prints one line with the computed value, the reference, the error and the tolerance, and raises
``AssertionError`` when it fails, so that a notebook run (and nbval in CI) stops on a broken claim. Values are
printed as rounded host floats, which keeps the text identical on CPU and GPU runs.

Example:
    >>> err = check_close("E|v|^4 at t=6.5", 15.02, 15.0, rtol=0.01)
    check  E|v|^4 at t=6.5: 15.02 vs 15 | rel. error 0.0013 <= 0.01  ✓
    >>> round(err, 6)
    0.001333
"""

from __future__ import annotations

import math
from typing import Any

import torch

__all__ = ["check_close", "check_le", "check_true", "fmt"]


def _to_float(value: Any, name: str) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a scalar, got a tensor of shape {tuple(value.shape)}")
        value = value.detach().cpu().item()
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}") from exc


def fmt(value: float, digits: int = 4) -> str:
    """Format a float with ``digits`` significant digits (stable text for nbval)."""
    if value == 0 or not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}"


def check_close(label: str, value: Any, reference: Any, *, rtol: float | None = None, atol: float | None = None,
                digits: int = 4) -> float:
    r"""Check :math:`|value - reference| \le atol` or :math:`\le rtol\,|reference|`; print and return the error.

    Exactly one of ``rtol`` / ``atol`` must be given. Returns the relative error for ``rtol``, the absolute
    error for ``atol``.
    """
    if (rtol is None) == (atol is None):
        raise ValueError("give exactly one of rtol or atol")
    v = _to_float(value, "value")
    r = _to_float(reference, "reference")
    if rtol is not None:
        if r == 0:
            raise ValueError("reference must be non-zero for a relative tolerance; use atol")
        err, tol, kind = abs(v - r) / abs(r), float(rtol), "rel. error"
    else:
        err, tol, kind = abs(v - r), float(atol), "abs. error"
    ok = math.isfinite(err) and err <= tol
    print(f"check  {label}: {fmt(v, digits)} vs {fmt(r, digits)} | {kind} {fmt(err, 2)} <= {fmt(tol, 2)}  "
          f"{'✓' if ok else '✗ FAILED'}")
    if not ok:
        raise AssertionError(f"{label}: {kind} {err:.3g} exceeds the tolerance {tol:.3g}")
    return err


def check_le(label: str, lhs: Any, rhs: Any, *, digits: int = 4) -> float:
    """Check an inequality ``lhs <= rhs``; print both sides and their ratio; return ``lhs / rhs`` (or ``lhs - rhs`` if ``rhs == 0``)."""
    a = _to_float(lhs, "lhs")
    b = _to_float(rhs, "rhs")
    ok = math.isfinite(a) and math.isfinite(b) and a <= b
    ratio = a / b if b != 0 else a - b
    print(f"check  {label}: {fmt(a, digits)} <= {fmt(b, digits)} | ratio {fmt(ratio, 3)}  {'✓' if ok else '✗ FAILED'}")
    if not ok:
        raise AssertionError(f"{label}: {a:.4g} > {b:.4g}")
    return ratio


def check_true(label: str, condition: bool, detail: str = "") -> None:
    """Check a boolean statement; print it with an optional detail string."""
    ok = bool(condition)
    print(f"check  {label}{': ' + detail if detail else ''}  {'✓' if ok else '✗ FAILED'}")
    if not ok:
        raise AssertionError(f"{label} failed {detail}")
