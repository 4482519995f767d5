"""tf.keras.callbacks with a fake model that follows the callback protocol (docs/ARCHITECTURE.md):
History, EarlyStopping, LearningRateScheduler on a real Keras optimizer, ModelCheckpoint,
TensorBoard event files read back by TensorBoard's EventAccumulator, TerminateOnNaN,
LambdaCallback, CSVLogger; the Progbar's text."""
import io
import math
import os
import re
import sys

import numpy as np
import pytest

import nbflow as tf
from nbflow.framework.context import eager_mode

C = tf.keras.callbacks


@pytest.fixture
def eager():
    with eager_mode():
        yield


class FakeModel:
    """The protocol: stop_training, optimizer, get_weights/set_weights, save_weights/save,
    weights/trainable_weights (history is set by History)."""

    def __init__(self, optimizer=None):
        self.stop_training = False
        self.optimizer = optimizer
        self.w = tf.Variable(np.zeros(3, np.float32), name="dense/kernel")
        self.saved = []

    @property
    def weights(self):
        return [self.w]

    @property
    def trainable_weights(self):
        return [self.w]

    def get_weights(self):
        return [np.array(self.w.numpy())]

    def set_weights(self, weights):
        self.w.assign(weights[0])

    def save_weights(self, filepath):
        self.saved.append(("weights", filepath))

    def save(self, filepath):
        self.saved.append(("model", filepath))


def fit(model, callbacks, epoch_logs, steps=3, verbose=0, batch_losses=None):
    """A minimal fit loop driving the callbacks as Model.fit will: each batch adds 1 to the
    weights; ``epoch_logs[i]`` are epoch i's logs."""
    cbs = C.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=model, verbose=verbose,
                         epochs=len(epoch_logs), steps=steps)
    model.stop_training = False
    cbs.on_train_begin()
    for epoch, logs in enumerate(epoch_logs):
        cbs.on_epoch_begin(epoch)
        for b in range(steps):
            cbs.on_train_batch_begin(b)
            model.w.assign_add(np.ones(3, np.float32))
            loss = batch_losses[epoch * steps + b] if batch_losses else logs.get("loss", 0.0)
            cbs.on_train_batch_end(b, {"loss": loss})
            if model.stop_training:
                break
        logs = dict(logs)
        cbs.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    cbs.on_train_end()
    return model.history


def test_history(eager):
    model = FakeModel()
    h = fit(model, [], [{"loss": 1.0, "accuracy": 0.5}, {"loss": 0.5, "accuracy": 0.75}])
    assert isinstance(h, C.History) and model.history is h
    assert h.epoch == [0, 1]
    assert h.history == {"loss": [1.0, 0.5], "accuracy": [0.5, 0.75]}


def test_callback_list_dispatch_and_params():
    seen = []

    class Rec(C.Callback):
        def on_train_begin(self, logs=None):
            seen.append(("train_begin", self.params["epochs"]))

        def on_batch_end(self, batch, logs=None):  # the legacy name receives train batches
            seen.append(("batch_end", batch))

    model = object.__new__(FakeModel)
    model.stop_training = False
    model.w = type("W", (), {"assign_add": lambda self, v: None})()
    fit(model, [Rec()], [{"loss": 1.0}], steps=2)
    assert seen == [("train_begin", 1), ("batch_end", 0), ("batch_end", 1)]
    cbl = C.CallbackList([C.History()], add_history=True)
    assert len(cbl) == 1  # the given History is the one used


def test_early_stopping_patience_and_restore_best_weights(eager):
    model = FakeModel()
    es = C.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    logs = [{"val_loss": v} for v in [1.0, 0.8, 0.9, 0.85, 0.7, 0.6]]
    h = fit(model, [es], logs)
    # best at epoch 1 (weights 6 = 2 epochs of 3 batches), no improvement at 2 and 3: stops at 3
    assert h.epoch == [0, 1, 2, 3] and es.stopped_epoch == 3 and model.stop_training
    np.testing.assert_array_equal(model.w.numpy(), [6, 6, 6])
    assert es.best == 0.8


