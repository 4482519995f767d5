"""Recurrent cells (``tf.nn.rnn_cell``, TF 1.15 semantics).

A cell maps ``(inputs, state)`` to ``(output, new_state)`` for one time step.
Cells with weights behave like TF's ``LayerRNNCell``: the first call opens a
variable scope named after the cell (``basic_lstm_cell``, ``lstm_cell``,
``gru_cell``, ``basic_rnn_cell``, uniquified inside the caller's scope, or the
``scope=`` / ``name=`` given), creates the variables there with
``tf.get_variable`` (kernel initializer: the enclosing variable scope's, else
glorot_uniform; biases zeros, GRU gate bias 1.0), and every later call
re-enters that scope with ``reuse=True``. Ops of every call are named inside
the cell's name scope (``rnn/basic_lstm_cell/MatMul_3``), as in TF.

The cell math is written with ordinary graph ops (MatMul, BiasAdd, Split,
Sigmoid, Tanh, Mul, Add): the planner fuses each step's element-wise gate math
into one generated kernel.
"""
import collections
import hashlib
import re

from nbflow.framework import dtypes
from nbflow.framework import nest
from nbflow.framework.graph import Tensor, device as _device, get_default_graph, name_scope
from nbflow.framework.tensor_shape import TensorShape, dimension_value
from nbflow.ops import array_ops, init_ops, math_ops, nn_ops, random_ops
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.linalg_ops import matmul
from nbflow.ops.variable_scope import get_variable, variable_scope

__all__ = [
    "RNNCell", "LayerRNNCell", "BasicRNNCell", "BasicLSTMCell", "LSTMCell", "GRUCell", "MultiRNNCell",
    "DropoutWrapper", "ResidualWrapper", "DeviceWrapper", "LSTMStateTuple",
]

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
            from nbflow.ops.base import constant_value

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
        self._set_scope(scope)
        reuse = True if self.built else self._reuse
        with variable_scope(self._scope, reuse=reuse, auxiliary_name_scope=False) as vs:
            self._current_scope = vs
            with name_scope(vs.original_name_scope):
                inputs = nest.map_structure(lambda x: x if _is_tensor(x) else convert_to_tensor(x), inputs)
                if not self.built:
                    first = nest.flatten(inputs)[0]
                    if self._dtype is None:
                        self._dtype = first.dtype.base_dtype
                    self.build(nest.map_structure(lambda x: x.shape, inputs))
                    self.built = True
                return self.call(inputs, state)

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


# -- the cells ----------------------------------------------------------------------------

class BasicRNNCell(LayerRNNCell):
    """``output = new_state = act(W [inputs, state] + b)``."""

    def __init__(self, num_units, activation=None, reuse=None, name=None, dtype=None, **kwargs):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        self._num_units = int(num_units)
        self._activation = _activation(activation)

    @property
    def state_size(self):
        return self._num_units

    @property
    def output_size(self):
        return self._num_units

    def build(self, inputs_shape):
        depth = _input_depth(self, inputs_shape)
        self._kernel = self.add_variable(_WEIGHTS_VARIABLE_NAME, shape=[depth + self._num_units, self._num_units])
        self._bias = self.add_variable(_BIAS_VARIABLE_NAME, shape=[self._num_units],
                                       initializer=init_ops.zeros_initializer(dtype=self._dtype))

    def call(self, inputs, state):
        _check_rank2(self, inputs, "inputs")
        gate_inputs = matmul(array_ops.concat([inputs, state], 1), self._kernel)
        gate_inputs = nn_ops.bias_add(gate_inputs, self._bias)
        output = self._activation(gate_inputs)
        return output, output


