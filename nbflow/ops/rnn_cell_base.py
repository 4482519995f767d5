"""The recurrent cell base: RNNCell, LayerRNNCell, LSTMStateTuple and the
helpers the cells share (``tf.nn.rnn_cell``, TF 1.15 semantics).

A cell maps ``(inputs, state)`` to ``(output, new_state)`` for one time step.
Cells with weights behave like TF's ``LayerRNNCell``: the first call opens a
variable scope named after the cell (``basic_lstm_cell``, ``lstm_cell``,
``gru_cell``, ``basic_rnn_cell``, uniquified inside the caller's scope, or the
``scope=`` / ``name=`` given), creates the variables there with
``tf.get_variable`` (kernel initializer: the enclosing variable scope's, else
glorot_uniform; biases zeros, GRU gate bias 1.0), and every later call
re-enters that scope with ``reuse=True``. Ops of every call are named inside
the cell's name scope (``rnn/basic_lstm_cell/MatMul_3``), as in TF.

The cells are in rnn_cells.py, the wrappers in rnn_cell_wrappers.py.
"""
import collections
import contextlib
import re

from nbflow.framework import dtypes
from nbflow.framework import nest
from nbflow.framework.graph import Tensor, get_default_graph, name_scope
from nbflow.framework.tensor_shape import TensorShape, dimension_value
from nbflow.ops import array_ops, math_ops, nn_ops
from nbflow.ops.base import constant_value, convert_to_tensor
from nbflow.ops.variable_scope import get_variable, variable_scope

__all__ = ["RNNCell", "LayerRNNCell", "LSTMStateTuple"]

_WEIGHTS_VARIABLE_NAME = "kernel"
_BIAS_VARIABLE_NAME = "bias"


class LSTMStateTuple(collections.namedtuple("LSTMStateTuple", ("c", "h"))):
    """``(c, h)``: the cell state and the hidden state (output) of an LSTM."""

    __slots__ = ()

    @property
    def dtype(self):
        c, h = self
        if c.dtype != h.dtype:
            raise TypeError("Inconsistent internal state: %s vs %s" % (str(c.dtype), str(h.dtype)))
        return c.dtype


