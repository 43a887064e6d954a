"""``python -m landau_lite run|bench ...`` (see :mod:`landau_lite.cli`)."""

from landau_lite.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
