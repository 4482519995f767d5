"""Every CUDA kernel compiles to real PTX (cc 7.5/8.0/9.0) and ptxas assembles it.

Runs tests/cuda_ptx_check.py in its own process: ``compile_ptx`` needs no GPU
or driver, but must not run with the simulator on. It catches what the
simulator runs happily (lists, allocation or unsupported functions in a
kernel, runtime-sized shared arrays). Skipped without numba-cuda.
"""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None,
                    reason="numba-cuda is not installed (the optional nbflow[cuda] extra)")
def test_every_cuda_kernel_compiles_to_ptx(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_ENABLE_CUDASIM", "NBFLOW_CUDA_SIMULATOR")}
    out = tmp_path / "ptx.json"
    proc = subprocess.run([sys.executable, os.path.join(HERE, "cuda_ptx_check.py"), "--json", str(out)],
                          cwd=os.path.dirname(HERE), env=env, capture_output=True, text=True, timeout=600)
    tail = (proc.stdout + proc.stderr)[-6000:]
    assert proc.returncode == 0, tail
    report = json.loads(out.read_text())
    assert not report["failures"], tail
    kernels = {r["kernel"] for r in report["rows"]}
    assert {"matmul:float32", "reduce:sum:float32", "fused:broadcast", "ew:Exp(float32)", "fill:no-input",
            "optim:ApplyAdam:float32", "optim:ApplyKerasCenteredRMSProp:float64", "softmax:float32",
            "xent:float64", "sparse_xent:float32:int64", "layout:strided_copy:bool",
            "gather:float32:int32", "segment_sum:float64", "one_hot:int32:float32",
            "conv:im2col:float32", "conv:col2im_add:float64", "pool_grad_add:float32",
            "random:truncated:float64", "arg_reduce:float32:int64", "scan:float64", "batch_matmul:float32"} <= kernels
    assert sum(k.startswith("optim:") for k in kernels) == 2 * 12  # every Apply* op, both dtypes
    assert {r["cc"] for r in report["rows"]} == {"7.5", "8.0", "9.0"}
    if report["ptxas"]:
        mm = [r for r in report["rows"] if r["kernel"] == "matmul:float32"]
        assert all(r["shared_bytes"] == 2 * 16 * 16 * 4 for r in mm)  # two 16x16 float32 tiles
        sm = [r for r in report["rows"] if r["kernel"] == "softmax:float64"]
        assert sm and all(r["shared_bytes"] == 256 * 8 for r in sm)  # one 256-entry tree
        assert all(r["shared_bytes"] == 0 for r in report["rows"] if r["kernel"].startswith("optim:"))
