"""conv2d, its backprop ops, max_pool and avg_pool against numpy references."""
import numba
import numpy as np
import pytest

import nbflow as tf
from nbflow.backends.cpu import conv as conv_backend
from nbflow.ops import conv_ops


def _pad_amounts(size, k, s, d, padding):
    eff = (k - 1) * d + 1
    if padding == "VALID":
        return (size - eff) // s + 1, 0, 0
    out = -(-size // s)
    total = max((out - 1) * s + eff - size, 0)
    return out, total // 2, total - total // 2


def ref_conv2d(x, f, strides, padding, dilations=(1, 1)):
    n, h, w, c = x.shape
    kh, kw, _, o = f.shape
    sh, sw = strides
    dh, dw = dilations
    oh, pt, pb = _pad_amounts(h, kh, sh, dh, padding)
    ow, pl, pr = _pad_amounts(w, kw, sw, dw, padding)
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    out = np.zeros((n, oh, ow, o))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * sh:i * sh + (kh - 1) * dh + 1:dh, j * sw:j * sw + (kw - 1) * dw + 1:dw, :]
            out[:, i, j, :] = np.tensordot(patch, f, axes=([1, 2, 3], [0, 1, 2]))
    return out


def ref_pool(x, k, s, padding, kind):
    n, h, w, c = x.shape
    oh, pt, _ = _pad_amounts(h, k, s, 1, padding)
    ow, pl, _ = _pad_amounts(w, k, s, 1, padding)
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            y0, x0 = i * s - pt, j * s - pl
            win = x[:, max(y0, 0):min(y0 + k, h), max(x0, 0):min(x0 + k, w), :]
            out[:, i, j, :] = win.max(axis=(1, 2)) if kind == "max" else win.mean(axis=(1, 2))
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("strides", [(1, 1), (2, 2), (2, 1)])
def test_conv2d_matches_numpy(dtype, padding, strides):
    rng = np.random.RandomState(0)
    xv = rng.randn(2, 7, 6, 3).astype(dtype)
    fv = rng.randn(3, 2, 3, 4).astype(dtype)
    x = tf.placeholder(dtype, [None, 7, 6, 3])
    y = conv_ops.conv2d(x, tf.constant(fv), strides=[1, strides[0], strides[1], 1], padding=padding)
    ref = ref_conv2d(xv.astype(np.float64), fv.astype(np.float64), strides, padding)
    assert y.shape.as_list() == [None] + list(ref.shape[1:])
    with tf.Session() as sess:
        got = sess.run(y, {x: xv})
    assert got.dtype == dtype
    np.testing.assert_allclose(got, ref, rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-5)


def test_conv2d_dilations_and_size_one_edges():
    rng = np.random.RandomState(1)
    xv = rng.randn(1, 8, 8, 2)
    fv = rng.randn(3, 3, 2, 1)
    y = conv_ops.conv2d(tf.constant(xv), tf.constant(fv), strides=1, padding="SAME", dilations=2)
    one = conv_ops.conv2d(tf.constant(xv[:, :1, :1]), tf.constant(fv[:1, :1]), strides=1, padding="VALID")
    with tf.Session() as sess:
        got, got_one = sess.run([y, one])
    np.testing.assert_allclose(got, ref_conv2d(xv, fv, (1, 1), "SAME", (2, 2)), rtol=1e-10)
    np.testing.assert_allclose(got_one, xv[:, :1, :1] @ fv[0, 0], rtol=1e-10)


def test_conv2d_errors():
    x = tf.placeholder(tf.float32, [1, 5, 5, 3])
    with pytest.raises(ValueError, match="depth"):
        conv_ops.conv2d(x, tf.zeros([3, 3, 2, 4]), strides=1, padding="SAME")
    with pytest.raises(ValueError, match="NHWC"):
        conv_ops.conv2d(x, tf.zeros([3, 3, 3, 4]), strides=1, padding="SAME", data_format="NCHW")
    with pytest.raises(ValueError, match="padding"):
        conv_ops.conv2d(x, tf.zeros([3, 3, 3, 4]), strides=1, padding="FULL")


