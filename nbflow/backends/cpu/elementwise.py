"""The CPU kernel of every element-wise op: one registration for ``ElementwiseOp``.

An op's scalar expression (``ElementwiseOp.expr``) is put inside a generated
loop (broadcasting, strides, on-disk kernel cache: nbflow/kernels/cpu/
elementwise.py). Fused groups of such ops are bound in fused.py.
"""
import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.framework import dtypes
from nbflow.kernels.cpu import elementwise as ew_kernels
from nbflow.ops.elementwise import ElementwiseOp


@register_kernel(ElementwiseOp, fresh_outputs=True)
def elementwise_kernel(ctx):
    run = _elementwise_kernel(ctx)
    divisor = ctx.op_def.divisor_input
    if divisor is None or ctx.input_dtypes[divisor].as_numpy_dtype(0).dtype.kind not in "iu":
        return run

    def run_checked(*args):
        if not args[divisor].all():
            raise ctx.run_error("Integer division by zero")
        return run(*args)
    return run_checked


def _elementwise_kernel(ctx):
    cls = ctx.op_def
    if dtypes.float16 in ctx.input_dtypes or ctx.output_dtypes[0] is dtypes.float16:
        return _float16_kernel(cls, ctx)
    in_np = [d.as_numpy_dtype for d in ctx.input_dtypes]
    out_np = ctx.out_np_dtype(0)
    expr = cls.scalar_expr_for(ctx.input_dtypes, ["x%d" % i for i in range(len(in_np))], ctx.input_values)
    shapes = [s.as_tuple() for s in ctx.input_shapes]
    if all(s is not None and None not in s for s in shapes):
        kernel, out_shape = ew_kernels.get_kernel([], [expr], in_np, shapes, [out_np], threads=ctx.threads)
        if ctx.fresh_outputs:
            return _bind_fresh(kernel, out_shape, out_np, len(in_np))
        out = ctx.static_buffer(0) if ctx.output_shapes[0].is_fully_defined() else None
        return _bind_static(kernel, out if out is not None else np.empty(out_shape, dtype=out_np), len(in_np))
    return bind_dynamic(expr, in_np, out_np, ctx.threads)


def _float16_kernel(cls, ctx):
    """Numba has no float16 arithmetic: compute in float32, round to float16.

    Each step converts (allocating): float16 graphs are for storage, not speed."""
    widen = [dtypes.float32 if d is dtypes.float16 else d for d in ctx.input_dtypes]
    out16 = ctx.output_dtypes[0] is dtypes.float16
    in_np = [d.as_numpy_dtype for d in widen]
    out_np = np.float32 if out16 else ctx.out_np_dtype(0)
    expr = cls.scalar_expr_for(widen, ["x%d" % i for i in range(len(in_np))], ctx.input_values)
    inner = bind_dynamic(expr, in_np, out_np)

    def run(*args):
        out = inner(*[a.astype(np.float32) if a.dtype == np.float16 else a for a in args])
        return out.astype(np.float16) if out16 else out
    return run


def _bind_static(kernel, out, arity):
    k = ew_kernels.call_cell(kernel)  # k[0]: a tiny kernel's Python run until it is compiled
    if arity == 1:
        def run(a):
            k[0](a, out)
            return out
    elif arity == 2:
        def run(a, b):
            k[0](a, b, out)
            return out
    elif arity == 3:
        def run(a, b, c):
            k[0](a, b, c, out)
            return out
    else:
        def run(*args):
            k[0](*args, out)
            return out
    return run


def _bind_fresh(kernel, out_shape, out_np, arity):
    """Eager: the kernel of these shapes, writing a new array at each call."""
    k = ew_kernels.call_cell(kernel)
    empty = np.empty
    if arity == 1:
        def run(a):
            out = empty(out_shape, out_np)
            k[0](a, out)
            return out
    elif arity == 2:
        def run(a, b):
            out = empty(out_shape, out_np)
            k[0](a, b, out)
            return out
    else:
        def run(*args):
            out = empty(out_shape, out_np)
            k[0](*args, out)
            return out
    return run


def bind_dynamic(expr, in_np, out_np, threads=1):
    """Shapes known only at run time: pick (and cache) the kernel per shape."""
    def run(*args):
        kernel, out_shape = ew_kernels.get_kernel([], [expr], in_np, [a.shape for a in args], [out_np],
                                                  threads=threads)
        out = np.empty(out_shape, dtype=out_np)
        kernel(*args, out)
        return out
    return run
