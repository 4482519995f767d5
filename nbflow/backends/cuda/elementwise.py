"""The GPU kernel of every element-wise op: one registration for ``ElementwiseOp``.

The op's scalar expression -- the same one the CPU runs -- translated for
device code and put inside a generated grid-stride ``@cuda.jit`` kernel with
numpy broadcasting (nbflow/kernels/cuda/elementwise.py). ``accepts`` keeps on
the host what the generated kernel cannot run: ops with a kernel of their own
on the CPU (BiasAdd's NCHW form), integer division (its zero check), float16,
strings, and expressions without a CUDA translation.
"""
import numpy as np

from nbflow.backends import registry
from nbflow.backends.registry import register_kernel
from nbflow.framework import dtypes
from nbflow.kernels.cuda import elementwise as ew
from nbflow.ops.elementwise import ElementwiseOp

_GPU_KINDS = "biuf"


def _np_dtype(d):
    try:
        return np.dtype(d.as_numpy_dtype)
    except (AttributeError, TypeError):
        return None


def plain_expression(op_def):
    """The op is its scalar expression (no kernel of its own on the CPU)."""
    return registry.kernel_factory(op_def, "CPU") is registry.kernel_factory(ElementwiseOp, "CPU")


def accepts(op):
    od = op.op_def
    if not plain_expression(od) or len(op.outputs) != 1:
        return False
    in_dtypes = [t.dtype for t in op.inputs]
    all_np = [_np_dtype(d) for d in in_dtypes + [op.outputs[0].dtype]]
    if any(d is None or d.kind not in _GPU_KINDS or d == np.float16 for d in all_np):
        return False
    if od.divisor_input is not None and in_dtypes[od.divisor_input].is_integer:
        return False
    try:
        gpu_expression(od, in_dtypes, ["x%d" % i for i in range(len(in_dtypes))], [None] * len(in_dtypes))
    except (ew.UnsupportedExpression, KeyError, ValueError, TypeError):
        return False
    return True


def gpu_expression(op_def, in_dtypes, args, values):
    expr = op_def.scalar_expr_for(in_dtypes, args, values)
    return ew.translate(expr, op_def.compute_dtype(in_dtypes).as_numpy_dtype)


@register_kernel(ElementwiseOp, device="GPU", accepts=accepts)
def elementwise_kernel(ctx):
    cls = ctx.op_def
    if dtypes.float16 in ctx.input_dtypes:
        raise NotImplementedError("float16 element-wise ops have no GPU kernel yet")
    n_in = len(ctx.input_dtypes)
    in_np = [d.as_numpy_dtype for d in ctx.input_dtypes]
    out_np = ctx.out_np_dtype(0)
    expr = gpu_expression(cls, ctx.input_dtypes, ["x%d" % i for i in range(n_in)], ctx.input_values)
    shapes = [s.as_tuple() for s in ctx.input_shapes]
    if not ctx.output_shapes[0].is_fully_defined() or any(s is None or None in s for s in shapes):
        return _dynamic(ctx.device, expr, in_np, out_np)
    out_shape = ctx.output_shapes[0].as_tuple()
    kernel, patterns = ew.get_kernel([], [expr], in_np, shapes, [out_np], out_shape)
    launch = ew.launcher(kernel, shapes, patterns, out_shape)
    device = ctx.device
    if ctx.fresh_outputs:
        def run_fresh(*args):
            out = device.empty(out_shape, out_np)
            launch(args, (out,))
            return out
        return run_fresh
    out = device.empty(out_shape, out_np)

    def run(*args):
        launch(args, (out,))
        return out
    return run


def _dynamic(device, expr, in_np, out_np):
    """Shapes known only at run time: kernel and launch per call."""
    def run(*args):
        shapes = [tuple(a.shape) for a in args]
        out_shape = tuple(np.broadcast_shapes(*shapes)) if shapes else ()
        kernel, patterns = ew.get_kernel([], [expr], in_np, shapes, [out_np], out_shape)
        out = device.empty(out_shape, out_np)
        ew.launcher(kernel, shapes, patterns, out_shape)(args, (out,))
        return out
    return run