class GRUCell(LayerRNNCell):
    """Gated recurrent unit (Cho et al. 2014), TF's gate layout:
    ``r, u = split(sigmoid(W_g [x, h] + b_g), 2)``, ``c = act(W_c [x, r*h] + b_c)``,
    ``h' = u*h + (1-u)*c``."""

    def __init__(self, num_units, activation=None, reuse=None, kernel_initializer=None, bias_initializer=None,
                 name=None, dtype=None, **kwargs):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        self._num_units = int(num_units)
        self._activation = _activation(activation)
        self._kernel_initializer = kernel_initializer
        self._bias_initializer = bias_initializer

    @property
    def state_size(self):
        return self._num_units

    @property
    def output_size(self):
        return self._num_units

    def build(self, inputs_shape):
        depth = _input_depth(self, inputs_shape)
        n = self._num_units
        self._gate_kernel = self.add_variable("gates/" + _WEIGHTS_VARIABLE_NAME, shape=[depth + n, 2 * n],
                                              initializer=self._kernel_initializer)
        self._gate_bias = self.add_variable(
            "gates/" + _BIAS_VARIABLE_NAME, shape=[2 * n],
            initializer=(self._bias_initializer if self._bias_initializer is not None
                         else init_ops.constant_initializer(1.0, dtype=self._dtype)))
        self._candidate_kernel = self.add_variable("candidate/" + _WEIGHTS_VARIABLE_NAME, shape=[depth + n, n],
                                                   initializer=self._kernel_initializer)
        self._candidate_bias = self.add_variable(
            "candidate/" + _BIAS_VARIABLE_NAME, shape=[n],
            initializer=(self._bias_initializer if self._bias_initializer is not None
                         else init_ops.zeros_initializer(dtype=self._dtype)))

    def call(self, inputs, state):
        _check_rank2(self, inputs, "inputs")
        gate_inputs = matmul(array_ops.concat([inputs, state], 1), self._gate_kernel)
        gate_inputs = nn_ops.bias_add(gate_inputs, self._gate_bias)
        value = math_ops.sigmoid(gate_inputs)
        r, u = array_ops.split(value=value, num_or_size_splits=2, axis=1)
        r_state = r * state
        candidate = matmul(array_ops.concat([inputs, r_state], 1), self._candidate_kernel)
        candidate = nn_ops.bias_add(candidate, self._candidate_bias)
        c = self._activation(candidate)
        new_h = u * state + (1 - u) * c
        return new_h, new_h


class BasicLSTMCell(LayerRNNCell):
    """LSTM without peepholes or projection (Zaremba et al. 2014). One matmul of
    ``[inputs, h]`` gives the gates ``i, j, f, o`` (in that order);
    ``c' = c*sigmoid(f + forget_bias) + sigmoid(i)*act(j)``, ``h' = act(c')*sigmoid(o)``."""

    def __init__(self, num_units, forget_bias=1.0, state_is_tuple=True, activation=None, reuse=None, name=None,
                 dtype=None, **kwargs):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        self._num_units = int(num_units)
        self._forget_bias = forget_bias
        self._state_is_tuple = state_is_tuple
        self._activation = _activation(activation)

    @property
    def state_size(self):
        n = self._num_units
        return LSTMStateTuple(n, n) if self._state_is_tuple else 2 * n

    @property
    def output_size(self):
        return self._num_units

    def build(self, inputs_shape):
        depth = _input_depth(self, inputs_shape)
        n = self._num_units
        self._kernel = self.add_variable(_WEIGHTS_VARIABLE_NAME, shape=[depth + n, 4 * n])
        self._bias = self.add_variable(_BIAS_VARIABLE_NAME, shape=[4 * n],
                                       initializer=init_ops.zeros_initializer(dtype=self._dtype))

    def call(self, inputs, state):
        _check_rank2(self, inputs, "inputs")
        if self._state_is_tuple:
            c, h = state
        else:
            c, h = array_ops.split(value=state, num_or_size_splits=2, axis=1)
        gate_inputs = matmul(array_ops.concat([inputs, h], 1), self._kernel)
        gate_inputs = nn_ops.bias_add(gate_inputs, self._bias)
        i, j, f, o = array_ops.split(value=gate_inputs, num_or_size_splits=4, axis=1)
        forget_bias = convert_to_tensor(self._forget_bias, dtype=f.dtype)
        sigmoid, add, multiply = math_ops.sigmoid, math_ops.add, math_ops.multiply
        new_c = add(multiply(c, sigmoid(add(f, forget_bias))), multiply(sigmoid(i), self._activation(j)))
        new_h = multiply(self._activation(new_c), sigmoid(o))
        new_state = LSTMStateTuple(new_c, new_h) if self._state_is_tuple else array_ops.concat([new_c, new_h], 1)
        return new_h, new_state


