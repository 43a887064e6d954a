r"""The chapter times on the teachers' page are computed, not typed.

``scripts/execute_notebooks.py`` records each notebook's wall time in ``book/_timings.json`` and renders
``book/_timings.md`` from it, which ``book/teaching.md`` includes. Here: every chapter of ``_toc.yml`` has a
recorded time, the committed table is exactly what the script renders from the committed JSON (a hand
edit, or a JSON refreshed without its table, fails), the teaching page includes that table, and the
duration format and the JSON update behave.
"""
from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from types import ModuleType

import pytest

from landau_lite.book.student import book_chapters

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("execute_notebooks", ROOT / "scripts" / "execute_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_chapter_has_a_recorded_time() -> None:
    timings = json.loads((BOOK / "_timings.json").read_text(encoding="utf-8"))["notebooks"]
    chapters = book_chapters(BOOK)
    assert len(chapters) == len(list(BOOK.glob("[0-9][0-9]_*.ipynb"))) > 0
    for ch in chapters:
        entry = timings.get(ch.path.name)
        assert entry is not None, f"{ch.path.name} has no time in book/_timings.json"
        assert math.isfinite(entry["seconds"]) and entry["seconds"] > 0 and entry["threads"] == 1


def test_committed_table_is_rendered_from_the_json() -> None:
    script = _script()
    timings = json.loads((BOOK / "_timings.json").read_text(encoding="utf-8"))
    expected = script.render_timings_table(timings, book_chapters(BOOK))
    assert (BOOK / "_timings.md").read_text(encoding="utf-8") == expected, \
        "book/_timings.md differs from what scripts/execute_notebooks.py renders from book/_timings.json"
    total = sum(timings["notebooks"][ch.path.name]["seconds"] for ch in book_chapters(BOOK))
    assert f"**{script.format_duration(total)}**" in expected
    assert "```{include} _timings.md" in (BOOK / "teaching.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(("seconds", "text"), [(0.2, "1 s"), (41.4, "41 s"), (59.6, "1 min"), (135.0, "2 min 15 s")])
def test_format_duration(seconds: float, text: str) -> None:
    assert _script().format_duration(seconds) == text


def test_record_timing_replaces_one_entry(tmp_path: Path) -> None:
    script = _script()
    path = tmp_path / "_timings.json"
    script.record_timing(path, "b.ipynb", 3.0)
    script.record_timing(path, "a.ipynb", 5.04)
    script.record_timing(path, "b.ipynb", 7.0)
    data = json.loads(path.read_text(encoding="utf-8"))["notebooks"]
    assert list(data) == ["a.ipynb", "b.ipynb"]
    assert (data["a.ipynb"]["seconds"], data["b.ipynb"]["seconds"]) == (5.0, 7.0)
    with pytest.raises(ValueError, match="seconds"):
        script.record_timing(path, "c.ipynb", float("nan"))
