"""GPU kernels under Numba's CUDA simulator, compared with the CPU kernels.

Not collected by the main run (its name does not start with ``test_``):
tests/test_cuda_sim.py runs it in a separate process with
``NUMBA_ENABLE_CUDASIM=1 NBFLOW_CUDA_SIMULATOR=1`` (the simulator must be
switched on before numba is imported). The simulator's cost grows with
threads and barriers, so shapes stay tiny (at most 32x32, 2k elements).
"""
import numpy as np
import pytest

import nbflow as tf

GPU = "/job:localhost/replica:0/task:0/device:GPU:0"
pytestmark = pytest.mark.skipif(not tf.test.is_gpu_available(), reason="needs the simulated (or a real) GPU")


def run_both(build, feeds=None, soft=False):
    """Build the graph twice, on /cpu:0 and /gpu:0; (cpu results, gpu results, gpu explain text)."""
    results = []
    text = None
    for dev in ("/cpu:0", "/gpu:0"):
        g = tf.Graph()
        with g.as_default():
            with tf.device(dev):
                fetches, feed_fn = build()
            config = tf.ConfigProto(allow_soft_placement=soft)
            with tf.Session(graph=g, config=config) as sess:
                fd = feed_fn() if feed_fn else {}
                results.append(sess.run(fetches, fd))
                if dev == "/gpu:0":
                    text = tf.explain(fetches, fd, file=False)
    return results[0], results[1], text


def assert_close(cpu, gpu, rtol=1e-5, atol=1e-6):
    for c, g in zip(cpu, gpu):
        assert np.asarray(g).dtype == np.asarray(c).dtype
        assert np.asarray(g).shape == np.asarray(c).shape
        np.testing.assert_allclose(g, c, rtol=rtol, atol=atol)


def test_device_queries():
    assert tf.test.is_built_with_cuda()
    assert tf.test.is_gpu_available()
    assert tf.test.gpu_device_name() == "/device:GPU:0"
    assert [d.name for d in tf.config.list_physical_devices("GPU")] == ["/physical_device:GPU:0"]


def test_elementwise_broadcasting_and_dtypes():
    rng = np.random.RandomState(0)
    a = rng.randn(4, 1).astype(np.float32)
    b = rng.randn(1, 5).astype(np.float32)
    c = rng.randn(3, 4, 5).astype(np.float32)
    i = rng.randint(-5, 5, size=(3, 4)).astype(np.int32)

    def build():
        pa, pb = tf.placeholder(tf.float32, [4, 1]), tf.placeholder(tf.float32, [1, 5])
        pc, pi = tf.placeholder(tf.float32, [3, 4, 5]), tf.placeholder(tf.int32, [3, 4])
        outs = [tf.add(pa, pb), tf.multiply(pc, pb), tf.maximum(pc, tf.constant(0.5)),
                tf.tanh(pc) - tf.sigmoid(pa), tf.floor(pc * 3.0), pi * 3 + 1, tf.greater(pc, pa),
                tf.where(tf.greater(pc, 0.0), pc, -pc), tf.cast(pi, tf.float32) / 2.0, tf.exp(pb) + tf.log1p(tf.abs(pb))]
        return outs, lambda: {pa: a, pb: b, pc: c, pi: i}
    cpu, gpu, _ = run_both(build)
    assert_close(cpu, gpu)


def test_fused_chain_runs_as_one_gpu_kernel_with_copies():
    x = np.linspace(-2, 2, 96, dtype=np.float32).reshape(8, 12)
    bias = np.arange(12, dtype=np.float32) / 10

    def build():
        px = tf.placeholder(tf.float32, [8, 12])
        h = tf.nn.relu(tf.nn.bias_add(px * 1.5, tf.constant(bias)))
        y = tf.sqrt(h + 1.0) * tf.tanh(px) - tf.square(h)
        return [y], lambda: {px: x}
    cpu, gpu, text = run_both(build)
    assert_close(cpu, gpu)
    assert "fused[" in text and "device=%s" % GPU in text
    assert text.count("transfer ") >= 2  # the feed to the GPU, the fetch back
    assert "nbflow_gen_cuda_ew_" in text


