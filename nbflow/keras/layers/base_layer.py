"""``tf.keras.layers.Layer``: the TF 2 Keras layer base (a ``tf.Module``).

The API the layers (and the coming models) build on:

* ``__init__(trainable=True, name=None, dtype=None, **kwargs)``; kwargs:
  ``input_shape``, ``input_dim``, ``batch_input_shape``, ``batch_size``
  (kept as ``_batch_input_shape``), ``weights`` (set after the build),
  ``activity_regularizer``, ``autocast``.
* ``build(input_shape)`` creates weights with ``add_weight``; ``call(inputs,
  training=None, ...)`` computes; ``compute_output_shape(input_shape)`` (every
  layer here defines it; the base raises NotImplementedError).
* ``__call__(inputs, *args, **kwargs)``: converts non-tensor inputs, builds once
  from the inputs' static shapes (``_maybe_build``), enters the layer's name
  scope (absolute: ``<current scope>/<name>/``, TF 2's rule, so a layer's ops are
  ``dense/MatMul``, ``dense/MatMul_1`` on a second call), passes ``training``
  only when ``call`` takes it (``None`` becomes the enclosing layer call's value,
  else ``tf.keras.backend.learning_phase()``: 0), applies the activity
  regularizer, and clears the call losses of the layer tree at the outermost call.
* **The symbolic hook.** When any input is symbolic -- an object with a true
  ``_keras_symbolic`` attribute (the functional API's KerasTensor, to come) --
  ``__call__`` hands everything to ``self._call_symbolic(inputs, args, kwargs)``
  and returns what it returns. The base raises NotImplementedError; the models
  work replaces it (it can use ``_maybe_build(input_shapes)`` and
  ``compute_output_shape``, both correct for every layer here).
* Weights: ``add_weight(name, shape, dtype, initializer, regularizer, trainable,
  constraint)`` makes a ``tf.Variable`` named ``<layer scope>/<name>:0``
  (``dense/kernel:0``) under ``init_scope`` (inside a ``tf.function`` trace it is
  an eager variable lifted out, as TF's; in a TF 1 graph a graph variable for
  ``global_variables_initializer``). ``weights`` = ``trainable_weights`` +
  ``non_trainable_weights``, each own weights first, then tracked sublayers'
  (attributes holding layers, in assignment order: ``_layers``); setting
  ``trainable = False`` freezes the layer and its sublayers (its weights move to
  ``non_trainable_weights``). ``get_weights`` / ``set_weights`` (numpy; a TF 1
  graph needs a default Session), ``count_params``.
* Losses: ``losses`` = the weight regularizers (eagerly and in a trace,
  recomputed at each access from the variables, as TF 2; in a TF 1 graph
  computed once when the weight is made and added to REGULARIZATION_LOSSES)
  + the losses ``add_loss`` got during the latest outermost call (activity
  regularization), for this layer and its sublayers. ``add_loss(callable)``
  adds a loss recomputed at each access.
* Updates: ``add_update(op)`` -- eagerly the op already ran; in a trace it is a
  stateful op the function runs; in a TF 1 graph it goes to ``updates`` and the
  UPDATE_OPS collection (run it with the train op).
* ``get_config`` / ``from_config``, ``name`` (``dense``, ``dense_1``, ...:
  ``backend.unique_object_name``), ``dtype`` (a string, ``"float32"`` unless
  given; in a TF 1 graph unset dtypes follow the first input, as TF 1.15),
  ``built``, ``input_spec`` (kept, not enforced), ``supports_masking`` (False).

Floating inputs are cast to the layer's dtype in TF 2 mode (Keras' autocast).
"""
import contextlib
import inspect
import threading

import numpy as np

from nbflow.framework import context, dtypes, nest
from nbflow.framework.eager_tensor import is_eager_variable
from nbflow.framework.graph import GraphKeys, Tensor, control_dependencies, get_default_graph, name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.keras import backend, initializers, regularizers
from nbflow.module.module import Module, _ModuleNameScope
from nbflow.ops import array_ops as A
from nbflow.ops import math_ops as M
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.variables import Variable

__all__ = ["Layer", "InputSpec", "to_snake_case", "is_symbolic_input"]

_ALLOWED_KWARGS = {"input_shape", "input_dim", "batch_input_shape", "batch_size", "weights", "activity_regularizer",
                   "autocast", "dynamic"}


class _CallContext(threading.local):
    def __init__(self):
        self.depth = 0
        self.training = []


_call_context = _CallContext()


def to_snake_case(name):
    """``Conv2D`` -> ``conv2d``, ``MaxPooling2D`` -> ``max_pooling2d`` (Keras' rule)."""
    import re
    intermediate = re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    insecure = re.sub("([a-z])([A-Z])", r"\1_\2", intermediate).lower()
    return insecure if insecure[0] != "_" else "private" + insecure


