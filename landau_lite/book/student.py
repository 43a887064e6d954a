r"""The student edition of the book: the chapters without solutions and without outputs.

A chapter notebook states its exercises and their solutions as sphinx-exercise directives in markdown
cells, fenced with backticks or colons::

    ```{exercise}                      ````{solution} ex-ch1-critical
    :label: ex-ch1-critical            :class: dropdown
                                       ...
    Show that ...                      ```python
    ```                                ...
                                       ```
                                       ````

The book numbers the exercises per chapter ("Exercise 3.2" is the second numbered exercise of chapter 3;
the chapters are numbered in the order of the numbered parts of ``_toc.yml``). The student copy of a
chapter

* drops every ``{solution}`` block (and refuses to write a copy in which the word ``{solution`` is left);
* turns every ``{exercise}`` block into plain markdown headed "Exercise 3.2", so that it reads the same in
  Jupyter, Colab and on GitHub, which do not render MyST directives;
* clears every code cell's outputs and execution count, the saved widget state, and the "Open in Colab"
  badge cell (the badge leads to the book's notebook, solutions included).

Command line::

    python -m landau_lite.book student-edition OUTDIR [--book-dir book]

Example:
    >>> md = '''Try this.
    ...
    ... ```{exercise}
    ... :label: ex-a
    ...
    ... Show that $1+1=2$.
    ... ```
    ...
    ... ```{solution} ex-a
    ... :class: dropdown
    ...
    ... Count.
    ... ```
    ... '''
    >>> text, count = student_markdown(md, chapter=3, first=2)
    >>> print(text)
    Try this.
    <BLANKLINE>
    <a id="ex-a"></a>
    ### Exercise 3.2
    <BLANKLINE>
    Show that $1+1=2$.
    <BLANKLINE>
    >>> count
    1
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Chapter", "book_chapters", "student_markdown", "student_notebook", "write_student_edition",
           "COLAB_BADGE"]

#: The image of the "Open in Colab" badge; a markdown cell showing it is left out of the student copy.
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"

# An opening fence of an exercise or solution directive: up to 3 spaces, >= 3 backticks or colons.
_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|:{3,})\{(?P<name>exercise|solution)(?P<gated>-start|-end)?\}(?P<arg>.*)$")
_OPTION = re.compile(r"^:(?P<key>[A-Za-z-]+):(?P<value>.*)$")


@dataclass(frozen=True)
class Chapter:
    """A numbered chapter of the book: its number in the book and its notebook file."""

    number: int
    path: Path


def book_chapters(book_dir: Path | str) -> list[Chapter]:
    """The numbered chapters of ``_toc.yml`` that are notebooks in ``book_dir``, in reading order.

    ``_toc.yml`` is looked for in ``book_dir`` and then in its parent (this repository keeps it at the root,
    beside ``book/``). Chapters are numbered continuously across the parts marked ``numbered: true``, as
    Jupyter Book numbers them; entries of unnumbered parts (front and back matter) are not chapters.
    Every numbered entry takes a number, but only ``.ipynb`` entries are returned.
    """
    book_dir = Path(book_dir)
    if not book_dir.is_dir():
        raise ValueError(f"book_dir must be an existing folder holding the chapter notebooks, got {str(book_dir)!r}")
    toc_path = next((p / "_toc.yml" for p in (book_dir, book_dir.parent) if (p / "_toc.yml").is_file()), None)
    if toc_path is None:
        raise ValueError(f"no _toc.yml in {str(book_dir)!r} or its parent: pass the book's folder as book_dir")
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - PyYAML comes with the book's requirements
        raise ImportError("reading _toc.yml needs PyYAML: pip install pyyaml") from exc
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    if not isinstance(toc, dict):
        raise ValueError(f"{toc_path} is not a Jupyter Book table of contents (a YAML mapping)")

    parts = toc.get("parts") or [toc]   # a toc without parts: its own `chapters` and `numbered`
    chapters: list[Chapter] = []
    number = 0
    for part in parts:
        if not part.get("numbered", False):
            continue
        for entry in part.get("chapters") or []:
            if "file" not in entry:
                continue
            number += 1
            path = (toc_path.parent / str(entry["file"])).with_suffix(".ipynb")
            if path.is_file() and path.parent.resolve() == book_dir.resolve():
                chapters.append(Chapter(number, path))
    return chapters


def _fence_end(lines: list[str], start: int, fence: str) -> int:
    """Index of the line closing the fence opened at ``lines[start]`` (CommonMark: same character, at least
    as long, nothing else on the line)."""
    close = re.compile(r"^ {0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*$")
    for i in range(start + 1, len(lines)):
        if close.match(lines[i]):
            return i
    raise ValueError(f"unclosed {fence}{{...}} block opened at line {start + 1}: {lines[start]!r}")


def student_markdown(markdown: str, chapter: int, first: int = 1) -> tuple[str, int]:
    """The markdown of a cell without its solutions, with its exercises numbered ``chapter.first``, ...

    Returns the new text and the number of numbered exercises in it (those without ``:nonumber:``), so that
    the next cell continues the count. Raises ``ValueError`` on gated ``{solution-start}`` blocks (not
    supported) and on an unclosed fence.
    """
    if not isinstance(chapter, int) or chapter < 1:
        raise ValueError(f"chapter must be a positive int, got {chapter!r}")
    if not isinstance(first, int) or first < 1:
        raise ValueError(f"first must be a positive int, got {first!r}")
    lines = markdown.split("\n")
    out: list[str] = []
    numbered = 0
    i = 0
    while i < len(lines):
        m = _OPEN.match(lines[i])
        if m is None:
            out.append(lines[i])
            i += 1
            continue
        if m["gated"]:
            raise ValueError(f"gated {{{m['name']}{m['gated']}}} blocks are not supported: {lines[i]!r}")
        end = _fence_end(lines, i, m["fence"])
        if m["name"] == "exercise":
            body = lines[i + 1:end]
            options: dict[str, str] = {}
            while body and (opt := _OPTION.match(body[0])):
                options[opt["key"]] = opt["value"].strip()
                body = body[1:]
            while body and not body[0].strip():
                body = body[1:]
            if "nonumber" in options:
                heading = "Exercise"
            else:
                heading = f"Exercise {chapter}.{first + numbered}"
                numbered += 1
            title = m["arg"].strip()
            if title:
                heading += f" ({title})"
            if "label" in options:
                out.append(f'<a id="{options["label"]}"></a>')
            out.append(f"### {heading}")
            out.append("")
            out.extend(body)
        # a solution block is dropped, with the blank line after it
        i = end + 1
        if m["name"] == "solution" and i < len(lines) and not lines[i].strip() and out and not out[-1].strip():
            i += 1
    text = "\n".join(out).rstrip("\n") + ("\n" if markdown.endswith("\n") else "")
    if "{solution" in text:
        raise ValueError(f"a solution is left in the student copy (unsupported syntax?): {text[:200]!r}")
    return text, numbered


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def student_notebook(notebook: dict[str, Any], chapter: int) -> dict[str, Any]:
    """A copy of a chapter notebook (nbformat 4 JSON as a dict) as students get it.

    Solutions dropped, exercises numbered ``chapter.1``, ``chapter.2``, ... across the markdown cells, code
    outputs and execution counts cleared, saved widget state and the Colab badge cell removed. The input is
    not modified.
    """
    if not isinstance(notebook, dict) or notebook.get("nbformat") != 4 or "cells" not in notebook:
        raise TypeError("notebook must be an nbformat-4 notebook as a dict (json.load of an .ipynb)")
    nb = copy.deepcopy(notebook)
    nb.get("metadata", {}).pop("widgets", None)
    cells = []
    count = 0
    for cell in nb["cells"]:
        if cell.get("cell_type") == "markdown":
            src = _source(cell)
            if COLAB_BADGE in src:
                continue
            src, n = student_markdown(src, chapter, first=count + 1)
            count += n
            cell["source"] = src
        elif cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
            cell.get("metadata", {}).pop("execution", None)
        cells.append(cell)
    nb["cells"] = cells
    return nb


def write_student_edition(out_dir: Path | str, book_dir: Path | str = "book") -> list[Path]:
    """Write the student copy of every chapter of ``book_dir`` into ``out_dir``; return the written paths.

    ``out_dir`` is created if needed and must not be ``book_dir`` itself (the copies would replace the
    chapters). File names are the chapters' names.
    """
    out_dir, book_dir = Path(out_dir), Path(book_dir)
    chapters = book_chapters(book_dir)
    if not chapters:
        raise ValueError(f"no numbered chapter notebooks of _toc.yml found in {str(book_dir)!r}")
    if out_dir.exists() and out_dir.resolve() == book_dir.resolve():
        raise ValueError("out_dir must not be the book's own folder: the copies would replace the chapters")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for ch in chapters:
        notebook = json.loads(ch.path.read_text(encoding="utf-8"))
        target = out_dir / ch.path.name
        target.write_text(json.dumps(student_notebook(notebook, ch.number), indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")
        written.append(target)
    return written
