"""The base of ``tf.keras.callbacks``: ``Callback``, ``CallbackList`` and the helpers that read
logged values (eager tensors, variables, 0-d arrays) as numbers. The protocol between
callbacks and the model is described in ``nbflow/keras/callbacks.py``."""
import numpy as np

from nbflow.framework import hooks

__all__ = ["Callback", "CallbackList"]


def _value(x):
    """A number or array from an eager tensor, a variable (a graph one through the default
    session), a 0-d array or a Python number."""
    if hasattr(x, "numpy"):
        x = x.numpy()
    elif hasattr(x, "graph") and hasattr(x, "dtype") and not isinstance(x, np.ndarray):
        session = hooks.call(hooks.DEFAULT_SESSION)
        if session is None:
            raise ValueError("reading %r needs a default session" % (x,))
        x = session.run(x)
    if isinstance(x, np.ndarray) and x.ndim == 0:
        x = x[()]
    return x


def _numpy_logs(logs):
    return {k: _value(v) for k, v in (logs or {}).items()}


class Callback:
    """Base class: every hook does nothing. ``self.model`` and ``self.params`` are set by
    ``set_model``/``set_params`` (CallbackList calls them)."""

    def __init__(self):
        self.validation_data = None
        self.model = None
        self.params = {}

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self.model = model

    def on_batch_begin(self, batch, logs=None):
        """Legacy name of ``on_train_batch_begin``."""

    def on_batch_end(self, batch, logs=None):
        """Legacy name of ``on_train_batch_end``."""

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass


_HOOKS = ("on_batch_begin", "on_batch_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
          "on_train_batch_end", "on_test_batch_begin", "on_test_batch_end", "on_predict_batch_begin",
          "on_predict_batch_end", "on_train_begin", "on_train_end", "on_test_begin", "on_test_end",
          "on_predict_begin", "on_predict_end")


class CallbackList:
    """Calls each hook on every callback, in order. ``add_history``/``add_progbar`` append a
    History (unless one is given) and a ProgbarLogger (count_mode='steps'); ``params``
    (``verbose``, ``epochs``, ``steps`` ...) and ``model`` are passed to every callback."""

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        self.callbacks = list(callbacks) if callbacks else []
        if add_progbar or add_history:
            from nbflow.keras.callbacks import History, ProgbarLogger  # the standard callbacks, built on this

            if add_progbar and not any(isinstance(c, ProgbarLogger) for c in self.callbacks):
                self.callbacks.append(ProgbarLogger(count_mode="steps"))
            if add_history:
                self._history = next((c for c in self.callbacks if isinstance(c, History)), None)
                if self._history is None:
                    self._history = History()
                    self.callbacks.append(self._history)
        self.model = None
        self.params = {}
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def append(self, callback):
        self.callbacks.append(callback)

    def set_params(self, params):
        self.params = params
        for c in self.callbacks:
            c.set_params(params)

    def set_model(self, model):
        self.model = model
        for c in self.callbacks:
            c.set_model(model)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self):
        return len(self.callbacks)


def _dispatch(hook):
    """A CallbackList method calling ``hook`` on each callback with the logs passed on
    positionally (``{}`` for None), as Keras: ``on_epoch_end(epoch, logs)``, ``on_train_end(logs)``."""
    if "batch" in hook or "epoch" in hook:
        def call(self, index, logs=None):
            logs = {} if logs is None else logs
            for c in self.callbacks:
                getattr(c, hook)(index, logs)
    else:
        def call(self, logs=None):
            logs = {} if logs is None else logs
            for c in self.callbacks:
                getattr(c, hook)(logs)
    call.__name__ = hook
    return call


for _hook in _HOOKS:
    setattr(CallbackList, _hook, _dispatch(_hook))
