"""Recurrent cells (tf.nn.rnn_cell), static_rnn and static_bidirectional_rnn against
numpy references of TF 1.15's cell math; variable names and sharing; gradients."""
import numpy as np
import pytest

import nbflow as tf
from nbflow.framework import nest
from nbflow.ops.rnn_fused import unfused_rnn

RNG = np.random.RandomState(0)


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# -- numpy references (one step) ------------------------------------------------------------

def np_basic_rnn(x, h, w):
    out = np.tanh(np.concatenate([x, h], 1) @ w["kernel"] + w["bias"])
    return out, out


def np_basic_lstm(x, state, w, forget_bias=1.0):
    c, h = state
    z = np.concatenate([x, h], 1) @ w["kernel"] + w["bias"]
    i, j, f, o = np.split(z, 4, axis=1)
    new_c = c * sigmoid(f + forget_bias) + sigmoid(i) * np.tanh(j)
    new_h = np.tanh(new_c) * sigmoid(o)
    return new_h, (new_c, new_h)


def np_lstm(x, state, w, forget_bias=1.0, peep=False, cell_clip=None, proj=False, proj_clip=None):
    c, m = state
    z = np.concatenate([x, m], 1) @ w["kernel"] + w["bias"]
    i, j, f, o = np.split(z, 4, axis=1)
    if peep:
        c = sigmoid(f + forget_bias + w["w_f_diag"] * c) * c + sigmoid(i + w["w_i_diag"] * c) * np.tanh(j)
    else:
        c = sigmoid(f + forget_bias) * c + sigmoid(i) * np.tanh(j)
    if cell_clip is not None:
        c = np.clip(c, -cell_clip, cell_clip)
    if peep:
        m = sigmoid(o + w["w_o_diag"] * c) * np.tanh(c)
    else:
        m = sigmoid(o) * np.tanh(c)
    if proj:
        m = m @ w["projection/kernel"]
        if proj_clip is not None:
            m = np.clip(m, -proj_clip, proj_clip)
    return m, (c, m)


def np_gru(x, h, w):
    g = sigmoid(np.concatenate([x, h], 1) @ w["gates/kernel"] + w["gates/bias"])
    r, u = np.split(g, 2, axis=1)
    c = np.tanh(np.concatenate([x, r * h], 1) @ w["candidate/kernel"] + w["candidate/bias"])
    new_h = u * h + (1 - u) * c
    return new_h, new_h


def session(dtype=tf.float32):
    """A session; float64 graphs run unfused. Unrolled cells give many differently shaped fused
    groups, each a kernel compiled on first use: fusion is exercised in float32 (what models
    train in) and float64 checks the same math through the standalone element-wise kernels
    the rest of the suite compiles anyway."""
    if dtype is tf.float64:
        return tf.Session(config=tf.ConfigProto(nbflow_disabled_passes=["fusion"]))
    return tf.Session()


def weights_of(sess, prefix):
    """{short name: value} for the variables under ``prefix/``."""
    out = {}
    for v in tf.global_variables():
        name = v.op.name
        if name.startswith(prefix + "/"):
            out[name[len(prefix) + 1:]] = sess.run(v)
    return out


def run_static(cell, x, dtype, **kw):
    """static_rnn over x [batch, T, depth] with the batch dim unknown; returns numpy outputs,
    state and the session's weights of the cell."""
    ph = tf.placeholder(dtype, [None] + list(x.shape[1:]), name="x")
    outputs, state = tf.nn.static_rnn(cell, tf.unstack(ph, axis=1), dtype=dtype, **kw)
    with session(dtype) as sess:
        sess.run(tf.global_variables_initializer())
        # non-zero biases so the bias path is exercised
        for v in tf.trainable_variables():
            if "bias" in v.op.name or "diag" in v.op.name:
                v.load(RNG.uniform(-0.5, 0.5, v.shape.as_list()).astype(v.dtype.as_numpy_dtype), sess)
        outs, st = sess.run([outputs, state], {ph: x})
        scope = cell.scope_name if hasattr(cell, "_scope") and cell._scope is not None else "rnn"
        w = weights_of(sess, scope)
    return outs, st, w


def tol(dtype):
    return dict(rtol=2e-5, atol=2e-6) if dtype is tf.float32 else dict(rtol=1e-10, atol=1e-12)


DTYPES = [tf.float32, tf.float64]


