"""Array ops against numpy: shapes, reshapes, fills, transpose, concat/stack/split,
slicing, gathers, pad/tile/reverse, one_hot, where, check_numerics, strings, and
their gradients (finite differences in float64)."""
import numpy as np
import pytest

import nbflow as tf

F64 = np.float64


def run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


def grad_err(x, x_value, y):
    """Max |theoretical - numerical| Jacobian error of y w.r.t. the placeholder x."""
    with tf.Session():
        return tf.test.compute_gradient_error(x, list(x_value.shape), y, y.shape.as_list(), x_init_value=x_value)


def assert_same(got, want):
    want = np.asarray(want)
    assert np.shape(got) == want.shape, (np.shape(got), want.shape)
    assert np.asarray(got).dtype == want.dtype, (np.asarray(got).dtype, want.dtype)
    np.testing.assert_array_equal(got, want)


@pytest.fixture
def a234():
    return np.arange(24, dtype=np.float32).reshape(2, 3, 4)


# -- identity, stop_gradient, shape queries -----------------------------------------------

def test_identity_and_stop_gradient():
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    i = tf.identity(x, name="same")
    s = tf.stop_gradient(x)
    assert i.op.name == "same" and i.op.type == "Identity" and s.op.type == "StopGradient"
    assert i.shape.as_list() == [None, 2] and s.shape.as_list() == [None, 2]
    v = np.array([[1, 2], [3, 4]], np.float32)
    got_i, got_s = run([i, s], {x: v})
    assert_same(got_i, v)
    assert_same(got_s, v)
    gi, = tf.gradients(tf.reduce_sum(i * s), x)
    assert_same(run(gi, {x: v}), v)  # only through the identity side


def test_shape_size_rank_static_and_dynamic():
    x = tf.placeholder(tf.float32, [None, 3])
    s, n, r = tf.shape(x), tf.size(x), tf.rank(x)
    assert s.shape.as_list() == [2] and s.dtype == tf.int32
    assert n.shape.as_list() == [] and r.dtype == tf.int32
    s64 = tf.shape(x, out_type=tf.int64)
    assert s64.dtype == tf.int64
    got = run([s, n, r, s64], {x: np.zeros((5, 3), np.float32)})
    assert_same(got[0], np.array([5, 3], np.int32))
    assert got[1] == 15 and got[2] == 2
    assert_same(got[3], np.array([5, 3], np.int64))
    c = tf.constant(np.zeros((2, 0, 4)))
    assert_same(run(tf.shape(c)), np.array([2, 0, 4], np.int32))
    assert run(tf.size(c)) == 0
    with pytest.raises(TypeError):
        tf.shape(x, out_type=tf.float32)


def test_shape_n():
    x = tf.placeholder(tf.float32, [None, 3])
    y = tf.constant(np.zeros((2, 2, 2)))
    sx, sy = tf.shape_n([x, y])
    assert sx.op.type == "ShapeN" and sx.shape.as_list() == [2] and sy.shape.as_list() == [3]
    gx, gy = run([sx, sy], {x: np.zeros((4, 3), np.float32)})
    assert_same(gx, np.array([4, 3], np.int32))
    assert_same(gy, np.array([2, 2, 2], np.int32))


# -- reshape ------------------------------------------------------------------------------

def test_reshape_values_and_inferred_shapes(a234):
    c = tf.constant(a234)
    assert_same(run(tf.reshape(c, [4, -1])), a234.reshape(4, 6))
    x = tf.placeholder(tf.float32, [None, 3, 4])
    r = tf.reshape(x, [-1, 12])
    assert r.shape.as_list() == [None, 12]
    assert tf.reshape(c, [-1]).shape.as_list() == [24]
    assert_same(run(r, {x: a234}), a234.reshape(2, 12))
    # a shape given as a tensor, and a list holding tensors (auto-packed)
    y = tf.reshape(x, tf.stack([tf.shape(x)[0], 12]))
    z = tf.reshape(x, [tf.shape(x)[0], -1])
    assert z.shape.ndims == 2
    assert_same(run(y, {x: a234}), a234.reshape(2, 12))
    assert_same(run(z, {x: a234}), a234.reshape(2, 12))
    # empty tensors
    e = tf.constant(np.zeros((0, 3), np.float32))
    assert_same(run(tf.reshape(e, [3, 0])), np.zeros((3, 0), np.float32))


def test_reshape_errors(a234):
    c = tf.constant(a234)
    with pytest.raises(ValueError, match="Only one input size may be -1"):
        tf.reshape(c, [-1, -1])
    with pytest.raises(ValueError, match="24"):
        tf.reshape(c, [5, 5])
    with pytest.raises(ValueError, match="multiple of 5"):
        tf.reshape(c, [5, -1])
    x = tf.placeholder(tf.float32, [None, 4])
    r = tf.reshape(x, [-1, 3])
    with pytest.raises(tf.errors.InvalidArgumentError):
        run(r, {x: np.zeros((2, 4), np.float32)})  # 8 values are no multiple of 3
    assert_same(run(r, {x: np.zeros((3, 4), np.float32)}), np.zeros((4, 3), np.float32))


def test_reshape_gradient():
    x = tf.placeholder(tf.float64, [2, 3])
    y = tf.reshape(x, [3, 2]) * np.arange(6.0).reshape(3, 2)
    assert grad_err(x, np.random.RandomState(0).rand(2, 3), y) < 1e-8


# -- fills ----------------------------------------------------------------------------------

def test_fill_zeros_ones():
    f = tf.fill([2, 3], 7.0)
    assert f.op.type == "Fill" and f.shape.as_list() == [2, 3] and f.dtype == tf.float32
    assert_same(run(f), np.full((2, 3), 7, np.float32))
    z = tf.zeros([2, 2], dtype=tf.int64)
    o = tf.ones((3,), dtype=tf.bool)
    assert z.op.name == "zeros" and z.op.type == "Const"  # small Python shapes make a constant, as TF
    assert_same(run(z), np.zeros((2, 2), np.int64))
    assert_same(run(o), np.ones(3, bool))
    assert_same(run(tf.zeros(4)), np.zeros(4, np.float32))
    big = tf.ones([10, 200])
    assert big.op.type == "Fill"
    assert_same(run(big), np.ones((10, 200), np.float32))
    n = tf.placeholder(tf.int32, [])
    dyn = tf.zeros(tf.stack([n, 2]))
    assert dyn.shape.as_list() == [None, None]
    assert_same(run(dyn, {n: 3}), np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError):
        tf.fill([-1, 2], 1.0)
    with pytest.raises(ValueError, match="scalar"):
        tf.fill([2], [1.0, 2.0])


