r"""The package as others install it: an sdist, a wheel built from it, and a fresh venv with only the
declared dependencies, where the README's quick start and the command line run.

1. ``python -m build --no-isolation`` builds the sdist from the repository and the wheel *from the sdist*
   (so a file missing from the sdist breaks the wheel). Build isolation is off so that nothing is
   downloaded: ``build`` and ``setuptools`` come from requirements.txt.
2. The wheel holds ``landau_lite`` (every ``.py`` of the repository's package, all subpackages) and its
   ``.dist-info``, nothing else: no ``tests/``, no notebook. Its version is ``landau_lite.__version__``.
3. A fresh venv gets the declared dependencies only: the wheel's ``Requires-Dist`` and, recursively, theirs
   are linked from the environment running this test into one folder that the venv sees through a ``.pth``
   file (the CPU torch already installed is reused; nothing large is copied or downloaded). pip installs the
   wheel with ``--no-index`` and its report must list the wheel alone: every dependency was satisfied.
4. In that venv, from a folder outside the repository, the README's quick start (its first python block
   that imports ``landau_lite``) runs, ``landau_lite`` is the installed copy, and
   ``python -m landau_lite run --help`` and the ``landau-lite`` script answer. An import of anything not
   declared (``yaml``, ``nbformat``, ``ipywidgets`` ...) at import time fails here.

Without the ``build`` package the test skips, unless ``CI`` is set or ``WHEEL_CHECK=required``.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import landau_lite

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = bool(os.environ.get("CI")) or os.environ.get("WHEEL_CHECK", "").lower() == "required"


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: int = 180) -> str:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _clean_env() -> dict[str, str]:
    """This environment without the repository on the path and without pip's configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_", "VIRTUAL_ENV"))}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _quick_start() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "import landau_lite" in b]
    assert blocks, "README.md has no python block that imports landau_lite"
    return blocks[0]


def _link_dependencies(requires: list[str], into: Path) -> list[str]:
    """Symlink the installed distributions of ``requires`` (recursively) into ``into``; return their names."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    into.mkdir()
    todo = [(r, frozenset()) for r in requires]
    seen: dict[str, importlib.metadata.Distribution] = {}
    while todo:
        text, extras = todo.pop()
        req = Requirement(text)
        if req.marker and not any(req.marker.evaluate({"extra": e}) for e in extras | {""}):
            continue
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        try:
            dist = importlib.metadata.distribution(req.name)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"declared dependency {req.name} is not installed here (pip install -r requirements.txt)")
        seen[name] = dist
        todo.extend((r, frozenset(req.extras)) for r in dist.requires or [])
        assert dist.files, f"{req.name} has no RECORD: cannot tell its files"
        for top in {f.parts[0] for f in dist.files if f.parts[0] != ".."}:
            target = into / top
            if not target.exists():
                target.symlink_to(Path(dist.locate_file(top)).resolve())
    return sorted(seen)


def test_wheel_installs_with_declared_dependencies_and_runs(tmp_path: Path) -> None:
    if importlib.util.find_spec("build") is None:
        reason = "the build package is not installed (pip install -r requirements.txt)"
        if REQUIRED:
            pytest.fail(reason)
        pytest.skip(reason)
    version = landau_lite.__version__
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, ROOT], cwd=tmp_path, timeout=300)
    assert sorted(p.name for p in dist.iterdir()) == \
        [f"landau_lite-{version}-py3-none-any.whl", f"landau_lite-{version}.tar.gz"]
    wheel = dist / f"landau_lite-{version}-py3-none-any.whl"

    # -- what the wheel holds ------------------------------------------------------------------------------
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"landau_lite", f"landau_lite-{version}.dist-info"}
    package = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "landau_lite").rglob("*.py"))
    missing = [p for p in package if p not in names]
    assert not missing, f"modules missing from the wheel: {missing}"
    for sub in ("analysis", "book", "scores"):
        assert f"landau_lite/{sub}/__init__.py" in names
    assert not [n for n in names if n.startswith("tests/") or "/tests/" in n or n.endswith(".ipynb")]
    metadata = zipfile.ZipFile(wheel).read(f"landau_lite-{version}.dist-info/METADATA").decode()
    assert f"\nVersion: {version}\n" in metadata and "\nLicense-Expression: MIT\n" in metadata
    requires = re.findall(r"^Requires-Dist: (.+)$", metadata, re.M)
    assert requires, "the wheel declares no dependency"

    # -- a fresh venv with the declared dependencies only --------------------------------------------------
    deps = _link_dependencies(requires, tmp_path / "deps")
    assert "torch" in deps and "jupyter-book" not in deps and "pyyaml" not in deps
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp_path)
    python = venv / "bin" / "python"
    purelib = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        cwd=tmp_path, env=_clean_env()).strip())
    (purelib / "_declared_dependencies.pth").write_text(f"{tmp_path / 'deps'}\n", encoding="utf-8")
    report = tmp_path / "pip-report.json"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-index", "--no-cache-dir",
          "--find-links", dist, "--report", report, wheel], cwd=tmp_path, env=_clean_env(), timeout=300)
    installed = [item["metadata"]["name"] for item in json.loads(report.read_text(encoding="utf-8"))["install"]]
    assert installed == ["landau_lite"], f"pip installed {installed}: a dependency was not satisfied"

    # -- the README's quick start and the command line, outside the repository -----------------------------
    work = tmp_path / "work"
    work.mkdir()
    check = ("\nimport landau_lite\n"
             "print('installed at', landau_lite.__file__)\n"
             "print('version', landau_lite.__version__)\n"
             "print('velocities', tuple(u.shape) == tuple(x.shape) and bool(u.isfinite().all()))\n")
    out = _run([python, "-c", _quick_start() + check], cwd=work, env=_clean_env())
    assert f"installed at {purelib}" in out.replace(str(purelib.resolve()), str(purelib)), out
    assert f"version {version}" in out and "velocities True" in out, out
    out = _run([python, "-m", "landau_lite", "run", "--help"], cwd=work, env=_clean_env())
    assert "--problem" in out and "--score" in out
    out = _run([venv / "bin" / "landau-lite", "--help"], cwd=work, env=_clean_env())
    assert "run" in out and "bench" in out