class LSTMCell(LayerRNNCell):
    """LSTM with optional peepholes (``w_f_diag``, ``w_i_diag``, ``w_o_diag``), cell
    clipping and a projection of the output (``projection/kernel``, ``num_proj``)."""

    def __init__(self, num_units, use_peepholes=False, cell_clip=None, initializer=None, num_proj=None,
                 proj_clip=None, num_unit_shards=None, num_proj_shards=None, forget_bias=1.0, state_is_tuple=True,
                 activation=None, reuse=None, name=None, dtype=None, **kwargs):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        if num_unit_shards is not None or num_proj_shards is not None:
            raise NotImplementedError("LSTMCell: num_unit_shards / num_proj_shards (partitioned variables) are "
                                      "not supported by nbflow")
        self._num_units = int(num_units)
        self._use_peepholes = use_peepholes
        self._cell_clip = cell_clip
        self._initializer = initializer
        self._num_proj = None if num_proj is None else int(num_proj)
        self._proj_clip = proj_clip
        self._forget_bias = forget_bias
        self._state_is_tuple = state_is_tuple
        self._activation = _activation(activation)

    @property
    def state_size(self):
        n = self._num_units
        p = self._num_proj if self._num_proj is not None else n
        return LSTMStateTuple(n, p) if self._state_is_tuple else n + p

    @property
    def output_size(self):
        return self._num_proj if self._num_proj is not None else self._num_units

    def build(self, inputs_shape):
        depth = _input_depth(self, inputs_shape)
        n = self._num_units
        h_depth = n if self._num_proj is None else self._num_proj
        self._kernel = self.add_variable(_WEIGHTS_VARIABLE_NAME, shape=[depth + h_depth, 4 * n],
                                         initializer=self._initializer)
        self._bias = self.add_variable(_BIAS_VARIABLE_NAME, shape=[4 * n],
                                       initializer=init_ops.zeros_initializer(dtype=self._dtype))
        if self._use_peepholes:
            self._w_f_diag = self.add_variable("w_f_diag", shape=[n], initializer=self._initializer)
            self._w_i_diag = self.add_variable("w_i_diag", shape=[n], initializer=self._initializer)
            self._w_o_diag = self.add_variable("w_o_diag", shape=[n], initializer=self._initializer)
        if self._num_proj is not None:
            self._proj_kernel = self.add_variable("projection/" + _WEIGHTS_VARIABLE_NAME,
                                                  shape=[n, self._num_proj], initializer=self._initializer)

    def call(self, inputs, state):
        _check_rank2(self, inputs, "inputs")
        n = self._num_units
        num_proj = n if self._num_proj is None else self._num_proj
        sigmoid = math_ops.sigmoid
        if self._state_is_tuple:
            c_prev, m_prev = state
        else:
            c_prev = array_ops.slice(state, [0, 0], [-1, n])
            m_prev = array_ops.slice(state, [0, n], [-1, num_proj])
        lstm_matrix = matmul(array_ops.concat([inputs, m_prev], 1), self._kernel)
        lstm_matrix = nn_ops.bias_add(lstm_matrix, self._bias)
        i, j, f, o = array_ops.split(value=lstm_matrix, num_or_size_splits=4, axis=1)
        if self._use_peepholes:
            c = (sigmoid(f + self._forget_bias + self._w_f_diag * c_prev) * c_prev
                 + sigmoid(i + self._w_i_diag * c_prev) * self._activation(j))
        else:
            c = sigmoid(f + self._forget_bias) * c_prev + sigmoid(i) * self._activation(j)
        if self._cell_clip is not None:
            c = math_ops.clip_by_value(c, -self._cell_clip, self._cell_clip)
        if self._use_peepholes:
            m = sigmoid(o + self._w_o_diag * c) * self._activation(c)
        else:
            m = sigmoid(o) * self._activation(c)
        if self._num_proj is not None:
            m = matmul(m, self._proj_kernel)
            if self._proj_clip is not None:
                m = math_ops.clip_by_value(m, -self._proj_clip, self._proj_clip)
        new_state = LSTMStateTuple(c, m) if self._state_is_tuple else array_ops.concat([c, m], 1)
        return m, new_state


