"""The floors of the package: the solver library never loads ``landau_lite.analysis`` or ``landau_lite.book``.

Each import runs in a fresh interpreter (a test process has usually imported everything already). The wrong answer
these tests catch: a library module that imports the analysis or book floor, directly or through another module
(the layers would be inverted: the solver must run, and be imported, without the paper's mathematics or the notebook
helpers).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FLOORS = ("landau_lite.analysis", "landau_lite.book")


def _loaded_after(statement: str) -> list[str]:
    """Modules under the analysis/book floors in ``sys.modules`` after running ``statement`` in a new interpreter."""
    code = (f"import json, sys\n{statement}\n"
            f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({FLOORS!r}))))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    env.setdefault("OMP_NUM_THREADS", "1")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("statement", ["import landau_lite.solver", "import landau_lite"])
def test_library_does_not_load_the_analysis_or_book_floor(statement):
    assert _loaded_after(statement) == []


def test_the_floors_load_on_first_use():
    """Positive control: the same probe sees the floors once they are used (so an empty list above is meaningful)."""
    loaded = _loaded_after("import landau_lite as ll\nll.analysis.stability\nll.book.verify")
    assert "landau_lite.analysis.stability" in loaded and "landau_lite.book.verify" in loaded
