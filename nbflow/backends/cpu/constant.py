"""CPU kernels of Const, Placeholder and PlaceholderWithDefault (nbflow/ops/constant_op.py)."""
from nbflow.backends.registry import register_kernel
from nbflow.framework import errors
from nbflow.ops import constant_op
from nbflow.ops.constant_op import (  # noqa: F401
    _PROTO_NAMES,
)


@register_kernel(constant_op.Const)
def _const(ctx):
    value = ctx.attrs["value"]
    return lambda: value


@register_kernel(constant_op.Placeholder)
def _placeholder(ctx):
    shape = ctx.attrs["shape"]
    shape_str = "<unknown>" if shape.ndims is None else "[%s]" % ",".join(
        "?" if d is None else str(d) for d in shape.as_tuple())
    raise ctx.op_error(
        errors.InvalidArgumentError,
        "You must feed a value for placeholder tensor '%s' with dtype %s and shape %s"
        % (ctx.name, _PROTO_NAMES.get(ctx.attrs["dtype"].name, ctx.attrs["dtype"].name), shape_str),
    )


@register_kernel(constant_op.PlaceholderWithDefault)
def _placeholder_with_default(ctx):
    return lambda x: x

