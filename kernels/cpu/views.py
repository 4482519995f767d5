"""Array views for generated kernels that compile cheaply.

``flat(a)``: a C-contiguous array as a 1-D view of all its elements (what
``a.reshape(a.size)`` gives); ``first(a)``: its first element (what
``a.reshape(1)[0]`` gives for a one-element array). Numba's ``reshape``
brings its checks and error paths into every kernel that calls it: in a small
generated element-wise kernel they were about 40% of the compile time (0.09 s
of CPU against 0.055 s with these). Both accept only C-contiguous arrays
(every op output is one; the session makes feeds and constants contiguous):
anything else is a typing error, not a wrong result.

``PYTHON`` holds their plain-Python equivalents, for the generated kernels
that run as Python (kernels/cpu/elementwise.py, ``TieredKernel``).
"""
from numba.core import cgutils, types
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic
from numba.np.arrayobj import populate_array


@intrinsic
def flat(typingctx, arr):
    """A 1-D view of a C-contiguous array (same data, same owner)."""
    if not isinstance(arr, types.Array) or arr.layout != "C":
        return None

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        out = context.make_array(sig.return_type)(context, builder)
        populate_array(out, data=ary.data, shape=cgutils.pack_array(builder, [ary.nitems]),
                       strides=cgutils.pack_array(builder, [ary.itemsize]), itemsize=ary.itemsize,
                       meminfo=ary.meminfo, parent=ary.parent)
        return impl_ret_borrowed(context, builder, sig.return_type, out._getvalue())
    return arr.copy(ndim=1, layout="C")(arr), codegen


@intrinsic
def first(typingctx, arr):
    """The first element of a C-contiguous array (the caller knows it has one)."""
    if not isinstance(arr, types.Array) or arr.layout != "C":
        return None

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        return context.unpack_value(builder, sig.return_type, ary.data)
    return arr.dtype(arr), codegen


PYTHON = {
    "flat": lambda a: a.reshape(a.size),
    "first": lambda a: a.reshape(1)[0],
}
