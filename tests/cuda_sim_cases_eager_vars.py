"""Eager variables on a (simulated) GPU: created on GPU:0 as TF 2 (a device array), kept on
the host under tf.device('/cpu:0'), updated in place where they live (assign ops, every
optimizer path, tf.function), copied back only for .numpy() / checkpoints, and no
host<->device copy of a variable's value in a training step.

Run by tests/test_cuda_sim.py in a child process with the simulator on (not collected
directly). Shapes stay tiny (the simulator's cost grows with threads)."""
import numpy as np
import pytest

import nbflow as tf
from nbflow.framework import context
from nbflow.runtime import eager, eager_placement
from nbflow.train.optimizers import _apply_update
from nbflow.ops import training_ops

GPU = "/job:localhost/replica:0/task:0/device:GPU:0"
CPU = "/job:localhost/replica:0/task:0/device:CPU:0"
pytestmark = pytest.mark.skipif(not tf.test.is_gpu_available(), reason="needs the simulated (or a real) GPU")

RNG = np.random.RandomState(7)
X = RNG.randn(4, 3).astype(np.float32)
Y = RNG.randn(4, 5).astype(np.float32)
W0 = (RNG.randn(3, 5) * 0.5).astype(np.float32)
B0 = (RNG.randn(5) * 0.1).astype(np.float32)


@pytest.fixture(autouse=True)
def eager_gpu():
    eager_placement.forget_devices()
    with context.eager_mode():
        yield


def _on_gpu(v):
    return eager_placement.is_device_array(v._eager_resource.value)


@pytest.fixture
def copies(monkeypatch):
    """Every host<->device copy (numba's to_device, copy_to_host, and copy_to_device from a
    host array), as (direction, shape); bound kernels are dropped so they see the counters."""
    seen = []
    gpu = eager_placement.gpus()[0]
    array_type = type(gpu.persistent_empty((1,), np.float32))
    to_device, to_host, into = gpu.cuda.to_device, array_type.copy_to_host, array_type.copy_to_device

    def counted_to_device(a, *args, **kwargs):
        seen.append(("up", np.shape(a)))
        return to_device(a, *args, **kwargs)

    def counted_to_host(self, *args, **kwargs):
        seen.append(("down", tuple(self.shape)))
        return to_host(self, *args, **kwargs)

    def counted_into(self, a, *args, **kwargs):
        if not eager_placement.is_device_array(a):
            seen.append(("up", np.shape(a)))
        return into(self, a, *args, **kwargs)
    monkeypatch.setattr(gpu.cuda, "to_device", counted_to_device)
    monkeypatch.setattr(array_type, "copy_to_host", counted_to_host)
    monkeypatch.setattr(array_type, "copy_to_device", counted_into)
    eager.clear_cache()
    yield seen
    eager.clear_cache()


def test_a_variable_lives_on_gpu0_unless_created_under_a_cpu_scope():
    v = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert v.device == GPU and _on_gpu(v)
    r = v.read_value()
    assert r.device == GPU and eager_placement.is_device_array(r._value)
    np.testing.assert_array_equal(v.numpy(), np.arange(6).reshape(2, 3))
    assert type(v.numpy()) is np.ndarray and "numpy=" in repr(v)
    with tf.device("/cpu:0"):
        h = tf.Variable(np.ones(3, np.float64))
    assert h.device == CPU and type(h._eager_resource.value) is np.ndarray
    s = tf.Variable(3)  # int32: the GPU's variable kernels take it
    assert s.device == GPU and int(s) == 3 and float(s) == 3.0
    b = tf.Variable(True)  # bool: no GPU variable kernel -> host memory
    assert b.device == CPU and bool(b)
    g = tf.Variable(tf.constant(np.ones(2, np.float32)) * 2.0)  # an initial value on the GPU: its own copy
    assert g.device == GPU and _on_gpu(g)
    np.testing.assert_array_equal(g.numpy(), [2.0, 2.0])


