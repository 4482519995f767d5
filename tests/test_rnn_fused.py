"""dynamic_rnn / static_rnn over LSTM cells as one BlockLSTM (nbflow/ops/rnn_fused.py): the same variables,
outputs, final states and gradients as the step-by-step path (``unfused_rnn``), and finite differences."""
import numpy as np
import pytest

import nbflow as tf
from nbflow.framework import context
from nbflow.ops.rnn_fused import unfused_rnn

RNG = np.random.RandomState(7)


def _op_types(tensors):
    """Op types the graph holds between the fetches and their inputs (graph walk)."""
    seen, stack, types = set(), [t.op for t in tf.nest.flatten(tensors)], []
    while stack:
        op = stack.pop()
        if op in seen:
            continue
        seen.add(op)
        types.append(op.type)
        stack.extend(t.op for t in op.inputs)
    return types


def _build(make_cell, run, fused, scope, x, **kwargs):
    cell = make_cell()
    with tf.variable_scope(scope):
        if fused:
            outputs, state = run(cell, x, **kwargs)
        else:
            with unfused_rnn():
                outputs, state = run(cell, x, **kwargs)
    variables = tf.trainable_variables(scope)
    return outputs, state, variables


def _dynamic(cell, x, **kwargs):
    return tf.nn.dynamic_rnn(cell, x, **kwargs)


def _static(cell, x, **kwargs):
    return tf.nn.static_rnn(cell, tf.unstack(x, axis=1), **kwargs)


def _compare(make_cell, run, x_value, x_dtype, feeds=None, extra_xs=(), tol=None, op_type="BlockLSTM", **kwargs):
    """Build fused and unfused, copy the fused variables into the unfused ones,
    check both give the same outputs, final states and gradients."""
    # unknown batch (and time, where the inputs are not a Python list of steps)
    shape = [None, x_value.shape[1] if run is _static else None, x_value.shape[2]]
    tag = "_%d" % len(tf.trainable_variables())
    dtype = x_dtype
    x = tf.placeholder(dtype, shape)
    built = [_build(make_cell, run, fused, scope, x, **kwargs) for fused, scope in ((True, "fused" + tag),
                                                                                      (False, "unfused" + tag))]
    # fused: one BlockLSTM; step by step: none (a While body's ops are not graph inputs), or one per step
    # (LSTMBlockCell unrolled by static_rnn)
    if op_type is not None:
        assert _op_types(built[0][:2]).count(op_type) == 1
        n_unfused = _op_types(built[1][:2]).count(op_type)
        assert n_unfused == 0 or n_unfused == x_value.shape[1] > 1
    names = [[v.op.name.split("/", 1)[1] for v in b[2]] for b in built]
    assert names[0] == names[1] and [v.shape.as_list() for v in built[0][2]] == [v.shape.as_list()
                                                                                  for v in built[1][2]]
    fetches = []
    weights = None
    for outputs, state, variables in built:
        out = tf.stack(outputs, 1) if isinstance(outputs, list) else outputs
        flat_state = tf.nest.flatten(state)
        if weights is None:
            weights = RNG.randn(*x_value.shape[:2], out.shape.as_list()[-1]).astype(dtype.as_numpy_dtype)
        w = tf.constant(weights)
        loss = tf.reduce_sum(out * w) + sum(tf.reduce_sum(s * (k + 2.0)) for k, s in enumerate(flat_state))
        xs = list(variables) + [x] + list(extra_xs)
        fetches.append([out, flat_state, tf.gradients(loss, xs)])
    feed = {x: x_value}
    feed.update(feeds or {})
    tol = tol or (1e-5 if dtype == tf.float32 else 1e-11)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for a, b in zip(built[0][2], built[1][2]):
            b.load(sess.run(a), sess)
        got, want = sess.run(fetches, feed)
    assert len(tf.nest.flatten(got)) == len(tf.nest.flatten(want))
    for g, w_ in zip(tf.nest.flatten(got), tf.nest.flatten(want)):
        assert g.shape == w_.shape and g.dtype == w_.dtype
        np.testing.assert_allclose(g, w_, rtol=tol, atol=tol)
    return got


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize("time_major", [False, True])
def test_dynamic_rnn_basic_lstm(dtype, time_major):
    xv = RNG.randn(5, 3, 4) if time_major else RNG.randn(3, 5, 4)
    _compare(lambda: tf.nn.rnn_cell.BasicLSTMCell(6, forget_bias=0.5), _dynamic, xv.astype(dtype.as_numpy_dtype),
             dtype, dtype=dtype, time_major=time_major)