class MultiRNNCell(RNNCell):
    """Cells stacked in layers: the output of cell ``k`` is the input of cell ``k+1``
    (variables under ``multi_rnn_cell/cell_<k>/``); the state is the tuple of
    the cells' states (or their concatenation when ``state_is_tuple=False``)."""

    def __init__(self, cells, state_is_tuple=True):
        super().__init__()
        if not cells:
            raise ValueError("Must specify at least one cell for MultiRNNCell.")
        if not nest.is_nested(cells):
            raise TypeError("cells must be a list or tuple, but saw: %s." % (cells,))
        if len(set(id(c) for c in cells)) < len(cells):
            import warnings

            warnings.warn("At least two cells provided to MultiRNNCell are the same object and will share "
                          "weights.")
        self._cells = list(cells)
        self._state_is_tuple = state_is_tuple
        if not state_is_tuple:
            if any(nest.is_nested(c.state_size) for c in self._cells):
                raise ValueError("Some cells return tuples of states, but the flag state_is_tuple is not set. "
                                 "State sizes are: %s" % str([c.state_size for c in self._cells]))

    @property
    def state_size(self):
        if self._state_is_tuple:
            return tuple(cell.state_size for cell in self._cells)
        return sum(cell.state_size for cell in self._cells)

    @property
    def output_size(self):
        return self._cells[-1].output_size

    def zero_state(self, batch_size, dtype):
        with name_scope(type(self).__name__ + "ZeroState", values=[batch_size] if _is_tensor(batch_size) else None):
            if self._state_is_tuple:
                return tuple(cell.zero_state(batch_size, dtype) for cell in self._cells)
            return _zero_state_tensors(self.state_size, batch_size, dtypes.as_dtype(dtype))

    def _sub_weights(self, attr):
        out = []
        for cell in self._cells:
            for w in getattr(cell, attr, []):
                if all(w is not x for x in out):
                    out.append(w)
        return out

    @property
    def trainable_weights(self):
        return self._sub_weights("trainable_weights") if self.trainable else []

    @property
    def non_trainable_weights(self):
        out = self._sub_weights("non_trainable_weights")
        if not self.trainable:
            out = self._sub_weights("trainable_weights") + out
        return out

    def call(self, inputs, state):
        cur_state_pos = 0
        cur_inp = inputs
        new_states = []
        for i, cell in enumerate(self._cells):
            with variable_scope("cell_%d" % i):
                if self._state_is_tuple:
                    if not nest.is_nested(state):
                        raise ValueError("Expected state to be a tuple of length %d, but received: %s"
                                         % (len(self.state_size), state))
                    cur_state = state[i]
                else:
                    cur_state = array_ops.slice(state, [0, cur_state_pos], [-1, cell.state_size])
                    cur_state_pos += cell.state_size
                cur_inp, new_state = cell(cur_inp, cur_state)
                new_states.append(new_state)
        new_states = tuple(new_states) if self._state_is_tuple else array_ops.concat(new_states, 1)
        return cur_inp, new_states


# -- wrappers -----------------------------------------------------------------------------

class _RNNCellWrapper(RNNCell):
    """A cell around another cell: same sizes, same variables (no scope of its own)."""

    def __init__(self, cell, *args, **kwargs):
        super().__init__(*args, **kwargs)
        assert_like_rnncell("cell", cell)
        self.cell = cell

    @property
    def wrapped_cell(self):
        return self.cell

    @property
    def state_size(self):
        return self.cell.state_size

    @property
    def output_size(self):
        return self.cell.output_size

    @property
    def trainable_weights(self):
        return list(getattr(self.cell, "trainable_weights", [])) if self.trainable else []

    @property
    def non_trainable_weights(self):
        w = list(getattr(self.cell, "non_trainable_weights", []))
        if not self.trainable:
            w = list(getattr(self.cell, "trainable_weights", [])) + w
        return w

    def zero_state(self, batch_size, dtype):
        with name_scope(type(self).__name__ + "ZeroState", values=[batch_size] if _is_tensor(batch_size) else None):
            return self.cell.zero_state(batch_size, dtype)

    def _call_wrapped_cell(self, inputs, state, cell_call_fn, **kwargs):
        raise NotImplementedError("%s must define _call_wrapped_cell (an abstract method of the RNN cell "
                                  "wrappers)" % type(self).__name__)

    def __call__(self, inputs, state, scope=None):
        return self._call_wrapped_cell(inputs, state, cell_call_fn=self.cell.__call__, scope=scope)