def test_assign_ops_update_the_device_value_in_place_and_reads_keep_their_value():
    v = tf.Variable(np.array([1.0, 2.0, 3.0], np.float32))
    before = v.read_value()  # shares the buffer: the next update copies first (copy-on-write)
    v.assign_add(np.ones(3, np.float32))
    np.testing.assert_array_equal(before.numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(v.numpy(), [2.0, 3.0, 4.0])
    buffer = id(v._eager_resource.value)  # (an id: holding the array would make the update copy it)
    del before
    v.assign_sub(tf.constant(np.full(3, 0.5, np.float32)))
    v.assign([10.0, 20.0, 30.0])
    assert id(v._eager_resource.value) == buffer and _on_gpu(v)  # nobody held a read: updated in place
    np.testing.assert_array_equal(v.numpy(), [10.0, 20.0, 30.0])
    with tf.device("/cpu:0"):  # an update runs where its variable is, whatever the scope
        v.assign_add([1.0, 1.0, 1.0])
    assert _on_gpu(v) and v.device == GPU
    np.testing.assert_array_equal(v.numpy(), [11.0, 21.0, 31.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="Shapes"):
        v.assign([1.0, 2.0])
    np.testing.assert_array_equal(v.numpy(), [11.0, 21.0, 31.0])
    n = tf.Variable(np.int64(5))
    n.assign_add(np.int64(2))
    assert n.device == GPU and int(n) == 7
    with tf.device("/cpu:0"):
        h = tf.Variable([1.0, 2.0])
    with tf.device("/gpu:0"):
        h.assign_add([1.0, 1.0])
    assert h.device == CPU and type(h._eager_resource.value) is np.ndarray
    np.testing.assert_array_equal(h.numpy(), [2.0, 3.0])


def test_an_update_with_no_kernel_where_the_variable_lives_is_an_error(monkeypatch):
    v = tf.Variable(np.zeros(2, np.float32))
    real = eager_placement.registry.has_kernel

    def no_gpu_assign_add(op_def, device_type, op=None):
        return False if (op_def.type == "AssignAdd" and device_type == "GPU") else real(op_def, device_type, op)
    monkeypatch.setattr(eager_placement.registry, "has_kernel", no_gpu_assign_add)
    eager.clear_cache()
    with pytest.raises(tf.errors.InvalidArgumentError, match="lives on .*GPU:0.*AssignAdd has no GPU kernel"):
        v.assign_add([1.0, 1.0])
    np.testing.assert_array_equal(v.numpy(), [0.0, 0.0])
    eager.clear_cache()


def test_an_update_of_variables_on_two_devices_is_an_error():
    v = tf.Variable(np.ones(2, np.float32))
    with tf.device("/cpu:0"):
        accum = tf.Variable(np.zeros(2, np.float32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="different devices"):
        _apply_update(training_ops.ApplyMomentum, [v, accum, 0.1, np.ones(2, np.float32), 0.9], {})
    np.testing.assert_array_equal(v.numpy(), [1.0, 1.0])


OPTIMIZERS = {
    "keras_sgd_momentum": lambda: tf.keras.optimizers.SGD(0.1, momentum=0.9),
    "keras_adam": lambda: tf.keras.optimizers.Adam(0.05),
    "keras_rmsprop": lambda: tf.keras.optimizers.RMSprop(0.05),
    "v1_adam": lambda: tf.compat.v1.train.AdamOptimizer(0.05),
    "v1_momentum": lambda: tf.compat.v1.train.MomentumOptimizer(0.1, 0.9),
    "v1_sgd": lambda: tf.compat.v1.train.GradientDescentOptimizer(0.1),
}


def _train(device, make_optimizer, steps=3, on_step=None):
    """A tanh Dense layer trained on (X, Y) with a GradientTape, variables and ops under ``device``."""
    with tf.device(device):
        layer = tf.keras.layers.Dense(5, activation="tanh", kernel_initializer=tf.keras.initializers.Constant(W0),
                                      bias_initializer=tf.keras.initializers.Constant(B0))
        optimizer = make_optimizer()
        x, y = tf.constant(X), tf.constant(Y)
        for step in range(steps):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(layer(x) - y))
            grads = tape.gradient(loss, layer.trainable_variables)
            optimizer.apply_gradients(zip(grads, layer.trainable_variables))
            if on_step is not None:
                on_step(step)
    return layer, optimizer


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_training_loop_on_the_gpu_gives_the_cpu_weights(name):
    cpu_layer, _ = _train("/cpu:0", OPTIMIZERS[name])
    gpu_layer, optimizer = _train(None, OPTIMIZERS[name])
    for c, g in zip(cpu_layer.trainable_variables, gpu_layer.trainable_variables):
        assert c.device == CPU and g.device == GPU and _on_gpu(g)
        np.testing.assert_allclose(g.numpy(), c.numpy(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(gpu_layer.kernel.numpy(), W0)  # it trained
    slots = [optimizer.get_slot(v, n) for v in gpu_layer.trainable_variables for n in optimizer.get_slot_names()]
    assert all(s.device == GPU and _on_gpu(s) for s in slots)  # slots beside their variable
    assert slots or name == "v1_sgd"


def test_minimize_with_a_loss_function_on_the_gpu():
    results = []
    for device in ("/cpu:0", None):
        with tf.device(device):
            w = tf.Variable(W0)
            opt = tf.compat.v1.train.AdamOptimizer(0.1)
            for _ in range(2):
                opt.minimize(lambda: tf.reduce_sum(tf.square(tf.matmul(tf.constant(X), w) - Y)), var_list=[w])
        results.append((w.device, w.numpy()))
    assert results[0][0] == CPU and results[1][0] == GPU
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-5, atol=1e-6)


def _copies_per_step(device, copies):
    per_step, mark = [], [0]

    def on_step(step):
        per_step.append(list(copies[mark[0]:]))
        mark[0] = len(copies)
    _train(device, lambda: tf.keras.optimizers.Adam(0.05), steps=3, on_step=on_step)
    return per_step


def test_a_training_step_copies_no_variable_between_host_and_device(copies):
    per_step = _copies_per_step(None, copies)
    variable_shapes = {(3, 5), (5,)}
    for step in per_step[1:]:  # the first step also creates the variables and slots
        assert not [c for c in step if c[1] in variable_shapes], step
    assert per_step[1] == per_step[2]  # steady state: the same copies every step (the data, scalars)


def test_the_copy_counter_sees_host_variables_copied_to_gpu_ops(copies):
    """The control for the test above: variables kept on the host, ops on the GPU."""
    def train_host_variables():
        with tf.device("/cpu:0"):
            layer = tf.keras.layers.Dense(5, kernel_initializer=tf.keras.initializers.Constant(W0))
            layer.build((None, 3))
        x = tf.constant(X)
        mark = len(copies)
        layer(x)  # matmul and bias add on the GPU read the host variables
        return copies[mark:]
    step = train_host_variables()
    assert ("up", (3, 5)) in step and ("up", (5,)) in step


def test_checkpoint_round_trip_of_gpu_variables(tmp_path):
    v = tf.Variable(np.arange(4, dtype=np.float32))
    with tf.device("/cpu:0"):
        h = tf.Variable(np.array([1.5, 2.5]))
    ckpt = tf.train.Checkpoint(v=v, h=h)
    path = ckpt.save(str(tmp_path / "ckpt"))
    v.assign(np.zeros(4, np.float32))
    h.assign([0.0, 0.0])
    ckpt.restore(path)
    assert v.device == GPU and _on_gpu(v) and h.device == CPU
    np.testing.assert_array_equal(v.numpy(), np.arange(4))
    np.testing.assert_array_equal(h.numpy(), [1.5, 2.5])
    fresh = tf.Variable(np.zeros(4, np.float32))
    tf.train.Checkpoint(v=fresh).restore(path)
    np.testing.assert_array_equal(fresh.numpy(), np.arange(4))
    assert _on_gpu(fresh)


def test_tf_function_reads_and_updates_a_gpu_variable_in_place():
    v = tf.Variable(np.arange(4, dtype=np.float32))
    with tf.device("/cpu:0"):
        h = tf.Variable(np.zeros(4, np.float32))

    @tf.function
    def step(d):
        v.assign_add(d)
        h.assign_add(d)
        return v.read_value() * 2.0 + h

    before = v.read_value()  # held across the call: the function's update copies first
    out = step(tf.constant(np.ones(4, np.float32)))
    np.testing.assert_array_equal(before.numpy(), np.arange(4))
    np.testing.assert_array_equal(out.numpy(), (np.arange(4) + 1) * 2.0 + 1.0)
    del before
    buffer = id(v._eager_resource.value)
    step(tf.constant(np.ones(4, np.float32)))
    assert id(v._eager_resource.value) == buffer and _on_gpu(v)  # updated in place on the device
    assert type(h._eager_resource.value) is np.ndarray
    np.testing.assert_array_equal(v.numpy(), np.arange(4) + 2.0)
    np.testing.assert_array_equal(h.numpy(), np.full(4, 2.0))


def test_tf_function_training_step_matches_the_cpu():
    results = []
    for device in ("/cpu:0", None):
        with tf.device(device):
            w = tf.Variable(W0)
            opt = tf.keras.optimizers.SGD(0.1, momentum=0.5)

            @tf.function
            def train_step(x, y):
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - y))
                opt.apply_gradients([(tape.gradient(loss, w), w)])
                return loss

            losses = [float(train_step(tf.constant(X), tf.constant(Y))) for _ in range(3)]
        results.append((w.device, w.numpy(), losses))
    assert results[0][0] == CPU and results[1][0] == GPU
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(results[1][2], results[0][2], rtol=1e-5)


def test_keras_fit_on_the_gpu_gives_the_cpu_weights():
    results = []
    for device in ("/cpu:0", None):
        with tf.device(device):
            model = tf.keras.Sequential([tf.keras.layers.Dense(
                5, activation="tanh", kernel_initializer=tf.keras.initializers.Constant(W0))])
            model.compile(optimizer=tf.keras.optimizers.Adam(0.05), loss="mse")
            history = model.fit(X, Y, epochs=2, batch_size=2, verbose=0, shuffle=False)
        results.append(([w.device for w in model.weights], [w.numpy() for w in model.weights],
                        history.history["loss"]))
    assert set(results[0][0]) == {CPU} and set(results[1][0]) == {GPU}
    for c, g in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(g, c, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(results[1][2], results[0][2], rtol=1e-5)
