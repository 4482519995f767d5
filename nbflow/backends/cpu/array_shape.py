"""CPU kernels of the shape ops (nbflow/ops/array_shape_ops.py): views of the
input (reshapes), shape queries, and check_numerics."""
import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.kernels.cpu import array as K
from nbflow.ops import array_shape_ops as S
from nbflow.ops.array_common import _shape_value_to_tuple
from nbflow.ops.array_shape_ops import _resolve_reshape


@register_kernel(S.Identity)
def _identity(ctx):
    return lambda x: x


@register_kernel(S.Snapshot)
def _snapshot(ctx):
    return lambda x: np.array(x, order="C", copy=True)


@register_kernel(S.Shape)
def _shape(ctx):
    npd = ctx.attrs["out_type"].as_numpy_dtype
    return lambda x: np.array(x.shape, dtype=npd)


@register_kernel(S.ShapeN)
def _shapen(ctx):
    npd = ctx.attrs["out_type"].as_numpy_dtype
    return lambda *xs: tuple(np.array(x.shape, dtype=npd) for x in xs)


@register_kernel(S.Size)
def _size(ctx):
    npd = ctx.attrs["out_type"].as_numpy_dtype
    return lambda x: np.array(x.size, dtype=npd)


@register_kernel(S.Rank)
def _rank(ctx):
    return lambda x: np.array(x.ndim, dtype=np.int32)


@register_kernel(S.Reshape)
def _reshape(ctx):
    out_shape = ctx.output_shapes[0]
    if out_shape.is_fully_defined():
        shp = out_shape.as_tuple()
        return lambda x, s: x.reshape(shp)
    fail = ctx.run_error_factory()

    def run(x, s):
        return x.reshape(_resolve_reshape(x.shape, _shape_value_to_tuple(s), fail))
    return run


@register_kernel(S.ExpandDims)
def _expand_dims(ctx):
    cls = ctx.op_def
    out = ctx.output_shapes[0]
    if out.is_fully_defined():
        shp = out.as_tuple()
        return lambda x, d: x.reshape(shp)
    fail = ctx.run_error_factory()
    return lambda x, d: x.reshape(cls._target(x.shape, d, fail))


@register_kernel(S.Squeeze)
def _squeeze(ctx):
    cls = ctx.op_def
    out = ctx.output_shapes[0]
    if out.is_fully_defined():
        shp = out.as_tuple()
        return lambda x: x.reshape(shp)
    fail = ctx.run_error_factory()
    axes = ctx.attrs["squeeze_dims"]
    return lambda x: x.reshape(cls._target(x.shape, axes, fail))


@register_kernel(S.CheckNumerics)
def _check_numerics(ctx):
    message = ctx.attrs["message"]
    fail = ctx.run_error_factory()

    def run(x):
        flat = x.reshape(-1)
        if flat.dtype == np.float16:
            flat = flat.astype(np.float32)
        flags = K.nonfinite_flags(flat)
        if flags:
            what = {1: "NaN", 2: "Inf", 3: "Inf and NaN"}[flags]
            raise fail("%s : Tensor had %s values" % (message, what))
        return x
    return run
