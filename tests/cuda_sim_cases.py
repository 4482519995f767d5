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


def test_argmax_argmin_and_accuracy():
    rng = np.random.RandomState(11)
    x = rng.randn(4, 5, 3).astype(np.float32)
    x[1, 2, 0] = np.nan
    x[2, :, 1] = 0.5  # ties: the first index
    i = rng.randint(-9, 9, size=(6, 7)).astype(np.int64)
    logits, labels = rng.randn(8, 4), rng.randint(0, 4, size=8).astype(np.int64)

    def build():
        px, pi, pl, py = (tf.placeholder(tf.float32, x.shape), tf.placeholder(tf.int64, i.shape),
                          tf.placeholder(tf.float64, logits.shape), tf.placeholder(tf.int64, [8]))
        acc = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(pl, 1), py), tf.float32))
        outs = [tf.argmax(px, 1), tf.argmin(px, 0), tf.argmax(px, -1, output_type=tf.int32), tf.argmin(pi, 1),
                tf.argmax(pi, 0), acc]
        return outs, lambda: {px: x, pi: i, pl: logits, py: labels}
    cpu, gpu, text = run_both(build)
    assert_close(cpu, gpu)
    assert _on_gpu(text, "ArgMax") and _on_gpu(text, "ArgMin")


def test_scans_and_l2_loss():
    rng = np.random.RandomState(12)
    x = rng.rand(3, 4, 5).astype(np.float64) + 0.5
    i = rng.randint(-3, 4, size=(4, 6)).astype(np.int32)
    w = rng.randn(6, 3).astype(np.float32)

    def build():
        px, pi, pw = tf.placeholder(tf.float64, x.shape), tf.placeholder(tf.int32, i.shape), tf.placeholder(
            tf.float32, w.shape)
        l2 = tf.nn.l2_loss(pw)
        outs = [tf.cumsum(px, 1), tf.cumsum(px, 2, exclusive=True), tf.cumprod(px, 0, reverse=True),
                tf.cumprod(px, -1, exclusive=True, reverse=True), tf.cumsum(pi, 1), tf.cumprod(pi, 0),
                tf.gradients(tf.reduce_sum(tf.cumsum(px, 1) * px), px)[0], l2, tf.gradients(l2, pw)[0],
                tf.nn.l2_loss(px)]
        return outs, lambda: {px: x, pi: i, pw: w}
    cpu, gpu, text = run_both(build)
    assert_close(cpu, gpu, rtol=2e-6)
    for t in ("Cumsum", "Cumprod", "L2Loss"):
        assert _on_gpu(text, t), t


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


def _on_gpu(text, op_type):
    return any("(%s)" % op_type in ln and GPU in ln for ln in _steps(text))


def test_batch_matmul_broadcasting_adjoints_and_gradients():
    rng = np.random.RandomState(13)
    a = rng.randn(2, 2, 3).astype(np.float32)
    b = rng.randn(3, 3, 4).astype(np.float32)  # a[:, None] (2, 1) against b's (3,): broadcast to (2, 3)
    c = rng.randn(1, 4, 3).astype(np.float64)
    d = rng.randn(2, 2, 4).astype(np.float64)

    def build():
        pa, pb, pc, pd = (tf.placeholder(tf.as_dtype(v.dtype), v.shape) for v in (a, b, c, d))
        ab = tf.matmul(pa[:, None], pb)  # (2, 1, 2, 3) @ (3, 3, 4) -> (2, 3, 2, 4)
        outs = [ab, tf.matmul(pc, pd, adjoint_a=True, adjoint_b=True), tf.matmul(pd, pc),
                tf.matmul(tf.zeros([2, 3, 0]), tf.zeros([2, 0, 4]))]
        outs += tf.gradients(tf.reduce_sum(ab * ab), [pa, pb])
        return outs, lambda: {pa: a, pb: b, pc: c, pd: d}
    cpu, gpu, text = run_both(build)
    assert_close(cpu, gpu, rtol=1e-5, atol=1e-5)
    assert _on_gpu(text, "BatchMatMulV2")