@pytest.mark.parametrize("padding,stride", [("SAME", 1), ("VALID", 2), ("SAME", 2)])
def test_conv2d_gradients(padding, stride):
    rng = np.random.RandomState(2)
    xv = rng.randn(2, 5, 4, 2)
    fv = rng.randn(3, 3, 2, 3)
    x = tf.placeholder(tf.float64, xv.shape)
    f = tf.placeholder(tf.float64, fv.shape)
    y = conv_ops.conv2d(x, f, strides=stride, padding=padding)
    with tf.Session():
        ex = tf.test.compute_gradient_error(x, xv.shape, y, y.shape.as_list(), x_init_value=xv,
                                            extra_feed_dict={f: fv})
        ef = tf.test.compute_gradient_error(f, fv.shape, y, y.shape.as_list(), x_init_value=fv,
                                            extra_feed_dict={x: xv})
    assert ex < 1e-6 and ef < 1e-6


def test_conv2d_transpose_is_the_input_gradient():
    rng = np.random.RandomState(3)
    fv = rng.randn(3, 3, 2, 4)
    dy = rng.randn(1, 3, 3, 4)
    t = conv_ops.conv2d_transpose(tf.constant(dy), tf.constant(fv), [1, 6, 6, 2], strides=[1, 2, 2, 1],
                                  padding="SAME")
    x = tf.placeholder(tf.float64, [1, 6, 6, 2])
    (g,) = tf.gradients(conv_ops.conv2d(x, tf.constant(fv), strides=2, padding="SAME"), x,
                        grad_ys=tf.constant(dy))
    with tf.Session() as sess:
        a, b = sess.run([t, g], {x: np.zeros((1, 6, 6, 2))})
    np.testing.assert_allclose(a, b, rtol=1e-12)
    assert t.shape.as_list() == [1, 6, 6, 2]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("padding,k,s", [("VALID", 2, 2), ("SAME", 3, 2), ("SAME", 2, 1)])
