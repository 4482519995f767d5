"""``tf.keras.callbacks`` (TF 2 semantics): hooks a training loop calls around epochs and batches.

The callbacks talk to the model only through this protocol (what ``Model.fit`` must
provide; docs/ARCHITECTURE.md):

- ``model.stop_training``: a bool attribute ``fit`` reads after each epoch (and may
  read after each batch); EarlyStopping and TerminateOnNaN set it;
- ``model.optimizer``: a Keras optimizer; LearningRateScheduler reads and sets
  ``optimizer.learning_rate`` (a number);
- ``model.get_weights()`` / ``model.set_weights(list of arrays)``: EarlyStopping's
  ``restore_best_weights``;
- ``model.save_weights(filepath)`` / ``model.save(filepath)``: ModelCheckpoint;
- ``model.weights`` (else ``model.trainable_weights``): variables whose histograms
  TensorBoard writes;
- ``model.history`` is set by History (``fit`` returns it).

``fit`` calls ``CallbackList(callbacks, add_history=True, add_progbar=verbose != 0,
model=model, verbose=verbose, epochs=epochs, steps=steps_per_epoch)``, then
``on_train_begin``, per epoch ``on_epoch_begin(epoch)``, per batch
``on_train_batch_begin(batch)`` / ``on_train_batch_end(batch, logs)`` (logs: the
running means of the epoch so far, ``{'loss': ..., 'accuracy': ...}``, as TF 2),
``on_epoch_end(epoch, logs)`` (with ``val_*`` entries when validating), and
``on_train_end(logs)``. Epochs and batches are 0-based.
"""
import logging
import os

import numpy as np

from nbflow.keras.callbacks_base import Callback, CallbackList, _numpy_logs, _value
from nbflow.keras.callbacks_logging import CSVLogger, TensorBoard
from nbflow.keras.utils.generic_utils import Progbar

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping", "LearningRateScheduler",
           "ModelCheckpoint", "TensorBoard", "TerminateOnNaN", "LambdaCallback", "CSVLogger"]

_log = logging.getLogger("nbflow")


