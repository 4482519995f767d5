"""tf.train.Checkpoint / CheckpointManager: object-based checkpoints (eager mode)."""
import os

import numpy as np
import pytest

import nbflow as tf
from nbflow.framework import context, errors
from nbflow.train import checkpoint_io


@pytest.fixture(autouse=True)
def eager():
    with context.eager_mode():
        yield


class Dense(tf.Module):
    def __init__(self, n_in, n_out, name=None):
        super().__init__(name=name)
        with self.name_scope:
            self.w = tf.Variable(tf.random.normal([n_in, n_out], seed=1), name="w")
            self.b = tf.Variable(tf.zeros([n_out]), name="b")

    def __call__(self, x):
        return tf.nn.relu(tf.matmul(x, self.w) + self.b)


class MLP(tf.Module):
    def __init__(self, sizes=(3, 4, 2), name=None):
        super().__init__(name=name)
        with self.name_scope:
            self.layers = [Dense(a, b) for a, b in zip(sizes[:-1], sizes[1:])]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


X = np.random.RandomState(0).randn(8, 3).astype(np.float32)


def _train_step(model, opt):
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(tf.constant(X)) ** 2)
    grads = tape.gradient(loss, model.trainable_variables)
    opt.apply_gradients(zip(grads, model.trainable_variables))
    return float(loss.numpy())


def _randomize(model, seed):
    rng = np.random.RandomState(seed)
    for v in model.variables:
        v.assign(rng.randn(*v.shape.as_list()).astype(np.float32))


def test_variables_round_trip(tmp_path):
    v = tf.Variable([1.0, 2.0])
    step = tf.Variable(7, dtype=tf.int64)
    ckpt = tf.train.Checkpoint(v=v, step=step)
    path = ckpt.save(str(tmp_path / "ckpt"))
    assert path == str(tmp_path / "ckpt-1")
    assert ckpt.save_counter.numpy() == 1
    v.assign([5.0, 6.0])
    step.assign(0)
    status = ckpt.restore(path)
    status.assert_consumed()
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])
    assert step.numpy() == 7
    # into fresh objects, under the same names
    v2, step2 = tf.Variable([0.0, 0.0]), tf.Variable(0, dtype=tf.int64)
    tf.train.Checkpoint(v=v2, step=step2).restore(path).assert_consumed()
    np.testing.assert_array_equal(v2.numpy(), [1.0, 2.0])
    assert step2.numpy() == 7


def test_keys_are_object_paths(tmp_path):
    model = MLP()
    path = tf.train.Checkpoint(model=model).write(str(tmp_path / "w"))
    assert path == str(tmp_path / "w")
    names = dict(tf.train.list_variables(path))
    assert names["model/layers/0/w/.ATTRIBUTES/VARIABLE_VALUE"] == [3, 4]
    assert names["model/layers/1/b/.ATTRIBUTES/VARIABLE_VALUE"] == [2]
    assert "save_counter/.ATTRIBUTES/VARIABLE_VALUE" in names
    np.testing.assert_array_equal(tf.train.load_variable(path, "model/layers/0/w/.ATTRIBUTES/VARIABLE_VALUE"),
                                  model.layers[0].w.numpy())
    assert not os.path.exists(tmp_path / "checkpoint")  # write() records no state


