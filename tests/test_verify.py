"""The notebooks' checks: verdict first, stable digits, round-off shown as a bound, and every check can fail."""

import pytest

from landau_lite.book.verify import check_close, check_le, check_small, check_true, report_margin


def test_passing_checks_print_the_verdict_first(capsys):
    check_close("a", 1.0001, 1.0, rtol=1e-3)
    check_le("b", 1.0, 2.0)
    check_small("c", 3e-17, 1e-13)
    check_true("d", True, "detail")
    lines = capsys.readouterr().out.splitlines()
    assert [ln[0] for ln in lines] == ["✓"] * 4
    assert lines[2] == "✓ c ≤ 1e-13"          # the round-off value itself is never printed


@pytest.mark.parametrize("call", [
    lambda: check_close("a", 1.1, 1.0, rtol=1e-3),
    lambda: check_close("a", float("nan"), 1.0, atol=1.0),
    lambda: check_le("b", 2.0, 1.0),
    lambda: check_small("c", 1e-12, 1e-13),
    lambda: check_true("d", False),
    lambda: report_margin("e", 2.0, 1.0),
])
def test_failing_checks_raise_and_say_so(call, capsys):
    with pytest.raises(AssertionError):
        call()
    assert capsys.readouterr().out.startswith("✗ FAILED")


def test_report_margin_is_a_finding_without_a_tick(capsys):
    assert report_margin("bound", 1e-4, ("log10", 1408.0)) == pytest.approx(1412.0)
    out = capsys.readouterr().out
    assert out.startswith("finding") and "✓" not in out and "10^1412.0" in out
