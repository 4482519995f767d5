"""kernels/cpu/threads.py: BLAS limited (when NBFLOW_BLAS_THREADS asks) once nbflow runs a parallel Numba kernel.

Each case runs in a fresh process: the limit is process-wide and permanent."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = r"""
import json, sys
import numpy as np
import threadpoolctl
import nbflow as tf
from nbflow.kernels.cpu import elementwise as ew

def blas():
    return sorted(i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas")

ew.PARALLEL_MIN_ELEMENTS = 1000
x = tf.placeholder(tf.float32, [50, 50])
y = tf.nn.relu(x * 2.0 + 1.0)
before = blas()
with tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=int(sys.argv[1]))) as s:
    small = s.run(y[:2, :2] * 3.0, {x: np.ones((50, 50), np.float32)})
    mid = blas()
    s.run(y, {x: np.ones((50, 50), np.float32)})
print(json.dumps({"before": before, "mid": mid, "after": blas()}))
"""


def _run(env_extra, intra=0):
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NBFLOW_BLAS_THREADS")}
    env.update(env_extra)
    env["NUMBA_NUM_THREADS"] = "2"
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(intra)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_blas_left_alone_by_default():
    got = _run({})
    assert _untouched(got), got


def test_first_parallel_kernel_limits_blas_when_asked():
    got = _run({"NBFLOW_BLAS_THREADS": "1"})
    assert got["after"] and all(n == 1 for n in got["after"]), got
    assert len(got["after"]) >= 2  # numpy's and SciPy's OpenBLAS (Numba's np.dot runs SciPy's)


def _untouched(got):
    # SciPy's pool may load after "before": every pool keeps the default count
    return got["after"] == [got["before"][0]] * len(got["after"])


def test_blas_left_alone_without_parallel_kernels():
    got = _run({}, intra=1)  # intra_op_parallelism_threads=1: every kernel serial
    assert _untouched(got), got


@pytest.mark.parametrize("env,expect", [({"NBFLOW_BLAS_THREADS": "0"}, None), ({"NBFLOW_BLAS_THREADS": "2"}, 2),
                                        ({"NBFLOW_BLAS_THREADS": "1", "OPENBLAS_NUM_THREADS": "2"}, None)])
def test_override_and_user_choice(env, expect):
    got = _run(env)
    if expect is None:
        assert _untouched(got), got
    else:
        assert got["after"] and all(n == expect for n in got["after"]), got


def test_bad_setting_raises(monkeypatch):
    from nbflow.kernels.cpu import threads

    monkeypatch.setenv("NBFLOW_BLAS_THREADS", "-1")
    with pytest.raises(ValueError, match="NBFLOW_BLAS_THREADS"):
        threads.blas_limit()