# -- each cell against numpy ---------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_basic_rnn_cell(dtype):
    x = RNG.randn(3, 4, 2).astype(dtype.as_numpy_dtype)
    cell = tf.nn.rnn_cell.BasicRNNCell(5)
    outs, st, w = run_static(cell, x, dtype)
    assert sorted(w) == ["bias", "kernel"] and w["kernel"].shape == (7, 5)
    assert cell.scope_name == "rnn/basic_rnn_cell"
    h = np.zeros((3, 5))
    for t in range(4):
        o, h = np_basic_rnn(x[:, t], h, w)
        np.testing.assert_allclose(outs[t], o, **tol(dtype))
        assert outs[t].dtype == dtype.as_numpy_dtype
    np.testing.assert_allclose(st, h, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("state_is_tuple", [True, False])
def test_basic_lstm_cell(dtype, state_is_tuple):
    x = RNG.randn(3, 4, 2).astype(dtype.as_numpy_dtype)
    cell = tf.nn.rnn_cell.BasicLSTMCell(5, forget_bias=0.5, state_is_tuple=state_is_tuple)
    assert cell.state_size == ((5, 5) if state_is_tuple else 10) and cell.output_size == 5
    outs, st, w = run_static(cell, x, dtype)
    assert w["kernel"].shape == (7, 20) and w["bias"].shape == (20,)
    s = (np.zeros((3, 5)), np.zeros((3, 5)))
    for t in range(4):
        o, s = np_basic_lstm(x[:, t], s, w, forget_bias=0.5)
        np.testing.assert_allclose(outs[t], o, **tol(dtype))
    if state_is_tuple:
        assert isinstance(st, tf.nn.rnn_cell.LSTMStateTuple)
        np.testing.assert_allclose(st.c, s[0], **tol(dtype))
        np.testing.assert_allclose(st.h, s[1], **tol(dtype))
    else:
        np.testing.assert_allclose(st, np.concatenate(s, 1), **tol(dtype))


LSTM_VARIANTS = {
    "plain": dict(),
    "peephole_clip": dict(use_peepholes=True, cell_clip=0.3),
    "proj_clip": dict(num_proj=3, proj_clip=0.1),
    "all_not_tuple": dict(use_peepholes=True, num_proj=3, state_is_tuple=False),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", sorted(LSTM_VARIANTS))
def test_lstm_cell(dtype, variant):
    kw = LSTM_VARIANTS[variant]
    x = RNG.randn(3, 4, 2).astype(dtype.as_numpy_dtype)
    cell = tf.nn.rnn_cell.LSTMCell(5, forget_bias=0.7, **kw)
    outs, st, w = run_static(cell, x, dtype)
    nproj = kw.get("num_proj")
    expected = {"kernel", "bias"} | ({"w_f_diag", "w_i_diag", "w_o_diag"} if kw.get("use_peepholes") else set()) \
        | ({"projection/kernel"} if nproj else set())
    assert set(w) == expected
    assert w["kernel"].shape == (2 + (nproj or 5), 20)
    s = (np.zeros((3, 5)), np.zeros((3, nproj or 5)))
    for t in range(4):
        o, s = np_lstm(x[:, t], s, w, forget_bias=0.7, peep=kw.get("use_peepholes", False),
                       cell_clip=kw.get("cell_clip"), proj=bool(nproj), proj_clip=kw.get("proj_clip"))
        np.testing.assert_allclose(outs[t], o, **tol(dtype))
    if kw.get("state_is_tuple", True):
        np.testing.assert_allclose(st.c, s[0], **tol(dtype))
        np.testing.assert_allclose(st.h, s[1], **tol(dtype))
    else:
        np.testing.assert_allclose(st, np.concatenate(s, 1), **tol(dtype))
    if kw.get("cell_clip"):
        assert np.abs(st.c).max() <= 0.3 + 1e-7
    if kw.get("proj_clip"):
        assert np.abs(np.array(outs)).max() <= 0.1 + 1e-7


@pytest.mark.parametrize("dtype", DTYPES)
def test_gru_cell(dtype):
    x = RNG.randn(3, 4, 2).astype(dtype.as_numpy_dtype)
    cell = tf.nn.rnn_cell.GRUCell(5)
    ph = tf.placeholder(dtype, [None, 4, 2])
    outputs, state = tf.nn.static_rnn(cell, tf.unstack(ph, axis=1), dtype=dtype)
    with session(dtype) as sess:
        sess.run(tf.global_variables_initializer())
        w = weights_of(sess, "rnn/gru_cell")
        assert sorted(w) == ["candidate/bias", "candidate/kernel", "gates/bias", "gates/kernel"]
        np.testing.assert_array_equal(w["gates/bias"], np.ones(10))  # TF's default gate bias is 1
        np.testing.assert_array_equal(w["candidate/bias"], np.zeros(5))
        for v in tf.trainable_variables():
            if "bias" in v.op.name:
                v.load(RNG.uniform(-1, 1, v.shape.as_list()), sess)
        w = weights_of(sess, "rnn/gru_cell")
        outs, st = sess.run([outputs, state], {ph: x})
    h = np.zeros((3, 5))
    for t in range(4):
        o, h = np_gru(x[:, t], h, w)
        np.testing.assert_allclose(outs[t], o, **tol(dtype))
    np.testing.assert_allclose(st, h, **tol(dtype))


def test_gru_initializers_and_activation():
    cell = tf.nn.rnn_cell.GRUCell(3, activation=tf.nn.relu, kernel_initializer=tf.constant_initializer(0.1),
                                  bias_initializer=tf.constant_initializer(0.2))
    x = tf.constant(np.ones((2, 4), np.float32))
    out, _ = cell(x, cell.zero_state(2, tf.float32))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        w = weights_of(sess, "gru_cell")
        np.testing.assert_allclose(w["gates/kernel"], 0.1)
        np.testing.assert_allclose(w["candidate/bias"], 0.2)
        u = sigmoid(4 * 0.1 + 0.2)
        c = max(0.0, 4 * 0.1 + 0.2)
        np.testing.assert_allclose(sess.run(out), np.full((2, 3), (1 - u) * c), rtol=1e-6)


def test_default_initializers_follow_scope_and_glorot():
    with tf.variable_scope("s", initializer=tf.constant_initializer(0.25)):
        cell = tf.nn.rnn_cell.BasicLSTMCell(4)
        cell(tf.zeros([1, 3]), cell.zero_state(1, tf.float32))
    cell2 = tf.nn.rnn_cell.BasicLSTMCell(50)
    cell2(tf.zeros([1, 30]), cell2.zero_state(1, tf.float32))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        k = sess.run(tf.global_variables("s/basic_lstm_cell/kernel")[0])
        np.testing.assert_array_equal(k, 0.25)  # the scope's initializer wins for the kernel ...
        np.testing.assert_array_equal(sess.run(tf.global_variables("s/basic_lstm_cell/bias")[0]), 0)  # not the bias
        k2 = sess.run(tf.global_variables("basic_lstm_cell/kernel")[0])
        limit = np.sqrt(6.0 / (80 + 200))  # glorot_uniform over [80, 200]
        assert np.abs(k2).max() <= limit and np.abs(k2).max() > 0.9 * limit and abs(k2.mean()) < 0.01


# -- names, sharing, states ---------------------------------------------------------------

def var_names():
    return sorted(v.op.name for v in tf.global_variables())


def test_variable_names_and_reuse():
    x = [tf.placeholder(tf.float32, [None, 3]) for _ in range(3)]
    cell = tf.nn.rnn_cell.BasicLSTMCell(4)
    out1, _ = tf.nn.static_rnn(cell, x, dtype=tf.float32)
    assert var_names() == ["rnn/basic_lstm_cell/bias", "rnn/basic_lstm_cell/kernel"]
    assert out1[0].name.startswith("rnn/basic_lstm_cell/") and out1[2].name.startswith("rnn/basic_lstm_cell/")
    assert len(cell.trainable_variables) == 2 and cell.built
    # a new cell in the same "rnn" scope clashes, as in TF
    with pytest.raises(ValueError, match="rnn/basic_lstm_cell/kernel already exists"):
        tf.nn.static_rnn(tf.nn.rnn_cell.BasicLSTMCell(4), x, dtype=tf.float32)
    # calling the cell again (anywhere) reuses its variables
    out2, _ = tf.nn.static_rnn(cell, x, dtype=tf.float32, scope="again")
    cell(x[0], cell.zero_state(2, tf.float32))
    assert var_names() == ["rnn/basic_lstm_cell/bias", "rnn/basic_lstm_cell/kernel"]
    assert out2[0].name.startswith("rnn/basic_lstm_cell")  # its ops stay in the cell's name scope


def test_variable_names_of_every_cell():
    x = [tf.placeholder(tf.float32, [2, 3]) for _ in range(2)]
    tf.nn.static_rnn(tf.nn.rnn_cell.BasicRNNCell(4), x, dtype=tf.float32, scope="a")
    tf.nn.static_rnn(tf.nn.rnn_cell.GRUCell(4), x, dtype=tf.float32, scope="b")
    tf.nn.static_rnn(tf.nn.rnn_cell.LSTMCell(4, use_peepholes=True, num_proj=2), x, dtype=tf.float32, scope="c")
    multi = tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.BasicLSTMCell(4), tf.nn.rnn_cell.BasicLSTMCell(5)])
    tf.nn.static_rnn(multi, x, dtype=tf.float32)
    tf.nn.static_rnn(tf.nn.rnn_cell.BasicRNNCell(4, name="mine"), x, dtype=tf.float32, scope="d")
    assert var_names() == [
        "a/basic_rnn_cell/bias", "a/basic_rnn_cell/kernel",
        "b/gru_cell/candidate/bias", "b/gru_cell/candidate/kernel", "b/gru_cell/gates/bias", "b/gru_cell/gates/kernel",
        "c/lstm_cell/bias", "c/lstm_cell/kernel", "c/lstm_cell/projection/kernel", "c/lstm_cell/w_f_diag",
        "c/lstm_cell/w_i_diag", "c/lstm_cell/w_o_diag",
        "d/mine/bias", "d/mine/kernel",
        "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias", "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel",
        "rnn/multi_rnn_cell/cell_1/basic_lstm_cell/bias", "rnn/multi_rnn_cell/cell_1/basic_lstm_cell/kernel",
    ]
    shapes = {v.op.name: v.shape.as_list() for v in tf.global_variables()}
    assert shapes["rnn/multi_rnn_cell/cell_1/basic_lstm_cell/kernel"] == [9, 20]
    assert shapes["c/lstm_cell/kernel"] == [5, 16] and shapes["c/lstm_cell/projection/kernel"] == [4, 2]
    assert len(multi.trainable_weights) == 4