def test_softmax_log_softmax_and_their_gradients():
    rng = np.random.RandomState(5)
    a = (rng.randn(5, 7) * 3).astype(np.float32)
    b = rng.randn(2, 3, 40).astype(np.float64)  # rows longer than a 32-thread block
    w = rng.randn(2, 3, 40)

    def build():
        pa, pb = tf.placeholder(tf.float32, [5, 7]), tf.placeholder(tf.float64, [2, 3, 40])
        sa, lb = tf.nn.softmax(pa), tf.nn.log_softmax(pb)
        outs = [sa, tf.nn.log_softmax(pa), tf.nn.softmax(pb), lb,
                tf.gradients(tf.reduce_sum(sa * sa), pa)[0], tf.gradients(tf.reduce_sum(lb * w), pb)[0],
                tf.nn.softmax(tf.zeros([0, 3])), tf.nn.softmax(tf.constant([[1.0]]))]
        return outs, lambda: {pa: a, pb: b}
    cpu, gpu, text = run_both(build)
    assert_close(cpu, gpu, rtol=2e-5, atol=1e-6)
    assert _on_gpu(text, "Softmax") and _on_gpu(text, "LogSoftmax")


def test_cross_entropies_and_their_gradients():
    rng = np.random.RandomState(6)
    logits = rng.randn(6, 5).astype(np.float32)
    labels = rng.rand(6, 5).astype(np.float32)
    labels /= labels.sum(axis=1, keepdims=True)
    wide = rng.randn(3, 70)  # classes spanning three 32-thread strides
    idx32 = rng.randint(0, 5, size=6).astype(np.int32)
    idx64 = rng.randint(0, 70, size=3).astype(np.int64)

    def build():
        pl, py = tf.placeholder(tf.float32, [6, 5]), tf.placeholder(tf.float32, [6, 5])
        pw, pi, pj = tf.placeholder(tf.float64, [3, 70]), tf.placeholder(tf.int32, [6]), tf.placeholder(tf.int64, [3])
        dense = tf.nn.softmax_cross_entropy_with_logits_v2(labels=py, logits=pl)
        sparse = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=pi, logits=pl)
        sparse64 = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=pj, logits=pw)
        outs = [dense, sparse, sparse64,
                tf.gradients(tf.reduce_sum(dense * np.arange(6, dtype=np.float32)), pl)[0],
                tf.gradients(tf.reduce_mean(sparse), pl)[0], tf.gradients(tf.reduce_sum(sparse64), pw)[0]]
        return outs, lambda: {pl: logits, py: labels, pw: wide, pi: idx32, pj: idx64}
    cpu, gpu, text = run_both(build)
    assert_close(cpu, gpu, rtol=2e-5, atol=1e-6)
    assert _on_gpu(text, "SoftmaxCrossEntropyWithLogits") and _on_gpu(text, "SparseSoftmaxCrossEntropyWithLogits")


def test_sparse_cross_entropy_label_out_of_range_is_nan_on_the_gpu():
    """TF's GPU kernel: NaN in that row (the CPU raises InvalidArgumentError)."""
    with tf.device("/gpu:0"):
        lab, lg = tf.placeholder(tf.int32, [2]), tf.placeholder(tf.float32, [2, 3])  # fed: not folded on the host
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=lab, logits=lg)
        back = loss.op.outputs[1]
    with tf.Session() as sess:
        l, b = sess.run([loss, back], {lab: [1, 3], lg: [[1.0, 2.0, 0.5], [0.0, 1.0, 2.0]]})
    assert np.isfinite(l[0]) and np.isnan(l[1]) and np.isfinite(b[0]).all() and np.isnan(b[1]).all()
    np.testing.assert_allclose(l[0], -np.log(np.exp(2.0) / np.exp([1.0, 2.0, 0.5]).sum()), rtol=1e-6)