def test_early_stopping_modes_delta_baseline(eager):
    model = FakeModel()
    es = C.EarlyStopping(monitor="val_accuracy", patience=1)  # 'acc' in the name: maximized
    h = fit(model, [es], [{"val_accuracy": v} for v in [0.5, 0.6, 0.55, 0.9]])
    assert h.epoch == [0, 1, 2] and es.best == 0.6
    es = C.EarlyStopping(monitor="loss", min_delta=0.1, patience=1)
    h = fit(FakeModel(), [es], [{"loss": v} for v in [1.0, 0.95, 0.5]])
    assert h.epoch == [0, 1]  # 0.95 is not 0.1 better
    es = C.EarlyStopping(monitor="loss", patience=2, baseline=0.5)
    h = fit(FakeModel(), [es], [{"loss": v} for v in [1.0, 0.9, 0.8, 0.4]])
    assert h.epoch == [0, 1]  # never beats the baseline: stops once patience runs out
    es = C.EarlyStopping(monitor="val_loss", patience=0)
    h = fit(FakeModel(), [es], [{"loss": 1.0}] * 3)  # monitor missing: a warning, never stops
    assert h.epoch == [0, 1, 2]


def test_learning_rate_scheduler_sets_the_optimizer(eager, capsys):
    opt = tf.keras.optimizers.Adam(learning_rate=0.1)
    model = FakeModel(opt)
    sched = C.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch > 0 else lr, verbose=1)
    h = fit(model, [sched], [{"loss": 1.0}] * 3)
    np.testing.assert_allclose(h.history["lr"], [0.1, 0.05, 0.025])
    assert float(opt.learning_rate.numpy()) == pytest.approx(0.025)
    assert "LearningRateScheduler setting learning rate to 0.025" in capsys.readouterr().out
    # the one-argument form, and the new rate is used by the next steps
    sgd = tf.keras.optimizers.SGD(learning_rate=1.0)
    v = tf.Variable(0.0)
    sgd.apply_gradients([(tf.constant(1.0), v)])  # creates the hyper-parameter variables
    model = FakeModel(sgd)
    fit(model, [C.LearningRateScheduler(lambda epoch: 0.1 * (epoch + 1))], [{"loss": 1.0}] * 2)
    sgd.apply_gradients([(tf.constant(1.0), v)])
    assert float(v.numpy()) == pytest.approx(-1.0 - 0.2)
    with pytest.raises(ValueError, match="should be float"):
        fit(FakeModel(sgd), [C.LearningRateScheduler(lambda epoch: "fast")], [{"loss": 1.0}])


def test_learning_rate_scheduler_in_graph_mode():
    with tf.Graph().as_default():
        v = tf.Variable(0.0)
        opt = tf.keras.optimizers.SGD(learning_rate=1.0)
        train = opt.apply_gradients([(tf.constant(1.0), v)])
        model = type("GraphModel", (), {"optimizer": opt, "stop_training": False})()
        cbs = C.CallbackList([C.LearningRateScheduler(lambda epoch, lr: lr / 10)], model=model, epochs=1)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            cbs.on_epoch_begin(0)
            sess.run(train)
            assert sess.run(v) == pytest.approx(-0.1)


def test_model_checkpoint_filenames(eager, tmp_path):
    model = FakeModel()
    path = str(tmp_path / "w.{epoch:02d}-{val_loss:.2f}")
    logs = [{"loss": 1.0, "val_loss": v} for v in [0.5, 0.7, 0.4]]
    fit(model, [C.ModelCheckpoint(path, save_weights_only=True)], logs)
    assert model.saved == [("weights", str(tmp_path / n)) for n in ["w.01-0.50", "w.02-0.70", "w.03-0.40"]]
    model = FakeModel()
    fit(model, [C.ModelCheckpoint(str(tmp_path / "best"), monitor="val_loss", save_best_only=True)], logs)
    assert model.saved == [("model", str(tmp_path / "best"))] * 2  # epochs 1 and 3 improve
    model = FakeModel()
    cp = C.ModelCheckpoint(str(tmp_path / "acc{epoch}"), monitor="val_acc", save_best_only=True, verbose=1)
    fit(model, [cp], [{"val_acc": v} for v in [0.5, 0.4, 0.6]])
    assert [p for _, p in model.saved] == [str(tmp_path / "acc1"), str(tmp_path / "acc3")]
    with pytest.raises(KeyError, match="Failed to format this callback filepath"):
        fit(FakeModel(), [C.ModelCheckpoint(str(tmp_path / "{nope}"))], logs)
    with pytest.raises(ValueError, match="Unrecognized save_freq"):
        C.ModelCheckpoint("x", save_freq="often")


