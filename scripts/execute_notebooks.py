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
bars render in the static HTML. The wall time of each notebook is printed.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="notebooks to execute in place")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    parser.add_argument("--kernel", default="python3", help="kernel name (default python3)")
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
    print(f"{len(args.notebooks) - len(failed)} notebook(s) executed in {total:.1f} s"
          + (f"; {len(failed)} failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