def test_two_cells_in_one_scope_are_uniquified_and_reuse_flag():
    x = tf.zeros([2, 3])
    a, b = tf.nn.rnn_cell.BasicRNNCell(4), tf.nn.rnn_cell.BasicRNNCell(4)
    a(x, a.zero_state(2, tf.float32))
    b(x, b.zero_state(2, tf.float32))
    assert a.scope_name == "basic_rnn_cell" and b.scope_name == "basic_rnn_cell_1"
    # reuse=True shares an existing cell's variables
    c = tf.nn.rnn_cell.BasicRNNCell(4, reuse=True)
    c(x, c.zero_state(2, tf.float32))
    assert c.trainable_variables == a.trainable_variables and len(tf.global_variables()) == 4
    with pytest.raises(ValueError, match="does not exist"):
        d = tf.nn.rnn_cell.BasicRNNCell(4, reuse=True, name="nothing_here")
        d(x, d.zero_state(2, tf.float32))


def test_zero_state_shapes_and_names():
    cell = tf.nn.rnn_cell.BasicLSTMCell(4)
    z = cell.zero_state(3, tf.float32)
    assert isinstance(z, tf.nn.rnn_cell.LSTMStateTuple)
    assert z.c.shape.as_list() == [3, 4] and z.h.shape.as_list() == [3, 4] and z.c.dtype == tf.float32
    assert z.c.name == "BasicLSTMCellZeroState/zeros:0" and z.h.name == "BasicLSTMCellZeroState/zeros_1:0"
    p = tf.placeholder(tf.float64, [None, 2])
    multi = tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.GRUCell(3), tf.nn.rnn_cell.LSTMCell(5, num_proj=2)])
    zs = multi.zero_state(tf.shape(p)[0], tf.float64)
    assert isinstance(zs, tuple) and len(zs) == 2 and isinstance(zs[1], tf.nn.rnn_cell.LSTMStateTuple)
    assert zs[0].shape.as_list() == [None, 3] and zs[1].h.shape.as_list() == [None, 2]
    assert zs[0].name.startswith("MultiRNNCellZeroState/GRUCellZeroState/")
    with tf.Session() as sess:
        a, b = sess.run([zs[0], zs[1]], {p: np.zeros((6, 2))})
        assert a.shape == (6, 3) and b.c.shape == (6, 5) and b.h.shape == (6, 2) and not a.any()
        assert a.dtype == np.float64
    flat = tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.GRUCell(3), tf.nn.rnn_cell.BasicRNNCell(2)],
                                       state_is_tuple=False)
    assert flat.state_size == 5 and flat.zero_state(2, tf.float32).shape.as_list() == [2, 5]