class StepSpec:
    """The shape and dtype of one step's inputs, where a fused op stands for the
    calls (a plain object, so nest treats it as one leaf)."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, dtype


# -- helpers ------------------------------------------------------------------------------

def _to_snake_case(name):
    s = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    s = re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()
    return ("private" + s) if s.startswith("_") else s


def _unique_object_name(base):
    """``base``, ``base_1``, ... per graph (the names Keras gives unnamed layers)."""
    counts = get_default_graph()._extra.setdefault("rnn_cell_object_names", {})
    n = counts.get(base, 0)
    counts[base] = n + 1
    return base if n == 0 else "%s_%d" % (base, n)


def _is_tensor(x):
    return isinstance(x, Tensor) or hasattr(x, "_as_graph_element")


def _size_as_list(size):
    """A state/output size (int, Dimension or TensorShape) as a list of ints (None for unknown)."""
    if isinstance(size, TensorShape):
        return size.as_list()
    return [dimension_value(size)]


def _concat(prefix, suffix, static=False):
    """``[prefix] + suffix`` as a shape: a TensorShape when ``static``, else a list of
    ints or (when ``prefix`` is a Tensor) a 1-D int32 tensor."""
    if _is_tensor(prefix):
        if static:
            v = constant_value(prefix)
            p = [int(v)] if v is not None and getattr(v, "ndim", 0) == 0 else [None]
        else:
            p = prefix
            if p.shape.ndims == 0:
                p = array_ops.expand_dims(p, 0)
            elif p.shape.ndims not in (None, 1):
                raise ValueError("prefix tensor must be either a scalar or vector, but saw tensor: %s" % p)
    else:
        p = [dimension_value(prefix)] if not isinstance(prefix, TensorShape) else prefix.as_list()
    s = _size_as_list(suffix)
    if static:
        return TensorShape(list(p) + s)
    if _is_tensor(p):
        if any(d is None for d in s):
            raise ValueError("Provided a prefix or suffix of None: %s and %s" % (prefix, suffix))
        return array_ops.concat([p, convert_to_tensor(s, dtype=dtypes.int32)], 0)
    if any(d is None for d in list(p) + s):
        raise ValueError("Provided a prefix or suffix of None: %s and %s" % (prefix, suffix))
    return list(p) + s


def _zero_state_tensors(state_size, batch_size, dtype):
    def make(s):
        z = array_ops.zeros(_concat(batch_size, s), dtype=dtype)
        z.set_shape(_concat(batch_size, s, static=True))
        return z
    return nest.map_structure(make, state_size)


def _activation(activation):
    if activation is None:
        return math_ops.tanh
    if isinstance(activation, str):
        table = {"tanh": math_ops.tanh, "sigmoid": math_ops.sigmoid, "relu": nn_ops.relu, "elu": nn_ops.elu,
                 "selu": nn_ops.selu, "softplus": nn_ops.softplus, "softsign": nn_ops.softsign,
                 "relu6": nn_ops.relu6, "linear": lambda x: x}
        if activation not in table:
            raise ValueError("Unknown activation function: %s" % activation)
        return table[activation]
    if not callable(activation):
        raise TypeError("activation must be callable or a string, got %r" % (activation,))
    return activation


def assert_like_rnncell(cell_name, cell):
    """Raise TypeError unless ``cell`` has output_size, state_size, zero_state and is callable."""
    conditions = [hasattr(cell, "output_size"), hasattr(cell, "state_size"),
                  hasattr(cell, "get_initial_state") or hasattr(cell, "zero_state"), callable(cell)]
    errors = ["'output_size' property is missing", "'state_size' property is missing",
              "either 'zero_state' or 'get_initial_state' method is required", "is not callable"]
    if not all(conditions):
        msgs = [e for c, e in zip(conditions, errors) if not c]
        raise TypeError("The argument {!r} ({}) is not an RNNCell: {}.".format(cell_name, cell, ", ".join(msgs)))


# -- the base class -----------------------------------------------------------------------

class RNNCell:
    """Abstract recurrent cell: subclasses define ``state_size``, ``output_size``,
    ``call(inputs, state)`` and, if they own variables, ``build(inputs_shape)``
    (creating them with ``self.add_variable``)."""

    def __init__(self, trainable=True, name=None, dtype=None, **kwargs):
        self._reuse = kwargs.pop("_reuse", None)
        scope = kwargs.pop("_scope", None)
        for k in kwargs:
            raise TypeError("Keyword argument not understood: %s" % k)
        self.trainable = trainable
        self._dtype = dtypes.as_dtype(dtype) if dtype is not None else None
        base = _to_snake_case(type(self).__name__)
        if name:
            self._name = self._base_name = name
        else:
            self._name, self._base_name = _unique_object_name(base), base
        self._trainable_weights = []
        self._non_trainable_weights = []
        self.built = False
        self._current_scope = None
        self._scope = None
        if scope is not None:
            with variable_scope(scope) as captured:
                self._scope = captured

    # properties --------------------------------------------------------------------------
    @property
    def name(self):
        return self._name

    @property
    def dtype(self):
        return self._dtype.name if self._dtype is not None else None

    @property
    def scope_name(self):
        if self._scope is None:
            raise ValueError('No name available for layer scope because the layer "%s" has not been used yet. '
                             "The scope name is determined the first time the layer instance is called. You must "
                             "therefore call the layer before querying `scope_name`." % self._name)
        return self._scope.name

    @property
    def state_size(self):
        """An int, a TensorShape, or a nested tuple of them."""
        raise NotImplementedError("%s must define state_size (an abstract property of RNNCell)"
                                  % type(self).__name__)

    @property
    def output_size(self):
        raise NotImplementedError("%s must define output_size (an abstract property of RNNCell)"
                                  % type(self).__name__)

    @property
    def trainable_weights(self):
        return list(self._trainable_weights) if self.trainable else []

    @property
    def non_trainable_weights(self):
        if self.trainable:
            return list(self._non_trainable_weights)
        return list(self._trainable_weights) + list(self._non_trainable_weights)

    @property
    def weights(self):
        return self.trainable_weights + self.non_trainable_weights

    trainable_variables = property(lambda self: self.trainable_weights)
    non_trainable_variables = property(lambda self: self.non_trainable_weights)
    variables = property(lambda self: self.weights)

    # building and calling ---------------------------------------------------------------
    def build(self, inputs_shape):
        """Create the cell's variables (none by default)."""

    def call(self, inputs, state):
        raise NotImplementedError("%s must define call(inputs, state) (an abstract method of RNNCell)"
                                  % type(self).__name__)

    def add_variable(self, name, shape, dtype=None, initializer=None, trainable=True, **kwargs):
        """``tf.get_variable(name, ...)`` in the cell's scope; tracked in ``weights``."""
        partitioner = kwargs.pop("partitioner", None)
        if kwargs:
            raise TypeError("Unknown keyword argument(s) to add_variable: %s" % ", ".join(sorted(kwargs)))
        if partitioner is not None:
            raise NotImplementedError("partitioned RNN cell variables (partitioner=...) are not supported by nbflow")
        dtype = dtypes.as_dtype(dtype) if dtype is not None else (self._dtype or dtypes.float32)
        if initializer is None:
            initializer = self._current_scope.initializer if self._current_scope is not None else None
        trainable = bool(trainable and self.trainable)
        v = get_variable(name, shape=shape, dtype=dtype, initializer=initializer, trainable=trainable)
        (self._trainable_weights if trainable else self._non_trainable_weights).append(v)
        return v

    add_weight = add_variable

    def _set_scope(self, scope):
        if self._scope is None:
            if self._reuse:
                with variable_scope(scope if scope is not None else self._base_name) as captured:
                    self._scope = captured
            else:
                with variable_scope(scope, default_name=self._base_name) as captured:
                    self._scope = captured

    def __call__(self, inputs, state, scope=None):
        """Run the cell on one step: ``(output, new_state)``. Variables are created on the
        first call and reused afterwards."""
        with self._call_scope(inputs, scope) as inputs:
            return self.call(inputs, state)

    @contextlib.contextmanager
    def _call_scope(self, inputs, scope=None):
        """The scopes a call runs in (the cell's variable scope, reusing after the
        first call, and its name scope), the variables built on first entry;
        yields ``inputs`` as tensors. A fused sequence op (rnn_fused.py) enters
        it as one call does, with a :class:`StepSpec` for the step's inputs, so
        it names and reuses the same variables."""
        self._set_scope(scope)
        reuse = True if self.built else self._reuse
        with variable_scope(self._scope, reuse=reuse, auxiliary_name_scope=False) as vs:
            self._current_scope = vs
            with name_scope(vs.original_name_scope):
                inputs = nest.map_structure(
                    lambda x: x if _is_tensor(x) or isinstance(x, StepSpec) else convert_to_tensor(x), inputs)
                if not self.built:
                    first = nest.flatten(inputs)[0]
                    if self._dtype is None:
                        self._dtype = first.dtype.base_dtype
                    self.build(nest.map_structure(lambda x: x.shape, inputs))
                    self.built = True
                yield inputs

    # states ---------------------------------------------------------------------------
    def zero_state(self, batch_size, dtype):
        """Zero-filled state tensor(s) of shape ``[batch_size, s]`` for each ``s`` in
        ``state_size`` (nested as ``state_size``)."""
        with name_scope(type(self).__name__ + "ZeroState", values=[batch_size] if _is_tensor(batch_size) else None):
            return _zero_state_tensors(self.state_size, batch_size, dtypes.as_dtype(dtype))

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        if inputs is not None:
            inputs = convert_to_tensor(inputs)
            if batch_size is None:
                batch_size = dimension_value(inputs.shape[0]) if inputs.shape.ndims else None
                if batch_size is None:
                    batch_size = array_ops.shape(inputs)[0]
            if dtype is None:
                dtype = inputs.dtype
        if batch_size is None or dtype is None:
            raise ValueError("batch_size and dtype cannot be None while constructing initial state: "
                             "batch_size=%s, dtype=%s" % (batch_size, dtype))
        return self.zero_state(batch_size, dtype)

    def __repr__(self):
        return "<%s name=%r>" % (type(self).__name__, self._name)


class LayerRNNCell(RNNCell):
    """An RNNCell whose variables are created in ``build`` (TF's LayerRNNCell)."""


def _input_depth(cell, inputs_shape):
    shape = TensorShape(inputs_shape)
    if shape.ndims is not None and shape.ndims != 2:
        raise ValueError("Input 0 of layer %s is incompatible with the layer: expected ndim=2, found ndim=%d. "
                         "Full shape received: %s" % (cell.name, shape.ndims, shape))
    depth = dimension_value(shape[-1]) if shape.ndims is not None else None
    if depth is None:
        raise ValueError("Expected inputs.shape[-1] to be known, saw shape: %s" % shape)
    if cell._dtype is not None and not cell._dtype.is_floating:
        raise ValueError("%s: RNN cells need floating-point inputs, got %s" % (cell.name, cell._dtype.name))
    return depth


def _check_rank2(cell, x, what):
    if x.shape.ndims is not None and x.shape.ndims != 2:
        raise ValueError("%s: %s must be a matrix [batch, depth], got shape %s" % (cell.name, what, x.shape))
