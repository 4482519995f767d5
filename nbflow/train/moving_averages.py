"""tf.train.ExponentialMovingAverage (TF 1.x) and ``assign_moving_average``.

Compositions of existing ops, built as TF builds them:

- ``assign_moving_average(variable, value, decay)`` is
  ``assign_sub(variable, (variable - value) * (1 - decay))``; with
  ``zero_debias`` the average is kept biased in ``<variable>/biased`` with a
  step counter ``<variable>/local_step`` and the variable receives the
  debiased value ``biased / (1 - decay ** local_step)``.
- ``ExponentialMovingAverage.apply(var_list)`` makes one shadow variable per
  element (not trainable, in GLOBAL_VARIABLES), named as TF's slot creator
  names it: ``<op name>/<ema name>`` inside ``variable_scope(None, ...)``;
  a Variable's shadow starts at the variable's initial value, a Tensor's at
  zeros (zero-debiased when the EMA was made with ``zero_debias=True``).
  Averaged Variables (trainable or not) join GraphKeys.MOVING_AVERAGE_VARIABLES.
"""
from nbflow.framework import dtypes
from nbflow.framework.graph import GraphKeys, control_dependencies, get_default_graph, name_scope
from nbflow.ops import array_ops, init_ops, math_ops, state_ops, variable_scope
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.control_flow_ops import group
from nbflow.ops.variables import Variable, global_variables, trainable_variables

__all__ = ["ExponentialMovingAverage"]

_FLOATS = (dtypes.float16, dtypes.float32, dtypes.float64)


def assign_moving_average(variable, value, decay, zero_debias=True, name=None):
    """``variable -= (variable - value) * (1 - decay)``: the op that updates the
    average (TF's ``moving_averages.assign_moving_average``)."""
    with name_scope(name, "AssignMovingAvg", [variable, value, decay]) as scope:
        decay = convert_to_tensor(1.0 - decay, name="decay")
        if decay.dtype != variable.dtype.base_dtype:
            decay = math_ops.cast(decay, variable.dtype.base_dtype)
        value = convert_to_tensor(value)
        if zero_debias:
            update_delta = _zero_debias(variable, value, decay)
        else:
            update_delta = (variable - value) * decay
        return state_ops.assign_sub(variable, update_delta, name=scope)


def _zero_debias(unbiased_var, value, decay):
    """The delta that moves ``unbiased_var`` to the debiased average of ``value``."""
    with variable_scope.variable_scope(unbiased_var.op.name, values=[unbiased_var, value, decay]):
        with control_dependencies(None):
            biased = variable_scope.get_variable(
                "biased", shape=unbiased_var.get_shape(), dtype=unbiased_var.dtype.base_dtype,
                initializer=init_ops.zeros_initializer(), trainable=False)
            local_step = variable_scope.get_variable(
                "local_step", shape=[], dtype=unbiased_var.dtype.base_dtype,
                initializer=init_ops.zeros_initializer(), trainable=False)
        update_biased = state_ops.assign_sub(biased, (biased - value) * decay)
        update_local_step = state_ops.assign_add(local_step, 1)
        with control_dependencies([update_biased, update_local_step]):
            return unbiased_var - biased.read_value() / (1 - math_ops.pow(1.0 - decay, local_step.read_value()))


class ExponentialMovingAverage:
    """Maintains moving averages of variables (or tensors) by an exponential decay:
    ``shadow = decay * shadow + (1 - decay) * value``. With ``num_updates`` the
    decay used is ``min(decay, (1 + num_updates) / (10 + num_updates))``."""

    def __init__(self, decay, num_updates=None, zero_debias=False, name="ExponentialMovingAverage"):
        self._decay = decay
        self._num_updates = num_updates
        self._zero_debias = zero_debias
        self._name = name
        self._averages = {}

    @property
    def name(self):
        return self._name

    def apply(self, var_list=None):
        """Shadow variables for ``var_list`` (default: the trainable variables) and
        the op that updates every one of them (a ``group``)."""
        if var_list is None:
            var_list = trainable_variables()
        var_list = list(var_list)
        zero_debias_true = set()
        for var in var_list:
            if var.dtype.base_dtype not in _FLOATS:
                raise TypeError("The variables must be half, float, or double: %s" % var.name)
            if var in self._averages:
                continue
            with control_dependencies(None):
                if isinstance(var, Variable):
                    avg = self._create_slot(var, var.initialized_value())
                    # only Variables (not Tensors) join MOVING_AVERAGE_VARIABLES, as in TF
                    get_default_graph().add_to_collection(GraphKeys.MOVING_AVERAGE_VARIABLES, var)
                else:
                    avg = self._create_slot(var, None)
                    if self._zero_debias:
                        zero_debias_true.add(avg)
            self._averages[var] = avg
        with name_scope(self._name) as scope:
            decay = convert_to_tensor(self._decay, name="decay")
            if self._num_updates is not None:
                num_updates = math_ops.cast(self._num_updates, dtypes.float32, name="num_updates")
                decay = math_ops.minimum(decay, (1.0 + num_updates) / (10.0 + num_updates))
            updates = []
            for var in var_list:
                avg = self._averages[var]
                updates.append(assign_moving_average(avg, var, decay, zero_debias=avg in zero_debias_true))
            return group(*updates, name=scope)

    def _create_slot(self, primary, value):
        """TF's slot_creator: ``variable_scope(None, '<primary op name>/<name>')`` and
        ``get_variable('')`` there; ``value`` None means zeros of primary's shape."""
        with variable_scope.variable_scope(None, primary.op.name + "/" + self._name):
            if value is None:
                shape = primary.get_shape()
                if shape.is_fully_defined():
                    return variable_scope.get_variable("", shape=shape, dtype=primary.dtype.base_dtype,
                                                       initializer=init_ops.zeros_initializer(), trainable=False)
                value = array_ops.zeros_like(primary)
            return variable_scope.get_variable("", initializer=value, trainable=False,
                                               validate_shape=value.get_shape().is_fully_defined())

    def average(self, var):
        """The shadow variable of ``var``, or None."""
        return self._averages.get(var)

    def average_name(self, var):
        """The name under which the average of ``var`` is saved in checkpoints."""
        if var in self._averages:
            return self._averages[var].op.name
        return get_default_graph().unique_name(var.op.name + "/" + self._name, mark_as_used=False)

    def variables_to_restore(self, moving_avg_variables=None):
        """A ``{name: variable}`` map for a Saver that restores each averaged
        variable from its moving average and every other global variable as is."""
        name_map = {}
        if moving_avg_variables is None:
            moving_avg_variables = trainable_variables()
            moving_avg_variables += get_default_graph().get_collection(GraphKeys.MOVING_AVERAGE_VARIABLES)
        moving_avg_variables = set(moving_avg_variables)
        for v in moving_avg_variables:
            name_map[self.average_name(v)] = v
        for v in set(global_variables()) - moving_avg_variables:
            if v.op.name not in name_map:
                name_map[v.op.name] = v
        return name_map