def test_fill_gradient_is_sum():
    v = tf.placeholder(tf.float64, [])
    y = tf.fill([2, 3], v) * np.arange(6.0).reshape(2, 3)
    g, = tf.gradients(y, v)
    assert run(g, {v: 2.0}) == 15.0


def test_zeros_like_ones_like():
    x = tf.placeholder(tf.float32, [None, 2])
    z, o = tf.zeros_like(x), tf.ones_like(x)
    zi = tf.zeros_like(x, dtype=tf.int32)
    oi = tf.ones_like(x, dtype=tf.float64)
    assert z.shape.as_list() == [None, 2] and zi.dtype == tf.int32 and zi.shape.as_list() == [None, 2]
    got = run([z, o, zi, oi], {x: np.full((3, 2), 5, np.float32)})
    assert_same(got[0], np.zeros((3, 2), np.float32))
    assert_same(got[1], np.ones((3, 2), np.float32))
    assert_same(got[2], np.zeros((3, 2), np.int32))
    assert_same(got[3], np.ones((3, 2), np.float64))


def test_broadcast_to_and_gradient():
    x = tf.placeholder(tf.float64, [3, 1])
    b = tf.broadcast_to(x, [2, 3, 4])
    assert b.shape.as_list() == [2, 3, 4]
    v = np.arange(3.0).reshape(3, 1)
    assert_same(run(b, {x: v}), np.broadcast_to(v, (2, 3, 4)).copy())
    assert grad_err(x, v, b * np.arange(24.0).reshape(2, 3, 4)) < 1e-8
    with pytest.raises(ValueError, match="broadcast"):
        tf.broadcast_to(tf.zeros([3]), [2, 4])