def test_pooling_matches_numpy(kind, padding, k, s):
    rng = np.random.RandomState(4)
    xv = rng.randn(2, 5, 6, 3).astype(np.float32)
    fn = conv_ops.max_pool if kind == "max" else conv_ops.avg_pool
    y = fn(tf.constant(xv), ksize=[1, k, k, 1], strides=[1, s, s, 1], padding=padding)
    with tf.Session() as sess:
        got = sess.run(y)
    np.testing.assert_allclose(got, ref_pool(xv.astype(np.float64), k, s, padding, kind), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_gradients(kind):
    rng = np.random.RandomState(5)
    xv = rng.permutation(2 * 4 * 5 * 2).reshape(2, 4, 5, 2) / 7.0  # distinct values: max is unique
    x = tf.placeholder(tf.float64, xv.shape)
    fn = conv_ops.max_pool if kind == "max" else conv_ops.avg_pool
    y = fn(x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
    with tf.Session():
        err = tf.test.compute_gradient_error(x, xv.shape, y, y.shape.as_list(), x_init_value=xv, delta=1e-4)
    assert err < 1e-6


# -- the chunked im2col kernels, the backprop ops on their own, edges ------------------------------

def ref_conv2d_grads(x, f, dout, strides, padding, dilations=(1, 1)):
    """(d input, d filter) of sum(conv2d(x, f) * dout), by looping over output positions."""
    n, h, w, c = x.shape
    kh, kw, _, o = f.shape
    sh, sw = strides
    dh, dw = dilations
    oh, pt, pb = _pad_amounts(h, kh, sh, dh, padding)
    ow, pl, pr = _pad_amounts(w, kw, sw, dw, padding)
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    dxp = np.zeros_like(xp)
    df = np.zeros_like(f)
    for i in range(oh):
        for j in range(ow):
            ys = slice(i * sh, i * sh + (kh - 1) * dh + 1, dh)
            xs = slice(j * sw, j * sw + (kw - 1) * dw + 1, dw)
            g = dout[:, i, j, :]
            df += np.tensordot(xp[:, ys, xs, :], g, axes=([0], [0]))
            dxp[:, ys, xs, :] += np.tensordot(g, f, axes=([1], [3]))
    return dxp[:, pt:pt + h, pl:pl + w, :], df


GEOMETRIES = [  # (x shape, filter shape, strides, padding, dilations)
    ((3, 7, 6, 3), (3, 2, 3, 4), (1, 1), "SAME", (1, 1)),
    ((2, 8, 9, 2), (2, 2, 2, 3), (1, 1), "SAME", (1, 1)),     # even kernel: SAME pads more at the end
    ((3, 9, 7, 2), (3, 3, 2, 5), (2, 3), "VALID", (1, 1)),
    ((2, 9, 8, 3), (3, 3, 3, 2), (2, 2), "SAME", (1, 1)),
    ((2, 9, 9, 2), (3, 2, 2, 3), (1, 1), "VALID", (2, 3)),
    ((2, 6, 5, 1), (5, 5, 1, 2), (1, 1), "SAME", (1, 1)),     # filter larger than half the image
    ((2, 9, 8, 1), (3, 3, 1, 2), (2, 2), "SAME", (1, 1)),     # one input channel (transposed patches)
    ((2, 9, 9, 1), (2, 2, 1, 3), (1, 1), "VALID", (2, 3)),
    ((3, 4, 5, 3), (1, 1, 3, 2), (1, 1), "SAME", (1, 1)),     # 1x1: one matrix product, no patches
    ((2, 5, 5, 3), (1, 1, 3, 2), (2, 2), "VALID", (1, 1)),    # 1x1 with strides
    ((3, 7, 6, 3), (3, 3, 3, 37), (1, 1), "SAME", (1, 1)),    # O: 4 vectors of 8 float64 + 5 scalar columns
    ((2, 9, 8, 1), (3, 3, 1, 19), (2, 1), "SAME", (1, 1)),    # one channel, O: 2 vectors + 3
    ((3, 4, 5, 9), (1, 1, 9, 20), (1, 1), "SAME", (1, 1)),    # 1x1, K (= 9) wider than a tile's 6 rows
]


@pytest.mark.parametrize("geom", GEOMETRIES)
@pytest.mark.parametrize("chunk", ["rows", "default"])
@pytest.mark.parametrize("threads", ["one", "all"])
def test_conv2d_and_backprops_match_numpy(geom, chunk, threads, monkeypatch):
    """Forward, Conv2DBackpropInput and Conv2DBackpropFilter against loops; ``rows`` makes the
    patch-matrix scratch hold 5 rows, so the kernels go through many chunks that start and end
    inside an output row, an image, or the batch; ``all`` splits every convolution's images
    across Numba's threads (the ``*_parallel`` kernels), however small."""
    if threads == "all":
        if numba.get_num_threads() < 2:
            pytest.skip("Numba has one thread")
        monkeypatch.setattr(conv_backend, "PARALLEL_MIN_MACS", 0)
    if chunk == "rows":
        monkeypatch.setattr(conv_backend, "_CHUNK_BYTES", 1)
        monkeypatch.setattr(conv_backend, "_MIN_CHUNK_ROWS", 5)
    xs, fs, (sh, sw), padding, (dh, dw) = geom
    rng = np.random.RandomState(7)
    xv, fv = rng.randn(*xs), rng.randn(*fs)
    ref = ref_conv2d(xv, fv, (sh, sw), padding, (dh, dw))
    dout = rng.randn(*ref.shape)
    ref_dx, ref_df = ref_conv2d_grads(xv, fv, dout, (sh, sw), padding, (dh, dw))
    kw = dict(strides=[1, sh, sw, 1], padding=padding, dilations=[1, dh, dw, 1])
    x = tf.placeholder(tf.float64, [None] + list(xs[1:]))
    g = tf.placeholder(tf.float64, [None] + list(ref.shape[1:]))
    y = conv_ops.conv2d(x, tf.constant(fv), **kw)
    dx = conv_ops.conv2d_backprop_input(list(xs), tf.constant(fv), g, **kw)
    df = conv_ops.conv2d_backprop_filter(x, list(fs), g, **kw)
    with tf.Session() as sess:
        got, got_dx, got_df = sess.run([y, dx, df], {x: xv, g: dout})
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got_dx, ref_dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got_df, ref_df, rtol=1e-10, atol=1e-12)


def test_conv2d_float32_lenet_shapes_many_chunks(monkeypatch):
    """float32, in chunks of 3 images (108 rows of 18 values) that do not divide the batch of 7."""
    monkeypatch.setattr(conv_backend, "_CHUNK_BYTES", 108 * 18 * 4)
    monkeypatch.setattr(conv_backend, "_MIN_CHUNK_ROWS", 1)
    rng = np.random.RandomState(8)
    xv = rng.randn(7, 6, 6, 2).astype(np.float32)
    fv = rng.randn(3, 3, 2, 5).astype(np.float32)
    dout = rng.randn(7, 6, 6, 5).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 6, 6, 2])
    y = conv_ops.conv2d(x, tf.constant(fv), strides=1, padding="SAME")
    dx = conv_ops.conv2d_backprop_input([7, 6, 6, 2], tf.constant(fv), tf.constant(dout), strides=1, padding="SAME")
    df = conv_ops.conv2d_backprop_filter(x, [3, 3, 2, 5], tf.constant(dout), strides=1, padding="SAME")
    with tf.Session() as sess:
        got, got_dx, got_df = sess.run([y, dx, df], {x: xv})
    ref_dx, ref_df = ref_conv2d_grads(xv.astype(np.float64), fv.astype(np.float64), dout.astype(np.float64),
                                      (1, 1), "SAME")
    assert got.dtype == got_dx.dtype == got_df.dtype == np.float32
    np.testing.assert_allclose(got, ref_conv2d(xv.astype(np.float64), fv.astype(np.float64), (1, 1), "SAME"),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got_dx, ref_dx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got_df, ref_df, rtol=1e-4, atol=1e-4)