def test_multi_rnn_cell_matches_numpy_and_state_structure():
    x = RNG.randn(2, 3, 3)
    cells = [tf.nn.rnn_cell.BasicLSTMCell(4), tf.nn.rnn_cell.GRUCell(2)]
    multi = tf.nn.rnn_cell.MultiRNNCell(cells)
    assert multi.state_size == ((4, 4), 2) and multi.output_size == 2
    outs, st, _ = run_static(multi, x, tf.float64)
    assert isinstance(st, tuple) and len(st) == 2 and isinstance(st[0], tf.nn.rnn_cell.LSTMStateTuple)
    assert st[0].c.shape == (2, 4) and st[1].shape == (2, 2) and outs[-1].shape == (2, 2)
    # the same stack with a flat (concatenated) state, against numpy
    tf.reset_default_graph()
    cells = [tf.nn.rnn_cell.BasicLSTMCell(4, state_is_tuple=False), tf.nn.rnn_cell.GRUCell(2)]
    multi = tf.nn.rnn_cell.MultiRNNCell(cells, state_is_tuple=False)
    assert multi.state_size == 10
    ph = tf.placeholder(tf.float64, [None, 3, 3])
    outputs, state = tf.nn.static_rnn(multi, tf.unstack(ph, axis=1), dtype=tf.float64)
    with pytest.raises(ValueError, match="state_is_tuple"):
        tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.BasicLSTMCell(4)], state_is_tuple=False)
    with session(tf.float64) as sess:
        sess.run(tf.global_variables_initializer())
        w0 = weights_of(sess, "rnn/multi_rnn_cell/cell_0/basic_lstm_cell")
        w1 = weights_of(sess, "rnn/multi_rnn_cell/cell_1/gru_cell")
        outs, st = sess.run([outputs, state], {ph: x})
    s0, s1 = (np.zeros((2, 4)), np.zeros((2, 4))), np.zeros((2, 2))
    for t in range(3):
        h0, s0 = np_basic_lstm(x[:, t], s0, w0)
        o, s1 = np_gru(h0, s1, w1)
        np.testing.assert_allclose(outs[t], o, rtol=1e-10)
    np.testing.assert_allclose(st, np.concatenate([s0[0], s0[1], s1], 1), rtol=1e-10)