def test_layout_ops_and_their_gradients():
    rng = np.random.RandomState(7)
    a = rng.randn(3, 4, 5).astype(np.float32)
    b = rng.randint(-9, 9, size=(4, 6)).astype(np.int32)

    def build():
        pa, pb = tf.placeholder(tf.float32, [3, 4, 5]), tf.placeholder(tf.int32, [4, 6])
        parts = tf.split(pa, [1, 3], axis=1)
        outs = [tf.transpose(pa, [2, 0, 1]), tf.transpose(pb), tf.slice(pa, [1, 0, 2], [2, 3, -1]),
                pa[::2, 1:, ::-2], pb[-1], tf.reverse(pb, [0, 1]), tf.tile(pb, [2, 1]),
                tf.pad(pa, [[1, 0], [0, 2], [1, 1]]), tf.pad(pb, [[0, 1], [2, 0]], constant_values=7),
                tf.concat([pa, pa * 2.0], axis=2), tf.stack([pb, pb + 1], axis=1), parts[0], parts[1],
                tf.unstack(pb, axis=1)[3], tf.split(pb, 2, axis=1)[1]]
        loss = tf.reduce_sum(tf.concat([tf.reshape(tf.transpose(pa, [1, 2, 0]), [-1]),
                                        tf.reshape(pa[1:, ::2], [-1]), tf.reshape(tf.pad(pa, [[0, 1], [1, 0], [0, 0]]),
                                                                               [-1]) * 3.0], 0) ** 2)
        outs.append(tf.gradients(loss, pa)[0])
        return outs, lambda: {pa: a, pb: b}
    cpu, gpu, text = run_both(build)
    assert_close(cpu, gpu)
    for t in ("Transpose", "Slice", "StridedSlice", "ReverseV2", "Tile", "Pad", "ConcatV2", "Pack", "SplitV",
              "Unpack", "StridedSliceGrad"):
        assert _on_gpu(text, t), t


def test_layout_known_only_at_run_time():
    """A perm fed at run time: the layout inputs are read back from the device per run."""
    x = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    with tf.device("/gpu:0"):
        px, perm = tf.placeholder(tf.float64, [2, 3, 4]), tf.placeholder(tf.int32, [3])
        y = tf.transpose(px, perm) * 1.0
    with tf.Session() as sess:
        for p in ([2, 0, 1], [1, 2, 0]):
            np.testing.assert_array_equal(sess.run(y, {px: x, perm: p}), np.transpose(x, p))


def test_gather_embedding_gradient_and_one_hot():
    rng = np.random.RandomState(8)
    table = rng.randn(10, 4).astype(np.float32)
    ints = rng.randint(-5, 5, size=(3, 6)).astype(np.int32)
    ids = np.array([[1, 9, 1], [0, 4, 4]], np.int64)
    cls = np.array([2, 0, 3, 1], np.int32)

    def build():
        pt, pi, pids, pc = (tf.placeholder(tf.float32, [10, 4]), tf.placeholder(tf.int32, [3, 6]),
                            tf.placeholder(tf.int64, [2, 3]), tf.placeholder(tf.int32, [4]))
        emb = tf.nn.embedding_lookup(pt, pids)
        outs = [emb, tf.gather(pi, [5, 0, 2], axis=1), tf.gather(pi, pc[:2]),
                tf.gradients(tf.reduce_sum(emb * emb), pt)[0],
                tf.unsorted_segment_sum(pt, tf.constant([0, 2, 2, 1, 0, 0, 1, 2, 2, 0]), 3),
                tf.one_hot(pc, 5), tf.one_hot(pc, 4, on_value=3, off_value=-1, axis=0, dtype=tf.int32),
                tf.one_hot(pids, 10, dtype=tf.float64)]
        return outs, lambda: {pt: table, pi: ints, pids: ids, pc: cls}
    cpu, gpu, text = run_both(build)
    assert_close(cpu, gpu)
    for t in ("GatherV2", "UnsortedSegmentSum", "OneHot"):
        assert _on_gpu(text, t), t


def test_gather_index_out_of_range_gives_zeros_on_the_gpu():
    """TF's GPU kernel: zeros for that index (the CPU raises InvalidArgumentError)."""
    with tf.device("/gpu:0"):
        p, i = tf.placeholder(tf.float32, [3, 2]), tf.placeholder(tf.int32, [3])
        y = tf.gather(p, i)
    with tf.Session() as sess:
        out = sess.run(y, {p: np.arange(6, dtype=np.float32).reshape(3, 2), i: [2, 3, -1]})
    np.testing.assert_array_equal(out, [[4, 5], [0, 0], [0, 0]])


