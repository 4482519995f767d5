"""Element-wise math (math_ops.py) against numpy: values, dtypes, broadcasting,
unknown dims, empty and size-1 tensors, TF's dtype rules, and gradients
(finite differences in float64, second derivatives)."""
import math

import numpy as np
import pytest

import nbflow as tf


def run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


def grad_error(f, shapes, values=None, delta=1e-5):
    """Max |theoretical - numerical| Jacobian entry of f over float64 placeholders."""
    xs = [tf.placeholder(tf.float64, s) for s in shapes]
    y = f(*xs)
    rng = np.random.RandomState(3)
    values = values if values is not None else [rng.uniform(0.5, 1.5, s) for s in shapes]
    with tf.Session():
        if len(xs) == 1:
            return tf.test.compute_gradient_error(xs[0], shapes[0], y, y.shape.as_list(),
                                                  x_init_value=values[0], delta=delta)
        return tf.test.compute_gradient_error(xs, list(shapes), y, y.shape.as_list(), x_init_value=values,
                                              delta=delta)


def _fdiv(a, b):
    return np.floor_divide(a, b)


# name: (tf function, numpy reference, dtypes, domain of x, domain of y)
BINARY = {
    "add": (tf.add, np.add, "fi", None, None),
    "subtract": (tf.subtract, np.subtract, "fi", None, None),
    "multiply": (tf.multiply, np.multiply, "fi", None, None),
    "realdiv": (tf.realdiv, np.divide, "f", None, "nonzero"),
    "floordiv": (tf.floordiv, _fdiv, "fi", None, "nonzero"),
    "floormod": (tf.floormod, np.mod, "fi", None, "nonzero"),
    "pow": (tf.pow, np.power, "fi", "positive", "small"),
    "maximum": (tf.maximum, np.maximum, "fi", None, None),
    "minimum": (tf.minimum, np.minimum, "fi", None, None),
    "squared_difference": (tf.squared_difference, lambda a, b: (a - b) ** 2, "fi", None, None),
}

DTYPES = {"float32": (tf.float32, np.float32), "float64": (tf.float64, np.float64), "int32": (tf.int32, np.int32)}


def _sample(rng, shape, npd, domain):
    if np.dtype(npd).kind == "i":
        v = rng.randint(-6, 7, size=shape)
        if domain in ("nonzero", "positive"):
            v[v == 0] = 3
            if domain == "positive":
                v = np.abs(v)
        if domain == "small":
            v = rng.randint(0, 4, size=shape)
        return v.astype(npd)
    v = rng.uniform(-2, 2, size=shape)
    if domain == "positive":
        v = rng.uniform(0.2, 2, size=shape)
    elif domain == "nonzero":
        v = np.where(np.abs(v) < 0.25, 1.0, v)
    elif domain == "small":
        v = rng.uniform(-2, 3, size=shape)
    return v.astype(npd)


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_binary_against_numpy_with_broadcasting(name, dtype):
    fn, ref, kinds, dx, dy = BINARY[name]
    tfd, npd = DTYPES[dtype]
    if np.dtype(npd).kind not in kinds:
        with pytest.raises(TypeError):
            fn(tf.placeholder(tfd, [2]), tf.placeholder(tfd, [2]))
        return
    rng = np.random.RandomState(0)
    # general broadcasting (3,1) op (1,4) for every dtype, a scalar operand for floats
    cases = [((3, 1), (1, 4))] + ([((2, 3), ())] if np.dtype(npd).kind == "f" else [])
    for sx, sy in cases:
        x = tf.placeholder(tfd, sx)
        y = tf.placeholder(tfd, sy)
        z = fn(x, y)
        assert z.dtype == tfd
        assert z.shape.as_list() == list(np.broadcast_shapes(sx, sy))
        xv, yv = _sample(rng, sx, npd, dx), _sample(rng, sy, npd, dy)
        got = run(z, {x: xv, y: yv})
        assert got.dtype == npd
        want = ref(xv.astype(np.float64), yv.astype(np.float64))
        if np.dtype(npd).kind == "i":
            np.testing.assert_array_equal(got, want.astype(npd))
        else:
            np.testing.assert_allclose(got, want, rtol=2e-6 if npd == np.float32 else 1e-12, atol=1e-6)


