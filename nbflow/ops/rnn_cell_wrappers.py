"""The recurrent cell wrappers: DropoutWrapper, ResidualWrapper and
DeviceWrapper (``tf.nn.rnn_cell``, TF 1.15 semantics). A wrapper has the sizes
and the variables of the cell it wraps, and no variable scope of its own.
"""
import hashlib

from nbflow.framework import dtypes
from nbflow.framework import nest
from nbflow.framework.graph import device as _device, name_scope
from nbflow.ops import math_ops, nn_ops, random_ops
from nbflow.ops.base import constant_value, convert_to_tensor
from nbflow.ops.rnn_cell_base import LSTMStateTuple, RNNCell, _is_tensor, _size_as_list, assert_like_rnncell

__all__ = ["DropoutWrapper", "ResidualWrapper", "DeviceWrapper"]


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
