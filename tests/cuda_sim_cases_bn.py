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
    x = rng.randn(1, 2, 3, 2)
    scale, offset = rng.rand(2) + 0.5, rng.randn(2)
    w = rng.randn(*x.shape)
    with tf.Graph().as_default(), tf.device("/gpu:0"):
        px, ps, po = tf.placeholder(tf.float64, x.shape), tf.placeholder(tf.float64, [2]), \
            tf.placeholder(tf.float64, [2])
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


# -- All, Any, EuclideanNorm ---------------------------------------------------------------

def test_boolean_reductions_and_euclidean_norm():
    rng = np.random.RandomState(7)
    b = rng.rand(3, 4, 5) > 0.3
    b[1] = True
    e = np.zeros((0, 3), bool)
    x32, x64 = rng.randn(3, 4, 5).astype(np.float32), rng.randn(4, 6)

    def build():
        pb, pe = tf.placeholder(tf.bool, b.shape), tf.placeholder(tf.bool, e.shape)
        p32, p64 = tf.placeholder(tf.float32, x32.shape), tf.placeholder(tf.float64, x64.shape)
        outs = [tf.reduce_all(pb), tf.reduce_any(pb), tf.reduce_all(pb, [0, 2]), tf.reduce_any(pb, 1, keepdims=True),
                tf.reduce_all(pb, -1), tf.reduce_any(tf.logical_not(pb), [1, 2]), tf.reduce_all(pe, 0),
                tf.reduce_any(pe, 0), tf.reduce_all(pe, 1), tf.reduce_any(pe),
                tf.reduce_euclidean_norm(p32), tf.reduce_euclidean_norm(p32, [0, 2], keepdims=True),
                tf.reduce_euclidean_norm(p64, 1), tf.reduce_euclidean_norm(p64[:, :0], 1)]
        outs += tf.gradients(tf.reduce_sum(tf.reduce_euclidean_norm(p64, 0) * 2.0), [p64])
        return outs, lambda: {pb: b, pe: e, p32: x32, p64: x64}
    cpu, gpu, text = run_both(build)
    assert_close(cpu, gpu, rtol=2e-6)
    for t in ("All", "Any", "EuclideanNorm"):
        assert on_gpu(text, t), t


# -- InTopKV2, CheckNumerics --------------------------------------------------------------

@pytest.mark.parametrize("index", [np.int32, np.int64])
def test_in_top_k(index):
    pred = np.array([[0.1, 0.5, 0.5, 0.2], [1.0, 2.0, 3.0, 4.0], [0.3, np.nan, 0.1, 0.2], [0.4, np.inf, 0.1, 0.0],
                     [0.0, 0.0, 0.0, 0.0], [5.0, 4.0, 3.0, 2.0]], np.float32)
    targets = np.array([2, 1, 0, 0, 3, 7], index)

    def build():
        pp, pt, pk = tf.placeholder(tf.float32, [None, 4]), tf.placeholder(index, [None]), tf.placeholder(index, [])
        outs = [tf.nn.in_top_k(pp, pt, 1), tf.nn.in_top_k(pp, pt, 2), tf.nn.in_top_k(pp, pt, pk),
                tf.nn.in_top_k(pp[:0], pt[:0], 1)]
        return outs, lambda: {pp: pred, pt: targets, pk: 3}
    cpu, gpu, text = run_both(build)
    for c, g in zip(cpu, gpu):
        assert g.dtype == np.bool_
        np.testing.assert_array_equal(g, c)
    assert on_gpu(text, "InTopKV2"), text


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_check_numerics_passes_finite_values_and_raises_tfs_error(dtype):
    with tf.Graph().as_default(), tf.device("/gpu:0"):
        px = tf.placeholder(dtype, [None, 3])
        checked = tf.check_numerics(px * 2.0, "bad x")
        grad = tf.gradients(tf.reduce_sum(checked * px), px)[0]
        with tf.Session() as sess:
            x = np.arange(12, dtype=dtype).reshape(4, 3)
            got, g = sess.run([checked, grad], {px: x})
            np.testing.assert_array_equal(got, x * 2)
            np.testing.assert_array_equal(g, 4 * x)
            assert sess.run(checked, {px: np.zeros((0, 3), dtype)}).shape == (0, 3)
            text = tf.explain(checked, {px: x}, file=False)
            for bad, what in (([np.nan], "NaN"), ([np.inf, -np.inf], "Inf"), ([np.nan, np.inf], "Inf and NaN")):
                v = x.copy()
                v.flat[[5, 9][:len(bad)]] = bad
                with pytest.raises(tf.errors.InvalidArgumentError, match=r"bad x : Tensor had %s values" % what):
                    sess.run(checked, {px: v})
    assert on_gpu(text, "CheckNumerics"), text