def test_shape_ops_and_broadcast_gradients_with_shapes_known_at_run_time():
    """Unknown dims: Shape, BroadcastGradientArgs, ReducedShape ... run (not folded), on the host
    inside their GPU kernels; casts between every kind of dtype stay on the GPU."""
    rng = np.random.RandomState(9)
    a = rng.randn(3, 4).astype(np.float32)
    b = rng.randn(4).astype(np.float32)

    def build():
        pa, pb = tf.placeholder(tf.float32, [None, 4]), tf.placeholder(tf.float32, [None])
        y = pa * pb + tf.reduce_sum(pa, axis=1, keepdims=True)
        ga, gb = tf.gradients(tf.reduce_sum(y * y), [pa, pb])
        outs = [y, ga, gb, tf.shape(pa), tf.size(pa), tf.rank(pa), tf.cast(pa * 3.0, tf.int32),
                tf.cast(tf.cast(pa * 3.0, tf.int64), tf.float64), tf.cast(pa > 0.0, tf.float32),
                tf.cast(pb, tf.bool)]
        return outs, lambda: {pa: a, pb: b}
    cpu, gpu, text = run_both(build)  # hard placement: every op, shape ops included, has a GPU kernel
    assert_close(cpu, gpu, rtol=2e-5)
    assert _on_gpu(text, "Cast")
    # the shape ops fold at plan time; with folding off their GPU kernels run
    g = tf.Graph()
    with g.as_default(), tf.device("/gpu:0"):
        pa, pb = tf.placeholder(tf.float32, [None, 4]), tf.placeholder(tf.float32, [None])
        ga, gb = tf.gradients(tf.reduce_sum(pa * pb), [pa, pb])
        outs = [tf.shape(pa), tf.size(pa), tf.rank(pa), tf.shape_n([pa, pb])[1], ga, gb]
    with tf.Session(graph=g, config=tf.ConfigProto(nbflow_disabled_passes=["fold"])) as sess:
        got = sess.run(outs, {pa: a, pb: b})
        text = tf.explain(outs, {pa: a, pb: b}, file=False)
    for v, want in zip(got, [[3, 4], 12, 2, [4], np.broadcast_to(b, (3, 4)), a.sum(axis=0)]):
        np.testing.assert_allclose(v, want, rtol=1e-6)
    for t in ("Shape", "Size", "Rank", "ShapeN", "BroadcastGradientArgs"):
        assert _on_gpu(text, t), t


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_pooling_and_their_gradients(dtype):
    rng = np.random.RandomState(10)
    x = rng.randn(1, 5, 6, 2).astype(dtype)
    f = rng.randn(3, 3, 2, 2).astype(dtype)
    tdt = tf.as_dtype(dtype)

    def build():
        px, pf = tf.placeholder(tdt, x.shape), tf.placeholder(tdt, f.shape)
        convs = [tf.nn.conv2d(px, pf, [1, 1, 1, 1], "SAME"), tf.nn.conv2d(px, pf, [1, 2, 2, 1], "VALID"),
                 tf.nn.conv2d(px, pf, [1, 1, 1, 1], "SAME", dilations=[1, 2, 2, 1])]
        pools = [tf.nn.max_pool(px, [1, 2, 2, 1], [1, 2, 2, 1], "SAME"),
                 tf.nn.avg_pool(px, [1, 3, 3, 1], [1, 2, 2, 1], "SAME"),
                 tf.nn.max_pool(px, [1, 3, 2, 1], [1, 1, 2, 1], "VALID")]
        loss = tf.add_n([tf.reduce_sum(c * c) for c in convs] + [tf.reduce_sum(p * p) for p in pools])
        return convs + pools + tf.gradients(loss, [px, pf]), lambda: {px: x, pf: f}
    cpu, gpu, text = run_both(build)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    assert_close(cpu, gpu, **tol)
    for t in ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter", "MaxPool", "AvgPool", "MaxPoolGrad",
              "AvgPoolGrad"):
        assert _on_gpu(text, t), t


