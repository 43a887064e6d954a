r"""Helpers of the book's notebooks: visible checks, the SBTM explorer, method-comparison tables.

========================  ==========================================================================
``verify``                 visible numerical checks (``check_close``, ``check_le``, ``check_true``)
``explorer``               the SBTM explorer form (ipywidgets) and the precomputed-runs animation
``compare``                methods × N comparison tables (the same runs as the command line)
``experiments``            the particle experiments and checks of chapters 8 and 9 (paired runs, certificate)
========================  ==========================================================================
"""

from __future__ import annotations

from . import compare, experiments, explorer, verify

__all__ = ["compare", "experiments", "explorer", "verify"]
