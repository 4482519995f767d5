"""MatMul, BatchMatMulV2, MatrixInverse and MatrixDeterminant against numpy, with gradients."""
import numba
import numpy as np
import pytest

import nbflow as tf


def run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


def grad_error(f, shapes, values=None, delta=1e-5):
    xs = [tf.placeholder(tf.float64, s) for s in shapes]
    y = f(*xs)
    rng = np.random.RandomState(6)
    values = values if values is not None else [rng.randn(*s) for s in shapes]
    with tf.Session():
        if len(xs) == 1:
            return tf.test.compute_gradient_error(xs[0], shapes[0], y, y.shape.as_list(), x_init_value=values[0],
                                                  delta=delta)
        return tf.test.compute_gradient_error(xs, list(shapes), y, y.shape.as_list(), x_init_value=values,
                                              delta=delta)


def _t(a):
    return np.swapaxes(a, -1, -2)


# -- MatMul (2-D) ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_matmul_2d_transposes(dtype):
    rng = np.random.RandomState(0)
    a = rng.randn(3, 4).astype(dtype)
    b = rng.randn(4, 5).astype(dtype)
    pa = tf.placeholder(tf.as_dtype(dtype), [None, 4])
    cases = {
        (False, False): (tf.matmul(pa, b), a @ b),
        (True, False): (tf.matmul(a.T.copy(), b, transpose_a=True), a @ b),
        (False, True): (tf.matmul(pa, b.T.copy(), transpose_b=True), a @ b),
        (True, True): (tf.matmul(a.T.copy(), b.T.copy(), transpose_a=True, transpose_b=True), a @ b),
    }
    got = run({k: t for k, (t, _) in cases.items()}, {pa: a})
    for k, (t, want) in cases.items():
        assert t.op.type == "MatMul" and t.dtype == tf.as_dtype(dtype)
        assert got[k].dtype == dtype
        np.testing.assert_allclose(got[k], want, rtol=1e-5 if dtype == np.float32 else 1e-12, err_msg=str(k))
    assert cases[(False, False)][0].shape.as_list() == [None, 5]
    assert (tf.constant(a) @ tf.constant(b)).op.type == "MatMul"


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("threads", ["one", "all"])
@pytest.mark.parametrize("m,k,n", [(13, 37, 45), (40, 9, 7), (3, 70, 100)])
def test_matmul_tiled_product_transposes_and_threads(dtype, threads, m, k, n, monkeypatch):
    """Shapes that fill 6-row tiles of 4/2/1 vectors with rows and columns left over; ``all``
    splits every product across Numba's threads (by rows when m >= n, else by columns)."""
    from nbflow.backends.cpu import linalg as linalg_backend
    if threads == "all":
        if numba.get_num_threads() < 2:
            pytest.skip("Numba has one thread")
        monkeypatch.setattr(linalg_backend, "PARALLEL_MIN_MACS", 0)
    rng = np.random.RandomState(3)
    a, b = rng.randn(m, k).astype(dtype), rng.randn(k, n).astype(dtype)
    want = a.astype(np.float64) @ b.astype(np.float64)
    pa, pat = tf.placeholder(tf.as_dtype(dtype), [None, k]), tf.placeholder(tf.as_dtype(dtype), [k, None])
    got = run([tf.matmul(pa, b), tf.matmul(pat, b, transpose_a=True), tf.matmul(pa, b.T.copy(), transpose_b=True),
               tf.matmul(pat, b.T.copy(), transpose_a=True, transpose_b=True)], {pa: a, pat: a.T.copy()})
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for g in got:
        assert g.dtype == dtype
        np.testing.assert_allclose(g, want, **tol)


def test_matmul_integers_float16_and_edges():
    ai = np.arange(6, dtype=np.int32).reshape(2, 3)
    np.testing.assert_array_equal(run(tf.matmul(ai, ai, transpose_b=True)), ai @ ai.T)
    assert run(tf.matmul(ai.astype(np.int64), ai.T.astype(np.int64))).dtype == np.int64
    h = np.random.RandomState(1).randn(2, 3).astype(np.float16)
    out = run(tf.matmul(h, h, transpose_b=True))
    assert out.dtype == np.float16
    np.testing.assert_allclose(out, (h.astype(np.float32) @ h.T.astype(np.float32)).astype(np.float16), rtol=1e-3)
    # empty inner dimension: zeros; empty outer: empty
    p = tf.placeholder(tf.float32, [None, None])
    q = tf.placeholder(tf.float32, [None, 2])
    np.testing.assert_array_equal(run(tf.matmul(p, q), {p: np.zeros((3, 0)), q: np.zeros((0, 2))}), np.zeros((3, 2)))
    assert run(tf.matmul(p, q), {p: np.zeros((0, 4)), q: np.ones((4, 2))}).shape == (0, 2)
    assert run(tf.matmul([[2.0]], [[3.0]])).tolist() == [[6.0]]


