"""Stack and unstack: Pack and Unpack, layout ops joining tensors along a new
axis and cutting a tensor into its slices along one, each the other's
gradient. Also the auto-packing of lists holding tensors (``convert_to_tensor``
of ``[t, 1.0]`` builds a Pack, as TF). Gradients are here.
"""
from nbflow.framework import dtypes
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops.array_common import (
    _as_list, _axis_value, _contains_tensor, _convert_values, _fmt, _is_tensor, _merge_dims, _prod, _same_dtypes,
)
from nbflow.ops.array_layout import _Copy, _LayoutOp
from nbflow.ops.base import apply_op, convert_to_tensor, register_list_packer
from nbflow.ops.gradient_registry import RegisterGradient

__all__ = ["stack", "unstack"]


class Pack(_LayoutOp):
    type = "Pack"

    @classmethod
    def infer(cls, ctx):
        n = len(ctx.input_shapes)
        dt = _same_dtypes(ctx, list(range(n)), "Pack")
        rank_, merged = _merge_dims([ctx.dims(i) for i in range(n)], None, ctx.error, "stack")
        if rank_ is None:
            return [(dt, TensorShape(None))]
        a = _axis_value(ctx.attrs["axis"], rank_, ctx.error, "axis", extra=1)
        return [(dt, TensorShape(merged[:a] + [n] + merged[a:]))]

    @classmethod
    def layout(cls, attrs, shapes, values, fail):
        n = len(shapes)
        r = len(shapes[0])
        for k, s in enumerate(shapes):
            if tuple(s) != tuple(shapes[0]):
                raise fail("Shapes of all inputs must match: values[0].shape = %s != values[%d].shape = %s"
                           % (_fmt(shapes[0]), k, _fmt(s)))
        a = _axis_value(attrs["axis"], r, fail, "axis", extra=1)
        dims = list(shapes[0])
        outer, w = _prod(dims[:a]), _prod(dims[a:])
        moves = [(i, 0, _Copy((outer, w), 0, (w, 1), i * w, (n * w, 1))) for i in range(n)]
        return [dims[:a] + [n] + dims[a:]], moves, []


def stack(values, axis=0, name="stack"):
    """``tf.stack`` (Pack): join tensors along a new axis."""
    if not isinstance(values, (list, tuple)):
        values = [values]
    if len(values) == 0:
        raise ValueError("tf.stack needs at least one value")
    if axis == 0 and not _contains_tensor(values):
        # Python values become one constant (as TF does)
        try:
            return convert_to_tensor(values, name=name)
        except (TypeError, ValueError):
            pass
    xs = _convert_values(values)
    r = xs[0].shape.ndims
    if r is not None and (axis < -(r + 1) or axis >= r + 1):
        raise ValueError("axis = %d not in [%d, %d)" % (axis, -(r + 1), r + 1))
    return apply_op(Pack, xs, {"N": len(xs), "axis": int(axis), "T": xs[0].dtype}, name=name or "stack")


class Unpack(_LayoutOp):
    type = "Unpack"

    @classmethod
    def infer(cls, ctx):
        num = ctx.attrs["num"]
        dims = ctx.dims(0)
        dt = ctx.input_dtypes[0]
        if dims is None:
            return [(dt, TensorShape(None))] * num
        a = _axis_value(ctx.attrs["axis"], len(dims), ctx.error, "axis")
        if dims[a] is not None and dims[a] != num:
            raise ctx.error("Dimension must be %d but is %d for unstack along axis %d" % (num, dims[a], a))
        return [(dt, TensorShape(list(dims[:a]) + list(dims[a + 1:])))] * num

    @classmethod
    def layout(cls, attrs, shapes, values, fail):
        dims = list(shapes[0])
        num = attrs["num"]
        a = _axis_value(attrs["axis"], len(dims), fail, "axis")
        if dims[a] != num:
            raise fail("Input shape axis %d must equal %d, got shape %s" % (a, num, _fmt(dims)))
        outer, inner = _prod(dims[:a]), _prod(dims[a + 1:])
        out = dims[:a] + dims[a + 1:]
        moves = [(0, i, _Copy((outer, inner), i * inner, (num * inner, 1))) for i in range(num)]
        return [out] * num, moves, []


def unstack(value, num=None, axis=0, name="unstack"):
    """``tf.unstack`` (Unpack): a list of the slices along ``axis``."""
    x = convert_to_tensor(value)
    dims = x.shape.as_tuple()
    if dims is not None:
        r = len(dims)
        if axis < -r or axis >= r:
            raise ValueError("axis = %d not in [%d, %d)" % (axis, -r, r))
    if num is None:
        if dims is None or dims[axis] is None:
            raise ValueError("Cannot infer num from shape %s" % x.shape)
        num = dims[axis]
    num = int(num)
    outs = apply_op(Unpack, [x], {"num": num, "axis": int(axis), "T": x.dtype}, name=name or "unstack")
    return _as_list(outs, num)


# -- auto-packing: lists holding tensors convert with tf.stack ---------------------------

def _autopack(value, dtype=None, name=None):
    """``convert_to_tensor`` of a (nested) list holding Tensors: TF packs it."""
    def pack(v):
        if isinstance(v, (list, tuple)):
            if not _contains_tensor(v):
                return convert_to_tensor(v, dtype=dtype)
            parts = [pack(e) for e in v]
            return stack(parts if dtype is None else
                         [convert_to_tensor(p, dtype=dtype) for p in parts], name="packed")
        return convert_to_tensor(v, dtype=dtype) if dtype is not None and not _is_tensor(v) else v
    out = pack(value)
    out = convert_to_tensor(out)
    if dtype is not None and out.dtype is not dtypes.as_dtype(dtype):
        raise ValueError("Tensor conversion requested dtype %s for a packed list of %s"
                         % (dtypes.as_dtype(dtype).name, out.dtype.name))
    return out


register_list_packer(_autopack)  # convert_to_tensor (base.py) packs lists holding Tensors with it


# -- gradients ------------------------------------------------------------------------

@RegisterGradient("Pack")
def _pack_grad(op, grad):
    return unstack(grad, num=op.attrs["N"], axis=op.attrs["axis"])


@RegisterGradient("Unpack")
def _unpack_grad(op, *grads):
    return stack(list(grads), axis=op.attrs["axis"])
