"""The on-disk cache switch of compiled CUDA kernels (kernels/cuda/disk_cache.py), checked in a
child process without the simulator (as the PTX check): with ``NBFLOW_CUDA_CACHE=1`` every
nbflow CUDA kernel -- static, and generated (element-wise, matmul) -- gets numba-cuda's disk
cache, located in nbflow's cache directory; without it, none does. Writing and reading an entry
needs a GPU (numba-cuda binds the kernel to a context first): not checked here."""
import importlib.util
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
pytestmark = pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None,
                                reason="numba-cuda is not installed (the optional nbflow[cuda] extra)")

CHILD = r"""
import json, sys
import numpy as np
import nbflow
from nbflow.backends.cuda import register_kernels
register_kernels()
from nbflow.kernels.cuda import disk_cache, elementwise as ew, layout, linalg
gen, _ = ew.get_kernel([], ["x0 * x1"], [np.float32] * 2, [(3,), (3,)], [np.float32], (3,))
mm = linalg.get_kernel(np.float64)
n = disk_cache.sweep()
static = [v for v in vars(layout).values() if type(v).__name__ == "CUDADispatcher"]
def where(k):
    c = k._cache
    return [type(c).__name__, getattr(c, "_cache_path", None)]
print(json.dumps({"requested": disk_cache.requested(), "enabled": n,
                  "generated": where(gen), "matmul": where(mm), "static": [where(k) for k in static],
                  "again": disk_cache.sweep()}))
"""


def _run(tmp_path, switch):
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_ENABLE_CUDASIM", "NBFLOW_CUDA_SIMULATOR", "NBFLOW_CUDA_CACHE")}
    env["NBFLOW_CACHE_DIR"] = str(tmp_path / "cache")
    if switch:
        env["NBFLOW_CUDA_CACHE"] = "1"
    proc = subprocess.run([sys.executable, "-c", CHILD], cwd=os.path.dirname(HERE), env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    import json
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_switch_on_caches_every_nbflow_cuda_kernel_in_nbflows_cache_directory(tmp_path):
    r = _run(tmp_path, True)
    root = str(tmp_path / "cache")
    assert r["requested"] and r["enabled"] >= 3 and r["again"] == 0
    assert r["generated"] == ["CUDACache", os.path.join(root, "generated", "__pycache__")]
    assert r["matmul"] == ["CUDACache", os.path.join(root, "generated", "__pycache__")]
    assert r["static"] and all(kind == "CUDACache" and path.startswith(os.path.join(root, "numba") + os.sep)
                               for kind, path in r["static"])


def test_switch_off_caches_nothing(tmp_path):
    r = _run(tmp_path, False)
    assert not r["requested"] and r["enabled"] == 0
    assert r["generated"][0] == r["matmul"][0] == "NullCache"
    assert all(kind == "NullCache" for kind, _ in r["static"])