# -- DropoutWrapper ------------------------------------------------------------------------

def test_dropout_wrapper_keep_one_is_the_cell():
    x = RNG.randn(3, 4, 2).astype(np.float32)
    ph = tf.placeholder(tf.float32, [None, 4, 2])
    cell = tf.nn.rnn_cell.BasicLSTMCell(5)
    wrapped = tf.nn.rnn_cell.DropoutWrapper(cell)
    assert wrapped.state_size == cell.state_size and wrapped.output_size == 5 and wrapped.wrapped_cell is cell
    outs_w, st_w = tf.nn.static_rnn(wrapped, tf.unstack(ph, axis=1), dtype=tf.float32)
    assert var_names() == ["rnn/basic_lstm_cell/bias", "rnn/basic_lstm_cell/kernel"]  # no scope of its own
    with unfused_rnn():  # the same ops as through the wrapper (the plain cell would run fused)
        outs_c, st_c = tf.nn.static_rnn(cell, tf.unstack(ph, axis=1), dtype=tf.float32, scope="plain")
    assert not any("dropout" in op.name for op in tf.get_default_graph().get_operations())
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        a, b = sess.run([outs_w, outs_c], {ph: x})
        np.testing.assert_array_equal(np.array(a), np.array(b))


def test_dropout_wrapper_drops():
    batch, n = 200, 50
    x = tf.constant(np.ones((batch, n), np.float32))
    cell = tf.nn.rnn_cell.BasicLSTMCell(n)
    keep = tf.placeholder_with_default(tf.constant(0.5), [])
    wrapped = tf.nn.rnn_cell.DropoutWrapper(cell, input_keep_prob=keep, output_keep_prob=0.5, state_keep_prob=0.5,
                                            seed=3)
    state = cell.zero_state(batch, tf.float32)
    out, new_state = wrapped(x, state)
    ref_out, ref_state = cell(x, state)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        o, s, ro, rs = sess.run([out, new_state, ref_out, ref_state], {keep: 1.0})
        # output: each element is 0 or 2x the undropped output
        dropped = o == 0
        assert 0.4 < dropped.mean() < 0.6
        np.testing.assert_allclose(o[~dropped], 2 * ro[~dropped], rtol=1e-6)
        # state: c is never dropped, h is
        np.testing.assert_allclose(s.c, rs.c, rtol=1e-6)
        assert 0.4 < (s.h == 0).mean() < 0.6
        # input dropout through the tensor keep_prob
        o2, ro2 = sess.run([out, ref_out], {keep: 0.5})
        assert np.abs(o2[o2 != 0] - 2 * ro2[o2 != 0]).max() > 1e-3
    for bad in (1.5, -0.1):
        with pytest.raises(ValueError, match="must be between 0 and 1"):
            tf.nn.rnn_cell.DropoutWrapper(cell, output_keep_prob=bad)


