"""Initializers, tf.variable_scope and tf.get_variable (TF 1.x semantics)."""
import math

import numpy as np
import pytest

import nbflow as tf


def _run(t):
    with tf.Session() as sess:
        return sess.run(t)


# ---------------------------------------------------------------------------
# Initializers
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [tf.float32, tf.float64, tf.int32])
def test_zeros_ones_initializers(dtype):
    z = tf.zeros_initializer()([2, 3], dtype=dtype)
    o = tf.ones_initializer(dtype=dtype)(tf.TensorShape([4]))
    zv, ov = _run([z, o])
    assert zv.dtype == dtype.as_numpy_dtype and ov.dtype == dtype.as_numpy_dtype
    np.testing.assert_array_equal(zv, np.zeros((2, 3)))
    np.testing.assert_array_equal(ov, np.ones(4))


def test_zeros_initializer_empty_and_scalar_shapes():
    e, s = _run([tf.zeros_initializer()([0, 3]), tf.ones_initializer()([])])
    assert e.shape == (0, 3) and s.shape == () and s == 1.0


def test_constant_initializer_scalar_list_and_padding():
    a = tf.constant_initializer(2.5)([2, 2])
    b = tf.constant_initializer([1, 2, 3, 4, 5, 6])([2, 3], dtype=tf.float64)
    c = tf.constant_initializer([7, 8])([2, 2], dtype=tf.int32)  # TF 1.x pads with the last value
    av, bv, cv = _run([a, b, c])
    np.testing.assert_array_equal(av, np.full((2, 2), 2.5, np.float32))
    assert bv.dtype == np.float64
    np.testing.assert_array_equal(bv, [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(cv, [[7, 8], [8, 8]])


def test_constant_initializer_errors():
    with pytest.raises(ValueError, match="Too many elements provided. Needed at most 2, but received 3"):
        tf.constant_initializer([1, 2, 3])([2])
    with pytest.raises(TypeError, match="Expected Tensor's shape"):
        tf.constant_initializer([1, 2], verify_shape=True)([2, 1])
    with pytest.raises(TypeError, match="Invalid type for initial value"):
        tf.constant_initializer({"a": 1})


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_random_uniform_initializer_range_and_seed(dtype):
    init = tf.random_uniform_initializer(-2.0, 3.0, seed=7)
    x = init([100, 50], dtype=dtype)
    v = _run(x)
    assert v.dtype == dtype.as_numpy_dtype
    assert v.min() >= -2.0 and v.max() < 3.0
    assert abs(v.mean() - 0.5) < 0.1
    # the same seed in a fresh graph gives the same values
    g = tf.Graph()
    with g.as_default():
        y = tf.random_uniform_initializer(-2.0, 3.0, seed=7)([100, 50], dtype=dtype)
        with tf.Session() as sess:
            np.testing.assert_array_equal(sess.run(y), v)


def test_random_uniform_initializer_default_maxval_is_one():
    v = _run(tf.random_uniform_initializer(seed=1)([1000]))
    assert v.min() >= 0.0 and v.max() < 1.0 and v.max() > 0.9


def test_random_normal_and_truncated_normal_initializers():
    n = tf.random_normal_initializer(mean=1.0, stddev=2.0, seed=3)([200, 100])
    t = tf.truncated_normal_initializer(mean=-1.0, stddev=0.5, seed=3)([200, 100], dtype=tf.float64)
    nv, tv = _run([n, t])
    assert abs(nv.mean() - 1.0) < 0.05 and abs(nv.std() - 2.0) < 0.05
    assert tv.dtype == np.float64
    assert np.all(np.abs(tv + 1.0) <= 2 * 0.5 + 1e-12)
    assert abs(tv.mean() + 1.0) < 0.02 and abs(tv.std() - 0.5 * 0.87962566) < 0.02


def test_random_initializers_reject_integer_dtypes():
    with pytest.raises(ValueError, match="Expected floating point type, got int32"):
        tf.random_normal_initializer(dtype=tf.int32)
    with pytest.raises(ValueError, match="Expected floating point type"):
        tf.truncated_normal_initializer()([2], dtype=tf.int32)
    with pytest.raises(ValueError, match="Expected floating point type"):
        tf.variance_scaling_initializer(dtype=tf.int64)


def _fans(shape):
    if len(shape) == 2:
        return shape
    r = int(np.prod(shape[:-2]))
    return shape[-2] * r, shape[-1] * r


@pytest.mark.parametrize("shape", [(300, 200), (3, 3, 40, 30)])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
def test_variance_scaling_uniform(shape, mode):
    fan_in, fan_out = _fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
    limit = math.sqrt(3.0 * 2.0 / n)
    v = _run(tf.variance_scaling_initializer(scale=2.0, mode=mode, distribution="uniform", seed=1)(list(shape)))
    assert v.shape == shape
    assert np.abs(v).max() <= limit * (1 + 1e-6)
    assert np.abs(v).max() > 0.95 * limit
    assert abs(v.std() - limit / math.sqrt(3)) < 0.03 * limit


@pytest.mark.parametrize("distribution", ["truncated_normal", "normal"])
def test_variance_scaling_truncated_normal(distribution):
    # TF 1.x: "normal" is an alias of "truncated_normal"; the std after truncation is sqrt(scale / n)
    v = _run(tf.variance_scaling_initializer(scale=1.5, mode="fan_in", distribution=distribution,
                                             seed=2)([400, 100]))
    stddev = math.sqrt(1.5 / 400) / 0.87962566103423978
    assert np.abs(v).max() <= 2 * stddev * (1 + 1e-6)
    assert abs(v.std() - math.sqrt(1.5 / 400)) < 0.03 * math.sqrt(1.5 / 400)


def test_variance_scaling_untruncated_normal():
    v = _run(tf.variance_scaling_initializer(scale=2.0, mode="fan_out", distribution="untruncated_normal",
                                             seed=4)([100, 400]))
    std = math.sqrt(2.0 / 400)
    assert abs(v.std() - std) < 0.03 * std
    assert np.abs(v).max() > 3 * std  # not truncated


def test_variance_scaling_vector_and_scalar_fans():
    # rank 1: fan_in = fan_out = shape[0]; rank 0: 1
    v = _run(tf.variance_scaling_initializer(distribution="uniform", seed=1)([10000]))
    assert np.abs(v).max() <= math.sqrt(3.0 / 10000) * (1 + 1e-6)
    s = _run(tf.variance_scaling_initializer(distribution="uniform", seed=1)([]))
    assert s.shape == () and abs(s) <= math.sqrt(3.0)


def test_variance_scaling_argument_errors():
    with pytest.raises(ValueError, match="`scale` must be positive float."):
        tf.variance_scaling_initializer(scale=0.0)
    with pytest.raises(ValueError, match="Invalid `mode` argument"):
        tf.variance_scaling_initializer(mode="fan_sideways")
    with pytest.raises(ValueError, match="Invalid `distribution` argument"):
        tf.variance_scaling_initializer(distribution="cauchy")
    # distribution names are case-insensitive
    assert tf.variance_scaling_initializer(distribution="Uniform").distribution == "uniform"


@pytest.mark.parametrize("name,scale,mode,dist", [
    ("glorot_uniform", 1.0, "fan_avg", "uniform"), ("glorot_normal", 1.0, "fan_avg", "truncated_normal"),
    ("he_normal", 2.0, "fan_in", "truncated_normal"), ("he_uniform", 2.0, "fan_in", "uniform"),
    ("lecun_normal", 1.0, "fan_in", "truncated_normal"), ("lecun_uniform", 1.0, "fan_in", "uniform"),
])
def test_named_variance_scaling_initializers(name, scale, mode, dist):
    init = getattr(tf.initializers, name)(seed=5)
    assert (init.scale, init.mode, init.distribution, init.seed) == (scale, mode, dist, 5)
    v = _run(init([60, 40]))
    n = {"fan_in": 60, "fan_avg": 50}[mode]
    if dist == "uniform":
        assert np.abs(v).max() <= math.sqrt(3 * scale / n) * (1 + 1e-6)
    else:
        assert np.abs(v).max() <= 2 * math.sqrt(scale / n) / 0.87962566103423978 * (1 + 1e-6)


def test_top_level_glorot_names_and_initializers_namespace():
    assert isinstance(tf.glorot_uniform_initializer(), tf.variance_scaling_initializer)
    assert tf.initializers.zeros is tf.zeros_initializer
    assert tf.initializers.truncated_normal is tf.truncated_normal_initializer
    with pytest.raises(NotImplementedError, match="orthogonal_initializer is not supported"):
        tf.orthogonal_initializer()


def test_initializer_get_config_round_trip():
    init = tf.random_normal_initializer(mean=1.0, stddev=3.0, seed=9)
    cfg = init.get_config()
    assert cfg["mean"] == 1.0 and cfg["stddev"] == 3.0 and cfg["seed"] == 9
    again = tf.random_normal_initializer.from_config(cfg)
    assert (again.mean, again.stddev, again.seed) == (1.0, 3.0, 9)


def test_initializer_needs_fully_defined_shape():
    with pytest.raises(ValueError, match="fully defined shape"):
        tf.zeros_initializer()([None, 3])


# ---------------------------------------------------------------------------
# get_variable and variable_scope
# ---------------------------------------------------------------------------

def test_nested_scopes_name_variables_and_ops():
    with tf.variable_scope("foo") as foo:
        with tf.variable_scope("bar") as bar:
            w = tf.get_variable("w", [2, 3])
            c = tf.constant(1.0, name="c")
    assert w.name == "foo/bar/w:0" and w.op.name == "foo/bar/w"
    assert c.name == "foo/bar/c:0"
    assert foo.name == "foo" and bar.name == "foo/bar"
    assert foo.original_name_scope == "foo/" and bar.original_name_scope == "foo/bar/"
    assert w.shape.as_list() == [2, 3] and w.dtype == tf.float32
    assert tf.get_variable_scope().name == ""
    # the initializer ops live under the variable's own name
    assert w.initial_value.op.name.startswith("foo/bar/w/Initializer/")


def test_variable_names_ignore_name_scope():
    with tf.name_scope("ns"):
        with tf.variable_scope("vs"):
            w = tf.get_variable("w", [1])
            x = tf.add(1.0, 2.0, name="x")
        v = tf.get_variable("v", [1])
    assert w.name == "vs/w:0" and v.name == "v:0"
    assert x.name == "ns/vs/x:0"


def test_reuse_true_returns_the_same_variable():
    with tf.variable_scope("foo"):
        w = tf.get_variable("w", [2])
    with tf.variable_scope("foo", reuse=True):
        w2 = tf.get_variable("w", [2])
        w3 = tf.get_variable("w")  # shape may be omitted when reusing
    assert w2 is w and w3 is w
    assert len(tf.global_variables()) == 1


def test_reuse_variables_on_the_current_scope():
    with tf.variable_scope("layer") as scope:
        w = tf.get_variable("w", [3])
        scope.reuse_variables()
        assert tf.get_variable_scope().reuse is True
        assert tf.get_variable("w") is w
    with tf.variable_scope("layer"):  # a new entry starts without reuse
        with pytest.raises(ValueError, match="already exists"):
            tf.get_variable("w", [3])


def test_get_variable_scope_reuse_variables():
    with tf.variable_scope("s"):
        a = tf.get_variable("a", [1])
        tf.get_variable_scope().reuse_variables()
        assert tf.get_variable("a") is a


def test_existing_variable_without_reuse_is_an_error():
    with tf.variable_scope("foo"):
        tf.get_variable("w", [2])
    with pytest.raises(ValueError) as e:
        with tf.variable_scope("foo"):
            tf.get_variable("w", [2])
    assert str(e.value).startswith(
        "Variable foo/w already exists, disallowed. Did you mean to set reuse=True or reuse=tf.AUTO_REUSE in "
        "VarScope?")


def test_missing_variable_with_reuse_is_an_error():
    with pytest.raises(ValueError) as e:
        with tf.variable_scope("foo", reuse=True):
            tf.get_variable("w", [2])
    assert str(e.value) == ("Variable foo/w does not exist, or was not created with tf.get_variable(). Did you "
                            "mean to set reuse=tf.AUTO_REUSE in VarScope?")
    # a tf.Variable of the same name was not made by get_variable
    tf.Variable(1.0, name="bar/v")
    with pytest.raises(ValueError, match="Variable bar/v does not exist"):
        with tf.variable_scope("bar", reuse=True):
            tf.get_variable("v", [])


def test_shape_and_dtype_mismatch_on_reuse():
    with tf.variable_scope("foo"):
        tf.get_variable("w", [2])
    with tf.variable_scope("foo", reuse=True):
        with pytest.raises(ValueError, match=r"Trying to share variable foo/w, but specified shape \(3,\) and "
                                             r"found shape \(2,\)\."):
            tf.get_variable("w", [3])
        with pytest.raises(ValueError, match="Trying to share variable foo/w, but specified dtype float64 and "
                                             "found dtype float32"):
            tf.get_variable("w", [2], dtype=tf.float64)


def test_auto_reuse_creates_then_reuses():
    def layer():
        with tf.variable_scope("dense", reuse=tf.AUTO_REUSE):
            return tf.get_variable("kernel", [2, 2])
    k1 = layer()
    k2 = layer()
    assert k1 is k2 and k1.name == "dense/kernel:0"
    assert tf.AUTO_REUSE is not True and tf.AUTO_REUSE is not None and tf.AUTO_REUSE


def test_reuse_is_inherited_by_sub_scopes_and_false_cannot_turn_it_off():
    with tf.variable_scope("a"):
        with tf.variable_scope("b"):
            w = tf.get_variable("w", [1])
    with tf.variable_scope("a", reuse=True):
        with tf.variable_scope("b"):
            assert tf.get_variable_scope().reuse is True
            assert tf.get_variable("w") is w
        with tf.variable_scope("b", reuse=False):
            assert tf.get_variable_scope().reuse is True
    with tf.variable_scope("a", reuse=tf.AUTO_REUSE):
        with tf.variable_scope("b"):
            assert tf.get_variable_scope().reuse is tf.AUTO_REUSE
            assert tf.get_variable("w") is w
            assert tf.get_variable("new", [1]).name == "a/b/new:0"


def test_reopening_a_scope_object():
    with tf.variable_scope("foo") as foo_scope:
        w = tf.get_variable("w", [1])
    with tf.variable_scope("other"):
        with tf.variable_scope(foo_scope, reuse=True) as again:
            assert again.name == "foo"
            assert again.original_name_scope == "foo/"
            assert tf.get_variable("w") is w
            c = tf.constant(0.0, name="c")
    # a scope object is reopened by its full name, not under "other"; its ops get a new name scope
    assert c.name == "other/foo/c:0"
    with tf.variable_scope(foo_scope):
        c2 = tf.constant(0.0, name="c")
        v = tf.get_variable("v", [1])
    assert c2.name == "foo_1/c:0"
    assert v.name == "foo/v:0"


def test_reentering_by_name_gives_a_new_name_scope():
    with tf.variable_scope("scope"):
        a = tf.constant(1.0, name="a")
    with tf.variable_scope("scope", reuse=True) as s:
        b = tf.constant(1.0, name="a")
    assert a.name == "scope/a:0" and b.name == "scope_1/a:0"
    assert s.name == "scope" and s.original_name_scope == "scope_1/"


def test_default_name_is_made_unique():
    names = []
    for _ in range(3):
        with tf.variable_scope(None, default_name="layer") as s:
            names.append((s.name, tf.get_variable("w", [1]).name))
    assert names == [("layer", "layer/w:0"), ("layer_1", "layer_1/w:0"), ("layer_2", "layer_2/w:0")]
    # an explicit name counts too
    with tf.variable_scope("block"):
        pass
    with tf.variable_scope(None, default_name="block") as s:
        assert s.name == "block_1"


def test_default_names_restart_when_the_parent_scope_is_reentered():
    # closing "model" resets the counts of its sub-scopes: layers can be shared by position
    created = []
    for reuse in (None, True):
        with tf.variable_scope("model", reuse=reuse):
            for _ in range(2):
                with tf.variable_scope(None, default_name="dense"):
                    created.append(tf.get_variable("w", [1]))
    assert [v.name for v in created[:2]] == ["model/dense/w:0", "model/dense_1/w:0"]
    assert created[2] is created[0] and created[3] is created[1]


def test_variable_scope_argument_errors():
    with pytest.raises(TypeError, match="If default_name is None then name_or_scope is required"):
        tf.variable_scope(None)
    with pytest.raises(ValueError, match="reuse=True cannot be used without a name_or_scope"):
        with tf.variable_scope(None, default_name="d", reuse=True):
            pass
    with pytest.raises(TypeError, match="name_or_scope must be a string or VariableScope"):
        with tf.variable_scope(3):
            pass
    # a failed entry leaves the scope stack unchanged
    assert tf.get_variable_scope().name == ""
    assert tf.get_default_graph().get_name_scope() == ""


def test_scope_initializer_dtype_and_nesting():
    with tf.variable_scope("init", initializer=tf.constant_initializer(3.0)):
        a = tf.get_variable("a", [2])
        b = tf.get_variable("b", [2], initializer=tf.ones_initializer())
        with tf.variable_scope("inner"):
            c = tf.get_variable("c", [1])
        with tf.variable_scope("inner2", initializer=tf.zeros_initializer(), dtype=tf.float64):
            d = tf.get_variable("d", [1])
            assert tf.get_variable_scope().dtype == tf.float64
    assert d.dtype == tf.float64
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        av, bv, cv, dv = sess.run([a, b, c, d])
    np.testing.assert_array_equal(av, [3.0, 3.0])
    np.testing.assert_array_equal(bv, [1.0, 1.0])
    np.testing.assert_array_equal(cv, [3.0])
    np.testing.assert_array_equal(dv, [0.0])


def test_default_initializers():
    w = tf.get_variable("w", [40, 60])
    i = tf.get_variable("i", [3], dtype=tf.int32)
    b = tf.get_variable("b", [2], dtype=tf.bool)
    assert w.initial_value.op.name.startswith("w/Initializer/random_uniform")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        wv, iv, bv = sess.run([w, i, b])
    limit = math.sqrt(6.0 / (40 + 60))  # glorot_uniform
    assert np.abs(wv).max() <= limit and np.abs(wv).max() > 0.9 * limit
    np.testing.assert_array_equal(iv, [0, 0, 0])
    np.testing.assert_array_equal(bv, [False, False])


def test_get_variable_from_a_value_initializer():
    v = tf.get_variable("v", initializer=np.arange(6, dtype=np.float32).reshape(2, 3))
    t = tf.get_variable("t", initializer=tf.constant([1, 2], dtype=tf.int64))
    f = tf.get_variable("f", initializer=lambda: tf.ones([2]) * 4.0)  # a no-argument callable
    assert v.shape.as_list() == [2, 3] and t.dtype == tf.int64
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(v), np.arange(6).reshape(2, 3))
        np.testing.assert_array_equal(sess.run(t), [1, 2])
        np.testing.assert_array_equal(sess.run(f), [4.0, 4.0])
    with pytest.raises(ValueError, match="If initializer is a constant, do not specify shape."):
        tf.get_variable("bad", [2], initializer=np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="Initializer type 'float32' and explicit dtype 'float64' don't match."):
        tf.get_variable("bad2", initializer=np.zeros(2, np.float32), dtype=tf.float64)
    with pytest.raises(ValueError, match="The initializer passed is not valid"):
        tf.get_variable("bad3", initializer=tf.zeros_initializer())  # no shape


def test_initializer_receives_shape_dtype_and_partition_info():
    calls = []

    def init(shape, dtype=None, partition_info=None):
        calls.append((shape, dtype, partition_info))
        return tf.fill(shape, tf.constant(2, dtype=dtype))

    def keras_style(shape, dtype=None):
        calls.append((shape, dtype))
        return tf.zeros(shape, dtype)

    a = tf.get_variable("a", [2, 1], dtype=tf.float64, initializer=init)
    tf.get_variable("b", [3], initializer=keras_style)
    assert calls == [([2, 1], tf.float64, None), ([3], tf.float32)]
    with tf.Session() as sess:
        sess.run(a.initializer)
        np.testing.assert_array_equal(sess.run(a), [[2.0], [2.0]])


def test_trainable_collections_and_local_variables():
    w = tf.get_variable("w", [1])
    s = tf.get_variable("s", [1], trainable=False)
    c = tf.get_variable("c", [1], collections=["mine"])
    both = tf.get_variable("both", [1], collections=[tf.GraphKeys.GLOBAL_VARIABLES, "mine"])
    loc = tf.get_local_variable("loc", [1])
    # as TF: a trainable variable joins TRAINABLE_VARIABLES whatever collections it was given
    assert tf.trainable_variables() == [w, c, both]
    assert tf.global_variables() == [w, s, both]
    assert tf.get_collection("mine") == [c, both]
    assert tf.local_variables() == [loc] and not loc.trainable
    assert c not in tf.global_variables()


def test_regularizer_adds_to_regularization_losses():
    def l2(x):
        return tf.reduce_sum(tf.square(x)) * 0.5

    with tf.variable_scope("layer", regularizer=l2):
        w = tf.get_variable("w", initializer=np.array([1.0, 2.0], np.float32))
        b = tf.get_variable("b", [1], regularizer=tf.no_regularizer)
    u = tf.get_variable("u", initializer=np.array([3.0], np.float32), regularizer=lambda x: tf.reduce_sum(x))
    losses = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    assert len(losses) == 2
    assert losses[0].op.name.startswith("layer/w/Regularizer/")
    assert b is not None
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(losses) == [2.5, 3.0]
    assert u.name == "u:0"


def test_custom_getter_wraps_creation():
    seen = []

    def getter(next_getter, name, *args, **kwargs):
        seen.append(name)
        kwargs["trainable"] = False
        return next_getter(name, *args, **kwargs)

    with tf.variable_scope("cg", custom_getter=getter):
        v = tf.get_variable("v", [1])
    assert seen == ["cg/v"] and not v.trainable


def test_each_graph_has_its_own_variable_store():
    tf.get_variable("w", [1])
    g = tf.Graph()
    with g.as_default():
        w = tf.get_variable("w", [2])  # no "already exists" in another graph
        assert w.graph is g
        assert tf.get_variable_scope().name == ""
    with pytest.raises(ValueError, match="already exists"):
        tf.get_variable("w", [1])


def test_values_argument_selects_the_graph():
    g = tf.Graph()
    with g.as_default():
        x = tf.constant(1.0)
    with tf.variable_scope("in_g", values=[x]):
        assert tf.get_default_graph() is g
        y = tf.identity(x, name="y")
    assert y.name == "in_g/y:0"
    assert tf.get_default_graph() is not g


def test_unsupported_features_raise_clearly():
    with pytest.raises(NotImplementedError, match="Partitioned variables"):
        tf.get_variable("p", [4], partitioner=lambda shape, dtype: [2])
    with pytest.raises(NotImplementedError, match="Resource variables"):
        tf.get_variable("r", [4], use_resource=True)
