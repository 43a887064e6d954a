r"""The student edition: every exercise, numbered as in the book; no solution; no output; still runs.

``python -m landau_lite.book student-edition OUTDIR`` is run once (module fixture) on the real book. Then:

* every ``{exercise}`` of every chapter is in the copy, in order, headed "Exercise <chapter>.<k>" with its
  label as anchor, and its statement intact; the numbers agree with the built HTML when the book is built
  (a chapter counted from the wrong part, e.g. the unnumbered front matter, would shift them);
* no line of any ``{solution}`` block survives (lines that also occur outside solutions are not used as
  evidence), and no ``{solution`` directive does;
* every code cell's source is byte-identical to the book's, with no output, no execution count, no widget
  state, and the Colab badge cell (which leads to the book's notebook with solutions) is gone.

Execution. Because the code cells are the book's own, byte for byte, and the book's notebooks are
re-executed and compared by nbval in the test command, a student copy can only fail to run through what the
edition changes in the notebook's structure (deleted cells, cleared outputs and metadata), which is the same
in every chapter. So the default run executes only the two chapters with the shortest committed run time
(``book/_timings.json``: about an eighth of the whole book's) with nbclient, in the student folder, on the CPU with
one thread, and fails on any error, including a failed ``check_*`` of the book. ``STUDENT_EDITION_EXECUTE=all``
executes every chapter (the total of ``book/_timings.json``, about two minutes on an idle machine).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from landau_lite.book.student import (COLAB_BADGE, book_chapters, student_markdown, student_notebook,
                                      write_student_edition)

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTERS = book_chapters(BOOK)

# fences of the book's directives, parsed independently of landau_lite.book.student
FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>exercise|solution)\}[^\n]*\n(?P<body>.*?)^(?P=fence)\s*$",
                   re.M | re.S)


def _markdown(nb: dict[str, Any]) -> list[str]:
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]


def _blocks(nb: dict[str, Any], name: str) -> list[str]:
    return [m["body"] for text in _markdown(nb) for m in FENCE.finditer(text) if m["name"] == name]


def _label(body: str) -> str:
    m = re.search(r"^:label:\s*(\S+)", body, re.M)
    assert m, f"exercise without a label: {body[:80]!r}"
    return m[1]


def _statement(body: str) -> list[str]:
    return [ln for ln in body.splitlines() if ln.strip() and not re.match(r"^:[\w-]+:", ln)]


@pytest.fixture(scope="module")
def edition(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("student")
    proc = subprocess.run([sys.executable, "-m", "landau_lite.book", "student-edition", str(out),
                           "--book-dir", str(BOOK)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"{len(CHAPTERS)} chapters" in proc.stdout
    return out


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def test_edition_has_every_chapter(edition: Path) -> None:
    assert len(CHAPTERS) == len(list(BOOK.glob("[0-9][0-9]_*.ipynb"))) > 0
    assert [c.number for c in CHAPTERS] == list(range(1, len(CHAPTERS) + 1))
    assert sorted(p.name for p in edition.glob("*.ipynb")) == sorted(c.path.name for c in CHAPTERS)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.path.stem)
def test_exercises_survive_numbered_and_solutions_do_not(chapter: Any, edition: Path) -> None:
    book_nb = _load(chapter.path)
    student_nb = _load(edition / chapter.path.name)
    student_text = "\n".join(_markdown(student_nb))

    exercises = _blocks(book_nb, "exercise")
    solutions = _blocks(book_nb, "solution")
    assert exercises and solutions, "the chapter should have exercises and solutions"
    headings = re.findall(r'^<a id="([^"]+)"></a>\n### Exercise (\d+)\.(\d+)$', student_text, re.M)
    assert [h[0] for h in headings] == [_label(b) for b in exercises], "an exercise is missing or out of order"
    assert [(int(h[1]), int(h[2])) for h in headings] == [(chapter.number, k) for k in range(1, len(exercises) + 1)]
    for body in exercises:
        for line in _statement(body):
            assert line in student_text, f"exercise {_label(body)} lost the line {line!r}"

    outside = "\n".join(FENCE.sub("", text) for text in _markdown(book_nb))
    outside += "\n".join("".join(c["source"]) for c in book_nb["cells"] if c["cell_type"] == "code")
    evidence = [ln for body in solutions for ln in _statement(body) if len(ln.strip()) > 12 and ln not in outside]
    assert len(evidence) >= len(solutions), "too few solution lines to test with"
    leaked = [ln for ln in evidence if ln in student_text]
    assert not leaked, f"solution text in the student copy: {leaked[:3]}"
    assert "{solution" not in student_text and "{exercise" not in student_text


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.path.stem)
def test_code_unchanged_outputs_cleared(chapter: Any, edition: Path) -> None:
    book_nb = _load(chapter.path)
    student_nb = _load(edition / chapter.path.name)
    code = [c for c in student_nb["cells"] if c["cell_type"] == "code"]
    assert ["".join(c["source"]) for c in code] == \
        ["".join(c["source"]) for c in book_nb["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    assert any(c["outputs"] for c in book_nb["cells"] if c["cell_type"] == "code"), "book has outputs to clear"
    assert "widgets" not in student_nb["metadata"]
    assert not any(COLAB_BADGE in "".join(c["source"]) for c in student_nb["cells"])
    assert student_nb["nbformat"] == 4 and "kernelspec" in student_nb["metadata"]


def test_numbers_match_the_built_book(edition: Path) -> None:
    html_dir = ROOT / "_build" / "html" / "book"
    if not html_dir.is_dir():
        pytest.skip("the book is not built (_build/html)")
    for chapter in CHAPTERS:
        html = (html_dir / f"{chapter.path.stem}.html").read_text(encoding="utf-8")
        in_book = re.findall(r'<div class="exercise admonition" id="([^"]+)">\s*<p class="admonition-title">'
                             r'<span class="caption-number">Exercise (\d+\.\d+) </span>', html)
        text = "\n".join(_markdown(_load(edition / chapter.path.name)))
        in_copy = re.findall(r'^<a id="([^"]+)"></a>\n### Exercise (\d+\.\d+)$', text, re.M)
        assert in_book and in_copy == in_book, f"{chapter.path.name}: book {in_book}, student copy {in_copy}"


def _to_execute() -> list[Any]:
    if os.environ.get("STUDENT_EDITION_EXECUTE", "").lower() == "all":
        return CHAPTERS
    timings = json.loads((BOOK / "_timings.json").read_text(encoding="utf-8"))["notebooks"]
    return sorted(CHAPTERS, key=lambda c: timings[c.path.name]["seconds"])[:2]


@pytest.mark.parametrize("chapter", _to_execute(), ids=lambda c: c.path.stem)
def test_student_copy_executes(chapter: Any, edition: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat
    from nbclient import NotebookClient

    for key, value in {"CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                       "OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}.items():
        monkeypatch.setenv(key, value)   # the kernel inherits this environment
    nb = nbformat.read(edition / chapter.path.name, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(edition)}}).execute()
    assert any(o.get("name") == "stdout" and "✓ " in o.get("text", "")
               for c in nb.cells if c.cell_type == "code" for o in c.outputs), "no visible check ran"


# -- the markdown transformation on its own ----------------------------------------------------------------

def test_colon_fences_nested_code_titles_and_nonumber() -> None:
    md = "\n".join([
        ":::{exercise} Warm-up",
        ":label: ex-w",
        "Compute $x$.",
        ":::",
        "",
        "::::{solution} ex-w",
        "```python",
        "print(42)",
        "```",
        "::::",
        "",
        "```{exercise}",
        ":nonumber:",
        "Think.",
        "```",
        "",
        "````{exercise}",
        "Run",
        "```python",
        "x = 1",
        "```",
        "````",
        "Done.",
    ])
    text, count = student_markdown(md, chapter=4, first=3)
    assert count == 2
    assert "print(42)" not in text and "{solution" not in text
    assert '<a id="ex-w"></a>\n### Exercise 4.3 (Warm-up)\n\nCompute $x$.' in text
    assert "### Exercise\n\nThink." in text
    assert "### Exercise 4.4\n\nRun\n```python\nx = 1\n```" in text
    assert text.endswith("Done.")


@pytest.mark.parametrize(("md", "match"), [
    ("```{solution} ex-a\nnever closed\n", "unclosed"),
    ("```{solution-start} ex-a\ntext\n```\n", "gated"),
    ("{solution}`x` inline\n", "solution is left"),
])
def test_refuses_what_could_leak_a_solution(md: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        student_markdown(md, chapter=1)


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="chapter"):
        student_markdown("text", chapter=0)
    with pytest.raises(TypeError, match="nbformat-4"):
        student_notebook({"cells": []}, chapter=1)
    with pytest.raises(ValueError, match="book_dir"):
        book_chapters(tmp_path / "missing")
    with pytest.raises(ValueError, match="_toc.yml"):
        book_chapters(tmp_path)
    # a throw-away book: the student copies must never replace the chapters
    (tmp_path / "book").mkdir()
    (tmp_path / "_toc.yml").write_text((ROOT / "_toc.yml").read_text(encoding="utf-8"), encoding="utf-8")
    chapter = tmp_path / "book" / CHAPTERS[0].path.name
    chapter.write_bytes(CHAPTERS[0].path.read_bytes())
    with pytest.raises(ValueError, match="must not be the book's own folder"):
        write_student_edition(tmp_path / "book", book_dir=tmp_path / "book")
    assert chapter.read_bytes() == CHAPTERS[0].path.read_bytes()
    proc = subprocess.run([sys.executable, "-m", "landau_lite.book", "student-edition", str(tmp_path / "out"),
                           "--book-dir", str(tmp_path / "missing")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "book_dir must be an existing folder" in proc.stderr