def is_symbolic_input(x):
    """The hook's test: a functional-API placeholder (KerasTensor) says so with ``_keras_symbolic``."""
    return bool(getattr(x, "_keras_symbolic", False))


class InputSpec:
    """What a layer accepts (``dtype``, ``shape``, ``ndim``, ``max_ndim``, ``min_ndim``, ``axes``);
    kept for introspection, not enforced."""

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None, axes=None):
        self.dtype = dtype
        self.shape = shape
        self.ndim = len(shape) if shape is not None else ndim
        self.max_ndim = max_ndim
        self.min_ndim = min_ndim
        self.axes = axes or {}

    def __repr__(self):
        return "InputSpec(%s)" % ", ".join("%s=%s" % (k, v) for k, v in vars(self).items() if v)


_is_eager_variable = is_eager_variable


def _init_scope():
    """``init_scope`` out of a ``tf.function`` trace (weights become eager variables); a
    plain graph stays the default, even in an eager program (TF's init_scope keeps it)."""
    if context.eager_enabled() and getattr(get_default_graph(), "lift_variables", False):
        return context.init_scope()
    return contextlib.nullcontext()


def _current_scope():
    """The name scope ops are built in now, ending in '/' (or '')."""
    if context.executing_eagerly():
        return context.eager_name_scope_stack()
    stack = get_default_graph()._name_stack
    return stack + "/" if stack else ""


