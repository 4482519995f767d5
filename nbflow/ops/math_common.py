"""Helpers shared by the math op families (nbflow/ops/math_*_ops.py).

``elementwise_class`` defines an element-wise op class from its scalar
expression (see ops/elementwise.py); ``_binary_inputs`` converts the two
operands of a binary op as TF does; ``_binary`` and ``_unary`` build one node.
"""
from nbflow.framework.graph import Tensor
from nbflow.ops.base import apply_op, convert_to_tensor
from nbflow.ops.elementwise import NUMERIC, ElementwiseOp


def elementwise_class(module, type_name, expr, kinds=NUMERIC, output="same", **extra):
    """Define an element-wise op class from its scalar expression, in ``module``
    (each family module binds ``_ew = partial(elementwise_class, __name__)``)."""
    attrs = {"type": type_name, "expr": expr, "kinds": kinds, "output": output, "__module__": module}
    attrs.update(extra)
    return type(type_name, (ElementwiseOp,), attrs)


def _binary_inputs(x, y):
    """Convert operands as TF does: the first Tensor fixes the dtype of Python values.

    Two Tensors are never converted: a dtype mismatch is the op's TypeError
    (TF has no implicit promotion)."""
    x_t = isinstance(x, Tensor) or hasattr(x, "_as_graph_element")
    y_t = isinstance(y, Tensor) or hasattr(y, "_as_graph_element")
    if x_t and y_t:
        return convert_to_tensor(x), convert_to_tensor(y)
    if x_t:
        x = convert_to_tensor(x)
        y = convert_to_tensor(y, dtype=x.dtype)
    elif y_t:
        y = convert_to_tensor(y)
        x = convert_to_tensor(x, dtype=y.dtype)
    else:
        x = convert_to_tensor(x)
        y = convert_to_tensor(y, dtype=x.dtype)
    return x, y


def _binary(cls, x, y, name):
    x, y = _binary_inputs(x, y)
    return apply_op(cls, [x, y], name=name or cls.type)


def _unary(cls, x, name):
    return apply_op(cls, [convert_to_tensor(x)], name=name or cls.type)
