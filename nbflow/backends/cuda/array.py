"""GPU Const and Placeholder, Identity/StopGradient (the value itself) and Snapshot (a
device copy), and the shape ops that are views: Reshape, ExpandDims, Squeeze
(C-contiguous device arrays)."""
import numpy as np

from nbflow.backends import registry
from nbflow.backends.cuda.device import is_device_array
from nbflow.backends.registry import register_kernel
from nbflow.ops import array_shape_ops as S
from nbflow.ops import constant_op, control_flow_ops


def _numeric(op):
    try:
        return np.dtype(op.outputs[0].dtype.as_numpy_dtype).kind in "biuf"
    except (AttributeError, TypeError):
        return False


@register_kernel(control_flow_ops.NoOp, device="GPU")
def no_op_kernel(ctx):
    """Orders its control inputs (a train op, an initializer group); runs nothing."""
    return registry.kernel_factory(control_flow_ops.NoOp, "CPU")(ctx)


@register_kernel(S.Identity, S.StopGradient, constant_op.PlaceholderWithDefault, device="GPU", accepts=_numeric)
def identity_kernel(ctx):
    """A variable's read (``v.value()``), tf.identity and an unfed placeholder_with_default
    stay on the device: no copy."""
    return lambda x: x


@register_kernel(S.Snapshot, device="GPU", accepts=_numeric)
def snapshot_kernel(ctx):
    device = ctx.device

    def run(x):
        out = device.empty(x.shape, x.dtype)
        if out.size:
            out.copy_to_device(x)
        return out
    return run


@register_kernel(S.Reshape, S.ExpandDims, S.Squeeze, device="GPU")
def reshape_kernel(ctx):
    out = ctx.output_shapes[0]
    if not out.is_fully_defined():
        # the CPU kernel works the shape out (a view either way); its shape input is copied back
        cpu = registry.kernel_factory(ctx.op_def, "CPU")(ctx)
        return lambda x, *rest: cpu(x, *[r.copy_to_host() if is_device_array(r) else r for r in rest])
    shp = out.as_tuple()
    return lambda x, *_: x.reshape(shp) if shp != tuple(x.shape) else x


def _numeric_const(op):
    d = op.outputs[0].dtype
    return not d.is_string if hasattr(d, "is_string") else d.name != "string"


@register_kernel(constant_op.Const, device="GPU", accepts=_numeric_const)
def const_kernel(ctx):
    """Usually folded into a constant slot (copied to the device once); else its device copy."""
    value = ctx.device.from_host(np.asarray(ctx.attrs["value"]))
    return lambda: value


@register_kernel(constant_op.Placeholder, device="GPU")
def placeholder_kernel(ctx):
    """A fed placeholder runs no kernel (its value is copied to where it is read);
    an unfed one raises the CPU kernel's error."""
    return registry.kernel_factory(constant_op.Placeholder, "CPU")(ctx)