# -- Range, LinSpace, InvertPermutation -----------------------------------------------------

def test_range_lin_space_and_invert_permutation():
    perm = np.array([3, 0, 4, 1, 2], np.int32)

    def build():
        a, b, d = tf.placeholder(tf.int32, []), tf.placeholder(tf.float32, []), tf.placeholder(tf.int64, [])
        n, p = tf.placeholder(tf.int32, []), tf.placeholder(tf.int32, [None])
        outs = [tf.range(a, 40, 3), tf.range(b, -1.0, -0.3), tf.range(2, 50, d), tf.range(0.5, 3.0, 0.25,
                                                                                                dtype=tf.float64),
                tf.range(a, a), tf.lin_space(b, 7.0, n), tf.lin_space(tf.constant(-1.0, tf.float64), 1.0, 1),
                tf.lin_space(tf.constant(0.25), 5.0, 7), tf.invert_permutation(p),
                tf.invert_permutation(tf.cast(p, tf.int64)), tf.invert_permutation(p[:0])]
        return outs, lambda: {a: 4, b: 2.5, d: 7, n: 11, p: perm}
    cpu, gpu, text = run_both(build)
    assert_close(cpu, gpu, rtol=0, atol=0)
    for t in ("Range", "LinSpace", "InvertPermutation"):
        assert on_gpu(text, t), t


def test_sequence_errors_are_the_cpus():
    with tf.Graph().as_default(), tf.device("/gpu:0"):
        d, n, p = tf.placeholder(tf.int32, []), tf.placeholder(tf.int32, []), tf.placeholder(tf.int32, [None])
        r, ls, inv = tf.range(0, 10, d), tf.lin_space(0.0, 1.0, n), tf.invert_permutation(p)
        with tf.Session() as sess:
            with pytest.raises(tf.errors.InvalidArgumentError, match="Requires delta != 0"):
                sess.run(r, {d: 0})
            with pytest.raises(tf.errors.InvalidArgumentError, match="Requires num > 0: 0"):
                sess.run(ls, {n: 0})
            with pytest.raises(tf.errors.InvalidArgumentError, match=r"perm\[1\] = 5 is out of range \[0, 3\)"):
                sess.run(inv, {p: [0, 5, 1]})
            with pytest.raises(tf.errors.InvalidArgumentError, match=r"2 is missing from \{0,1,1\}"):
                sess.run(inv, {p: [0, 1, 1]})
            np.testing.assert_array_equal(sess.run(inv, {p: [2, 0, 1]}), [1, 2, 0])  # nothing left behind


# -- RandomUniformInt, Multinomial -------------------------------------------------------