@pytest.mark.parametrize("run", [_dynamic, _static])
def test_sequence_length_outputs_zero_and_state_copied(run):
    lengths = tf.placeholder(tf.int32, [None])
    lv = np.array([5, 2, 0, 7, 3], np.int32)  # 0 steps and more than T (= 5)
    if run is _static:
        lv = np.minimum(lv, 5)  # static_rnn's steps past T do not exist
    got = _compare(lambda: tf.nn.rnn_cell.BasicLSTMCell(3), run, RNG.randn(5, 5, 2), tf.float64,
                   feeds={lengths: lv}, dtype=tf.float64, sequence_length=lengths)
    out = got[0]
    assert np.all(out[2] == 0) and np.all(out[1, 2:] == 0) and np.all(out[4, 3:] == 0) and np.all(out[0] != 0)


def test_lstm_cell_peepholes_clip_and_initial_state():
    c0, h0 = tf.placeholder(tf.float64, [None, 4]), tf.placeholder(tf.float64, [None, 4])
    feeds = {c0: RNG.randn(2, 4) * 3, h0: RNG.randn(2, 4)}
    make = lambda: tf.nn.rnn_cell.LSTMCell(4, use_peepholes=True, cell_clip=0.3,  # noqa: E731
                                           initializer=tf.random_uniform_initializer(-1, 1))
    got = _compare(make, _dynamic, RNG.randn(2, 6, 3) * 2, tf.float64, feeds=feeds, extra_xs=[c0, h0],
                   initial_state=tf.nn.rnn_cell.LSTMStateTuple(c0, h0))
    assert np.isclose(np.max(np.abs(got[1][0])), 0.3)  # the clip was active
    lengths = tf.placeholder(tf.int64, [None])
    feeds[lengths] = [6, 1]
    _compare(make, _static, RNG.randn(2, 6, 3) * 2, tf.float64, feeds=feeds, extra_xs=[c0, h0],
             initial_state=(c0, h0), sequence_length=lengths)


def test_state_not_tuple_and_plain_tuple_initial_state():
    _compare(lambda: tf.nn.rnn_cell.BasicLSTMCell(3, state_is_tuple=False), _dynamic, RNG.randn(2, 4, 3),
             tf.float64, dtype=tf.float64)
    c0 = tf.placeholder(tf.float32, [None, 3])
    x = tf.placeholder(tf.float32, [None, 4, 2])
    _, state = tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicLSTMCell(3), x, initial_state=(c0, c0))
    assert type(state) is tuple  # dynamic_rnn returns the initial state's structure, as the While path does


def test_batch_one_time_one_and_no_steps():
    for shape in ((1, 1, 2), (1, 4, 2), (3, 1, 2)):
        _compare(lambda: tf.nn.rnn_cell.BasicLSTMCell(3), _dynamic, RNG.randn(*shape), tf.float64,
                 dtype=tf.float64)
    # no time step at all (unknown T at graph time): outputs [B, 0, H], the state is the initial one
    x = tf.placeholder(tf.float64, [None, None, 2])
    c0 = tf.placeholder(tf.float64, [None, 3])
    out, state = tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicLSTMCell(3), x, initial_state=(c0, c0 * 2))
    g = tf.gradients(tf.reduce_sum(state[0]) + tf.reduce_sum(state[1]), c0)[0]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        cv = RNG.randn(2, 3)
        o, s, gv = sess.run([out, state, g], {x: np.zeros((2, 0, 2)), c0: cv})
    assert o.shape == (2, 0, 3)
    np.testing.assert_array_equal(s[0], cv)
    np.testing.assert_array_equal(s[1], cv * 2)
    np.testing.assert_array_equal(gv, np.full((2, 3), 3.0))