def test_matmul_errors():
    with pytest.raises(ValueError, match="Dimensions must be equal"):
        tf.matmul(tf.zeros([2, 3]), tf.zeros([4, 5]))
    with pytest.raises(TypeError):
        tf.matmul(tf.zeros([2, 2]), tf.zeros([2, 2], tf.float64))
    with pytest.raises(TypeError):
        tf.matmul(tf.constant([[True]]), tf.constant([[True]]))
    with pytest.raises(ValueError):
        tf.matmul(tf.zeros([2]), tf.zeros([2, 2]))
    with pytest.raises(ValueError):
        tf.matmul(tf.zeros([2, 2]), tf.zeros([2, 2]), transpose_a=True, adjoint_a=True)
    p = tf.placeholder(tf.float32, [None, None])
    with pytest.raises(tf.errors.InvalidArgumentError, match="Dimensions must be equal, but are 3 and 2"):
        run(tf.matmul(p, p), {p: np.zeros((2, 3), np.float32)})


@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_matmul_gradients(ta, tb):
    sa = (4, 3) if ta else (3, 4)
    sb = (2, 4) if tb else (4, 2)
    assert grad_error(lambda a, b: tf.matmul(a, b, transpose_a=ta, transpose_b=tb), [sa, sb]) < 1e-8


# -- BatchMatMulV2 ---------------------------------------------------------------------------

