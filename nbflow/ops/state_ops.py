"""Variable state ops: VariableV2, Assign, AssignAdd/Sub, IsVariableInitialized.

A variable's value lives in a resource (nbflow/state/resources.py) reached
through its handle -- ("variable", container, shared_name or the VariableV2
op's name) -- never in the graph. Ops that take a variable as their first
input ("ref" input) declare it in ``resource_inputs``; the compiler resolves it
to the variable's handle.
"""
import numpy as np

from nbflow.framework.eager_tensor import is_eager_variable
from nbflow.framework import dtypes
from nbflow.framework.graph import Tensor
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops.base import Op, apply_op, convert_to_tensor
from nbflow.state.resources import ResourceHandle

__all__ = ["assign", "assign_add", "assign_sub", "is_variable_initialized"]


def ref_name(tensor):
    """The variable a ref input refers to (its VariableV2 op name)."""
    op = tensor.op
    while op.type == "Identity" and op.inputs:  # e.g. a colocated read
        op = op.inputs[0].op
    if op.type != "VariableV2":
        raise TypeError("'%s' needs a Variable as its ref input, got %s" % (tensor.name, op.type))
    return op.name


def variable_handle(op):
    """The resource handle of a VariableV2 op's variable."""
    return ResourceHandle("variable", op.attrs.get("container", ""), op.attrs.get("shared_name") or op.name)


class VariableV2(Op):
    type = "VariableV2"
    stateful = True
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        return [(ctx.attrs["dtype"], ctx.attrs["shape"])]

    @classmethod
    def resource_handle(cls, op):
        return variable_handle(op)


class Assign(Op):
    """Assign(ref, value): the variable takes ``value`` (its buffer is reused when shapes match)."""

    type = "Assign"
    differentiable = False
    stateful = True
    init_inputs = (0,)
    resource_inputs = (0,)

    @classmethod
    def infer(cls, ctx):
        ref, val = ctx.input_shapes
        if ctx.input_dtypes[0] is not ctx.input_dtypes[1]:
            raise TypeError("Input 'value' of 'Assign' Op has type %s that does not match type %s of argument "
                            "'ref'." % (ctx.input_dtypes[1].name, ctx.input_dtypes[0].name))
        if ctx.attrs.get("validate_shape", True):
            if not ref.is_compatible_with(val):
                raise ctx.error("Shapes must be equal rank, but are %s and %s for 'Assign'" % (ref, val))
            return [(ctx.input_dtypes[0], ref.merge_with(val))]
        return [(ctx.input_dtypes[0], val)]


class _AssignUpdate(Op):
    differentiable = False
    stateful = True
    expr = None
    resource_inputs = (0,)

    @classmethod
    def infer(cls, ctx):
        if not ctx.input_shapes[0].is_compatible_with(ctx.input_shapes[1]):
            raise ctx.error("Shapes %s and %s are incompatible" % tuple(ctx.input_shapes))
        return [(ctx.input_dtypes[0], ctx.input_shapes[0].merge_with(ctx.input_shapes[1]))]


class AssignAdd(_AssignUpdate):
    type = "AssignAdd"
    update = staticmethod(lambda ref, value: np.add(ref, value, out=ref))


class AssignSub(_AssignUpdate):
    type = "AssignSub"
    update = staticmethod(lambda ref, value: np.subtract(ref, value, out=ref))


class IsVariableInitialized(Op):
    type = "IsVariableInitialized"
    stateful = True
    differentiable = False
    init_inputs = (0,)
    resource_inputs = (0,)

    @classmethod
    def infer(cls, ctx):
        return [(dtypes.bool_, TensorShape([]))]


class InitializedValue(Op):
    """The variable's value if initialized, else its initial value (for initialized_value())."""

    type = "InitializedValue"
    differentiable = False
    stateful = True
    init_inputs = (0,)
    resource_inputs = (0,)

    @classmethod
    def infer(cls, ctx):
        return [(ctx.input_dtypes[1], ctx.input_shapes[1])]


class ReportUninitializedVariables(Op):
    type = "ReportUninitializedVariables"
    stateful = True
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        return [(dtypes.string, TensorShape([None]))]


def _ref(v, op_type=None):
    if is_eager_variable(v):
        # an eager variable: the eager executor passes its handle to the kernel; in a
        # tf.function's trace, its captured ref (a VariableV2 op on its handle)
        return v._ref()
    r = v._as_graph_element() if hasattr(v, "_as_graph_element") else v
    if op_type is not None:
        # as TF, at graph-construction time: the ref input must be a variable
        try:
            ref_name(r)
        except (TypeError, AttributeError):
            raise TypeError("'%s' Op requires that input 'ref' be a mutable tensor (e.g.: a tf.Variable), got %r"
                            % (op_type, v)) from None
    return r


def _value(value, r, op_type):
    """``value`` as a Tensor of the ref's dtype (TF's TypeError for a mismatched Tensor)."""
    if hasattr(value, "_as_graph_element") and not isinstance(value, Tensor):
        value = convert_to_tensor(value)
    if isinstance(value, Tensor) and value.dtype is not r.dtype:
        raise TypeError("Input 'value' of '%s' Op has type %s that does not match type %s of argument 'ref'."
                        % (op_type, value.dtype.name, r.dtype.name))
    return convert_to_tensor(value, dtype=r.dtype)


def assign(ref, value, validate_shape=None, use_locking=None, name=None):
    r = _ref(ref, "Assign")
    value = _value(value, r, "Assign")
    return apply_op(Assign, [r, value], {"validate_shape": validate_shape is not False,
                                         "use_locking": bool(use_locking)}, name=name or "Assign")


def assign_add(ref, value, use_locking=None, name=None):
    r = _ref(ref, "AssignAdd")
    return apply_op(AssignAdd, [r, _value(value, r, "AssignAdd")], name=name or "AssignAdd")


def assign_sub(ref, value, use_locking=None, name=None):
    r = _ref(ref, "AssignSub")
    return apply_op(AssignSub, [r, _value(value, r, "AssignSub")], name=name or "AssignSub")


def is_variable_initialized(variable):
    return apply_op(IsVariableInitialized, [_ref(variable, "IsVariableInitialized")], name="IsVariableInitialized")
