r"""Every notebook of the book opens on Colab from its first cell, and the offline HTML never shows the badge.

A notebook opened on GitHub or downloaded alone has no rocket icon, so each ``book/*.ipynb`` starts with a
markdown cell holding the standard "Open in Colab" badge linked to *that* notebook on the repository's
branch (``_config.yml``). The badge image lives on colab.research.google.com, and the book must render
offline (``tests/test_book_pages.py`` fails on any external request), so the badge cell carries the cell
tag ``remove-cell``: MyST-NB drops it from the HTML, and the rocket icon does its job there.
Wrong chapter in the link (a copied cell), a missing tag, or the badge reaching the built HTML fail here.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
HTML_DIR = ROOT / "_build" / "html"


def _colab_url(notebook: Path) -> str:
    repo = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]
    org_repo = "/".join(repo["url"].rstrip("/").split("/")[-2:])
    return f"https://colab.research.google.com/github/{org_repo}/blob/{repo['branch']}/{notebook.relative_to(ROOT)}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_starts_with_its_colab_badge(notebook: Path) -> None:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    badge, title = cells[0], cells[1]
    source = "".join(badge["source"])
    assert badge["cell_type"] == "markdown"
    assert source.strip() == f"[![Open In Colab]({BADGE})]({_colab_url(notebook)})"
    assert "remove-cell" in badge["metadata"].get("tags", []), "the badge cell must be hidden from the HTML"
    assert title["cell_type"] == "markdown" and "".join(title["source"]).startswith("# "), \
        "the title cell follows the badge"
    others = [i for i, c in enumerate(cells[1:], 1) if BADGE in "".join(c["source"])]
    assert not others, f"a second badge in cells {others}"


def test_built_pages_do_not_load_the_badge() -> None:
    pages = sorted(HTML_DIR.glob("book/*.html"))
    if not pages:
        pytest.skip(f"the book is not built ({HTML_DIR})")
    leaking = [p.name for p in pages if BADGE in p.read_text(encoding="utf-8")]
    assert not leaking, f"the Colab badge image is in {leaking} (external request in the offline book)"