@pytest.mark.parametrize("sa,sb", [
    ((2, 3, 4), (2, 4, 5)),          # same batch
    ((2, 1, 3, 4), (5, 4, 2)),       # broadcast batch dims
    ((3, 4), (2, 4, 5)),             # a matrix against a stack
    ((2, 3, 4), (4, 5)),
    ((1, 3, 4), (6, 4, 1)),
], ids=["same", "broadcast", "matrix_left", "matrix_right", "size1"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_batch_matmul_broadcasting(sa, sb, dtype):
    rng = np.random.RandomState(2)
    a = rng.randn(*sa).astype(dtype)
    b = rng.randn(*sb).astype(dtype)
    z = tf.matmul(a, b)
    assert z.op.type == "BatchMatMulV2"
    want = np.matmul(a, b)
    assert z.shape.as_list() == list(want.shape)
    got = run(z)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


@pytest.mark.parametrize("adj_a,adj_b", [(False, True), (True, False), (True, True)])
def test_batch_matmul_adjoints(adj_a, adj_b):
    rng = np.random.RandomState(3)
    a = rng.randn(2, 1, 3, 4)
    b = rng.randn(3, 4, 5)
    a_in = _t(a).copy() if adj_a else a
    b_in = _t(b).copy() if adj_b else b
    z = tf.matmul(a_in, b_in, adjoint_a=adj_a, adjoint_b=adj_b)
    assert z.op.attrs["adj_x"] == adj_a and z.op.attrs["adj_y"] == adj_b
    np.testing.assert_allclose(run(z), np.matmul(a, b), rtol=1e-12)
    z2 = tf.matmul(a_in, b_in, transpose_a=adj_a, transpose_b=adj_b)
    np.testing.assert_allclose(run(z2), np.matmul(a, b), rtol=1e-12)


def test_batch_matmul_unknown_dims_other_dtypes_and_errors():
    p = tf.placeholder(tf.float32, [None, None, 3])
    q = tf.placeholder(tf.float32, [3, 2])
    z = tf.matmul(p, q)
    assert z.op.type == "BatchMatMulV2" and z.shape.as_list() == [None, None, 2]
    pv = np.random.RandomState(4).randn(2, 4, 3).astype(np.float32)
    qv = np.ones((3, 2), np.float32)
    np.testing.assert_allclose(run(z, {p: pv, q: qv}), pv @ qv, rtol=1e-6)
    assert run(z, {p: np.zeros((0, 4, 3)), q: qv}).shape == (0, 4, 2)
    # unknown rank goes to BatchMatMulV2 too
    u = tf.placeholder(tf.float32)
    zu = tf.matmul(u, q)
    assert zu.op.type == "BatchMatMulV2" and zu.shape.ndims is None
    np.testing.assert_allclose(run(zu, {u: pv[0], q: qv}), pv[0] @ qv, rtol=1e-6)
    # integers and float16
    ai = np.arange(12, dtype=np.int32).reshape(2, 2, 3)
    np.testing.assert_array_equal(run(tf.matmul(ai, ai, transpose_b=True)), ai @ _t(ai))
    h = np.random.RandomState(5).randn(2, 2, 3).astype(np.float16)
    hv = run(tf.matmul(h, h, adjoint_b=True))
    assert hv.dtype == np.float16
    np.testing.assert_allclose(hv, h.astype(np.float32) @ _t(h).astype(np.float32), rtol=2e-3, atol=2e-3)
    with pytest.raises(ValueError, match="broadcastable"):
        tf.matmul(tf.zeros([2, 3, 4]), tf.zeros([3, 4, 5]))
    with pytest.raises(ValueError, match="size-incompatible"):
        tf.matmul(tf.zeros([2, 3, 4]), tf.zeros([2, 3, 5]))
    r = tf.placeholder(tf.float32, [None, None, None])
    with pytest.raises(tf.errors.InvalidArgumentError, match="size-incompatible"):
        run(tf.matmul(r, q), {r: np.zeros((2, 4, 2)), q: qv})
    s = tf.placeholder(tf.float32, [None, 3, 3])
    with pytest.raises(tf.errors.InvalidArgumentError, match="broadcastable"):
        run(tf.matmul(r, s), {r: np.zeros((2, 3, 3)), s: np.zeros((4, 3, 3))})


@pytest.mark.parametrize("sa,sb,adj_a,adj_b", [
    ((2, 3, 4), (2, 4, 2), False, False),
    ((2, 1, 3, 4), (3, 4, 2), False, False),
    ((2, 4, 3), (4, 2), True, False),
    ((3, 4), (2, 2, 4), False, True),
    ((2, 4, 3), (1, 2, 4), True, True),
], ids=["same", "broadcast", "adj_a_matrix", "matrix_adj_b", "both_adj"])
def test_batch_matmul_gradients(sa, sb, adj_a, adj_b):
    f = lambda a, b: tf.matmul(a, b, adjoint_a=adj_a, adjoint_b=adj_b)  # noqa: E731
    assert grad_error(f, [sa, sb]) < 1e-8


def test_batch_matmul_gradient_with_unknown_batch():
    a = tf.placeholder(tf.float64, [None, 2, 3])
    b = tf.placeholder(tf.float64, [3, 2])
    ga, gb = tf.gradients(tf.reduce_sum(tf.matmul(a, b)), [a, b])
    av = np.random.RandomState(7).randn(4, 2, 3)
    bv = np.random.RandomState(8).randn(3, 2)
    gav, gbv = run([ga, gb], {a: av, b: bv})
    np.testing.assert_allclose(gav, np.broadcast_to(bv.sum(1), (4, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(gbv, np.broadcast_to(av.sum((0, 1))[:, None], (3, 2)), rtol=1e-12)


# -- inverse and determinant ---------------------------------------------------------------

def _well_conditioned(rng, *shape):
    n = shape[-1]
    return rng.randn(*shape) + 3 * np.eye(n)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_matrix_inverse(dtype):
    a = _well_conditioned(np.random.RandomState(9), 2, 3, 4, 4).astype(dtype)
    x = tf.placeholder(tf.as_dtype(dtype), [None, 3, 4, 4])
    inv, inv_adj = tf.matrix_inverse(x), tf.matrix_inverse(x, adjoint=True)
    assert inv.op.type == "MatrixInverse" and inv.shape.as_list() == [None, 3, 4, 4]
    g, ga = run([inv, inv_adj], {x: a})
    tol = 1e-4 if dtype == np.float32 else 1e-12
    assert g.dtype == dtype
    np.testing.assert_allclose(g, np.linalg.inv(a), rtol=tol, atol=tol)
    np.testing.assert_allclose(ga, np.linalg.inv(_t(a)), rtol=tol, atol=tol)
    np.testing.assert_allclose(run(tf.linalg.inv(a[0, 0])), np.linalg.inv(a[0, 0]), rtol=tol, atol=tol)


def test_matrix_inverse_errors_and_edges():
    with pytest.raises(tf.errors.InvalidArgumentError, match="not invertible"):
        run(tf.matrix_inverse(np.array([[1.0, 2.0], [2.0, 4.0]])))
    with pytest.raises(ValueError, match="square"):
        tf.matrix_inverse(tf.zeros([2, 3]))
    with pytest.raises(ValueError):
        tf.matrix_inverse(tf.zeros([3]))
    with pytest.raises(TypeError):
        tf.matrix_inverse(tf.constant([[1, 0], [0, 1]]))
    p = tf.placeholder(tf.float64, [None, None])
    with pytest.raises(tf.errors.InvalidArgumentError, match="square"):
        run(tf.matrix_inverse(p), {p: np.zeros((2, 3))})
    assert run(tf.matrix_inverse(tf.zeros([0, 2, 2]))).shape == (0, 2, 2)
    assert run(tf.matrix_inverse([[4.0]])).tolist() == [[0.25]]


@pytest.mark.parametrize("adjoint", [False, True])
def test_matrix_inverse_gradient(adjoint):
    a = _well_conditioned(np.random.RandomState(10), 2, 3, 3)
    assert grad_error(lambda x: tf.matrix_inverse(x, adjoint=adjoint), [(2, 3, 3)], [a]) < 1e-8
    x = tf.placeholder(tf.float64, [3, 3])
    (g,) = tf.gradients(tf.reduce_sum(tf.matrix_inverse(x)), x)
    ai = np.linalg.inv(a[0])
    np.testing.assert_allclose(run(g, {x: a[0]}), -ai.T @ np.ones((3, 3)) @ ai.T, rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_matrix_determinant(dtype):
    a = np.random.RandomState(11).randn(2, 3, 4, 4).astype(dtype)
    x = tf.placeholder(tf.as_dtype(dtype), [None, 3, 4, 4])
    d = tf.matrix_determinant(x)
    assert d.op.type == "MatrixDeterminant" and d.shape.as_list() == [None, 3]
    got = run(d, {x: a})
    assert got.dtype == dtype
    np.testing.assert_allclose(got, np.linalg.det(a.astype(np.float64)), rtol=1e-4 if dtype == np.float32 else 1e-12)
    assert run(tf.linalg.det(np.array([[1.0, 2.0], [3.0, 4.0]]))) == pytest.approx(-2.0)
    assert run(tf.matrix_determinant(np.array([[1.0, 2.0], [2.0, 4.0]]))) == 0.0  # singular is fine
    assert run(tf.matrix_determinant(tf.zeros([2, 0, 0]))).tolist() == [1.0, 1.0]  # empty product
    with pytest.raises(ValueError, match="square"):
        tf.matrix_determinant(tf.zeros([2, 3]))


def test_matrix_determinant_gradient():
    a = _well_conditioned(np.random.RandomState(12), 2, 3, 3)
    assert grad_error(tf.matrix_determinant, [(2, 3, 3)], [a]) < 1e-8
    x = tf.placeholder(tf.float64, [None, 3, 3])  # unknown batch: the reshape shape is computed at run time
    (g,) = tf.gradients(tf.matrix_determinant(x), x)
    want = np.linalg.det(a)[:, None, None] * _t(np.linalg.inv(a))
    np.testing.assert_allclose(run(g, {x: a}), want, rtol=1e-10)


def test_linalg_namespace():
    assert tf.linalg.matmul is tf.matmul
    assert tf.linalg.inv is tf.matrix_inverse and tf.linalg.det is tf.matrix_determinant


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul2d_kernel_transposes_as_flags(dtype):
    """kernels/cpu/linalg.matmul2d: operands as stored, transposes as flags, one
    compiled signature for all four; zero dimensions; shapes checked."""
    from nbflow.kernels.cpu import linalg as K

    rng = np.random.default_rng(0)
    for m, k, n in [(1, 1, 1), (3, 5, 2), (10, 1, 7), (33, 17, 9), (0, 3, 2), (2, 0, 3), (2, 3, 0)]:
        for ta in (False, True):
            for tb in (False, True):
                a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
                b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
                out = np.full((m, n), np.nan, dtype)
                K.matmul2d(a, b, out, ta, tb)
                ref = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
                np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    sigs = [s for s in K.matmul2d.signatures if str(s[0].dtype) == np.dtype(dtype).name and s[0].mutable
            and s[1].mutable]  # (read-only operands, constants, are another signature)
    assert len(sigs) == 1, sigs
    with pytest.raises(ValueError, match="incompatible"):
        K.matmul2d(np.ones((2, 3), dtype), np.ones((2, 3), dtype), np.empty((2, 3), dtype), False, False)