def _default_dropout_state_filter_visitor(substate):
    if isinstance(substate, LSTMStateTuple):
        return LSTMStateTuple(c=False, h=True)  # never drop the memory cell
    return True


def _state_dropout_mask(visitor, state):
    """A structure like ``state`` with True where the state is dropped (TF's
    get_traverse_shallow_structure applied to the filter visitor)."""
    r = visitor(state)
    if isinstance(r, bool):
        if not r:
            return nest.map_structure(lambda _: False, state)
        if not nest.is_nested(state):
            return True
        children = [_state_dropout_mask(visitor, s) for s in _children(state)]
        return _rebuild(state, children)
    if not nest.is_nested(r) or not nest.is_nested(state):
        raise TypeError("dropout_state_filter_visitor returned %r for %r: expected a bool or a structure of "
                        "bools like the state" % (r, state))
    rc, sc = _children(r), _children(state)
    if len(rc) != len(sc):
        raise ValueError("dropout_state_filter_visitor returned %r, which does not match the state %r" % (r, state))
    out = []
    for flag, sub in zip(rc, sc):
        if not isinstance(flag, bool):
            raise TypeError("dropout_state_filter_visitor must return bools at the leaves, got %r" % (flag,))
        out.append(_state_dropout_mask(visitor, sub) if flag else nest.map_structure(lambda _: False, sub))
    return _rebuild(state, out)


def _children(x):
    return [x[k] for k in sorted(x)] if isinstance(x, dict) else list(x)


def _rebuild(like, values):
    if isinstance(like, dict):
        return type(like)((k, v) for k, v in zip(sorted(like), values))
    if isinstance(like, tuple) and hasattr(like, "_fields"):
        return type(like)(*values)
    return tuple(values) if isinstance(like, tuple) else list(values)


def _keep_prob_value(prob, attr):
    if _is_tensor(prob):
        from nbflow.ops.base import constant_value

        v = constant_value(prob)
        if v is None:
            return prob
        prob = v
    try:
        p = float(prob)
    except (TypeError, ValueError):
        raise TypeError("Parameter %s must be a float or a scalar tensor, got %r" % (attr, prob)) from None
    if not 0.0 <= p <= 1.0:
        raise ValueError("Parameter %s must be between 0 and 1: %g" % (attr, p))
    return p


