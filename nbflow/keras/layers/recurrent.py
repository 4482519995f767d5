"""Recurrent layers: ``RNN`` over a cell, ``SimpleRNN``, ``LSTM``, ``GRU`` and their cells.

Keras' equations and weight layouts (TF 2 defaults):

* SimpleRNN: ``h = tanh(x @ W + b + h @ U)``.
* LSTM: ``z = x @ W + h @ U + b`` split in four [i, f, c, o]; ``i, f, o = sigmoid``,
  ``c = f * c + i * tanh(z_c)``, ``h = o * tanh(c)``; kernel [input, 4 * units],
  recurrent_kernel [units, 4 * units] (orthogonal), bias with ones for f
  (``unit_forget_bias``); the state is ``[h, c]``.
* GRU, ``reset_after=True`` (TF 2's default): gates [z, r, h]; bias [2, 3 * units]
  (input bias, recurrent bias); ``r`` is applied after the recurrent matmul:
  ``hh = tanh(x_h + r * (h @ U_h + b_rh))``, ``h = z * h + (1 - z) * hh``.
  ``reset_after=False``: bias [3 * units], ``hh = tanh(x_h + (r * h) @ U_h)``.

The time loop is ``tf.nn.dynamic_rnn``'s: one While op in a graph (TF 1 or a
tf.function trace; unknown batch and time lengths work), a Python loop over the
steps eagerly -- except an LSTM with the default activations, which runs as one
fused BlockLSTM op (``_fused_lstm``; nbflow/ops/rnn_fused.py). Cells are sublayers named ``lstm_cell`` (uniquified), so the
weights are ``lstm/lstm_cell/kernel:0``. Not supported: ``dropout`` /
``recurrent_dropout`` other than 0, ``stateful``, masking, ``unroll`` (accepted,
ignored), ``time_major``.
"""
from nbflow.framework import dtypes
from nbflow.framework.tensor_shape import TensorShape
from nbflow.keras import activations, initializers, regularizers
from nbflow.keras.layers.base_layer import InputSpec, Layer
from nbflow.keras.layers.core import serialize_or_none
from nbflow.ops import array_ops as A
from nbflow.ops import math_ops as M
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.dynamic_rnn import dynamic_rnn
from nbflow.ops.rnn_fused import fusion_enabled, lstm_sequence
from nbflow.ops.linalg_ops import matmul
from nbflow.ops.nn_ops import bias_add

__all__ = ["RNN", "SimpleRNNCell", "LSTMCell", "GRUCell", "SimpleRNN", "LSTM", "GRU"]


