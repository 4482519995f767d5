"""Device placement: explicit devices, colocation, soft placement, logging, copies."""
import numpy as np
import pytest

import nbflow as tf
from nbflow.backends.registry import register_kernel, unregister_kernel
from nbflow.ops.base import Op, apply_op
from nbflow.runtime import devices


class FakeArray:
    """What a value looks like on the fake device: not a numpy array."""

    def __init__(self, data):
        self.data = data


class FakeDevice(devices.Device):
    copies = 0

    def __init__(self, index=0):
        super().__init__("FAKE", index)

    def to_host(self, array):
        FakeDevice.copies += 1
        return array.data.copy()

    def from_host(self, array):
        FakeDevice.copies += 1
        return FakeArray(np.array(array))


class FakeDouble(Op):
    """Doubles its input; has a CPU kernel and a FAKE kernel."""

    type = "NbflowTestFakeDouble"

    @classmethod
    def infer(cls, ctx):
        return [(ctx.input_dtypes[0], ctx.input_shapes[0])]


@register_kernel(FakeDouble)
def _fake_double_cpu(ctx):
    return lambda x: x * 2


@register_kernel(FakeDouble, device="FAKE")
def _fake_double_fake(ctx):
    def run(x):
        assert isinstance(x, FakeArray)
        return FakeArray(x.data * 2)
    return run


@pytest.fixture
def fake_device():
    devices.register_device_type("FAKE", FakeDevice, count=1)
    FakeDevice.copies = 0
    yield
    devices.unregister_device_type("FAKE")


def test_default_placement_is_cpu_and_logged(capsys):
    a = tf.constant(1.0, name="a")
    b = tf.add(a, a, name="b")
    with tf.Session(config=tf.ConfigProto(log_device_placement=True)) as sess:
        sess.run(b)
    err = capsys.readouterr().err
    assert "b: (Add): /job:localhost/replica:0/task:0/device:CPU:0" in err


def test_unknown_device_is_an_error_without_soft_placement():
    with tf.device("/device:GPU:0"):
        c = tf.constant(1.0, name="c")
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="Cannot assign a device for operation c"):
            sess.run(c)


def test_soft_placement_falls_back_to_cpu(capsys):
    with tf.device("/gpu:0"):
        c = tf.constant(2.0, name="c") * 3.0
    with tf.Session(config=tf.ConfigProto(allow_soft_placement=True)) as sess:
        assert sess.run(c) == 6.0
    assert "soft placement" in capsys.readouterr().err


def test_remote_job_is_not_a_local_device():
    with tf.device("/job:worker/task:1"):
        c = tf.constant(1.0)
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="local session"):
            sess.run(c)
    with tf.device("/job:localhost/replica:0/task:0/device:CPU:0"):
        d = tf.constant(1.0)
    with tf.Session() as sess:
        assert sess.run(d) == 1.0


def test_op_without_kernel_for_device(fake_device):
    with tf.device("/device:FAKE:0"):
        c = tf.constant(1.0, name="const_on_fake")
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="no supported kernel for FAKE"):
            sess.run(c)


def test_copies_are_inserted_at_device_boundaries(fake_device):
    x = tf.placeholder(tf.float32, [3])
    with tf.device("/device:FAKE:0"):
        y = apply_op(FakeDouble, [x], name="double1")
        z = apply_op(FakeDouble, [y], name="double2")
    w = z + 1.0  # back on the CPU
    with tf.Session(config=tf.ConfigProto(log_device_placement=True)) as sess:
        out, zz = sess.run([w, z], {x: [1.0, 2.0, 3.0]})
        plan = sess.plan_for([w, z], {x: [1.0, 2.0, 3.0]})
    np.testing.assert_array_equal(out, [5.0, 9.0, 13.0])
    np.testing.assert_array_equal(zz, [4.0, 8.0, 12.0])
    assert plan.placement[y.op].device_type == "FAKE"
    assert plan.placement[w.op].device_type == "CPU"
    # one copy in (x), one copy out (z, shared by w and the fetch)
    assert sum(1 for op in plan.step_ops if op.type == "_Transfer") == 2


@pytest.fixture
def fake_variable_kernels():
    from nbflow.ops import array_ops, state_ops

    # Pretend variables, Identity and Assign have FAKE kernels; placement only is checked.
    # (A variable goes to a device only when the ops updating it in place, here its
    # initializer's Assign, can run there: compiler/placement.py.)
    for op in (state_ops.VariableV2, array_ops.Identity, state_ops.Assign):
        register_kernel(op, device="FAKE")(lambda ctx: None)
    yield
    for op in (state_ops.VariableV2, array_ops.Identity, state_ops.Assign):
        unregister_kernel(op, device="FAKE")


def test_variable_readers_colocate_with_the_variable(fake_device, fake_variable_kernels):
    from nbflow.compiler import placement

    with tf.device("/device:FAKE:0"):
        v = tf.Variable(tf.zeros([2]), name="v")
    read = tf.identity(v._as_graph_element(), name="reader")  # no device of its own
    other = tf.identity(tf.constant(1.0), name="unrelated")
    ops = [v.op, read.op, other.op.inputs[0].op, other.op]
    placed = placement.place(ops, devices.local_devices(), tf.ConfigProto())
    assert placed[read.op].device_type == "FAKE"
    assert placed[other.op].device_type == "CPU"
