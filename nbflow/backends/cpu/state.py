"""CPU kernels of the variable ops (nbflow/ops/state_ops.py).

A variable is a VariableResource in the plan's resource manager, reached
through its handle (``ctx.own_handle`` for VariableV2, ``ctx.input_handles[0]``
for the ops that take it as their ref input).
"""
import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.framework import errors
from nbflow.ops import state_ops
from nbflow.state.resources import VariableResource


def _variable(ctx, handle):
    return ctx.resources.lookup_or_create(handle, lambda: VariableResource(handle.name, None))


def uninitialized_error(ctx, name):
    return ctx.op_error(errors.FailedPreconditionError,
                        "Attempting to use uninitialized value %s\n\t [[node %s]]" % (name, name))


@register_kernel(state_ops.VariableV2)
def _variable_v2(ctx):
    var = _variable(ctx, ctx.own_handle)
    if ctx.value_read:  # only written (Assign)? then it need not be initialized
        name = ctx.name

        def check():
            if var.value is None:
                raise uninitialized_error(ctx, name)
        ctx.prechecks.append(check)
    return lambda: var.value


@register_kernel(state_ops.Assign)
def _assign(ctx):
    var = _variable(ctx, ctx.input_handles[0])
    validate = ctx.attrs.get("validate_shape", True)
    declared = ctx.input_shapes[0]  # the variable's declared shape

    def run(ref, value):
        cur = var.value
        if cur is not None and cur.shape == value.shape:
            np.copyto(cur, value)
            return cur
        if validate and not declared.is_compatible_with(value.shape):
            raise ctx.op_error(errors.InvalidArgumentError,
                               "Assign requires shapes of both tensors to match. lhs shape= %s rhs shape= %s"
                               % (declared, list(value.shape)))
        new = np.array(value, copy=True, order="C")
        var.value = new
        return new
    return run


@register_kernel(state_ops._AssignUpdate)
def _assign_update(ctx):
    update = ctx.op_def.update

    def run(ref, value):
        if ref.shape != value.shape:
            raise ctx.op_error(errors.InvalidArgumentError,
                               "Must have the same shape: %s vs %s" % (ref.shape, value.shape))
        update(ref, value)
        return ref
    return run


@register_kernel(state_ops.IsVariableInitialized)
def _is_variable_initialized(ctx):
    var = _variable(ctx, ctx.input_handles[0])
    return lambda ref: np.array(var.value is not None)


@register_kernel(state_ops.InitializedValue)
def _initialized_value(ctx):
    var = _variable(ctx, ctx.input_handles[0])

    def run(ref, init):
        v = var.value
        return init if v is None else v
    return run


@register_kernel(state_ops.ReportUninitializedVariables)
def _report_uninitialized_variables(ctx):
    pairs = [(n, _variable(ctx, h)) for n, h in zip(ctx.attrs["var_names"], ctx.attrs["var_handles"])]
    # TF string tensors are bytes (b"v"), as TF 1.x returns them.
    return lambda: np.array([n.encode("utf-8") for n, var in pairs if var.value is None], dtype=object)
