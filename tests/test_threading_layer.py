"""kernels/threading_layer.py: nbflow runs its parallel kernels on Numba's TBB layer when
the ``tbb`` package loads, else on workqueue; a layer the user names is kept."""
import os
import subprocess
import sys
from importlib import metadata

PROBE = """
import numba, numpy as np
import nbflow as tf
x = tf.placeholder(tf.float32, [None])
y = tf.exp(x * 2.0 + 1.0) * x
with tf.Session() as s:
    s.run(y, {x: np.ones(1 << 21, np.float32)})  # a parallel fused kernel
print(numba.threading_layer())
"""


def _layer(env_extra):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_THREADING_LAYER"}
    env.update(env_extra, NUMBA_NUM_THREADS="2", NBFLOW_PARALLEL_MIN_ELEMENTS="1024")
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.split()[-1]


def _tbb_installed():
    try:
        metadata.version("tbb")
        return True
    except metadata.PackageNotFoundError:
        return False


def test_nbflow_picks_tbb_when_installed_else_workqueue():
    assert _layer({}) == ("tbb" if _tbb_installed() else "workqueue")


def test_a_layer_the_user_names_is_kept():
    assert _layer({"NUMBA_THREADING_LAYER": "workqueue"}) == "workqueue"


def test_choose_leaves_a_started_layer_alone():
    import numba
    import numpy as np

    from nbflow.kernels import threading_layer

    @numba.njit(parallel=True)
    def total(a):
        s = 0.0
        for i in numba.prange(a.shape[0]):
            s += a[i]
        return s

    assert total(np.ones(64)) == 64.0  # the layer has started
    before = numba.threading_layer()
    assert threading_layer.choose() is None
    assert numba.threading_layer() == before