def test_broadcast_shapes():
    assert tf.broadcast_static_shape(tf.TensorShape([None, 1, 3]), tf.TensorShape([4, 3])).as_list() == [None, 4, 3]
    with pytest.raises(ValueError):
        tf.broadcast_static_shape(tf.TensorShape([2]), tf.TensorShape([3]))
    s = tf.placeholder(tf.int32, [None])
    d = tf.broadcast_dynamic_shape(s, [4, 1])
    assert_same(run(d, {s: [3, 1, 5]}), np.array([3, 4, 5], np.int32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="Incompatible shapes"):
        run(d, {s: [3, 2]})


# -- range, linspace, eye -----------------------------------------------------------------

def test_range_dtype_rules_and_values():
    assert tf.range(3).op.name == "range"
    cases = [
        (tf.range(5), np.arange(5, dtype=np.int32)),
        (tf.range(1, 7, 2), np.arange(1, 7, 2, dtype=np.int32)),
        (tf.range(0.5, 2.0, 0.5), np.arange(0.5, 2.0, 0.5, dtype=np.float32)),
        (tf.range(1, 4.0), np.arange(1, 4, dtype=np.float32)),  # the widest argument wins
        (tf.range(tf.constant(3, tf.int64)), np.arange(3, dtype=np.int64)),
        (tf.range(5, dtype=tf.float64), np.arange(5, dtype=np.float64)),
        (tf.range(5, 0, -2), np.array([5, 3, 1], np.int32)),
        (tf.range(3, 3), np.zeros(0, np.int32)),
    ]
    for t, want in cases:
        assert t.shape.as_list() == [len(want)]
        assert_same(run(t), want)
    n = tf.placeholder(tf.int32, [])
    r = tf.range(n)
    assert r.shape.as_list() == [None]
    assert_same(run(r, {n: 4}), np.arange(4, dtype=np.int32))
    with pytest.raises(ValueError, match="delta != 0"):
        tf.range(0, 5, 0)
    with pytest.raises(ValueError, match="start <= limit"):
        tf.range(5, 1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="delta != 0"):
        d = tf.placeholder(tf.int32, [])
        run(tf.range(0, 5, d), {d: 0})
    with pytest.raises((TypeError, ValueError)):
        tf.range(1.5, dtype=tf.int32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linspace(dtype):
    t = tf.linspace(tf.constant(dtype(-1)), tf.constant(dtype(2)), 7)
    assert t.op.type == "LinSpace" and t.shape.as_list() == [7] and t.dtype == tf.as_dtype(dtype)
    got = run(t)
    np.testing.assert_allclose(got, np.linspace(-1, 2, 7, dtype=dtype), rtol=1e-6)
    assert got[-1] == 2 and got.dtype == dtype
    assert tf.lin_space is tf.linspace
    n = tf.placeholder(tf.int32, [])
    dyn = tf.linspace(0.0, 1.0, n)
    assert_same(run(dyn, {n: 1}), np.zeros(1, np.float32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="num > 0"):
        run(dyn, {n: 0})


def test_eye():
    assert_same(run(tf.eye(3)), np.eye(3, dtype=np.float32))
    e = tf.eye(2, 3, batch_shape=[2], dtype=tf.int32)
    assert e.shape.as_list() == [2, 2, 3]
    assert_same(run(e), np.broadcast_to(np.eye(2, 3, dtype=np.int32), (2, 2, 3)).copy())
    n = tf.placeholder(tf.int32, [])
    d = tf.eye(n, dtype=tf.float64)
    assert_same(run(d, {n: 4}), np.eye(4))
    db = tf.eye(n, 2, batch_shape=[3])
    assert_same(run(db, {n: 1}), np.broadcast_to(np.eye(1, 2, dtype=np.float32), (3, 1, 2)).copy())


# -- transpose, expand_dims, squeeze ---------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.bool_])
def test_transpose_values(dtype):
    a = (np.arange(24) % 5).astype(dtype).reshape(2, 3, 4)
    c = tf.constant(a)
    for perm in ([2, 0, 1], [1, 0, 2], [0, 1, 2]):
        got = run(tf.transpose(c, perm))
        assert_same(got, a.transpose(perm))
        assert got.flags.c_contiguous
    t = tf.transpose(c)
    assert t.op.name.startswith("transpose") and t.op.type == "Transpose"
    assert_same(run(t), a.T)


def test_transpose_shapes_unknown_dims_and_errors():
    x = tf.placeholder(tf.float32, [None, 3])
    assert tf.transpose(x).shape.as_list() == [3, None]
    assert tf.get_default_graph().get_operations()[-1].name == "transpose"
    y = tf.placeholder(tf.float32, [None, 3, None])
    t = tf.transpose(y, [1, 2, 0])
    assert t.shape.as_list() == [3, None, None]
    v = np.random.RandomState(0).rand(4, 3, 2).astype(np.float32)
    assert_same(run(t, {y: v}), v.transpose(1, 2, 0))
    z = tf.placeholder(tf.float32)  # unknown rank: the default perm is computed at run time
    assert_same(run(tf.transpose(z), {z: v}), v.T)
    p = tf.placeholder(tf.int32, [3])
    assert_same(run(tf.transpose(y, p), {y: v, p: [2, 0, 1]}), v.transpose(2, 0, 1))
    with pytest.raises(ValueError, match="transpose expects a vector of size 2"):
        tf.transpose(x, [0, 1, 2])
    with pytest.raises(ValueError, match="missing"):
        tf.transpose(x, [1, 1])
    assert tf.transpose(tf.zeros([0, 2])).shape.as_list() == [2, 0]
    assert_same(run(tf.transpose(tf.zeros([0, 2]))), np.zeros((2, 0), np.float32))
    assert_same(run(tf.invert_permutation([2, 0, 1])), np.array([1, 2, 0], np.int32))


def test_transpose_gradient():
    x = tf.placeholder(tf.float64, [2, 3, 4])
    v = np.random.RandomState(1).rand(2, 3, 4)
    assert grad_err(x, v, tf.transpose(x, [1, 2, 0])) < 1e-8
    p = tf.placeholder(tf.int32, [3])
    y = tf.transpose(x, p)
    g, = tf.gradients(y, x, grad_ys=tf.ones([4, 2, 3], tf.float64) * np.arange(24.0).reshape(4, 2, 3))
    got = run(g, {x: v, p: [2, 0, 1]})
    assert_same(got, np.arange(24.0).reshape(4, 2, 3).transpose(1, 2, 0))


def test_expand_dims_and_squeeze():
    x = tf.placeholder(tf.float32, [None, 3])
    assert tf.expand_dims(x, 0).shape.as_list() == [1, None, 3]
    assert tf.expand_dims(x, -1).shape.as_list() == [None, 3, 1]
    assert tf.expand_dims(x, dim=1).shape.as_list() == [None, 1, 3]
    v = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert_same(run(tf.expand_dims(x, 1), {x: v}), v[:, None, :])
    with pytest.raises(ValueError):
        tf.expand_dims(x, 3)
    with pytest.raises(ValueError):
        tf.expand_dims(x, 0, dim=0)
    y = tf.placeholder(tf.float32, [1, None, 1, 3])
    s = tf.squeeze(y, [0, 2])
    assert s.shape.as_list() == [None, 3]
    assert tf.squeeze(y, squeeze_dims=[-2]).shape.as_list() == [1, None, 3]
    assert tf.squeeze(y).shape.ndims is None  # which unknown dims are 1 is a run-time matter
    w = np.arange(6, dtype=np.float32).reshape(1, 2, 1, 3)
    assert_same(run(s, {y: w}), w.reshape(2, 3))
    assert_same(run(tf.squeeze(y), {y: w}), w.reshape(2, 3))
    with pytest.raises(ValueError, match="Can not squeeze dim\\[3\\]"):
        tf.squeeze(y, [3])
    with pytest.raises(ValueError, match="Tried to squeeze dim index 4"):
        tf.squeeze(y, [4])
    z = tf.placeholder(tf.float64, [2, 1, 3])
    val = np.random.RandomState(2).rand(2, 1, 3)
    assert grad_err(z, val, tf.squeeze(z) * val.reshape(2, 3)) < 1e-8
    assert grad_err(z, val, tf.expand_dims(z, 0) * 2.0) < 1e-8


# -- concat, stack, unstack, split -----------------------------------------------------------

def test_concat(a234):
    c = tf.constant(a234)
    for axis in (0, 1, 2, -1):
        t = tf.concat([c, c * 2.0, c[:, :, :1]] if axis in (2, -1) else [c, c * 2.0], axis)
        want = np.concatenate([a234, a234 * 2, a234[:, :, :1]] if axis in (2, -1) else [a234, a234 * 2], axis)
        assert t.shape.as_list() == list(want.shape)
        assert_same(run(t), want)
    assert tf.concat([c, c], 0).op.type == "ConcatV2" and tf.concat([c, c], 0).op.name.startswith("concat")
    one = tf.concat([c], 1)
    assert one.op.type == "Identity"
    x = tf.placeholder(tf.float32, [None, 3])
    y = tf.placeholder(tf.float32, [2, None])
    t = tf.concat([x, y], 0)
    assert t.shape.as_list() == [None, 3]
    assert tf.concat([x, y], 1).shape.as_list() == [2, None]
    vx, vy = np.ones((1, 3), np.float32), np.zeros((2, 3), np.float32)
    assert_same(run(t, {x: vx, y: vy}), np.concatenate([vx, vy]))
    with pytest.raises(ValueError, match="Dimension 1 in both shapes must be equal"):
        tf.concat([tf.zeros([2, 3]), tf.zeros([2, 4])], 0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Dimension 1 in both shapes must be equal|"
                                                             "Dimensions of inputs should match"):
        run(tf.concat([x, y], 0), {x: vx, y: np.zeros((2, 4), np.float32)})
    with pytest.raises(ValueError, match="scalars"):
        tf.concat([tf.constant(1.0), tf.constant(2.0)], 0)
    ax = tf.placeholder(tf.int32, [])
    assert_same(run(tf.concat([c, c], ax), {ax: 1}), np.concatenate([a234, a234], 1))
    e = tf.concat([tf.zeros([0, 3]), tf.ones([2, 3])], 0)
    assert_same(run(e), np.ones((2, 3), np.float32))


def test_concat_gradient():
    x = tf.placeholder(tf.float64, [2, 3])
    y = tf.placeholder(tf.float64, [2, 2])
    out = tf.concat([x, y, x], 1) * np.arange(16.0).reshape(2, 8)
    vx, vy = np.random.RandomState(3).rand(2, 3), np.random.RandomState(4).rand(2, 2)
    with tf.Session():
        err = tf.test.compute_gradient_error([x, y], [[2, 3], [2, 2]], out, [2, 8], x_init_value=[vx, vy])
    assert err < 1e-8
    # unknown dims and a run-time axis
    p = tf.placeholder(tf.float64, [None, 3])
    ax = tf.placeholder(tf.int32, [])
    g1, g2 = tf.gradients(tf.reduce_sum(tf.concat([p, p * 2.0], ax) * 3.0), [p, p])
    assert_same(run(g1, {p: np.zeros((2, 3)), ax: 0}), np.full((2, 3), 9.0))
    assert_same(run(g1, {p: np.zeros((2, 3)), ax: 1}), np.full((2, 3), 9.0))


def test_stack_unstack(a234):
    c = tf.constant(a234)
    for axis in (0, 1, 3, -1):
        s = tf.stack([c, c + 1.0], axis=axis)
        want = np.stack([a234, a234 + 1], axis)
        assert s.shape.as_list() == list(want.shape)
        assert_same(run(s), want)
    assert tf.stack([c, c]).op.type == "Pack"
    k = tf.stack([1, 2, 3])
    assert k.op.type == "Const" and k.dtype == tf.int32
    with pytest.raises(ValueError, match="axis = 4 not in"):
        tf.stack([c, c], axis=4)
    x = tf.placeholder(tf.float32, [None, 2])
    s = tf.stack([x, x], axis=1)
    assert s.shape.as_list() == [None, 2, 2]
    for axis in (0, 1, -1):
        parts = tf.unstack(c, axis=axis)
        assert len(parts) == a234.shape[axis]
        got = run(parts)
        for i, g in enumerate(got):
            assert_same(g, np.take(a234, i, axis=axis))
    assert tf.unstack(c)[0].op.type == "Unpack"
    with pytest.raises(ValueError, match="Cannot infer num"):
        tf.unstack(x)
    u = tf.unstack(x, axis=1)
    assert len(u) == 2 and u[0].shape.as_list() == [None]
    v = np.arange(6, dtype=np.float32).reshape(3, 2)
    assert_same(run(u[1], {x: v}), v[:, 1])


def test_stack_unstack_gradients():
    x = tf.placeholder(tf.float64, [2, 3])
    v = np.random.RandomState(5).rand(2, 3)
    assert grad_err(x, v, tf.stack([x, 2.0 * x, x * x], axis=1)) < 1e-7
    parts = tf.unstack(x, axis=1)
    y = parts[0] * 3.0 + parts[2] * parts[2]  # parts[1] unused: zero gradient
    assert grad_err(x, v, y) < 1e-7


def test_split(a234):
    c = tf.constant(a234)
    parts = tf.split(c, 2, axis=2)
    assert [p.op.type for p in parts] == ["Split", "Split"] and parts[0].shape.as_list() == [2, 3, 2]
    for g, w in zip(run(parts), np.split(a234, 2, axis=2)):
        assert_same(g, w)
    parts = tf.split(c, [1, -1, 1], axis=2)
    assert parts[0].op.type == "SplitV" and [p.shape.as_list()[2] for p in parts] == [1, 2, 1]
    for g, w in zip(run(parts), np.split(a234, [1, 3], axis=2)):
        assert_same(g, w)
    for g, w in zip(run(tf.split(c, [2, 1], -2)), np.split(a234, [2], axis=1)):
        assert_same(g, w)
    with pytest.raises(ValueError, match="evenly divisible"):
        tf.split(c, 3, axis=2)
    with pytest.raises(ValueError, match="Only one dimensions can have a value of -1"):
        tf.split(c, [-1, -1], axis=2)
    with pytest.raises(ValueError, match="Determined shape"):
        tf.split(c, [1, 1], axis=2)
    x = tf.placeholder(tf.float32, [None, 4])
    p1, p2 = tf.split(x, [3, -1], axis=1)
    assert p2.shape.as_list() == [None, 1]
    q1, q2 = tf.split(x, 2, axis=0)
    assert q1.shape.as_list() == [None, 4]
    v = np.arange(8, dtype=np.float32).reshape(2, 4)
    got = run([p1, p2, q1, q2], {x: v})
    assert_same(got[0], v[:, :3])
    assert_same(got[3], v[1:])
    with pytest.raises(tf.errors.InvalidArgumentError):
        run(q1, {x: np.zeros((3, 4), np.float32)})


def test_split_gradients():
    x = tf.placeholder(tf.float64, [2, 4])
    v = np.random.RandomState(6).rand(2, 4)
    a, b = tf.split(x, 2, axis=1)
    assert grad_err(x, v, a * 2.0 + b * b) < 1e-7
    p, q, r = tf.split(x, [1, -1, 2], axis=1)
    assert grad_err(x, v, tf.concat([r * 3.0, p], 1)) < 1e-7  # q unused


# -- slice and strided slice -----------------------------------------------------------------

def test_slice(a234):
    c = tf.constant(a234)
    s = tf.slice(c, [1, 0, 1], [1, -1, 2])
    assert s.op.type == "Slice" and s.shape.as_list() == [1, 3, 2]
    assert_same(run(s), a234[1:2, :, 1:3])
    x = tf.placeholder(tf.float32, [None, 4])
    t = tf.slice(x, [1, 1], [-1, 2])
    assert t.shape.as_list() == [None, 2]
    v = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert_same(run(t, {x: v}), v[1:, 1:3])
    b = tf.placeholder(tf.int32, [2])
    assert_same(run(tf.slice(x, b, [2, 2]), {x: v, b: [1, 2]}), v[1:3, 2:4])
    with pytest.raises(ValueError, match="Expected size\\[1\\] in \\[0, 3\\], but got 4"):
        tf.slice(c, [0, 0, 0], [1, 4, 1])
    with pytest.raises(tf.errors.InvalidArgumentError, match="Expected begin\\[0\\]"):
        run(tf.slice(x, b, [1, 1]), {x: v, b: [5, 0]})
    assert_same(run(tf.slice(c, [0, 0, 0], [2, 0, 4])), a234[:, :0])


def test_slice_gradient():
    x = tf.placeholder(tf.float64, [3, 4])
    v = np.random.RandomState(7).rand(3, 4)
    assert grad_err(x, v, tf.slice(x, [1, 1], [2, -1]) * 2.0) < 1e-8
    b = tf.placeholder(tf.int32, [2])
    y = tf.slice(x, b, [2, 2])
    g, = tf.gradients(tf.reduce_sum(y), x)
    want = np.zeros((3, 4))
    want[1:3, 0:2] = 1
    assert_same(run(g, {x: v, b: [1, 0]}), want)


INDEXING = [
    (lambda t: t[1], lambda a: a[1]),
    (lambda t: t[-1], lambda a: a[-1]),
    (lambda t: t[:, 1:3], lambda a: a[:, 1:3]),
    (lambda t: t[..., 2], lambda a: a[..., 2]),
    (lambda t: t[::-1], lambda a: a[::-1]),
    (lambda t: t[1, ::-2, 1:], lambda a: a[1, ::-2, 1:]),
    (lambda t: t[:, None, -1, ::3], lambda a: a[:, None, -1, ::3]),
    (lambda t: t[tf.newaxis, ..., 1, tf.newaxis], lambda a: a[np.newaxis, ..., 1, np.newaxis]),
    (lambda t: t[-5:100, -2:], lambda a: a[-5:100, -2:]),
    (lambda t: t[:, 3:0:-1, -1:-5:-2], lambda a: a[:, 3:0:-1, -1:-5:-2]),
    (lambda t: t[1:1], lambda a: a[1:1]),
    (lambda t: t[...], lambda a: a[...]),
    (lambda t: t[0, 1, 2], lambda a: a[0, 1, 2]),
]


@pytest.mark.parametrize("case", range(len(INDEXING)))
def test_getitem_matches_numpy(case, a234):
    f, ref = INDEXING[case]
    c = tf.constant(a234)
    t = f(c)
    want = ref(a234)
    assert t.shape.as_list() == list(want.shape)
    got = run(t)
    assert_same(got, want.copy())
    assert np.asarray(got).ndim == 0 or got.flags.c_contiguous


def test_getitem_on_unknown_dims_and_tensor_indices():
    x = tf.placeholder(tf.float32, [None, 3])
    assert x[0].shape.as_list() == [3]
    assert x[:, 1].shape.as_list() == [None]
    assert x[1:, ::2].shape.as_list() == [None, 2]
    assert x[..., None].shape.as_list() == [None, 3, 1]
    i = tf.placeholder(tf.int32, [])
    xi = x[i]
    assert xi.op.type == "StridedSlice" and xi.op.name.startswith("strided_slice")
    assert xi.shape.as_list() == [3]
    v = np.arange(12, dtype=np.float32).reshape(4, 3)
    assert_same(run(xi, {x: v, i: 2}), v[2])
    assert_same(run(x[i:, i], {x: v, i: 1}), v[1:, 1])
    assert_same(run(x[-i], {x: v, i: 1}), v[-1])
    with pytest.raises(tf.errors.InvalidArgumentError, match="out of bounds"):
        run(xi, {x: v, i: 4})
    with pytest.raises(TypeError, match="valid indices"):
        x[1.5]
    with pytest.raises(TypeError, match="valid indices"):
        x[tf.constant([1, 2])]
    with pytest.raises(ValueError, match="out of bounds"):
        tf.constant(v)[4]
    # iterating a tensor of known first dimension slices it
    rows = list(tf.constant(v[:2]))
    assert len(rows) == 2
    assert_same(run(rows[1]), v[1])


def test_strided_slice_function():
    a = np.arange(60, dtype=np.float64).reshape(3, 4, 5)
    c = tf.constant(a)
    t = tf.strided_slice(c, [0, 1, 4], [3, 4, 0], [2, 1, -2], begin_mask=0, end_mask=0)
    assert_same(run(t), a[0:3:2, 1:4, 4:0:-2])
    t = tf.strided_slice(c, [1, 0], [2, 0], shrink_axis_mask=1, end_mask=2)
    assert_same(run(t), a[1, :])
    t = tf.strided_slice(c, [0, 0, 0], [0, 0, 0], ellipsis_mask=1, new_axis_mask=2, shrink_axis_mask=4)
    assert_same(run(t), a[..., None, 0])
    with pytest.raises(ValueError, match="strides\\[0\\] must be non-zero"):
        tf.strided_slice(c, [0], [1], [0])
    with pytest.raises(ValueError, match="Multiple ellipses"):
        c[..., ...]


def test_strided_slice_gradient():
    x = tf.placeholder(tf.float64, [3, 4, 2])
    v = np.random.RandomState(8).rand(3, 4, 2)
    assert grad_err(x, v, x[1:, ::-2, None, 1] * 3.0) < 1e-8
    assert grad_err(x, v, x[..., ::2, :] + x[-1, 1:3]) < 1e-8
    y = tf.placeholder(tf.float64, [None, 4])
    i = tf.placeholder(tf.int32, [])
    g, = tf.gradients(tf.reduce_sum(y[i, 1:3] * 2.0), y)
    want = np.zeros((3, 4))
    want[1, 1:3] = 2
    assert_same(run(g, {y: np.zeros((3, 4)), i: 1}), want)
    # second derivative: the gradient of StridedSliceGrad is a StridedSlice
    z = tf.placeholder(tf.float64, [4])
    gz, = tf.gradients(tf.reduce_sum(z[1:3] * z[1:3]), z)
    ggz, = tf.gradients(tf.reduce_sum(gz * np.arange(4.0)), z)
    assert_same(run(ggz, {z: np.ones(4)}), np.array([0.0, 2.0, 4.0, 0.0]))


# -- gather, gather_nd, scatter_nd, unsorted_segment_sum ---------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gather(dtype):
    a = np.arange(24).astype(dtype).reshape(2, 3, 4)
    c = tf.constant(a)
    idx = np.array([[2, 0], [1, 1]], np.int32)
    for axis in (0, 1, 2, -1):
        n = a.shape[axis]
        i = idx % n
        t = tf.gather(c, i, axis=axis)
        want = np.take(a, i, axis=axis)
        assert t.shape.as_list() == list(want.shape) and t.op.type == "GatherV2"
        assert_same(run(t), want)
    assert_same(run(tf.gather(c, 1)), a[1])
    assert_same(run(tf.gather(c, np.array([1, 0], np.int64), axis=1)), a[:, [1, 0]])
    x = tf.placeholder(tf.float32, [None, 3])
    i = tf.placeholder(tf.int32, [None])
    t = tf.gather(x, i)
    assert t.shape.as_list() == [None, 3]
    v = np.arange(12, dtype=np.float32).reshape(4, 3)
    assert_same(run(t, {x: v, i: [3, 3, 0]}), v[[3, 3, 0]])
    assert_same(run(t, {x: v, i: []}), v[[]])
    with pytest.raises(tf.errors.InvalidArgumentError, match="indices\\[1\\] = 4 is not in \\[0, 4\\)"):
        run(t, {x: v, i: [0, 4]})
    with pytest.raises(tf.errors.InvalidArgumentError, match="is not in"):
        run(t, {x: v, i: [-1]})


def test_gather_gradient():
    x = tf.placeholder(tf.float64, [4, 3])
    v = np.random.RandomState(9).rand(4, 3)
    assert grad_err(x, v, tf.gather(x, [3, 0, 3, 1])) < 1e-8  # repeated index: gradients add up
    assert grad_err(x, v, tf.gather(x, [[2, 1], [2, 2]], axis=1)) < 1e-8
    y = tf.placeholder(tf.float64, [None, 3])
    i = tf.placeholder(tf.int32, [None])
    g, = tf.gradients(tf.reduce_sum(tf.gather(y, i) * 2.0), y)
    assert g.shape.as_list() == [None, 3]
    want = np.zeros((4, 3))
    want[0] = 2
    want[2] = 4
    assert_same(run(g, {y: v, i: [2, 0, 2]}), want)
    z = tf.placeholder(tf.float64, [2, 3, 2])
    w = np.random.RandomState(10).rand(2, 3, 2)
    assert grad_err(z, w, tf.gather(z, [2, 0], axis=1) * 3.0) < 1e-8


def test_unsorted_segment_sum():
    data = np.arange(12, dtype=np.float64).reshape(4, 3)
    t = tf.unsorted_segment_sum(data, [0, 2, 0, -1], 3)
    assert t.shape.as_list() == [3, 3]
    want = np.zeros((3, 3))
    want[0] = data[0] + data[2]
    want[2] = data[1]
    assert_same(run(t), want)
    with pytest.raises(tf.errors.InvalidArgumentError, match="out of range"):
        run(tf.unsorted_segment_sum(data, [0, 3, 0, 0], 3))
    x = tf.placeholder(tf.float64, [4, 3])
    y = tf.unsorted_segment_sum(x, [1, 0, 1, -1], 2) * np.array([[1.0], [2.0]])
    assert grad_err(x, data, y) < 1e-8


def test_gather_nd_and_scatter_nd():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    c = tf.constant(a)
    idx = np.array([[1, 2], [0, 0], [1, 2]], np.int32)
    t = tf.gather_nd(c, idx)
    assert t.shape.as_list() == [3, 4]
    assert_same(run(t), a[idx[:, 0], idx[:, 1]])
    full = tf.gather_nd(c, [[[0, 1, 3]], [[1, 0, 0]]])
    assert full.shape.as_list() == [2, 1]
    assert_same(run(full), np.array([[a[0, 1, 3]], [a[1, 0, 0]]]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="does not index into param shape"):
        run(tf.gather_nd(c, [[2, 0]]))
    s = tf.scatter_nd(idx, tf.ones([3, 4]), [2, 3, 4])
    want = np.zeros((2, 3, 4), np.float32)
    want[1, 2] = 2
    want[0, 0] = 1
    assert s.shape.as_list() == [2, 3, 4]
    assert_same(run(s), want)
    x = tf.placeholder(tf.float64, [2, 3, 4])
    v = np.random.RandomState(11).rand(2, 3, 4)
    assert grad_err(x, v, tf.gather_nd(x, idx) * 2.0) < 1e-8
    u = tf.placeholder(tf.float64, [3, 4])
    assert grad_err(u, v[0], tf.scatter_nd(idx, u, [2, 3, 4])) < 1e-8


def test_strings():
    s = tf.constant("hello")
    assert s.dtype == tf.string and s.shape.as_list() == []
    assert run(s) == b"hello"
    v = tf.constant(["a", "bc", "d"])
    assert v.dtype == tf.string
    got = run(v)
    assert got.dtype == object and got.tolist() == [b"a", b"bc", b"d"]
    assert run(tf.identity(v)).tolist() == [b"a", b"bc", b"d"]
    assert run(tf.reshape(v, [3, 1])).tolist() == [[b"a"], [b"bc"], [b"d"]]
    assert run(tf.gather(v, [2, 0])).tolist() == [b"d", b"a"]
    assert run(tf.concat([v, tf.constant(["x"])], 0)).tolist() == [b"a", b"bc", b"d", b"x"]
    assert run(tf.stack([v, v], axis=1))[1].tolist() == [b"bc", b"bc"]
    assert run(v[::-1]).tolist() == [b"d", b"bc", b"a"]
    assert run(tf.transpose(tf.reshape(v, [1, 3])))[:, 0].tolist() == [b"a", b"bc", b"d"]
    assert run(tf.tile(tf.constant(["q"]), [2])).tolist() == [b"q", b"q"]
    p = tf.placeholder(tf.string, [None])
    assert run(tf.gather(p, [1]), {p: np.array([b"x", b"y"], dtype=object)}).tolist() == [b"y"]
    with pytest.raises(TypeError, match="string"):
        tf.add(v, v)


# -- boolean_mask and where ----------------------------------------------------------------------

def test_where_indices():
    a = np.array([[True, False, True], [False, False, True]])
    w = tf.where(a)
    assert w.op.type == "Where" and w.dtype == tf.int64 and w.shape.as_list() == [None, 2]
    assert_same(run(w), np.argwhere(a).astype(np.int64))
    f = tf.placeholder(tf.float32, [None])
    wf = tf.where(f)
    assert_same(run(wf, {f: [0.0, 2.0, 0.0, -1.0]}), np.array([[1], [3]], np.int64))
    assert_same(run(wf, {f: np.zeros(3, np.float32)}), np.zeros((0, 1), np.int64))
    assert_same(run(tf.where(tf.constant(True))), np.zeros((1, 0), np.int64))
    assert_same(run(tf.where_v2(tf.constant([False, True]))), np.array([[1]], np.int64))


def test_boolean_mask():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    m = a.sum(axis=2) > 20
    t = tf.boolean_mask(a, m)
    assert t.shape.as_list() == [None, 4]
    assert_same(run(t), a[m])
    m1 = np.array([True, False, True, True])
    t1 = tf.boolean_mask(a, m1, axis=2)
    assert t1.shape.as_list() == [2, 3, None]
    assert_same(run(t1), a[:, :, m1])
    x = tf.placeholder(tf.float32, [None, 3])
    mk = tf.placeholder(tf.bool, [None])
    t2 = tf.boolean_mask(x, mk)
    assert t2.shape.as_list() == [None, 3]
    v = np.arange(12, dtype=np.float32).reshape(4, 3)
    assert_same(run(t2, {x: v, mk: [False, True, False, True]}), v[[1, 3]])
    assert_same(run(t2, {x: v, mk: [False] * 4}), v[:0])
    mm = tf.placeholder(tf.bool, [None, 3])
    assert_same(run(tf.boolean_mask(x, mm), {x: v, mm: v % 2 == 0}), v[v % 2 == 0])
    with pytest.raises(ValueError, match="scalar"):
        tf.boolean_mask(a, True)
    with pytest.raises(ValueError):
        tf.boolean_mask(a, np.ones(5, bool))
    # indexing with a boolean mask
    assert_same(run(tf.constant(v)[v[:, 0] > 2]), v[v[:, 0] > 2])


def test_boolean_mask_gradient():
    x = tf.placeholder(tf.float64, [3, 4])
    v = np.random.RandomState(12).rand(3, 4)
    m = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, False]])
    y = tf.boolean_mask(x, m) * 2.0
    g, = tf.gradients(tf.reduce_sum(y * y), x)
    assert_same(run(g, {x: v}), np.where(m, 8.0 * v, 0.0))


# -- reverse, tile, pad ---------------------------------------------------------------------------

def test_reverse(a234):
    c = tf.constant(a234)
    for axes in ([0], [1, 2], [-1], []):
        t = tf.reverse(c, axes)
        want = np.flip(a234, axes) if axes else a234
        assert t.op.type == "ReverseV2"
        assert_same(run(t), want.copy())
    assert tf.reverse_v2 is tf.reverse
    with pytest.raises(ValueError, match="specified more than once"):
        tf.reverse(c, [1, -2])
    x = tf.placeholder(tf.float64, [None, 3])
    v = np.random.RandomState(13).rand(2, 3)
    r = tf.reverse(x, [1])
    assert r.shape.as_list() == [None, 3]
    assert_same(run(r, {x: v}), v[:, ::-1])
    y = tf.placeholder(tf.float64, [2, 3])
    assert grad_err(y, v, tf.reverse(y, [0, 1]) * np.arange(6.0).reshape(2, 3)) < 1e-8


def test_tile(a234):
    c = tf.constant(a234)
    t = tf.tile(c, [2, 1, 3])
    assert t.shape.as_list() == [4, 3, 12]
    assert_same(run(t), np.tile(a234, [2, 1, 3]))
    assert_same(run(tf.tile(c, [1, 0, 1])), np.tile(a234, [1, 0, 1]))
    x = tf.placeholder(tf.float32, [None, 2])
    m = tf.placeholder(tf.int32, [2])
    assert tf.tile(x, [3, 2]).shape.as_list() == [None, 4]
    v = np.arange(4, dtype=np.float32).reshape(2, 2)
    assert_same(run(tf.tile(x, m), {x: v, m: [2, 3]}), np.tile(v, [2, 3]))
    with pytest.raises(ValueError, match="vector of length 2"):
        tf.tile(x, [2])
    with pytest.raises(ValueError, match="multiples\\[0\\] >= 0"):
        tf.tile(x, [-1, 1])


def test_tile_gradient():
    x = tf.placeholder(tf.float64, [2, 3])
    v = np.random.RandomState(14).rand(2, 3)
    assert grad_err(x, v, tf.tile(x, [2, 2]) * np.arange(24.0).reshape(4, 6)) < 1e-8
    m = tf.placeholder(tf.int32, [2])
    g, = tf.gradients(tf.reduce_sum(tf.tile(x, m)), x)
    assert_same(run(g, {x: v, m: [3, 2]}), np.full((2, 3), 6.0))


@pytest.mark.parametrize("mode", ["CONSTANT", "REFLECT", "SYMMETRIC"])
def test_pad(mode):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    pads = [[1, 2], [2, 1]]
    t = tf.pad(a, pads, mode=mode)
    assert t.shape.as_list() == [6, 7]
    assert_same(run(t), np.pad(a, pads, mode=mode.lower()))
    x = tf.placeholder(tf.float64, [3, 4])
    v = np.random.RandomState(15).rand(3, 4)
    assert grad_err(x, v, tf.pad(x, pads, mode=mode) * np.arange(42.0).reshape(6, 7)) < 1e-8


def test_pad_details():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = tf.pad(a, [[0, 1], [1, 0]], constant_values=-1.0)
    assert t.op.type == "PadV2"
    assert_same(run(t), np.pad(a, [[0, 1], [1, 0]], constant_values=-1))
    assert tf.pad(a, [[0, 1], [1, 0]]).op.type == "Pad"
    x = tf.placeholder(tf.float32, [None, 3])
    p = tf.pad(x, [[1, 1], [0, 2]])
    assert p.shape.as_list() == [None, 5]
    assert_same(run(p, {x: a}), np.pad(a, [[1, 1], [0, 2]]))
    pp = tf.placeholder(tf.int32, [2, 2])
    dyn = tf.pad(x, pp)
    assert_same(run(dyn, {x: a, pp: [[0, 0], [3, 0]]}), np.pad(a, [[0, 0], [3, 0]]))
    g, = tf.gradients(tf.reduce_sum(dyn * 2.0), x)
    assert_same(run(g, {x: a, pp: [[1, 0], [3, 2]]}), np.full((2, 3), 2.0, np.float32))
    with pytest.raises(ValueError, match="non-negative"):
        tf.pad(a, [[-1, 0], [0, 0]])
    with pytest.raises(ValueError, match="paddings"):
        tf.pad(a, [[1, 0]])
    with pytest.raises(ValueError, match="less than"):
        tf.pad(a, [[2, 0], [0, 0]], mode="REFLECT")
    with pytest.raises(ValueError, match="Unknown padding mode"):
        tf.pad(a, [[0, 0], [0, 0]], mode="WRAP")
    assert_same(run(tf.pad(a, [[2, 0], [0, 0]], mode="SYMMETRIC")), np.pad(a, [[2, 0], [0, 0]], mode="symmetric"))


# -- one_hot, check_numerics -----------------------------------------------------------------------

def test_one_hot():
    idx = np.array([[0, 2], [-1, 5]], np.int32)
    t = tf.one_hot(idx, 3)
    assert t.dtype == tf.float32 and t.shape.as_list() == [2, 2, 3]
    want = (idx[..., None] == np.arange(3)).astype(np.float32)
    assert_same(run(t), want)
    t = tf.one_hot(idx, 3, axis=0, on_value=5, off_value=-1)
    assert t.dtype == tf.int32 and t.shape.as_list() == [3, 2, 2]
    assert_same(run(t), np.where(np.moveaxis(want, -1, 0) > 0, 5, -1).astype(np.int32))
    t = tf.one_hot(np.array([1, 0], np.int64), 2, dtype=tf.float64, axis=1)
    assert_same(run(t), np.eye(2)[[1, 0]])
    assert run(tf.one_hot([1], 2, dtype=tf.bool)).tolist() == [[False, True]]
    i = tf.placeholder(tf.int32, [None])
    d = tf.placeholder(tf.int32, [])
    t = tf.one_hot(i, d)
    assert t.shape.as_list() == [None, None]
    assert_same(run(t, {i: [1, 0], d: 2}), np.eye(2, dtype=np.float32)[[1, 0]])
    with pytest.raises(TypeError):
        tf.one_hot([0], 2, on_value=1.0, off_value=0)
    with pytest.raises(ValueError, match="axis"):
        tf.one_hot(idx, 3, axis=4)


def test_check_numerics():
    x = tf.placeholder(tf.float32, [None])
    y = tf.check_numerics(x * 2.0, "my tensor")
    assert y.op.type == "CheckNumerics" and y.shape.as_list() == [None]
    assert_same(run(y, {x: [1.0, 2.0]}), np.array([2.0, 4.0], np.float32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="my tensor : Tensor had NaN values"):
        run(y, {x: [1.0, np.nan]})
    with pytest.raises(tf.errors.InvalidArgumentError, match="Tensor had Inf values"):
        run(y, {x: [np.inf]})
    with pytest.raises(tf.errors.InvalidArgumentError, match="Inf and NaN"):
        run(y, {x: [np.inf, np.nan]})
    z = tf.placeholder(tf.float64, [3])
    c = tf.check_numerics(z * z, "sq")
    v = np.array([1.0, 2.0, 3.0])
    assert grad_err(z, v, c) < 1e-8
    g, = tf.gradients(tf.reduce_sum(tf.check_numerics(z, "inp") * np.inf), z)
    with pytest.raises(tf.errors.InvalidArgumentError, match="detected in gradient"):
        run(g, {z: v})
    with pytest.raises(TypeError):
        tf.check_numerics(tf.constant([1, 2]), "ints")


# -- the planner: static buffers, contiguity, dtype/shape edge cases -----------------------------

def test_repeated_runs_reuse_buffers_correctly():
    x = tf.placeholder(tf.float32, [2, 3])
    t = tf.transpose(x)
    c = tf.concat([t, t * 2.0], 0)
    s = c[1:, ::-1]
    with tf.Session() as sess:
        for k in range(3):
            v = np.arange(6, dtype=np.float32).reshape(2, 3) + k
            got = sess.run(s, {x: v})
            assert_same(got, np.concatenate([v.T, v.T * 2])[1:, ::-1].copy())


def test_size_one_and_empty_edges():
    a = np.arange(3, dtype=np.float64).reshape(1, 3, 1)
    c = tf.constant(a)
    assert_same(run(tf.transpose(c, [2, 1, 0])), a.transpose(2, 1, 0))
    assert_same(run(tf.tile(c, [1, 1, 1])), a)
    assert_same(run(tf.reverse(c, [0, 2])), a)
    e = tf.constant(np.zeros((2, 0), np.float32))
    assert_same(run(tf.transpose(e)), np.zeros((0, 2), np.float32))
    assert_same(run(tf.gather(e, [1, 1])), np.zeros((2, 0), np.float32))
    assert_same(run(tf.pad(e, [[0, 0], [1, 1]])), np.zeros((2, 2), np.float32))
    assert [p.shape.as_list() for p in tf.split(e, 2, axis=0)] == [[1, 0], [1, 0]]
    assert_same(run(tf.stack([tf.constant(1.0), tf.constant(2.0)])), np.array([1, 2], np.float32))
    assert_same(run(tf.one_hot(np.zeros(0, np.int32), 3)), np.zeros((0, 3), np.float32))


def test_mirror_pad_with_paddings_known_at_run_time():
    x = tf.placeholder(tf.float64, [None, 3])
    p = tf.placeholder(tf.int32, [2, 2])
    y = tf.pad(x, p, mode="REFLECT")
    assert y.shape.as_list() == [None, None]
    v = np.arange(6.0).reshape(2, 3)
    pads = [[1, 1], [2, 0]]
    assert_same(run(y, {x: v, p: pads}), np.pad(v, pads, mode="reflect"))
    g, = tf.gradients(tf.reduce_sum(y * y), x)
    # each padded copy's gradient goes back to its mirror source
    w = np.zeros_like(v)
    src_r = [1, 0, 1, 0]
    src_c = [2, 1, 0, 1, 2]
    for i in range(4):
        for j in range(5):
            w[src_r[i], src_c[j]] += 2 * v[src_r[i], src_c[j]]
    assert_same(run(g, {x: v, p: pads}), w)
    with pytest.raises(tf.errors.InvalidArgumentError, match="less than"):
        run(y, {x: v, p: [[2, 0], [0, 0]]})


def test_results_do_not_depend_on_optimizer_passes(monkeypatch):
    """With folding off, layouts are computed at run time (the dynamic path)."""
    monkeypatch.delenv("NBFLOW_DISABLE_PASSES", raising=False)
    a = np.random.RandomState(16).rand(2, 3, 4)
    c = tf.constant(a)
    x = tf.placeholder(tf.float64, [None, 3, 4])
    fetches = [tf.transpose(c, [1, 2, 0]), tf.concat([x, c], 0), tf.stack([c, x[:2]], 1), tf.unstack(c, axis=2)[3],
               tf.split(x, [1, -1], axis=1)[1], tf.slice(c, [0, 1, 1], [-1, 1, 2]), x[:, ::-1, 1:3, None],
               tf.reverse(c, [0, 2]), tf.tile(x, [1, 2, 1]), tf.pad(c, [[1, 0], [0, 0], [0, 1]], constant_values=3.0),
               tf.pad(x, [[0, 1], [1, 1], [0, 0]], mode="SYMMETRIC"), tf.gather(c, [3, 1], axis=2),
               tf.gather_nd(x, [[1, 2], [0, 0]]), tf.one_hot([1, 0, 2], 3, axis=0), tf.expand_dims(x, 1),
               tf.squeeze(c[:, :1]), tf.boolean_mask(x, x[:, 0, 0] > 0.5), tf.linspace(0.0, 1.0, 4), tf.eye(2, 3),
               tf.gradients(tf.reduce_sum(tf.gather(tf.transpose(x), [1, 1]) * x[0, 0, 0]), x)[0]]
    feed = {x: a}
    with tf.Session() as sess:
        want = sess.run(fetches, feed)
    no_passes = tf.ConfigProto(nbflow_disabled_passes=["fold", "cse", "identity", "fusion", "memory"])
    with tf.Session(config=no_passes) as sess:
        got = sess.run(fetches, feed)
    for g, w in zip(got, want):
        assert_same(g, w)