def test_dropout_wrapper_variational_mask_is_shared_across_steps():
    n = 40
    cell = tf.nn.rnn_cell.BasicRNNCell(n, activation=lambda z: z + 1.0)  # never exactly 0
    wrapped = tf.nn.rnn_cell.DropoutWrapper(cell, output_keep_prob=0.5, variational_recurrent=True,
                                            dtype=tf.float32, seed=1)
    xs = [tf.constant(np.full((3, 2), t, np.float32)) for t in range(4)]
    outs, _ = tf.nn.static_rnn(wrapped, xs, dtype=tf.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        o = np.array(sess.run(outs))  # [T, batch, n]
        masks = o == 0
        assert 0.2 < masks.mean() < 0.8
        assert (masks == masks[0:1, 0:1]).all()  # one mask for every step and batch entry
    with pytest.raises(ValueError, match="dtype must be provided"):
        tf.nn.rnn_cell.DropoutWrapper(cell, output_keep_prob=0.5, variational_recurrent=True)
    with pytest.raises(ValueError, match="input_size must be provided"):
        tf.nn.rnn_cell.DropoutWrapper(cell, input_keep_prob=0.5, variational_recurrent=True, dtype=tf.float32)


def test_residual_and_device_wrappers():
    x = tf.constant(RNG.randn(2, 3).astype(np.float32))
    cell = tf.nn.rnn_cell.BasicRNNCell(3)
    res = tf.nn.rnn_cell.ResidualWrapper(cell)
    dev = tf.nn.rnn_cell.DeviceWrapper(cell, "/cpu:0")
    out, _ = res(x, res.zero_state(2, tf.float32))
    out_d, _ = dev(x, dev.zero_state(2, tf.float32))
    assert "CPU:0" in out_d.device.upper()
    ref, _ = cell(x, cell.zero_state(2, tf.float32))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        a, r, xv, d = sess.run([out, ref, x, out_d])
        np.testing.assert_allclose(a, xv + r, rtol=1e-6)
        np.testing.assert_allclose(d, r, rtol=1e-6)


# -- static_rnn: sequence_length, unknown batch, errors --------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_sequence_length(dtype):
    T, batch = 5, 4
    x = RNG.randn(batch, T, 3).astype(dtype.as_numpy_dtype)
    lengths = np.array([5, 2, 0, 3], np.int32)
    ph = tf.placeholder(dtype, [None, T, 3])
    seq = tf.placeholder(tf.int32, [None])
    cell = tf.nn.rnn_cell.BasicLSTMCell(4)
    outputs, state = tf.nn.static_rnn(cell, tf.unstack(ph, axis=1), dtype=dtype, sequence_length=seq)
    assert outputs[0].shape.as_list() == [None, 4] and state.c.shape.as_list() == [None, 4]
    with session(dtype) as sess:
        sess.run(tf.global_variables_initializer())
        w = weights_of(sess, "rnn/basic_lstm_cell")
        outs, st = sess.run([outputs, state], {ph: x, seq: lengths})
    for b in range(batch):
        s = (np.zeros((1, 4)), np.zeros((1, 4)))
        for t in range(T):
            if t < lengths[b]:
                o, s = np_basic_lstm(x[b:b + 1, t], s, w)
                np.testing.assert_allclose(outs[t][b], o[0], **tol(dtype))
            else:
                assert not outs[t][b].any()
        np.testing.assert_allclose(st.c[b], s[0][0], **tol(dtype))
        np.testing.assert_allclose(st.h[b], s[1][0], **tol(dtype))


def test_unknown_batch_dim_runs_with_any_batch():
    ph = tf.placeholder(tf.float32, [None, 3, 2])
    cell = tf.nn.rnn_cell.GRUCell(4)
    outputs, state = tf.nn.static_rnn(cell, tf.unstack(ph, axis=1), dtype=tf.float32)
    assert state.shape.as_list() == [None, 4]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for b in (1, 5):
            outs, st = sess.run([outputs, state], {ph: np.ones((b, 3, 2), np.float32)})
            assert st.shape == (b, 4) and outs[2].shape == (b, 4)
            np.testing.assert_allclose(st, np.repeat(st[:1], b, axis=0), rtol=1e-6)


def test_initial_state_and_errors():
    tf.set_random_seed(0)  # fixed weights: the compared state has entries near zero
    x = [tf.placeholder(tf.float32, [2, 3]) for _ in range(2)]
    cell = tf.nn.rnn_cell.BasicRNNCell(4)
    init = tf.ones([2, 4])
    outputs, state = tf.nn.static_rnn(cell, x, initial_state=init)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        w = weights_of(sess, "rnn/basic_rnn_cell")
        xv = [np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)]
        st = sess.run(state, dict(zip(x, xv)))
    h = np.ones((2, 4))
    for v in xv:
        _, h = np_basic_rnn(v, h, w)
    np.testing.assert_allclose(st, h, rtol=1e-5)
    with pytest.raises(TypeError, match="inputs must be a sequence"):
        tf.nn.static_rnn(cell, x[0], dtype=tf.float32)
    with pytest.raises(ValueError, match="inputs must not be empty"):
        tf.nn.static_rnn(cell, [], dtype=tf.float32)
    with pytest.raises(ValueError, match="dtype must be specified"):
        tf.nn.static_rnn(cell, x, scope="other")
    with pytest.raises(ValueError, match="must be accessible via shape inference"):
        tf.nn.static_rnn(tf.nn.rnn_cell.BasicRNNCell(4), [tf.placeholder(tf.float32, [2, None])],
                         dtype=tf.float32, scope="third")
    with pytest.raises(TypeError, match="is not an RNNCell"):
        tf.nn.static_rnn(object(), x, dtype=tf.float32)
    with pytest.raises(ValueError, match="sequence_length must be a vector"):
        tf.nn.static_rnn(cell, x, dtype=tf.float32, sequence_length=[[1, 2]])
    with pytest.raises(ValueError, match="floating-point"):
        c = tf.nn.rnn_cell.BasicRNNCell(2)
        c(tf.zeros([2, 3], tf.int32), tf.zeros([2, 2], tf.int32))