class Layer(Module):
    """Base class of the Keras layers; see the module docstring for the API."""

    def __init__(self, trainable=True, name=None, dtype=None, **kwargs):
        for kw in kwargs:
            if kw not in _ALLOWED_KWARGS:
                raise TypeError("Keyword argument not understood: %s" % kw)
        self.__dict__.setdefault("_layers", [])
        self._trainable = bool(trainable)
        self.built = False
        self._init_set_name(name)
        self._dtype = None if dtype is None else dtypes.as_dtype(dtype)
        self._trainable_weights = []
        self._non_trainable_weights = []
        self._callable_losses = []
        self._graph_losses = []
        self._call_losses = []
        self._updates = []
        self._activity_regularizer = regularizers.get(kwargs.pop("activity_regularizer", None))
        self._autocast = kwargs.pop("autocast", True)
        self._initial_weights = kwargs.pop("weights", None)
        self.input_spec = None
        self.supports_masking = False
        self._batch_input_shape = None
        if "batch_input_shape" in kwargs:
            self._batch_input_shape = tuple(kwargs["batch_input_shape"])
        elif "input_shape" in kwargs or "input_dim" in kwargs:
            shape = kwargs["input_shape"] if "input_shape" in kwargs else (kwargs["input_dim"],)
            self._batch_input_shape = (kwargs.get("batch_size"),) + tuple(shape)
        params = inspect.signature(self.call).parameters
        self._expects_training_arg = "training" in params or any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        self._scope = None

    def __setattr__(self, name, value):
        # sublayers are tracked in assignment order (their weights follow the layer's own)
        layers = self.__dict__.setdefault("_layers", [])
        if not name.startswith("__"):
            for v in nest.flatten(value) if isinstance(value, (list, tuple, dict)) else [value]:
                if isinstance(v, Layer) and v is not self and not any(v is t for t in layers):
                    layers.append(v)
        object.__setattr__(self, name, value)

    # -- naming ------------------------------------------------------------------------------
    def _init_set_name(self, name):
        if name is None:
            self._name = backend.unique_object_name(to_snake_case(type(self).__name__))
        elif isinstance(name, str):
            backend.observe_object_name(name)
            self._name = name
        else:
            raise TypeError("Expected `name` argument to be a string, but got: %r" % (name,))

    @property
    def name(self):
        return self._name

    def _scope_name(self):
        """The absolute scope the layer's ops and weights go in: ``<current scope><name>/``."""
        return _current_scope() + self._name + "/"

    @property
    def name_scope(self):
        return _ModuleNameScope(self._scope or self._scope_name())

    # -- properties ----------------------------------------------------------------------------
    @property
    def dtype(self):
        """The layer's dtype name ("float32" unless given or, in a TF 1 graph, taken from its first input)."""
        return (self._dtype or dtypes.as_dtype(backend.floatx())).name

    @property
    def _compute_dtype(self):
        return self._dtype or dtypes.as_dtype(backend.floatx())

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for layer in self._layers:
            layer.trainable = value

    @property
    def activity_regularizer(self):
        return self._activity_regularizer

    @activity_regularizer.setter
    def activity_regularizer(self, value):
        self._activity_regularizer = regularizers.get(value)

    def _flatten_layers(self, include_self=True):
        """This layer (optionally) and every tracked sublayer, depth first, each once."""
        seen, out = set(), []

        def walk(layer):
            if id(layer) in seen:
                return
            seen.add(id(layer))
            out.append(layer)
            for sub in layer._layers:
                walk(sub)

        walk(self)
        return out if include_self else out[1:]

    @property
    def trainable_weights(self):
        if not self._trainable:
            return []
        out = list(self._trainable_weights)
        for sub in self._layers:
            out.extend(sub.trainable_weights)
        return _dedup(out)

    @property
    def non_trainable_weights(self):
        if self._trainable:
            out = list(self._non_trainable_weights)
            for sub in self._layers:
                out.extend(sub.non_trainable_weights)
        else:
            out = list(self._trainable_weights) + list(self._non_trainable_weights)
            for sub in self._layers:
                out.extend(sub.weights)
        return _dedup(out)

    @property
    def weights(self):
        return _dedup(self.trainable_weights + self.non_trainable_weights)

    @property
    def trainable_variables(self):
        return self.trainable_weights

    @property
    def non_trainable_variables(self):
        return self.non_trainable_weights

    @property
    def variables(self):
        return self.weights

    @property
    def updates(self):
        out = []
        for layer in self._flatten_layers():
            out.extend(layer._updates)
        return out

    @property
    def losses(self):
        """Regularization losses of this layer and its sublayers (see the module docstring)."""
        out = []
        for layer in self._flatten_layers():
            for fn in layer._callable_losses:
                loss = fn()
                if loss is not None:
                    out.append(loss)
            out.extend(layer._graph_losses)
            out.extend(layer._call_losses)
        return out

    def count_params(self):
        if not self.built:
            raise ValueError("You tried to call `count_params` on %s, but the layer isn't built. You can build it "
                             "manually via: `%s.build(batch_input_shape)`." % (self.name, self.name))
        return int(sum(backend.count_params(w) for w in self.weights))

    # -- weights, losses, updates ----------------------------------------------------------------
    def add_weight(self, name=None, shape=None, dtype=None, initializer=None, regularizer=None, trainable=None,
                   constraint=None, **kwargs):
        """A new ``tf.Variable`` ``<layer scope>/<name>:0``, tracked as a (non-)trainable weight."""
        for kw in kwargs:
            if kw not in ("use_resource", "synchronization", "aggregation", "partitioner", "getter",
                          "experimental_autocast", "caching_device"):
                raise TypeError("Unknown keyword argument: %s" % kw)
        shape = () if shape is None else tuple(int(d) for d in TensorShape(shape).as_list())
        dtype = dtypes.as_dtype(dtype) if dtype is not None else self._compute_dtype
        if trainable is None:
            trainable = True
        if initializer is None:
            initializer = "glorot_uniform" if dtype.is_floating else "zeros"
        initializer = initializers.get(initializer)
        regularizer = regularizers.get(regularizer)
        scope = self._scope or self._scope_name()
        with _init_scope():
            with control_dependencies(None), name_scope(scope):
                variable = Variable(lambda: initializer(list(shape), dtype=dtype), name=name or "Variable",
                                    trainable=trainable, dtype=dtype, constraint=constraint)
                if regularizer is not None:
                    self._add_weight_regularizer(name, variable, regularizer)
        (self._trainable_weights if trainable else self._non_trainable_weights).append(variable)
        return variable

    def _add_weight_regularizer(self, name, variable, regularizer):
        if _is_eager_variable(variable):
            def loss_fn():
                with name_scope((name or "Variable") + "/Regularizer"):
                    return regularizer(convert_to_tensor(variable))
            self._callable_losses.append(loss_fn)
            return
        with name_scope((name or "Variable") + "/Regularizer"):
            loss = convert_to_tensor(regularizer(variable))
        self._graph_losses.append(loss)
        get_default_graph().add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)

    def add_loss(self, losses, inputs=None):
        """Tensors (or numbers) join the call losses; zero-argument callables are evaluated at each access."""
        for loss in nest.flatten(losses) if isinstance(losses, (list, tuple)) else [losses]:
            if loss is None:
                continue
            if callable(loss) and not isinstance(loss, Tensor):
                self._callable_losses.append(loss)
                continue
            loss = convert_to_tensor(loss)
            self._call_losses.append(loss)
            if not context.eager_enabled():
                ref = get_default_graph().get_collection_ref(GraphKeys.REGULARIZATION_LOSSES)
                if not any(loss is t for t in ref):
                    ref.append(loss)

    def add_update(self, updates, inputs=None):
        for u in nest.flatten(updates) if isinstance(updates, (list, tuple)) else [updates]:
            if callable(u) and not isinstance(u, (Tensor, Variable)) and not hasattr(u, "_as_graph_element"):
                u = u()
            if context.eager_enabled() or u is None:
                continue  # eagerly it ran; in a tf.function trace it is a stateful op the function runs
            self._updates.append(u)
            ref = get_default_graph().get_collection_ref(GraphKeys.UPDATE_OPS)
            if not any(u is t for t in ref):
                ref.append(u)

    def get_weights(self):
        return backend.batch_get_value(self.weights)

    def set_weights(self, weights):
        params = self.weights
        if len(params) != len(weights):
            raise ValueError("You called `set_weights(weights)` on layer \"%s\" with a weight list of length %d, "
                             "but the layer was expecting %d weights." % (self.name, len(weights), len(params)))
        pairs = []
        for p, w in zip(params, weights):
            w = np.asarray(w)
            if tuple(p.shape.as_list()) != tuple(w.shape):
                raise ValueError("Layer %s weight shape %s is not compatible with provided weight shape %s"
                                 % (self.name, tuple(p.shape.as_list()), w.shape))
            pairs.append((p, w))
        backend.batch_set_value(pairs)

    # -- subclass hooks ---------------------------------------------------------------------------------
    def build(self, input_shape):
        self.built = True

    def call(self, inputs, *args, **kwargs):
        return inputs

    def compute_output_shape(self, input_shape):
        raise NotImplementedError("%s does not define compute_output_shape" % type(self).__name__)

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = self._batch_input_shape
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # -- calling ------------------------------------------------------------------------------------
    def _maybe_build(self, input_shapes):
        """Build once from ``input_shapes`` (TensorShapes, nested as the inputs), then set ``weights=``."""
        if self.built:
            return
        scope = self._scope or self._scope_name()
        saved, self._scope = self._scope, scope
        try:
            with _init_scope():
                with name_scope(scope):
                    self.build(input_shapes)
        finally:
            self._scope = saved
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def _call_symbolic(self, inputs, args, kwargs):
        """The functional API's entry point (inputs hold KerasTensors): not built yet."""
        raise NotImplementedError("Calling a layer on symbolic (functional API) inputs is not supported yet")

    def _convert_input(self, x):
        if x is None or isinstance(x, Variable):
            return convert_to_tensor(x) if x is not None else None
        if not isinstance(x, Tensor):
            if isinstance(x, (float, np.floating)) or (isinstance(x, (list, tuple, np.ndarray))
                                                       and np.asarray(x).dtype.kind == "f"):
                x = convert_to_tensor(x, dtype=self._dtype)
            else:
                x = convert_to_tensor(x)
        if self._dtype is None and not context.eager_enabled() and x.dtype.is_floating:
            self._dtype = x.dtype  # TF 1.15: a layer's dtype follows its first input
        if self._autocast and x.dtype.is_floating and x.dtype != self._compute_dtype and context.eager_enabled():
            x = M.cast(x, self._compute_dtype)
        return x

    def __call__(self, inputs, *args, **kwargs):
        flat = nest.flatten(inputs)
        if any(is_symbolic_input(x) for x in flat):
            return self._call_symbolic(inputs, args, kwargs)
        outermost = _call_context.depth == 0
        if outermost:
            for layer in self._flatten_layers():
                layer._call_losses = []
        given_training = kwargs.get("training")
        training_given = given_training is not None
        if self._expects_training_arg:
            training = kwargs.get("training")
            if training is None:
                training = _call_context.training[-1] if _call_context.training else backend.learning_phase()
            kwargs["training"] = training
        else:
            kwargs.pop("training", None)
        saved_scope, self._scope = self._scope, self._scope_name()
        _call_context.depth += 1
        if training_given:
            _call_context.training.append(given_training)
        try:
            with name_scope(self._scope):
                inputs = nest.map_structure(self._convert_input, inputs)
                if not self.built:
                    self._maybe_build(nest.map_structure(lambda t: None if t is None else t.shape, inputs))
                outputs = self.call(inputs, *args, **kwargs)
                if outputs is None:
                    raise ValueError("A layer's `call` method should return a Tensor or a list of Tensors, not "
                                     "None (layer: %s)." % self.name)
                if self._activity_regularizer is not None:
                    self._handle_activity_regularization(outputs)
        finally:
            if training_given:
                _call_context.training.pop()
            _call_context.depth -= 1
            self._scope = saved_scope
        return outputs

    def _handle_activity_regularization(self, outputs):
        """The activity regularizer of each output, divided by the batch size (as Keras)."""
        with name_scope("ActivityRegularizer"):
            for out in nest.flatten(outputs):
                loss = convert_to_tensor(self._activity_regularizer(out))
                batch = M.cast(A.shape(out)[0], loss.dtype)
                self.add_loss(loss / batch)

    def __repr__(self):
        return "<%s name=%s, built=%s>" % (type(self).__name__, self.name, self.built)


def _dedup(items):
    seen, out = set(), []
    for v in items:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out
