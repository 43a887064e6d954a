"""The benchmark's timer: sub-millisecond calls are averaged over back-to-back repeats, long calls timed once.

What it catches: a timer that reports one cold call of a 0.2 ms function (the moments path measured at 2.5 ms, ten
times its cost, right after the naive sum had emptied the caches), or one that repeats a call whose first run is a
measurement in itself (the first call of ``backend="auto"``).
"""

from __future__ import annotations

import time

import torch

from landau_lite.bench import time_call

CPU = torch.device("cpu")


def test_fast_call_is_repeated_and_averaged():
    calls = []
    per_call = time_call(lambda: calls.append(1), CPU, min_seconds=0.01)
    assert len(calls) > 10                      # one timing call, then enough repeats to fill 10 ms
    assert per_call < 1e-3                      # the mean of the repeats, not their total


def test_slow_call_is_timed_once():
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.005)

    assert time_call(slow, CPU, min_seconds=0.02) >= 0.005
    assert len(calls) == 1


def test_min_seconds_zero_times_exactly_one_call():
    calls = []
    time_call(lambda: calls.append(1), CPU, min_seconds=0.0)
    assert len(calls) == 1
