#!/usr/bin/env bash
# The GPU check of landau_lite (see benchmarks/device_check.py): on one CUDA GPU, in at most ~8 minutes,
# device tests + every notebook at GPU sizes + kernel timings, one JSON report in benchmarks/results/.
#
#   bash scripts/device_check.sh               # on a CUDA machine
#   bash scripts/device_check.sh --cpu-smoke   # tiny sizes on the CPU (the test command runs this)
#
# It uses the python3 on PATH (a CUDA torch there; do not install requirements.txt, which pins the CPU torch) and
# installs the package itself without dependencies; missing helpers (nbclient, ipykernel, ...) are installed from
# ./.whl/ when that folder exists (wheels carried to a machine without network), else from the package index.
set -uo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
need=$("$py" - <<'PY'
import importlib.util
mods = {"nbclient": "nbclient", "nbformat": "nbformat", "ipykernel": "ipykernel", "matplotlib": "matplotlib",
        "tqdm": "tqdm", "scipy": "scipy", "pytest": "pytest", "ipywidgets": "ipywidgets", "IPython": "ipython"}
print(" ".join(pkg for mod, pkg in mods.items() if importlib.util.find_spec(mod) is None))
PY
)
if [ -n "$need" ]; then
    echo "device_check: installing $need"
    if [ -d .whl ]; then "$py" -m pip install -q --no-index --find-links .whl $need || exit 1
    else "$py" -m pip install -q $need || exit 1; fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}
exec "$py" benchmarks/device_check.py "$@"
