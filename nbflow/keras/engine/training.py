"""``tf.keras.Model``: a Layer with ``compile`` / ``fit`` / ``evaluate`` / ``predict``.

``Model(inputs, outputs)`` makes a ``Functional`` model (functional.py); a subclass
defines ``__init__`` (layers set as attributes are tracked by the Layer base) and
``call``.

The steps. ``train_step(data)``: forward under a ``GradientTape`` with
``training=True``, the compiled loss (each output's Loss object, weighted by
``loss_weights``) plus ``model.losses`` (regularization), ``optimizer.apply_gradients``,
each metric's ``update_state``; it returns ``{'loss': batch loss, <metric>: result}``.
``make_train_function`` wraps it in ONE ``tf.function`` (unless ``run_eagerly``), so
a batch is one compiled plan run (the last partial batch traces once more).
``fit`` per batch: ``on_train_batch_begin``, the step, the logs (``loss``: the mean
over the epoch's samples so far, metrics: their running results),
``on_train_batch_end``; per epoch: reset the metrics, validation
(``evaluate`` on ``validation_data`` or the held-out ``validation_split``) every
``validation_freq`` epochs, ``on_epoch_end`` with ``val_*`` entries.

Eager execution is required by ``fit``/``evaluate``/``train_on_batch``
(NotImplementedError in a TF 1 graph); ``predict`` and ``model(x)`` also work in a
TF 1 graph (predict runs the outputs of one placeholder-fed call in the default
Session, or a Session it makes and initializes the model's weights in).
"""
import time

import numpy as np

from nbflow.framework import context
from nbflow.keras import callbacks as callbacks_module
from nbflow.keras import compile_utils, optimizers
from nbflow.keras.engine import data_adapter, saving, summary
from nbflow.keras.engine.node import flatten, map_structure, pack_as
from nbflow.keras.layers.base_layer import Layer

__all__ = ["Model"]


def _is_functional_call(args, kwargs):
    return (len(args) >= 2 or ("inputs" in kwargs and "outputs" in kwargs)
            or (len(args) == 1 and "outputs" in kwargs))


def _require_eager(what):
    if not context.executing_eagerly():
        raise NotImplementedError(
            "Model.%s requires eager execution in nbflow (TF 2 behaviour): call tf.enable_eager_execution() at "
            "program start. In a TF 1 graph, model(x) and predict work; train with a tf.train optimizer on "
            "model(x)'s loss." % what)


def _numpy(x):
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def _rename(metric, name):
    """A metric's log name (kmetrics' Metric keeps it in ``_metric_name``)."""
    if hasattr(metric, "_metric_name"):
        metric._metric_name = name
    else:
        metric._name = name


def _should_validate(epoch, validation_freq):
    if isinstance(validation_freq, int):
        return (epoch + 1) % validation_freq == 0
    return (epoch + 1) in validation_freq


