"""Select and Where: ``tf.where`` with x and y (SelectV2, numpy broadcasting;
TF1's Select, whose rank-1 condition picks rows) and without (Where: the
coordinates of the true elements), with Select's gradient.

Select is element-wise (see ops/elementwise.py); Where has its own kernel
(nbflow/backends/cpu/array_gather.py, beside boolean_mask, which uses it).
"""
from nbflow.framework import dtypes
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops.array_fill_ops import zeros_like
from nbflow.ops.array_shape_ops import reshape
from nbflow.ops.base import Op, apply_op, convert_to_tensor
from nbflow.ops.broadcast_ops import reduce_to_shape
from nbflow.ops.elementwise import ANY, ElementwiseOp, broadcast_static
from nbflow.ops.gradient_registry import RegisterGradient
from nbflow.ops.math_common import _binary_inputs

__all__ = ["where", "where_v2"]


class Select(ElementwiseOp):
    """``where(cond, x, y)``: broadcasting select (SelectV2 semantics)."""

    type = "SelectV2"
    expr = "{1} if {0} else {2}"
    kinds = ANY
    same_dtype_inputs = (1, 2)

    @classmethod
    def check_dtypes(cls, ctx):
        if ctx.input_dtypes[0] is not dtypes.bool_:
            raise TypeError("Input 'condition' of '%s' must be bool, got %s" % (ctx.name, ctx.input_dtypes[0].name))
        super().check_dtypes(ctx)

    @classmethod
    def output_dtype(cls, in_dtypes):
        return in_dtypes[1]

    @classmethod
    def compute_dtype(cls, in_dtypes):
        return in_dtypes[1]


class SelectV1(Select):
    """TF1 ``tf.where(cond, x, y)`` (op type Select): x and y have one shape; the
    condition has that shape too, or is a vector picking rows (``where``
    reshapes it to a column that broadcasts)."""

    type = "Select"

    @classmethod
    def infer(cls, ctx):
        cls.check_dtypes(ctx)
        sx, sy = ctx.input_shapes[1], ctx.input_shapes[2]
        if not sx.is_compatible_with(sy):
            raise ctx.error("Shapes of 't' and 'e' must be equal, but are %s and %s" % (sx, sy))
        return [(ctx.input_dtypes[1], broadcast_static(ctx).merge_with(sx.merge_with(sy)))]


class Where(Op):
    """Where(input): int64 coordinates [N, rank] of the true (non-zero) elements,
    in row-major order. The number of rows is known only at run time."""

    type = "Where"
    differentiable = False
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        dt = ctx.input_dtypes[0]
        if dt is dtypes.string:
            raise TypeError("Where '%s': the input must be bool or numeric, got string" % ctx.name)
        r = ctx.input_shapes[0].ndims
        return [(dtypes.int64, TensorShape([None, r]))]


def where_indices(condition, name=None):
    """``tf.where(condition)`` with one argument: the coordinates of the true elements."""
    return apply_op(Where, [convert_to_tensor(condition)], name=name or "Where")


def where(condition, x=None, y=None, name=None):
    """TF1 ``tf.where``: with x and y, Select (a rank-1 condition picks rows);
    without, the coordinates of true elements (Where, above)."""
    if x is None and y is None:
        return where_indices(condition, name=name)
    if x is None or y is None:
        raise ValueError("x and y must both be non-None or both be None.")
    condition = convert_to_tensor(condition)
    x, y = _binary_inputs(x, y)
    c_shape, x_shape = condition.shape, x.shape
    c_rank, x_rank = c_shape.ndims, x_shape.ndims
    op_name = name or "Select"
    if c_rank == 1 and x_rank is not None and x_rank > 1:
        if not c_shape.is_compatible_with(TensorShape(x_shape.as_tuple()[:1])):
            raise ValueError("Dimension 0 of 'condition' (%s) must match dimension 0 of 'x' (%s) for '%s'"
                             % (c_shape, x_shape, op_name))
        condition = reshape(condition, [-1] + [1] * (x_rank - 1))
    elif c_rank is not None and x_rank is not None:
        if c_rank != x_rank:
            raise ValueError("Shapes must be equal rank, but are %d and %d for '%s'" % (c_rank, x_rank, op_name))
        if not c_shape.is_compatible_with(x_shape):
            raise ValueError("Shapes of 'condition' and 'x' must be equal, but are %s and %s for '%s'"
                             % (c_shape, x_shape, op_name))
    return apply_op(SelectV1, [condition, x, y], name=op_name)


def where_v2(condition, x=None, y=None, name=None):
    """TF2 ``tf.where``: numpy-style broadcasting of condition, x and y."""
    if x is None and y is None:
        return where_indices(condition, name=name)
    condition = convert_to_tensor(condition)
    x, y = _binary_inputs(x, y)
    return apply_op(Select, [condition, x, y], name=name or "SelectV2")


# -- gradient -----------------------------------------------------------------------

@RegisterGradient("Select")
@RegisterGradient("SelectV2")
def _select_grad(op, grad):
    c, x, y = op.inputs
    zeros = zeros_like(grad)
    return (None, reduce_to_shape(where_v2(c, grad, zeros), x),
            reduce_to_shape(where_v2(c, zeros, grad), y))
