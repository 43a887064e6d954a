"""pytest configuration of the test command (``scripts/run_tests.sh``): one pytest session collects ``tests/``,
the notebooks under ``book/`` (nbval) and the docstring examples of ``landau_lite`` (``--doctest-modules``)."""

from __future__ import annotations

import math

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def _doctest_names(doctest_namespace: dict) -> None:
    """``math`` and ``torch`` are available in every docstring example, as in the modules themselves."""
    doctest_namespace["math"] = math
    doctest_namespace["torch"] = torch
