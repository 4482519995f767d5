"""The GPU kernels under Numba's CUDA simulator, in a separate process.

The simulator must be on before numba is imported (``NUMBA_ENABLE_CUDASIM=1``)
and nbflow registers the simulated GPU only when asked
(``NBFLOW_CUDA_SIMULATOR=1``), so the cases (tests/cuda_sim_cases*.py, not
collected here) run in a child pytest. Skipped without numba-cuda (CI installs
only ``.[test,lint]``; the ``cuda`` extra is optional).
"""
import glob
import importlib.util
import os
import subprocess
import sys

import pytest

import nbflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))
needs_numba_cuda = pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None,
                                      reason="numba-cuda is not installed (the optional nbflow[cuda] extra)")


def test_without_a_gpu_gpu0_soft_places_and_hard_placement_fails():
    if tf.test.is_gpu_available():
        pytest.skip("this machine has a GPU")
    assert tf.config.list_physical_devices("GPU") == []
    assert tf.test.gpu_device_name() == ""
    with tf.device("/gpu:0"):
        a = tf.constant(2.0) * 3.0
    with tf.Session(config=tf.ConfigProto(allow_soft_placement=True)) as sess:
        assert sess.run(a) == 6.0
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="Cannot assign a device"):
            sess.run(a)


def test_is_built_with_cuda_means_numba_cuda_is_installed():
    assert tf.test.is_built_with_cuda() == (importlib.util.find_spec("numba_cuda") is not None)


#: every cuda_sim_cases*.py beside this file, one kernel family each: each runs in its own
#: child process (a failure names its family; no one time limit covers them all)
CASE_FILES = sorted(os.path.basename(p) for p in glob.glob(os.path.join(HERE, "cuda_sim_cases*.py")))


@needs_numba_cuda
@pytest.mark.parametrize("case_file", CASE_FILES)
def test_gpu_kernels_under_the_simulator(case_file):
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", NBFLOW_CUDA_SIMULATOR="1", PYTHONHASHSEED="0")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           os.path.join(HERE, case_file)],
                          cwd=os.path.dirname(HERE), env=env, capture_output=True, text=True, timeout=600)
    tail = (proc.stdout + proc.stderr)[-6000:]
    assert proc.returncode == 0, tail
    assert " passed" in proc.stdout and "skipped" not in proc.stdout, tail