class Model(Layer):
    """A trainable stack of layers (see the module docstring)."""

    def __new__(cls, *args, **kwargs):
        if cls is Model and _is_functional_call(args, kwargs):
            from nbflow.keras.engine.functional import Functional
            return Functional.__new__(Functional)
        return super().__new__(cls)

    def __init__(self, *args, **kwargs):
        if _is_functional_call(args, kwargs) and type(self) is Model:
            raise TypeError("Model(inputs, outputs) is made by Functional")
        name = kwargs.pop("name", None)
        trainable = kwargs.pop("trainable", True)
        dtype = kwargs.pop("dtype", None)
        super().__init__(trainable=trainable, name=name, dtype=dtype, **kwargs)
        self._is_graph_network = False
        self.optimizer = None
        self.stop_training = False
        self.history = None
        self._is_compiled = False
        self._run_eagerly = None
        self._reset_compiled()

    def _reset_compiled(self):
        self.__dict__["_train_function"] = None
        self.__dict__["_test_function"] = None
        self.__dict__["_predict_function"] = None
        self.__dict__["_compiled_metrics"] = None

    # -- layers -------------------------------------------------------------------------------
    @property
    def layers(self):
        return [l for l in self._layers if isinstance(l, Layer)]

    def get_layer(self, name=None, index=None):
        if index is not None and name is not None:
            raise ValueError("Provide only a layer name or a layer index. Received: index=%s, name=%s."
                             % (index, name))
        if index is not None:
            if len(self.layers) <= index:
                raise ValueError("Was asked to retrieve layer at index %d but model only has %d layers."
                                 % (index, len(self.layers)))
            return self.layers[index]
        if name is not None:
            for layer in self.layers:
                if layer.name == name:
                    return layer
            raise ValueError("No such layer: %s. Existing layers are: %s." % (name, [l.name for l in self.layers]))
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    def call(self, inputs, training=None, mask=None):
        raise NotImplementedError("When subclassing the `Model` class, you should implement a `call` method.")

    def build(self, input_shape):
        """Build a subclassed model by calling it on placeholders of ``input_shape`` (a scratch graph)."""
        if self._is_graph_network:
            self.built = True
            return
        if input_shape is None:
            raise ValueError("Input shape must be defined when calling build on a model subclass network.")
        from nbflow.keras.engine.keras_tensor import KerasTensor
        from nbflow.keras.engine.node import _specs_by_scratch_call
        from nbflow.framework.tensor_shape import TensorShape

        def spec(s):
            return KerasTensor(TensorShape(s), self._compute_dtype)
        shapes = input_shape
        if isinstance(shapes, (list, tuple)) and shapes and isinstance(shapes[0], (list, tuple, TensorShape)):
            inputs = [spec(s) for s in shapes]
        else:
            inputs = spec(shapes)
        self.built = True
        _specs_by_scratch_call(self, inputs, (), {})

    # -- compile ------------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, weighted_metrics=None,
                run_eagerly=None, steps_per_execution=None, **kwargs):
        for kw in kwargs:
            if kw not in ("sample_weight_mode", "target_tensors", "distribute", "experimental_steps_per_execution"):
                raise TypeError("Invalid keyword argument(s) in `compile`: %s" % kw)
        self.optimizer = optimizers.get(optimizer)
        self.loss = loss
        self._loss_weights = loss_weights
        self._metric_ids = metrics
        self._weighted_metric_ids = weighted_metrics
        self._run_eagerly = run_eagerly
        self._steps_per_execution = int(steps_per_execution or 1)
        self.stop_training = False
        self._is_compiled = True
        self._reset_compiled()

    @property
    def run_eagerly(self):
        return bool(self._run_eagerly)

    @run_eagerly.setter
    def run_eagerly(self, value):
        self._run_eagerly = value
        self._reset_compiled()

    def _output_names(self):
        names = getattr(self, "output_names", None)
        return list(names) if names else None

    def _per_output(self, spec, n, what):
        """``spec`` (a value, a list, or a dict by output name) as a list of ``n``."""
        if isinstance(spec, dict):
            names = self._output_names() or []
            if n == 1 and len(spec) == 1 and not names:
                return list(spec.values())
            return [spec.get(name) for name in names]
        if isinstance(spec, (list, tuple)) and what != "metrics":
            if len(spec) != n:
                raise ValueError("When passing a list as %s, it should have one entry per model output. The model "
                                 "has %d outputs, but you passed %s=%s" % (what, n, what, spec))
            return list(spec)
        if isinstance(spec, (list, tuple)) and n > 1 and spec and all(isinstance(s, (list, tuple)) for s in spec):
            return list(spec)
        return [spec] * n

    def _build_compiled(self, y_pred, y_true):
        """Resolve the losses and metrics once the outputs' (and targets') shapes are known."""
        if self.__dict__.get("_compiled_metrics") is not None:
            return
        outs = flatten(y_pred)
        trues = flatten(y_true) if y_true is not None else [None] * len(outs)
        n = len(outs)
        losses = self._per_output(self.loss, n, "loss")
        self._loss_fns = [compile_utils.resolve_loss(l) if l is not None else None for l in losses]
        weights = self._loss_weights
        self._loss_weight_list = self._per_output(weights, n, "loss_weights") if weights is not None else [1.0] * n
        names = self._output_names() or ["output_%d" % (i + 1) for i in range(n)]
        metrics = []
        for i, ids in enumerate(self._per_output(self._metric_ids, n, "metrics")):
            t_shape = getattr(trues[i], "shape", None) if i < len(trues) else None
            for m in compile_utils.resolve_metrics(ids, losses[i], outs[i].shape, t_shape):
                if n > 1:
                    _rename(m, "%s_%s" % (names[i], m.name))
                metrics.append((i, m))
        self.__dict__["_compiled_metrics"] = metrics
        self._output_loss_names = ["%s_loss" % names[i] for i in range(n)] if n > 1 else []

    @property
    def metrics(self):
        return [m for _, m in (self.__dict__.get("_compiled_metrics") or [])]

    @property
    def metrics_names(self):
        return ["loss"] + list(getattr(self, "_output_loss_names", [])) + [m.name for m in self.metrics]

    def _ordered(self, logs):
        """``logs`` in ``metrics_names`` order (a traced function returns its dict sorted), others after."""
        names = self.metrics_names
        out = {k: logs[k] for k in names if k in logs}
        out.update((k, v) for k, v in logs.items() if k not in out)
        return out

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    # -- steps -----------------------------------------------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None):
        """The compiled loss of the outputs plus ``self.losses``; returns (total, per-output losses)."""
        outs, trues = flatten(y_pred), flatten(y)
        per_output = []
        total = None
        for i, out in enumerate(outs):
            fn = self._loss_fns[i]
            if fn is None:
                continue
            loss = fn(trues[i], out, sample_weight=sample_weight)
            w = self._loss_weight_list[i]
            per_output.append(loss)
            loss = loss * w if w != 1.0 else loss
            total = loss if total is None else total + loss
        if total is None and not self.losses:
            raise ValueError("No loss to compute: pass `loss=` to compile() or add losses with `add_loss`")
        for reg in self.losses:
            total = reg if total is None else total + reg
        return total, per_output

    def _logs(self, loss, per_output):
        logs = {"loss": loss}
        for name, l in zip(getattr(self, "_output_loss_names", []), per_output):
            logs[name] = l
        for i, m in self.__dict__["_compiled_metrics"]:
            logs[m.name] = m.result()
        return logs

    def _update_metrics(self, y, y_pred, sample_weight):
        outs, trues = flatten(y_pred), flatten(y)
        for i, m in self.__dict__["_compiled_metrics"]:
            m.update_state(trues[i], outs[i], sample_weight=sample_weight)

    def train_step(self, data):
        from nbflow.autodiff.tape import GradientTape
        x, y, sample_weight = data_adapter.unpack_x_y_sample_weight(data)
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss, per_output = self.compute_loss(x, y, y_pred, sample_weight)
        variables = self.trainable_weights
        grads = tape.gradient(loss, variables)
        self.optimizer.apply_gradients([(g, v) for g, v in zip(grads, variables) if g is not None])
        self._update_metrics(y, y_pred, sample_weight)
        return self._logs(loss, per_output)

    def test_step(self, data):
        x, y, sample_weight = data_adapter.unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        loss, per_output = self.compute_loss(x, y, y_pred, sample_weight)
        self._update_metrics(y, y_pred, sample_weight)
        return self._logs(loss, per_output)

    def predict_step(self, data):
        x, _, _ = data_adapter.unpack_x_y_sample_weight(data)
        return self(x, training=False)

    def _make_function(self, key, step):
        fn = self.__dict__.get(key)
        if fn is None:
            def run(x, y=None, sample_weight=None):
                return step((x, y, sample_weight))
            if not self.run_eagerly:
                from nbflow.eager.function import function
                run = function(run, autograph=type(self).train_step is not Model.train_step)
            fn = self.__dict__[key] = run
        return fn

    def make_train_function(self):
        return self._make_function("_train_function", self.train_step)

    def make_test_function(self):
        return self._make_function("_test_function", self.test_step)

    def make_predict_function(self):
        return self._make_function("_predict_function", self.predict_step)

    def _prepare(self, x, y, what):
        """Checks, then builds the model and the compiled losses/metrics on the first batch (eagerly)."""
        _require_eager(what)
        if not self._is_compiled:
            raise RuntimeError("You must compile your model before training/testing. Use `model.compile(optimizer, "
                               "loss)`.")
        if self.__dict__.get("_compiled_metrics") is None:
            y_pred = self(x, training=False)
            self._build_compiled(y_pred, y)

    # -- fit ------------------------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1, **kwargs):
        if kwargs:
            raise TypeError("Invalid keyword argument(s) in `fit`: %s" % sorted(kwargs))
        if class_weight is not None:
            raise NotImplementedError("fit(class_weight=...) is not supported by nbflow; pass sample_weight")
        _require_eager("fit")
        verbose = 1 if verbose == "auto" else int(verbose)
        if validation_split and validation_data is None:
            if data_adapter.is_dataset(x):
                raise ValueError("`validation_split` is only supported for Tensors or NumPy arrays, found a "
                                 "tf.data.Dataset")
            (x, y, sample_weight), validation_data = data_adapter.train_validation_split(
                (x, y, sample_weight), validation_split)
        handler = data_adapter.DataHandler(x, y, sample_weight, batch_size, steps_per_epoch, initial_epoch, epochs,
                                           shuffle)
        val_args = None
        if validation_data is not None:
            if data_adapter.is_dataset(validation_data):
                val_args = (validation_data, None, None)
            else:
                vx, vy, vsw = data_adapter.unpack_x_y_sample_weight(tuple(validation_data))
                val_args = (vx, vy, vsw)
        cbs = callbacks if isinstance(callbacks, callbacks_module.CallbackList) else callbacks_module.CallbackList(
            callbacks, add_history=True, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=epochs,
            steps=handler.steps)
        self.stop_training = False
        train_function = None
        cbs.on_train_begin()
        logs = {}
        for epoch, iterator in handler.enumerate_epochs():
            self.reset_metrics()
            cbs.on_epoch_begin(epoch)
            seen, loss_sum, logs = 0, 0.0, {}
            start = time.time()
            for step, (bx, by, bsw) in enumerate(iterator):
                if train_function is None:
                    self._prepare(bx, by, "fit")
                    train_function = self.make_train_function()
                cbs.on_train_batch_begin(step)
                out = train_function(bx, by, bsw)
                n = int(flatten(bx)[0].shape[0])
                seen += n
                values = self._ordered({k: float(_numpy(v)) for k, v in out.items()})
                loss_sum += values["loss"] * n
                values["loss"] = loss_sum / seen
                logs = values
                cbs.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            if seen == 0:
                raise ValueError("fit got no data for epoch %d (an empty or exhausted dataset)" % (epoch + 1))
            logs = dict(logs)
            if val_args is not None and _should_validate(epoch, validation_freq):
                val_logs = self.evaluate(val_args[0], val_args[1], sample_weight=val_args[2],
                                         batch_size=validation_batch_size or batch_size, steps=validation_steps,
                                         verbose=0, return_dict=True, _internal=True)
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            self.__dict__["_last_epoch_time"] = time.time() - start
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        return self.history

    # -- evaluate / predict --------------------------------------------------------------------------------
    def evaluate(self, x=None, y=None, batch_size=None, verbose=1, sample_weight=None, steps=None, callbacks=None,
                 return_dict=False, _internal=False, **kwargs):
        _require_eager("evaluate")
        handler = data_adapter.DataHandler(x, y, sample_weight, batch_size, steps, 0, 1, False)
        cbs = callbacks if isinstance(callbacks, callbacks_module.CallbackList) else callbacks_module.CallbackList(
            callbacks, add_progbar=verbose != 0 and not _internal, model=self, verbose=verbose, epochs=1,
            steps=handler.steps)
        test_function = None
        self.reset_metrics()
        cbs.on_test_begin()
        seen, sums, logs = 0, {}, {}
        for _, iterator in handler.enumerate_epochs():
            for step, (bx, by, bsw) in enumerate(iterator):
                if test_function is None:
                    self._prepare(bx, by, "evaluate")
                    self.reset_metrics()
                    test_function = self.make_test_function()
                cbs.on_test_batch_begin(step)
                out = test_function(bx, by, bsw)
                n = int(flatten(bx)[0].shape[0])
                seen += n
                logs = {}
                for k, v in self._ordered(out).items():
                    v = float(_numpy(v))
                    if k == "loss" or k.endswith("_loss") and k in getattr(self, "_output_loss_names", []):
                        sums[k] = sums.get(k, 0.0) + v * n
                        v = sums[k] / seen
                    logs[k] = v
                cbs.on_test_batch_end(step, logs)
        cbs.on_test_end(logs)
        if return_dict:
            return logs
        values = [logs[k] for k in self.metrics_names if k in logs]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None, **kwargs):
        if not context.executing_eagerly():
            return self._predict_graph(x, batch_size)
        handler = data_adapter.DataHandler(x, None, None, batch_size, steps, 0, 1, False)
        predict_function = self.make_predict_function()
        outputs = []
        for _, iterator in handler.enumerate_epochs():
            for bx, _, _ in iterator:
                outputs.append(map_structure(_numpy, predict_function(bx)))
        if not outputs:
            raise ValueError("Expected input data to be non-empty.")
        return data_adapter.concat(outputs)

    def _predict_graph(self, x, batch_size):
        """TF 1 graph mode: one call on placeholders, run batch by batch in a Session."""
        from nbflow.framework.graph import get_default_graph
        from nbflow.ops.constant_op import placeholder
        from nbflow.runtime.session import Session, get_default_session
        graph = get_default_graph()
        cache = self.__dict__.setdefault("_graph_predict", {})
        if id(graph) not in cache:
            xs = map_structure(lambda a: np.asarray(a), x)
            phs = map_structure(lambda a: placeholder(a.dtype if a.dtype != np.float64 else np.float32,
                                                      (None,) + a.shape[1:]), xs)
            out = self(phs, training=False)
            cache[id(graph)] = (graph, phs, out, None)
        _, phs, out, own = cache[id(graph)]
        sess = get_default_session()
        if sess is None:
            if own is None:
                from nbflow.ops.variables import variables_initializer
                own = Session(graph=graph)
                own.run(variables_initializer(self.weights))
                cache[id(graph)] = (graph, phs, out, own)
            sess = own
        handler = data_adapter.DataHandler(x, None, None, batch_size, None, 0, 1, False)
        results = []
        for _, iterator in handler.enumerate_epochs():
            for bx, _, _ in iterator:
                feed = dict(zip(flatten(phs), flatten(bx)))
                results.append(pack_as(out, sess.run(flatten(out), feed_dict=feed)))
        return data_adapter.concat(results)

    # -- single batches -------------------------------------------------------------------------------------
    def _on_batch(self, key, x, y, sample_weight, reset_metrics, return_dict):
        _require_eager(key)
        x, y, sample_weight = (map_structure(data_adapter._to_numpy, v) for v in (x, y, sample_weight))
        self._prepare(x, y, key)
        if reset_metrics:
            self.reset_metrics()
        fn = self.make_train_function() if key == "train_on_batch" else self.make_test_function()
        logs = self._ordered({k: float(_numpy(v)) for k, v in fn(x, y, sample_weight).items()})
        if return_dict:
            return logs
        values = [logs[k] for k in self.metrics_names if k in logs]
        return values[0] if len(values) == 1 else values

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, reset_metrics=True,
                       return_dict=False):
        return self._on_batch("train_on_batch", x, y, sample_weight, reset_metrics, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, reset_metrics=True, return_dict=False):
        return self._on_batch("test_on_batch", x, y, sample_weight, reset_metrics, return_dict)

    def predict_on_batch(self, x):
        if not context.executing_eagerly():
            return self._predict_graph(x, None)
        x = map_structure(data_adapter._to_numpy, x)
        return map_structure(_numpy, self.make_predict_function()(x))

    # -- summary, weights ------------------------------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None):
        if not self.built:
            raise ValueError("This model has not yet been built. Build the model first by calling `build()` or "
                             "calling `fit()` with some data, or specify an `input_shape` argument in the first "
                             "layer(s) for automatic build.")
        summary.print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn)

    def _trackable_children(self):
        return saving.trackable_children(self)

    def save_weights(self, filepath, overwrite=True, save_format=None, options=None):
        saving.save_weights(self, filepath, overwrite=overwrite, save_format=save_format)

    def load_weights(self, filepath, by_name=False, skip_mismatch=False, options=None):
        return saving.load_weights(self, filepath, by_name=by_name, skip_mismatch=skip_mismatch)

    def save(self, filepath, overwrite=True, include_optimizer=True, save_format=None, **kwargs):
        """Saves the weights only (``<filepath>/variables/variables``, SavedModel's layout); no architecture."""
        saving.save_model_weights(self, filepath, overwrite=overwrite, save_format=save_format)

    def get_config(self):
        raise NotImplementedError("Model.get_config is not supported by nbflow (no model serialization)")
