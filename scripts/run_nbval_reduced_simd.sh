#!/usr/bin/env bash
# The notebooks' committed outputs must not depend on the CPU's instruction set. This re-runs nbval with
# numpy's SIMD dispatch held back to its baseline (no AVX2/AVX-512 kernels) and torch's ATen kernels at their
# portable default level, which reproduces the round-off of an older CPU on this one.
#
#   bash scripts/run_nbval_reduced_simd.sh [book/NN_chapter.ipynb ...]   (default: every chapter)
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export CUDA_VISIBLE_DEVICES="" OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 PYTHONHASHSEED=0
export NPY_DISABLE_CPU_FEATURES="X86_V3 X86_V4 AVX512_ICL AVX512_SPR"
export ATEN_CPU_CAPABILITY=default
python - <<'PY'
import numpy, torch
from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
on = [k for k in __cpu_dispatch__ if __cpu_features__.get(k)]
print(f"reduced SIMD: numpy dispatch targets enabled: {on or 'none'}; torch CPU capability: "
      f"{torch.backends.cpu.get_cpu_capability()}")
PY
if [ "$#" -eq 0 ]; then set -- book/*.ipynb; fi
python -m pytest -p no:cacheprovider -q --nbval --nbval-current-env \
    --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=600 "$@"