def test_model_checkpoint_every_n_batches(eager, tmp_path):
    model = FakeModel()
    fit(model, [C.ModelCheckpoint(str(tmp_path / "b{epoch}"), save_freq=2, save_weights_only=True)],
        [{"loss": 1.0}] * 2, steps=3)
    # 6 batches: saved after the 2nd, 4th and 6th; named by the epoch they fall in
    assert [os.path.basename(p) for _, p in model.saved] == ["b1", "b2", "b2"]


def _accumulator(path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    return acc


def _scalars(acc, tag):
    return [(e.step, round(e.value, 6)) for e in acc.Scalars(tag)]


def test_tensorboard_epoch_scalars_and_histograms(eager, tmp_path):
    model = FakeModel()
    tb = C.TensorBoard(log_dir=str(tmp_path), histogram_freq=1)
    logs = [{"loss": 1.0, "accuracy": 0.5, "val_loss": 1.5, "val_accuracy": 0.25},
            {"loss": 0.5, "accuracy": 0.75, "val_loss": 1.25, "val_accuracy": 0.5}]
    fit(model, [tb], logs)
    assert sorted(os.listdir(tmp_path)) == ["train", "validation"]
    train = _accumulator(tmp_path / "train")
    assert sorted(train.Tags()["scalars"]) == ["epoch_accuracy", "epoch_loss"]
    assert _scalars(train, "epoch_loss") == [(0, 1.0), (1, 0.5)]
    assert _scalars(train, "epoch_accuracy") == [(0, 0.5), (1, 0.75)]
    val = _accumulator(tmp_path / "validation")
    assert _scalars(val, "epoch_loss") == [(0, 1.5), (1, 1.25)]
    assert _scalars(val, "epoch_accuracy") == [(0, 0.25), (1, 0.5)]
    assert train.Tags()["histograms"] == ["dense/kernel_0"]
    hist = train.Histograms("dense/kernel_0")
    assert [h.step for h in hist] == [0, 1]
    assert (hist[1].histogram_value.min, hist[1].histogram_value.max, hist[1].histogram_value.num) == (6, 6, 3)


def test_tensorboard_batch_scalars(eager, tmp_path):
    tb = C.TensorBoard(log_dir=str(tmp_path), update_freq="batch")
    fit(FakeModel(), [tb], [{"loss": 1.0}] * 2, steps=3, batch_losses=[6, 5, 4, 3, 2, 1])
    train = _accumulator(tmp_path / "train")
    assert _scalars(train, "batch_loss") == [(i + 1, 6 - i) for i in range(6)]
    tb = C.TensorBoard(log_dir=str(tmp_path / "n"), update_freq=2)
    fit(FakeModel(), [tb], [{"loss": 1.0}] * 2, steps=3, batch_losses=[6, 5, 4, 3, 2, 1])
    assert _scalars(_accumulator(tmp_path / "n" / "train"), "batch_loss") == [(2, 5), (4, 3), (6, 1)]


def test_tensorboard_writes_the_graph_in_graph_mode(tmp_path):
    with tf.Graph().as_default():
        tf.matmul(tf.ones([2, 2]), tf.ones([2, 2]), name="mm")
        model = type("GraphModel", (), {"stop_training": False})()
        cbs = C.CallbackList([C.TensorBoard(log_dir=str(tmp_path))], model=model, epochs=1)
        cbs.on_train_begin()
        cbs.on_epoch_end(0, {"loss": 0.5})
        cbs.on_train_end()
    acc = _accumulator(tmp_path / "train")
    assert any(n.name == "mm" for n in acc.Graph().node)
    assert _scalars(acc, "epoch_loss") == [(0, 0.5)]


def test_terminate_on_nan(eager, capsys):
    model = FakeModel()
    h = fit(model, [C.TerminateOnNaN()], [{"loss": 1.0}] * 3, batch_losses=[1.0, math.nan, 1.0] + [1.0] * 6)
    assert model.stop_training and h.epoch == [0]
    assert "Batch 1: Invalid loss, terminating training" in capsys.readouterr().out


def test_lambda_callback(eager):
    events = []
    cb = C.LambdaCallback(on_epoch_begin=lambda epoch, logs: events.append(("begin", epoch)),
                          on_epoch_end=lambda epoch, logs: events.append(("end", epoch, logs["loss"])),
                          on_train_end=lambda logs: events.append("done"))
    fit(FakeModel(), [cb], [{"loss": 2.0}, {"loss": 1.0}])
    assert events == [("begin", 0), ("end", 0, 2.0), ("begin", 1), ("end", 1, 1.0), "done"]


def test_csv_logger(eager, tmp_path):
    path = tmp_path / "log.csv"
    fit(FakeModel(), [C.CSVLogger(str(path))], [{"loss": 1.0, "acc": 0.5}, {"loss": 0.5, "acc": 0.75}])
    assert path.read_text().splitlines() == ["epoch,acc,loss", "0,0.5,1.0", "1,0.75,0.5"]
    fit(FakeModel(), [C.CSVLogger(str(path), append=True)], [{"loss": 0.25, "acc": 1.0}])
    assert path.read_text().splitlines()[-1] == "0,1.0,0.25"


# -- the progress bar -----------------------------------------------------------------------------

BAR_LINE = re.compile(r"^3/3 \[={30}\] - \d+s \d+(us|ms|s)/step - loss: 0\.2500 - accuracy: 0\.7500$")


def test_progbar_line_when_not_a_terminal(capsys):
    bar = tf.keras.utils.Progbar(3)
    for i in range(1, 4):
        bar.update(i, [("loss", 0.25), ("accuracy", 0.75)])
    out = capsys.readouterr().out
    assert out.endswith("\n") and out.count("\n") == 1  # one line per bar off a terminal
    assert BAR_LINE.match(out.rstrip("\n")), out


def test_progbar_averages_and_stateful_metrics(capsys):
    bar = tf.keras.utils.Progbar(4, stateful_metrics=["acc"])
    bar.update(1, [("loss", 1.0), ("acc", 0.1)])
    bar.update(4, [("loss", 2.0), ("acc", 0.9)])  # this update covers 3 steps
    out = capsys.readouterr().out
    assert " - loss: 1.7500 - acc: 0.9000\n" in out
    bar = tf.keras.utils.Progbar(2)
    bar.update(2, [("tiny", 1e-5)])
    assert "tiny: 1.0000e-05" in capsys.readouterr().out


def test_progbar_verbose_2_and_unknown_target(capsys):
    bar = tf.keras.utils.Progbar(12, verbose=2)
    for i in range(1, 13):
        bar.update(i, [("loss", 0.5)])
    out = capsys.readouterr().out
    assert re.fullmatch(r"12/12 - \d+s - loss: 0\.5000\n", out), out
    bar = tf.keras.utils.Progbar(None)
    bar.update(5, [("loss", 0.5)], finalize=True)
    assert re.fullmatch(r"      5/Unknown - \d+s \d+(us|ms|s)/step - loss: 0\.5000\n", capsys.readouterr().out)


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progbar_redraws_in_place_on_a_terminal(monkeypatch):
    term = _Terminal()
    monkeypatch.setattr(sys, "stdout", term)
    bar = tf.keras.utils.Progbar(3, interval=0)
    for i in range(1, 4):
        bar.update(i, [("loss", 0.25), ("accuracy", 0.75)])
    out = term.getvalue()
    monkeypatch.undo()
    frames = out.split("\r")
    assert frames[0] == "" and len(frames) == 4
    assert re.match(r"1/3 \[=========>\.{20}\] - ETA: \d+s - loss: 0\.2500 - accuracy: 0\.7500", frames[1])
    assert frames[2].startswith("2/3 [===================>..........]")
    assert BAR_LINE.match(frames[3].lstrip("\b").rstrip("\n")) and frames[3].endswith("\n")


def test_progbar_logger_in_fit(eager, capsys):
    fit(FakeModel(), [], [{"loss": 0.25, "accuracy": 0.75}] * 2, steps=3, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert BAR_LINE.match(lines[1]) and BAR_LINE.match(lines[3])
    fit(FakeModel(), [], [{"loss": 0.25, "val_loss": 0.5}], steps=3, verbose=2)
    assert re.fullmatch(r"3/3 - \d+s - loss: 0\.2500 - val_loss: 0\.5000\n", capsys.readouterr().out)


def test_to_categorical():
    out = tf.keras.utils.to_categorical([0, 2, 1], 4)
    np.testing.assert_array_equal(out, np.eye(4, dtype=np.float32)[[0, 2, 1]])
    assert out.dtype == np.float32
    assert tf.keras.utils.to_categorical(np.array([[1], [0]])).shape == (2, 2)
    assert tf.keras.utils.to_categorical(np.zeros((2, 3), int), 5, dtype="int64").shape == (2, 3, 5)