class _Cell(Layer):
    """Shared arguments of the three cells; ``call(inputs, states) -> (output, new_states)``."""

    _gates = 1

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, recurrent_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        if dropout or recurrent_dropout:
            raise NotImplementedError("%s: dropout / recurrent_dropout are not supported by nbflow"
                                      % type(self).__name__)
        self.units = int(units)
        if self.units <= 0:
            raise ValueError("Received an invalid value for argument `units`, expected a positive integer, got %r"
                             % (units,))
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = kernel_constraint
        self.recurrent_constraint = recurrent_constraint
        self.bias_constraint = bias_constraint
        self.dropout = 0.0
        self.recurrent_dropout = 0.0

    @property
    def state_size(self):
        return [self.units]

    @property
    def output_size(self):
        return self.units

    def _bias_shape(self):
        return (self._gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        input_dim = TensorShape(input_shape).as_tuple()[-1]
        if input_dim is None:
            raise ValueError("The last dimension of the inputs to %s should be defined." % type(self).__name__)
        n = self._gates * self.units
        self.kernel = self.add_weight("kernel", shape=(input_dim, n), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", shape=(self.units, n),
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight("bias", shape=self._bias_shape(), initializer=self._bias_initializer(),
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    def compute_output_shape(self, input_shape):
        return TensorShape([TensorShape(input_shape).as_tuple()[0], self.units])

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units, activation=activations.serialize(self.activation), use_bias=self.use_bias,
            kernel_initializer=serialize_or_none(self.kernel_initializer, initializers),
            recurrent_initializer=serialize_or_none(self.recurrent_initializer, initializers),
            bias_initializer=serialize_or_none(self.bias_initializer, initializers),
            kernel_regularizer=serialize_or_none(self.kernel_regularizer, regularizers),
            recurrent_regularizer=serialize_or_none(self.recurrent_regularizer, regularizers),
            bias_regularizer=serialize_or_none(self.bias_regularizer, regularizers),
            kernel_constraint=self.kernel_constraint, recurrent_constraint=self.recurrent_constraint,
            bias_constraint=self.bias_constraint, dropout=self.dropout, recurrent_dropout=self.recurrent_dropout)
        if self._gates > 1:
            config["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        return config


class SimpleRNNCell(_Cell):
    def __init__(self, units, activation="tanh", **kwargs):
        kwargs.pop("recurrent_activation", None)
        super().__init__(units, activation=activation, **kwargs)

    def call(self, inputs, states, training=None):
        h = matmul(inputs, self.kernel)
        if self.bias is not None:
            h = bias_add(h, self.bias)
        out = self.activation(h + matmul(states[0], self.recurrent_kernel))
        return out, [out]


class LSTMCell(_Cell):
    _gates = 4

    def __init__(self, units, unit_forget_bias=True, **kwargs):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_size(self):
        return [self.units, self.units]

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        init, units = self.bias_initializer, self.units

        def bias_initializer(shape, dtype=None, **kwargs):
            ones = A.ones([units], dtype=dtype)
            return A.concat([init([units], dtype=dtype), ones, init([2 * units], dtype=dtype)], 0)
        return bias_initializer

    def call(self, inputs, states, training=None):
        h_tm1, c_tm1 = states[0], states[1]
        z = matmul(inputs, self.kernel) + matmul(h_tm1, self.recurrent_kernel)
        if self.bias is not None:
            z = bias_add(z, self.bias)
        z0, z1, z2, z3 = A.split(z, 4, axis=1)
        i = self.recurrent_activation(z0)
        f = self.recurrent_activation(z1)
        c = f * c_tm1 + i * self.activation(z2)
        o = self.recurrent_activation(z3)
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self):
        config = super().get_config()
        config["unit_forget_bias"] = self.unit_forget_bias
        return config


class GRUCell(_Cell):
    _gates = 3

    def __init__(self, units, reset_after=True, **kwargs):
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def call(self, inputs, states, training=None):
        h_tm1 = states[0]
        u = self.units
        mx = matmul(inputs, self.kernel)
        if self.bias is not None:
            input_bias, rec_bias = (A.unstack(self.bias) if self.reset_after else (self.bias, None))
            mx = bias_add(mx, input_bias)
        x_z, x_r, x_h = A.split(mx, 3, axis=1)
        if self.reset_after:
            inner = matmul(h_tm1, self.recurrent_kernel)
            if self.bias is not None:
                inner = bias_add(inner, rec_bias)
            r_z, r_r, r_h = A.split(inner, 3, axis=1)
            z = self.recurrent_activation(x_z + r_z)
            r = self.recurrent_activation(x_r + r_r)
            hh = self.activation(x_h + r * r_h)
        else:
            rk = convert_to_tensor(self.recurrent_kernel)
            inner = matmul(h_tm1, rk[:, :2 * u])
            r_z, r_r = A.split(inner, 2, axis=1)
            z = self.recurrent_activation(x_z + r_z)
            r = self.recurrent_activation(x_r + r_r)
            hh = self.activation(x_h + matmul(r * h_tm1, rk[:, 2 * u:]))
        h = z * h_tm1 + (1 - z) * hh
        return h, [h]

    def get_config(self):
        config = super().get_config()
        config["reset_after"] = self.reset_after
        return config


class _Step:
    """The cell as dynamic_rnn's cell: ``(x, state tuple) -> (output, state tuple)``."""

    def __init__(self, cell):
        self.cell = cell
        self.state_size = tuple(cell.state_size)

    def __call__(self, x, state):
        out, new = self.cell.call(x, list(state))
        return out, tuple(new)


def _fused_lstm(cell, x, states):
    """(outputs, [h, c]) of an LSTMCell with Keras' default activations as one
    BlockLSTM (nbflow/ops/rnn_fused.py), else None. The kernels are joined and
    the gate blocks reordered from Keras' i, f, c, o to BlockLSTM's i, c, f, o
    each call (small copies; their gradients flow back through the slices)."""
    if (type(cell) is not LSTMCell or cell.activation is not activations.tanh
            or cell.recurrent_activation is not activations.sigmoid or not fusion_enabled()
            or x.dtype not in (dtypes.float32, dtypes.float64) or any(s.dtype != x.dtype for s in states)):
        return None
    n = cell.units

    def gates_reordered(w):  # the last axis: blocks i, f, c, o -> i, c, f, o
        if w.shape.ndims == 1:
            return A.concat([w[:n], w[2 * n:3 * n], w[n:2 * n], w[3 * n:]], 0)
        return A.concat([w[:, :n], w[:, 2 * n:3 * n], w[:, n:2 * n], w[:, 3 * n:]], 1)

    kernel = gates_reordered(A.concat([convert_to_tensor(cell.kernel), convert_to_tensor(cell.recurrent_kernel)], 0))
    bias = (gates_reordered(convert_to_tensor(cell.bias)) if cell.bias is not None
            else A.zeros([4 * n], dtype=x.dtype))
    x_tm = A.transpose(x, [1, 0, 2])
    outputs, c_final, h_final = lstm_sequence(x_tm, states[1], states[0], kernel, bias,
                                              {"forget_bias": 0.0, "cell_clip": -1.0, "use_peephole": False})
    return A.transpose(outputs, [1, 0, 2]), (h_final, c_final)


class RNN(Layer):
    """Runs ``cell`` over [batch, time, features] inputs; returns the last output or,
    with ``return_sequences``, every step's ([batch, time, units]); ``return_state``
    appends the final states. ``go_backwards`` reads time in reverse (the sequence
    output is then in the order processed, as Keras)."""

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, time_major=False, **kwargs):
        if stateful or time_major:
            raise NotImplementedError("RNN: stateful and time_major are not supported by nbflow")
        if isinstance(cell, (list, tuple)):
            raise NotImplementedError("RNN: stacked cells (a list) are not supported by nbflow yet")
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = False
        self.unroll = bool(unroll)
        self.input_spec = InputSpec(ndim=3)

    @property
    def states(self):
        return None

    def build(self, input_shape):
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        dims = TensorShape(input_shape).as_tuple()
        if len(dims) != 3:
            raise ValueError("Input 0 of layer %s is incompatible with the layer: expected ndim=3, found ndim=%d. "
                             "Full shape received: %s" % (self.name, len(dims), list(dims)))
        if self.cell._dtype is None:
            self.cell._dtype = self._dtype
        self.cell._maybe_build(TensorShape([dims[0], dims[2]]))
        self.built = True

    def call(self, inputs, initial_state=None, training=None):
        if isinstance(inputs, (list, tuple)):
            inputs, initial_state = inputs[0], list(inputs[1:]) or initial_state
        x = inputs
        if x.shape.ndims != 3:
            raise ValueError("Input 0 of layer %s is incompatible with the layer: expected ndim=3, found ndim=%s. "
                             "Full shape received: %s" % (self.name, x.shape.ndims, x.shape))
        if self.go_backwards:
            x = A.reverse(x, [1])
        sizes = list(self.cell.state_size)
        if initial_state is None:
            batch = x.shape.as_tuple()[0]
            if batch is None:
                batch = A.shape(x)[0]
            states = [A.zeros(A.stack([batch, s]) if not isinstance(batch, int) else [batch, s], dtype=x.dtype)
                      for s in sizes]
        else:
            initial_state = initial_state if isinstance(initial_state, (list, tuple)) else [initial_state]
            if len(initial_state) != len(sizes):
                raise ValueError("Layer %s expects %d states, but it received %d initial states."
                                 % (self.name, len(sizes), len(initial_state)))
            states = [M.cast(convert_to_tensor(s), x.dtype) for s in initial_state]
        fused = _fused_lstm(self.cell, x, states)
        if fused is not None:
            outputs, final = fused
        else:
            outputs, final = dynamic_rnn(_Step(self.cell), x, initial_state=tuple(states), dtype=x.dtype,
                                         scope="while_rnn")
        final = list(final)
        output = outputs if self.return_sequences else final[0]
        if self.return_state:
            return [output] + final
        return output

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        dims = TensorShape(input_shape).as_tuple()
        units = self.cell.output_size
        out = TensorShape([dims[0], dims[1], units] if self.return_sequences else [dims[0], units])
        if self.return_state:
            return [out] + [TensorShape([dims[0], s]) for s in self.cell.state_size]
        return out

    def get_config(self):
        config = super().get_config()
        config.update(return_sequences=self.return_sequences, return_state=self.return_state,
                      go_backwards=self.go_backwards, stateful=False, unroll=self.unroll)
        return config


class _CellRNN(RNN):
    """A recurrent layer that makes its own cell from its arguments (SimpleRNN, LSTM, GRU)."""

    _cell_class = None
    _rnn_kwargs = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll", "time_major")
    _layer_kwargs = ("name", "trainable", "dtype", "input_shape", "input_dim", "batch_input_shape", "batch_size",
                     "activity_regularizer", "weights", "autocast")

    def __init__(self, units, **kwargs):
        rnn_kwargs = {k: kwargs.pop(k) for k in self._rnn_kwargs if k in kwargs}
        layer_kwargs = {k: kwargs.pop(k) for k in self._layer_kwargs if k in kwargs}
        cell = self._cell_class(units, dtype=layer_kwargs.get("dtype"),
                                trainable=layer_kwargs.get("trainable", True), **kwargs)
        super().__init__(cell, **rnn_kwargs, **layer_kwargs)
        self.activity_regularizer = layer_kwargs.get("activity_regularizer")

    def __getattr__(self, name):
        # units, activation, kernel_initializer ... and the weights are the cell's
        if name.startswith("_") or "cell" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["cell"], name)

    def get_config(self):
        config = self.cell.get_config()
        for k in ("name", "trainable", "dtype"):
            config.pop(k, None)
        config.update(super().get_config())
        config["activity_regularizer"] = serialize_or_none(self.activity_regularizer, regularizers)
        return config


class SimpleRNN(_CellRNN):
    _cell_class = SimpleRNNCell


class LSTM(_CellRNN):
    _cell_class = LSTMCell


class GRU(_CellRNN):
    _cell_class = GRUCell

