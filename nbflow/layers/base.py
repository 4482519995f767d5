"""``tf.layers.Layer``: the TF 1.x layer base class (variable-scope based).

How names and sharing work, as in TF 1.15:

* A layer's variables live in a variable scope chosen the first time it is
  called: ``name`` when given (functional form: the scope is ``name``, opened
  when the layer is made, so a second ``dense(..., name="d")`` without
  ``reuse`` is an error and with ``reuse=True`` shares ``d/kernel``), else a
  unique scope after the class name (``dense``, ``dense_1``, ...).
* Calling a layer object again reuses its variables; its ops go under the
  same name scope (``dense/MatMul_1``).
* ``layer.name`` of an unnamed layer is the class name made unique per graph
  the way TF numbers it (``dense_1`` for the first ``Dense()``).
* Update ops (batch-norm moving averages) go to ``tf.GraphKeys.UPDATE_OPS``,
  weight-regularizer losses to ``REGULARIZATION_LOSSES``.
"""
import re

from nbflow.framework import dtypes
from nbflow.framework.graph import GraphKeys, Tensor, get_default_graph, name_scope
from nbflow.ops import array_ops as A
from nbflow.ops import init_ops
from nbflow.ops import math_ops as M
from nbflow.ops.base import constant_value, convert_to_tensor
from nbflow.ops import nn_ops
from nbflow.ops.nn_ops import bias_add
from nbflow.ops.variable_scope import VariableScope, get_variable, variable_scope
from nbflow.ops.variables import Variable

__all__ = ["Layer"]

_ALLOWED_KWARGS = {"_scope", "_reuse", "activity_regularizer", "input_shape", "batch_input_shape", "batch_size",
                   "autocast", "dynamic"}


def to_snake_case(name):
    """``Conv2D`` -> ``conv2d``, ``MaxPooling2D`` -> ``max_pooling2d`` (Keras' rule)."""
    intermediate = re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    insecure = re.sub("([a-z])([A-Z])", r"\1_\2", intermediate).lower()
    return insecure if insecure[0] != "_" else "private" + insecure


def _unique_object_name(base):
    """``base_1``, ``base_2``, ... per graph (Keras' unique_object_name, not zero-based)."""
    uids = get_default_graph()._extra.setdefault("layers_object_name_uids", {})
    uids[base] = uids.get(base, 0) + 1
    return "%s_%d" % (base, uids[base])


def _flatten(x):
    if isinstance(x, (list, tuple)):
        out = []
        for v in x:
            out.extend(_flatten(v))
        return out
    if isinstance(x, dict):
        out = []
        for k in sorted(x):
            out.extend(_flatten(x[k]))
        return out
    return [x]


def _map(fn, x):
    if isinstance(x, list):
        return [_map(fn, v) for v in x]
    if isinstance(x, tuple):
        return tuple(_map(fn, v) for v in x)
    if isinstance(x, dict):
        return {k: _map(fn, v) for k, v in x.items()}
    return fn(x)


def _to_tensor(x):
    if isinstance(x, Tensor) or x is None:
        return x
    return convert_to_tensor(x)


