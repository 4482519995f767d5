"""GPU batch normalization, boolean/norm reductions, InTopKV2, CheckNumerics, sequences
and integer/categorical random draws under Numba's CUDA simulator, compared with the CPU.

Run by tests/test_cuda_sim.py in a child process with the simulator on (not
collected directly). Shapes stay tiny: the simulator's cost grows with threads.
"""
import numpy as np
import pytest

import nbflow as tf
from tests.cuda_sim_cases import GPU, _steps, assert_close, run_both

pytestmark = pytest.mark.skipif(not tf.test.is_gpu_available(), reason="needs the simulated (or a real) GPU")


def on_gpu(text, op_type):
    return any("(%s)" % op_type in ln and GPU in ln for ln in _steps(text))


# -- FusedBatchNormV3 / FusedBatchNormGradV3 ---------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 3, 5, 20), (1, 1, 1, 3), (0, 2, 2, 3), (2, 2, 2, 0), (3, 4, 1, 9)])
def test_fused_batch_norm_training_and_gradients(dtype, shape):
    """20 channels: three 8-channel tiles over two blocks (grid-stride); 60 rows: two chunks."""
    rng = np.random.RandomState(sum(shape))
    x = (rng.randn(*shape) * 2 + 1).astype(dtype)
    c = shape[3]
    scale, offset = rng.rand(c).astype(dtype) + 0.5, rng.randn(c).astype(dtype)
    w = rng.randn(*shape).astype(dtype)

    def build():
        px = tf.placeholder(dtype, [None, None, None, c])
        y, m, v = tf.nn.fused_batch_norm(px, tf.constant(scale), tf.constant(offset), epsilon=0.01)
        loss = tf.reduce_sum(y * w)
        return [y, m, v] + tf.gradients(loss, [px]) + \
            list(tf.gradients(tf.reduce_sum(y * y * w), [px])), lambda: {px: x}
    cpu, gpu, text = run_both(build)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    assert_close(cpu, gpu, **tol)
    if shape[0] and c:
        assert on_gpu(text, "FusedBatchNormV3") and on_gpu(text, "FusedBatchNormGradV3"), text


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_batch_norm_inference_and_its_gradient(dtype):
    rng = np.random.RandomState(4)
    x = rng.randn(2, 3, 3, 5).astype(dtype)
    scale, offset = rng.rand(5).astype(dtype) + 0.5, rng.randn(5).astype(dtype)
    mean, var = rng.randn(5).astype(dtype), rng.rand(5).astype(dtype) + 0.1

    def build():
        px, ps, po = tf.placeholder(dtype, x.shape), tf.placeholder(dtype, [5]), tf.placeholder(dtype, [5])
        y, m, v = tf.nn.fused_batch_norm(px, ps, po, mean=tf.constant(mean), variance=tf.constant(var),
                                         is_training=False)
        loss = tf.reduce_sum(y * x)
        return [y, m, v] + tf.gradients(loss, [px, ps, po]), lambda: {px: x, ps: scale, po: offset}
    cpu, gpu, text = run_both(build)
    assert_close(cpu, gpu, rtol=1e-5, atol=1e-5)
    assert on_gpu(text, "FusedBatchNormV3") and on_gpu(text, "FusedBatchNormGradV3"), text


def test_fused_batch_norm_gradient_matches_finite_differences_on_the_gpu():
    rng = np.random.RandomState(5)
    x = rng.randn(2, 2, 3, 3)
    scale, offset = rng.rand(3) + 0.5, rng.randn(3)
    w = rng.randn(*x.shape)
    with tf.Graph().as_default(), tf.device("/gpu:0"):
        px, ps, po = tf.placeholder(tf.float64, x.shape), tf.placeholder(tf.float64, [3]), \
            tf.placeholder(tf.float64, [3])
        y, _, _ = tf.nn.fused_batch_norm(px, ps, po)
        loss = tf.reduce_sum(y * y * w)
        grads = tf.gradients(loss, [px, ps, po])
        with tf.Session() as sess:
            def f(xv, sv, ov):
                return sess.run(loss, {px: xv, ps: sv, po: ov})
            got = sess.run(grads, {px: x, ps: scale, po: offset})
            args = [x, scale, offset]
            for k, g in enumerate(got):
                num = np.zeros_like(args[k])
                for idx in np.ndindex(*args[k].shape):
                    hi = [a.copy() for a in args]
                    lo = [a.copy() for a in args]
                    hi[k][idx] += 1e-6
                    lo[k][idx] -= 1e-6
                    num[idx] = (f(*hi) - f(*lo)) / 2e-6
                np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-6)


def test_fused_batch_norm_bad_input_names_the_op():
    with tf.Graph().as_default(), tf.device("/gpu:0"):
        px, ps = tf.placeholder(tf.float32, [None, 2, 2, None]), tf.placeholder(tf.float32, [None])
        y, _, _ = tf.nn.fused_batch_norm(px, ps, tf.zeros([3]), name="bn")
        with tf.Session() as sess:
            with pytest.raises(tf.errors.InvalidArgumentError, match=r"scale must have .*3.*bn"):
                sess.run(y, {px: np.zeros((1, 2, 2, 3), np.float32), ps: np.ones(4, np.float32)})


def _bn_training(dev, x, y_true):
    g = tf.Graph()
    with g.as_default(), tf.device(dev):
        px, py = tf.placeholder(tf.float32, x.shape), tf.placeholder(tf.float32, y_true.shape)
        h = tf.layers.batch_normalization(px, training=True, momentum=0.9)
        loss = tf.reduce_mean(tf.square(tf.reduce_sum(h, [1, 2]) - py))
        with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
            step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        with tf.Session(graph=g) as sess:
            sess.run(tf.global_variables_initializer())
            losses = [sess.run([loss, step], {px: x, py: y_true})[0] for _ in range(3)]
            values = sess.run(tf.global_variables())
            text = tf.explain([loss, step], {px: x, py: y_true}, file=False)
    return losses, values, text


def test_batch_normalization_layer_training_runs_entirely_on_the_gpu():
    """tf.layers.batch_normalization(training=True) with its moving averages and an
    optimizer, hard-placed on /gpu:0: only the feeds and the loss are copied."""
    rng = np.random.RandomState(6)
    x = rng.randn(4, 3, 3, 6).astype(np.float32)
    y_true = rng.randn(4, 6).astype(np.float32)
    cpu_losses, cpu_values, _ = _bn_training("/cpu:0", x, y_true)
    gpu_losses, gpu_values, text = _bn_training("/gpu:0", x, y_true)
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-4)
    for c, g in zip(cpu_values, gpu_values):
        np.testing.assert_allclose(g, c, rtol=1e-4, atol=1e-5)
    steps = _steps(text)
    assert sum("transfer " in ln for ln in steps) == 3, text
    assert on_gpu(text, "FusedBatchNormV3") and on_gpu(text, "FusedBatchNormGradV3"), text