def test_module_mlp_restore_into_fresh_module(tmp_path):
    model = MLP()
    _randomize(model, 1)
    path = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))
    fresh = MLP()
    _randomize(fresh, 2)
    tf.train.Checkpoint(model=fresh).restore(path).assert_consumed()
    for a, b in zip(model.variables, fresh.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(model(tf.constant(X)).numpy(), fresh(tf.constant(X)).numpy())


def test_adam_slots_and_iterations_training_continues_identically(tmp_path):
    model, opt = MLP(), tf.keras.optimizers.Adam(0.05)
    _randomize(model, 3)
    for _ in range(3):
        _train_step(model, opt)
    ckpt = tf.train.Checkpoint(model=model, optimizer=opt)
    path = ckpt.save(str(tmp_path / "ckpt"))
    names = dict(tf.train.list_variables(path))
    assert "optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE" in names
    assert "optimizer/learning_rate/.ATTRIBUTES/VARIABLE_VALUE" in names
    assert names["model/layers/0/w/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE"] == [3, 4]

    model2, opt2 = MLP(), tf.keras.optimizers.Adam(0.5)
    status = tf.train.Checkpoint(model=model2, optimizer=opt2).restore(path)
    assert opt2.iterations.numpy() == 3
    np.testing.assert_allclose(opt2.learning_rate.numpy(), 0.05)
    with pytest.raises(AssertionError, match="OPTIMIZER_SLOT"):
        status.assert_consumed()  # the slots wait for the first apply_gradients
    status.assert_existing_objects_matched()
    losses = [_train_step(model, opt) for _ in range(3)]
    losses2 = [_train_step(model2, opt2) for _ in range(3)]
    assert losses == losses2
    status.assert_consumed()
    for a, b in zip(model.variables, model2.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(opt.get_slot(model.layers[0].w, "v").numpy(),
                                  opt2.get_slot(model2.layers[0].w, "v").numpy())
    assert opt2.iterations.numpy() == 6


def test_slots_restored_into_existing_optimizer_and_inside_tf_function(tmp_path):
    model, opt = MLP(), tf.keras.optimizers.Adam(0.05)
    _train_step(model, opt)
    path = tf.train.Checkpoint(model=model, optimizer=opt).save(str(tmp_path / "ckpt"))
    expected_m = opt.get_slot(model.layers[1].w, "m").numpy().copy()
    _train_step(model, opt)  # moves on
    tf.train.Checkpoint(model=model, optimizer=opt).restore(path).assert_consumed()
    np.testing.assert_array_equal(opt.get_slot(model.layers[1].w, "m").numpy(), expected_m)
    assert opt.iterations.numpy() == 1

    model2, opt2 = MLP(), tf.keras.optimizers.Adam(0.05)
    status = tf.train.Checkpoint(model=model2, optimizer=opt2).restore(path)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model2(tf.constant(X)) ** 2)
        grads = tape.gradient(loss, model2.trainable_variables)
        opt2.apply_gradients(zip(grads, model2.trainable_variables))
        return loss

    # slots made while tracing (under init_scope) get their saved values; model and opt were
    # restored to the same checkpoint above, so both go on alike
    for _ in range(2):
        np.testing.assert_allclose(float(step().numpy()), _train_step(model, opt), rtol=1e-5)
    status.assert_consumed()
    assert opt2.iterations.numpy() == 3
    for a, b in zip(model.variables, model2.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_assert_consumed_failures(tmp_path):
    a, b = tf.Variable(1.0), tf.Variable(2.0)
    path = tf.train.Checkpoint(a=a, b=b).save(str(tmp_path / "ckpt"))
    # a value without an object
    status = tf.train.Checkpoint(a=tf.Variable(0.0)).restore(path)
    with pytest.raises(AssertionError, match="Unresolved object.*b/"):
        status.assert_consumed()
    status.assert_existing_objects_matched()
    status.assert_nontrivial_match()
    assert status.expect_partial() is status
    # an object without a value
    c = tf.Variable(0.0)
    status = tf.train.Checkpoint(a=tf.Variable(0.0), b=tf.Variable(0.0), c=c).restore(path)
    with pytest.raises(AssertionError, match="no checkpointed value"):
        status.assert_consumed()
    with pytest.raises(AssertionError):
        status.assert_existing_objects_matched()
    with pytest.raises(AssertionError, match="No checkpoint"):
        tf.train.Checkpoint(a=a).restore(None).assert_consumed()


def test_mismatched_shape_or_dtype_assigns_nothing(tmp_path):
    path = tf.train.Checkpoint(a=tf.Variable([1.0, 2.0]), b=tf.Variable(3.0)).save(str(tmp_path / "ckpt"))
    a, b = tf.Variable([0.0, 0.0, 0.0]), tf.Variable(0.0)
    with pytest.raises(errors.InvalidArgumentError, match="shape"):
        tf.train.Checkpoint(b=b, a=a).restore(path)
    assert b.numpy() == 0.0
    with pytest.raises(errors.InvalidArgumentError, match="dtype"):
        tf.train.Checkpoint(b=tf.Variable(0, dtype=tf.int32)).restore(path)


class Holder(tf.Module):
    pass


def test_deferred_restore_of_module_attributes(tmp_path):
    saved = Holder()
    saved.model = MLP()
    path = tf.train.Checkpoint(holder=saved, extra=[tf.Variable(4.0)]).save(str(tmp_path / "ckpt"))
    assert "extra/0/.ATTRIBUTES/VARIABLE_VALUE" in dict(tf.train.list_variables(path))

    holder, extra = Holder(), [tf.Variable(0.0)]
    status = tf.train.Checkpoint(holder=holder, extra=extra).restore(path)
    assert extra[0].numpy() == 4.0
    with pytest.raises(AssertionError, match="waiting for.*model"):
        status.assert_consumed()
    holder.model = MLP()  # set later: restored now
    status.assert_consumed()
    np.testing.assert_array_equal(holder.model.layers[0].w.numpy(), saved.model.layers[0].w.numpy())


def test_nested_checkpoints(tmp_path):
    model = MLP()
    path = tf.train.Checkpoint(inner=tf.train.Checkpoint(model=model)).save(str(tmp_path / "ckpt"))
    assert "inner/model/layers/0/w/.ATTRIBUTES/VARIABLE_VALUE" in dict(tf.train.list_variables(path))
    fresh = MLP()
    _randomize(fresh, 5)
    tf.train.Checkpoint(inner=tf.train.Checkpoint(model=fresh)).restore(path).assert_consumed()
    np.testing.assert_array_equal(fresh.layers[1].w.numpy(), model.layers[1].w.numpy())


def test_manager_rotation_and_recovery(tmp_path):
    v = tf.Variable(0.0)
    ckpt = tf.train.Checkpoint(v=v)
    manager = tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=2)
    assert manager.latest_checkpoint is None and manager.checkpoints == []
    paths = []
    for i in range(4):
        v.assign(float(i))
        paths.append(manager.save())
    assert paths == [str(tmp_path / ("ckpt-%d" % n)) for n in (1, 2, 3, 4)]
    assert manager.checkpoints == paths[2:]
    assert manager.latest_checkpoint == paths[3]
    assert not os.path.exists(paths[0] + ".index") and not os.path.exists(paths[1] + ".npz")
    assert tf.train.latest_checkpoint(str(tmp_path)) == paths[3]
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert state.all_model_checkpoint_paths == paths[2:]

    # a new process: the list comes back from the state file, rotation goes on
    v2 = tf.Variable(0.0)
    ckpt2 = tf.train.Checkpoint(v=v2)
    manager2 = tf.train.CheckpointManager(ckpt2, str(tmp_path), max_to_keep=2)
    assert manager2.checkpoints == paths[2:]
    assert manager2.restore_or_initialize() == paths[3]
    assert v2.numpy() == 3.0 and ckpt2.save_counter.numpy() == 4
    p5 = manager2.save()
    assert p5.endswith("ckpt-5")
    assert manager2.checkpoints == [paths[3], p5]
    assert not os.path.exists(paths[2] + ".index")
    p100 = manager2.save(checkpoint_number=100)
    assert p100.endswith("ckpt-100") and manager2.latest_checkpoint == p100


def test_manager_keeps_all_with_none_and_every_n_hours(tmp_path):
    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    manager = tf.train.CheckpointManager(ckpt, str(tmp_path / "all"), max_to_keep=None)
    for _ in range(3):
        manager.save()
    assert len(manager.checkpoints) == 3
    manager = tf.train.CheckpointManager(ckpt, str(tmp_path / "hours"), max_to_keep=1,
                                         keep_checkpoint_every_n_hours=1e-9)
    kept = [manager.save() for _ in range(3)]
    assert all(os.path.exists(p + ".index") for p in kept)  # each is "an hour" apart: preserved
    assert manager.checkpoints == kept[-1:]


def test_crash_mid_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    v = tf.Variable([1.0, 2.0])
    ckpt = tf.train.Checkpoint(v=v)
    manager = tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=3)
    good = manager.save()
    v.assign([9.0, 9.0])

    def half_then_crash(f, arrays):
        f.write(b"PK\x03\x04 partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint_io, "_write_npz", half_then_crash)
    with pytest.raises(OSError):
        manager.save()
    monkeypatch.undo()
    assert tf.train.latest_checkpoint(str(tmp_path)) == good
    assert [f for f in os.listdir(tmp_path) if ".tmp-" in f] == []
    v.assign([0.0, 0.0])
    tf.train.Checkpoint(v=v).restore(tf.train.latest_checkpoint(str(tmp_path))).assert_consumed()
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])


