#!/usr/bin/env python
r"""Execute book notebooks in place, on the CPU, and save their outputs.

This is how authors refresh the committed outputs of the book: the book build renders them as
they are (``execute_notebooks: "off"``) and the test command (nbval) re-runs every notebook and
compares its outputs with the committed ones.

Usage::

    python scripts/execute_notebooks.py book/*.ipynb
    python scripts/execute_notebooks.py --timeout 900 book/08_sbtm.ipynb

Each notebook runs in a fresh ``python3`` kernel whose working directory is the notebook's folder
(``book/``), with ``CUDA_VISIBLE_DEVICES=""`` (committed outputs always come from a CPU run) and
one thread per math library (``OMP_NUM_THREADS=1`` and friends), so that outputs are the same on
every machine. Cell timings are not recorded and widget state is stored, so sliders and progress
bars render in the static HTML.

The wall time of each notebook is printed and recorded in ``_timings.json`` beside it (seconds, date, CPU
model, threads; one entry per notebook, replaced when it is executed again). From that file the script
renders ``_timings.md``, the table of chapter times that the teachers' page of the book includes: never
edit either file by hand (``tests/test_timings.py`` checks that the table is the one this script renders).
``--no-timings`` leaves both files alone.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

#: Environment of the kernels: CPU only, one thread per library.
KERNEL_ENV: dict[str, str] = {
    "CUDA_VISIBLE_DEVICES": "",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
}


def execute_notebook(path: Path, *, timeout: int = 600, kernel_name: str = "python3") -> float:
    r"""Execute the notebook at ``path`` in place and return its wall time in seconds.

    The kernel runs with ``cwd = path.parent``; outputs, execution counts and widget state are
    written back to ``path``. A failing cell raises ``nbclient.exceptions.CellExecutionError``
    and leaves the file unchanged.
    """
    import nbformat
    from nbclient import NotebookClient

    if not isinstance(path, Path):
        raise TypeError(f"path must be a pathlib.Path, got {type(path).__name__}")
    if path.suffix != ".ipynb" or not path.is_file():
        raise ValueError(f"path must be an existing .ipynb file, got {str(path)!r}")
    if not isinstance(timeout, int) or timeout <= 0:
        raise ValueError(f"timeout must be a positive int (seconds per cell), got {timeout!r}")

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name,
        record_timing=False,
        store_widget_state=True,
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return elapsed


#: Files beside the notebooks: the recorded wall times and the table rendered from them.
TIMINGS_JSON = "_timings.json"
TIMINGS_TABLE = "_timings.md"


def cpu_model() -> str:
    """The CPU model name (``/proc/cpuinfo`` on Linux, else :func:`platform.processor`), or ``"unknown CPU"``."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def record_timing(timings_path: Path, notebook: str, seconds: float) -> None:
    """Set the entry of ``notebook`` (a file name) in the JSON file ``timings_path`` (created if missing)."""
    if not (isinstance(seconds, float) and math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"seconds must be a positive finite float, got {seconds!r}")
    data: dict[str, Any] = {"notebooks": {}}
    if timings_path.is_file():
        data = json.loads(timings_path.read_text(encoding="utf-8"))
    data["about"] = ("Wall time of executing each notebook in a fresh kernel on the CPU with one thread "
                     "(scripts/execute_notebooks.py writes this file; do not edit it by hand).")
    data["notebooks"][notebook] = {
        "seconds": round(seconds, 1),
        "date": datetime.date.today().isoformat(),
        "cpu": cpu_model(),
        "threads": int(KERNEL_ENV["OMP_NUM_THREADS"]),
    }
    data["notebooks"] = dict(sorted(data["notebooks"].items()))
    timings_path.write_text(json.dumps({"about": data.pop("about"), **data}, indent=1) + "\n", encoding="utf-8")


def format_duration(seconds: float) -> str:
    """``seconds`` rounded to whole seconds, as ``"41 s"`` or ``"2 min 15 s"`` (at least ``"1 s"``)."""
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"seconds must be a non-negative finite number, got {seconds!r}")
    total = max(1, round(seconds))
    minutes, rest = divmod(total, 60)
    if minutes == 0:
        return f"{rest} s"
    return f"{minutes} min" + (f" {rest} s" if rest else "")