def test_fused_dynamic_rnn_finite_differences():
    x = tf.placeholder(tf.float64, [3, 2, 3])
    c0 = tf.placeholder(tf.float64, [2, 4])
    cell = tf.nn.rnn_cell.LSTMCell(4, use_peepholes=True)
    lengths = tf.constant([3, 1])
    out, state = tf.nn.dynamic_rnn(cell, x, initial_state=(c0, c0), time_major=True, sequence_length=lengths)
    assert "BlockLSTM" in _op_types([out])
    xv, cv = RNG.randn(3, 2, 3), RNG.randn(2, 4)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for target, shape in ((out, [3, 2, 4]), (state[0], [2, 4]), (state[1], [2, 4])):
            err_x = tf.test.compute_gradient_error(x, [3, 2, 3], target, shape, x_init_value=xv,
                                                   extra_feed_dict={c0: cv})
            err_c = tf.test.compute_gradient_error(c0, [2, 4], target, shape, x_init_value=cv,
                                                   extra_feed_dict={x: xv})
            assert err_x < 1e-6 and err_c < 1e-6


def test_cells_that_stay_step_by_step():
    x = tf.placeholder(tf.float32, [None, 3, 2])

    class MyLSTM(tf.nn.rnn_cell.BasicLSTMCell):
        pass

    for cell in (tf.nn.rnn_cell.GRUCell(3, activation=tf.nn.relu), tf.nn.rnn_cell.LSTMCell(3, num_proj=2),
                 tf.nn.rnn_cell.BasicLSTMCell(3, activation=tf.nn.relu), MyLSTM(3),
                 tf.nn.rnn_cell.LSTMCell(3, cell_clip=0.0),
                 tf.nn.rnn_cell.BasicLSTMCell(3, forget_bias=tf.constant(1.0)),
                 tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.BasicLSTMCell(3), tf.nn.rnn_cell.GRUCell(3, activation="relu")]),
                 tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.GRUCell(3)], state_is_tuple=False)):
        out, _ = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32, scope=cell.name)
        assert "BlockLSTM" not in _op_types([out]) and "BlockGRU" not in _op_types([out]), cell
    class Duck:  # a cell-like object that is no RNNCell
        state_size = output_size = 3

        def zero_state(self, batch, dtype):
            return tf.zeros([batch, 3], dtype)

        def __call__(self, x, state):
            return state + 1.0, state + 1.0

    out, _ = tf.nn.dynamic_rnn(Duck(), tf.placeholder(tf.float32, [2, 3, 2]), dtype=tf.float32)
    assert "While" in _op_types([out])
    x16 = tf.placeholder(tf.float16, [None, 3, 2])
    out, _ = tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicLSTMCell(3), x16, dtype=tf.float16, scope="half")
    assert "BlockLSTM" not in _op_types([out])


def test_one_op_in_the_plan_and_names():
    x = tf.placeholder(tf.float32, [None, 4, 2])
    out, state = tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicLSTMCell(3), x, dtype=tf.float32)
    assert [v.op.name for v in tf.trainable_variables()] == ["rnn/basic_lstm_cell/kernel",
                                                             "rnn/basic_lstm_cell/bias"]
    assert out.shape.as_list() == [None, 4, 3] and state.h.shape.as_list() == [None, 3]
    types = _op_types([out, state])
    assert types.count("BlockLSTM") == 1 and "While" not in types
    grads = tf.gradients(tf.reduce_sum(out), tf.trainable_variables())
    assert _op_types(grads).count("BlockLSTMGrad") == 1 and "WhileGrad" not in _op_types(grads)


