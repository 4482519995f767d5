"""Fused full sums/means on the (simulated) GPU: the sum is accumulated in the group's
kernel (per-block partials) and finished by one small kernel, compared with the CPU.

Run by tests/test_cuda_sim.py in a child process with the simulator on."""
import numpy as np
import pytest

import nbflow as tf

from cuda_sim_cases import GPU, assert_close, run_both

pytestmark = pytest.mark.skipif(not tf.test.is_gpu_available(), reason="needs the simulated (or a real) GPU")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_loss_chain_and_its_mean_are_one_fused_group(dtype):
    rng = np.random.RandomState(0)
    x, y = rng.randn(9, 13).astype(dtype), rng.randn(9, 13).astype(dtype)

    def build():
        px, py = tf.placeholder(dtype, [9, 13]), tf.placeholder(dtype, [9, 13])
        err = tf.square(px * 2.0 - py)
        return [tf.reduce_mean(err), tf.reduce_sum(err), err], lambda: {px: x, py: y}
    cpu, gpu, text = run_both(build)
    assert_close(cpu, gpu, rtol=1e-5 if dtype == np.float32 else 1e-12)
    fused = [line for line in text.split("Steps:")[1].splitlines() if "fused[" in line]
    assert len(fused) == 1 and "device=%s" % GPU in fused[0]
    assert "Mean(Mean)" in fused[0] and "Sum(Sum)" in fused[0]  # both sums in the group's kernel


def test_sum_of_a_group_input_and_keep_dims():
    x = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4) / 7

    def build():
        px = tf.placeholder(tf.float32, [2, 3, 4])
        return [tf.reduce_sum(px, keepdims=True), tf.reduce_mean(tf.exp(px * -1.0), axis=[0, 1, 2])], \
            lambda: {px: x}
    cpu, gpu, _ = run_both(build)
    assert_close(cpu, gpu)
    assert gpu[0].shape == (1, 1, 1)


def test_empty_sum_is_zero_and_empty_mean_is_nan():
    def build():
        px = tf.placeholder(tf.float32, [0, 3])
        sq = tf.square(px)
        return [tf.reduce_sum(sq), tf.reduce_mean(sq)], lambda: {px: np.zeros((0, 3), np.float32)}
    cpu, gpu, _ = run_both(build)
    assert gpu[0] == 0 and np.isnan(gpu[1])
    assert cpu[0] == 0 and np.isnan(cpu[1])


def test_mse_training_step_matches_the_host():
    rng = np.random.RandomState(3)
    x, y = rng.randn(6, 4).astype(np.float32), rng.randn(6, 2).astype(np.float32)
    w0 = rng.randn(4, 2).astype(np.float32)

    def build():
        px, py = tf.placeholder(tf.float32, [6, 4]), tf.placeholder(tf.float32, [6, 2])
        w = tf.Variable(w0)
        loss = tf.reduce_mean(tf.square(tf.matmul(px, w) - py))
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        init = tf.global_variables_initializer()

        def feeds():
            tf.get_default_session().run(init)
            return {px: x, py: y}
        return [loss, train, loss], feeds
    cpu, gpu, _ = run_both(build)
    np.testing.assert_allclose(gpu[0], cpu[0], rtol=1e-5)