def test_static_bidirectional_rnn():
    T, batch = 4, 3
    x = RNG.randn(batch, T, 2)
    lengths = np.array([4, 1, 3], np.int64)
    ph = tf.placeholder(tf.float64, [None, T, 2])
    seq = tf.placeholder(tf.int64, [None])
    fw, bw = tf.nn.rnn_cell.GRUCell(3), tf.nn.rnn_cell.BasicRNNCell(2)
    outputs, st_fw, st_bw = tf.nn.static_bidirectional_rnn(fw, bw, tf.unstack(ph, axis=1), dtype=tf.float64,
                                                           sequence_length=seq)
    assert var_names() == [
        "bidirectional_rnn/bw/basic_rnn_cell/bias", "bidirectional_rnn/bw/basic_rnn_cell/kernel",
        "bidirectional_rnn/fw/gru_cell/candidate/bias", "bidirectional_rnn/fw/gru_cell/candidate/kernel",
        "bidirectional_rnn/fw/gru_cell/gates/bias", "bidirectional_rnn/fw/gru_cell/gates/kernel"]
    assert outputs[0].shape.as_list() == [None, 5]
    with session(tf.float64) as sess:
        sess.run(tf.global_variables_initializer())
        wf = weights_of(sess, "bidirectional_rnn/fw/gru_cell")
        wb = weights_of(sess, "bidirectional_rnn/bw/basic_rnn_cell")
        outs, sf, sb = sess.run([outputs, st_fw, st_bw], {ph: x, seq: lengths})
    for b in range(batch):
        L = lengths[b]
        hf, hb = np.zeros((1, 3)), np.zeros((1, 2))
        of, ob = {}, {}
        for t in range(L):
            of[t], hf = np_gru(x[b:b + 1, t], hf, wf)
            ob[L - 1 - t], hb = np_basic_rnn(x[b:b + 1, L - 1 - t], hb, wb)
        for t in range(T):
            if t < L:
                np.testing.assert_allclose(outs[t][b], np.concatenate([of[t][0], ob[t][0]]), rtol=1e-10)
            else:
                assert not outs[t][b].any()
        np.testing.assert_allclose(sf[b], hf[0], rtol=1e-10)
        np.testing.assert_allclose(sb[b], hb[0], rtol=1e-10)
    # without lengths: plain reversal
    tf.reset_default_graph()
    xs = [tf.constant(x[:, t]) for t in range(T)]
    outputs, _, _ = tf.nn.static_bidirectional_rnn(tf.nn.rnn_cell.BasicRNNCell(2), tf.nn.rnn_cell.BasicRNNCell(2),
                                                   xs, dtype=tf.float64)
    with session(tf.float64) as sess:
        sess.run(tf.global_variables_initializer())
        wb = weights_of(sess, "bidirectional_rnn/bw/basic_rnn_cell")
        outs = sess.run(outputs)
    h = np.zeros((batch, 2))
    for t in reversed(range(T)):
        o, h = np_basic_rnn(x[:, t], h, wb)
        np.testing.assert_allclose(outs[t][:, 2:], o, rtol=1e-10)


# -- gradients -------------------------------------------------------------------------------