class Layer:
    """Base layer class (``tf.layers.Layer``, TF 1.x).

    Subclasses implement ``build(input_shape)`` (create weights with
    :meth:`add_weight`) and ``call(inputs, ...)``. Properties: ``name``,
    ``dtype``, ``trainable``, ``built``, ``trainable_weights`` /
    ``trainable_variables``, ``non_trainable_weights`` /
    ``non_trainable_variables``, ``weights`` / ``variables``, ``updates``,
    ``losses``, ``scope_name``."""

    def __init__(self, trainable=True, name=None, dtype=None, **kwargs):
        for kw in kwargs:
            if kw not in _ALLOWED_KWARGS:
                raise TypeError("Keyword argument not understood: %s" % kw)
        scope = kwargs.pop("_scope", None)
        self._reuse = kwargs.pop("_reuse", None)
        self._activity_regularizer = kwargs.pop("activity_regularizer", None)
        self._trainable = bool(trainable)
        self.built = False
        self._dtype = None if dtype is None else dtypes.as_dtype(dtype)
        self._trainable_weights = []
        self._non_trainable_weights = []
        self._updates = []
        self._losses = []
        self._init_set_name(name)
        if scope:
            with variable_scope(scope) as captured_scope:
                self._scope = captured_scope
        else:
            self._scope = None
        self._current_scope = None

    # -- naming ---------------------------------------------------------------
    def _init_set_name(self, name):
        base = to_snake_case(type(self).__name__)
        if isinstance(name, VariableScope):
            self._base_name = name.name
            self._name = _unique_object_name(base)
        elif name:
            self._base_name = name
            self._name = name
        else:
            self._name = _unique_object_name(base)
            self._base_name = base

    @property
    def name(self):
        return self._name

    @property
    def scope_name(self):
        if not self._scope:
            raise ValueError('No name available for layer scope because the layer "%s" has not been used yet. The '
                             'scope name is determined the first time the layer instance is called. You must '
                             'therefore call the layer before querying `scope_name`.' % self._name)
        return self._scope.name

    def _set_scope(self, scope=None):
        if self._scope is None:
            if self._reuse:
                with variable_scope(scope if scope is not None else self._base_name) as captured_scope:
                    self._scope = captured_scope
            else:
                with variable_scope(scope, default_name=self._base_name) as captured_scope:
                    self._scope = captured_scope

    # -- properties -------------------------------------------------------------
    @property
    def dtype(self):
        return self._dtype

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)

    @property
    def trainable_weights(self):
        return list(self._trainable_weights) if self._trainable else []

    @property
    def non_trainable_weights(self):
        if self._trainable:
            return list(self._non_trainable_weights)
        return list(self._trainable_weights) + list(self._non_trainable_weights)

    @property
    def weights(self):
        return self.trainable_weights + self.non_trainable_weights

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    @property
    def updates(self):
        return list(self._updates)

    @property
    def losses(self):
        return list(self._losses)

    @property
    def activity_regularizer(self):
        return self._activity_regularizer

    @property
    def graph(self):
        return None

    def count_params(self):
        if not self.built:
            raise ValueError("You tried to call `count_params` on %s, but the layer isn't built. You can build it "
                             "manually via: `%s.build(batch_input_shape)`." % (self.name, self.name))
        return int(sum(v.shape.num_elements() for v in self.weights))

    # -- weights, updates, losses ---------------------------------------------------
    def add_weight(self, name, shape, dtype=None, initializer=None, regularizer=None, trainable=None,
                   constraint=None, use_resource=None, partitioner=None, **kwargs):
        """Create (or, when the scope reuses, get) the variable ``<scope>/name``."""
        for kw in kwargs:
            if kw not in ("experimental_autocast", "synchronization", "aggregation", "getter"):
                raise TypeError("Unknown keyword argument: %s" % kw)
        if trainable is None:
            trainable = True
        if dtype is None:
            dtype = self._dtype or dtypes.float32
        existing = {id(v) for v in get_default_graph().get_collection(GraphKeys.GLOBAL_VARIABLES)}
        self._set_scope(None)
        reuse = self.built or self._reuse
        with variable_scope(self._scope, reuse=reuse, auxiliary_name_scope=False) as scope:
            self._current_scope = scope
            with name_scope(scope.original_name_scope):
                variable = get_variable(name, shape=shape, dtype=dtypes.as_dtype(dtype), initializer=initializer,
                                        trainable=trainable and self._trainable, constraint=constraint,
                                        use_resource=use_resource, partitioner=partitioner)
                if regularizer is not None and id(variable) not in existing:
                    with name_scope(name + "/Regularizer"):
                        loss = regularizer(variable)
                    if loss is not None:
                        self.add_loss(loss)
        if trainable and self._trainable and variable.trainable:
            self._trainable_weights.append(variable)
        else:
            self._non_trainable_weights.append(variable)
        return variable

    add_variable = add_weight

    def add_update(self, updates, inputs=None):
        for u in _flatten(updates):
            if callable(u) and not isinstance(u, (Tensor, Variable)):
                u = u()
            self._updates.append(u)

    def add_loss(self, losses, inputs=None):
        graph = get_default_graph()
        for loss in _flatten(losses):
            if loss is None:
                continue
            if callable(loss) and not isinstance(loss, Tensor):
                loss = loss()
                if loss is None:
                    continue
            loss = convert_to_tensor(loss)
            self._losses.append(loss)
            ref = graph.get_collection_ref(GraphKeys.REGULARIZATION_LOSSES)
            if not any(loss is t for t in ref):
                ref.append(loss)

    # -- subclass hooks -----------------------------------------------------------
    def build(self, input_shape):
        self.built = True

    def call(self, inputs, **kwargs):
        return inputs

    def compute_output_shape(self, input_shape):
        raise NotImplementedError("%s does not define compute_output_shape" % type(self).__name__)

    # -- calling ----------------------------------------------------------------------
    def __call__(self, inputs, *args, **kwargs):
        scope = kwargs.pop("scope", None)
        self._set_scope(scope)
        reuse = True if self.built else self._reuse
        with variable_scope(self._scope, reuse=reuse, auxiliary_name_scope=False) as vs:
            self._current_scope = vs
            inputs = _map(_to_tensor, inputs)
            with name_scope(vs.original_name_scope):
                if not self.built:
                    first = _flatten(inputs)[0]
                    if self._dtype is None and isinstance(first, Tensor):
                        self._dtype = first.dtype
                    shapes = _map(lambda t: t.shape if isinstance(t, Tensor) else None, inputs)
                    self.build(shapes)
                    self.built = True
                outputs = self.call(inputs, *args, **kwargs)
                if outputs is None:
                    raise ValueError("A layer's `call` method should return a Tensor or a list of Tensors, not "
                                     "None (layer: %s)." % self.name)
                if self._activity_regularizer is not None:
                    self._handle_activity_regularization(outputs)
        ref = get_default_graph().get_collection_ref(GraphKeys.UPDATE_OPS)
        for u in self._updates:
            if not any(u is t for t in ref):
                ref.append(u)
        return outputs

    def apply(self, inputs, *args, **kwargs):
        """Same as calling the layer (TF 1.x)."""
        return self.__call__(inputs, *args, **kwargs)

    def _handle_activity_regularization(self, outputs):
        """The activity regularizer of each output, divided by the batch size (as Keras)."""
        with name_scope("ActivityRegularizer"):
            for out in _flatten(outputs):
                loss = convert_to_tensor(self._activity_regularizer(out))
                batch = M.cast(A.shape(out)[0], loss.dtype)
                self.add_loss(loss / batch)