def render_timings_table(timings: dict[str, Any], chapters: list[Any]) -> str:
    """The markdown table of chapter times (MyST: chapter titles as ``{doc}`` links), from ``_timings.json``.

    ``chapters`` are the book's numbered chapters (:func:`landau_lite.book.student.book_chapters`); a chapter
    without a recorded time shows "not measured".
    """
    entries = timings.get("notebooks", {})
    rows = ["| Chapter | | Time on one CPU thread |", "|---:|:---|---:|"]
    total = 0.0
    machines: dict[tuple[str, int], list[str]] = {}
    missing = []
    for ch in chapters:
        entry = entries.get(ch.path.name)
        if entry is None:
            missing.append(ch.path.name)
            rows.append(f"| {ch.number} | {{doc}}`{ch.path.stem}` | not measured |")
            continue
        total += float(entry["seconds"])
        machines.setdefault((entry["cpu"], int(entry["threads"])), []).append(entry["date"])
        rows.append(f"| {ch.number} | {{doc}}`{ch.path.stem}` | {format_duration(float(entry['seconds']))} |")
    rows.append(f"| | **all {len(chapters) - len(missing)} chapters** | **{format_duration(total)}** |")
    notes = []
    for (cpu, threads), dates in machines.items():
        when = min(dates) if min(dates) == max(dates) else f"{min(dates)} to {max(dates)}"
        notes.append(f"{cpu}, {threads} thread{'s' if threads != 1 else ''}, {when}")
    text = "\n".join(rows) + "\n\n"
    text += "Measured by `scripts/execute_notebooks.py` (a fresh kernel per chapter, CPU only): " + "; ".join(notes) + "."
    return text + "\n"


def write_timings_table(book_dir: Path) -> Path | None:
    """Render ``book_dir/_timings.md`` from ``book_dir/_timings.json``; ``None`` if ``book_dir`` has no
    ``_timings.json`` or no ``_toc.yml`` (in it or its parent) listing chapters there."""
    timings_path = book_dir / TIMINGS_JSON
    if not timings_path.is_file():
        return None
    from landau_lite.book.student import book_chapters

    try:
        chapters = book_chapters(book_dir)
    except ValueError:
        return None
    if not chapters:
        return None
    table = book_dir / TIMINGS_TABLE
    table.write_text(render_timings_table(json.loads(timings_path.read_text(encoding="utf-8")), chapters),
                     encoding="utf-8")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="notebooks to execute in place")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    parser.add_argument("--kernel", default="python3", help="kernel name (default python3)")
    parser.add_argument("--no-timings", action="store_true",
                        help=f"do not record wall times in {TIMINGS_JSON} nor render {TIMINGS_TABLE}")
    args = parser.parse_args(argv)

    # Kernels inherit this process's environment.
    os.environ.update(KERNEL_ENV)

    failed: list[str] = []
    total = 0.0
    for path in args.notebooks:
        print(f"executing {path} ...", flush=True)
        try:
            elapsed = execute_notebook(path, timeout=args.timeout, kernel_name=args.kernel)
        except Exception as exc:  # report and go on with the other notebooks
            failed.append(str(path))
            print(f"FAILED    {path}: {type(exc).__name__}: {str(exc)[-2000:]}", file=sys.stderr, flush=True)
            continue
        total += elapsed
        print(f"done      {path}  {elapsed:7.1f} s", flush=True)
        if not args.no_timings:
            record_timing(path.parent / TIMINGS_JSON, path.name, elapsed)
    if not args.no_timings:
        for folder in sorted({p.parent for p in args.notebooks if (p.parent / TIMINGS_JSON).is_file()}):
            table = write_timings_table(folder)
            if table is not None:
                print(f"timings   {folder / TIMINGS_JSON} -> {table}")
    print(f"{len(args.notebooks) - len(failed)} notebook(s) executed in {total:.1f} s"
          + (f"; {len(failed)} failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
