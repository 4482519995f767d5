"""Eager execution with a (simulated) GPU: ops placed on GPU:0 by default, tf.device,
copies between the host and the device, gradients, tf.function and printing.

Run by tests/test_cuda_sim.py in a child process with the simulator on (not collected
directly). Shapes stay tiny (the simulator's cost grows with threads)."""
import numpy as np
import pytest

import nbflow as tf
from nbflow.framework import context
from nbflow.runtime import eager_placement

GPU = "/job:localhost/replica:0/task:0/device:GPU:0"
CPU = "/job:localhost/replica:0/task:0/device:CPU:0"
pytestmark = pytest.mark.skipif(not tf.test.is_gpu_available(), reason="needs the simulated (or a real) GPU")


@pytest.fixture(autouse=True)
def eager():
    eager_placement.forget_devices()
    with context.eager_mode():
        yield


def _is_device_array(t):
    return eager_placement.is_device_array(t._value)


def test_ops_go_to_gpu0_by_default_and_values_come_back_as_numpy():
    rng = np.random.RandomState(0)
    a, b = rng.randn(4, 5).astype(np.float32), rng.randn(5, 3).astype(np.float32)
    x, w = tf.constant(a), tf.constant(b)
    y = tf.nn.relu(tf.matmul(x, w) + 1.0)
    assert y.device == GPU and _is_device_array(y)
    np.testing.assert_allclose(y.numpy(), np.maximum(a @ b + 1.0, 0), rtol=1e-5)
    assert isinstance(y.numpy(), np.ndarray)
    s = tf.reduce_sum(y)
    assert s.device == GPU
    assert float(s) == pytest.approx(float(np.maximum(a @ b + 1.0, 0).sum()), rel=1e-5)
    assert "numpy=" in repr(s) and "shape=(4, 3)" in str(y)
    np.testing.assert_allclose(np.asarray(y), y.numpy())
    assert y.cpu().device == CPU and not _is_device_array(y.cpu())


def test_a_cpu_scope_keeps_ops_on_the_host_and_inputs_cross_over():
    x = tf.constant(np.arange(6, dtype=np.float64).reshape(2, 3))
    g = x * 2.0
    assert g.device == GPU
    with tf.device("/cpu:0"):
        h = g + 1.0  # a GPU tensor used on the host: copied back
    assert h.device == CPU and type(h._value) is np.ndarray
    k = h * 3.0  # a host tensor used on the GPU: copied over
    assert k.device == GPU
    np.testing.assert_allclose(k.numpy(), (np.arange(6).reshape(2, 3) * 2.0 + 1.0) * 3.0)
    with tf.device("/gpu:7"):  # no such GPU: soft placement on the host, as TF 2
        assert (x + 1.0).device == CPU


def test_ops_their_gpu_kernel_does_not_take_run_on_the_host():
    x = tf.constant(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)) * 1.0
    assert x.device == GPU
    h = tf.cast(x, tf.float16)  # the GPU's element-wise kernels take no float16
    assert h.device == CPU and h.dtype == tf.float16
    y = h * 2.0
    assert y.device == CPU
    np.testing.assert_array_equal(y.numpy(), np.array([[2, 4], [6, 8]], np.float16))


def test_gradient_tape_on_the_gpu_matches_the_host():
    rng = np.random.RandomState(1)
    a, b = rng.randn(3, 4).astype(np.float32), rng.randn(4, 2).astype(np.float32)
    results = []
    for dev in ("/cpu:0", "/gpu:0"):
        with tf.device(dev):
            x, w = tf.constant(a), tf.constant(b)
            with tf.GradientTape() as tape:
                tape.watch(w)
                loss = tf.reduce_mean(tf.nn.softmax(tf.matmul(x, w)) * tf.constant(np.arange(2, dtype=np.float32)))
            g = tape.gradient(loss, w)
        results.append((loss.numpy(), g.numpy(), g.device))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-5)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-4, atol=1e-6)
    assert results[0][2] == CPU and results[1][2] == GPU


def test_variables_live_on_the_gpu_and_gpu_ops_read_them():
    v = tf.Variable(np.ones((2, 2), np.float32))  # more in tests/cuda_sim_cases_eager_vars.py
    assert v.device == GPU
    y = tf.matmul(v, v)  # a GPU op reading the variable's device array
    assert y.device == GPU
    v.assign_add(y)  # the update (a ref input) runs where the variable lives
    np.testing.assert_allclose(v.numpy(), np.full((2, 2), 3.0, np.float32))


def test_tf_function_takes_gpu_tensors():
    @tf.function
    def f(x):
        return tf.reduce_sum(x * x)

    x = tf.constant(np.arange(4, dtype=np.float32)) + 0.0
    assert x.device == GPU
    assert float(f(x)) == 14.0