class DropoutWrapper(_RNNCellWrapper):
    """Dropout on a cell's inputs, outputs and (new) state, each with its keep
    probability (a float, or a scalar tensor such as a placeholder_with_default).
    The state filter never drops an LSTM's memory ``c``, only ``h``. With
    ``variational_recurrent=True`` one mask (drawn once per ``Session.run``,
    shared by every time step and every batch element, as TF does) is used for
    each of inputs, state and outputs; ``dtype`` is then required, and
    ``input_size`` when inputs are dropped."""

    def __init__(self, cell, input_keep_prob=1.0, output_keep_prob=1.0, state_keep_prob=1.0,
                 variational_recurrent=False, input_size=None, dtype=None, seed=None,
                 dropout_state_filter_visitor=None):
        super().__init__(cell)
        if dropout_state_filter_visitor is not None and not callable(dropout_state_filter_visitor):
            raise TypeError("dropout_state_filter_visitor must be callable")
        self._dropout_state_filter = dropout_state_filter_visitor or _default_dropout_state_filter_visitor
        self._input_keep_prob = _keep_prob_value(input_keep_prob, "input_keep_prob")
        self._state_keep_prob = _keep_prob_value(state_keep_prob, "state_keep_prob")
        self._output_keep_prob = _keep_prob_value(output_keep_prob, "output_keep_prob")
        self._seed = seed
        self._variational_recurrent = variational_recurrent
        self._recurrent_input_noise = self._recurrent_state_noise = self._recurrent_output_noise = None
        if variational_recurrent:
            if dtype is None:
                raise ValueError("When variational_recurrent=True, dtype must be provided")
            dtype = dtypes.as_dtype(dtype)

            def noise(prefix, sizes):
                flat = nest.flatten(sizes)
                out = [random_ops.random_uniform([1] + _size_as_list(s), seed=self._gen_seed(prefix, i),
                                                 dtype=dtype) for i, s in enumerate(flat)]
                return nest.pack_sequence_as(sizes, out)

            with name_scope("DropoutWrapperInit"):
                if self._should_dropout(self._input_keep_prob):
                    if input_size is None:
                        raise ValueError("When variational_recurrent=True and input_keep_prob < 1.0 or is "
                                         "unknown, input_size must be provided")
                    self._recurrent_input_noise = noise("input", input_size)
                self._recurrent_state_noise = noise("state", cell.state_size)
                self._recurrent_output_noise = noise("output", cell.output_size)

    @staticmethod
    def _should_dropout(p):
        return (not isinstance(p, float)) or p < 1

    def _gen_seed(self, salt_prefix, index):
        if self._seed is None:
            return None
        text = "%s%s_%d" % (self._seed, salt_prefix, index)
        return int(hashlib.md5(text.encode("utf-8")).hexdigest()[:8], 16) & 0x7FFFFFFF

    def _dropout(self, values, salt_prefix, recurrent_noise, keep_prob, mask=None):
        flat = nest.flatten(values)
        flags = nest.flatten(mask) if mask is not None else [True] * len(flat)
        noises = nest.flatten(recurrent_noise) if recurrent_noise is not None else None
        out = []
        for i, (v, drop) in enumerate(zip(flat, flags)):
            if not drop:
                out.append(v)
            elif self._variational_recurrent:
                binary = math_ops.floor(keep_prob + noises[i])
                r = math_ops.divide(v, keep_prob) * binary
                r.set_shape(v.shape)
                out.append(r)
            else:
                out.append(nn_ops.dropout(v, keep_prob=keep_prob, seed=self._gen_seed(salt_prefix, i)))
        return nest.pack_sequence_as(values, out)

    def _call_wrapped_cell(self, inputs, state, cell_call_fn, **kwargs):
        if self._should_dropout(self._input_keep_prob):
            inputs = self._dropout(inputs, "input", self._recurrent_input_noise, self._input_keep_prob)
        output, new_state = cell_call_fn(inputs, state, **kwargs)
        if self._should_dropout(self._state_keep_prob):
            mask = _state_dropout_mask(self._dropout_state_filter, new_state)
            new_state = self._dropout(new_state, "state", self._recurrent_state_noise, self._state_keep_prob, mask)
        if self._should_dropout(self._output_keep_prob):
            output = self._dropout(output, "output", self._recurrent_output_noise, self._output_keep_prob)
        return output, new_state


class ResidualWrapper(_RNNCellWrapper):
    """``output = inputs + cell_output`` (or ``residual_fn(inputs, cell_output)``)."""

    def __init__(self, cell, residual_fn=None):
        super().__init__(cell)
        self._residual_fn = residual_fn

    def _call_wrapped_cell(self, inputs, state, cell_call_fn, **kwargs):
        outputs, new_state = cell_call_fn(inputs, state, **kwargs)

        def default_residual_fn(inputs, outputs):
            nest.assert_same_structure(inputs, outputs)

            def add(inp, out):
                inp = convert_to_tensor(inp)
                if not inp.shape.is_compatible_with(out.shape):
                    raise ValueError("ResidualWrapper: input shape %s and cell output shape %s differ"
                                     % (inp.shape, out.shape))
                return inp + out
            return nest.map_structure(add, inputs, outputs)

        return (self._residual_fn or default_residual_fn)(inputs, outputs), new_state


class DeviceWrapper(_RNNCellWrapper):
    """Runs the cell (and builds its zero state) on ``device``."""

    def __init__(self, cell, device):
        super().__init__(cell)
        self._device = device

    def zero_state(self, batch_size, dtype):
        with name_scope(type(self).__name__ + "ZeroState", values=[batch_size] if _is_tensor(batch_size) else None):
            with _device(self._device):
                return self.cell.zero_state(batch_size, dtype)

    def _call_wrapped_cell(self, inputs, state, cell_call_fn, **kwargs):
        with _device(self._device):
            return cell_call_fn(inputs, state, **kwargs)