def test_bias_vector_broadcasting_and_reversed_operands():
    x = tf.placeholder(tf.float32, [2, 3])
    b = tf.placeholder(tf.float32, [3])
    xv = np.arange(6, dtype=np.float32).reshape(2, 3)
    bv = np.array([10, 20, 30], np.float32)
    got = run([x + b, b - x, b * x, x / b], {x: xv, b: bv})
    np.testing.assert_allclose(got[0], xv + bv)
    np.testing.assert_allclose(got[1], bv - xv)
    np.testing.assert_allclose(got[2], bv * xv)
    np.testing.assert_allclose(got[3], xv / bv, rtol=1e-6)


def test_incompatible_broadcast_is_a_graph_time_error():
    with pytest.raises(ValueError, match="Dimensions must be equal"):
        tf.add(tf.placeholder(tf.float32, [2, 3]), tf.placeholder(tf.float32, [4]))


def test_unknown_dims_resolve_from_the_feed():
    x = tf.placeholder(tf.float32, [None, 3])
    y = tf.placeholder(tf.float32, [None, 1])
    z = tf.maximum(x * 2.0, y)
    assert z.shape.as_list() == [None, 3]
    xv = np.arange(6, dtype=np.float32).reshape(2, 3)
    yv = np.array([[3.0], [-1.0]], np.float32)
    np.testing.assert_array_equal(run(z, {x: xv, y: yv}), np.maximum(xv * 2, yv))
    # a different batch size with the same graph
    xv = np.ones((5, 3), np.float32)
    yv = np.full((5, 1), 4.0, np.float32)
    np.testing.assert_array_equal(run(z, {x: xv, y: yv}), np.full((5, 3), 4.0))
    # unknown rank
    u = tf.placeholder(tf.float64)
    assert (u + 1.0).shape.ndims is None
    np.testing.assert_array_equal(run(u + 1.0, {u: np.zeros((2, 2, 2))}), np.ones((2, 2, 2)))


def test_empty_and_size_one_tensors():
    x = tf.placeholder(tf.float32, [None, 3])
    e = np.zeros((0, 3), np.float32)
    for t in (x + 1.0, tf.exp(x), tf.maximum(x, 0.0), x * tf.constant([1.0, 2.0, 3.0])):
        out = run(t, {x: e})
        assert out.shape == (0, 3) and out.dtype == np.float32
    one = tf.constant([[2.0]])
    np.testing.assert_array_equal(run(one * tf.constant([[1.0, 2.0, 3.0]])), [[2.0, 4.0, 6.0]])
    assert run(tf.square(tf.constant(3.0))) == 9.0
    assert run(tf.constant([5]) - tf.constant(2)).tolist() == [3]


# -- division family ----------------------------------------------------------------------

def test_truediv_and_divide_cast_integers_as_tf():
    for dt, want in ((tf.int32, tf.float64), (tf.int64, tf.float64), (tf.int16, tf.float32),
                     (tf.uint8, tf.float32), (tf.float32, tf.float32), (tf.float64, tf.float64)):
        a = tf.constant([7, -7], dt) if dt not in (tf.uint8,) else tf.constant([7, 9], dt)
        b = tf.constant([2, 2], dt)
        for z in (tf.divide(a, b), tf.truediv(a, b), a / b):
            assert z.dtype == want
            np.testing.assert_allclose(run(z), run(a).astype(np.float64) / 2)


def test_div_is_floor_for_integers_and_true_for_floats():
    assert run(tf.div(tf.constant([-7, 7]), tf.constant([2, 2]))).tolist() == [-4, 3]
    np.testing.assert_allclose(run(tf.div(tf.constant([-7.0, 7.0]), tf.constant([2.0, 2.0]))), [-3.5, 3.5])


