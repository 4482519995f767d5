#!/usr/bin/env bash
# On a machine with an NVIDIA GPU and `pip install -e '.[cuda,test]'`: the GPU
# tests for real (the simulator cases run on the GPU itself; the PTX check;
# the conformance listing), then the GPU benchmarks as one table
# (benchmarks/gpu_check.py: fused chain vs copy bandwidth, matmul and softmax vs
# PyTorch CUDA, MLP 784-512-512-10 and LeNet-style Adam steps on /gpu:0 vs /cpu:0).
# < 8 minutes. `python -m benchmarks.gpu_check --tiny` checks the script at toy
# sizes (also under the CUDA simulator). Not run yet: no GPU was lent (issue #12).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export NBFLOW_CACHE_DIR="${NBFLOW_CACHE_DIR:-$PWD/.gpu-cache}"
$PY -c "import nbflow as tf, sys; ok = tf.test.is_gpu_available(); print('GPU available:', ok, tf.config.list_physical_devices('GPU')); sys.exit(0 if ok else 1)"
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv || true
# The simulator cases, on the real GPU (same file; no simulator variables).
timeout 300 $PY -m pytest -q -p no:cacheprovider tests/cuda_sim_cases.py tests/test_cuda_conformance.py
timeout 150 $PY tests/cuda_ptx_check.py | tail -3
timeout 300 $PY -m benchmarks.gpu_check
