#!/usr/bin/env bash
# On a machine with an NVIDIA GPU and `pip install -e '.[cuda,test]'`: the GPU
# tests for real (the simulator cases run on the GPU itself; the PTX check),
# then a few GPU benchmarks as one table (benchmarks/gpu_check.py). < 8 minutes.
# Not runnable without a GPU (issue #12).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export NBFLOW_CACHE_DIR="${NBFLOW_CACHE_DIR:-$PWD/.gpu-cache}"
$PY -c "import nbflow as tf, sys; ok = tf.test.is_gpu_available(); print('GPU available:', ok, tf.config.list_physical_devices('GPU')); sys.exit(0 if ok else 1)"
# The simulator cases, on the real GPU (same file; no simulator variables).
timeout 300 $PY -m pytest -q -p no:cacheprovider tests/cuda_sim_cases.py
timeout 120 $PY tests/cuda_ptx_check.py
timeout 300 $PY -m benchmarks.gpu_check