@pytest.mark.parametrize("kind", ["sum", "mean", "max", "min", "prod"])
def test_reductions(kind):
    rng = np.random.RandomState(1)
    x = rng.rand(2, 3, 4).astype(np.float32) + 0.5
    m = rng.randn(6, 7).astype(np.float64)
    f = getattr(tf, "reduce_" + kind)

    def build():
        px, pm = tf.placeholder(tf.float32, [2, 3, 4]), tf.placeholder(tf.float64, [6, 7])
        outs = [f(px), f(px, axis=[0, 2]), f(px, axis=1, keepdims=True), f(pm, axis=0), f(pm, axis=1)]
        return outs, lambda: {px: x, pm: m}
    cpu, gpu, text = run_both(build)
    assert_close(cpu, gpu, rtol=1e-5)
    assert "(%s)" % f(tf.constant(1.0)).op.type in text


def test_matmul_tiles_and_transposes():
    rng = np.random.RandomState(2)
    a = rng.randn(32, 32).astype(np.float32)
    b = rng.randn(32, 32).astype(np.float32)
    c = rng.randn(5, 7).astype(np.float32)
    d = rng.randn(3, 7).astype(np.float32)

    def build():
        pa, pb, pc, pd = (tf.placeholder(tf.float32, v.shape) for v in (a, b, c, d))
        outs = [tf.matmul(pa, pb), tf.matmul(pc, pd, transpose_b=True), tf.matmul(pd, pc, transpose_a=False,
                                                                                    transpose_b=True),
                tf.matmul(pc, pc, transpose_a=True)]
        return outs, lambda: {pa: a, pb: b, pc: c, pd: d}
    cpu, gpu, text = run_both(build)
    assert_close(cpu, gpu, rtol=1e-4, atol=1e-5)
    assert "(MatMul)" in text and GPU in text


def test_mlp_training_step_matches_cpu():
    """Forward and backward on the GPU; ops without a GPU kernel (the cross-entropy,
    the variables and their updates) soft-place on the CPU, with copies between."""
    rng = np.random.RandomState(3)
    xs = rng.randn(8, 6).astype(np.float32)
    ys = rng.randint(0, 3, size=8).astype(np.int32)

    def build():
        tf.set_random_seed(0)
        x, y = tf.placeholder(tf.float32, [8, 6]), tf.placeholder(tf.int32, [8])
        w1 = tf.Variable(np.linspace(-0.5, 0.5, 24, dtype=np.float32).reshape(6, 4))
        b1 = tf.Variable(np.zeros(4, np.float32))
        w2 = tf.Variable(np.linspace(0.3, -0.3, 12, dtype=np.float32).reshape(4, 3))
        h = tf.nn.relu(tf.nn.bias_add(tf.matmul(x, w1), b1))
        logits = tf.matmul(h, w2)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        step = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
        init = tf.global_variables_initializer()
        return (loss, step, init, w1), lambda: {x: xs, y: ys}

    losses = []
    for dev in ("/cpu:0", "/gpu:0"):
        g = tf.Graph()
        with g.as_default(), tf.device(dev):
            (loss, step, init, w1), feeds = build()
            with tf.Session(graph=g, config=tf.ConfigProto(allow_soft_placement=True)) as sess:
                sess.run(init)
                run = [sess.run([loss, step], feeds())[0] for _ in range(3)]
                losses.append((run, sess.run(w1)))
                if dev == "/gpu:0":
                    text = tf.explain([loss, step], feeds(), file=False)
    np.testing.assert_allclose(losses[1][0], losses[0][0], rtol=1e-5)
    np.testing.assert_allclose(losses[1][1], losses[0][1], rtol=1e-5, atol=1e-6)
    assert "(MatMul)" in text and "device=%s" % GPU in text and "transfer " in text


def test_default_placement_prefers_the_gpu(capsys):
    a = tf.placeholder(tf.float32, [3])
    b = tf.exp(a, name="b")
    c = tf.argmax(a, name="c")  # no GPU kernel: stays on the CPU
    with tf.Session(config=tf.ConfigProto(log_device_placement=True)) as sess:
        out_b, out_c = sess.run([b, c], {a: np.array([1, 3, 2], np.float32)})
    err = capsys.readouterr().err
    assert "b: (Exp): %s" % GPU in err
    assert "c: (ArgMax): /job:localhost/replica:0/task:0/device:CPU:0" in err
    np.testing.assert_allclose(out_b, np.exp([1, 3, 2]), rtol=1e-6)
    assert out_c == 1


def test_hard_placement_without_a_gpu_kernel_is_an_error():
    with tf.device("/gpu:0"):
        a = tf.constant([1.0, 2.0])
        c = tf.argmax(a, name="am")
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="no supported kernel for GPU"):
            sess.run(c)