def test_random_uniform_int_and_multinomial_draw_on_the_gpu():
    """Another generator than the CPU's: ranges, statistics, seeding and the stream are checked."""
    def build():
        g = tf.Graph()
        with g.as_default(), tf.device("/gpu:0"):
            tf.set_random_seed(3)
            lo = tf.placeholder(tf.int64, [])
            logits = tf.log(tf.constant([[0.1, 0.2, 0.7, 0.0], [0.25, 0.25, 0.25, 0.25]]))
            outs = [tf.random_uniform([2000], -3, 5, dtype=tf.int32, seed=1),
                    tf.random_uniform([10, 10], lo, 2 ** 40, dtype=tf.int64, seed=2),
                    tf.multinomial(logits, 500, seed=4), tf.random.categorical(logits, 3, dtype=tf.int32, seed=5),
                    tf.multinomial(logits[:, :0], 0, seed=6)]
        return g, lo, outs

    g, lo, outs = build()
    with tf.Session(graph=g) as sess:
        ints, big, draws, small, empty = sess.run(outs, {lo: 2 ** 39})
        again = sess.run(outs[0], {lo: 0})
        text = tf.explain(outs, {lo: 0}, file=False)
        with pytest.raises(tf.errors.InvalidArgumentError, match="Need minval < maxval"):
            sess.run(outs[1], {lo: 2 ** 40})
    g2, lo2, outs2 = build()
    with tf.Session(graph=g2) as sess:
        repeat = sess.run(outs2[0], {lo2: 0})
    assert ints.dtype == np.int32 and ints.min() == -3 and ints.max() == 4
    assert np.all(np.abs(np.bincount(ints + 3) / 2000 - 1 / 8) < 0.04)
    assert big.dtype == np.int64 and big.min() >= 2 ** 39 and big.max() < 2 ** 40
    assert draws.shape == (2, 500) and draws.dtype == np.int64 and small.dtype == np.int32 and small.shape == (2, 3)
    assert not np.any(draws[0] == 3)  # probability 0 in row 0
    np.testing.assert_allclose(np.bincount(draws[0], minlength=4) / 500, [0.1, 0.2, 0.7, 0.0], atol=0.06)
    np.testing.assert_allclose(np.bincount(draws[1], minlength=4) / 500, [0.25] * 4, atol=0.07)
    assert empty.shape == (2, 0)
    assert not np.array_equal(ints, again)
    np.testing.assert_array_equal(repeat, ints)  # same seeds, a new Session: the same numbers
    for t in ("RandomUniformInt", "Multinomial"):
        assert on_gpu(text, t), t


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_random_shuffle_permutes_rows_on_the_gpu(dtype):
    """A bitonic sort of random keys: rows stay whole, every order is reachable and the
    positions are uniform; seeded streams repeat in a new Session."""
    rows = np.arange(7 * 3, dtype=dtype).reshape(7, 3)

    def build():
        g = tf.Graph()
        with g.as_default(), tf.device("/gpu:0"):
            px = tf.placeholder(dtype, [None, 3])
            outs = [tf.random_shuffle(px, seed=9), tf.random_shuffle(px[:1], seed=1),
                    tf.random_shuffle(px[:0], seed=2), tf.random_shuffle(tf.constant(dtype(5)), seed=3)]
        return g, px, outs

    g, px, outs = build()
    with tf.Session(graph=g) as sess:
        draws = [sess.run(outs, {px: rows}) for _ in range(60)]
        text = tf.explain(outs, {px: rows}, file=False)
    g2, px2, outs2 = build()
    with tf.Session(graph=g2) as sess:
        again = sess.run(outs2[0], {px2: rows})
    np.testing.assert_array_equal(again, draws[0][0])
    first = np.array([d[0][:, 0] // 3 for d in draws]).astype(np.int64)  # the row index at each position
    for perm in first:
        assert sorted(perm) == list(range(7))
    for d in draws:
        np.testing.assert_array_equal(d[0], rows[d[0][:, 0].astype(np.int64) // 3])
        np.testing.assert_array_equal(d[1], rows[:1])
        assert d[2].shape == (0, 3) and d[3] == 5 and d[0].dtype == dtype
    assert len({tuple(p) for p in first}) > 50
    counts = np.array([np.bincount(first[:, k], minlength=7) for k in range(7)])
    assert counts.max() <= 25 and counts.min() >= 1  # 60 draws over 7 rows: about 8.6 each
    assert on_gpu(text, "RandomShuffle"), text


def test_keras_batch_normalization_with_adam_copies_only_the_feed_and_the_loss():
    x = np.random.RandomState(8).randn(4, 3, 3, 5).astype(np.float32)
    results = {}
    for dev in ("/cpu:0", "/gpu:0"):
        g = tf.Graph()
        with g.as_default(), tf.device(dev):
            px = tf.placeholder(tf.float32, x.shape)
            layer = tf.keras.layers.BatchNormalization()
            loss = tf.reduce_mean(tf.square(layer(px, training=True) - 0.5))
            with tf.control_dependencies(layer.updates):
                step = tf.train.AdamOptimizer(0.01).minimize(loss)
            with tf.Session(graph=g) as sess:
                sess.run(tf.global_variables_initializer())
                losses = [sess.run([loss, step], {px: x})[0] for _ in range(2)]
                results[dev] = (losses, sess.run(layer.weights))
                text = tf.explain([loss, step], {px: x}, file=False)
    np.testing.assert_allclose(results["/gpu:0"][0], results["/cpu:0"][0], rtol=1e-4)
    for c, g in zip(results["/cpu:0"][1], results["/gpu:0"][1]):  # gamma, beta, moving mean and variance
        np.testing.assert_allclose(g, c, rtol=1e-4, atol=1e-5)
    assert sum("transfer " in ln for ln in _steps(text)) == 2, text