def test_eager_dynamic_rnn_matches_graph():
    xv = RNG.randn(2, 3, 2).astype(np.float32)
    with tf.Graph().as_default():
        cell = tf.nn.rnn_cell.BasicLSTMCell(3)
        out, state = tf.nn.dynamic_rnn(cell, tf.constant(xv), dtype=tf.float32)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            kernel = sess.run(cell.weights[0])
            want = sess.run([out, state.h])
    with context.eager_mode():
        cell = tf.nn.rnn_cell.BasicLSTMCell(3)
        cell.build(tf.TensorShape([2, 2]))
        cell._kernel.assign(kernel)
        cell.built = True
        with tf.GradientTape() as tape:
            out, state = tf.nn.dynamic_rnn(cell, xv, dtype=tf.float32)
            loss = tf.reduce_sum(state.h)
        grad = tape.gradient(loss, cell._kernel)
        np.testing.assert_allclose(out.numpy(), want[0], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(state.h.numpy(), want[1], rtol=1e-6, atol=1e-7)
        assert grad.shape == (5, 12) and np.all(np.isfinite(grad.numpy()))


# -- tf.contrib.rnn.LSTMBlockCell / LSTMBlockFusedCell --------------------------------------------

@pytest.mark.parametrize("run", [_dynamic, _static])
def test_lstm_block_cell_fused_and_step_by_step(run):
    lengths = tf.placeholder(tf.int32, [None])
    make = lambda: tf.contrib.rnn.LSTMBlockCell(3, forget_bias=0.3, cell_clip=0.5, use_peephole=True)  # noqa: E731
    _compare(make, run, RNG.randn(3, 4, 2), tf.float64, feeds={lengths: [4, 1, 3]}, dtype=tf.float64,
             sequence_length=lengths)
    names = [v.op.name for v in tf.trainable_variables("fused")]
    assert names == ["fused_0/rnn/lstm_cell/" + n for n in ("kernel", "bias", "w_i_diag", "w_f_diag", "w_o_diag")]


def test_lstm_block_cell_equals_lstm_cell():
    x = tf.placeholder(tf.float32, [None, 3])
    state = tf.nn.rnn_cell.LSTMStateTuple(tf.placeholder(tf.float32, [None, 4]), tf.placeholder(tf.float32, [None, 4]))
    block = tf.contrib.rnn.LSTMBlockCell(4, use_peephole=True)
    plain = tf.nn.rnn_cell.LSTMCell(4, use_peepholes=True, name="plain")
    with tf.variable_scope("a"):
        hb, sb = block(x, state)
    with tf.variable_scope("b"):
        hp, sp = plain(x, state)
    assert [v.op.name for v in block.weights] == ["a/lstm_cell/kernel", "a/lstm_cell/bias", "a/lstm_cell/w_i_diag",
                                                  "a/lstm_cell/w_f_diag", "a/lstm_cell/w_o_diag"]
    assert block.state_size == (4, 4) and block.output_size == 4
    feed = {x: RNG.randn(2, 3), state.c: RNG.randn(2, 4), state.h: RNG.randn(2, 4)}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        names = {v.op.name.split("/")[-1]: v for v in plain.weights}
        for v in block.weights:
            names[v.op.name.split("/")[-1]].load(sess.run(v), sess)
        a, b = sess.run([[hb, sb], [hp, sp]], feed)
    for u, v in zip(tf.nest.flatten(a), tf.nest.flatten(b)):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-6)


