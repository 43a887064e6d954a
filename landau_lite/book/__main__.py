r"""``python -m landau_lite.book student-edition OUTDIR [--book-dir DIR]``: the book's teaching tools.

``student-edition`` writes a copy of every chapter of the book into ``OUTDIR`` without the solutions and
without outputs, with the exercises numbered as in the book (see :mod:`landau_lite.book.student`).
``--book-dir`` is the folder of the chapter notebooks (default ``book``, i.e. run it from the root of a
clone of the repository); ``_toc.yml`` is read from that folder or its parent.

Exit codes: 0 success, 2 bad arguments (argparse style, or a book folder without chapters).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m landau_lite.book``."""
    parser = argparse.ArgumentParser(prog="python -m landau_lite.book", description="Teaching tools of the book.")
    sub = parser.add_subparsers(dest="command", required=True)
    student = sub.add_parser(
        "student-edition",
        help="copy the chapters without solutions and outputs",
        description="Write the chapters of the book without solutions and without outputs into OUTDIR, "
                    "with the exercises numbered as in the book.",
    )
    student.add_argument("outdir", type=Path, help="folder to write the student notebooks into (created)")
    student.add_argument("--book-dir", type=Path, default=Path("book"),
                         help="folder of the chapter notebooks; _toc.yml is read from it or its parent "
                              "(default: book, from the repository root)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    from .student import write_student_edition

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        written = write_student_edition(args.outdir, book_dir=args.book_dir)
    except ValueError as exc:
        parser.error(str(exc))
    for path in written:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        exercises = sum(1 for c in cells if c["cell_type"] == "markdown"
                        for line in "".join(c["source"]).splitlines() if line.startswith("### Exercise"))
        print(f"wrote {path}  ({exercises} exercises)")
    print(f"student edition: {len(written)} chapters in {args.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