def test_floordiv_floormod_signs_follow_python():
    a = np.array([-7, 7, -7, 7], np.int32)
    b = np.array([2, 2, -2, -2], np.int32)
    assert run(tf.floordiv(a, b)).tolist() == (a // b).tolist()
    assert run(tf.floormod(a, b)).tolist() == (a % b).tolist()
    assert run(tf.mod(a, b)).tolist() == (a % b).tolist()
    af, bf = a.astype(np.float64) + 0.5, b.astype(np.float64)
    np.testing.assert_allclose(run(tf.floormod(af, bf)), np.mod(af, bf))
    np.testing.assert_allclose(run(af // tf.constant(bf)), af // bf)


def test_realdiv_rejects_integers_and_div_no_nan():
    with pytest.raises(TypeError):
        tf.realdiv(tf.constant([1]), tf.constant([2]))
    np.testing.assert_array_equal(run(tf.div_no_nan(tf.constant([1.0, 2.0]), tf.constant([0.0, 4.0]))), [0.0, 0.5])


# -- unary ------------------------------------------------------------------------------

# name: (tf function, numpy reference, domain)
UNARY = {
    "negative": (tf.negative, np.negative, None),
    "abs": (tf.abs, np.abs, None),
    "sign": (tf.sign, np.sign, None),
    "exp": (tf.exp, np.exp, None),
    "log": (tf.log, np.log, "positive"),
    "log1p": (tf.log1p, np.log1p, "positive"),
    "expm1": (tf.expm1, np.expm1, None),
    "sqrt": (tf.sqrt, np.sqrt, "positive"),
    "rsqrt": (tf.rsqrt, lambda v: 1 / np.sqrt(v), "positive"),
    "square": (tf.square, np.square, None),
    "reciprocal": (tf.reciprocal, np.reciprocal, "nonzero"),
    "sin": (tf.sin, np.sin, None),
    "cos": (tf.cos, np.cos, None),
    "tan": (tf.tan, np.tan, None),
    "tanh": (tf.tanh, np.tanh, None),
    "sigmoid": (tf.sigmoid, lambda v: 1 / (1 + np.exp(-v)), None),
    "floor": (tf.floor, np.floor, None),
    "ceil": (tf.ceil, np.ceil, None),
    "round": (tf.round, np.round, None),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_unary_against_numpy(name, dtype):
    fn, ref, domain = UNARY[name]
    tfd, npd = DTYPES[dtype]
    rng = np.random.RandomState(1)
    xv = _sample(rng, (3, 4), npd, domain)
    if name in ("floor", "ceil", "round", "sign", "abs"):
        xv.flat[:6] = np.array([-2.5, -0.5, 0.0, 0.5, 1.5, 2.5], npd)
    x = tf.placeholder(tfd, [None, 4])
    y = fn(x)
    assert y.dtype == tfd and y.shape.as_list() == [None, 4]
    got = run(y, {x: xv})
    assert got.dtype == npd
    tol = 1e-6 if npd == np.float32 else 1e-13
    np.testing.assert_allclose(got, ref(xv.astype(np.float64)), rtol=tol, atol=tol)


def test_round_is_bankers_rounding():
    v = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 0.4, 0.6], np.float32)
    np.testing.assert_array_equal(run(tf.round(v)), [-2, -2, -0, 0, 2, 2, 4, 0, 1])
    assert run(tf.round(tf.constant([3, -3]))).tolist() == [3, -3]  # integers unchanged


def test_integer_unary_ops_and_float_only_ops():
    v = np.array([-3, 0, 4], np.int32)
    assert run(tf.negative(v)).tolist() == [3, 0, -4]
    assert run(tf.abs(v)).tolist() == [3, 0, 4]
    assert run(tf.sign(v)).tolist() == [-1, 0, 1]
    assert run(tf.square(v)).tolist() == [9, 0, 16]
    for fn in (tf.exp, tf.log, tf.sqrt, tf.sin, tf.tanh, tf.sigmoid, tf.floor, tf.reciprocal):
        with pytest.raises(TypeError):
            fn(tf.constant(v))


def test_sigmoid_and_exp_extremes_are_stable():
    v = np.array([-1000.0, -80.0, 0.0, 80.0, 1000.0], np.float32)
    s = run(tf.sigmoid(v))
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s, [0.0, 1.8048513e-35, 0.5, 1.0, 1.0], rtol=1e-5)
    np.testing.assert_array_equal(run(tf.exp(tf.constant([-np.inf, np.inf]))), [0.0, np.inf])


# -- comparisons and logic --------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_comparisons(dtype):
    tfd, npd = DTYPES[dtype]
    a = tf.placeholder(tfd, [3, 1])
    b = tf.placeholder(tfd, [4])
    av = np.array([[1], [2], [3]], npd)
    bv = np.array([0, 2, 3, 5], npd)
    pairs = [(tf.greater, np.greater), (tf.less, np.less), (tf.equal, np.equal), (tf.not_equal, np.not_equal),
             (tf.greater_equal, np.greater_equal), (tf.less_equal, np.less_equal)]
    outs = [f(a, b) for f, _ in pairs]
    assert all(o.dtype == tf.bool and o.shape.as_list() == [3, 4] for o in outs)
    got = run(outs, {a: av, b: bv})
    for (_, ref), g in zip(pairs, got):
        assert g.dtype == np.bool_
        np.testing.assert_array_equal(g, ref(av, bv))
    # Python operators build the same ops
    assert (a < b).op.type == "Less" and (a >= b).op.type == "GreaterEqual"


def test_logical_ops():
    p = np.array([True, True, False, False])
    q = np.array([True, False, True, False])
    tp, tq = tf.constant(p), tf.constant(q)
    got = run([tf.logical_and(tp, tq), tf.logical_or(tp, tq), tf.logical_not(tp), tf.logical_xor(tp, tq),
               tp & tq, tp | tq, ~tp, tp ^ tq])
    want = [p & q, p | q, ~p, p ^ q] * 2
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    with pytest.raises(TypeError):
        tf.logical_and(tf.constant([1.0]), tf.constant([0.0]))
    # broadcasting
    np.testing.assert_array_equal(run(tf.logical_and(tf.constant([[True], [False]]), tq)),
                                  np.logical_and([[True], [False]], q))


def test_equal_on_bool_and_nan():
    np.testing.assert_array_equal(run(tf.equal(tf.constant([True, False]), tf.constant([True, True]))), [True, False])
    np.testing.assert_array_equal(run(tf.equal(tf.constant([np.nan, 1.0]), tf.constant([np.nan, 1.0]))),
                                  [False, True])


# -- where / select -----------------------------------------------------------------------

def test_where_tf1_elementwise_and_row_selection():
    c = tf.placeholder(tf.bool, [2, 3])
    x = tf.placeholder(tf.float32, [2, 3])
    y = tf.placeholder(tf.float32, [2, 3])
    z = tf.where(c, x, y)
    assert z.op.type == "Select"
    cv = np.array([[True, False, True], [False, False, True]])
    xv = np.arange(6, dtype=np.float32).reshape(2, 3)
    yv = -xv - 1
    np.testing.assert_array_equal(run(z, {c: cv, x: xv, y: yv}), np.where(cv, xv, yv))
    # a rank-1 condition picks whole rows (TF1 Select)
    rows = tf.placeholder(tf.bool, [2])
    np.testing.assert_array_equal(run(tf.where(rows, x, y), {rows: [False, True], x: xv, y: yv}),
                                  np.stack([yv[0], xv[1]]))
    r3 = tf.where(tf.constant([True, False]), tf.ones([2, 2, 2]), tf.zeros([2, 2, 2]))
    np.testing.assert_array_equal(run(r3), np.stack([np.ones((2, 2)), np.zeros((2, 2))]))


def test_where_tf1_shape_errors():
    x = tf.zeros([2, 3])
    with pytest.raises(ValueError):
        tf.where(tf.constant([True, False, True]), x, x)  # rows: 3 != 2
    with pytest.raises(ValueError):
        tf.where(tf.constant([[True, False, True]]), x, x)  # no broadcasting in TF1's where
    with pytest.raises(ValueError):
        tf.where(tf.constant([[True, False, True]] * 2), x, tf.zeros([1, 3]))
    with pytest.raises(ValueError):
        tf.where(tf.constant([True]), x)
    with pytest.raises(TypeError):
        tf.where(tf.constant([1, 0]), tf.zeros([2]), tf.zeros([2]))


def test_where_v2_broadcasts():
    c = tf.constant([True, False, True])
    z = tf.where_v2(c, tf.ones([2, 3]), 0.0)
    assert z.op.type == "SelectV2" and z.shape.as_list() == [2, 3]
    np.testing.assert_array_equal(run(z), [[1, 0, 1], [1, 0, 1]])
    z2 = tf.where_v2(tf.constant([[True], [False]]), tf.constant([1, 2, 3]), tf.constant(-1))
    np.testing.assert_array_equal(run(z2), [[1, 2, 3], [-1, -1, -1]])


# -- cast ----------------------------------------------------------------------------------

def test_cast():
    f = tf.constant([1.7, -1.7, 0.0, 2.5, -0.2])
    assert run(tf.cast(f, tf.int32)).tolist() == [1, -1, 0, 2, 0]  # truncation toward zero
    assert run(tf.cast(f, tf.bool)).tolist() == [True, True, False, True, True]
    b = tf.constant([True, False])
    np.testing.assert_array_equal(run(tf.cast(b, tf.float32)), [1.0, 0.0])
    assert run(tf.cast(b, tf.int64)).dtype == np.int64
    d = tf.cast(tf.constant([1, 2]), tf.float64)
    assert d.dtype == tf.float64 and d.op.type == "Cast"
    assert run(d).dtype == np.float64
    same = tf.constant([1.0])
    assert tf.cast(same, tf.float32) is same  # a no-op, as TF
    assert run(tf.to_float(tf.constant([3]))).dtype == np.float32
    assert run(tf.to_int64(tf.constant([3.9]))).tolist() == [3]
    np.testing.assert_array_equal(run(tf.saturate_cast(tf.constant([-300.0, 300.0]), tf.uint8)), [0, 255])


# -- clip_by_value, add_n ------------------------------------------------------------------

def test_clip_by_value():
    x = tf.placeholder(tf.float32, [None])
    xv = np.array([-2.0, -0.5, 0.3, 1.0, 4.0], np.float32)
    np.testing.assert_array_equal(run(tf.clip_by_value(x, -1.0, 1.0), {x: xv}), np.clip(xv, -1, 1))
    # tensor bounds that broadcast
    m = tf.clip_by_value(tf.constant([[1.0, 5.0], [3.0, -3.0]]), tf.constant([0.0, -1.0]), 2.0)
    np.testing.assert_array_equal(run(m), [[1.0, 2.0], [2.0, -1.0]])
    assert run(tf.clip_by_value(tf.constant([1, 9]), 2, 5)).tolist() == [2, 5]


def test_add_n():
    vals = [np.arange(6, dtype=np.float32).reshape(2, 3) * k for k in (1, 2, 3)]
    s = tf.add_n([tf.constant(v) for v in vals])
    assert s.op.type == "AddN"
    np.testing.assert_array_equal(run(s), sum(vals))
    assert run(tf.add_n([tf.constant([1, 2])])).tolist() == [1, 2]
    with pytest.raises(ValueError):
        tf.add_n([])
    with pytest.raises(ValueError):
        tf.add_n([tf.zeros([2]), tf.zeros([3])])
    with pytest.raises(TypeError):
        tf.add_n([tf.zeros([2]), tf.zeros([2], tf.float64)])
    p = tf.placeholder(tf.float32, [None])
    np.testing.assert_array_equal(run(tf.add_n([p, p, p]), {p: [1.0, 2.0]}), [3.0, 6.0])


# -- TF's dtype rules --------------------------------------------------------------------

def test_float32_stays_float32():
    x = tf.placeholder(tf.float32, [3])
    outs = [x + 1.5, x * 2, 2.0 * x, x / 3, tf.exp(x) * 0.1, tf.pow(x, 2.0), tf.sigmoid(x) - 1, tf.abs(-x),
            tf.maximum(x, 0.25), tf.square(x) + tf.sqrt(x)]
    assert all(o.dtype == tf.float32 for o in outs)
    got = run(outs, {x: [1.0, 2.0, 3.0]})
    assert all(g.dtype == np.float32 for g in got)


def test_mixed_tensor_dtypes_raise_type_error():
    with pytest.raises(TypeError):
        tf.constant(1.0) + tf.constant(1, tf.int32)
    with pytest.raises(TypeError):
        tf.add(tf.constant(1.0), tf.constant(1.0, tf.float64))
    with pytest.raises(TypeError):
        tf.multiply(tf.constant([1], tf.int64), tf.constant([1], tf.int32))
    with pytest.raises(TypeError):
        tf.maximum(tf.constant([1.0]), tf.constant([1]))


def test_python_scalars_take_the_tensor_dtype():
    assert (tf.constant(2.0, tf.float64) * 3).dtype == tf.float64
    assert (3 * tf.constant(2.0, tf.float64)).dtype == tf.float64
    assert (tf.constant([1, 2], tf.int64) + 1).dtype == tf.int64
    assert (1.5 - tf.constant(2.0)).dtype == tf.float32
    assert run(tf.constant(1, tf.int64) + 2) == 3
    with pytest.raises(TypeError):
        tf.constant(2) * 1.5  # a float cannot become an int32 tensor


# -- gradients ---------------------------------------------------------------------------

GRAD_BINARY = {
    "add": (tf.add, None), "subtract": (tf.subtract, None), "multiply": (tf.multiply, None),
    "divide": (tf.divide, None), "realdiv": (tf.realdiv, None), "pow": (tf.pow, None),
    "maximum": (tf.maximum, "distinct"), "minimum": (tf.minimum, "distinct"),
    "squared_difference": (tf.squared_difference, None), "floormod": (tf.floormod, "mod"),
    "div_no_nan": (tf.div_no_nan, None),
}


@pytest.mark.parametrize("name", sorted(GRAD_BINARY))
@pytest.mark.parametrize("shapes", [((3, 1), (1, 4)), ((2, 3), (3,)), ((2, 2), ())], ids=["general", "bias", "scalar"])
def test_binary_gradients_with_broadcasting(name, shapes):
    fn, domain = GRAD_BINARY[name]
    rng = np.random.RandomState(5)
    xv = rng.uniform(0.5, 1.5, shapes[0])
    yv = rng.uniform(0.5, 1.5, shapes[1])
    if domain == "distinct":  # keep max/min away from ties, where the derivative jumps
        yv = yv + 0.05 * np.sign(yv - np.mean(xv))
    if domain == "mod":  # away from the jumps of x mod y
        xv = rng.uniform(2.1, 2.4, shapes[0])
        yv = rng.uniform(0.9, 1.0, shapes[1])
    assert grad_error(fn, shapes, [xv, yv]) < 1e-6


@pytest.mark.parametrize("name", sorted(set(UNARY) - {"floor", "ceil", "round", "sign"}) +
                         ["asin", "atan", "sinh", "cosh", "erf", "log_sigmoid"])
def test_unary_gradients(name):
    fn = UNARY[name][0] if name in UNARY else getattr(tf, name)
    rng = np.random.RandomState(7)
    xv = rng.uniform(0.2, 0.9, (2, 3))
    if name == "abs":
        xv[0] = -xv[0]
    assert grad_error(fn, [(2, 3)], [xv]) < 1e-6


def test_piecewise_constant_ops_have_no_gradient():
    x = tf.placeholder(tf.float64, [3])
    for fn in (tf.floor, tf.ceil, tf.round, tf.sign):
        assert tf.gradients(fn(x), x) == [None]
    assert tf.gradients(tf.cast(x > 0.0, tf.float64), x) == [None]


def test_gradients_of_where_cast_clip_addn():
    assert grad_error(lambda x: tf.where(x > 1.0, x * x, x * 3.0), [(2, 3)]) < 1e-6
    assert grad_error(lambda x: tf.where(tf.constant([True, False]), tf.sin(x), tf.cos(x)), [(2, 3)]) < 1e-6
    assert grad_error(lambda x, y: tf.where_v2(tf.constant([True, False, True]), x, y), [(2, 3), (3,)]) < 1e-6
    assert grad_error(lambda x: tf.cast(tf.cast(x, tf.float32), tf.float64) * 2.0, [(3,)], delta=1e-2) < 1e-4
    assert grad_error(lambda x: tf.clip_by_value(x, 0.8, 1.2), [(2, 3)],
                      [np.array([[0.5, 0.9, 1.1], [1.3, 1.0, 0.85]])]) < 1e-6
    assert grad_error(lambda x, y: tf.add_n([x, y * 2.0, x * y]), [(2, 2), (2, 2)]) < 1e-6


def test_gradient_values_match_formulas():
    x = tf.placeholder(tf.float32, [3])
    g_tanh, g_sig, g_log = (tf.gradients(f(x), x)[0] for f in (tf.tanh, tf.sigmoid, tf.log))
    assert g_tanh.op.type == "TanhGrad" and g_sig.op.type == "SigmoidGrad"
    v = np.array([0.5, 1.0, 2.0], np.float32)
    got = run([g_tanh, g_sig, g_log], {x: v})
    assert all(g.dtype == np.float32 for g in got)
    np.testing.assert_allclose(got[0], 1 - np.tanh(v) ** 2, rtol=1e-6)
    s = 1 / (1 + np.exp(-v))
    np.testing.assert_allclose(got[1], s * (1 - s), rtol=1e-6)
    np.testing.assert_allclose(got[2], 1 / v, rtol=1e-6)


@pytest.mark.parametrize("fn,second", [
    (tf.tanh, lambda v: -2 * np.tanh(v) * (1 - np.tanh(v) ** 2)),
    (tf.sigmoid, lambda v: (lambda s: s * (1 - s) * (1 - 2 * s))(1 / (1 + np.exp(-v)))),
    (lambda x: x * x * x, lambda v: 6 * v),
], ids=["tanh", "sigmoid", "mul"])
def test_second_derivatives(fn, second):
    x = tf.placeholder(tf.float64, [4])
    (g,) = tf.gradients(tf.reduce_sum(fn(x)), x)
    (gg,) = tf.gradients(tf.reduce_sum(g), x)
    v = np.array([-1.5, -0.2, 0.3, 2.0])
    np.testing.assert_allclose(run(gg, {x: v}), second(v), rtol=1e-10)
    # and the second derivative checks out numerically too
    assert grad_error(lambda t: tf.gradients(tf.reduce_sum(fn(t)), t)[0], [(4,)], [v]) < 1e-6


def test_mixed_second_derivative_of_mul():
    x = tf.placeholder(tf.float64, [])
    y = tf.placeholder(tf.float64, [])
    (gx,) = tf.gradients(x * y * y, x)       # y^2
    (gxy,) = tf.gradients(gx, y)             # 2y
    assert run(gxy, {x: 3.0, y: 5.0}) == 10.0


def test_math_constants_match_python_math():
    # erf is computed by math.erf in the kernel; check against Python directly
    v = np.array([-1.0, 0.0, 0.5, 2.0])
    np.testing.assert_allclose(run(tf.erf(v)), [math.erf(a) for a in v], rtol=1e-14)


INT_DTYPES = [tf.int8, tf.int16, tf.int32, tf.int64, tf.uint8, tf.uint16]


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=[d.name for d in INT_DTYPES])
@pytest.mark.parametrize("divide", [tf.floordiv, tf.floormod, lambda a, b: a // b, lambda a, b: a % b],
                         ids=["floordiv", "floormod", "//", "%"])
def test_integer_division_by_zero_is_an_error(dtype, divide):
    a = tf.placeholder(dtype, [3])
    b = tf.placeholder(dtype, [3])
    y = divide(a, b) + tf.constant(1, dtype)  # an element-wise op after it, as in a fusible chain
    av, bv = np.array([7, 8, 9], dtype.as_numpy_dtype), np.array([2, 3, 4], dtype.as_numpy_dtype)
    with tf.Session() as sess:
        want = (av // bv if divide in (tf.floordiv,) else None)
        got = sess.run(y, {a: av, b: bv})
        assert got.dtype == dtype.as_numpy_dtype and got.shape == (3,)
        if want is not None:
            np.testing.assert_array_equal(got, want + 1)
        with pytest.raises(tf.errors.InvalidArgumentError, match="Integer division by zero"):
            sess.run(y, {a: av, b: np.array([2, 0, 4], dtype.as_numpy_dtype)})
    c = divide(tf.constant([4, 5], dtype), tf.constant([0, 1], dtype))  # folded before running
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="Integer division by zero"):
            sess.run(c)