def test_random_ops_and_dropout_draw_on_the_gpu_from_seeded_streams():
    """The GPU's generator differs from the CPU's: statistics, seeding and stream behaviour are checked."""
    def build(op_seed):
        g = tf.Graph()
        with g.as_default(), tf.device("/gpu:0"):
            tf.set_random_seed(7)
            x = tf.placeholder(tf.float32, [20, 50])
            outs = [tf.random_uniform([1000], seed=op_seed), tf.random_normal([1000], dtype=tf.float64, seed=1),
                    tf.truncated_normal([1000], seed=2), tf.nn.dropout(x, rate=0.25, seed=3)]
        return g, x, outs

    g, x, outs = build(0)
    ones = np.ones((20, 50), np.float32)
    with tf.Session(graph=g) as sess:
        u, nrm, tn, drop = sess.run(outs, {x: ones})
        u2 = sess.run(outs[0], {x: ones})
        text = tf.explain(outs, {x: ones}, file=False)
    with tf.Session(graph=g) as sess:  # a new Session starts every seeded stream over
        again = sess.run(outs, {x: ones})
    g2, x2, outs2 = build(5)
    with tf.Session(graph=g2) as sess:
        other = sess.run(outs2[0], {x2: ones})
    assert u.dtype == np.float32 and nrm.dtype == np.float64
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.03
    assert abs(nrm.mean()) < 0.1 and abs(nrm.std() - 1) < 0.1
    assert np.abs(tn).max() <= 2 and abs(tn.std() - 0.88) < 0.1  # a normal truncated at 2 sigma: std 0.88
    kept = drop != 0
    assert abs(kept.mean() - 0.75) < 0.05 and np.allclose(drop[kept], 1 / 0.75)
    assert not np.array_equal(u, u2)  # the stream advances
    for a, b in zip(again, [u, nrm, tn, drop]):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(other, u)  # another op seed, another stream
    for t in ("RandomUniform", "RandomStandardNormal", "TruncatedNormal"):
        assert _on_gpu(text, t), t


def _steps(text):
    """The explain text's step lines."""
    return text.split("Steps:")[1].splitlines()


OPTIMIZERS = {
    "sgd": lambda: tf.train.GradientDescentOptimizer(0.5),
    "momentum": lambda: tf.train.MomentumOptimizer(0.1, 0.9, use_nesterov=True),
    "adam": lambda: tf.train.AdamOptimizer(0.05),
    "rmsprop": lambda: tf.train.RMSPropOptimizer(0.05, momentum=0.5, centered=True),
    "adagrad": lambda: tf.train.AdagradOptimizer(0.3),
}


@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
def test_mlp_training_step_stays_on_the_gpu(opt):
    """Variables, forward, backward, the sparse cross-entropy and the optimizer's
    Apply* updates all run on the GPU: the only copies are the two feeds and the loss."""
    rng = np.random.RandomState(3)
    xs = rng.randn(8, 6).astype(np.float32)
    ys = rng.randint(0, 3, size=8).astype(np.int32)
    results, text = [], None
    for dev in ("/cpu:0", "/gpu:0"):
        g = tf.Graph()
        with g.as_default(), tf.device(dev):
            x, y = tf.placeholder(tf.float32, [8, 6]), tf.placeholder(tf.int32, [8])
            w1 = tf.Variable(np.linspace(-0.5, 0.5, 24, dtype=np.float32).reshape(6, 4))
            b1 = tf.Variable(np.zeros(4, np.float32))
            w2 = tf.Variable(np.linspace(0.3, -0.3, 12, dtype=np.float32).reshape(4, 3))
            h = tf.nn.relu(tf.nn.bias_add(tf.matmul(x, w1), b1))
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=tf.matmul(h, w2)))
            step = OPTIMIZERS[opt]().minimize(loss)
            with tf.Session(graph=g) as sess:  # no soft placement: everything has a GPU kernel
                sess.run(tf.global_variables_initializer())
                losses = [sess.run([loss, step], {x: xs, y: ys})[0] for _ in range(3)]
                results.append((losses, sess.run([w1, b1, w2])))
                if dev == "/gpu:0":
                    text = tf.explain([loss, step], {x: xs, y: ys}, file=False)
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=2e-5)
    for c, gv in zip(results[0][1], results[1][1]):
        assert isinstance(gv, np.ndarray)
        np.testing.assert_allclose(gv, c, rtol=2e-5, atol=2e-6)
    steps = _steps(text)
    assert sum("transfer " in ln for ln in steps) == 3, text  # x and y to the GPU, the loss back
    assert all("device=%s" % GPU in ln for ln in steps if "(VariableV2)" in ln or "(Apply" in ln), text
    assert any("(SparseSoftmaxCrossEntropyWithLogits)" in ln and GPU in ln for ln in steps), text