def test_lstm_block_fused_cell_equals_dynamic_rnn():
    x = tf.placeholder(tf.float64, [5, None, 2])
    lengths = tf.placeholder(tf.int64, [None])
    fused = tf.contrib.rnn.LSTMBlockFusedCell(3, forget_bias=0.0)
    out_f, st_f = fused(x, dtype=tf.float64, sequence_length=lengths)
    assert [v.op.name for v in fused.weights] == ["lstm_fused_cell/kernel", "lstm_fused_cell/bias"]
    assert out_f.shape.as_list() == [5, None, 3] and isinstance(st_f, tf.nn.rnn_cell.LSTMStateTuple)
    cell = tf.nn.rnn_cell.LSTMCell(3, forget_bias=0.0)
    with unfused_rnn():
        out_d, st_d = tf.nn.dynamic_rnn(cell, x, dtype=tf.float64, sequence_length=lengths, time_major=True)
    feed = {x: RNG.randn(5, 3, 2), lengths: [5, 0, 2]}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for a, b in zip(fused.weights, cell.weights):
            b.load(sess.run(a), sess)
        a, b = sess.run([[out_f, st_f], [out_d, st_d]], feed)
    for u, v in zip(tf.nest.flatten(a), tf.nest.flatten(b)):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="initial_state or dtype"):
        fused(x)
    with pytest.raises(TypeError, match="runs a whole sequence"):
        fused.call(x[0], None)


@pytest.mark.parametrize("run", [_dynamic, _static])
def test_multi_rnn_cell_one_fused_op_per_layer(run):
    lengths = tf.placeholder(tf.int32, [None])
    make = lambda: tf.nn.rnn_cell.MultiRNNCell([  # noqa: E731
        tf.nn.rnn_cell.BasicLSTMCell(4), tf.nn.rnn_cell.GRUCell(3),
        tf.nn.rnn_cell.LSTMCell(5, use_peepholes=True, state_is_tuple=False)])
    x = tf.placeholder(tf.float64, [None, 4, 2])
    fused, _, variables = _build(make, run, True, "count", x, dtype=tf.float64, sequence_length=lengths)
    types = _op_types(fused)
    assert types.count("BlockLSTM") == 2 and types.count("BlockGRU") == 1 and "While" not in types
    assert [v.op.name for v in variables][:3] == ["count/rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel",
                                                  "count/rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias",
                                                  "count/rnn/multi_rnn_cell/cell_1/gru_cell/gates/kernel"]
    _compare(make, run, RNG.randn(3, 4, 2), tf.float64, feeds={lengths: [4, 1, 3]}, dtype=tf.float64,
             sequence_length=lengths, op_type=None)


# -- tf.keras.layers.LSTM ----------------------------------------------------------------------

@pytest.mark.parametrize("return_sequences", [False, True])
def test_keras_lstm_fused_equals_while_loop(return_sequences):
    x = tf.placeholder(tf.float32, [None, 5, 3])
    layers, outs = [], []
    for fused in (True, False):
        layer = tf.keras.layers.LSTM(4, return_sequences=return_sequences, return_state=True)
        if fused:
            outs.append(layer(x))
        else:
            with unfused_rnn():
                outs.append(layer(x))
        layers.append(layer)
    assert "BlockLSTM" in _op_types(outs[0]) and "BlockLSTM" not in _op_types(outs[1])
    assert [w.name for w in layers[0].weights] == ["lstm/lstm_cell/kernel:0", "lstm/lstm_cell/recurrent_kernel:0",
                                                   "lstm/lstm_cell/bias:0"]
    assert all(a.shape.is_compatible_with(b.shape) for a, b in zip(outs[0], outs[1]))
    assert outs[0][1].shape.as_list() == [None, 4]
    grads = [tf.gradients(tf.reduce_sum(o[0] * o[0]) + tf.reduce_sum(o[2]), [x] + layer.weights)
             for o, layer in zip(outs, layers)]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for a, b in zip(layers[0].weights, layers[1].weights):
            b.load(sess.run(a), sess)
        got, want = sess.run([[outs[0], grads[0]], [outs[1], grads[1]]], {x: RNG.randn(2, 5, 3)})
    for g, w_ in zip(tf.nest.flatten(got), tf.nest.flatten(want)):
        np.testing.assert_allclose(g, w_, rtol=1e-5, atol=1e-6)


def test_keras_lstm_other_activation_stays_a_loop():
    x = tf.placeholder(tf.float32, [None, 5, 3])
    out = tf.keras.layers.LSTM(4, recurrent_activation="hard_sigmoid")(x)
    assert "BlockLSTM" not in _op_types([out])