class History(Callback):
    """Records the epoch logs: ``history.history[name]`` is the list of per-epoch values and
    ``history.epoch`` the epochs; sets ``model.history`` to itself."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in _numpy_logs(logs).items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self


class ProgbarLogger(Callback):
    """Prints the epoch's progress bar (``params['verbose']``: 1 a bar, 2 a line per epoch),
    preceded by ``Epoch i/n`` when there are several epochs. Logged values are shown as
    given (TF 2's fit logs running means; they are the bar's stateful metrics)."""

    def __init__(self, count_mode="samples", stateful_metrics=None):
        super().__init__()
        if count_mode not in ("samples", "steps"):
            raise ValueError("Unknown `count_mode`: " + str(count_mode))
        self.use_steps = count_mode == "steps"
        self._stateful = set(stateful_metrics) if stateful_metrics else None
        self.progbar = None
        self.seen = 0
        self.target = None
        self.verbose = 1
        self.epochs = 1

    def set_params(self, params):
        super().set_params(params)
        self.verbose = params.get("verbose", 1)
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps") if self.use_steps else params.get("samples")

    def on_train_begin(self, logs=None):
        self.verbose = self.params.get("verbose", self.verbose)
        self.epochs = self.params.get("epochs", self.epochs)

    def on_epoch_begin(self, epoch, logs=None):
        self.seen = 0
        self.progbar = None
        if self.verbose and self.epochs > 1:
            print("Epoch %d/%d" % (epoch + 1, self.epochs))

    def _bar(self, logs):
        if self.progbar is None:
            stateful = self._stateful if self._stateful is not None else set(logs or {})
            self.progbar = Progbar(target=self.target, verbose=self.verbose, stateful_metrics=stateful,
                                   unit_name="step" if self.use_steps else "sample")
        elif self._stateful is None:
            self.progbar.stateful_metrics.update(logs or {})
        return self.progbar

    def on_train_batch_end(self, batch, logs=None):
        logs = _numpy_logs(logs)
        if self.use_steps:
            self.seen = batch + 1
        else:
            self.seen += int(logs.pop("size", logs.pop("batch_size", 1)))
        bar = self._bar(logs)
        if self.verbose == 1:
            bar.update(self.seen, [(k, v) for k, v in logs.items() if k not in ("batch", "size")], finalize=False)

    def on_epoch_end(self, epoch, logs=None):
        logs = _numpy_logs(logs)
        bar = self._bar(logs)
        if bar.target is None:
            bar.target = self.target = self.seen or 1
        if self.verbose:
            bar.update(max(self.seen, bar.target or 0), [(k, v) for k, v in logs.items() if k not in ("batch", "size")],
                       finalize=True)


def _monitor_op(mode, monitor, who):
    if mode not in ("auto", "min", "max"):
        _log.warning("%s mode %s is unknown, fallback to auto mode.", who, mode)
        mode = "auto"
    if mode == "min":
        return np.less
    if mode == "max":
        return np.greater
    return np.greater if ("acc" in monitor or monitor.startswith("fmeasure")) else np.less


class EarlyStopping(Callback):
    """Stop training (``model.stop_training = True``) when ``monitor`` has not improved by
    more than ``min_delta`` for ``patience`` epochs (never after the first epoch alone).
    ``mode`` 'auto' maximizes monitors with 'acc' in their name. With ``baseline``, the
    wait restarts only on epochs that beat it as well. ``restore_best_weights`` puts the
    best epoch's weights back (``model.set_weights``) when it stops."""

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False):
        super().__init__()
        self.monitor = monitor
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.min_delta = abs(min_delta)
        self.wait = 0
        self.stopped_epoch = 0
        self.restore_best_weights = restore_best_weights
        self.best_weights = None
        self.monitor_op = _monitor_op(mode, monitor, "EarlyStopping")
        if self.monitor_op is np.less:
            self.min_delta *= -1
        self.best = np.inf if self.monitor_op is np.less else -np.inf

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = np.inf if self.monitor_op is np.less else -np.inf
        self.best_weights = None

    def _is_improvement(self, value, reference):
        return bool(self.monitor_op(value - self.min_delta, reference))

    def get_monitor_value(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            _log.warning("Early stopping conditioned on metric `%s` which is not available. Available metrics "
                         "are: %s", self.monitor, ",".join(list((logs or {}).keys())))
            return None
        return _value(value)

    def on_epoch_end(self, epoch, logs=None):
        current = self.get_monitor_value(logs)
        if current is None:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()  # in case no epoch ever improves
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                if self.verbose > 0:
                    print("Restoring model weights from the end of the best epoch.")
                self.model.set_weights(self.best_weights)

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print("Epoch %05d: early stopping" % (self.stopped_epoch + 1))


def _get_lr(optimizer):
    hyper = getattr(optimizer, "_hyper", None)
    if isinstance(hyper, dict) and "learning_rate" in hyper:
        lr = hyper["learning_rate"]
        if isinstance(lr, (int, float, np.number)) and not isinstance(lr, bool):
            return float(lr)
    if not hasattr(optimizer, "lr") and not hasattr(optimizer, "learning_rate"):
        raise ValueError('Optimizer must have a "lr" attribute.')
    lr = getattr(optimizer, "learning_rate", None)
    if lr is None:
        lr = optimizer.lr
    return float(_value(lr))


class LearningRateScheduler(Callback):
    """At each epoch's start, ``schedule(epoch, lr)`` (or ``schedule(epoch)``) gives the new
    learning rate, set as ``model.optimizer.learning_rate``; the epoch logs get ``lr``."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        try:
            lr = self.schedule(epoch, _get_lr(optimizer))
        except TypeError:  # the one-argument form
            lr = self.schedule(epoch)
        if hasattr(lr, "dtype") and hasattr(lr.dtype, "is_floating") and not lr.dtype.is_floating:
            raise ValueError("The dtype of Tensor should be float")
        lr = _value(lr)
        if not isinstance(lr, (float, np.floating)):
            if isinstance(lr, (int, np.integer)) and not isinstance(lr, bool):
                lr = float(lr)
            else:
                raise ValueError('The output of the "schedule" function should be float.')
        optimizer.learning_rate = float(lr)
        if self.verbose > 0:
            print("\nEpoch %05d: LearningRateScheduler setting learning rate to %s." % (epoch + 1, lr))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = _get_lr(self.model.optimizer)


class ModelCheckpoint(Callback):
    """Save the model (``model.save(path)``) or its weights (``model.save_weights(path)``)
    after every epoch (``save_freq='epoch'``) or every ``save_freq`` batches. ``filepath``
    is formatted with ``epoch`` (1-based) and the logs: ``'w.{epoch:02d}-{val_loss:.2f}'``.
    ``save_best_only`` saves only when ``monitor`` improves (``mode`` as EarlyStopping)."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", options=None, **kwargs):
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self.period = kwargs.pop("period", 1)
        if kwargs:
            raise TypeError("Unexpected keyword arguments: %s" % sorted(kwargs))
        if save_freq != "epoch" and not (isinstance(save_freq, int) and not isinstance(save_freq, bool)):
            raise ValueError("Unrecognized save_freq: {}".format(save_freq))
        self.monitor_op = _monitor_op(mode, monitor, "ModelCheckpoint")
        self.best = np.inf if self.monitor_op is np.less else -np.inf
        self.epochs_since_last_save = 0
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(self._current_epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_since_last_save += 1
        if self.save_freq == "epoch":
            self._save_model(epoch, logs)

    def _should_save_on_batch(self, batch):
        if self.save_freq == "epoch":
            return False
        if batch <= self._last_batch_seen:  # a new epoch
            added = batch + 1
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _get_file_path(self, epoch, logs):
        try:
            return self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as e:
            raise KeyError('Failed to format this callback filepath: "{}". Reason: {}'.format(self.filepath, e))

    def _write(self, filepath):
        if self.save_weights_only:
            self.model.save_weights(filepath)
        else:
            self.model.save(filepath)

    def _save_model(self, epoch, logs):
        if not (isinstance(self.save_freq, int) or self.epochs_since_last_save >= self.period):
            return
        logs = _numpy_logs(logs)
        self.epochs_since_last_save = 0
        filepath = self._get_file_path(epoch, logs)
        if not self.save_best_only:
            if self.verbose > 0:
                print("\nEpoch %05d: saving model to %s" % (epoch + 1, filepath))
            self._write(filepath)
            return
        current = logs.get(self.monitor)
        if current is None:
            _log.warning("Can save best model only with %s available, skipping.", self.monitor)
        elif self.monitor_op(current, self.best):
            if self.verbose > 0:
                print("\nEpoch %05d: %s improved from %0.5f to %0.5f, saving model to %s"
                      % (epoch + 1, self.monitor, self.best, current, filepath))
            self.best = current
            self._write(filepath)
        elif self.verbose > 0:
            print("\nEpoch %05d: %s did not improve from %0.5f" % (epoch + 1, self.monitor, self.best))


class TerminateOnNaN(Callback):
    """Stop training when a batch's ``loss`` is NaN or infinite."""

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None:
            loss = _value(loss)
            if np.isnan(loss) or np.isinf(loss):
                print("Batch %d: Invalid loss, terminating training" % batch)
                self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback of the given functions: ``on_epoch_begin(epoch, logs)``,
    ``on_epoch_end(epoch, logs)``, ``on_batch_begin(batch, logs)``,
    ``on_batch_end(batch, logs)``, ``on_train_begin(logs)``, ``on_train_end(logs)``
    (and any other hook by keyword)."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_batch_begin=None, on_batch_end=None,
                 on_train_begin=None, on_train_end=None, **kwargs):
        super().__init__()
        self.__dict__.update(kwargs)
        given = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end, "on_batch_begin": on_batch_begin,
                 "on_batch_end": on_batch_end, "on_train_begin": on_train_begin, "on_train_end": on_train_end}
        for hook, fn in given.items():
            if fn is not None:
                setattr(self, hook, fn)