def test_conv2d_unknown_batch_several_sizes_and_empty():
    rng = np.random.RandomState(9)
    fv = rng.randn(3, 3, 2, 3)
    x = tf.placeholder(tf.float64, [None, 5, 4, 2])
    y = conv_ops.conv2d(x, tf.constant(fv), strides=[1, 2, 1, 1], padding="SAME")
    gx, = tf.gradients(tf.reduce_sum(y * y), [x])
    f = tf.constant(fv)
    gf, = tf.gradients(tf.reduce_sum(conv_ops.conv2d(x, f, strides=1, padding="VALID")), [f])
    with tf.Session() as sess:
        for n in (3, 1, 0):
            xv = rng.randn(n, 5, 4, 2)
            got, got_gx, got_gf = sess.run([y, gx, gf], {x: xv})
            ref = ref_conv2d(xv, fv, (2, 1), "SAME")
            ref_gx, _ = ref_conv2d_grads(xv, fv, 2 * ref, (2, 1), "SAME")
            _, ref_gf = ref_conv2d_grads(xv, fv, np.ones((n, 3, 2, 3)), (1, 1), "VALID")
            assert got.shape == (n, 3, 4, 3) and got_gx.shape == xv.shape
            np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(got_gx, ref_gx, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(got_gf, ref_gf, rtol=1e-10, atol=1e-12)


def test_conv2d_float16_computes_in_float32():
    rng = np.random.RandomState(10)
    xv = rng.randn(2, 5, 5, 2).astype(np.float16)
    fv = rng.randn(3, 3, 2, 3).astype(np.float16)
    x = tf.placeholder(tf.float16, [None, 5, 5, 2])
    y = conv_ops.conv2d(x, tf.constant(fv), strides=1, padding="SAME")
    p = conv_ops.max_pool(y, ksize=2, strides=2, padding="SAME")
    a = conv_ops.avg_pool(y, ksize=2, strides=2, padding="SAME")
    gx, = tf.gradients(tf.reduce_sum(p) + tf.reduce_sum(a), [x])
    with tf.Session() as sess:
        got, got_p, got_gx = sess.run([y, p, gx], {x: xv})
    ref = ref_conv2d(xv.astype(np.float64), fv.astype(np.float64), (1, 1), "SAME")
    assert got.dtype == got_p.dtype == got_gx.dtype == np.float16 and got_gx.shape == xv.shape
    np.testing.assert_allclose(got, ref, rtol=1e-2, atol=1e-2)
    np.testing.assert_allclose(got_p, ref_pool(got.astype(np.float64), 2, 2, "SAME", "max"), rtol=1e-3)


def test_backprop_ops_check_their_inputs():
    f = tf.zeros([3, 3, 2, 4])
    with pytest.raises(TypeError, match="Conv2D"):
        conv_ops.conv2d(tf.zeros([1, 5, 5, 2], tf.float64), f, strides=1, padding="SAME")
    with pytest.raises(TypeError, match="Conv2DBackpropInput"):
        conv_ops.conv2d_backprop_input([1, 5, 5, 2], f, tf.zeros([1, 5, 5, 4], tf.float64), strides=1,
                                       padding="SAME")
    with pytest.raises(ValueError, match="input_sizes must have 4 elements"):
        conv_ops.conv2d_backprop_input([5, 5, 2], f, tf.zeros([1, 5, 5, 4]), strides=1, padding="SAME")
    with pytest.raises(TypeError, match="Conv2DBackpropFilter"):
        conv_ops.conv2d_backprop_filter(tf.zeros([1, 5, 5, 2], tf.float64), [3, 3, 2, 4], tf.zeros([1, 5, 5, 4]),
                                        strides=1, padding="SAME")
    g = tf.placeholder(tf.float32, [None, None, None, 4])
    dx = conv_ops.conv2d_backprop_input([1, 5, 5, 2], f, g, strides=1, padding="SAME", name="bad_dx")
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="out_backprop has shape"):
            sess.run(dx, {g: np.zeros((1, 4, 5, 4), np.float32)})


