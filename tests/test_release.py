r"""Release metadata: one version, one licence, one citation, one set of URLs.

The version lives in ``landau_lite/__init__.py``; ``pyproject.toml`` reads it (``dynamic``), and
``CITATION.cff`` and the newest ``CHANGELOG.md`` entry repeat it by hand, so a bump that forgets one of
them fails here. (That the built wheel carries the same version is checked in ``test_wheel.py``.)
The licence must be MIT in pyproject, LICENSE and CITATION.cff, with the copyright holder of the book
(``_config.yml``). ``CITATION.cff`` was validated against the CFF 1.2.0 schema with ``cffconvert
--validate``; this test keeps the fields that GitHub's "Cite this repository" and the reader rely on.
"""
from __future__ import annotations

import datetime
import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

import landau_lite

ROOT = Path(__file__).resolve().parents[1]
PAPER_ARXIV = "2510.15089"


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _cff() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))


def _config() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


def _newest_changelog_entry() -> tuple[str, str]:
    """(version, date) of the first ``## [x.y.z] - YYYY-MM-DD`` heading of CHANGELOG.md."""
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    m = re.search(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})\s*$", text, re.M)
    assert m, "CHANGELOG.md has no '## [x.y.z] - YYYY-MM-DD' entry"
    assert f"[{m[1]}]: " in text, f"CHANGELOG.md has no link reference for [{m[1]}]"
    return m[1], m[2]


def test_version_comes_from_one_place() -> None:
    project = _pyproject()["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert _pyproject()["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "landau_lite.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", landau_lite.__version__)


def test_citation_and_changelog_name_the_package_version() -> None:
    version = landau_lite.__version__
    cff = _cff()
    changelog_version, changelog_date = _newest_changelog_entry()
    assert str(cff["version"]) == version, f"CITATION.cff says {cff['version']}, landau_lite {version}"
    assert changelog_version == version, f"CHANGELOG.md's newest entry is {changelog_version}, landau_lite {version}"
    released = cff["date-released"]
    released = released.isoformat() if isinstance(released, datetime.date) else str(released)
    assert released == changelog_date, "CITATION.cff's date-released and the CHANGELOG entry disagree"


def test_licence_is_mit_everywhere() -> None:
    project = _pyproject()["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert _cff()["license"] == "MIT"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    config = _config()
    holder = f"Copyright (c) {config['copyright']} {config['author']}"
    assert holder in text, f"LICENSE must say {holder!r} (the book's _config.yml)"
    assert "THE SOFTWARE IS PROVIDED \"AS IS\"" in text


def test_citation_names_the_book_and_the_paper() -> None:
    cff = _cff()
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert cff["message"].strip() and cff["title"].strip()
    assert cff["authors"] == [{"name": _config()["author"]}]
    repo = _config()["repository"]["url"]
    assert cff["repository-code"] == repo == _pyproject()["project"]["urls"]["Repository"]
    org, name = repo.rstrip("/").split("/")[-2:]
    assert cff["url"] == f"https://{org}.github.io/{name}/" == _pyproject()["project"]["urls"]["Homepage"]

    (paper,) = [r for r in cff["references"] if any(PAPER_ARXIV in str(i["value"]) for i in r["identifiers"])]
    bib = (ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    m = re.search(r"@article\{ilin2025stability,.*?title\s*=\s*\{(.*?)\},\n", bib, re.S)
    assert m, "book/references.bib has no ilin2025stability entry"
    assert paper["title"] == m[1].replace("{", "").replace("}", "")
    assert paper["year"] == 2025 and paper["authors"][0]["family-names"] == "Ilin"
