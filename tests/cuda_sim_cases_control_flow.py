"""GPU If / IfGrad / While / WhileGrad (nbflow/backends/cuda/control_flow.py) under the CUDA
simulator, compared with the CPU: branch and body sub-plans run device kernels, their feeds
and fetches stay on the device. Run by tests/test_cuda_sim.py (not collected directly)."""
import numpy as np
import pytest

import nbflow as tf
from nbflow.compiler.program import TransferUnit

from cuda_sim_cases import GPU, assert_close, run_both

pytestmark = pytest.mark.skipif(not tf.test.is_gpu_available(), reason="needs the simulated (or a real) GPU")

RNG = np.random.default_rng(5)
X = RNG.standard_normal((2, 3))
W = RNG.standard_normal((3, 3)) * 0.5


@pytest.fixture
def copies_to_host(monkeypatch):
    """The device -> host copies compiled into any plan (sub-plans included)."""
    made = []
    original = TransferUnit.__init__

    def counting(self, src, dst, *args, **kwargs):
        if dst.is_host and not src.is_host:
            made.append((src.name, dst.name))
        original(self, src, dst, *args, **kwargs)
    monkeypatch.setattr(TransferUnit, "__init__", counting)
    return made


def _op_line(text, op_type):
    return next(ln for ln in text.splitlines() if "(%s)" % op_type in ln)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_cond_and_its_gradient_on_the_gpu(dtype, sign, copies_to_host):
    def build():
        px = tf.placeholder(tf.as_dtype(dtype), [2, 3])
        w = tf.constant(W.astype(dtype))
        y = tf.cond(tf.reduce_sum(px) * sign > 0, lambda: tf.matmul(px, w) * 2.0, lambda: tf.tanh(px) - px * px)
        return [y] + tf.gradients(tf.reduce_sum(y * y), [px]), lambda: {px: np.abs(X).astype(dtype)}
    cpu, gpu, text = run_both(build)
    assert_close(cpu, gpu, rtol=1e-5, atol=1e-6)
    assert "device=%s" % GPU in _op_line(text, "If") and "device=%s" % GPU in _op_line(text, "IfGrad")
    # the two fetches (GPU run, then explain's); the branches' values never come back
    assert len(copies_to_host) == 4, copies_to_host


def _loop(dtype, limit=None):
    def build():
        px = tf.placeholder(tf.as_dtype(dtype), [2, 3])
        w = tf.constant(W.astype(dtype))
        i0 = tf.constant(0)
        _, y = tf.while_loop(lambda i, x: i < 3, lambda i, x: (i + 1, tf.tanh(tf.matmul(x, w)) + x), [i0, px],
                             maximum_iterations=limit)
        return [y] + tf.gradients(tf.reduce_sum(y * y), [px]), lambda: {px: X.astype(dtype)}
    return build


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_while_loop_and_its_gradient_on_the_gpu(dtype, copies_to_host):
    cpu, gpu, text = run_both(_loop(dtype))
    assert_close(cpu, gpu, rtol=1e-5, atol=1e-6)
    assert "device=%s" % GPU in _op_line(text, "While") and "device=%s" % GPU in _op_line(text, "WhileGrad")
    assert len(copies_to_host) == 4, copies_to_host  # the fetches only: loop variables stay on the device


def test_while_maximum_iterations_swapped_variables_and_no_iteration():
    cpu, gpu, _ = run_both(_loop(np.float64, limit=2))
    assert_close(cpu, gpu, rtol=1e-12, atol=1e-12)

    def swapping(steps):
        def build():
            pa, pb = tf.placeholder(tf.float32, [3]), tf.placeholder(tf.float32, [3])
            n = tf.placeholder(tf.int32, [])
            # the body swaps its variables: each is kept in its own device buffers
            i, a, b = tf.while_loop(lambda i, a, b: i < n, lambda i, a, b: (i + 1, b, a + b),
                                    [tf.constant(0), pa, pb])
            return [i, a, b], lambda: {pa: np.arange(3, dtype=np.float32), pb: np.ones(3, np.float32), n: steps}
        return build
    for steps in (4, 0):  # 0: the condition is false at once, the initial values come out
        cpu, gpu, _ = run_both(swapping(steps))
        assert_close(cpu, gpu)
        assert gpu[0] == steps


def test_dynamic_rnn_while_loop_with_sequences_and_emits():
    """An unfused cell: one While over the steps, slices of the input sequence and the stacked
    outputs on the device; the gradient's While reads them back per step."""
    x = RNG.standard_normal((2, 3, 2)).astype(np.float32)

    def build():
        px = tf.placeholder(tf.float32, [2, 3, 2])
        cell = tf.nn.rnn_cell.BasicRNNCell(3)
        out, state = tf.nn.dynamic_rnn(cell, px, dtype=tf.float32,
                                       initial_state=tf.zeros([2, 3]))
        grads = tf.gradients(tf.reduce_sum(out * out) + tf.reduce_sum(state), [px])
        return [out, state] + grads, lambda: {px: x}

    results = []
    for dev in ("/cpu:0", "/gpu:0"):
        g = tf.Graph()
        with g.as_default(), tf.device(dev):
            fetches, feeds = build()
            # the same weights on both devices (their random initial values differ)
            assigns = [v.assign((np.arange(np.prod(v.shape.as_list())).reshape(v.shape.as_list()) % 7 - 3) / 6.0)
                       for v in tf.trainable_variables()]
            with tf.Session(graph=g) as sess:
                sess.run(tf.global_variables_initializer())
                sess.run(assigns)
                results.append(sess.run(fetches, feeds()))
                text = tf.explain(fetches, feeds(), file=False)
    assert_close(results[0], results[1], rtol=1e-5, atol=1e-6)
    assert "device=%s" % GPU in _op_line(text, "While")


def _with_host_only_op():
    def build():
        px = tf.placeholder(tf.float32, [2, 3])
        y = tf.cond(tf.reduce_sum(px) > 0, lambda: tf.Print(px * 2.0, [], message="branch"), lambda: px)
        return [y], lambda: {px: np.abs(X).astype(np.float32)}
    return build


def test_a_branch_op_without_a_gpu_kernel_follows_the_placement_rules():
    cpu, gpu, _ = run_both(_with_host_only_op(), soft=True)  # soft: Print runs on the host, copies inserted
    assert_close(cpu, gpu)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Print"):
        run_both(_with_host_only_op())


@pytest.mark.parametrize("variable_device", ["/cpu:0", None])
def test_a_body_updating_a_variable_runs_where_the_variable_is(variable_device):
    """A while_loop asked for /gpu:0 whose body assigns to a variable: the While (which passes
    the variable itself to its body) and the body's AssignAdd run on the variable's device, as
    an Assign outside a loop does -- an update of a copy on another device would be lost."""
    g = tf.Graph()
    with g.as_default():
        with tf.device(variable_device):
            v = tf.Variable(np.zeros(3, np.float32))

        def body(i):
            with tf.control_dependencies([tf.assign_add(v, tf.ones(3))]):
                return i + 1
        with tf.device("/gpu:0"):
            n = tf.while_loop(lambda i: i < 3, body, [tf.constant(0)])
        with tf.Session(config=tf.ConfigProto(allow_soft_placement=True)) as sess:
            sess.run(tf.global_variables_initializer())
            assert sess.run(n) == 3
            np.testing.assert_array_equal(sess.run(v), [3, 3, 3])
            text = tf.explain(n, file=False)
    where = "CPU:0" if variable_device else "GPU:0"
    assert "device:%s" % where in _op_line(text, "While"), _op_line(text, "While")
