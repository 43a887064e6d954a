r"""Visible numerical checks for the book's notebooks.

A check prints one line that starts with its verdict, then the label, the computed value, the reference and the
tolerance, and raises ``AssertionError`` when it fails, so that a notebook run (and nbval in CI) stops on a broken
claim::

    ✓ E|v|^4 at t = 6.5: 15.02 vs 15, rel. error 0.0013 ≤ 0.01

Rules the functions enforce, so that the committed outputs are the same on every CPU:

* values are printed with a fixed number of significant digits (``digits``), never as raw floats;
* a quantity that is round-off by nature (momentum drift, a difference of two formulas for the same number) is
  shown only as its bound, never as digits: :func:`check_small` prints ``✓ momentum drift ≤ 1e-13``;
* an inequality that holds by many orders of magnitude is a finding, not a check: :func:`report_margin` prints
  the size of the margin and no ✓.

Example:
    >>> err = check_close("E|v|^4 at t = 6.5", 15.02, 15.0, rtol=0.01)
    ✓ E|v|^4 at t = 6.5: 15.02 vs 15, rel. error 0.0013 ≤ 0.01
    >>> check_small("momentum drift", 3e-17, 1e-13)
    ✓ momentum drift ≤ 1e-13
    >>> margin = report_margin("KL vs the Grönwall bound", 2.2e-4, 1e300)
    finding  KL vs the Grönwall bound: the bound is 10^303.7 times larger
"""

from __future__ import annotations

import math
from typing import Any

import torch

__all__ = ["check_close", "check_le", "check_small", "check_true", "report_margin", "fmt"]

OK = "✓"
FAIL = "✗ FAILED"


def _to_float(value: Any, name: str) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a scalar, got a tensor of shape {tuple(value.shape)}")
        value = value.detach().cpu().item()
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got bool")
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}") from exc


def fmt(value: float, digits: int = 4) -> str:
    """Format a float with ``digits`` significant digits (stable text for nbval).

    >>> fmt(0.000123456), fmt(15.0), fmt(2.0e-300, 2)
    ('0.0001235', '15', '2e-300')
    """
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}"


def _emit(ok: bool, text: str) -> None:
    print(f"{OK if ok else FAIL} {text}")


def check_close(label: str, value: Any, reference: Any, *, rtol: float | None = None, atol: float | None = None,
                digits: int = 4) -> float:
    r"""Check :math:`|v - r| \le` ``atol`` or :math:`\le` ``rtol`` :math:`|r|`; print the verdict; return the error.

    Exactly one of ``rtol`` / ``atol`` must be given. Returns the relative error for ``rtol``, the absolute error
    for ``atol``. The error is printed with 2 significant digits.
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
    _emit(ok, f"{label}: {fmt(v, digits)} vs {fmt(r, digits)}, {kind} {fmt(err, 2)} ≤ {fmt(tol, 2)}")
    if not ok:
        raise AssertionError(f"{label}: {kind} {err:.3g} exceeds the tolerance {tol:.3g}")
    return err


def check_le(label: str, lhs: Any, rhs: Any, *, digits: int = 4) -> float:
    """Check an inequality ``lhs <= rhs``; print both sides and their ratio; return ``lhs / rhs``.

    Use it where the two sides are comparable (a ratio between about 1e-3 and 1); for a margin of many orders of
    magnitude use :func:`report_margin`, which does not pretend to be a test.
    """
    a = _to_float(lhs, "lhs")
    b = _to_float(rhs, "rhs")
    ok = math.isfinite(a) and math.isfinite(b) and a <= b
    ratio = a / b if b != 0 else math.inf
    _emit(ok, f"{label}: {fmt(a, digits)} ≤ {fmt(b, digits)} (ratio {fmt(ratio, 3)})")
    if not ok:
        raise AssertionError(f"{label}: {a:.4g} > {b:.4g}")
    return ratio


def check_small(label: str, value: Any, bound: Any) -> None:
    """Check ``|value| <= bound`` for a round-off-level quantity and print only the bound (no CPU-dependent digits)."""
    v = abs(_to_float(value, "value"))
    b = _to_float(bound, "bound")
    ok = math.isfinite(v) and v <= b
    _emit(ok, f"{label} ≤ {fmt(b, 2)}")
    if not ok:
        raise AssertionError(f"{label}: {v:.3g} exceeds the bound {b:.3g}")


def check_true(label: str, condition: bool, detail: str = "") -> None:
    """Check a boolean statement; print it with an optional detail string."""
    ok = bool(condition)
    _emit(ok, f"{label}{': ' + detail if detail else ''}")
    if not ok:
        raise AssertionError(f"{label} failed {detail}")


def report_margin(label: str, lhs: Any, rhs: Any) -> float:
    r"""Print how many orders of magnitude separate ``lhs <= rhs`` (a finding, not a check); return
    :math:`\log_{10}(\mathrm{rhs}/\mathrm{lhs})`. Both sides must be positive; ``rhs`` may be given as its
    :math:`\log_{10}` by passing ``("log10", value)``. Raises if the inequality fails."""
    if isinstance(rhs, tuple) and len(rhs) == 2 and rhs[0] == "log10":
        log_rhs = _to_float(rhs[1], "rhs")
    else:
        r = _to_float(rhs, "rhs")
        if not r > 0:
            raise ValueError("rhs must be > 0")
        log_rhs = math.log10(r)
    a = _to_float(lhs, "lhs")
    if not a > 0:
        raise ValueError("lhs must be > 0")
    margin = log_rhs - math.log10(a)
    if margin < 0:
        _emit(False, f"{label}: lhs exceeds rhs by 10^{-margin:.1f}")
        raise AssertionError(f"{label}: the inequality fails")
    print(f"finding  {label}: the bound is 10^{margin:.1f} times larger")
    return margin
