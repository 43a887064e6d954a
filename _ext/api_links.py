"""Sphinx extension of the book's API reference: links to re-exported and inherited names.

The package documents every object once, in the module that defines it (``landau_lite.run.Run``), but its
docstrings, like its users, also name objects where they are re-exported (``landau_lite.simulate``,
``landau_lite.scores.ScoreMethod``, ``Run`` inside ``landau_lite.solver``) and members through a subclass
(``BKW.sample``, defined on ``Problem``). For a Python cross-reference that Sphinx could not resolve, this
extension imports the name, follows it to the object's defining module (``__module__``/``__qualname__``) or,
for a member, to the class of the MRO that defines it, and links there when that target is documented.
A name that is documented nowhere still fails the strict build (``-n``): nothing is silenced.
"""

from __future__ import annotations

import importlib
from typing import Any

PACKAGE = "landau_lite"


def _import_path(path: str) -> Any | None:
    """The object named by a dotted path (``pkg.mod.Class.attr``), or ``None``."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except Exception:  # noqa: BLE001 - not a module (or not importable): try a shorter prefix
            continue
        for name in parts[cut:]:
            try:
                obj = getattr(obj, name)
            except AttributeError:
                return None
        return obj
    return None


def _canonical_paths(target: str, module: str | None, cls: str | None) -> list[str]:
    """Dotted paths under which the object that ``target`` names may be documented."""
    scopes = []
    if module and cls:
        scopes.append(f"{module}.{cls}.")
    if module:
        scopes.append(f"{module}.")
    scopes.append("")
    out: list[str] = []
    for scope in scopes:
        full = scope + target
        if not full.startswith(PACKAGE + "."):
            continue
        obj = _import_path(full)
        if obj is None:
            continue
        # a re-exported object: where it is defined
        mod, qual = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
        if isinstance(mod, str) and isinstance(qual, str) and "<" not in qual:
            out.append(f"{mod}.{qual}")
        # a member reached through a class: every class of the MRO that defines it
        owner_path, _, member = full.rpartition(".")
        owner = _import_path(owner_path)
        if isinstance(owner, type):
            for klass in owner.__mro__:
                if member in vars(klass) and klass.__module__.startswith(PACKAGE):
                    out.append(f"{klass.__module__}.{klass.__qualname__}.{member}")
    return [p for p in dict.fromkeys(out) if p != target]


def resolve_reexport(app: Any, env: Any, node: Any, contnode: Any) -> Any | None:
    """``missing-reference`` handler: retry a Python reference at the object's documented location."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    if not target or target.startswith("."):
        return None
    domain = env.get_domain("py")
    for path in _canonical_paths(target, node.get("py:module"), node.get("py:class")):
        found = domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], path, node, contnode)
        if found is not None:
            return found
    return None


def setup(app: Any) -> dict[str, Any]:
    app.connect("missing-reference", resolve_reexport)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