GRAD_CELLS = {
    "basic_rnn": lambda: tf.nn.rnn_cell.BasicRNNCell(3),
    "basic_lstm": lambda: tf.nn.rnn_cell.BasicLSTMCell(3, forget_bias=0.3),
    "lstm_peep_proj": lambda: tf.nn.rnn_cell.LSTMCell(3, use_peepholes=True, num_proj=2),
    "gru": lambda: tf.nn.rnn_cell.GRUCell(3),
    "multi_dropout": lambda: tf.nn.rnn_cell.MultiRNNCell(
        [tf.nn.rnn_cell.DropoutWrapper(tf.nn.rnn_cell.GRUCell(2)), tf.nn.rnn_cell.BasicLSTMCell(3)]),
}


@pytest.mark.parametrize("name", sorted(GRAD_CELLS))
def test_gradients_through_static_rnn(name):
    """d(sum of outputs and final state) / d(inputs, every weight), by finite differences.
    The weights are placeholders (a custom getter), so the checker can perturb them."""
    T, batch, depth = 3, 2, 2
    weights = {}

    def getter(getter, name, shape=None, dtype=None, **kwargs):
        ph = tf.placeholder(dtype, shape, name=name.replace("/", "_"))
        weights[name] = (ph, shape)
        return ph

    x = tf.placeholder(tf.float64, [batch, T, depth])
    seq = None if name == "basic_lstm" else tf.constant([3, 2], tf.int32)
    with tf.variable_scope("net", custom_getter=getter):
        outputs, state = tf.nn.static_rnn(GRAD_CELLS[name](), tf.unstack(x, axis=1), dtype=tf.float64,
                                          sequence_length=seq)
    flat = [tf.reshape(t, [-1]) for t in nest.flatten(outputs) + nest.flatten(state)]
    y = tf.concat(flat, 0)
    n_y = y.shape.as_list()[0]
    rng = np.random.RandomState(7)
    xs = [x] + [ph for ph, _ in weights.values()]
    shapes = [[batch, T, depth]] + [list(s) for _, s in weights.values()]
    values = [rng.uniform(-1, 1, s) for s in shapes]
    # Fusion off except for the basic LSTM: every unrolled step's backward pass is a differently
    # shaped fused group, and compiling them all costs more time than the check needs (the
    # fused LSTM backward is checked here and trained in examples/rnn_mnist.py).
    config = None if name == "basic_lstm" else tf.ConfigProto(nbflow_disabled_passes=["fusion"])
    with tf.Session(config=config):
        err = tf.test.compute_gradient_error(xs, shapes, y, [n_y], x_init_value=values)
    assert err < 1e-6, err


# -- the public namespaces and fusion --------------------------------------------------------

def test_public_names():
    for name in ["BasicRNNCell", "BasicLSTMCell", "LSTMCell", "GRUCell", "MultiRNNCell", "DropoutWrapper",
                 "LSTMStateTuple", "RNNCell", "ResidualWrapper", "DeviceWrapper"]:
        assert getattr(tf.nn.rnn_cell, name) is getattr(tf.contrib.rnn, name)
    assert tf.contrib.rnn.static_rnn is tf.nn.static_rnn
    assert tf.contrib.rnn.static_bidirectional_rnn is tf.nn.static_bidirectional_rnn
    assert tf.compat.v1.nn.rnn_cell.LSTMStateTuple(1, 2).h == 2
    assert not hasattr(tf.contrib, "learn") and not hasattr(tf.contrib.rnn, "LayerNormBasicLSTMCell")
    with pytest.raises(NotImplementedError, match="tf.contrib.slim is not implemented"):
        tf.contrib.slim
    with pytest.raises(NotImplementedError, match="tf.contrib.rnn.AttentionCellWrapper is not implemented"):
        tf.contrib.rnn.AttentionCellWrapper


def test_lstm_gate_math_is_one_fused_kernel_per_step():
    T = 3
    x = tf.placeholder(tf.float32, [None, T, 2])
    with unfused_rnn():  # step by step (else the whole sequence is one BlockLSTM op: test_rnn_fused.py)
        outputs, state = tf.nn.static_rnn(tf.nn.rnn_cell.BasicLSTMCell(4), tf.unstack(x, axis=1), dtype=tf.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        text = tf.explain([outputs[-1], state.c], {x: np.zeros((2, T, 2), np.float32)}, file=False)
    fused = [line for line in text.splitlines() if "fused[" in line]
    assert len(fused) == T, text
    for line in fused:
        # add(f, forget_bias), 3 sigmoids, 2 tanh, 3 muls, add: the whole gate update in one kernel
        assert line.count("Sigmoid(") == 3 and line.count("Tanh(") == 2 and line.count("Mul(") == 3, line
    assert "Sigmoid (Sigmoid)" not in text and "Tanh (Tanh)" not in text