APPLY_INPUTS = {  # op type -> (number of variables, scalars, attrs)
    "ApplyGradientDescent": (1, [0.1, "g"], {}),
    "ApplyMomentum": (2, [0.1, "g", 0.9], {"use_nesterov": True}),
    "ApplyAdam": (3, [0.5, 0.7, 0.01, 0.9, 0.99, 1e-7, "g"], {"use_nesterov": False}),
    "ApplyAdamWithAmsgrad": (4, [0.5, 0.7, 0.01, 0.9, 0.99, 1e-7, "g"], {}),
    "ApplyRMSProp": (3, [0.01, 0.9, 0.5, 1e-6, "g"], {}),
    "ApplyCenteredRMSProp": (4, [0.01, 0.9, 0.5, 1e-6, "g"], {}),
    "ApplyAdagrad": (2, [0.1, "g"], {"update_slots": True}),
    "ApplyAdagradV2": (2, [0.1, 1e-3, "g"], {"update_slots": False}),
    "ApplyAdadelta": (3, [0.5, 0.95, 1e-6, "g"], {}),
    "ApplyKerasMomentum": (2, [0.1, "g", 0.9], {"use_nesterov": False}),
    "ApplyKerasRMSProp": (2, [0.01, 0.9, 1e-7, "g"], {}),
    "ApplyKerasCenteredRMSProp": (3, [0.01, 0.9, 1e-7, "g"], {}),
}


@pytest.mark.parametrize("op_type", sorted(APPLY_INPUTS))
def test_every_apply_update_in_place_on_the_gpu(op_type):
    from nbflow.ops import training_ops
    from nbflow.ops.base import apply_op
    n_vars, scalars, attrs = APPLY_INPUTS[op_type]
    rng = np.random.RandomState(4)
    inits = [rng.rand(3, 5) + 0.5 for _ in range(n_vars)]
    grad = rng.randn(3, 5)
    if "Centered" in op_type:
        inits[1] = inits[1] * 0.1  # mg^2 < ms under the root
    out = []
    for dev in ("/cpu:0", "/gpu:0"):
        g = tf.Graph()
        with g.as_default(), tf.device(dev):
            vs = [tf.Variable(v.astype(np.float64)) for v in inits]
            ins = [v._ref() for v in vs] + [tf.constant(grad) if s == "g" else tf.constant(np.float64(s))
                                            for s in scalars]
            op = apply_op(getattr(training_ops, op_type), ins, dict(attrs))
            with tf.Session(graph=g) as sess:
                sess.run(tf.global_variables_initializer())
                for _ in range(2):
                    sess.run(op)
                out.append(sess.run(vs))
                if dev == "/gpu:0":
                    text = tf.explain(op, file=False)
    assert any("(%s)" % op_type in ln and GPU in ln for ln in _steps(text)), text
    for c, gv in zip(*out):
        np.testing.assert_allclose(gv, c, rtol=1e-12, atol=1e-12)
        assert not np.allclose(gv, inits[0]) or gv is not out[1][0]


def test_gpu_variables_assign_fetch_and_checkpoint(tmp_path):
    with tf.device("/gpu:0"):
        v = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3), name="v")
        c = tf.Variable(np.int64(5), name="c")
        add = tf.assign_add(v, tf.ones([2, 3]))
        sub = tf.assign_sub(v, tf.fill([2, 3], 0.5))
        put = tf.assign(v, tf.constant(np.full((2, 3), 7.0, np.float32)))
        inc = tf.assign_add(c, np.int64(2))
    saver = tf.train.Saver()
    with tf.Session() as sess:
        assert sess.run(tf.report_uninitialized_variables()).tolist() == [b"v", b"c"]
        sess.run(tf.global_variables_initializer())
        assert sess.run(tf.is_variable_initialized(v))
        fetched = sess.run(v)
        assert isinstance(fetched, np.ndarray) and fetched.dtype == np.float32
        np.testing.assert_array_equal(sess.run(add), np.arange(6).reshape(2, 3) + 1)
        np.testing.assert_array_equal(sess.run(sub), np.arange(6).reshape(2, 3) + 0.5)
        assert sess.run(inc) == 7
        fetched[...] = -1  # a fetched value is the host's own copy
        path = saver.save(sess, str(tmp_path / "ckpt"))
        sess.run(put)
        np.testing.assert_array_equal(sess.run(v), np.full((2, 3), 7.0))
        saver.restore(sess, path)
        np.testing.assert_array_equal(sess.run(v), np.arange(6).reshape(2, 3) + 0.5)
        assert sess.run(c) == 7
        text = tf.explain(add, file=False)
    steps = _steps(text)
    assert any("(AssignAdd)" in ln and GPU in ln for ln in steps) and not any("transfer" in ln for ln in steps[:2])