class KernelBiasLayer(Layer):
    """A layer ``activation(op(inputs, kernel) + bias)``: Dense and Conv2D share the
    kernel and bias arguments, their variables and the bias-then-activation tail."""

    def _set_kernel_bias_args(self, activation, use_bias, kernel_initializer, bias_initializer,
                              kernel_regularizer, bias_regularizer, kernel_constraint, bias_constraint):
        self.activation = get_activation(activation)
        self.use_bias = use_bias
        self.kernel_initializer = get_initializer(kernel_initializer)
        self.bias_initializer = get_initializer(bias_initializer)
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint = kernel_constraint
        self.bias_constraint = bias_constraint

    def _add_kernel_bias(self, kernel_shape, units, dtype):
        self.kernel = self.add_weight("kernel", shape=kernel_shape, initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
                                      dtype=dtype, trainable=True)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight("bias", shape=[units], initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                                        dtype=dtype, trainable=True)
        self.built = True

    def _bias_and_activation(self, outputs):
        if self.use_bias:
            outputs = bias_add(outputs, self.bias, data_format="NHWC")
        return self.activation(outputs) if self.activation is not None else outputs


# -- argument helpers shared by the layers ---------------------------------------------------

def normalize_tuple(value, n, name):
    """An int or an iterable of n ints as a tuple of n ints (Keras' conv_utils rule)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * n
    try:
        value_tuple = tuple(value)
    except TypeError:
        raise ValueError("The `%s` argument must be a tuple of %d integers. Received: %s" % (name, n, value)) from None
    if len(value_tuple) != n:
        raise ValueError("The `%s` argument must be a tuple of %d integers. Received: %s" % (name, n, value))
    for v in value_tuple:
        try:
            int(v)
        except (ValueError, TypeError):
            raise ValueError("The `%s` argument must be a tuple of %d integers. Received: %s including element %s "
                             "of type %s" % (name, n, value, v, type(v))) from None
    return tuple(int(v) for v in value_tuple)


def normalize_padding(value):
    if isinstance(value, (list, tuple)):
        raise NotImplementedError("Explicit paddings (a list) are not supported by nbflow's tf.layers; use 'valid' "
                                  "or 'same'")
    padding = str(value).lower()
    if padding not in ("valid", "same"):
        if padding == "causal":
            raise NotImplementedError("padding='causal' (Conv1D only) is not supported by nbflow")
        raise ValueError('The `padding` argument must be a list/tuple or one of "valid", "same" (or "causal", only '
                         'for `Conv1D). Received: ' + str(value))
    return padding


def normalize_data_format(value, what):
    data_format = "channels_last" if value is None else str(value).lower()
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError('The `data_format` argument must be one of "channels_first", "channels_last". Received: '
                         + str(value))
    if data_format == "channels_first":
        raise NotImplementedError("%s: data_format='channels_first' is not supported by nbflow (only channels_last, "
                                  "NHWC)" % what)
    return data_format


# -- initializers and activations given by name (Keras identifiers) -----------------------------

_INITIALIZERS = {
    "zeros": init_ops.Zeros, "zero": init_ops.Zeros, "ones": init_ops.Ones, "one": init_ops.Ones,
    "glorot_uniform": init_ops.GlorotUniform, "glorot_normal": init_ops.GlorotNormal,
    "random_uniform": init_ops.RandomUniform, "random_normal": init_ops.RandomNormal,
    "truncated_normal": init_ops.TruncatedNormal, "he_normal": init_ops.he_normal, "he_uniform": init_ops.he_uniform,
    "lecun_normal": init_ops.lecun_normal, "lecun_uniform": init_ops.lecun_uniform,
}


def get_initializer(identifier):
    if identifier is None or callable(identifier):
        return identifier
    if isinstance(identifier, str):
        fn = _INITIALIZERS.get(identifier) or _INITIALIZERS.get(to_snake_case(identifier))
        if fn is None:
            raise ValueError("Unknown initializer: %s" % identifier)
        return fn()
    raise ValueError("Could not interpret initializer identifier: %r" % (identifier,))


def get_activation(identifier):
    if identifier is None or callable(identifier):
        return identifier
    if isinstance(identifier, str):
        table = {"relu": nn_ops.relu, "relu6": nn_ops.relu6, "elu": nn_ops.elu, "selu": nn_ops.selu,
                 "softplus": nn_ops.softplus, "softsign": nn_ops.softsign, "sigmoid": M.sigmoid, "tanh": M.tanh,
                 "softmax": nn_ops.softmax, "exponential": M.exp, "linear": None}
        if identifier not in table:
            raise ValueError("Unknown activation function:" + identifier)
        return table[identifier]
    raise ValueError("Could not interpret activation function identifier: %r" % (identifier,))


def constant_bool(value, what):
    """(python_bool_or_None, tensor_or_None) for a ``training`` argument."""
    if isinstance(value, Tensor) or hasattr(value, "_as_graph_element"):
        t = convert_to_tensor(value)
        if t.dtype is not dtypes.bool_:
            raise TypeError("%s: `training` must be a Python bool or a bool Tensor, got a %s tensor"
                            % (what, t.dtype.name))
        if t.shape.ndims not in (None, 0):
            raise ValueError("%s: `training` must be a scalar, got shape %s" % (what, t.shape))
        v = constant_value(t)
        if v is not None:
            return bool(v), None
        return None, t
    if value is None:
        return False, None
    return bool(value), None
