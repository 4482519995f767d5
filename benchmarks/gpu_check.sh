#!/usr/bin/env bash
# On a machine with an NVIDIA GPU and `pip install -e '.[cuda,test]'`: the GPU
# tests for real (the simulator cases run on the GPU itself; the PTX check;
# the conformance listing), then the GPU benchmarks as one table
# (benchmarks/gpu_check.py: fused chain vs copy bandwidth, matmul and softmax vs
# PyTorch CUDA, MLP 784-512-512-10 and LeNet-style Adam steps on /gpu:0 vs /cpu:0), and,
# with the cuda-blas extra, cuBLAS (nvmath-python) against the tiled kernel and PyTorch.
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
# cuBLAS through nvmath-python (the cuda-blas extra; unverified on hardware until this runs): the
# registered MatMul/BatchMatMulV2 GPU kernels through cuBLAS against numpy (four transposes, a broadcast
# batch), then one 4096^2 float32 product by cuBLAS, by the tiled kernel and by PyTorch CUDA, in one
# process, alternating, best of 5 per round, two rounds.
timeout 240 $PY - <<'PYEOF'
import numpy as np

from benchmarks.gpu_check import timed  # best of 5 after a warm-up call
from nbflow.backends.cuda import blas

if not blas.available():
    print("cuBLAS: nvmath-python is not installed (pip install 'nbflow[cuda-blas]'): skipped")
    raise SystemExit(0)
from numba import cuda

import nbflow as tf
from nbflow.backends.devices import local_devices
from nbflow.framework import context
from nbflow.kernels.cuda import cublas as CB, linalg

blas.set_enabled(True)  # an error, not a silent tiled kernel, if cuBLAS cannot run
rng = np.random.RandomState(0)
with context.eager_mode():
    for ta in (False, True):
        for tb in (False, True):
            a = rng.randn(*((70, 50) if ta else (50, 70))).astype(np.float32)
            b = rng.randn(*((30, 70) if tb else (70, 30))).astype(np.float32)
            got = tf.matmul(a, b, transpose_a=ta, transpose_b=tb)
            want = (a.T if ta else a) @ (b.T if tb else b)
            err = float(np.abs(got.numpy() - want).max() / np.abs(want).max())
            print("cuBLAS MatMul transpose_a=%d transpose_b=%d on %s: max rel err %.1e" % (ta, tb, got.device, err))
            assert got.device.endswith("GPU:0") and err < 1e-5
    x, y = rng.randn(3, 20, 40), rng.randn(40, 10)
    err = float(np.abs(tf.matmul(x, y).numpy() - x @ y).max())
    print("cuBLAS BatchMatMulV2 [3,20,40] x [40,10] float64: max abs err %.1e" % err)
    assert err < 1e-10

m = 4096
gpu = next(d for d in local_devices() if d.device_type == "GPU")
a = cuda.to_device(rng.rand(m, m).astype(np.float32))
b = cuda.to_device(rng.rand(m, m).astype(np.float32))
c_blas, c_tiled = cuda.device_array((m, m), np.float32), cuda.device_array((m, m), np.float32)
gemm, g = CB.Gemm(blas.bindings(), np.float32, blas.DeviceHandle(gpu)), CB.gemm_args((m, m), (m, m), False, False)
kernel, (blocks, threads) = linalg.get_kernel(np.float32), linalg.grid(m, m)
runs = {"cuBLAS (nvmath-python)": (lambda: gemm.run(a, b, c_blas, g), cuda.synchronize),
        "tiled kernel (16x16)": (lambda: kernel[blocks, threads](a.reshape(m * m), b.reshape(m * m),
                                                                   c_tiled.reshape(m * m), m, m, m, m, 1, m, 1),
                                 cuda.synchronize)}
try:
    import torch
except ImportError:
    torch = None
if torch is not None and torch.cuda.is_available():
    ta, tb = torch.from_numpy(a.copy_to_host()).cuda(), torch.from_numpy(b.copy_to_host()).cuda()
    runs["PyTorch CUDA"] = (lambda: ta @ tb, torch.cuda.synchronize)
else:
    print("(no PyTorch with CUDA here: the cuBLAS-vs-PyTorch row is not measured)")


best = {name: [] for name in runs}
for _ in range(2):
    for name, (fn, sync) in runs.items():
        best[name].append(timed(fn, sync))
diff = float(np.abs(c_blas.copy_to_host() - c_tiled.copy_to_host()).max())
print("matmul %d^2 float32 (cuBLAS vs tiled max abs diff %.2e)" % (m, diff))
for name, times in best.items():
    t = min(times)
    ratio = ""
    if "PyTorch CUDA" in best and name != "PyTorch CUDA":
        ratio = "  %.2fx PyTorch's time" % (t / min(best["PyTorch CUDA"]))
    print("  %-24s %8.2f ms (rounds: %s)  %6.1f TFLOP/s%s" % (
        name, t * 1e3, ", ".join("%.2f" % (x * 1e3) for x in times), 2 * m ** 3 / t / 1e12, ratio))
PYEOF