def test_variable_whose_updater_has_no_gpu_kernel_stays_on_the_host(capsys):
    """Placement keeps a variable on the CPU when an op updating it in place has no GPU
    kernel (its update would otherwise change a copy); a hard GPU request is an error naming
    that op, and soft placement moves the variable to the host."""
    from nbflow.backends.registry import register_kernel
    from nbflow.ops.base import Op, apply_op

    class HostOnlyIncrement(Op):  # a CPU-only op updating its ref input in place
        type = "TestHostOnlyIncrement"
        stateful = True
        resource_inputs = (0,)

        @classmethod
        def infer(cls, ctx):
            return [(ctx.input_dtypes[0], ctx.input_shapes[0])]

    @register_kernel(HostOnlyIncrement)
    def _increment(ctx):
        def run(ref):
            ref += 1
            return ref
        return run

    def build(device):
        g = tf.Graph()
        with g.as_default(), tf.device(device):
            v = tf.Variable(np.ones(3, np.float32), name="v")
            inc = apply_op(HostOnlyIncrement, [v._ref()], {}, name="inc")
            read = v * 2.0
        return g, inc, read

    g, inc, read = build(None)
    with tf.Session(graph=g, config=tf.ConfigProto(log_device_placement=True)) as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(inc)
        np.testing.assert_array_equal(sess.run(read), [4, 4, 4])
    err = capsys.readouterr().err
    assert "v: (VariableV2): /job:localhost/replica:0/task:0/device:CPU:0" in err
    assert "mul: (Mul): %s" % GPU in err  # a reader still goes to the GPU, through a copy

    g, inc, read = build("/gpu:0")
    with tf.Session(graph=g) as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="inc .TestHostOnlyIncrement. updates it in place"):
            sess.run(tf.global_variables_initializer())
    with tf.Session(graph=g, config=tf.ConfigProto(allow_soft_placement=True)) as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(inc)
        np.testing.assert_array_equal(sess.run(read), [4, 4, 4])

    # an optimizer update whose variable is on the GPU but whose slot stays on the host
    # (another updater of the slot has no GPU kernel) cannot run anywhere: an error naming it
    g = tf.Graph()
    with g.as_default():
        v, slot = tf.Variable(np.ones(3, np.float32), name="v"), tf.Variable(np.zeros(3, np.float32), name="slot")
        apply_op(HostOnlyIncrement, [slot._ref()], {}, name="inc_slot")
        from nbflow.ops import training_ops
        upd = apply_op(training_ops.ApplyMomentum, [v._ref(), slot._ref(), tf.constant(0.1), tf.ones([3]),
                                                    tf.constant(0.9)], {}, name="momentum")
    with tf.Session(graph=g) as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="Cannot colocate momentum .ApplyMomentum. with slot"):
            sess.run(upd)


def test_default_placement_prefers_the_gpu(capsys):
    a = tf.placeholder(tf.float32, [3])
    b = tf.exp(a, name="b")
    c = tf.Print(a, [a], message="a: ", name="c")  # Print: host-only (strings), stays on the CPU
    with tf.Session(config=tf.ConfigProto(log_device_placement=True)) as sess:
        out_b, out_c = sess.run([b, c], {a: np.array([1, 3, 2], np.float32)})
    err = capsys.readouterr().err
    assert "b: (Exp): %s" % GPU in err
    assert "c: (Print): /job:localhost/replica:0/task:0/device:CPU:0" in err
    np.testing.assert_allclose(out_b, np.exp([1, 3, 2]), rtol=1e-6)
    np.testing.assert_array_equal(out_c, [1, 3, 2])


def test_hard_placement_without_a_gpu_kernel_is_an_error():
    with tf.device("/gpu:0"):
        a = tf.constant([1.0, 2.0])
        c = tf.Print(a, [a], name="print")  # host-only: no GPU kernel
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="no supported kernel for GPU"):
            sess.run(c)
