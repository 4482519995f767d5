"""GPU kernels of the shape-arithmetic ops, computed on the host (TF's HostMemory
kernels): Shape, ShapeN, Size, Rank, BroadcastGradientArgs, BroadcastArgs,
ReducedShape.

They usually fold into constants at plan time. When they run (a shape known
only when fed), the CPU kernel computes the small integer result -- from the
device arrays' shapes, or from small integer inputs copied back -- and the
result is copied to the device, so the gradient graph around them stays on
the GPU with no copy of any large value.
"""
from nbflow.backends import registry
from nbflow.backends.cuda.device import is_device_array
from nbflow.backends.registry import register_kernel
from nbflow.ops import array_shape_ops as S
from nbflow.ops import broadcast_ops as B

#: ops reading only their inputs' shapes (the device arrays are passed as they are)
_SHAPE_ONLY = (S.Shape, S.ShapeN, S.Size, S.Rank)
#: ops reading small integer inputs (copied to the host)
_SMALL_VALUES = (B.BroadcastGradientArgs, B.BroadcastArgs, B._KeptShape)


def _wrap(ctx, values):
    cpu = registry.kernel_factory(ctx.op_def, "CPU")(ctx)
    device = ctx.device

    def up(r):
        return tuple(device.from_host(x) for x in r) if isinstance(r, (tuple, list)) else device.from_host(r)

    if not values:
        return lambda *args: up(cpu(*args))

    def run(*args):
        return up(cpu(*[a.copy_to_host() if is_device_array(a) else a for a in args]))
    return run


@register_kernel(*_SHAPE_ONLY, device="GPU")
def shape_kernel(ctx):
    return _wrap(ctx, values=False)


@register_kernel(*_SMALL_VALUES, device="GPU")
def small_values_kernel(ctx):
    return _wrap(ctx, values=True)