# -- pooling: geometries, gradients against loops, ties, NaN ----------------------------------------

def ref_pool_grads(x, dout, kh, kw, sh, sw, padding):
    """(max-pool gradient with the first maximum of each window taking it, avg-pool gradient)."""
    n, h, w, c = x.shape
    oh, pt, _ = _pad_amounts(h, kh, sh, 1, padding)
    ow, pl, _ = _pad_amounts(w, kw, sw, 1, padding)
    dmax = np.zeros_like(x)
    davg = np.zeros_like(x)
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                y0, x0 = max(i * sh - pt, 0), max(j * sw - pl, 0)
                y1, x1 = min(i * sh - pt + kh, h), min(j * sw - pl + kw, w)
                for ch in range(c):
                    win = x[b, y0:y1, x0:x1, ch]
                    k = int(np.argmax(win))  # first maximum in row-major order
                    dmax[b, y0 + k // win.shape[1], x0 + k % win.shape[1], ch] += dout[b, i, j, ch]
                    davg[b, y0:y1, x0:x1, ch] += dout[b, i, j, ch] / win.size
    return dmax, davg


POOLS = [  # (ksize, strides, padding)
    ((2, 2), (2, 2), "SAME"),   # tiles exactly
    ((2, 2), (2, 2), "VALID"),  # odd sizes: last row / column left out
    ((3, 3), (1, 1), "SAME"),   # overlapping
    ((3, 2), (2, 1), "SAME"),   # overlapping in one direction
    ((2, 2), (3, 3), "VALID"),  # gaps between windows
    ((1, 1), (1, 1), "VALID"),
]


@pytest.mark.parametrize("ksize,strides,padding", POOLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", ["one", "all"])
def test_pooling_and_gradients_match_loops(ksize, strides, padding, dtype, threads, monkeypatch):
    """``all``: the images split across Numba's threads (the ``*_parallel`` kernels), however small."""
    if threads == "all":
        if numba.get_num_threads() < 2:
            pytest.skip("Numba has one thread")
        monkeypatch.setattr(conv_backend, "POOL_PARALLEL_MIN_ELEMENTS", 0)
    rng = np.random.RandomState(11)
    xv = rng.randn(2, 7, 5, 3).astype(dtype)
    xv[0, :2, :2, 0] = 1.5  # a tie: the first of the equal maxima takes the gradient
    kw = dict(ksize=[1, ksize[0], ksize[1], 1], strides=[1, strides[0], strides[1], 1], padding=padding)
    x = tf.placeholder(dtype, [None, 7, 5, 3])
    mp, ap = conv_ops.max_pool(x, **kw), conv_ops.avg_pool(x, **kw)
    g = tf.placeholder(dtype, mp.shape)
    gm, = tf.gradients(mp, [x], grad_ys=g)
    ga, = tf.gradients(ap, [x], grad_ys=g)
    with tf.Session() as sess:
        dout = rng.randn(*[2] + mp.shape.as_list()[1:]).astype(dtype)
        got_m, got_a, got_gm, got_ga = sess.run([mp, ap, gm, ga], {x: xv, g: dout})
    x64 = xv.astype(np.float64)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    ref_m = np.zeros(got_m.shape)
    ref_a = np.zeros(got_a.shape)
    for i in range(got_m.shape[1]):  # ref_pool is for square windows; loop the general case here
        for j in range(got_m.shape[2]):
            oh, pt, _ = _pad_amounts(7, ksize[0], strides[0], 1, padding)
            ow, pl, _ = _pad_amounts(5, ksize[1], strides[1], 1, padding)
            y0, x0 = max(i * strides[0] - pt, 0), max(j * strides[1] - pl, 0)
            win = x64[:, y0:min(i * strides[0] - pt + ksize[0], 7), x0:min(j * strides[1] - pl + ksize[1], 5), :]
            ref_m[:, i, j] = win.max(axis=(1, 2))
            ref_a[:, i, j] = win.mean(axis=(1, 2))
    np.testing.assert_allclose(got_m, ref_m, **tol)
    np.testing.assert_allclose(got_a, ref_a, **tol)
    ref_gm, ref_ga = ref_pool_grads(x64, dout.astype(np.float64), ksize[0], ksize[1], strides[0], strides[1],
                                    padding)
    np.testing.assert_allclose(got_gm, ref_gm, **tol)
    np.testing.assert_allclose(got_ga, ref_ga, **tol)


def test_pooling_empty_batch_and_nan():
    x = tf.placeholder(tf.float32, [None, 4, 4, 2])
    mp = conv_ops.max_pool(x, ksize=2, strides=2, padding="VALID")
    gm, = tf.gradients(tf.reduce_sum(mp), [x])
    ga, = tf.gradients(tf.reduce_sum(conv_ops.avg_pool(x, ksize=2, strides=2, padding="VALID")), [x])
    xv = np.arange(32, dtype=np.float32).reshape(1, 4, 4, 2)
    xv[0, 1, 1, 0] = np.nan
    with tf.Session() as sess:
        e_m, e_gm, e_ga = sess.run([mp, gm, ga], {x: np.zeros((0, 4, 4, 2), np.float32)})
        got = sess.run(mp, {x: xv})
    assert e_m.shape == (0, 2, 2, 2) and e_gm.shape == e_ga.shape == (0, 4, 4, 2)
    assert np.isnan(got[0, 0, 0, 0]) and not np.isnan(got[0, 0, 0, 1])  # NaN propagates (as np.max)
    assert got[0, 1, 1, 0] == xv[0, 3, 3, 0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("parallel", [False, True])
def test_max_pool_2x2_tiling_kernel_matches_numpy(monkeypatch, dtype, parallel):
    # 2x2 windows, stride 2, VALID, even sizes: kernels/cpu/pool.py's 2x2 kernel (NaN propagates)
    if parallel:
        monkeypatch.setattr(conv_backend, "POOL_PARALLEL_MIN_ELEMENTS", 0)
    rng = np.random.RandomState(5)
    xv = rng.randn(3, 6, 8, 5).astype(dtype)
    xv[1, 2, 3, 4] = np.nan
    x = tf.placeholder(tf.as_dtype(dtype), [None, 6, 8, 5])
    y = tf.nn.max_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
    with tf.Session() as sess:
        got = sess.run(y, {x: xv})
    want = xv.reshape(3, 3, 2, 4, 2, 5).max(axis=(2, 4))  # numpy's max propagates NaN too
    np.testing.assert_array_equal(got, want)
    assert np.isnan(got[1, 1, 1, 4])


@pytest.mark.parametrize("ksize,stride,padding", [(2, 2, "VALID"), (3, 2, "SAME"), (3, 1, "VALID")])
def test_relu_then_max_pool_gradient_masks_the_pooled_gradient(ksize, stride, padding):
    # Relu's gradient after a max_pool is built as MaxPoolGrad(r, y, ReluGrad(g, y)) (the mask
    # on the pooled gradient, ops/nn_activation_ops.py): the same values as the
    # unrewritten ReluGrad(MaxPoolGrad(r, y, g), r), overlapping windows included
    rng = np.random.RandomState(11)
    xv = rng.randn(2, 7, 6, 3).astype(np.float32)
    xv[0, :3, :3, 0] = -1.0  # whole windows negative: their gradient is masked
    gv = rng.randn(*tf.nn.max_pool(tf.zeros([2, 7, 6, 3]), [1, ksize, ksize, 1], [1, stride, stride, 1],
                                   padding).shape.as_list()).astype(np.float32)
    x = tf.placeholder(tf.float32, [2, 7, 6, 3])
    r = tf.nn.relu(x)
    y = tf.nn.max_pool(r, [1, ksize, ksize, 1], [1, stride, stride, 1], padding)
    dx = tf.gradients(y, [x], grad_ys=[tf.constant(gv)])[0]
    assert dx.op.type == "MaxPoolGrad" and dx.op.inputs[2].op.type == "ReluGrad"
    from nbflow.ops import nn_activation_ops
    from nbflow.ops.base import apply_op

    unmasked = apply_op(conv_ops.MaxPoolGrad, [r, y, tf.constant(gv)], dict(y.op.attrs))
    plain = apply_op(nn_activation_ops.ReluGrad, [unmasked, r])
    with tf.Session() as sess:
        got, want_plain = sess.run([dx, plain], {x: xv})
    np.testing.assert_array_equal(got, want_plain)
    # numpy reference: each window's gradient to its first maximum, masked where r <= 0
    rv = np.maximum(xv, 0)
    want = np.zeros_like(xv)
    oh, ow = gv.shape[1:3]
    pt = max((oh - 1) * stride + ksize - 7, 0) // 2 if padding == "SAME" else 0
    pl = max((ow - 1) * stride + ksize - 6, 0) // 2 if padding == "SAME" else 0
    for n in range(2):
        for i in range(oh):
            for j in range(ow):
                y0, x0 = max(i * stride - pt, 0), max(j * stride - pl, 0)
                y1, x1 = min(i * stride - pt + ksize, 7), min(j * stride - pl + ksize, 6)
                for c in range(3):
                    win = rv[n, y0:y1, x0:x1, c]
                    p = np.unravel_index(np.argmax(win), win.shape)
                    if win[p] > 0:
                        want[n, y0 + p[0], x0 + p[1], c] += gv[n, i, j, c]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