def test_crash_between_renames_leaves_debris_that_next_save_removes(tmp_path, monkeypatch):
    v = tf.Variable(1.0)
    ckpt = tf.train.Checkpoint(v=v)
    good = ckpt.save(str(tmp_path / "ckpt"))
    real_replace = os.replace

    def killed_before_index(src, dst):
        if dst.endswith(".index"):
            raise KeyboardInterrupt  # the process dies after the data file's rename
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", killed_before_index)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save(str(tmp_path / "ckpt"))
    monkeypatch.undo()
    assert tf.train.latest_checkpoint(str(tmp_path)) == good
    assert os.path.exists(str(tmp_path / "ckpt-2.npz")) and not os.path.exists(str(tmp_path / "ckpt-2.index"))
    status = tf.train.Checkpoint(v=tf.Variable(0.0)).restore(good)
    status.assert_consumed()
    p3 = ckpt.save(str(tmp_path / "ckpt"))  # removes the orphan data file first
    assert p3.endswith("ckpt-3")
    assert not os.path.exists(str(tmp_path / "ckpt-2.npz"))


def test_latest_checkpoint_both_formats(tmp_path):
    path = tf.train.Checkpoint(v=tf.Variable(1.0)).save(str(tmp_path / "obj" / "ckpt"))
    assert tf.train.latest_checkpoint(str(tmp_path / "obj")) == path
    with context.graph_mode(), tf.Graph().as_default():
        w = tf.Variable(3.0, name="w")
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            os.makedirs(str(tmp_path / "names"))
            saved = saver.save(sess, str(tmp_path / "names" / "model"), global_step=5)
    assert tf.train.latest_checkpoint(str(tmp_path / "names")) == saved
    with pytest.raises(errors.InvalidArgumentError, match="name-based"):
        tf.train.Checkpoint(w=tf.Variable(0.0)).restore(saved)


def test_graph_mode_is_not_supported():
    with context.graph_mode(), tf.Graph().as_default():
        with pytest.raises(NotImplementedError, match="eager"):
            tf.train.Checkpoint(v=tf.Variable(1.0))


def test_non_trackable_values_rejected(tmp_path):
    with pytest.raises(ValueError, match="trackable"):
        tf.train.Checkpoint(x=3)
    with pytest.raises(errors.NotFoundError):
        tf.train.Checkpoint(v=tf.Variable(1.0)).restore(str(tmp_path / "nothing"))
